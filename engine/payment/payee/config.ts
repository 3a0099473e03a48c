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
  /**
   * At most this many offers of one payer (by identity key) may hold a
   * burned ticket while neither paid, void, nor expired; a further offer
   * from that payer is refused with REJECT (`RATE_LIMITED`) before its
   * ticket is burned (SPEC 6.16). Bounds the tickets a payer can make the
   * payee burn by abandoning attested offers. Default
   * {@link DEFAULT_MAX_OPEN_OFFERS_PER_PAYER}.
   */
  maxOpenOffersPerPayer?: number;
}

/** Default {@link PayeeConfig.maxOpenOffersPerPayer}. */
export const DEFAULT_MAX_OPEN_OFFERS_PER_PAYER = 2;
