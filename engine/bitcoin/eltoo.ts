/**
 * Eltoo channel transactions on taproot with BIP118 (SPEC 7.1–7.5; Decker,
 * Russell, Osuntokun, "eltoo: A Simple Layer2 Protocol for Bitcoin"), built
 * from a channel's {@link EltooTerms}, and the one place that defines the
 * update and settlement hash types and sighashes (PTLC claims: ptlc-output.ts).
 *
 * - Funding output: one leaf, rebind(0): any update may spend it.
 * - Update n: nLockTime 500_000_000 + n, nSequence 0xfffffffe, one output with
 *   leaves [rebind(n + 1), settle(csvDelay)]. Both parties sign it
 *   SIGHASH_ANYPREVOUTANYSCRIPT|ALL (0xc1), which commits to neither outpoint,
 *   amount, scriptPubKey nor leaf: one pair of signatures spends the funding
 *   output or the rebind leaf of any older update (its CLTV needs state > m).
 *   Its nSequence disables BIP68, which makes every CSV fail, so an update
 *   signature can never satisfy a settle leaf, although the keys are shared.
 * - Settlement n: spends update n's settle leaf with nSequence = csvDelay,
 *   signed SIGHASH_ANYPREVOUT|ALL (0x41), which commits to update n's
 *   scriptPubKey (it carries rebind(n + 1)) and amount, so it spends update n
 *   only, whatever update n's txid turned out to be.
 *
 * Fees: an update's output is `fundingAmount - updateFee`, so an update that
 * spends the funding output pays `updateFee`; one that rebinds onto an older
 * update pays nothing from channel funds and is topped up with
 * `attachFeeInput` (ANYPREVOUT signatures do not commit to other inputs).
 * Settlement n pays its own explicit fee: the update output's value equals the
 * balances, the PTLC amounts and the fee, exactly.
 *
 * The internal key of every output is BIP341's NUMS point H (see taproot.ts):
 * every channel spend is a script-path spend anyway, because BIP118 has no key
 * path; a MuSig2 key path would only serve a cooperative close, which is out
 * of scope, at the price of a nonce round per state.
 *
 * BIP118 keys must never be reused outside this channel: an 0xc1 signature is
 * valid on any output whose script uses the same keys (BIP118 "Signature replay").
 * @module
 */
import { abytes, equalBytes } from '../../base/bytes.js';
import { ErrorCode, fail } from '../../base/errors.js';
import { ptlcOutput, type PtlcSpec } from './ptlc-output.js';
import { MAX_STATE, assertCsvDelay, assertState, assertXOnlyKey, rebindLeaf, settleLeaf, type KeyPair2 } from './script.js';
import { signatureHash } from './sighash.js';
import { decodeWitnessSignature, signSighash, verifyWitnessSignature } from './sign.js';
import { NUMS_KEY, taprootOutput, type TapLeafInfo, type TaprootOutput } from './taproot.js';
import {
  DUST_LIMIT,
  LOCKTIME_THRESHOLD,
  SEQUENCE_LOCKTIME_ONLY,
  assertAmount,
  assertOutpoint,
  assertSats,
  satsToAmount,
  txid,
  type BitcoinTx,
  type Outpoint,
  type Prevout,
  type TxInput,
  type TxOutput,
} from './transaction.js';

/** Default update hash type: SIGHASH_ANYPREVOUTANYSCRIPT | SIGHASH_ALL. */
export const UPDATE_HASH_TYPE = 0xc1;
/**
 * Alternative update hash type: ANYPREVOUTANYSCRIPT | SINGLE commits to the
 * channel output only, so whoever broadcasts may attach a fee input *and* a
 * change output.
 */
export const UPDATE_HASH_TYPE_SINGLE = 0xc3;
/** Settlement hash type: SIGHASH_ANYPREVOUT | SIGHASH_ALL. */
export const SETTLEMENT_HASH_TYPE = 0x41;

