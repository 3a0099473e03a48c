/**
 * Envelope v1 seal and open: ECDH on secp256k1 (SEC 1 §3.3.1, x coordinate
 * only), HKDF-SHA256 (RFC 5869) and XChaCha20-Poly1305
 * (draft-irtf-cfrg-xchacha, RFC 8439). Normative text: SPEC 3 (`spec/relay.md`).
 *
 * Cost, by design: `seal` is one ECDH, one HKDF, one AEAD encryption and one
 * BIP340 signature (plus the two fixed-base multiplications that yield the
 * ephemeral and sender public keys); `open` is one fixed-base multiplication
 * (our own x-only key, to check the header), one ECDH, one HKDF, one AEAD
 * decryption and one BIP340 verification. Nothing is computed twice. The
 * hashes, HKDF and AEAD come from `crypto/symmetric.ts` (node:crypto in
 * Node, noble elsewhere; the same bytes either way).
 * @module
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { abytes, concatBytes, equalBytes, utf8 } from '../base/bytes.js';
import { ErrorCode, fail } from '../base/errors.js';
import { ecdhXOnBinding, getPublicKey, parsePublicKey, parseSecretKey, randomSecretKey, type Point } from '../crypto/bip340.js';
import { hkdfSha256, xchachaOpen, xchachaSeal } from '../crypto/symmetric.js';
import {
  ENVELOPE_HEADER_LEN,
  ENVELOPE_MAX_LEN,
  ENVELOPE_MIN_LEN,
  ENVELOPE_TAG_LEN,
  ENVELOPE_VERSION,
  envelopeId,
  parseEnvelopeHeader,
} from './envelope.js';
import { INNER_MIN_LEN, assertInnerType, assertTimestamp, signInner, verifyInner } from './inner.js';
import { PADDED_MESSAGE_MAX_LEN, pad, unpad } from './padding.js';

/** HKDF salt of the envelope key (SPEC 1 and 3.2). */
export const ENVELOPE_KDF_SALT = 'ln-mailbox/v1';
/** XChaCha20 nonce length. */
export const ENVELOPE_NONCE_LEN = 24;
/** Largest body `seal` accepts: 65429 − 110 = 65319 bytes (the envelope is then exactly 64 KiB). */
export const ENVELOPE_MAX_BODY_LEN = PADDED_MESSAGE_MAX_LEN - INNER_MIN_LEN;

const SALT = utf8(ENVELOPE_KDF_SALT);

/** Inputs of {@link seal}. Only the first four are needed; the rest exist for test vectors. */
export interface SealOptions {
  /** Sender's static 32-byte secret key; its x-only public key goes inside, signed. */
  senderSecretKey: Uint8Array;
  /** Recipient mailbox id: 32-byte x-only public key. */
  recipient: Uint8Array;
  /** Inner message type, 1..65535 (SPEC 4.3). */
  type: number;
  /** Application payload, at most {@link ENVELOPE_MAX_BODY_LEN} bytes. */
  body: Uint8Array;
  /** Milliseconds since the Unix epoch; defaults to `Date.now()`. */
  timestamp?: number;
  /** One-time ephemeral secret key; defaults to a fresh random key. Never reuse one. */
  ephemeralSecretKey?: Uint8Array;
  /** 24-byte XChaCha20 nonce; defaults to fresh random bytes. */
  nonce?: Uint8Array;
  /** 32 bytes of BIP340 auxiliary randomness; defaults to fresh random bytes. */
  auxRand?: Uint8Array;
  /** The sender's x-only public key, if the caller caches it (saves one point multiplication). */
  senderPublicKey?: Uint8Array;
}

/** Options of {@link open}. */
export interface OpenOptions {
  /** Reject envelopes longer than this (default and upper bound: 65536). */
  maxLen?: number;
  /**
   * Our own x-only public key, if the caller caches it (saves one point
   * multiplication per envelope). A wrong one only makes `open` reject.
   */
  recipientPublicKey?: Uint8Array;
}

/** What {@link open} returns: the authenticated content of an envelope. */
export interface OpenedEnvelope {
  /** Envelope id, `sha256(envelope)`. */
  id: Uint8Array;
  /** Sender's static x-only public key, authenticated by its signature. */
  sender: Uint8Array;
  /** Inner message type. */
  type: number;
  /** Sender-claimed time of sealing, ms since the Unix epoch (not checked here). */
  timestamp: number;
  /** Application payload. */
  body: Uint8Array;
}

/** Validates a 32-byte secret key and returns its scalar. */
function secretScalar(sk: unknown, name: string): bigint {
  return parseSecretKey(sk as Uint8Array, name);
}

