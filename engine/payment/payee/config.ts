/**
 * The payee's static configuration, shared by its offer and request flows.
 * @module
 */

/** Static configuration of a payee. */
export interface PayeeConfig {
  /** The payee's identity (mailbox) secret key: signs invoices. */
  identityKey: Uint8Array;
  /** The payee's mailbox address, put in invoices. */
  address: string;
  /** The payee's channel secret key (party 1 of the S–B channel). */
  channelKey: Uint8Array;
  /** Our channel partner's identity key and mailbox address: a hub, or a router towards hubs. */
  hubKey: Uint8Array;
  hubAddress: string;
  /**
   * Hubs reachable through our partner when it is a router (S→P→B privacy
   * hop): offers through them are invoiced to our partner, who forwards.
   */
  routedHubs?: Uint8Array[];
  /** Blocks the payee needs to claim a PTLC on chain. */
  timeoutDelta: number;
  /** How long an invoice stays valid, ms. */
  invoiceTtlMs: number;
}
