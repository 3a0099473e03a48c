/**
 * How deep a transaction is, as a role's own chain source sees it, and the
 * check both sides of a channel run before they use it: the funding
 * transaction pays the agreed output (checkFundingTx) and has the agreed
 * number of confirmations.
 * @module
 */
import { ErrorCode, fail } from '../../base/errors.js';
import { checkFundingTx } from '../../engine/bitcoin/funding.js';
import type { Outpoint } from '../../engine/bitcoin/transaction.js';
import type { ChainSource } from './source.js';

/** Confirmations of a transaction at height `height` (null: unconfirmed) when the tip is `tip`: 0, or tip − height + 1. */
export function confirmationsAt(height: number | null, tip: number): number {
  return height === null || height > tip ? 0 : tip - height + 1;
}

/** Where a channel's funding stands. */
export interface FundingStatus {
  /** The funding outpoint (checked to pay the agreed script and amount). */
  readonly outpoint: Outpoint;
  /** Confirmations so far (0 while in the mempool). */
  readonly confirmations: number;
  /** True once `confirmations` reaches the required number. */
  readonly usable: boolean;
}

/**
 * Looks up the funding transaction `txid` through `chain`, checks it pays
 * exactly `expected` (FUNDING_INVALID otherwise, see `checkFundingTx`) and
 * counts its confirmations. Null while the backend does not know the
 * transaction (not broadcast yet, or dropped).
 */
export async function fundingStatus(
  chain: ChainSource,
  txid: string,
  expected: { readonly script: Uint8Array; readonly amount: bigint | number },
  minConfirmations: number,
): Promise<FundingStatus | null> {
  if (!Number.isSafeInteger(minConfirmations) || minConfirmations < 1)
    fail(ErrorCode.INVALID_RANGE, `minConfirmations ${minConfirmations}`);
  const found = await chain.getTx(txid);
  if (found === null) return null;
  const { outpoint } = checkFundingTx(found.tx, expected.script, expected.amount);
  const confirmations = found.height === null ? 0 : confirmationsAt(found.height, await chain.tipHeight());
  return { outpoint, confirmations, usable: confirmations >= minConfirmations };
}