/** Parses a public key: x-only (BIP340 lift_x, even y) or SEC 1 compressed/uncompressed. */
function parsePoint(pk: Uint8Array, name: string): Point {
  if (pk.length === 32) return parsePublicKey(pk, name);
  if (pk.length !== 33 && pk.length !== 65) fail(ErrorCode.INVALID_LENGTH, `${name}: expected 32, 33 or 65 bytes, got ${pk.length}`);
  try {
    // fromBytes checks the prefix byte, that coordinates are field elements,
    // and that the point is on the curve: invalid-curve and twist points fail.
    const point = secp256k1.Point.fromBytes(pk);
    point.assertValidity();
    return point;
  } catch (e) {
    fail(ErrorCode.INVALID_PUBLIC_KEY, `${name}: not a valid secp256k1 point`, e);
  }
}

/**
 * ECDH: the 32-byte x coordinate of `secretKey · publicKey`.
 * `publicKey` may be x-only (32 bytes, lifted to even y as in BIP340) or SEC 1
 * (33 or 65 bytes). The result does not depend on the parity of either key,
 * because x(Q) = x(−Q): negating a secret key to make its point even-y, or
 * lifting an odd-y key to its even-y twin, only negates the product.
 * @throws LnMailboxError INVALID_SECRET_KEY, INVALID_PUBLIC_KEY, INVALID_LENGTH, INVALID_TYPE
 */
export function sharedSecretX(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  const d = secretScalar(secretKey, 'secretKey');
  return ecdhX(secretKey, d, abytes(publicKey, undefined, 'publicKey'), 'publicKey');
}

function ecdhX(sk: Uint8Array, d: bigint, pk: Uint8Array, name: string): Uint8Array {
  // libsecp256k1 when it is loaded and accepts the point; else noble, whose
  // parse names the fault. Constant-time multiplication either way: d is
  // secret. d ∈ [1, n−1] and the group has prime order, so the product is
  // never the point at infinity.
  return ecdhXOnBinding(sk, pk) ?? parsePoint(pk, name).multiply(d).toBytes(true).subarray(1);
}

/**
 * The envelope key: `HKDF-SHA256(ikm = sharedX, salt = "ln-mailbox/v1",
 * info = ephemeral ‖ recipient, L = 32)`. Binding both public keys in `info`
 * ties the key to this exact pair (SPEC 3.2).
 */
export function envelopeKey(sharedX: Uint8Array, ephemeral: Uint8Array, recipient: Uint8Array): Uint8Array {
  abytes(sharedX, 32, 'sharedX');
  abytes(ephemeral, 32, 'ephemeral');
  abytes(recipient, 32, 'recipient');
  return hkdfSha256(sharedX, SALT, concatBytes(ephemeral, recipient), 32);
}

/**
 * Seals `body` for `recipient`: signs the inner message with the sender's
 * static key, pads it, and encrypts it under a key agreed with a fresh
 * ephemeral key, with the 89-byte header as AAD.
 * @returns the envelope bytes (at most 65536)
 * @throws LnMailboxError INVALID_TYPE, INVALID_LENGTH, INVALID_RANGE, INVALID_SECRET_KEY,
 *   INVALID_PUBLIC_KEY, ENVELOPE_TOO_LARGE
 */
