/**
 * Envelope v1 plaintext padding: a 2-byte length prefix, the inner message,
 * then zero bytes up to a size bucket. The bucket function is NIP-44's
 * `calc_padded_len` (nostr-protocol/nips 44.md), so an envelope's size tells
 * the relay only which bucket its message fell into. Normative text:
 * SPEC 3.4.
 *
 * Why a 2-byte prefix: a v1 envelope is at most 64 KiB, so no plaintext can
 * exceed {@link PLAINTEXT_MAX_LEN} = 65431 bytes and a u16 covers every
 * possible length; a wider prefix would only admit lengths no envelope can hold.
 * @module
 */
import { abytes } from '../base/bytes.js';
import { ErrorCode, fail } from '../base/errors.js';
import { ENVELOPE_HEADER_LEN, ENVELOPE_MAX_LEN, ENVELOPE_TAG_LEN } from './envelope.js';

/** Byte length of the big-endian length prefix in front of the inner message. */
export const PADDING_PREFIX_LEN = 2;
/** Smallest bucket (NIP-44): every plaintext is at least 32 bytes. */
export const PADDING_MIN_BUCKET = 32;
/**
 * Largest plaintext a v1 envelope can carry: 65536 − 89 (header) − 16 (tag) = 65431.
 * The bucket rule is clamped to it, so the largest envelope is exactly 64 KiB.
 */
export const PLAINTEXT_MAX_LEN = ENVELOPE_MAX_LEN - ENVELOPE_HEADER_LEN - ENVELOPE_TAG_LEN;
/** Largest message (inner bytes) that fits a v1 plaintext: 65431 − 2 = 65429. */
export const PADDED_MESSAGE_MAX_LEN = PLAINTEXT_MAX_LEN - PADDING_PREFIX_LEN;

/**
 * NIP-44 `calc_padded_len`: 32 for n ≤ 32; otherwise n rounded up to a
 * multiple of `chunk`, where `chunk = 32` while the next power of two above
 * n − 1 is ≤ 256, and one eighth of that power above it. Unclamped.
 * @throws LnMailboxError INVALID_RANGE when n is not a non-negative safe integer
 */
export function calcPaddedLen(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) fail(ErrorCode.INVALID_RANGE, `padded length: expected integer >= 0, got ${n}`);
  if (n <= PADDING_MIN_BUCKET) return PADDING_MIN_BUCKET;
  // floor(log2(n - 1)) + 1, computed exactly on integers (n - 1 >= 32 here).
  let bits = 0;
  for (let v = n - 1; v > 0; v = Math.floor(v / 2)) bits++;
  const nextPower = 2 ** bits;
  const chunk = nextPower <= 256 ? 32 : nextPower / 8;
  return chunk * (Math.floor((n - 1) / chunk) + 1);
}

/**
 * Total plaintext length for an inner message of `messageLen` bytes:
 * `min(calcPaddedLen(2 + messageLen), PLAINTEXT_MAX_LEN)`.
 * @throws LnMailboxError ENVELOPE_TOO_LARGE when the message cannot fit a v1 envelope
 */
export function paddedLen(messageLen: number): number {
  if (!Number.isSafeInteger(messageLen) || messageLen < 0)
    fail(ErrorCode.INVALID_RANGE, `message length: expected integer >= 0, got ${messageLen}`);
  if (messageLen > PADDED_MESSAGE_MAX_LEN)
    fail(ErrorCode.ENVELOPE_TOO_LARGE, `message is ${messageLen} bytes, a v1 envelope holds at most ${PADDED_MESSAGE_MAX_LEN}`);
  return Math.min(calcPaddedLen(PADDING_PREFIX_LEN + messageLen), PLAINTEXT_MAX_LEN);
}

/**
 * Builds the plaintext: `u16be(len(message)) ‖ message ‖ zeros`, of length
 * {@link paddedLen}(len(message)).
 * @throws LnMailboxError INVALID_TYPE, ENVELOPE_TOO_LARGE
 */
export function pad(message: Uint8Array): Uint8Array {
  abytes(message, undefined, 'message');
  const out = new Uint8Array(paddedLen(message.length)); // zero-filled
  out[0] = message.length >>> 8;
  out[1] = message.length & 0xff;
  out.set(message, PADDING_PREFIX_LEN);
  return out;
}

/**
 * Strips the padding and returns the message (a view into `plaintext`).
 * Everything is checked, so there is exactly one valid plaintext per message:
 * the prefix must fit, the total length must be exactly the bucket of the
 * prefix, and every padding byte must be zero. (A lax check would let a sender
 * pick non-bucket sizes or hide data in the padding, a covert channel.)
 * @throws LnMailboxError ENVELOPE_BAD_PADDING
 */
export function unpad(plaintext: Uint8Array): Uint8Array {
  abytes(plaintext, undefined, 'plaintext');
  if (plaintext.length < PADDING_PREFIX_LEN) fail(ErrorCode.ENVELOPE_BAD_PADDING, 'plaintext shorter than its length prefix');
  const len = (plaintext[0]! << 8) | plaintext[1]!;
  if (len > PADDED_MESSAGE_MAX_LEN || PADDING_PREFIX_LEN + len > plaintext.length)
    fail(ErrorCode.ENVELOPE_BAD_PADDING, `length prefix ${len} exceeds the ${plaintext.length}-byte plaintext`);
  if (plaintext.length !== paddedLen(len))
    fail(ErrorCode.ENVELOPE_BAD_PADDING, `plaintext is ${plaintext.length} bytes, the bucket for ${len} is ${paddedLen(len)}`);
  let nonZero = 0;
  for (let i = PADDING_PREFIX_LEN + len; i < plaintext.length; i++) nonZero |= plaintext[i]!;
  if (nonZero !== 0) fail(ErrorCode.ENVELOPE_BAD_PADDING, 'padding bytes are not all zero');
  return plaintext.subarray(PADDING_PREFIX_LEN, PADDING_PREFIX_LEN + len);
}
