/**
 * The hub's fee: one pure function, used by the hub to check a payer's fee
 * and by wallets to compute the fee they offer.
 * @module
 */

/** A hub's published fee policy: `base + amount·ppm/1e6` sats. */
export interface FeePolicy {
  /** Flat part, sats. */
  base: number;
  /** Proportional part, parts per million of the amount. */
  ppm: number;
}

/** The fee a hub with `policy` asks for forwarding `amount` sats (proportional part rounded down). */
export function hubFee(amount: number, policy: FeePolicy): number {
  return policy.base + Math.floor((amount * policy.ppm) / 1_000_000);
}
