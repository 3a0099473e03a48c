/**
 * The symmetric primitives behind envelopes and BIP340 hashing: SHA-256,
 * BIP340 tagged hashes, HKDF-SHA256 (RFC 5869) and XChaCha20-Poly1305
 * (draft-irtf-cfrg-xchacha over RFC 8439), on one of two backends with
 * identical bytes out:
 *
 * - Node: OpenSSL through `node:crypto` (SHA-256, HMAC, IETF
 *   ChaCha20-Poly1305). XChaCha20's HChaCha20 subkey step, one ChaCha
 *   permutation, stays in JavaScript (noble's `hchacha`); OpenSSL then runs
 *   ChaCha20-Poly1305 under that subkey with the 12-byte nonce
 *   `0x00000000 ‖ nonce[16..24]`. Set the environment variable
 *   `LNMB_SYM=noble` to force the pure-JavaScript path.
 * - Everywhere else (browsers): noble's audited JavaScript.
 *
 * `node:crypto` is reached through `process.getBuiltinModule` (Node ≥ 20.16),
 * not through an import: no bundler follows it, so browser bundles neither
 * pull nor stub anything, and the pure floors import no Node built-in.
 * `test/crypto/symmetric.test.ts` checks both backends against each other
 * (random keys, nonces, AAD and lengths, tampered input) and against the
 * Wycheproof vectors.
 * @module
 */
import { hchacha, xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf as nobleHkdf } from '@noble/hashes/hkdf.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { abytes } from '../base/bytes.js';
import { ErrorCode, fail } from '../base/errors.js';

/** The subset of `node:crypto` this module calls (typed here so no Node types leak into the API). */
interface NodeCryptoLike {
  hash(algorithm: 'sha256', data: Uint8Array, outputEncoding: 'latin1'): string;
  createCipheriv(algorithm: 'chacha20-poly1305', key: Uint8Array, iv: Uint8Array, options: { authTagLength: 16 }): NodeCipherLike;
  createDecipheriv(algorithm: 'chacha20-poly1305', key: Uint8Array, iv: Uint8Array, options: { authTagLength: 16 }): NodeDecipherLike;
}
interface NodeCipherLike {
  setAAD(aad: Uint8Array): unknown;
  update(data: Uint8Array): Uint8Array;
  final(): Uint8Array;
  getAuthTag(): Uint8Array;
}
interface NodeDecipherLike {
  setAAD(aad: Uint8Array): unknown;
  setAuthTag(tag: Uint8Array): unknown;
  update(data: Uint8Array): Uint8Array;
  final(): Uint8Array;
}

interface ProcessLike {
  versions?: { node?: string };
  env?: Record<string, string | undefined>;
  getBuiltinModule?: (id: string) => unknown;
}

function load(): NodeCryptoLike | null {
  const proc = (globalThis as { process?: ProcessLike }).process;
  if (!proc?.versions?.node || proc.env?.LNMB_SYM === 'noble' || typeof proc.getBuiltinModule !== 'function') return null;
  try {
    const c = proc.getBuiltinModule('node:crypto') as Partial<NodeCryptoLike> | undefined;
    if (typeof c?.hash !== 'function' || typeof c.createCipheriv !== 'function') return null;
    // Builds without ChaCha20-Poly1305 (some FIPS OpenSSL configurations) keep noble.
    c.createCipheriv('chacha20-poly1305', new Uint8Array(32), new Uint8Array(12), { authTagLength: 16 });
    return c as NodeCryptoLike;
  } catch {
    return null;
  }
}

const loaded = load();
let node: NodeCryptoLike | null = loaded;

/** Which backend serves the symmetric primitives: `'node'` (node:crypto) or `'noble'`. */
export function symmetricBackend(): 'node' | 'noble' {
  return node ? 'node' : 'noble';
}

/**
 * INTERNAL (tests and benches): switches between node:crypto and noble.
 * Returns false when `'node'` is asked for but node:crypto is not available.
 */
export function _setSymmetricBackend(name: 'node' | 'noble'): boolean {
  if (name === 'noble') {
    node = null;
    return true;
  }
  node = loaded;
  return loaded !== null;
}

/**
 * SHA-256 on node:crypto, written as bytes into `out` at `offset` (a fresh
 * 32-byte array by default). The digest comes back as a latin1 string, one
 * char per byte: `crypto.hash` takes a slow path for `'buffer'` output and
 * would allocate an off-heap Buffer per call, which at these sizes costs
 * more than the hash.
 */