/**
 * What the transactions of one two-party eltoo channel are made of: the keys
 * its scripts check, its amounts, its delay and where balances go. These are
 * *script-level* terms, not the channel's parameters: engine/channel derives
 * them from its `ChannelParams` (per-channel state keys and payout scripts,
 * engine/channel/onchain.ts `eltooTerms`). Amounts are channel amounts:
 * safe-integer sats, converted to transaction amounts where outputs are made.
 */
export interface EltooTerms {
  /** The parties' x-only keys; in scripts as BIP118 keys 0x01 ‖ x, `a` checked first. Unique to this channel. */
  readonly keys: KeyPair2;
  /** Value of the funding output (channel capacity) in satoshis. */
  readonly fundingAmount: number;
  /** Fee an update pays when it spends the funding output; update outputs hold `fundingAmount - updateFee`. */
  readonly updateFee: number;
  /** Settlement delay in blocks (BIP68/BIP112), 1..65535. Must exceed every PTLC timeout window plus a margin. */
  readonly csvDelay: number;
  /** scriptPubKeys receiving each party's balance in a settlement. */
  readonly payout: { readonly a: Uint8Array; readonly b: Uint8Array };
}

/** Validates eltoo terms and returns a normalized copy. */
export function assertEltooTerms(p: EltooTerms): EltooTerms {
  if (typeof p !== 'object' || p === null) fail(ErrorCode.INVALID_TYPE, 'eltoo terms: expected an object');
  if (typeof p.keys !== 'object' || p.keys === null) fail(ErrorCode.INVALID_TYPE, 'eltoo terms: keys missing');
  const a = assertXOnlyKey(p.keys.a, 'keys.a');
  const b = assertXOnlyKey(p.keys.b, 'keys.b');
  if (equalBytes(a, b)) fail(ErrorCode.INVALID_PUBLIC_KEY, 'keys.a and keys.b must differ');
  const fundingAmount = assertSats(p.fundingAmount, 'fundingAmount');
  const updateFee = assertSats(p.updateFee, 'updateFee');
  if (fundingAmount - updateFee < DUST_LIMIT) fail(ErrorCode.CHANNEL_INVARIANT, 'updateFee leaves less than dust in the channel');
  if (typeof p.payout !== 'object' || p.payout === null) fail(ErrorCode.INVALID_TYPE, 'eltoo terms: payout missing');
  const pa = abytes(p.payout.a, undefined, 'payout.a');
  const pb = abytes(p.payout.b, undefined, 'payout.b');
  if (pa.length === 0 || pb.length === 0) fail(ErrorCode.INVALID_LENGTH, 'payout: empty scriptPubKey');
  return { keys: { a, b }, fundingAmount, updateFee, csvDelay: assertCsvDelay(p.csvDelay), payout: { a: pa.slice(), b: pb.slice() } };
}

/** A taproot output of the channel with its value and leaves by role. */
export interface ChannelOutput extends TaprootOutput {
  /** The output's value as the transaction carries it. */
  readonly amount: bigint;
  /** The leaf an update spends this output through. */
  readonly rebindLeaf: TapLeafInfo;
  /** The leaf settlement n spends update n's output through (absent on the funding output). */
  readonly settleLeaf?: TapLeafInfo;
}

/** The funding output: a single rebind(0) leaf under the NUMS key. */
export function fundingOutput(params: EltooTerms): ChannelOutput {
  const p = assertEltooTerms(params);
  const out = taprootOutput(NUMS_KEY, { script: rebindLeaf(0, p.keys) });
  return { ...out, amount: satsToAmount(p.fundingAmount), rebindLeaf: out.leaves[0]! };
}

/** Update `state`'s output: leaves [rebind(state + 1), settle(csvDelay)]. */
export function updateOutput(params: EltooTerms, state: number): ChannelOutput {
  const p = assertEltooTerms(params);
  const n = assertState(state);
  const out = taprootOutput(NUMS_KEY, [{ script: rebindLeaf(n + 1, p.keys) }, { script: settleLeaf(p.csvDelay, p.keys) }]);
  return { ...out, amount: satsToAmount(p.fundingAmount - p.updateFee), rebindLeaf: out.leaves[0]!, settleLeaf: out.leaves[1]! };
}

