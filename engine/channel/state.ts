/**
 * Channel parameters, states and the invariants every new state must keep
 * (SPEC 6.5 state encoding, 6.9 receiver rules, 6.12 timelock rule). Pure:
 * no transactions here (onchain.ts maps a state to its eltoo transactions).
 * Every amount is a safe-integer number of sats, the form the wire and the
 * persisted channel carry; the bigint of a transaction output appears only
 * in engine/bitcoin.
 *
 * Fee accounting is explicit: the funding amount pays the update fee and the
 * settlement fee, and what is left is split between the two balances and the
 * pending PTLCs, exactly, in every state.
 * @module
 */
import { abytes, bytesToHex } from '../../base/bytes.js';
import { ErrorCode, fail } from '../../base/errors.js';
import { parseCompressedPoint } from '../../crypto/bip340.js';
import type { WireChannelState, WirePtlc } from '../../protocol/payment.js';
import { assertCsvDelay } from '../bitcoin/script.js';
import { DUST_LIMIT, LOCKTIME_THRESHOLD, assertSats, assertU32 } from '../bitcoin/transaction.js';

/** Party index: 0 or 1, fixed at channel open (party 0 funds, by convention the payer side). */
export type Party = 0 | 1;
/** A channel state: number, balances and pending PTLCs (the wire form is the state form). */
export type ChannelState = WireChannelState;
/** A pending PTLC in a channel state. */
export type Ptlc = WirePtlc;

/** Signatures and nonces collected for one state. Index = party. */
export interface StateRecord {
  state: ChannelState;
  /** The nonce-store id of our committed update nonce for this record, once committed. */
  myNonceId?: string;
  settleSigs: [Uint8Array | null, Uint8Array | null];
  updateNonces: [Uint8Array | null, Uint8Array | null];
  updateSigs: [Uint8Array | null, Uint8Array | null];
}

/**
 * Fixed parameters of a two-party eltoo channel: the one parameter type of
 * the engines (persisted as `ChannelParamsJson`, persist.ts).
 * Its transactions' script-level terms (per-channel state keys, payout
 * scripts) are derived from it by onchain.ts.
 */
export interface ChannelParams {
  /** 32-byte channel id, chosen at open. */
  channelId: Uint8Array;
  /**
   * The funding amount (sats) and outpoint (`txid` in display order, 32 bytes,
   * as engine/bitcoin's `Outpoint`). The outpoint is absent while a channel is being opened: state 0
   * is signed before the funding transaction exists (no signature of the
   * channel commits to it, SPEC 6.17), and {@link setFundingOutpoint} fills it in.
   */
  funding: { amount: number; txid?: Uint8Array; vout?: number };
  /** x-only BIP340 keys of party 0 and party 1 (used as BIP118 keys). */
  keys: [Uint8Array, Uint8Array];
  /** Settlement CSV delay in blocks. */
  csvDelay: number;
  /** Explicit fees in sats: update tx, settlement tx, PTLC claim/refund tx. */
  fees: { update: number; settlement: number; ptlc: number };
  /**
   * The scriptPubKeys party 0's and party 1's coins are paid to (settled
   * balances, PTLC claims and refunds), each chosen by its party at open. When
   * absent, a key-path-only P2TR output of the party's channel key (channels
   * set up before payout scripts were chosen at open).
   */
  payout?: [Uint8Array, Uint8Array];
}

/** Longest payout scriptPubKey a channel accepts (a witness v0–v16 program of 40 bytes). */
export const MAX_PAYOUT_SCRIPT = 42;

/** Checks a payout scriptPubKey chosen by a party: 1 to {@link MAX_PAYOUT_SCRIPT} bytes. */
export function checkPayoutScript(s: Uint8Array, name = 'payout'): Uint8Array {
  abytes(s, undefined, name);
  if (s.length < 1 || s.length > MAX_PAYOUT_SCRIPT)
    fail(ErrorCode.INVALID_LENGTH, `${name}: ${s.length} bytes, must be 1 to ${MAX_PAYOUT_SCRIPT}`);
  return s;
}

/**
 * Fills in the funding outpoint of a channel whose state 0 was signed before
 * its funding transaction existed. Refuses to change an outpoint already set.
 */
export function setFundingOutpoint(p: ChannelParams, txid: Uint8Array, vout: number): void {
  abytes(txid, 32, 'funding.txid');
  assertU32(vout, 'funding.vout');
  if (p.funding.txid !== undefined && (bytesToHex(p.funding.txid) !== bytesToHex(txid) || p.funding.vout !== vout))
    fail(ErrorCode.CHANNEL_INVARIANT, 'the funding outpoint is already set');
  p.funding = { amount: p.funding.amount, txid: txid.slice(), vout };
}

