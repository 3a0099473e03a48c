/**
 * The inner message of envelope v1: what is encrypted, and the sender's BIP340
 * signature (bitcoin/bips bip-0340) that authenticates it. Normative text:
 * SPEC 4 (`spec/relay.md`).
 *
 *   type(u16) ‖ sender x-only(32) ‖ timestamp(u64, ms) ‖ body_len(u32) ‖ body ‖ signature(64)
 *
 * The signature covers the envelope version and the recipient's key as well,
 * so a recipient cannot re-seal a message it received and pass it off to a
 * third party as addressed to them (the "surreptitious forwarding" attack on
 * sign-then-encrypt).
 * @module
 */
import { abytes, readUintBE } from '../base/bytes.js';
import { ErrorCode, fail } from '../base/errors.js';
import { signingKey, taggedHash, verify } from '../crypto/bip340.js';
import { ENVELOPE_VERSION } from './envelope.js';

/** BIP340 tag of the inner-message signature hash. */
export const INNER_SIG_TAG = 'ln-mailbox/v1/inner';
/** Fixed part of an inner message: 2 + 32 + 8 + 4 + 64 = 110 bytes (an empty body). */
export const INNER_MIN_LEN = 2 + 32 + 8 + 4 + 64;
/** Offset of the body inside the inner message. */
const BODY_OFFSET = 2 + 32 + 8 + 4;
const SIG_LEN = 64;

/**
 * Message type registry (SPEC 4.3). Type 0 is invalid so that an
 * all-zero plaintext can never parse as a message.
 */
export const InnerTypeRange = {
  /** Payment protocol messages (SPEC 6). */
  PAYMENT: { min: 0x0001, max: 0x00ff },
  /** Reserved for future standard messages; MUST NOT be used until specified. */
  RESERVED: { min: 0x0100, max: 0x7fff },
  /** Experimental and private use; never assigned by the spec. */
  EXPERIMENTAL: { min: 0x8000, max: 0xffff },
} as const;

/** A decoded inner message (signature not yet checked). */
export interface InnerMessage {
  /** Message type (u16, non-zero). */
  type: number;
  /** Sender's static x-only public key. */
  sender: Uint8Array;
  /** Sender's clock when it sealed, in milliseconds since the Unix epoch. */
  timestamp: number;
  /** Application payload. */
  body: Uint8Array;
  /** BIP340 signature over {@link innerSigHash}. */
  signature: Uint8Array;
}

/** Inputs of {@link signInner}. */
export interface SignInnerOptions {
  /** Sender's static 32-byte secret key. */
  senderSecretKey: Uint8Array;
  /** Recipient x-only public key, bound by the signature. */
  recipient: Uint8Array;
  /** Message type, 1..65535. */
  type: number;
  /** Milliseconds since the Unix epoch, 0..2^53−1. */
  timestamp: number;
  /** Application payload. */
  body: Uint8Array;
  /** BIP340 auxiliary randomness (32 bytes). */
  auxRand: Uint8Array;
  /**
   * The sender's x-only public key, when the caller already has it (saves a
   * point multiplication per message). It must belong to `senderSecretKey`:
   * a wrong one only yields a message every recipient rejects.
   */
  senderPublicKey?: Uint8Array;
}

/**
 * The 32-byte message the sender signs:
 * `taggedHash("ln-mailbox/v1/inner", version ‖ recipient ‖ inner-without-signature)`,
 * where inner-without-signature = `type ‖ sender ‖ timestamp ‖ body_len ‖ body`.
 */
export function innerSigHash(recipient: Uint8Array, unsigned: Uint8Array): Uint8Array {
  abytes(recipient, 32, 'recipient');
  abytes(unsigned, undefined, 'unsigned inner message');
  return taggedHash(INNER_SIG_TAG, Uint8Array.of(ENVELOPE_VERSION), recipient, unsigned);
}

/** Validates a message type: an integer in 1..0xffff. */
export function assertInnerType(type: unknown): number {
  if (typeof type !== 'number') fail(ErrorCode.INVALID_TYPE, `type: expected number, got ${typeof type}`);
  if (!Number.isInteger(type) || type < 1 || type > 0xffff) fail(ErrorCode.INVALID_RANGE, `type: expected 1..65535, got ${type}`);
  return type;
}