function nodeSha256(n: NodeCryptoLike, msg: Uint8Array, out = new Uint8Array(32), offset = 0): Uint8Array {
  const s = n.hash('sha256', msg, 'latin1');
  for (let i = 0; i < 32; i++) out[offset + i] = s.charCodeAt(i);
  return out;
}

// Scratch space for the hash inputs assembled on the Node path (JavaScript
// runs one call at a time, and none of these functions re-enters another while
// its scratch is in use): no allocation per call, and wiped after each use.
let scratch = new Uint8Array(2048);
const outerPad = new Uint8Array(64 + 32);

/** A view of `n` bytes of scratch space (grown, never shrunk). */
function scratchOf(n: number): Uint8Array {
  if (scratch.length < n) scratch = new Uint8Array(Math.max(n, 2 * scratch.length));
  return scratch.subarray(0, n);
}

/** SHA-256 of `msg`. */
export function sha256(msg: Uint8Array): Uint8Array {
  abytes(msg, undefined, 'message');
  return node ? nodeSha256(node, msg) : nobleSha256(msg);
}

const tagPrefixes = new Map<string, Uint8Array>();
const encoder = new TextEncoder();

/** `sha256(tag) ‖ sha256(tag)`, computed once per tag. */
function tagPrefix(tag: string): Uint8Array {
  let p = tagPrefixes.get(tag);
  if (!p) {
    const h = nobleSha256(encoder.encode(tag));
    p = new Uint8Array(64);
    p.set(h, 0);
    p.set(h, 32);
    if (tagPrefixes.size >= 256) tagPrefixes.clear(); // tags are constants; bound the map anyway
    tagPrefixes.set(tag, p);
  }
  return p;
}

/**
 * The BIP340 tagged hash `sha256(sha256(tag) ‖ sha256(tag) ‖ m₁ ‖ m₂ ‖ …)`.
 * @throws LnMailboxError INVALID_TYPE when `tag` is not a string or a part is not bytes
 */
export function taggedHash(tag: string, ...msgs: Uint8Array[]): Uint8Array {
  if (typeof tag !== 'string') fail(ErrorCode.INVALID_TYPE, 'tagged hash: tag must be a string');
  let len = 0;
  for (const m of msgs) len += abytes(m, undefined, 'tagged hash message').length;
  const prefix = tagPrefix(tag);
  if (node) {
    // One copy and one call into OpenSSL: cheaper than a streaming Hash object per call.
    const all = scratchOf(64 + len);
    all.set(prefix, 0);
    let pos = 64;
    for (const m of msgs) {
      all.set(m, pos);
      pos += m.length;
    }
    const out = nodeSha256(node, all);
    all.fill(0); // the parts may be secret (BIP340 nonce derivation)
    return out;
  }
  const h = nobleSha256.create().update(prefix);
  for (const m of msgs) h.update(m);
  return h.digest();
}

const HASH_LEN = 32;
const ONE = Uint8Array.of(1);

/**
 * HKDF-SHA256 (RFC 5869): extract with `salt`, expand with `info` to `length`
 * bytes (1..8160).
 * @throws LnMailboxError INVALID_RANGE for a length outside 1..8160, INVALID_TYPE for non-bytes
 */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  abytes(ikm, undefined, 'ikm');
  abytes(salt, undefined, 'salt');
  abytes(info, undefined, 'info');
  if (!Number.isSafeInteger(length) || length < 1 || length > 255 * HASH_LEN)
    fail(ErrorCode.INVALID_RANGE, `HKDF length: expected 1..${255 * HASH_LEN}, got ${length}`);
  if (!node) return nobleHkdf(nobleSha256, ikm, salt, info, length);
  const prk = hmacOnNode(node, salt, ikm);
  const out = new Uint8Array(length);
  let t: Uint8Array = new Uint8Array(0);
  for (let i = 0, pos = 0; pos < length; i++, pos += HASH_LEN) {
    t = hmacOnNode(node, prk, t, info, i === 0 ? ONE : Uint8Array.of(i + 1));
    out.set(length - pos >= HASH_LEN ? t : t.subarray(0, length - pos), pos);
  }
  prk.fill(0);
  t.fill(0);
  return out;
}

const BLOCK = 64;

/**
 * HMAC-SHA256 (RFC 2104) as two one-shot `crypto.hash` calls: much cheaper
 * per call than a `createHmac` object, which is what dominates at these sizes.
 * A key longer than a block is hashed first; an empty key is the all-zero key.
 */
