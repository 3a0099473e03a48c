/**
 * The two-party eltoo channel state machine, from one party's point of view
 * (issue "Bitcoin layer", item 4; DESIGN.md §2 and §5).
 *
 * A state goes through: proposed → both settlement signatures → update
 * nonces committed → both update signatures (enforceable). The rules that
 * keep funds safe are enforced here, not left to callers:
 * - a party never releases its update signature for state n before it holds
 *   both settlement signatures for n (else the update could be published with
 *   no settlement to spend it, and the funds would be stuck);
 * - every update signature uses a fresh committed nonce for that state and
 *   attempt (`nonceId(channel, n, party, tag)`), burned by the nonce store, so a
 *   nonce never signs two messages, across states, messages or re-proposals of
 *   the same state number;
 * - every signature from the peer is verified against the real BIP118
 *   sighash before it is stored;
 * - state numbers only go up; a pending state may be overwritten by a
 *   greater one (cancellation), never by a smaller or equal one.
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { bytesToHex, equalBytes, hexToBytes } from '../../protocol/bytes.js';
import { ErrorCode, fail } from '../../protocol/errors.js';
import { commitNonce, signWithCommittedNonce, type NonceStore } from '../crypto/nonce.js';
import { signaturePoint } from '../crypto/bip340.js';
import { checkTransition, sameState, validateParams, type ChannelParams, type ChannelState, type Party } from './state.js';
import { signSettlement, settlementSighash, updateSighash, verifyChannelSig, UPDATE_HASH_TYPE, SETTLEMENT_HASH_TYPE } from './txs.js';

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
 * The nonce-store id of `party`'s update nonce for state `n` of a channel,
 * for one negotiation attempt (`tag`: 16 hex chars drawn with the nonce). A
 * state number can be proposed again after a refused overwrite or a failed
 * PTLC; the tag gives that attempt a fresh nonce instead of a burned one.
 */
export function nonceId(channelId: Uint8Array, n: number, party: Party, tag: string): string {
  return `upd:${bytesToHex(channelId)}:${n}:${party}:${tag}`;
}

function emptyRecord(state: ChannelState): StateRecord {
  return { state, settleSigs: [null, null], updateNonces: [null, null], updateSigs: [null, null] };
}

function invariant(ok: boolean, msg: string): asserts ok {
  if (!ok) fail(ErrorCode.CHANNEL_INVARIANT, msg);
}

/** One party's view of a channel: its latest enforceable state and at most one pending state. */
export class Channel {
  /** Fixed channel parameters. */
  readonly params: ChannelParams;
  /** Which party we are. */
  readonly me: Party;
  /** The latest state with all four signatures. */
  enforceable: StateRecord;
  /** A state being negotiated, if any. */
  pending: StateRecord | undefined;
  /**
   * The pending state that the current pending one overwrote, kept until the
   * overwrite completes: if the peer refuses the overwrite (a cancellation
   * the hub can no longer accept), the original negotiation resumes.
   */
  overwritten: StateRecord | undefined;

  constructor(params: ChannelParams, me: Party, enforceable: StateRecord, pending?: StateRecord, overwritten?: StateRecord) {
    this.params = validateParams(params);
    if (me !== 0 && me !== 1) fail(ErrorCode.INVALID_RANGE, 'me must be 0 or 1');
    this.me = me;
    this.enforceable = enforceable;
    this.pending = pending;
    this.overwritten = overwritten;
  }

  /** The other party. */
  get peer(): Party {
    return (1 - this.me) as Party;
  }

  /** The highest state number this channel has seen (pending or enforceable). */
  get topN(): number {
    return Math.max(this.enforceable.state.n, this.pending?.state.n ?? -1);
  }

