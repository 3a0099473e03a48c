/**
 * The two-party eltoo channel state machine, from one party's point of view
 * (SPEC section 6).
 *
 * A state goes through: proposed → both settlement signatures → update
 * nonces committed → both update signatures (enforceable). The rules that
 * keep funds safe are enforced here, not left to callers:
 * - a party never releases its update signature for state n before it holds
 *   both settlement signatures for n (else the update could be published with
 *   no settlement to spend it, and the funds would be stuck);
 * - every update signature uses a fresh committed nonce bound to that
 *   update's sighash (`nonceId(channel, n, party, tag)`), so a nonce never
 *   signs two messages, and signing the same update again (a replayed step)
 *   gives the same signature;
 * - every signature from the peer is verified against the real BIP118
 *   sighash before it is stored;
 * - state numbers only go up, and are never reused: an update's sighash
 *   depends only on its number, so a settlement signature released for
 *   number n would be enforceable against any state later signed as n. A
 *   persisted high-water mark ({@link Channel.highN}) makes every new state
 *   use a number above every number this party ever proposed, accepted or
 *   signed, including abandoned and refused ones;
 * - once an update of the channel is seen on chain ({@link Channel.noteUpdateOnChain}),
 *   the channel is closing: the payment engines extend nothing more over it.
 *
 * The invariants of a single state are in state.ts, its transactions and
 * keys in onchain.ts, its persisted form in persist.ts (re-exported here for
 * the runtimes that store channels).
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { bytesToHex, equalBytes, hexToBytes } from '../../base/bytes.js';
import { ErrorCode, fail, isLnMailboxError } from '../../base/errors.js';
import { commitNonce, signWithCommittedNonce, type NonceStore } from '../../crypto/nonce.js';
import { getPublicKey, signaturePoint } from '../../crypto/bip340.js';
import { adaptorPresign, adaptorVerify } from '../../crypto/adaptor.js';
import { SETTLEMENT_HASH_TYPE } from '../bitcoin/eltoo.js';
import { encodeWitnessSignature } from '../bitcoin/sign.js';
import type { BitcoinTx } from '../bitcoin/transaction.js';
import { buildCloseTx, signClose, verifyCloseSig } from './close.js';
import {
  checkTransition,
  isChannelStateNumber,
  sameState,
  setFundingOutpoint,
  validateParams,
  type ChannelParams,
  type ChannelState,
  type Party,
  type StateRecord,
} from './state.js';
import {
  isChannelRef,
  paramsFromJson,
  paramsToJson,
  recordFromJson,
  recordToJson,
  type ChannelJson,
  type ChannelRef,
  type StateRecordJson,
  type StoredChannel,
} from './persist.js';

export type { ChannelJson, ChannelRecord, ChannelRecordsRef, ChannelRef, StateRecordJson, StoredChannel } from './persist.js';
export { inlined, isChannelRecordsRef, isChannelRef } from './persist.js';
export type { StateRecord } from './state.js';
import {
  CHANNEL_UPDATE_HASH_TYPE,
  signSettlement,
  settlementSighash,
  statePublicKey,
  stateSecretKey,
  updateSighash,
  verifyChannelSig,
} from './onchain.js';

/**
 * The nonce-store id of `party`'s update nonce for state `n` of a channel
 * (`tag`: 16 hex chars drawn with the nonce, so that a step that rolled back
 * after committing a nonce commits a fresh one when it is replayed).
 */
function nonceId(channelId: Uint8Array, n: number, party: Party, tag: string): string {
  return `upd:${bytesToHex(channelId)}:${n}:${party}:${tag}`;
}

/** State secret keys already checked against a channel's state key, per secret key object. */
const checkedSecrets = new WeakMap<Uint8Array, Map<string, Uint8Array>>();

function emptyRecord(state: ChannelState): StateRecord {
  return { state, settleSigs: [null, null], updateNonces: [null, null], updateSigs: [null, null] };
}

function invariant(ok: boolean, msg: string): asserts ok {
  if (!ok) fail(ErrorCode.CHANNEL_INVARIANT, msg);
}

/** Every change to a channel takes the next value (see {@link Channel.version}). */
let versionClock = 0;