/** What an update spends: the funding output, or the output of an older update. */
export type UpdateSpend =
  | { readonly kind: 'funding'; readonly outpoint: Outpoint }
  | { readonly kind: 'update'; readonly state: number; readonly outpoint: Outpoint };

const ZERO_OUTPOINT: Outpoint = { txid: new Uint8Array(32), vout: 0 };

/**
 * The unsigned update transaction for `state`. Its input points at `outpoint`
 * (default: a zero placeholder; 0xc1 signatures do not commit to it).
 */
export function unsignedUpdateTx(params: EltooTerms, state: number, outpoint: Outpoint = ZERO_OUTPOINT): BitcoinTx {
  const out = updateOutput(params, state);
  return {
    version: 2,
    lockTime: LOCKTIME_THRESHOLD + state,
    inputs: [{ ...assertOutpoint(outpoint), sequence: SEQUENCE_LOCKTIME_ONLY, witness: [] }],
    outputs: [{ amount: out.amount, script: out.scriptPubKey }],
  };
}

function assertUpdateHashType(ht: number): number {
  if (ht !== UPDATE_HASH_TYPE && ht !== UPDATE_HASH_TYPE_SINGLE)
    fail(ErrorCode.INVALID_RANGE, `update hash type must be 0xc1 or 0xc3, got ${String(ht)}`);
  return ht;
}

/**
 * The 32-byte sighash both parties sign for update `state`: a function of the
 * channel parameters and the state only, since 0xc1/0xc3 commit to nothing
 * about the spent output. This is the message of SPEC 6.6's payment point, whose
 * signature point T = R_A + e·P_A the payment protocol pays for.
 */
export function updateSighash(params: EltooTerms, state: number, hashType = UPDATE_HASH_TYPE): Uint8Array {
  const ht = assertUpdateHashType(hashType);
  // The leaf hash is not part of an ANYPREVOUTANYSCRIPT message; any 32 bytes do.
  return signatureHash(unsignedUpdateTx(params, state), 0, [], { hashType: ht, keyVersion: 1, leafHash: new Uint8Array(32) });
}

/** Signs update `state` with `sk` (one of the channel keys): a 65-byte witness signature. */
export function signUpdate(
  params: EltooTerms,
  state: number,
  sk: Uint8Array,
  auxRand?: Uint8Array,
  hashType = UPDATE_HASH_TYPE,
): Uint8Array {
  return signSighash(updateSighash(params, state, hashType), sk, hashType, 1, auxRand);
}

/** Signatures of both channel parties, as witness signatures (65 bytes with hash type). */
export interface PartySignatures {
  readonly a: Uint8Array;
  readonly b: Uint8Array;
}

function checkPair(sigs: PartySignatures, p: EltooTerms, hashFor: (ht: number) => Uint8Array, allowed: number[], what: string) {
  if (typeof sigs !== 'object' || sigs === null) fail(ErrorCode.INVALID_TYPE, `${what}: signatures { a, b } expected`);
  for (const who of ['a', 'b'] as const) {
    const sig = sigs[who];
    const { hashType } = decodeWitnessSignature(abytes(sig, undefined, `${what} signature ${who}`), 1);
    if (!allowed.includes(hashType))
      fail(ErrorCode.INVALID_SIGNATURE, `${what}: signature ${who} has hash type 0x${hashType.toString(16)}`);
    if (!verifyWitnessSignature(sig, hashFor(hashType), p.keys[who], hashType, 1))
      fail(ErrorCode.INVALID_SIGNATURE, `${what}: signature ${who} does not verify`);
  }
}

