/**
 * Committed BIP340 nonces (DESIGN.md §2, Mode 1 step 1): A publishes the
 * nonce point R of its update signature to the hub before the message is
 * known, and later signs exactly one message with it. Signing two messages
 * with one nonce k reveals the key (d = (s1 - s2)/(e1 - e2)), so the secret
 * nonce lives in a {@link NonceStore} whose `take` burns it atomically, and
 * {@link signWithCommittedNonce} burns it *before* signing: a crash after the
 * burn loses a nonce (harmless: commit a new one), never allows a second use.
 *
 * Nonce derivation (hedged, in the spirit of BIP340's aux_rand):
 *   k = int(hash_LnMailbox/nonce(rand ‖ sk ‖ P.x ‖ id)) mod n
 * with 32 bytes of fresh randomness `rand`. Randomness is required because
 * the message is not known at commit time (BIP340's deterministic derivation
 * binds k to the message; we cannot). Mixing in sk keeps k secret even if the
 * RNG is weak; mixing in the id, which the store refuses to accept twice,
 * means one store never holds two records with the same k, even if `rand`
 * repeats. The default id is itself derived from `rand` and P for the same reason.
 * @module
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { abytes, bytesToHex, concatBytes, equalBytes, utf8 } from '../../protocol/bytes.js';
import { ErrorCode, fail } from '../../protocol/errors.js';
import { _signWithNonce, getPublicKey, parseSecretKey, verify } from './bip340.js';

const { Point: Pt } = secp256k1;
const Fn = Pt.Fn;
/** Record layout version byte. */
const RECORD_V1 = 0x01;
/** version(1) ‖ k(32) ‖ P.x(32) ‖ R.x(32). */
const RECORD_LEN = 97;
/** Longest accepted nonce id, in characters (ids are store keys). */
export const MAX_NONCE_ID_LENGTH = 128;

/**
 * Persistent single-use storage for secret nonces. Implementations must make
 * `take` atomic: of any number of concurrent `take(id)` calls, exactly one
 * resolves with the record. Run `test/crypto/nonce-store-conformance.ts`
 * against every implementation.
 *
 * Records hold secret nonce material: never log them, and delete them on take.
 */
export interface NonceStore {
  /**
   * Stores a record under a fresh id. Rejects with NONCE_REUSE when the id is
   * already stored or was ever taken (ids are never recycled).
   */
  put(id: string, record: Uint8Array): Promise<void>;
  /**
   * Removes and returns the record, burning the id for good. Rejects with
   * NONCE_REUSE when the id was already taken, NONCE_UNKNOWN when it was never stored.
   */
  take(id: string): Promise<Uint8Array>;
}

/** Checks a nonce id: a non-empty string of at most {@link MAX_NONCE_ID_LENGTH} characters. */
export function assertNonceId(id: unknown): string {
  if (typeof id !== 'string') fail(ErrorCode.INVALID_TYPE, `nonce id: expected string, got ${typeof id}`);
  if (id.length === 0 || id.length > MAX_NONCE_ID_LENGTH)
    fail(ErrorCode.INVALID_LENGTH, `nonce id: expected 1..${MAX_NONCE_ID_LENGTH} characters, got ${id.length}`);
  return id;
}

/**
 * In-memory {@link NonceStore}: records in a Map, burned ids in a Set. Pure
 * and synchronous inside, hence atomic. Loses everything on restart, so it
 * suits tests and short-lived processes; wallets persist nonces instead.
 */
export class MemoryNonceStore implements NonceStore {
  readonly #records = new Map<string, Uint8Array>();
  readonly #burned = new Set<string>();

  /** {@inheritDoc NonceStore.put} */
  async put(id: string, record: Uint8Array): Promise<void> {
    assertNonceId(id);
    abytes(record, undefined, 'nonce record');
    if (this.#records.has(id) || this.#burned.has(id)) fail(ErrorCode.NONCE_REUSE, 'nonce id already used');
    this.#records.set(id, record.slice());
  }

  /** {@inheritDoc NonceStore.take} */
  async take(id: string): Promise<Uint8Array> {
    assertNonceId(id);
    if (this.#burned.has(id)) fail(ErrorCode.NONCE_REUSE, 'nonce already used');
    const record = this.#records.get(id);
    if (record === undefined) fail(ErrorCode.NONCE_UNKNOWN, 'nonce id unknown');
    this.#records.delete(id);
    this.#burned.add(id);
    return record;
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
  /** Store id (default: derived from `rand` and the public key). */
  id?: string;
}

/**
 * Draws a nonce for one future BIP340 signature by `sk`, persists it in
 * `store`, and returns its public commitment. The secret nonce never leaves the store.
 */
export async function commitNonce(store: NonceStore, sk: Uint8Array, opts: CommitNonceOptions = {}): Promise<CommittedNonce> {
  parseSecretKey(sk);
  const rand = abytes(opts.rand ?? randomBytes(32), 32, 'rand');
  const px = getPublicKey(sk);
  const id = assertNonceId(opts.id ?? bytesToHex(schnorr.utils.taggedHash('LnMailbox/nonce-id', rand, px).subarray(0, 16)));
  const k = Fn.create(bytesToNumberBE(schnorr.utils.taggedHash('LnMailbox/nonce', rand, sk, px, utf8(id))));
  if (k === 0n) fail(ErrorCode.INVALID_SECRET_KEY, 'nonce is zero (negligible probability)');
  const R = numberToBytesBE(Pt.BASE.multiply(k).toAffine().x, 32);
  await store.put(id, concatBytes(new Uint8Array([RECORD_V1]), numberToBytesBE(k, 32), px, R));
  return { id, R };
}

/**
 * Signs `msg` with `sk` and the committed nonce `id`, which is burned first:
 * a second call with the same id rejects with NONCE_REUSE (whatever the
 * message), an id never committed with NONCE_UNKNOWN. The returned 64-byte
 * signature is checked to carry the committed R and to verify.
 */
export async function signWithCommittedNonce(store: NonceStore, id: string, sk: Uint8Array, msg: Uint8Array): Promise<Uint8Array> {
  // Validate everything we can before burning, so a caller's typo costs no nonce.
  assertNonceId(id);
  parseSecretKey(sk);
  abytes(msg, undefined, 'message');
  const px = getPublicKey(sk);
  const record = abytes(await store.take(id), RECORD_LEN, 'nonce record');
  if (record[0] !== RECORD_V1) fail(ErrorCode.INVALID_RANGE, `nonce record: unknown version ${record[0]}`);
  const k = bytesToNumberBE(record.subarray(1, 33));
  const R = record.subarray(65, 97);
  if (!equalBytes(record.subarray(33, 65), px)) fail(ErrorCode.INVALID_SECRET_KEY, 'nonce was committed for a different key');
  const sig = _signWithNonce(msg, sk, k);
  // The hub priced the payment point from the committed R: a different R
  // (corrupted record) would make T = s·G differ from what it will pay for.
  if (!equalBytes(sig.subarray(0, 32), R)) fail(ErrorCode.INVALID_SIGNATURE, 'signature nonce differs from the committed R');
  if (!verify(sig, msg, px)) fail(ErrorCode.INVALID_SIGNATURE, 'produced signature does not verify');
  return sig;
}
