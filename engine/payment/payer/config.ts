/**
 * The payer's static configuration, shared by its offer and request flows.
 * @module
 */

/** Static configuration of a payer. */
export interface PayerConfig {
  /** The payer's identity (mailbox) secret key: the payer named in receipts (SPEC 6.16). */
  identityKey: Uint8Array;
  /** The hub's identity (mailbox) key, x-only. */
  hubKey: Uint8Array;
  /** The hub's mailbox address. */
  hubAddress: string;
  /** The payer's channel secret key (party 0 of the A–S channel). */
  channelKey: Uint8Array;
}
