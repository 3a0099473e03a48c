/**
 * PTLC outputs and their claim and refund transactions (SPEC 6.6 for the
 * payment point and PTLC keys, 7.1–7.4 for outputs, leaves and transactions),
 * on taproot leaves with BIP118 keys and BIP340 adaptor signatures. Amounts
 * in a `PtlcSpec`/`PtlcSweep` are channel amounts (number sats); outputs
 * carry them as transaction amounts (`satsToAmount`, transaction.ts).
 *
 * The payer S gives the payee B an adaptor pre-signature of the claim
 * transaction encrypted to the payment point T. B completes it with t
 * (`completeClaimSignature`), adds its own signature and claims; S reads its
 * completed signature from the chain and extracts t (`extractPtlcSecret`).
 *
 * Hash types, and why:
 * - Claim: SIGHASH_ANYPREVOUT|ALL (0x41) for both signatures. S pre-signs
 *   before the settlement is on chain, and the settlement's txid is not fixed:
 *   it spends update n, whose txid depends on which output update n rebinds to
 *   (the funding output or some older update). A SIGHASH_DEFAULT pre-signature
 *   would commit to one settlement txid and die with it. 0x41 still commits to
 *   the PTLC output's amount, scriptPubKey and leaf, and to the claim's
 *   outputs, so it cannot be replayed onto another output: each PTLC output's
 *   internal key is H + r·G with r = hash(T), so its scriptPubKey is unique to T
 *   (and an output with the same T can be claimed with t anyway). BIP118's
 *   malleability section recommends exactly this: children of ANYPREVOUT
 *   transactions also sign ANYPREVOUT, so they survive the parent's rebinding.
 * - Refund: SIGHASH_DEFAULT (0x00, key version 0) by S alone, signed when S
 *   broadcasts it, after the timeout, when the settlement txid is known. The
 *   strongest commitment is free there.
 * @module
 */
import { abytes, equalBytes } from '../../base/bytes.js';
import { ErrorCode, fail } from '../../base/errors.js';
import { adaptorAdapt, adaptorExtract, adaptorPresign, adaptorVerify, parseCompressedPoint, taggedHash } from '../../crypto/index.js';
import { assertHeightTimeout, assertXOnlyKey, ptlcClaimLeaf, ptlcRefundLeaf } from './script.js';
import { signatureHash } from './sighash.js';
import { decodeWitnessSignature, encodeWitnessSignature, signSighash, verifyWitnessSignature } from './sign.js';
import { numsKeyWithTweak, taprootOutput, type TapLeafInfo, type TaprootOutput } from './taproot.js';
import {
  DUST_LIMIT,
  SEQUENCE_FINAL,
  SEQUENCE_LOCKTIME_ONLY,
  assertOutpoint,
  assertSats,
  satsToAmount,
  type BitcoinTx,
  type Outpoint,
  type Prevout,
  type TxOutput,
} from './transaction.js';

/** Hash type of both claim signatures: SIGHASH_ANYPREVOUT | SIGHASH_ALL. */
export const PTLC_CLAIM_HASH_TYPE = 0x41;
/** Hash type of the refund signature: SIGHASH_DEFAULT. */
export const PTLC_REFUND_HASH_TYPE = 0x00;

/** One PTLC: S (payer) pays B (payee) `amount` against t with t·G = `point`. */
export interface PtlcSpec {
  /** Value of the PTLC output in satoshis (a channel amount: a safe integer number). */
  readonly amount: number;
  /** The payment point T, 33-byte compressed. */
  readonly point: Uint8Array;
  /** Payer's x-only key: a BIP118 key in the claim leaf, a plain key in the refund leaf. */
  readonly payer: Uint8Array;
  /** Payee's x-only key (BIP118 key in the claim leaf). */
  readonly payee: Uint8Array;
  /** Block height from which the payer may refund (BIP65 CLTV). */
  readonly timeout: number;
}

/** Where a claim or refund sends the PTLC's value, and the fee it pays. */
export interface PtlcSweep {
  /** scriptPubKey receiving `amount - fee`. */
  readonly payout: Uint8Array;
  /** Fee in satoshis. */
  readonly fee: number;
}

/** A PTLC output: its taproot output plus the two leaves. */
export interface PtlcOutput extends TaprootOutput {
  /** The output's value as the transaction carries it. */
  readonly amount: bigint;
  readonly claimLeaf: TapLeafInfo;
  readonly refundLeaf: TapLeafInfo;
}

/** Validates a PTLC spec (keys on the curve and distinct, T a valid point, amounts). */
export function assertPtlcSpec(spec: PtlcSpec): PtlcSpec {
  if (typeof spec !== 'object' || spec === null) fail(ErrorCode.INVALID_TYPE, 'ptlc: expected an object');
  const amount = assertSats(spec.amount, 'ptlc.amount');
  if (amount < DUST_LIMIT) fail(ErrorCode.CHANNEL_INVARIANT, `ptlc.amount ${amount} is below the dust limit ${DUST_LIMIT}`);
  const point = abytes(spec.point, 33, 'ptlc.point').slice();
  parseCompressedPoint(point, 'ptlc.point');
  return {
    amount,
    point,
    payer: assertXOnlyKey(spec.payer, 'ptlc.payer'),
    payee: assertXOnlyKey(spec.payee, 'ptlc.payee'),
    timeout: assertHeightTimeout(spec.timeout),
  };
}