/** Validates a timestamp: a safe integer of milliseconds, not negative. */
export function assertTimestamp(ts: unknown): number {
  if (typeof ts !== 'number') fail(ErrorCode.INVALID_TYPE, `timestamp: expected number, got ${typeof ts}`);
  if (!Number.isSafeInteger(ts) || ts < 0) fail(ErrorCode.INVALID_RANGE, `timestamp: expected integer ms >= 0, got ${ts}`);
  return ts;
}

/**
 * Serializes and signs an inner message for `recipient`.
 * Arguments are expected to be validated by the caller (`seal` does); the
 * checks here guard direct use.
 * @throws LnMailboxError INVALID_TYPE, INVALID_LENGTH, INVALID_RANGE, INVALID_SECRET_KEY
 */
export function signInner(opts: SignInnerOptions): Uint8Array {
  const { senderSecretKey, recipient, body, auxRand } = opts;
  abytes(senderSecretKey, 32, 'senderSecretKey');
  abytes(recipient, 32, 'recipient');
  abytes(body, undefined, 'body');
  abytes(auxRand, 32, 'auxRand');
  const type = assertInnerType(opts.type);
  const timestamp = assertTimestamp(opts.timestamp);
  if (body.length > 0xffffffff) fail(ErrorCode.ENVELOPE_TOO_LARGE, 'body does not fit a u32 length');
  // One key lookup for the sender's public key and the signature alike.
  const key = signingKey(senderSecretKey, 'senderSecretKey');
  const sender = opts.senderPublicKey ? abytes(opts.senderPublicKey, 32, 'senderPublicKey') : key.publicKey;
  // type ‖ sender ‖ timestamp ‖ body_len ‖ body, then the signature, in one buffer.
  const out = new Uint8Array(BODY_OFFSET + body.length + SIG_LEN);
  const view = new DataView(out.buffer);
  view.setUint16(0, type);
  out.set(sender, 2);
  view.setUint32(34, Math.floor(timestamp / 2 ** 32));
  view.setUint32(38, timestamp >>> 0);
  view.setUint32(42, body.length);
  out.set(body, BODY_OFFSET);
  const unsigned = out.subarray(0, BODY_OFFSET + body.length);
  out.set(key.sign(innerSigHash(recipient, unsigned), auxRand), unsigned.length);
  return out;
}

/**
 * Parses an inner message strictly: exact length, body_len consistent with
 * it, type non-zero, timestamp a safe integer. Returns views into `bytes`.
 * Does not verify the signature (see {@link verifyInner}).
 * @throws LnMailboxError ENVELOPE_BAD_INNER
 */
export function decodeInner(bytes: Uint8Array): InnerMessage {
  abytes(bytes, undefined, 'inner message');
  if (bytes.length < INNER_MIN_LEN)
    fail(ErrorCode.ENVELOPE_BAD_INNER, `inner message is ${bytes.length} bytes, minimum is ${INNER_MIN_LEN}`);
  const type = Number(readUintBE(bytes, 0, 2));
  if (type === 0) fail(ErrorCode.ENVELOPE_BAD_INNER, 'inner message type 0 is invalid');
  const timestamp = readUintBE(bytes, 34, 8);
  if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) fail(ErrorCode.ENVELOPE_BAD_INNER, 'inner timestamp exceeds 2^53 - 1');
  const bodyLen = Number(readUintBE(bytes, 42, 4));
  if (bodyLen !== bytes.length - INNER_MIN_LEN)
    fail(ErrorCode.ENVELOPE_BAD_INNER, `body_len ${bodyLen} disagrees with the ${bytes.length}-byte inner message`);
  return {
    type,
    sender: bytes.subarray(2, 34),
    timestamp: Number(timestamp),
    body: bytes.subarray(BODY_OFFSET, BODY_OFFSET + bodyLen),
    signature: bytes.subarray(bytes.length - SIG_LEN),
  };
}

/**
 * Checks the sender's signature of a serialized inner message for `recipient`
 * (one BIP340 verification). A sender key that is not on the curve fails here too.
 * @throws LnMailboxError ENVELOPE_BAD_SIGNATURE
 */
export function verifyInner(bytes: Uint8Array, recipient: Uint8Array): InnerMessage {
  const msg = decodeInner(bytes);
  const hash = innerSigHash(recipient, bytes.subarray(0, bytes.length - SIG_LEN));
  if (!verify(msg.signature, hash, msg.sender))
    fail(ErrorCode.ENVELOPE_BAD_SIGNATURE, 'inner message signature does not verify for this sender and recipient');
  return msg;
}