/**
 * The funding outpoint of a channel, or undefined while it is being opened
 * (nothing to watch, enforce or close on chain yet).
 */
export function fundingOutpoint(p: ChannelParams): { txid: Uint8Array; vout: number } | undefined {
  return p.funding.txid === undefined || p.funding.vout === undefined ? undefined : { txid: p.funding.txid, vout: p.funding.vout };
}

/** The funding outpoint of a funded channel; refuses (`CHANNEL_INVARIANT`) a channel whose funding is not known yet. */
export function requireFundingOutpoint(p: ChannelParams): { txid: Uint8Array; vout: number } {
  const o = fundingOutpoint(p);
  if (!o) fail(ErrorCode.CHANNEL_INVARIANT, 'the channel is not funded yet (no funding outpoint)');
  return o;
}

function invariant(ok: boolean, msg: string): asserts ok {
  if (!ok) fail(ErrorCode.CHANNEL_INVARIANT, msg);
}

/**
 * Validates channel parameters (the one check of them: the eltoo builders
 * re-check only the terms derived from them); throws typed errors.
 */
export function validateParams(p: ChannelParams): ChannelParams {
  abytes(p.channelId, 32, 'channelId');
  if (p.funding.txid !== undefined || p.funding.vout !== undefined) {
    abytes(p.funding.txid, 32, 'funding.txid');
    assertU32(p.funding.vout, 'funding.vout');
  }
  assertSats(p.funding.amount, 'funding.amount');
  abytes(p.keys[0], 32, 'keys[0]');
  abytes(p.keys[1], 32, 'keys[1]');
  assertCsvDelay(p.csvDelay);
  for (const k of ['update', 'settlement', 'ptlc'] as const) assertSats(p.fees[k], `fees.${k}`);
  if (p.payout !== undefined) {
    checkPayoutScript(p.payout[0], 'payout[0]');
    checkPayoutScript(p.payout[1], 'payout[1]');
  }
  invariant(capacity(p) > 0, 'funding does not cover the fees');
  return p;
}

/** What the balances and PTLCs of every state add up to: funding minus update and settlement fees. */
export function capacity(p: ChannelParams): number {
  return p.funding.amount - p.fees.update - p.fees.settlement;
}

/** The state-0 of a channel funded with `balances` (must add up to the capacity). */
export function initialState(p: ChannelParams, balances: [number, number]): ChannelState {
  const s: ChannelState = { n: 0, balances, ptlcs: [] };
  checkState(p, s);
  return s;
}

/**
 * The highest state number a channel uses (SPEC 6.5: `n < 499 999 999`).
 * It sits below the transaction layer's own ceiling (`MAX_STATE` in
 * engine/bitcoin/script.ts, which keeps every update's nLockTime a time
 * before the genesis block), so every channel state has an update
 * transaction; the channel's rule is the stricter one and the one peers check.
 */
export const MAX_CHANNEL_STATE = LOCKTIME_THRESHOLD - 2;

/** True for a number a channel state may carry: an integer in [0, {@link MAX_CHANNEL_STATE}]. */
export function isChannelStateNumber(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_CHANNEL_STATE;
}

/**
 * Checks one state on its own: amounts in range, funds conserved (balances +
 * PTLCs = capacity), no negative balance, PTLC fields well-formed and ids
 * unique, PTLC amounts above dust and above the claim fee, timeouts are block heights.
 * @throws LnMailboxError CHANNEL_INVARIANT or INVALID_RANGE / INVALID_PUBLIC_KEY
 */
export function checkState(p: ChannelParams, s: ChannelState): void {
  if (!isChannelStateNumber(s.n)) fail(ErrorCode.INVALID_RANGE, `state number ${s.n} out of range`);
  assertSats(s.balances[0], 'balance0');
  assertSats(s.balances[1], 'balance1');
  let total = s.balances[0] + s.balances[1];
  const ids = new Set<string>();
  for (const x of s.ptlcs) {
    abytes(x.id, 32, 'ptlc.id');
    const id = bytesToHex(x.id);
    invariant(!ids.has(id), `duplicate PTLC id ${id}`);
    ids.add(id);
    invariant(x.offerer === 0 || x.offerer === 1, 'ptlc.offerer must be 0 or 1');
    assertSats(x.amount, 'ptlc.amount');
    invariant(x.amount >= DUST_LIMIT + p.fees.ptlc, `PTLC amount ${x.amount} below dust + claim fee`);
    parseCompressedPoint(x.point, 'ptlc.point');
    invariant(Number.isInteger(x.timeout) && x.timeout > 0 && x.timeout < LOCKTIME_THRESHOLD, 'ptlc.timeout must be a block height');
    total += x.amount;
  }
  invariant(total === capacity(p), `funds not conserved: state holds ${total}, capacity is ${capacity(p)}`);
}