/**
 * The fully signed update `state`, bound to `spend`: the funding output, or
 * the output of an older update m < state (CHANNEL_INVARIANT otherwise: its
 * CLTV would reject us, and a state never goes backwards). Checks both
 * signatures first (INVALID_SIGNATURE). Rebinding a signed update to another
 * output is calling this again with the same signatures.
 */
export function buildUpdateTx(params: EltooTerms, state: number, spend: UpdateSpend, sigs: PartySignatures): BitcoinTx {
  const p = assertEltooTerms(params);
  const n = assertState(state);
  if (typeof spend !== 'object' || spend === null) fail(ErrorCode.INVALID_TYPE, 'spend: expected { kind, outpoint }');
  let spent: ChannelOutput;
  if (spend.kind === 'funding') spent = fundingOutput(p);
  else if (spend.kind === 'update') {
    const m = assertState(spend.state, 'spend.state');
    if (m >= n) fail(ErrorCode.CHANNEL_INVARIANT, `update ${n} cannot spend update ${m}: states only move forward`);
    spent = updateOutput(p, m);
  } else return fail(ErrorCode.INVALID_TYPE, 'spend.kind must be "funding" or "update"');
  checkPair(sigs, p, (ht) => updateSighash(p, n, ht), [UPDATE_HASH_TYPE, UPDATE_HASH_TYPE_SINGLE], 'update');
  const tx = unsignedUpdateTx(p, n, spend.outpoint);
  if (spent.amount < tx.outputs[0]!.amount) fail(ErrorCode.CHANNEL_INVARIANT, 'update output exceeds the spent output');
  // Stack bottom → top: sig b, sig a (checked first), leaf script, control block.
  const witness = [sigs.b.slice(), sigs.a.slice(), spent.rebindLeaf.script, spent.rebindLeaf.controlBlock];
  return { ...tx, inputs: [{ ...tx.inputs[0]!, witness }] };
}

/**
 * The state number of `tx` if it is an update of this channel (its nLockTime
 * and output match update n), else null. A watcher uses it to see which state
 * the other party published.
 */
export function updateStateOf(params: EltooTerms, tx: BitcoinTx): number | null {
  const n = tx.lockTime - LOCKTIME_THRESHOLD;
  if (!Number.isInteger(n) || n < 0 || n > MAX_STATE || tx.outputs.length < 1) return null;
  const out = updateOutput(params, n);
  return equalBytes(tx.outputs[0]!.script, out.scriptPubKey) ? n : null;
}

/**
 * The update of this channel that `tx` is, when it spends the channel output
 * `spent` (the funding output or an older update's output): its state number
 * and the outpoint of its own channel output; null when `tx` is not an
 * update spending `spent`. This is what a watcher must use, not
 * {@link updateStateOf}: whoever broadcasts an update may put the channel
 * input at any index, since no signature commits to it. With SINGLE
 * signatures (0xc3) the channel output is the one at the channel input's
 * index (the signature commits to that output only; another output with
 * the same script is the broadcaster's own decoy); with ALL (0xc1) every
 * output is committed and the update has exactly one.
 */
export function updateSpending(params: EltooTerms, tx: BitcoinTx, spent: Outpoint): { n: number; output: Outpoint } | null {
  const i = tx.inputs.findIndex((inp) => inp.vout === spent.vout && equalBytes(inp.txid, spent.txid));
  if (i < 0) return null;
  const n = tx.lockTime - LOCKTIME_THRESHOLD;
  if (!Number.isInteger(n) || n < 0 || n > MAX_STATE) return null;
  const script = updateOutput(params, n).scriptPubKey;
  const id = txid(tx);
  if (i < tx.outputs.length && equalBytes(tx.outputs[i]!.script, script)) return { n, output: { txid: id, vout: i } };
  if (tx.outputs.length === 1 && equalBytes(tx.outputs[0]!.script, script)) return { n, output: { txid: id, vout: 0 } };
  return null;
}

