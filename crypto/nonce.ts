/**
 * Committed BIP340 nonces. A party publishes the nonce point R of a future
 * update signature before that signature is made (the hub prices the payment
 * point T = R + e·P from it), and later signs with it.
 *
 * Signing two different messages with one nonce k reveals the key
 * (d = (s1 - s2)/(e1 - e2)). The rule that prevents it is **message binding**:
 * the message is already known when the nonce is committed (an update
 * signature's sighash is fixed by the channel and the state number), so the
 * committed record binds it, and {@link signWithCommittedNonce} refuses any
 * other message with NONCE_REUSE. Signing the *same* message again is
 * idempotent: it yields the same signature. After the first signature the
 * store replaces the secret k by the signature itself (the record is
 * "spent"), so k does not outlive its use.
 *
 * Why not "burn k before signing": a burn is a write of its own, apart from
 * the caller's write of its state and outbox. A crash or a full disk between
 * the two left a burned nonce and an unsaved state; the redelivered message
 * then met NONCE_REUSE and the state could never be signed (a stuck payment,
 * and funds only recoverable on chain). With message binding, a step that
 * rolled back can simply be replayed: it produces the same signature.
 *
 * Nonce derivation (hedged, in the spirit of BIP340's aux_rand):
 *   k = int(hash_LnMailbox/nonce(rand ‖ sk ‖ P.x ‖ id ‖ H(msg))) mod n
 * with 32 bytes of fresh randomness `rand`. Mixing in sk keeps k secret even
 * if the RNG is weak; mixing in the message means that even a repeated
 * `rand` and id (a restored backup, a broken RNG) never give one k for two
 * messages. The default id is derived from `rand`, P and the message.
 *
 * Records store k in even form (k·G has even y, so k is negated when the
 * drawn nonce's point has odd y) next to R.x, with a check value keyed by
 * the secret key over k, P.x, R.x and the bound message: signing takes R
 * from the record and needs no k·G. Records written before this form (k as
 * drawn, no check value) still load and sign as before (one k·G, which also
 * pins k to R).
 * @module
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { abytes, bytesToHex, concatBytes, equalBytes, utf8 } from '../base/bytes.js';
import { ErrorCode, fail } from '../base/errors.js';
import { _signWithEvenNonce, _signWithNonce, basePoint, getPublicKey, parseSecretKey, verify } from './bip340.js';

const { Point: Pt } = secp256k1;
const Fn = Pt.Fn;
/**
 * Record kind byte of a committed (unused) nonce in its first form, still
 * read (records already stored keep working) but no longer written:
 * kind ‖ k(32) ‖ P.x(32) ‖ R.x(32) ‖ H(msg)(32), k as drawn (R = ±k·G).
 */
const COMMITTED = 0x02;
/** Record kind byte of a spent nonce: kind ‖ P.x(32) ‖ H(msg)(32) ‖ signature(64). */
const SPENT = 0x03;
/**
 * Record kind byte of a ticket: a nonce committed before its message is
 * known (a receipt nonce, SPEC 6.16), in its first form (still read, no
 * longer written): kind ‖ k(32) ‖ P.x(32) ‖ R.x(32) ‖ 32 zero bytes.
 * Binding replaces it by a committed record (first form) for one message.
 */
const TICKET = 0x04;
/**
 * Record kind byte of a committed (unused) nonce in even form:
 * kind ‖ k(32) ‖ P.x(32) ‖ R.x(32) ‖ H(msg)(32) ‖ check(32), where k·G = lift_x(R.x)
 * and check = hash_LnMailbox/nonce-check(sk ‖ k ‖ P.x ‖ R.x ‖ H(msg)).
 */
const COMMITTED_EVEN = 0x05;
/**
 * Record kind byte of a ticket in even form: kind ‖ k(32) ‖ P.x(32) ‖ R.x(32) ‖ 32 zero bytes ‖ check(32)
 * (check over the zero message hash). Binding replaces it by a {@link COMMITTED_EVEN} record.
 */
const TICKET_EVEN = 0x06;
/** Length of the first-form records ({@link COMMITTED}, {@link TICKET}) and of spent records. */
const NONCE_RECORD_LENGTH = 129;
/** Length of the even-form records ({@link COMMITTED_EVEN}, {@link TICKET_EVEN}). */
const EVEN_RECORD_LENGTH = 161;