/**
 * Checks that `next` may follow `prev`: a strictly greater state number
 * (a state number never goes backwards, and overwriting a pending state
 * uses a still greater one) and a valid state on its own.
 */
export function checkTransition(p: ChannelParams, prev: ChannelState, next: ChannelState): void {
  invariant(next.n > prev.n, `state number must increase: ${next.n} after ${prev.n}`);
  checkState(p, next);
}

/**
 * The timelock safety rule: a PTLC extended on the strength of a state of the
 * payer's channel must resolve (claim or timeout) before the payer could
 * settle an older state on chain there. The payer can publish an old update
 * at any time; its settlement is valid `csv` blocks after that update
 * confirms. So, with `h_update` the height an update of the payer's channel
 * confirmed at (or the current height when none is on chain yet):
 *
 *   timeout + margin < min(h_update, currentHeight) + csv
 */
export function checkPtlcTimelock(
  ptlcTimeout: number,
  currentHeight: number,
  payerChannelCsv: number,
  margin: number,
  updateHeight?: number,
): void {
  invariant(ptlcTimeout > currentHeight, `PTLC timeout ${ptlcTimeout} is not after the current height ${currentHeight}`);
  const from = Math.min(currentHeight, updateHeight ?? currentHeight);
  invariant(
    ptlcTimeout + margin < from + payerChannelCsv,
    `PTLC timeout ${ptlcTimeout} + margin ${margin} must be below ${from} + the payer channel's CSV delay ${payerChannelCsv}`,
  );
}

/** Returns `s` with `amount` moved from party `from` to the other party, as state `n`. */
export function transfer(s: ChannelState, from: Party, amount: number, n: number): ChannelState {
  const balances: [number, number] = [s.balances[0], s.balances[1]];
  balances[from] -= amount;
  balances[(1 - from) as Party] += amount;
  invariant(balances[from] >= 0, `insufficient balance: party ${from} has ${s.balances[from]}, needs ${amount}`);
  return { n, balances, ptlcs: s.ptlcs.map((x) => ({ ...x })) };
}

/** Returns `s` with a PTLC offered by `x.offerer` added (its amount leaves the offerer's balance), as state `n`. */
export function addPtlc(s: ChannelState, x: Ptlc, n: number): ChannelState {
  const balances: [number, number] = [s.balances[0], s.balances[1]];
  balances[x.offerer] -= x.amount;
  invariant(balances[x.offerer] >= 0, `insufficient balance for PTLC: ${s.balances[x.offerer]} < ${x.amount}`);
  return { n, balances, ptlcs: [...s.ptlcs.map((p) => ({ ...p })), { ...x }] };
}

/**
 * Returns `s` with PTLC `id` resolved as state `n`: fulfilled (its amount goes
 * to the receiver) or failed (back to the offerer).
 */
export function resolvePtlc(s: ChannelState, id: Uint8Array, outcome: 'fulfill' | 'fail', n: number): ChannelState {
  const hex = bytesToHex(id);
  const x = s.ptlcs.find((p) => bytesToHex(p.id) === hex);
  invariant(x !== undefined, `no pending PTLC ${hex}`);
  const balances: [number, number] = [s.balances[0], s.balances[1]];
  balances[outcome === 'fulfill' ? ((1 - x.offerer) as Party) : x.offerer] += x.amount;
  return { n, balances, ptlcs: s.ptlcs.filter((p) => p !== x).map((p) => ({ ...p })) };
}

/** Structural equality of two states. */
export function sameState(a: ChannelState, b: ChannelState): boolean {
  return (
    a.n === b.n &&
    a.balances[0] === b.balances[0] &&
    a.balances[1] === b.balances[1] &&
    a.ptlcs.length === b.ptlcs.length &&
    a.ptlcs.every((x, i) => {
      const y = b.ptlcs[i]!;
      return (
        bytesToHex(x.id) === bytesToHex(y.id) &&
        x.offerer === y.offerer &&
        x.amount === y.amount &&
        bytesToHex(x.point) === bytesToHex(y.point) &&
        x.timeout === y.timeout
      );
    })
  );
}