/**
 * Appends a fee input (and optionally a change output) to a signed update, as
 * ANYPREVOUT signatures allow: they commit to no other input. With 0xc1
 * signatures every output is committed, so `change` is refused
 * (CHANNEL_INVARIANT) and the whole fee input goes to fees; with 0xc3 a change
 * output may follow. The caller signs the fee input itself (it is an ordinary
 * wallet input).
 */
export function attachFeeInput(tx: BitcoinTx, input: Outpoint & { readonly sequence?: number }, change?: TxOutput): BitcoinTx {
  const o = assertOutpoint(input);
  const first = tx.inputs[0];
  if (first === undefined || first.witness.length < 2) fail(ErrorCode.TX_INVALID, 'attachFeeInput: expects a signed update');
  const hts = [first.witness[0]!, first.witness[1]!].map((s) => decodeWitnessSignature(s, 1).hashType);
  if (change !== undefined) {
    if (hts.some((h) => (h & 3) !== 3))
      fail(ErrorCode.CHANNEL_INVARIANT, 'attachFeeInput: a change output needs SIGHASH_SINGLE update signatures');
    assertAmount(change.amount, 'change.amount');
  }
  const feeIn: TxInput = { ...o, sequence: input.sequence ?? SEQUENCE_LOCKTIME_ONLY, witness: [] };
  return { ...tx, inputs: [...tx.inputs, feeIn], outputs: change === undefined ? [...tx.outputs] : [...tx.outputs, change] };
}

/** What settlement n pays: balances, PTLCs and the fee. */
export interface SettlementSpec {
  /** The state number n (must match the update it spends). */
  readonly state: number;
  /** Each party's balance in satoshis; a zero balance gets no output. */
  readonly balances: { readonly a: number; readonly b: number };
  /** Pending PTLCs, one output each, after the balances, in this order. */
  readonly ptlcs?: readonly PtlcSpec[];
  /** Settlement fee in satoshis. */
  readonly fee: number;
}

/** A settlement's outputs and where each PTLC landed. */
export interface SettlementOutputs {
  readonly outputs: readonly TxOutput[];
  /** Output index of each PTLC of the spec, in order. */
  readonly ptlcVouts: readonly number[];
}

/**
 * The settlement's outputs: balance a, balance b (each omitted when zero),
 * then the PTLCs. Enforces, with CHANNEL_INVARIANT: balances + PTLCs + fee equal
 * the update output exactly (no value created or lost), no output below dust,
 * and PTLC keys distinct from the channel keys (an 0xc1 update signature must
 * never fit a PTLC leaf).
 */
export function settlementOutputs(params: EltooTerms, spec: SettlementSpec): SettlementOutputs {
  const p = assertEltooTerms(params);
  if (typeof spec !== 'object' || spec === null) fail(ErrorCode.INVALID_TYPE, 'settlement: expected an object');
  assertState(spec.state);
  if (typeof spec.balances !== 'object' || spec.balances === null) fail(ErrorCode.INVALID_TYPE, 'settlement: balances missing');
  const balA = assertSats(spec.balances.a, 'balances.a');
  const balB = assertSats(spec.balances.b, 'balances.b');
  const fee = assertSats(spec.fee, 'settlement fee');
  const available = p.fundingAmount - p.updateFee;
  const overspent = (total: number) => {
    // Checked after every PTLC as well, so the running sum stays below available + MAX_MONEY < 2^53: exact.
    if (total > available) fail(ErrorCode.CHANNEL_INVARIANT, `settlement spends ${total} but the update output holds ${available}`);
  };
  const outputs: TxOutput[] = [];
  for (const [bal, script, who] of [
    [balA, p.payout.a, 'a'],
    [balB, p.payout.b, 'b'],
  ] as const) {
    if (bal === 0) continue;
    if (bal < DUST_LIMIT) fail(ErrorCode.CHANNEL_INVARIANT, `balance ${who} (${bal}) is below the dust limit ${DUST_LIMIT}`);
    outputs.push({ amount: satsToAmount(bal), script });
  }
  const ptlcVouts: number[] = [];
  let total = balA + balB + fee; // ≤ 3 · MAX_MONEY < 2^53: exact
  overspent(total);
  for (const spec1 of spec.ptlcs ?? []) {
    const out = ptlcOutput(spec1);
    for (const k of [spec1.payer, spec1.payee])
      if (equalBytes(k, p.keys.a) || equalBytes(k, p.keys.b))
        fail(ErrorCode.CHANNEL_INVARIANT, 'PTLC keys must differ from the channel keys');
    ptlcVouts.push(outputs.length);
    outputs.push({ amount: out.amount, script: out.scriptPubKey });
    total += spec1.amount;
    overspent(total);
  }
  if (total < available) fail(ErrorCode.CHANNEL_INVARIANT, `settlement leaves ${available - total} sats unaccounted for`);
  if (outputs.length === 0) fail(ErrorCode.CHANNEL_INVARIANT, 'settlement has no outputs');
  return { outputs, ptlcVouts };
}