/** The kind byte of a stored record, after checking that it is a known kind of the length of that kind. */
function recordKind(record: Uint8Array): number {
  const kind = record[0];
  if (kind === undefined) fail(ErrorCode.INVALID_LENGTH, 'nonce record: empty');
  if (kind === COMMITTED_EVEN || kind === TICKET_EVEN) abytes(record, EVEN_RECORD_LENGTH, 'nonce record');
  else if (kind === COMMITTED || kind === TICKET || kind === SPENT) abytes(record, NONCE_RECORD_LENGTH, 'nonce record');
  else fail(ErrorCode.INVALID_RANGE, `nonce record: unknown kind ${kind}`);
  return kind;
}

/** The check value of an even-form record: keyed by the secret key, so a store cannot forge a (k, R) pair. */
const recordCheck = (sk: Uint8Array, k: Uint8Array, px: Uint8Array, R: Uint8Array, mh: Uint8Array) =>
  schnorr.utils.taggedHash('LnMailbox/nonce-check', sk, k, px, R, mh);

/**
 * Draws the nonce point of k (one k·G) and returns k in even form (negated
 * when k·G has odd y, so that k·G = lift_x(R.x)) with R.x.
 */
function evenNonce(k0: bigint): { k: Uint8Array; R: Uint8Array } {
  const P = basePoint(k0);
  return { k: numberToBytesBE(P.odd ? Fn.neg(k0) : k0, 32), R: P.x };
}

/** An even-form record of `kind` for the nonce `k` (even form) bound to message hash `mh`. */
function evenRecord(kind: number, sk: Uint8Array, k: Uint8Array, px: Uint8Array, R: Uint8Array, mh: Uint8Array): Uint8Array {
  return concatBytes(new Uint8Array([kind]), k, px, R, mh, recordCheck(sk, k, px, R, mh));
}

/** Refuses an even-form record whose check value does not match (corrupted or forged): it is never signed with. */
function checkEvenRecord(record: Uint8Array, sk: Uint8Array): void {
  const want = recordCheck(sk, record.subarray(1, 33), record.subarray(33, 65), record.subarray(65, 97), record.subarray(97, 129));
  if (!equalBytes(record.subarray(129, 161), want)) fail(ErrorCode.INVALID_SIGNATURE, 'nonce record: check value does not match');
}
/** Longest accepted nonce id, in characters (ids are store keys). */
export const MAX_NONCE_ID_LENGTH = 128;

/**
 * Persistent storage for committed nonces. A record, once put under an id,
 * is only ever replaced by its spent form; ids are never recycled. Run
 * `test/crypto/nonce-store-conformance.ts` against every implementation.
 *
 * Records hold secret nonce material until spent: never log them.
 */
export interface NonceStore {
  /**
   * Stores a record under a fresh id. Rejects with NONCE_REUSE when the id is
   * already stored (committed or spent): ids are never recycled.
   */
  put(id: string, record: Uint8Array): Promise<void>;
  /** The record stored under `id` (a copy), or undefined when there is none. */
  get(id: string): Promise<Uint8Array | undefined>;
  /**
   * Replaces the record under `id` by its next form: a committed record by its
   * spent form (the secret nonce is gone after this), a ticket by its bound
   * form ({@link bindTicketNonce}). Rejects with NONCE_UNKNOWN when the id was
   * never stored. Callers serialize their calls (one step at a time), so a
   * get-then-spend is not interleaved with another.
   */
  spend(id: string, spent: Uint8Array): Promise<void>;
}

/** Checks a nonce id: a non-empty string of at most {@link MAX_NONCE_ID_LENGTH} characters. */
export function assertNonceId(id: unknown): string {
  if (typeof id !== 'string') fail(ErrorCode.INVALID_TYPE, `nonce id: expected string, got ${typeof id}`);
  if (id.length === 0 || id.length > MAX_NONCE_ID_LENGTH)
    fail(ErrorCode.INVALID_LENGTH, `nonce id: expected 1..${MAX_NONCE_ID_LENGTH} characters, got ${id.length}`);
  return id;
}

/**
 * In-memory {@link NonceStore}. Loses everything on restart, so it suits
 * tests and short-lived processes; wallets persist nonces instead.
 */
export class MemoryNonceStore implements NonceStore {
  readonly #records = new Map<string, Uint8Array>();