function hmacOnNode(n: NodeCryptoLike, key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const k = key.length > BLOCK ? nodeSha256(n, key) : key;
  let len = 0;
  for (const p of parts) len += p.length;
  const inner = scratchOf(BLOCK + len);
  const outer = outerPad;
  for (let i = 0; i < BLOCK; i++) {
    const b = k[i] ?? 0;
    inner[i] = b ^ 0x36;
    outer[i] = b ^ 0x5c;
  }
  let pos = BLOCK;
  for (const p of parts) {
    inner.set(p, pos);
    pos += p.length;
  }
  nodeSha256(n, inner, outer, BLOCK);
  const mac = nodeSha256(n, outer);
  inner.fill(0);
  outer.fill(0);
  return mac;
}

/** XChaCha20-Poly1305 tag length. */
export const AEAD_TAG_LEN = 16;

// HChaCha20 inputs as native-endian 32-bit words (noble's `hchacha` contract),
// in scratch buffers that are wiped after each use.
const SIGMA = new Uint32Array(Uint8Array.from(encoder.encode('expand 32-byte k')).buffer);
const keyWords = new Uint32Array(8);
const keyBytes = new Uint8Array(keyWords.buffer);
const nonceWords = new Uint32Array(4);
const nonceBytes = new Uint8Array(nonceWords.buffer);
const subkeyWords = new Uint32Array(8);
const subkey = new Uint8Array(subkeyWords.buffer);
const iv = new Uint8Array(12);

/** Sets `subkey` = HChaCha20(key, nonce[0..16]) and `iv` = 0⁴ ‖ nonce[16..24]. */
function deriveSubkey(key: Uint8Array, nonce: Uint8Array): void {
  keyBytes.set(key);
  nonceBytes.set(nonce.subarray(0, 16));
  hchacha(SIGMA, keyWords, nonceWords, subkeyWords);
  keyBytes.fill(0);
  nonceBytes.fill(0);
  iv.set(nonce.subarray(16, 24), 4);
}

function checkAead(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array): void {
  abytes(key, 32, 'key');
  abytes(nonce, 24, 'nonce');
  abytes(aad, undefined, 'aad');
}

/**
 * XChaCha20-Poly1305 encryption: `ciphertext ‖ tag` (plaintext length + 16
 * bytes). When `out` is given (exactly that long), the result is written
 * there and `out` is returned.
 * @throws LnMailboxError INVALID_TYPE, INVALID_LENGTH
 */
export function xchachaSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out?: Uint8Array): Uint8Array {
  checkAead(key, nonce, aad);
  abytes(plaintext, undefined, 'plaintext');
  if (out !== undefined) abytes(out, plaintext.length + AEAD_TAG_LEN, 'output');
  if (!node) {
    const sealed = xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
    if (!out) return sealed;
    out.set(sealed);
    return out;
  }
  deriveSubkey(key, nonce);
  try {
    const c = node.createCipheriv('chacha20-poly1305', subkey, iv, { authTagLength: AEAD_TAG_LEN });
    c.setAAD(aad);
    const ct = c.update(plaintext);
    c.final();
    const dst = out ?? new Uint8Array(plaintext.length + AEAD_TAG_LEN);
    dst.set(ct, 0);
    dst.set(c.getAuthTag(), plaintext.length);
    return dst;
  } finally {
    subkey.fill(0);
  }
}

/**
 * XChaCha20-Poly1305 decryption of `ciphertext ‖ tag`. Returns the plaintext,
 * or null when authentication fails (any tampered bit, wrong key, nonce or
 * AAD, or input shorter than a tag); no unauthenticated byte is returned.
 * @throws LnMailboxError INVALID_TYPE, INVALID_LENGTH (malformed arguments only)
 */
export function xchachaOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null {
  checkAead(key, nonce, aad);
  abytes(sealed, undefined, 'ciphertext');
  if (sealed.length < AEAD_TAG_LEN) return null;
  if (!node) {
    try {
      return xchacha20poly1305(key, nonce, aad).decrypt(sealed);
    } catch {
      return null;
    }
  }
  const ctLen = sealed.length - AEAD_TAG_LEN;
  deriveSubkey(key, nonce);
  let pt: Uint8Array | undefined;
  try {
    const d = node.createDecipheriv('chacha20-poly1305', subkey, iv, { authTagLength: AEAD_TAG_LEN });
    d.setAAD(aad);
    d.setAuthTag(sealed.subarray(ctLen));
    pt = d.update(sealed.subarray(0, ctLen));
    d.final(); // throws when the tag does not verify
    return new Uint8Array(pt.buffer, pt.byteOffset, pt.length);
  } catch {
    pt?.fill(0);
    return null;
  } finally {
    subkey.fill(0);
  }
}