/** The unsigned settlement n spending update n's output at `outpoint` (default: zero placeholder). */
export function unsignedSettlementTx(params: EltooTerms, spec: SettlementSpec, outpoint: Outpoint = ZERO_OUTPOINT): BitcoinTx {
  const p = assertEltooTerms(params);
  const { outputs } = settlementOutputs(p, spec);
  return {
    version: 2,
    lockTime: 0,
    inputs: [{ ...assertOutpoint(outpoint), sequence: p.csvDelay, witness: [] }],
    outputs: [...outputs],
  };
}

function settlementPrevout(p: EltooTerms, state: number): { prevout: Prevout; out: ChannelOutput } {
  const out = updateOutput(p, state);
  return { prevout: { amount: out.amount, scriptPubKey: out.scriptPubKey }, out };
}

/**
 * The 32-byte sighash both parties sign for settlement n (0x41, key version 1,
 * settle leaf): commits to update n's scriptPubKey and amount, not its outpoint.
 */
export function settlementSighash(params: EltooTerms, spec: SettlementSpec): Uint8Array {
  const p = assertEltooTerms(params);
  const { prevout, out } = settlementPrevout(p, spec.state);
  return signatureHash(unsignedSettlementTx(p, spec), 0, [prevout], {
    hashType: SETTLEMENT_HASH_TYPE,
    keyVersion: 1,
    leafHash: out.settleLeaf!.leafHash,
  });
}

/** Signs settlement n with `sk` (one of the channel keys): a 65-byte witness signature. */
export function signSettlement(params: EltooTerms, spec: SettlementSpec, sk: Uint8Array, auxRand?: Uint8Array): Uint8Array {
  return signSighash(settlementSighash(params, spec), sk, SETTLEMENT_HASH_TYPE, 1, auxRand);
}

/** A fully signed settlement and the output index of each of its PTLCs. */
export interface SettlementTx {
  readonly tx: BitcoinTx;
  readonly ptlcVouts: readonly number[];
}

/**
 * The fully signed settlement n spending update n's output at `updateOutpoint`.
 * Checks both signatures (INVALID_SIGNATURE) and every invariant of
 * `settlementOutputs`. Valid on chain `csvDelay` blocks after update n confirms.
 */
export function buildSettlementTx(params: EltooTerms, spec: SettlementSpec, updateOutpoint: Outpoint, sigs: PartySignatures): SettlementTx {
  const p = assertEltooTerms(params);
  const { out } = settlementPrevout(p, spec.state);
  const { ptlcVouts } = settlementOutputs(p, spec);
  checkPair(sigs, p, () => settlementSighash(p, spec), [SETTLEMENT_HASH_TYPE], 'settlement');
  const tx = unsignedSettlementTx(p, spec, updateOutpoint);
  const leaf = out.settleLeaf!;
  const witness = [sigs.b.slice(), sigs.a.slice(), leaf.script, leaf.controlBlock];
  return { tx: { ...tx, inputs: [{ ...tx.inputs[0]!, witness }] }, ptlcVouts };
}