/**
 * What an all-or-nothing step of a role engine keeps of the channels it
 * changes: each channel's persisted form as it was before its first change
 * in the step. A step that fails puts exactly those channels back
 * ({@link ChannelJournal.rollback}); the channels it did not touch cost it
 * nothing, however many the role has.
 */
export class ChannelJournal {
  #open = false;
  #saved = new Map<Channel, ChannelJson>();

  /** True between {@link begin} and {@link commit} or {@link rollback}. */
  get open(): boolean {
    return this.#open;
  }

  /** Starts recording (refused while already recording: steps do not nest here). */
  begin(): void {
    if (this.#open) throw new Error('channel journal: a step is already recording');
    this.#saved.clear();
    this.#open = true;
  }

  /** Keeps `c`'s persisted form, once per step, before its first change (channels call it). */
  note(c: Channel): void {
    if (this.#open && !this.#saved.has(c)) this.#saved.set(c, c.toJSON());
  }

  /** The channels changed since {@link begin}. */
  touched(): Channel[] {
    return [...this.#saved.keys()];
  }

  /**
   * Ends the step, keeping every change. Returns what {@link rollback} would
   * have put back (each changed channel's form before the step), for a
   * caller that may still have to undo the step once it has ended.
   */
  commit(): Map<Channel, ChannelJson> {
    this.#open = false;
    const saved = this.#saved;
    this.#saved = new Map();
    return saved;
  }

  /** Ends the step, putting every changed channel back as it was at {@link begin}. */
  rollback(): void {
    this.#open = false;
    for (const [c, j] of this.#saved) c.restore(j);
    this.#saved.clear();
  }
}

/** One party's view of a channel: its latest enforceable state and at most one pending state. */
export class Channel {
  /** Fixed channel parameters. */
  readonly params: ChannelParams;
  /** Which party we are. */
  readonly me: Party;
  #enforceable: StateRecord;
  #pending: StateRecord | undefined;
  #overwritten: StateRecord | undefined;
  #highN: number;
  #seenN: number;
  #closing: { height: number } | undefined;
  #coopClose: { n: number; sigs: [Uint8Array | null, Uint8Array | null] } | undefined;
  #version = ++versionClock;
  #journal: ChannelJournal | undefined;

  /** The latest state with all four signatures. */
  get enforceable(): StateRecord {
    return this.#enforceable;
  }
  /** A state being negotiated, if any. */
  get pending(): StateRecord | undefined {
    return this.#pending;
  }
  /**
   * The pending state that the current pending one overwrote, kept until the
   * overwrite completes: if the peer refuses the overwrite (a cancellation
   * the hub can no longer accept), the original negotiation resumes.
   */
  get overwritten(): StateRecord | undefined {
    return this.#overwritten;
  }
  /**
   * The high-water mark: the highest state number this party ever proposed,
   * accepted or signed on this channel, abandoned ones included. Every new
   * state uses a greater number, so no number is ever signed twice.
   */
  get highN(): number {
    return this.#highN;
  }
  /**
   * The highest number of a proposal we refused that carried the peer's valid
   * settlement signature: the peer will not use it again, so our own next
   * proposal skips it (it would be refused). It does not bind the peer's
   * proposals: we never signed anything for it.
   */
  get seenN(): number {
    return this.#seenN;
  }
  /** Set once an update of this channel was seen on chain: the height it confirmed at. */
  get closing(): { height: number } | undefined {
    return this.#closing;
  }
  /**
   * The cooperative close under way (close.ts): the state it pays and the
   * close signatures held, by party. Once we signed one, the channel takes
   * no new state: the close would pay the older balances.
   */
  get coopClose(): { n: number; sigs: [Uint8Array | null, Uint8Array | null] } | undefined {
    return this.#coopClose;
  }

  /**
   * Changes with every change of the channel (every method that records
   * something takes a new value first). Values are unique across channel
   * objects, so a runtime that remembers the version it stored knows whether
   * the channel must be stored again.
   */
  get version(): number {
    return this.#version;
  }

  /**
   * Makes `journal` the record of this channel's changes: while the journal
   * is open, the channel hands it its persisted form before its first
   * change, so that a failed step can put it back ({@link ChannelJournal}).
   */
  track(journal: ChannelJournal): void {
    this.#journal = journal;
  }

  /** Called first by every method that changes the channel. */
  #touch(): void {
    this.#journal?.note(this);
    this.#version = ++versionClock;
  }

  constructor(
    params: ChannelParams,
    me: Party,
    enforceable: StateRecord,
    pending?: StateRecord,
    overwritten?: StateRecord,
    extra: {
      highN?: number;
      seenN?: number;
      closing?: { height: number };
      coopClose?: { n: number; sigs: [Uint8Array | null, Uint8Array | null] };
    } = {},
  ) {
    this.params = validateParams(params);
    if (me !== 0 && me !== 1) fail(ErrorCode.INVALID_RANGE, 'me must be 0 or 1');
    this.me = me;
    this.#enforceable = enforceable;
    this.#pending = pending;
    this.#overwritten = overwritten;
    this.#highN = Math.max(extra.highN ?? -1, enforceable.state.n, pending?.state.n ?? -1, overwritten?.state.n ?? -1);
    this.#seenN = extra.seenN ?? -1;
    this.#closing = extra.closing ? { height: extra.closing.height } : undefined;
    this.#coopClose = extra.coopClose ? { n: extra.coopClose.n, sigs: [extra.coopClose.sigs[0], extra.coopClose.sigs[1]] } : undefined;
  }

  /** The other party. */
  get peer(): Party {
    return (1 - this.me) as Party;
  }

  /**
   * The x-only key that signs `party`'s updates and settlements in this
   * channel: its channel key tweaked by the channel id (see onchain.ts), so no
   * signature of this channel is valid in another.
   */
  stateKey(party: Party): Uint8Array {
    return statePublicKey(this.params, this.params.keys[party]);
  }

  /** Our state secret key from our channel secret key `sk`, which must be ours in this channel. */
  private stateSecret(sk: Uint8Array): Uint8Array {
    const ours = bytesToHex(this.stateKey(this.me));
    const d = stateSecretKey(this.params, sk);
    const seen = checkedSecrets.get(sk);
    if (seen?.has(ours) && equalBytes(seen.get(ours)!, d)) return d;
    invariant(equalBytes(getPublicKey(d), this.stateKey(this.me)), 'secret key is not our channel key');
    if (seen) {
      if (seen.size >= 4096) seen.clear();
      seen.set(ours, d.slice());
    } else checkedSecrets.set(sk, new Map([[ours, d.slice()]]));
    return d;
  }

  /**
   * The highest state number used on this channel as far as we know: ours
   * (proposed, accepted or signed) or the peer's (see {@link Channel.seenN}).
   * Our next proposal uses `topN + 1`.
   */
  get topN(): number {
    return Math.max(this.highN, this.seenN);
  }

  /**
   * Records that an update transaction of this channel confirmed at `height`
   * (from the wallet's chain watcher). The channel is closing from then on;
   * the lowest height seen is kept.
   */
  noteUpdateOnChain(height: number): void {
    if (!Number.isInteger(height) || height < 0) fail(ErrorCode.INVALID_RANGE, 'height must be a block height');
    if (this.#closing && height >= this.#closing.height) return;
    this.#touch();
    this.#closing = { height };
  }

  /**
   * Raises the high-water mark to a state number the peer proposed, even one
   * we refuse: the peer has signed a settlement for it, so neither side will
   * use it again, and our next proposal must not collide with it (the peer
   * would refuse it). Out-of-range numbers are ignored here (the state check
   * refuses them).
   */
  noteSeen(n: number): void {
    if (!isChannelStateNumber(n) || n <= this.#seenN) return;
    this.#touch();
    this.#seenN = n;
  }

  /**
   * After refusing the peer's proposal of `state`: if `settleSig` is the
   * peer's valid settlement signature for it, the peer has released a
   * settlement for that number, so the number is marked used here too
   * ({@link Channel.noteSeen}). A proposal without a valid signature (not the
   * peer's, or not a state of this channel) changes nothing.
   */
  noteRefusedProposal(state: ChannelState, settleSig: Uint8Array): void {
    if (state.n <= this.topN) return;
    try {
      if (verifyChannelSig(settlementSighash(this.params, state), settleSig, SETTLEMENT_HASH_TYPE, this.stateKey(this.peer)))
        this.noteSeen(state.n);
    } catch (e) {
      if (!isLnMailboxError(e)) throw e; // not a state of this channel: nothing was signed for it
    }
  }

  /** Refuses to start anything new over a closing channel (PAYMENT_REJECTED). */
  requireOpen(): void {
    if (this.closing) fail(ErrorCode.PAYMENT_REJECTED, `channel is closing: an update was seen on chain at height ${this.closing.height}`);
    if (this.coopClose) fail(ErrorCode.PAYMENT_REJECTED, `channel is closing cooperatively at state ${this.coopClose.n}`);
  }

  /**
   * Signs the cooperative close of our enforceable state (SPEC 6.18) and
   * records it: refused (CHANNEL_INVARIANT) while a state is pending, PTLCs
   * are in flight or an update is on chain, or when `n` is not our
   * enforceable state. Idempotent for the same state.
   */
  signCoopClose(n: number, sk: Uint8Array): Uint8Array {
    invariant(this.closing === undefined, 'an update is on chain: the channel closes unilaterally');
    invariant(this.pending === undefined, `state ${this.pending?.state.n} is being negotiated`);
    invariant(this.enforceable.state.n === n, `the close names state ${n}, our latest is ${this.enforceable.state.n}`);
    invariant(this.coopClose === undefined || this.coopClose.n === n, `a close of state ${this.coopClose?.n} is under way`);
    this.stateSecret(sk); // refuses a key that is not ours here
    const sig = signClose(this.params, this.enforceable.state, sk);
    this.#touch();
    const sigs: [Uint8Array | null, Uint8Array | null] = this.#coopClose ? [...this.#coopClose.sigs] : [null, null];
    sigs[this.me] = sig;
    this.#coopClose = { n, sigs };
    return sig;
  }

  /** Verifies and records the peer's close signature for state `n` (INVALID_SIGNATURE, CHANNEL_INVARIANT). */
  receiveCoopCloseSig(n: number, sig: Uint8Array): void {
    invariant(this.enforceable.state.n === n, `the close names state ${n}, our latest is ${this.enforceable.state.n}`);
    invariant(this.coopClose === undefined || this.coopClose.n === n, `a close of state ${this.coopClose?.n} is under way`);
    if (!verifyCloseSig(this.params, this.enforceable.state, this.peer, sig))
      fail(ErrorCode.INVALID_SIGNATURE, `peer's close signature for state ${n} does not verify`);
    this.#touch();
    const sigs: [Uint8Array | null, Uint8Array | null] = this.#coopClose ? [...this.#coopClose.sigs] : [null, null];
    sigs[this.peer] = sig;
    this.#coopClose = { n, sigs };
  }

  /** The fully signed cooperative close, once both signatures are held. */
  coopCloseTx(): BitcoinTx | undefined {
    const c = this.coopClose;
    if (c === undefined || c.sigs[0] === null || c.sigs[1] === null || c.n !== this.enforceable.state.n) return undefined;
    return buildCloseTx(this.params, this.enforceable.state, [c.sigs[0], c.sigs[1]]);
  }

  /**
   * Starts negotiating `next`. Its number must exceed every number this party
   * ever proposed, accepted or signed (the high-water mark); a pending state
   * is overwritten (this is how a payment is cancelled).
   */
  propose(next: ChannelState): StateRecord {
    invariant(this.coopClose === undefined, 'a cooperative close is under way: no new state');
    invariant(next.n > this.highN, `state ${next.n} does not supersede ${this.highN}: state numbers are never reused`);
    checkTransition(this.params, this.enforceable.state, next);
    this.#touch();
    this.#overwritten = this.#pending;
    this.#pending = emptyRecord(next);
    this.#highN = next.n;
    return this.#pending;
  }

  /**
   * Takes up the peer's proposal of `next` together with the peer's
   * settlement signature and committed update nonce, all or nothing: if a
   * signature does not verify, the pending state this proposal overwrote is
   * restored (a forged proposal never displaces a genuine pending state).
   * `extraCheck` runs on the new pending record before it is kept.
   */
  acceptProposal(next: ChannelState, settleSig: Uint8Array, updateNonce: Uint8Array, extraCheck?: () => void): StateRecord {
    const before = { pending: this.pending, overwritten: this.overwritten };
    const rec = this.propose(next);
    try {
      this.receiveSettlementSig(settleSig);
      this.receiveUpdateNonce(updateNonce);
      extraCheck?.();
    } catch (e) {
      this.#touch();
      this.#pending = before.pending;
      this.#overwritten = before.overwritten;
      throw e;
    }
    return rec;
  }

  /**
   * Abandons the pending overwrite and resumes negotiating the state it
   * overwrote (state `n`). The abandoned number stays used (see {@link Channel.highN}).
   */
  restoreOverwritten(n: number): void {
    invariant(this.overwritten !== undefined && this.overwritten.state.n === n, `no overwritten state ${n} to restore`);
    this.#touch();
    this.#pending = this.#overwritten;
    this.#overwritten = undefined;
  }

  /**
   * Drops the pending state (the peer refused it, or we refused the peer's),
   * resuming the overwritten one if there is one. Its number is never used
   * again: the next proposal takes a greater one.
   */
  abandonPending(): void {
    this.#touch();
    this.#pending = this.#overwritten;
    this.#overwritten = undefined;
  }

  /** The pending record, or a CHANNEL_INVARIANT error naming what was expected. */
  requirePending(n?: number): StateRecord {
    const p = this.pending;
    invariant(p !== undefined, 'no pending state');
    invariant(n === undefined || p.state.n === n, `pending state is ${p.state.n}, not ${n}`);
    return p;
  }

  /** Asserts that the peer proposed exactly the state we computed ourselves. */
  expectPending(state: ChannelState): void {
    const p = this.requirePending(state.n);
    invariant(sameState(p.state, state), `peer's state ${state.n} differs from ours`);
  }

  /** BIP118 sighash of the pending update (ANYPREVOUTANYSCRIPT|SINGLE). */
  updateSighash(rec: StateRecord = this.requirePending()): Uint8Array {
    return updateSighash(this.params, rec.state);
  }

  /** Signs the pending settlement with our key and records the signature. */
  signSettlement(sk: Uint8Array): Uint8Array {
    const p = this.requirePending();
    this.stateSecret(sk); // refuses a key that is not ours here
    const sig = signSettlement(this.params, p.state, sk);
    this.#touch();
    p.settleSigs[this.me] = sig;
    return sig;
  }

  /** Verifies and records the peer's settlement signature. */
  receiveSettlementSig(sig: Uint8Array): void {
    const p = this.requirePending();
    const ok = verifyChannelSig(settlementSighash(this.params, p.state), sig, SETTLEMENT_HASH_TYPE, this.stateKey(this.peer));
    if (!ok) fail(ErrorCode.INVALID_SIGNATURE, `peer's settlement signature for state ${p.state.n} does not verify`);
    this.#touch();
    p.settleSigs[this.peer] = sig;
  }

  /**
   * Commits our update nonce for the pending state, bound to its update
   * sighash (idempotent per state), and returns its R.
   */
  async commitUpdateNonce(store: NonceStore, sk: Uint8Array, rand?: Uint8Array): Promise<Uint8Array> {
    const p = this.requirePending();
    const existing = p.updateNonces[this.me];
    if (existing) return existing;
    const r = rand ?? randomBytes(32);
    const id = nonceId(this.params.channelId, p.state.n, this.me, bytesToHex(sha256(r)).slice(0, 16));
    const c = await commitNonce(store, this.stateSecret(sk), this.updateSighash(p), { id, rand: r });
    this.#touch();
    p.updateNonces[this.me] = c.R;
    p.myNonceId = id;
    return c.R;
  }

  /** Records the peer's committed update nonce R (x-only) for the pending state. */
  receiveUpdateNonce(R: Uint8Array): void {
    const p = this.requirePending();
    const prev = p.updateNonces[this.peer];
    invariant(prev === null || equalBytes(prev, R), 'peer changed its committed update nonce');
    this.#touch();
    p.updateNonces[this.peer] = R;
  }

  /**
   * The point `T = s·G` of `party`'s future update signature for the pending
   * state, from its committed nonce: the payment point of an offer.
   */
  updatePoint(party: Party): Uint8Array {
    const p = this.requirePending();
    const R = p.updateNonces[party];
    invariant(R !== null, `no committed update nonce of party ${party}`);
    return signaturePoint(R, this.stateKey(party), this.updateSighash(p));
  }

  /**
   * Signs the pending update with our committed nonce (bound to this
   * update: signing it again gives the same signature) and returns the
   * 65-byte witness signature. Refused until both settlement
   * signatures are held. Does not record it as sent: callers decide whether it
   * goes to the peer or (in an offer) to the payee.
   */
  async signUpdate(store: NonceStore, sk: Uint8Array): Promise<Uint8Array> {
    const p = this.requirePending();
    invariant(p.settleSigs[0] !== null && p.settleSigs[1] !== null, 'both settlement signatures must be held before signing the update');
    invariant(p.updateNonces[this.me] !== null && p.myNonceId !== undefined, 'commit an update nonce first');
    const sig64 = await signWithCommittedNonce(store, p.myNonceId, this.stateSecret(sk), this.updateSighash(p));
    const sig = encodeWitnessSignature(sig64, CHANNEL_UPDATE_HASH_TYPE, 1);
    this.#touch();
    p.updateSigs[this.me] = sig;
    this.promoteIfComplete(); // the peer's update signature may have arrived first
    return sig;
  }

  /**
   * Pre-signs the pending update with our state key, encrypted to the
   * adaptor point `T33` (SPEC 6.6, the payer's update in an offer): the
   * pre-signature's nonce `x(R')` becomes our committed update nonce, so the
   * signature completed with the discrete log of `T33` is the one
   * {@link Channel.receiveUpdateSig} accepts. The nonce is derived from our
   * key, the sighash, `T33` and fresh randomness (libsecp256k1-zkp's
   * construction), so it never signs two messages. Refused once a nonce is
   * committed for the pending state.
   */
  presignUpdate(sk: Uint8Array, T33: Uint8Array): Uint8Array {
    const p = this.requirePending();
    invariant(p.updateNonces[this.me] === null, 'an update nonce is already committed for this state');
    const presig = adaptorPresign(this.stateSecret(sk), this.updateSighash(p), T33);
    this.#touch();
    p.updateNonces[this.me] = presig.slice(1, 33);
    return presig;
  }

  /**
   * Verifies `party`'s pre-signature of the pending update, encrypted to
   * `T33` (INVALID_ADAPTOR_SIGNATURE when it does not verify). Its nonce
   * `x(R')` is that party's committed update nonce: the caller records it
   * ({@link Channel.acceptProposal}).
   */
  verifyUpdatePresig(presig: Uint8Array, T33: Uint8Array, party: Party = this.peer): void {
    const p = this.requirePending();
    if (!adaptorVerify(presig, this.updateSighash(p), this.stateKey(party), T33))
      fail(ErrorCode.INVALID_ADAPTOR_SIGNATURE, `update pre-signature of party ${party} for state ${p.state.n} does not verify`);
  }

  /**
   * Verifies an update signature of `party` (the peer's, or in an offer our own
   * that came back through the payee) against the sighash and its committed
   * nonce, records it, and promotes the pending state to enforceable when all
   * four signatures are held.
   */
  receiveUpdateSig(sig: Uint8Array, party: Party = this.peer): boolean {
    const p = this.requirePending();
    const R = p.updateNonces[party];
    invariant(R !== null, `no committed update nonce of party ${party}`);
    invariant(sig.length === 65 && equalBytes(sig.subarray(0, 32), R), 'update signature does not use the committed nonce');
    if (!verifyChannelSig(this.updateSighash(p), sig, CHANNEL_UPDATE_HASH_TYPE, this.stateKey(party)))
      fail(ErrorCode.INVALID_SIGNATURE, `update signature of party ${party} for state ${p.state.n} does not verify`);
    this.#touch();
    p.updateSigs[party] = sig;
    return this.promoteIfComplete();
  }

  private promoteIfComplete(): boolean {
    const p = this.pending;
    if (!p || p.settleSigs.includes(null) || p.updateSigs.includes(null)) return false;
    this.#touch();
    this.#enforceable = p;
    this.#pending = undefined;
    this.#overwritten = undefined;
    return true;
  }

  /**
   * Fills in the funding outpoint of a channel whose state 0 was signed
   * before its funding transaction existed (SPEC 6.17); refuses to change one already set.
   */
  setFundingOutpoint(txid: Uint8Array, vout: number): void {
    this.#touch();
    setFundingOutpoint(this.params, txid, vout);
  }

  /** Puts the channel back in the state of `j` (same channel: only the funding outpoint, which an open fills in, may differ). */
  restore(j: ChannelJson): void {
    const c = Channel.fromJSON(j);
    this.#touch();
    this.params.funding = c.params.funding;
    this.#enforceable = c.enforceable;
    this.#pending = c.pending;
    this.#overwritten = c.overwritten;
    // Exactly the snapshot's mark: a step that failed on a local fault is replayed later with
    // the same numbers. (A refusal raises the mark after the rollback: Channel.noteSeen.)
    this.#highN = c.highN;
    this.#seenN = c.seenN;
    this.#closing = c.closing;
    this.#coopClose = c.coopClose;
  }

  /** JSON-safe snapshot for persistence (hex bytes). */
  toJSON(): ChannelJson {
    return {
      params: paramsToJson(this.params),
      me: this.me,
      enforceable: recordToJson(this.enforceable),
      ...(this.pending ? { pending: recordToJson(this.pending) } : {}),
      ...(this.overwritten ? { overwritten: recordToJson(this.overwritten) } : {}),
      highN: this.highN,
      ...(this.seenN >= 0 ? { seenN: this.seenN } : {}),
      ...(this.closing ? { closing: { height: this.closing.height } } : {}),
      ...(this.coopClose
        ? {
            coopClose: {
              n: this.coopClose.n,
              sigs: this.coopClose.sigs.map((x) => (x ? bytesToHex(x) : null)) as [string | null, string | null],
            },
          }
        : {}),
    };
  }

  /** A reference to this channel in a role's persisted state (its id, see {@link ChannelRef}). */
  ref(): ChannelRef {
    return { $channel: bytesToHex(this.params.channelId) };
  }

  /**
   * The channel a role's persisted state names with `stored`. An inline
   * channel is restored into `existing` when given, else built. A reference
   * is `existing` (a rollback: the journal already put it back) or what
   * `resolve` finds for its id; a reference that resolves to nothing means
   * the store lost a channel record (STORE_UNAVAILABLE).
   */
  static fromStored(stored: StoredChannel, existing?: Channel, resolve?: (id: string) => Channel | undefined): Channel {
    if (!isChannelRef(stored)) {
      if (!existing) return Channel.fromJSON(stored);
      existing.restore(stored);
      return existing;
    }
    const c = existing ?? resolve?.(stored.$channel);
    if (!c) fail(ErrorCode.STORE_UNAVAILABLE, `channel ${stored.$channel}: its record is missing from the store`);
    return c;
  }

  /** Restores a channel from {@link Channel.toJSON}. */
  static fromJSON(j: ChannelJson): Channel {
    const params = paramsFromJson(j.params);
    const opt = (r?: StateRecordJson) => (r ? recordFromJson(r) : undefined);
    return new Channel(params, j.me, recordFromJson(j.enforceable), opt(j.pending), opt(j.overwritten), {
      ...(j.highN !== undefined ? { highN: j.highN } : {}),
      ...(j.seenN !== undefined ? { seenN: j.seenN } : {}),
      ...(j.closing ? { closing: j.closing } : {}),
      ...(j.coopClose
        ? {
            coopClose: {
              n: j.coopClose.n,
              sigs: j.coopClose.sigs.map((x) => (x === null ? null : hexToBytes(x, 65))) as [Uint8Array | null, Uint8Array | null],
            },
          }
        : {}),
    });
  }
}