export function seal(opts: SealOptions): Uint8Array {
  if (typeof opts !== 'object' || opts === null) fail(ErrorCode.INVALID_TYPE, 'seal: expected an options object');
  secretScalar(opts.senderSecretKey, 'senderSecretKey');
  const recipient = abytes(opts.recipient, 32, 'recipient');
  const type = assertInnerType(opts.type);
  const body = abytes(opts.body, undefined, 'body');
  if (body.length > ENVELOPE_MAX_BODY_LEN)
    fail(ErrorCode.ENVELOPE_TOO_LARGE, `body is ${body.length} bytes, a v1 envelope holds at most ${ENVELOPE_MAX_BODY_LEN}`);
  const timestamp = assertTimestamp(opts.timestamp ?? Date.now());
  // The usual case draws its three random inputs in one call of the CSPRNG.
  const fresh = opts.ephemeralSecretKey || opts.nonce || opts.auxRand ? undefined : randomBytes(32 + ENVELOPE_NONCE_LEN + 32);
  let ephemeralSecretKey = opts.ephemeralSecretKey ?? fresh?.subarray(0, 32) ?? randomSecretKey();
  if (fresh && !isScalar(ephemeralSecretKey)) ephemeralSecretKey = randomSecretKey(); // probability < 2^-127
  const e = secretScalar(ephemeralSecretKey, 'ephemeralSecretKey');
  const nonce = abytes(opts.nonce ?? fresh?.subarray(32, 56) ?? randomBytes(ENVELOPE_NONCE_LEN), ENVELOPE_NONCE_LEN, 'nonce');
  const auxRand = abytes(opts.auxRand ?? fresh?.subarray(56, 88) ?? randomBytes(32), 32, 'auxRand');

  const ephemeral = getPublicKey(ephemeralSecretKey, { cache: false }); // one-time key: keep it out of the cache
  const sharedX = ecdhX(ephemeralSecretKey, e, recipient, 'recipient');
  const key = envelopeKey(sharedX, ephemeral, recipient);
  const inner = signInner({
    senderSecretKey: opts.senderSecretKey,
    recipient,
    type,
    timestamp,
    body,
    auxRand,
    ...(opts.senderPublicKey ? { senderPublicKey: opts.senderPublicKey } : {}),
  });
  const plaintext = pad(inner);
  // The envelope is built in place: header, then ciphertext ‖ tag written straight after it.
  const envelope = new Uint8Array(ENVELOPE_HEADER_LEN + plaintext.length + ENVELOPE_TAG_LEN);
  envelope[0] = ENVELOPE_VERSION;
  envelope.set(recipient, 1);
  envelope.set(ephemeral, 33);
  envelope.set(nonce, 65);
  xchachaSeal(key, nonce, envelope.subarray(0, ENVELOPE_HEADER_LEN), plaintext, envelope.subarray(ENVELOPE_HEADER_LEN));
  sharedX.fill(0);
  key.fill(0);
  plaintext.fill(0);
  inner.fill(0);
  fresh?.fill(0);
  return envelope;
}

/** True when `sk` is a valid secret key (in [1, n−1]). */
function isScalar(sk: Uint8Array): boolean {
  try {
    parseSecretKey(sk);
    return true;
  } catch {
    return false;
  }
}

/**
 * Opens an envelope addressed to `recipientSecretKey`'s mailbox. Checks, in
 * order: header (length, version), recipient, ephemeral key, AEAD tag,
 * padding, inner message, sender signature. Only authenticated content is returned.
 * @throws LnMailboxError ENVELOPE_TRUNCATED, ENVELOPE_UNKNOWN_VERSION, ENVELOPE_TOO_LARGE,
 *   ENVELOPE_WRONG_RECIPIENT, INVALID_PUBLIC_KEY, ENVELOPE_BAD_TAG, ENVELOPE_BAD_PADDING,
 *   ENVELOPE_BAD_INNER, ENVELOPE_BAD_SIGNATURE, INVALID_SECRET_KEY, INVALID_RANGE, INVALID_TYPE
 */
export function open(envelope: Uint8Array, recipientSecretKey: Uint8Array, opts: OpenOptions = {}): OpenedEnvelope {
  const maxLen = opts.maxLen ?? ENVELOPE_MAX_LEN;
  if (!Number.isSafeInteger(maxLen) || maxLen < ENVELOPE_MIN_LEN || maxLen > ENVELOPE_MAX_LEN)
    fail(ErrorCode.INVALID_RANGE, `maxLen: expected ${ENVELOPE_MIN_LEN}..${ENVELOPE_MAX_LEN}, got ${maxLen}`);
  const r = secretScalar(recipientSecretKey, 'recipientSecretKey');
  const header = parseEnvelopeHeader(envelope, maxLen);
  // Cheap rejection before any variable-base work, and the reason the header
  // carries the recipient at all: a relay bug or a mis-delivery is named as such.
  const ours = opts.recipientPublicKey ? abytes(opts.recipientPublicKey, 32, 'recipientPublicKey') : getPublicKey(recipientSecretKey);
  if (!equalBytes(header.recipient, ours)) fail(ErrorCode.ENVELOPE_WRONG_RECIPIENT, 'envelope is addressed to a different mailbox');
  const sharedX = ecdhX(recipientSecretKey, r, header.ephemeral, 'ephemeral key');
  const key = envelopeKey(sharedX, header.ephemeral, header.recipient);
  const plaintext = xchachaOpen(key, header.nonce, envelope.subarray(0, ENVELOPE_HEADER_LEN), envelope.subarray(ENVELOPE_HEADER_LEN));
  sharedX.fill(0);
  key.fill(0);
  if (!plaintext) fail(ErrorCode.ENVELOPE_BAD_TAG, 'envelope authentication failed (tampered, re-addressed or not for this key)');
  const msg = verifyInner(unpad(plaintext), header.recipient);
  return {
    id: envelopeId(envelope),
    sender: msg.sender.slice(),
    type: msg.type,
    timestamp: msg.timestamp,
    body: msg.body.slice(),
  };
}