/**
 * The PTLC output: leaves [claim, refund] under the internal key
 * H + r·G, r = hash_{ln-mailbox/v1/ptlc}(T), which binds the scriptPubKey to T.
 */
export function ptlcOutput(spec: PtlcSpec): PtlcOutput {
  const s = assertPtlcSpec(spec);
  const internalKey = numsKeyWithTweak(taggedHash('ln-mailbox/v1/ptlc', s.point));
  const out = taprootOutput(internalKey, [{ script: ptlcClaimLeaf(s.payer, s.payee) }, { script: ptlcRefundLeaf(s.timeout, s.payer) }]);
  return { ...out, amount: satsToAmount(s.amount), claimLeaf: out.leaves[0]!, refundLeaf: out.leaves[1]! };
}

/** The one output of a claim or refund: the PTLC's value minus the fee (`spec` already validated). */
function sweepOutputs(spec: PtlcSpec, sweep: PtlcSweep): TxOutput[] {
  const amount = spec.amount;
  if (typeof sweep !== 'object' || sweep === null) fail(ErrorCode.INVALID_TYPE, 'sweep: expected { payout, fee }');
  const payout = abytes(sweep.payout, undefined, 'sweep.payout');
  if (payout.length === 0) fail(ErrorCode.INVALID_LENGTH, 'sweep.payout: empty scriptPubKey');
  const fee = assertSats(sweep.fee, 'sweep.fee');
  if (fee > amount) fail(ErrorCode.CHANNEL_INVARIANT, `sweep fee ${fee} exceeds the PTLC amount ${amount}`);
  const value = amount - fee;
  if (value < DUST_LIMIT) fail(ErrorCode.CHANNEL_INVARIANT, `sweep output ${value} is below the dust limit`);
  return [{ amount: satsToAmount(value), script: payout.slice() }];
}

const ZERO_OUTPOINT: Outpoint = { txid: new Uint8Array(32), vout: 0 };
const prevoutOf = (out: PtlcOutput): Prevout => ({ amount: out.amount, scriptPubKey: out.scriptPubKey });

/**
 * The unsigned claim transaction: spends the PTLC output (at `outpoint`, or a
 * zero placeholder, which the 0x41 signatures do not commit to) to the payee.
 */
export function unsignedClaimTx(spec: PtlcSpec, sweep: PtlcSweep, outpoint: Outpoint = ZERO_OUTPOINT): BitcoinTx {
  const s = assertPtlcSpec(spec);
  const o = assertOutpoint(outpoint);
  return {
    version: 2,
    lockTime: 0,
    inputs: [{ ...o, sequence: SEQUENCE_FINAL, witness: [] }],
    outputs: sweepOutputs(s, sweep),
  };
}

/** The claim sighash (0x41, key version 1, claim leaf): independent of the outpoint. */
export function claimSighash(spec: PtlcSpec, sweep: PtlcSweep): Uint8Array {
  const out = ptlcOutput(spec);
  return signatureHash(unsignedClaimTx(spec, sweep), 0, [prevoutOf(out)], {
    hashType: PTLC_CLAIM_HASH_TYPE,
    keyVersion: 1,
    leafHash: out.claimLeaf.leafHash,
  });
}

/**
 * S's adaptor pre-signature (65 bytes: R' ‖ s', crypto/adaptor.ts) of the
 * claim sighash, encrypted to T. Give it to B; it is useless without t.
 */
export function presignClaim(spec: PtlcSpec, sweep: PtlcSweep, payerSk: Uint8Array, auxRand?: Uint8Array): Uint8Array {
  const s = assertPtlcSpec(spec);
  return adaptorPresign(payerSk, claimSighash(s, sweep), s.point, auxRand);
}

/** B's check of S's pre-signature before it reveals anything (true when valid). */
export function verifyClaimPresignature(spec: PtlcSpec, sweep: PtlcSweep, presig: Uint8Array): boolean {
  const s = assertPtlcSpec(spec);
  return adaptorVerify(presig, claimSighash(s, sweep), s.payer, s.point);
}

/** B's own claim signature: a 65-byte witness signature (… ‖ 0x41). */
export function signClaim(spec: PtlcSpec, sweep: PtlcSweep, payeeSk: Uint8Array, auxRand?: Uint8Array): Uint8Array {
  return signSighash(claimSighash(spec, sweep), payeeSk, PTLC_CLAIM_HASH_TYPE, 1, auxRand);
}

/** Completes S's pre-signature with t into S's 65-byte witness signature (… ‖ 0x41). */
export function completeClaimSignature(presig: Uint8Array, t: Uint8Array): Uint8Array {
  return encodeWitnessSignature(adaptorAdapt(presig, t), PTLC_CLAIM_HASH_TYPE, 1);
}

