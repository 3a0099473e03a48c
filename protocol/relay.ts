/**
 * Relay protocol v1: the wire contract between mailbox clients and relays.
 * This file holds the HTTP paths and headers and the proof-of-work rule, and
 * re-exports the other parts, each with its one encoder and one decoder: the
 * error body, stored-envelope object and WebSocket frames
 * (`relay-frames.ts`), the HTTP request and response bodies and the status of
 * each error code (`relay-http.ts`), and the auth message with its one signer
 * and verifier (`relay-auth.ts`). Normative text: SPEC 5 (`spec/relay.md`).
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { abytes, concatBytes, utf8 } from '../base/bytes.js';

export * from './relay-frames.js';
export * from './relay-http.js';
export * from './relay-auth.js';

/** Protocol version served under the `/v1` prefix. */
export const RELAY_PROTOCOL_VERSION = 1;

/** HTTP paths of relay API v1 (`:mailbox` and `:id` are 64-char lowercase hex, `:name` a record name). */
export const RelayPath = {
  info: '/v1/info',
  postEnvelope: '/v1/mailboxes/:mailbox/envelopes',
  listEnvelopes: '/v1/mailboxes/:mailbox/envelopes',
  ack: '/v1/mailboxes/:mailbox/acks',
  /** One record of a mailbox (SPEC 5.13): `PUT` and `DELETE` by its owner, `GET` by anyone. */
  record: '/v1/mailboxes/:mailbox/records/:name',
  status: '/v1/envelopes/:id/status',
  retract: '/v1/envelopes/:id',
  challenge: '/v1/auth/challenge',
  session: '/v1/auth/session',
  ws: '/v1/ws',
  healthz: '/healthz',
  readyz: '/readyz',
  metrics: '/metrics',
} as const;

/** Request headers of the POST and DELETE envelope routes. */
export const RelayHeader = {
  /** Requested time-to-live in whole seconds (POST). Defaults to the relay's default TTL. */
  ttl: 'x-mailbox-ttl',
  /** `sha256(secret)` as 64 hex chars (POST); lets the holder of `secret` retract. */
  retractionHash: 'x-mailbox-retraction-hash',
  /** Proof-of-work nonce, 16 hex chars = 8 bytes (POST), when the relay requires PoW. */
  pow: 'x-mailbox-pow',
  /** The 32-byte retraction secret as 64 hex chars (DELETE). */
  retractionSecret: 'x-mailbox-retraction-secret',
} as const;

// ---------------------------------------------------------------------------
// Proof of work

/** Domain-separation prefix of the proof-of-work hash. */
export const POW_TAG = 'ln-mailbox/v1/pow';

/** `sha256(utf8(POW_TAG) ‖ envelopeId(32) ‖ nonce(8))`. */
export function powHash(envelopeId: Uint8Array, nonce: Uint8Array): Uint8Array {
  return sha256(concatBytes(utf8(POW_TAG), abytes(envelopeId, 32, 'envelopeId'), abytes(nonce, 8, 'pow nonce')));
}

/** Number of leading zero bits of `h`. */
export function leadingZeroBits(h: Uint8Array): number {
  let n = 0;
  for (const byte of h) {
    if (byte === 0) {
      n += 8;
      continue;
    }
    return n + Math.clz32(byte) - 24;
  }
  return n;
}

/** True when `nonce` gives `powHash(envelopeId, nonce)` at least `bits` leading zero bits. */
export function checkPow(envelopeId: Uint8Array, nonce: Uint8Array, bits: number): boolean {
  return bits <= 0 || leadingZeroBits(powHash(envelopeId, nonce)) >= bits;
}

/** Finds a proof-of-work nonce by brute force (expected 2^bits hashes). Pure; may take a while. */
export function solvePow(envelopeId: Uint8Array, bits: number): Uint8Array {
  const nonce = new Uint8Array(8);
  const view = new DataView(nonce.buffer);
  for (let i = 0; ; i++) {
    view.setUint32(0, Math.floor(i / 2 ** 32));
    view.setUint32(4, i >>> 0);
    if (checkPow(envelopeId, nonce, bits)) return nonce;
  }
}
