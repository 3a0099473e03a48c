/**
 * Fee bumping of enforcement transactions through the role's own wallet
 * (docs/design.md, "Fee bumping"): the channel input is already signed with
 * a BIP118 hash type that commits to no other input (ANYPREVOUT), so the
 * broadcaster hands the transaction to its {@link FundingWallet} as a PSBT
 * and gets it back with a fee input of the wallet's own, and a change output
 * when the channel signatures allow one (SIGHASH_SINGLE, channel updates),
 * without asking the other party for anything.
 *
 * The PSBT declares the channel inputs' hash type as their BIP174 meaning
 * to a wallet that knows no BIP118: `SINGLE|ANYONECANPAY` (0x83) for an
 * update signed 0xc3, `ALL|ANYONECANPAY` (0x81) for a settlement or claim
 * signed 0x41. Both say exactly what the wallet may do: add inputs; add an
 * output only where SINGLE leaves it free.
 * @module
 */
import { Transaction } from '@scure/btc-signer';
import { equalBytes } from '../../base/bytes.js';
import { ErrorCode, fail } from '../../base/errors.js';
import { decodeWitnessSignature } from '../../engine/bitcoin/sign.js';
import { parseTx, serializeTx, serializeTxNoWitness, totalOut, type BitcoinTx, type Prevout } from '../../engine/bitcoin/transaction.js';
import type { FundingWallet } from './source.js';

/** A transaction and the outputs its inputs spend, in order. */
export interface TxWithPrevouts {
  readonly tx: BitcoinTx;
  readonly prevouts: readonly Prevout[];
}

/** Virtual size in vbytes (BIP141: weight / 4, rounded up). */
export function vsize(tx: BitcoinTx): number {
  const base = serializeTxNoWitness(tx).length;
  const total = serializeTx(tx).length;
  return Math.ceil((base * 3 + total) / 4);
}

/** The fee `tx` pays: its inputs' value minus its outputs'. */
export function feeOf(t: TxWithPrevouts): number {
  const inSum = t.prevouts.reduce((s, p) => s + p.amount, 0n);
  return Number(inSum - totalOut(t.tx));
}

/** The fee rate of `tx` in sat/vB. */
export function feeRateOf(t: TxWithPrevouts): number {
  return feeOf(t) / vsize(t.tx);
}

const PSBT_OPTS = { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true } as const;

/** The BIP174 hash type a wallet should read for a channel input signed with BIP118 hash type `ht`. */
function declaredHashType(ht: number): number {
  return (ht & 3) === 3 ? 0x83 : 0x81;
}

function channelHashType(witness: readonly Uint8Array[]): number {
  // Channel spends carry [sig…, script, control block]; the signatures are 65 bytes with their hash type.
  const sig = witness.find((w) => w.length === 65);
  if (sig === undefined) fail(ErrorCode.TX_INVALID, 'fee bump: the input carries no BIP118 signature');
  return decodeWitnessSignature(sig, 1).hashType;
}

/** The PSBT of a signed enforcement transaction: every input finalized, with its spent output. */
export function enforcementPsbt(t: TxWithPrevouts): Uint8Array {
  if (t.prevouts.length !== t.tx.inputs.length) fail(ErrorCode.INVALID_LENGTH, 'fee bump: one prevout per input');
  const psbt = new Transaction({ ...PSBT_OPTS, version: t.tx.version, lockTime: t.tx.lockTime });
  t.tx.inputs.forEach((i, k) => {
    psbt.addInput(
      {
        txid: i.txid,
        index: i.vout,
        sequence: i.sequence,
        witnessUtxo: { script: t.prevouts[k]!.scriptPubKey, amount: t.prevouts[k]!.amount },
        sighashType: declaredHashType(channelHashType(i.witness)),
        finalScriptWitness: [...i.witness],
      },
      true,
    );
  });
  for (const o of t.tx.outputs) psbt.addOutput({ script: o.script, amount: o.amount }, true);
  return psbt.toPSBT();
}

/** The finalized transaction of a PSBT and its inputs' spent outputs (FUNDING_INVALID when not final). */
export function psbtTx(bytes: Uint8Array): TxWithPrevouts {
  let psbt: Transaction;
  try {
    psbt = Transaction.fromPSBT(bytes, PSBT_OPTS);
  } catch (e) {
    return fail(ErrorCode.FUNDING_INVALID, `fee bump: the wallet's PSBT does not parse (${(e as Error).message})`);
  }
  const prevouts: Prevout[] = [];
  for (let k = 0; k < psbt.inputsLength; k++) {
    const u = psbt.getInput(k).witnessUtxo;
    if (u === undefined) fail(ErrorCode.FUNDING_INVALID, `fee bump: input ${k} has no witnessUtxo`);
    prevouts.push({ amount: u.amount, scriptPubKey: u.script });
  }
  let raw: Uint8Array;
  try {
    raw = psbt.extract();
  } catch (e) {
    return fail(ErrorCode.FUNDING_INVALID, `fee bump: the wallet's PSBT is not final (${(e as Error).message})`);
  }
  return { tx: parseTx(raw), prevouts };
}

/**
 * Asks `wallet` to add a fee input (and a change output when `change`) to
 * the signed transaction `t` so that it pays `feeRate`, and checks what
 * comes back: the same version and lock time, every input of `t` unchanged
 * at its index (outpoint, sequence, witness) with the same spent output,
 * every output of `t` unchanged at its index, at most one new output and
 * only when `change`, and a fee no lower than before. Rejects with
 * FUNDING_INVALID otherwise.
 */
export async function addWalletFee(
  wallet: FundingWallet,
  t: TxWithPrevouts,
  opts: { readonly feeRate: number; readonly change: boolean },
): Promise<TxWithPrevouts> {
  const back = psbtTx(await wallet.fundPsbt(enforcementPsbt(t), { feeRate: opts.feeRate, change: opts.change }));
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
  return back;
}