/**
 * The fully signed claim transaction spending the PTLC output at `outpoint`.
 * Checks both witness signatures first (INVALID_SIGNATURE), so a bad t or a
 * wrong pre-signature is caught here and not by the network.
 */
export function buildClaimTx(
  spec: PtlcSpec,
  sweep: PtlcSweep,
  outpoint: Outpoint,
  sigs: { readonly payer: Uint8Array; readonly payee: Uint8Array },
): BitcoinTx {
  const s = assertPtlcSpec(spec);
  const out = ptlcOutput(s);
  const h = claimSighash(s, sweep);
  if (!verifyWitnessSignature(sigs.payer, h, s.payer, PTLC_CLAIM_HASH_TYPE, 1))
    fail(ErrorCode.INVALID_SIGNATURE, 'claim: payer signature does not verify');
  if (!verifyWitnessSignature(sigs.payee, h, s.payee, PTLC_CLAIM_HASH_TYPE, 1))
    fail(ErrorCode.INVALID_SIGNATURE, 'claim: payee signature does not verify');
  const tx = unsignedClaimTx(s, sweep, outpoint);
  // Stack bottom → top: payee sig, payer sig (checked first), script, control block.
  const witness = [sigs.payee.slice(), sigs.payer.slice(), out.claimLeaf.script, out.claimLeaf.controlBlock];
  return { ...tx, inputs: [{ ...tx.inputs[0]!, witness }] };
}

/**
 * S's side of the fulfillment: finds the input of `tx` that spends this PTLC
 * through the claim leaf, takes S's completed signature from its witness and
 * extracts t with the pre-signature S made. Throws TX_INVALID when `tx` does not
 * claim this PTLC, INVALID_ADAPTOR_SIGNATURE when the signature does not match.
 */
export function extractPtlcSecret(spec: PtlcSpec, tx: BitcoinTx, presig: Uint8Array): Uint8Array {
  const s = assertPtlcSpec(spec);
  const leaf = ptlcOutput(s).claimLeaf;
  const input = tx.inputs.find((i) => i.witness.length === 4 && equalBytes(i.witness[2]!, leaf.script));
  if (input === undefined) fail(ErrorCode.TX_INVALID, 'transaction does not claim this PTLC');
  const { sig64, hashType } = decodeWitnessSignature(input.witness[1]!, 1);
  if (hashType !== PTLC_CLAIM_HASH_TYPE) fail(ErrorCode.INVALID_SIGNATURE, 'claim: payer signature has an unexpected hash type');
  return adaptorExtract(sig64, presig, s.point);
}

/** The unsigned refund: nLockTime = timeout (so CLTV passes), nSequence enabling it. */
export function unsignedRefundTx(spec: PtlcSpec, sweep: PtlcSweep, outpoint: Outpoint): BitcoinTx {
  const s = assertPtlcSpec(spec);
  return {
    version: 2,
    lockTime: s.timeout,
    inputs: [{ ...assertOutpoint(outpoint), sequence: SEQUENCE_LOCKTIME_ONLY, witness: [] }],
    outputs: sweepOutputs(s, sweep),
  };
}

/** The refund sighash (SIGHASH_DEFAULT, key version 0, refund leaf): commits to the outpoint. */
export function refundSighash(spec: PtlcSpec, sweep: PtlcSweep, outpoint: Outpoint): Uint8Array {
  const out = ptlcOutput(spec);
  return signatureHash(unsignedRefundTx(spec, sweep, outpoint), 0, [prevoutOf(out)], {
    hashType: PTLC_REFUND_HASH_TYPE,
    keyVersion: 0,
    leafHash: out.refundLeaf.leafHash,
  });
}

/** S's 64-byte refund signature. */
export function signRefund(spec: PtlcSpec, sweep: PtlcSweep, outpoint: Outpoint, payerSk: Uint8Array, auxRand?: Uint8Array): Uint8Array {
  return signSighash(refundSighash(spec, sweep, outpoint), payerSk, PTLC_REFUND_HASH_TYPE, 0, auxRand);
}

/** The fully signed refund transaction (valid on chain from block `timeout + 1`). */
export function buildRefundTx(spec: PtlcSpec, sweep: PtlcSweep, outpoint: Outpoint, sig: Uint8Array): BitcoinTx {
  const s = assertPtlcSpec(spec);
  const out = ptlcOutput(s);
  if (!verifyWitnessSignature(sig, refundSighash(s, sweep, outpoint), s.payer, PTLC_REFUND_HASH_TYPE, 0))
    fail(ErrorCode.INVALID_SIGNATURE, 'refund: payer signature does not verify');
  const tx = unsignedRefundTx(s, sweep, outpoint);
  return { ...tx, inputs: [{ ...tx.inputs[0]!, witness: [sig.slice(), out.refundLeaf.script, out.refundLeaf.controlBlock] }] };
}
