/**
 * Fee bumping of enforcement transactions through the role's own wallet
 * (docs/design.md, "Fee bumping"): the channel input is already signed with
 * a BIP118 hash type that commits to no other input (ANYPREVOUT), so the
 * broadcaster hands the transaction to its {@link FundingWallet} as a PSBT
 * and gets it back with a fee input of the wallet's own, and a change output
 * when the channel signatures allow one (SIGHASH_SINGLE, channel updates),
 * without asking the other party for anything.
 *
 * The PSBT carries the channel inputs finalized (their witnesses as they
 * are) with their spent outputs; the caller tells the wallet whether it may
 * add change (`SINGLE`-signed updates) or not (`ALL`-signed settlements,
 * claims and closes), and checks what comes back.
 * @module
 */
import { equalBytes } from '../../base/bytes.js';
import { ErrorCode, fail } from '../../base/errors.js';
import { decodePsbt, extractPsbtTx, psbtFromTx } from '../../engine/bitcoin/psbt.js';
import { totalOut, txVsize, type BitcoinTx, type Prevout } from '../../engine/bitcoin/transaction.js';
import type { FundingWallet } from './source.js';

/** A transaction and the outputs its inputs spend, in order. */
export interface TxWithPrevouts {
  readonly tx: BitcoinTx;
  readonly prevouts: readonly Prevout[];
}

/** Virtual size in vbytes (BIP141: weight / 4, rounded up). */
export const vsize = (tx: BitcoinTx): number => txVsize(tx);

/** The fee `tx` pays: its inputs' value minus its outputs'. */
export function feeOf(t: TxWithPrevouts): number {
  const inSum = t.prevouts.reduce((s, p) => s + p.amount, 0n);
  return Number(inSum - totalOut(t.tx));
}

/** The fee rate of `tx` in sat/vB. */
export function feeRateOf(t: TxWithPrevouts): number {
  return feeOf(t) / vsize(t.tx);
}

/** The PSBT of a signed enforcement transaction: every input finalized, with its spent output. */
export function enforcementPsbt(t: TxWithPrevouts): Uint8Array {
  return psbtFromTx(t.tx, t.prevouts);
}

/** The finalized transaction of a PSBT and its inputs' spent outputs (FUNDING_INVALID when not final or a prevout is missing). */
export function psbtWithPrevouts(bytes: Uint8Array): TxWithPrevouts {
  const p = decodePsbt(bytes);
  const prevouts = p.inputs.map((i, k) => i.prevout ?? fail(ErrorCode.FUNDING_INVALID, `fee bump: input ${k} has no witness UTXO`));
  return { tx: extractPsbtTx(p), prevouts };
}

/**
 * Asks `wallet` to add a fee input (and a change output when `change`) to
 * the signed transaction `t` so that it pays `feeRate`, and checks what
 * comes back: the same version and lock time, every input of `t` unchanged
 * at its index (outpoint, sequence, witness) with the same spent output,
 * every output of `t` unchanged at its index, at most one new output and
 * only when `change`, a fee no lower than before and no higher than
 * `maxFee` (sats: the caller's ceiling, tied to what the transaction
 * protects, so a wallet that adds a big coin with no change cannot burn it
 * as fee). Rejects with FUNDING_INVALID otherwise.
 */
export async function addWalletFee(
  wallet: FundingWallet,
  t: TxWithPrevouts,
  opts: { readonly feeRate: number; readonly change: boolean; readonly maxFee: number },
): Promise<TxWithPrevouts> {
  const back = psbtWithPrevouts(await wallet.fundPsbt(enforcementPsbt(t), { feeRate: opts.feeRate, change: opts.change }));
  const bad = (why: string): never => fail(ErrorCode.FUNDING_INVALID, `fee bump: ${why}`);
  if (back.tx.version !== t.tx.version || back.tx.lockTime !== t.tx.lockTime) bad('version or lock time changed');
  if (back.tx.inputs.length <= t.tx.inputs.length) bad('no input added');
  t.tx.inputs.forEach((i, k) => {
    const j = back.tx.inputs[k]!;
    const same =
      equalBytes(i.txid, j.txid) &&
      i.vout === j.vout &&
      i.sequence === j.sequence &&
      i.witness.length === j.witness.length &&
      i.witness.every((w, x) => equalBytes(w, j.witness[x]!)) &&
      back.prevouts[k]!.amount === t.prevouts[k]!.amount &&
      equalBytes(back.prevouts[k]!.scriptPubKey, t.prevouts[k]!.scriptPubKey);
    if (!same) bad(`input ${k} changed`);
  });
  t.tx.outputs.forEach((o, k) => {
    const p = back.tx.outputs[k];
    if (p === undefined || p.amount !== o.amount || !equalBytes(p.script, o.script)) bad(`output ${k} changed`);
  });
  const extra = back.tx.outputs.length - t.tx.outputs.length;
  if (extra > (opts.change ? 1 : 0)) bad(`${extra} outputs added`);
  if (feeOf(back) < feeOf(t)) bad('the fee went down');
  if (feeOf(back) > opts.maxFee) bad(`fee ${feeOf(back)} above the ceiling ${opts.maxFee}`);
  return back;
}