  /**
   * Starts negotiating `next`. Its number must exceed every state seen so far;
   * a pending state is overwritten (this is how a payment is cancelled).
   */
  propose(next: ChannelState): StateRecord {
    invariant(next.n > this.topN, `state ${next.n} does not supersede ${this.topN}`);
    checkTransition(this.params, this.enforceable.state, next);
    this.overwritten = this.pending;
    this.pending = emptyRecord(next);
    return this.pending;
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
      this.pending = before.pending;
      this.overwritten = before.overwritten;
      throw e;
    }
    return rec;
  }

  /**
   * Abandons the pending overwrite and resumes negotiating the state it
   * overwrote (state `n`). Our nonce for the abandoned state stays burned or
   * unused; it is never used for anything else.
   */
  restoreOverwritten(n: number): void {
    invariant(this.overwritten !== undefined && this.overwritten.state.n === n, `no overwritten state ${n} to restore`);
    this.pending = this.overwritten;
    this.overwritten = undefined;
  }

  /**
   * Drops the pending state (the peer refused it, or we refused the peer's),
   * resuming the overwritten one if there is one. Its nonces are never reused:
   * a later proposal of the same number commits fresh ones.
   */
  abandonPending(): void {
    this.pending = this.overwritten;
    this.overwritten = undefined;
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

  /** BIP118 sighash of the pending update (ANYPREVOUTANYSCRIPT). */
  updateSighash(rec: StateRecord = this.requirePending()): Uint8Array {
    return updateSighash(this.params, rec.state);
  }

  /** Signs the pending settlement with our key and records the signature. */
  signSettlement(sk: Uint8Array): Uint8Array {
    const p = this.requirePending();
    const sig = signSettlement(this.params, p.state, sk);
    p.settleSigs[this.me] = sig;
    return sig;
  }

  /** Verifies and records the peer's settlement signature. */
  receiveSettlementSig(sig: Uint8Array): void {
    const p = this.requirePending();
    const ok = verifyChannelSig(settlementSighash(this.params, p.state), sig, SETTLEMENT_HASH_TYPE, this.params.keys[this.peer]);
    if (!ok) fail(ErrorCode.INVALID_SIGNATURE, `peer's settlement signature for state ${p.state.n} does not verify`);
    p.settleSigs[this.peer] = sig;
  }

  /** Commits our update nonce for the pending state (idempotent per state) and returns its R. */
  async commitUpdateNonce(store: NonceStore, sk: Uint8Array, rand?: Uint8Array): Promise<Uint8Array> {
    const p = this.requirePending();
    const existing = p.updateNonces[this.me];
    if (existing) return existing;
    const r = rand ?? randomBytes(32);
    const id = nonceId(this.params.channelId, p.state.n, this.me, bytesToHex(sha256(r)).slice(0, 16));
    const c = await commitNonce(store, sk, { id, rand: r });
    p.updateNonces[this.me] = c.R;
    p.myNonceId = id;
    return c.R;
  }

  /** Records the peer's committed update nonce R (x-only) for the pending state. */
  receiveUpdateNonce(R: Uint8Array): void {
    const p = this.requirePending();
    const prev = p.updateNonces[this.peer];
    invariant(prev === null || equalBytes(prev, R), 'peer changed its committed update nonce');
    p.updateNonces[this.peer] = R;
  }

  /**
   * The point `T = s·G` of `party`'s future update signature for the pending
   * state, from its committed nonce: the payment point of mode 1.
   */
  updatePoint(party: Party): Uint8Array {
    const p = this.requirePending();
    const R = p.updateNonces[party];
    invariant(R !== null, `no committed update nonce of party ${party}`);
    return signaturePoint(R, this.params.keys[party], this.updateSighash(p));
  }

  /**
   * Signs the pending update with our committed nonce (burned by the store)
   * and returns the 65-byte witness signature. Refused until both settlement
   * signatures are held. Does not record it as sent: callers decide whether it
   * goes to the peer or (mode 1) to the payee.
   */
  async signUpdate(store: NonceStore, sk: Uint8Array): Promise<Uint8Array> {
    const p = this.requirePending();
    invariant(p.settleSigs[0] !== null && p.settleSigs[1] !== null, 'both settlement signatures must be held before signing the update');
    invariant(p.updateNonces[this.me] !== null && p.myNonceId !== undefined, 'commit an update nonce first');
    const sig64 = await signWithCommittedNonce(store, p.myNonceId, sk, this.updateSighash(p));
    const sig = new Uint8Array(65);
    sig.set(sig64);
    sig[64] = UPDATE_HASH_TYPE;
    p.updateSigs[this.me] = sig;
    this.promoteIfComplete(); // the peer's update signature may have arrived first
    return sig;
  }

  /**
   * Verifies an update signature of `party` (the peer's, or in mode 1 our own
   * that came back through the payee) against the sighash and its committed
   * nonce, records it, and promotes the pending state to enforceable when all
   * four signatures are held.
   */
  receiveUpdateSig(sig: Uint8Array, party: Party = this.peer): boolean {
    const p = this.requirePending();
    const R = p.updateNonces[party];
    invariant(R !== null, `no committed update nonce of party ${party}`);
    invariant(sig.length === 65 && equalBytes(sig.subarray(0, 32), R), 'update signature does not use the committed nonce');
    if (!verifyChannelSig(this.updateSighash(p), sig, UPDATE_HASH_TYPE, this.params.keys[party]))
      fail(ErrorCode.INVALID_SIGNATURE, `update signature of party ${party} for state ${p.state.n} does not verify`);
    p.updateSigs[party] = sig;
    return this.promoteIfComplete();
  }

  private promoteIfComplete(): boolean {
    const p = this.pending;
    if (!p || p.settleSigs.includes(null) || p.updateSigs.includes(null)) return false;
    this.enforceable = p;
    this.pending = undefined;
    this.overwritten = undefined;
    return true;
  }

  /** Puts the channel back in the state of `j` (same channel: parameters are not touched). */
  restore(j: ChannelJson): void {
    const c = Channel.fromJSON(j);
    this.enforceable = c.enforceable;
    this.pending = c.pending;
    this.overwritten = c.overwritten;
  }

  /** JSON-safe snapshot for persistence (hex bytes). */
  toJSON(): ChannelJson {
    return {
      params: {
        channelId: bytesToHex(this.params.channelId),
        funding: { ...this.params.funding, txid: bytesToHex(this.params.funding.txid) },
        keys: [bytesToHex(this.params.keys[0]), bytesToHex(this.params.keys[1])],
        csvDelay: this.params.csvDelay,
        fees: { ...this.params.fees },
      },
      me: this.me,
      enforceable: recordToJson(this.enforceable),
      ...(this.pending ? { pending: recordToJson(this.pending) } : {}),
      ...(this.overwritten ? { overwritten: recordToJson(this.overwritten) } : {}),
    };
  }

  /** Restores a channel from {@link Channel.toJSON}. */
  static fromJSON(j: ChannelJson): Channel {
    const params: ChannelParams = {
      channelId: hexToBytes(j.params.channelId, 32),
      funding: { ...j.params.funding, txid: hexToBytes(j.params.funding.txid, 32) },
      keys: [hexToBytes(j.params.keys[0], 32), hexToBytes(j.params.keys[1], 32)],
      csvDelay: j.params.csvDelay,
      fees: { ...j.params.fees },
    };
    const opt = (r?: StateRecordJson) => (r ? recordFromJson(r) : undefined);
    return new Channel(params, j.me, recordFromJson(j.enforceable), opt(j.pending), opt(j.overwritten));
  }
}