  /** {@inheritDoc NonceStore.put} */
  async put(id: string, record: Uint8Array): Promise<void> {
    assertNonceId(id);
    abytes(record, undefined, 'nonce record');
    if (this.#records.has(id)) fail(ErrorCode.NONCE_REUSE, 'nonce id already used');
    this.#records.set(id, record.slice());
  }

  /** {@inheritDoc NonceStore.get} */
  async get(id: string): Promise<Uint8Array | undefined> {
    assertNonceId(id);
    return this.#records.get(id)?.slice();
  }

  /** {@inheritDoc NonceStore.spend} */
  async spend(id: string, spent: Uint8Array): Promise<void> {
    assertNonceId(id);
    abytes(spent, undefined, 'nonce record');
    if (!this.#records.has(id)) fail(ErrorCode.NONCE_UNKNOWN, 'nonce id unknown');
    this.#records.set(id, spent.slice());
  }
}

/** The public half of a committed nonce: what A sends to the hub. */
export interface CommittedNonce {
  /** Store key of the secret nonce; pass it to {@link signWithCommittedNonce}. */
  id: string;
  /** 32-byte x-only nonce point R (the signature's R.x, even-y convention). */
  R: Uint8Array;
}

/** Options of {@link commitNonce}. */
export interface CommitNonceOptions {
  /** 32 bytes of fresh randomness (default: `crypto.getRandomValues`). Fix it only in tests. */
  rand?: Uint8Array;
  /** Store id (default: derived from `rand`, the public key and the message). */
  id?: string;
}

const msgHash = (msg: Uint8Array) => schnorr.utils.taggedHash('LnMailbox/nonce-msg', msg);

/**
 * Draws a nonce for the one BIP340 signature by `sk` over `msg`, persists it
 * in `store` bound to `msg`, and returns its public commitment. The secret
 * nonce never leaves the store.
 */
export async function commitNonce(
  store: NonceStore,
  sk: Uint8Array,
  msg: Uint8Array,
  opts: CommitNonceOptions = {},
): Promise<CommittedNonce> {
  parseSecretKey(sk);
  abytes(msg, undefined, 'message');
  const rand = abytes(opts.rand ?? randomBytes(32), 32, 'rand');
  const px = getPublicKey(sk);
  const mh = msgHash(msg);
  const id = assertNonceId(opts.id ?? bytesToHex(schnorr.utils.taggedHash('LnMailbox/nonce-id', rand, px, mh).subarray(0, 16)));
  const k0 = Fn.create(bytesToNumberBE(schnorr.utils.taggedHash('LnMailbox/nonce', rand, sk, px, utf8(id), mh)));
  if (k0 === 0n) fail(ErrorCode.INVALID_SECRET_KEY, 'nonce is zero (negligible probability)');
  const { k, R } = evenNonce(k0);
  await store.put(id, evenRecord(COMMITTED_EVEN, sk, k, px, R, mh));
  return { id, R };
}

/**
 * Signs `msg` with `sk` and the committed nonce `id`. Only the message the
 * nonce was committed for can be signed: any other rejects with NONCE_REUSE
 * (an id never committed with NONCE_UNKNOWN). Signing that message again
 * returns the same signature, so a step that failed after signing can be
 * replayed. The returned 64-byte signature carries the committed R and verifies.
 */
export async function signWithCommittedNonce(store: NonceStore, id: string, sk: Uint8Array, msg: Uint8Array): Promise<Uint8Array> {
  assertNonceId(id);
  parseSecretKey(sk);
  abytes(msg, undefined, 'message');
  const px = getPublicKey(sk);
  const record = await store.get(id);
  if (record === undefined) fail(ErrorCode.NONCE_UNKNOWN, 'nonce id unknown');
  const kind = recordKind(record);
  const mh = msgHash(msg);
  if (kind === SPENT) {
    if (!equalBytes(record.subarray(1, 33), px)) fail(ErrorCode.INVALID_SECRET_KEY, 'nonce was committed for a different key');
    if (!equalBytes(record.subarray(33, 65), mh)) fail(ErrorCode.NONCE_REUSE, 'nonce already signed another message');
    const sig = record.slice(65, 129);
    if (!verify(sig, msg, px)) fail(ErrorCode.INVALID_SIGNATURE, 'stored signature does not verify');
    return sig;
  }
  if (kind !== COMMITTED && kind !== COMMITTED_EVEN) fail(ErrorCode.INVALID_RANGE, `nonce record: unknown kind ${kind}`);
  if (!equalBytes(record.subarray(33, 65), px)) fail(ErrorCode.INVALID_SECRET_KEY, 'nonce was committed for a different key');
  if (!equalBytes(record.subarray(97, 129), mh)) fail(ErrorCode.NONCE_REUSE, 'nonce is bound to another message');
  const k = bytesToNumberBE(record.subarray(1, 33));
  const R = record.subarray(65, 97);
  let sig: Uint8Array;
  if (kind === COMMITTED_EVEN) {
    // Even form: R is taken from the record, which the check value pins to k (no k·G).
    if (k === 0n || k >= Fn.ORDER) fail(ErrorCode.INVALID_SECRET_KEY, 'nonce record: nonce not in [1, n-1]');
    checkEvenRecord(record, sk);
    sig = _signWithEvenNonce(msg, sk, k, R);
  } else sig = _signWithNonce(msg, sk, k);
  // The hub priced the payment point from the committed R: a different R
  // (corrupted record) would make T = s·G differ from what it will pay for.
  // No verification of the result: _signWithNonce's arithmetic is pinned by the BIP340 vectors,
  // this check pins k to R, and the counterparty verifies the signature on receipt.
  if (!equalBytes(sig.subarray(0, 32), R)) fail(ErrorCode.INVALID_SIGNATURE, 'signature nonce differs from the committed R');
  await store.spend(id, concatBytes(new Uint8Array([SPENT]), px, mh, sig));
  return sig;
}

/** Nonce id of the ticket whose x-only nonce point is `R`: `tkt:<R hex>`. */
export function ticketNonceId(R: Uint8Array): string {
  return `tkt:${bytesToHex(abytes(R, 32, 'ticket'))}`;
}

/**
 * Draws a one-time nonce for a signature by `sk` whose message is not known
 * yet (a receipt ticket, SPEC 6.16), persists it as an unbound ticket under
 * {@link ticketNonceId} and returns its public commitment. The id is derived
 * from R: a nonce drawn twice (a broken random source) is refused by the
 * store (NONCE_REUSE) instead of being published twice.
 */
export async function commitTicketNonce(store: NonceStore, sk: Uint8Array, opts: { rand?: Uint8Array } = {}): Promise<CommittedNonce> {
  parseSecretKey(sk);
  const rand = abytes(opts.rand ?? randomBytes(32), 32, 'rand');
  const px = getPublicKey(sk);
  const k0 = Fn.create(bytesToNumberBE(schnorr.utils.taggedHash('LnMailbox/nonce', rand, sk, px, utf8('ticket'), new Uint8Array(32))));
  if (k0 === 0n) fail(ErrorCode.INVALID_SECRET_KEY, 'nonce is zero (negligible probability)');
  const { k, R } = evenNonce(k0);
  const id = ticketNonceId(R);
  await store.put(id, evenRecord(TICKET_EVEN, sk, k, px, R, new Uint8Array(32)));
  return { id, R };
}

/**
 * Binds the ticket `id` to `msg`, for good: the ticket record is replaced by a
 * committed record bound to `msg` (the same record {@link commitNonce}
 * writes), so {@link signWithCommittedNonce} will sign `msg` and nothing else
 * with it. This is the burn: it is one write, made before anything is signed
 * with the nonce. Binding the same message again changes nothing
 * (idempotent: a step rolled back after binding is replayed); binding another
 * message rejects with NONCE_REUSE, an unknown id with NONCE_UNKNOWN.
 */
export async function bindTicketNonce(store: NonceStore, id: string, sk: Uint8Array, msg: Uint8Array): Promise<void> {
  assertNonceId(id);
  parseSecretKey(sk);
  abytes(msg, undefined, 'message');
  const px = getPublicKey(sk);
  const record = await store.get(id);
  if (record === undefined) fail(ErrorCode.NONCE_UNKNOWN, 'no such ticket');
  const kind = recordKind(record);
  const mh = msgHash(msg);
  if (kind === COMMITTED || kind === COMMITTED_EVEN || kind === SPENT) {
    const bound = kind === SPENT ? record.subarray(33, 65) : record.subarray(97, 129);
    if (!equalBytes(bound, mh)) fail(ErrorCode.NONCE_REUSE, 'ticket already used for another message');
    return;
  }
  if (kind !== TICKET && kind !== TICKET_EVEN) fail(ErrorCode.INVALID_RANGE, `nonce record: unknown kind ${kind}`);
  if (!equalBytes(record.subarray(33, 65), px)) fail(ErrorCode.INVALID_SECRET_KEY, 'ticket was committed for a different key');
  if (kind === TICKET_EVEN) {
    checkEvenRecord(record, sk);
    await store.spend(id, evenRecord(COMMITTED_EVEN, sk, record.subarray(1, 33), px, record.subarray(65, 97), mh));
    return;
  }
  await store.spend(
    id,
    concatBytes(
      record.subarray(0, 1).map(() => COMMITTED),
      record.subarray(1, 97),
      mh,
    ),
  );
}

/**
 * True when `id` holds a ticket that is still unbound (issued, never burned):
 * one a payer may still use. False for a burned or spent ticket, and for an
 * id the store does not hold.
 */
export async function isFreeTicket(store: NonceStore, id: string): Promise<boolean> {
  assertNonceId(id);
  const record = await store.get(id);
  if (record === undefined) return false;
  return (
    (record.length === NONCE_RECORD_LENGTH && record[0] === TICKET) || (record.length === EVEN_RECORD_LENGTH && record[0] === TICKET_EVEN)
  );
}
