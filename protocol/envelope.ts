/**
 * Envelope v1: the fixed header layout, header parsing and the envelope id.
 * (Sealing and opening live in `seal.ts`.) Normative text: SPEC 3, "Envelope v1".
 *
 *   version(1)=0x01 ‖ recipient x-only(32) ‖ ephemeral x-only(32) ‖ nonce(24) ‖ ciphertext ‖ tag(16)
 * @module
 */
import { abytes, bytesToHex } from '../base/bytes.js';
import { ErrorCode, fail } from '../base/errors.js';
import { sha256 } from '../crypto/symmetric.js';

/** The only envelope version this implementation reads and writes. */
export const ENVELOPE_VERSION = 0x01;
/** Byte length of the header that is authenticated as AAD: version ‖ recipient ‖ ephemeral ‖ nonce. */
export const ENVELOPE_HEADER_LEN = 1 + 32 + 32 + 24;
/** Poly1305 tag length. */
export const ENVELOPE_TAG_LEN = 16;
/**
 * Shortest envelope that can open: header (89), the bucket of the smallest
 * plaintext (2-byte prefix + 110-byte inner message with an empty body → 128),
 * tag (16) = 233. Anything shorter is rejected as ENVELOPE_TRUNCATED without
 * decrypting. (SPEC 3.4; `test/protocol/padding.test.ts` recomputes it.)
 */
export const ENVELOPE_MIN_LEN = ENVELOPE_HEADER_LEN + 128 + ENVELOPE_TAG_LEN;
/** Default maximum envelope size accepted by relays (64 KiB). */
export const ENVELOPE_MAX_LEN = 64 * 1024;

/** The cleartext header of an envelope: what the relay can see. */
export interface EnvelopeHeader {
  /** Version byte (0x01). */
  version: number;
  /** Recipient mailbox id: 32-byte x-only public key. */
  recipient: Uint8Array;
  /** Sender's one-time ephemeral x-only public key. */
  ephemeral: Uint8Array;
  /** 24-byte XChaCha20 nonce. */
  nonce: Uint8Array;
}

/**
 * Parses and length-checks an envelope's header without decrypting it.
 * Does not check that the keys are on the curve (the relay need not; `open` does).
 * @throws LnMailboxError ENVELOPE_TRUNCATED, ENVELOPE_UNKNOWN_VERSION, ENVELOPE_TOO_LARGE
 */
export function parseEnvelopeHeader(envelope: Uint8Array, maxLen = ENVELOPE_MAX_LEN): EnvelopeHeader {
  abytes(envelope, undefined, 'envelope');
  if (envelope.length < 1) fail(ErrorCode.ENVELOPE_TRUNCATED, 'envelope is empty');
  if (envelope[0] !== ENVELOPE_VERSION)
    fail(ErrorCode.ENVELOPE_UNKNOWN_VERSION, `unknown envelope version 0x${envelope[0]!.toString(16).padStart(2, '0')}`);
  if (envelope.length < ENVELOPE_MIN_LEN)
    fail(ErrorCode.ENVELOPE_TRUNCATED, `envelope is ${envelope.length} bytes, minimum is ${ENVELOPE_MIN_LEN}`);
  if (envelope.length > maxLen) fail(ErrorCode.ENVELOPE_TOO_LARGE, `envelope is ${envelope.length} bytes, maximum is ${maxLen}`);
  return {
    version: envelope[0]!,
    recipient: envelope.subarray(1, 33),
    ephemeral: envelope.subarray(33, 65),
    nonce: envelope.subarray(65, 89),
  };
}

/** The envelope id: `sha256(envelope bytes)`. Posting the same bytes twice yields the same id. */
export function envelopeId(envelope: Uint8Array): Uint8Array {
  return sha256(abytes(envelope, undefined, 'envelope'));
}

/** The envelope id as lowercase hex, the form used in the relay API. */
export function envelopeIdHex(envelope: Uint8Array): string {
  return bytesToHex(envelopeId(envelope));
}