/** Persisted form of a {@link Channel}. */
export interface ChannelJson {
  params: {
    channelId: string;
    funding: { txid: string; vout: number; amount: number };
    keys: [string, string];
    csvDelay: number;
    fees: { update: number; settlement: number; ptlc: number };
  };
  me: Party;
  enforceable: StateRecordJson;
  pending?: StateRecordJson;
  overwritten?: StateRecordJson;
}

/** Persisted form of a {@link StateRecord}. */
export interface StateRecordJson {
  state: { n: number; balances: [number, number]; ptlcs: { id: string; offerer: Party; amount: number; point: string; timeout: number }[] };
  myNonceId?: string;
  settleSigs: [string | null, string | null];
  updateNonces: [string | null, string | null];
  updateSigs: [string | null, string | null];
}

const h = (b: Uint8Array | null): string | null => (b ? bytesToHex(b) : null);
const b = (s: string | null): Uint8Array | null => (s === null ? null : hexToBytes(s));

function recordToJson(r: StateRecord): StateRecordJson {
  return {
    state: {
      n: r.state.n,
      balances: [r.state.balances[0], r.state.balances[1]],
      ptlcs: r.state.ptlcs.map((x) => ({ ...x, id: bytesToHex(x.id), point: bytesToHex(x.point) })),
    },
    ...(r.myNonceId ? { myNonceId: r.myNonceId } : {}),
    settleSigs: [h(r.settleSigs[0]), h(r.settleSigs[1])],
    updateNonces: [h(r.updateNonces[0]), h(r.updateNonces[1])],
    updateSigs: [h(r.updateSigs[0]), h(r.updateSigs[1])],
  };
}

function recordFromJson(j: StateRecordJson): StateRecord {
  return {
    state: {
      n: j.state.n,
      balances: [j.state.balances[0], j.state.balances[1]],
      ptlcs: j.state.ptlcs.map((x) => ({ ...x, id: hexToBytes(x.id, 32), point: hexToBytes(x.point, 33) })),
    },
    ...(j.myNonceId ? { myNonceId: j.myNonceId } : {}),
    settleSigs: [b(j.settleSigs[0]), b(j.settleSigs[1])],
    updateNonces: [b(j.updateNonces[0]), b(j.updateNonces[1])],
    updateSigs: [b(j.updateSigs[0]), b(j.updateSigs[1])],
  };
}
