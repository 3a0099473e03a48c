/**
 * Relay protocol v1: the wire contract between mailbox clients and relays.
 * HTTP paths and headers, the auth message, the proof-of-work rule and the
 * WebSocket frames, with strict parsers for every frame. Normative text:
 * SPEC.md, "Relay API v1".
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { abytes, concatBytes, hexToBytes, uintBE, utf8 } from '../base/bytes.js';
import { ErrorCode, type ErrorCode as Code, fail } from '../base/errors.js';

/** Protocol version served under the `/v1` prefix. */
export const RELAY_PROTOCOL_VERSION = 1;

/** HTTP paths of relay API v1 (`:mailbox` and `:id` are 64-char lowercase hex). */
export const RelayPath = {
  info: '/v1/info',
  postEnvelope: '/v1/mailboxes/:mailbox/envelopes',
  listEnvelopes: '/v1/mailboxes/:mailbox/envelopes',
  ack: '/v1/mailboxes/:mailbox/acks',
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

/** Lifecycle of a stored envelope, as reported by the status route. */
export type EnvelopeStatus = 'queued' | 'delivered' | 'acknowledged' | 'expired' | 'retracted';
/** All envelope statuses. */
export const ENVELOPE_STATUSES: readonly EnvelopeStatus[] = ['queued', 'delivered', 'acknowledged', 'expired', 'retracted'];

/** JSON body of every relay error response and of WebSocket `error` frames. */
export interface ErrorBody {
  error: { code: Code; message: string };
}

/** `GET /v1/info` response. */
export interface RelayInfo {
  protocol: number;
  software: string;
  version: string;
  limits: {
    maxEnvelopeBytes: number;
    maxTtlSeconds: number;
    defaultTtlSeconds: number;
    maxEnvelopesPerMailbox: number;
    maxBytesPerMailbox: number;
    maxFrameBytes: number;
    authTimeoutMs: number;
  };
  /** Required proof-of-work difficulty in leading zero bits; 0 means none. */
  powBits: number;
}

/** `POST /v1/mailboxes/:mailbox/envelopes` response (201 new, 200 already stored). */
export interface PostEnvelopeResponse {
  id: string;
  /** Per-mailbox sequence number (the cursor) assigned by the relay. */
  seq: number;
  expiresAt: string;
}

/** One stored envelope as listed over HTTP or pushed over WebSocket. */
export interface StoredEnvelopeJson {
  id: string;
  seq: number;
  /** Envelope bytes, base64 (RFC 4648 §4, with padding). */
  envelope: string;
  expiresAt: string;
}

// ---------------------------------------------------------------------------
// Authentication

/** BIP340 tagged-hash tag of the auth message. */
export const AUTH_TAG = 'ln-mailbox/v1/auth';

/**
 * The 32-byte message a mailbox owner signs (BIP340) to authenticate to a
 * relay: `taggedHash(AUTH_TAG, len(origin) as u16 BE ‖ origin ‖ challenge ‖ mailbox)`.
 * Binding the relay's origin stops one relay replaying the signature at another;
 * binding the single-use challenge stops replays at the same relay.
 * @param origin the relay's origin as the client addresses it, e.g. `https://relay.example` (from `new URL(url).origin`)
 * @param challenge 32 random bytes issued by the relay
 * @param mailbox 32-byte x-only mailbox key
 */
export function authMessage(origin: string, challenge: Uint8Array, mailbox: Uint8Array): Uint8Array {
  if (typeof origin !== 'string' || origin.length === 0) fail(ErrorCode.INVALID_TYPE, 'origin: expected non-empty string');
  const o = utf8(origin);
  return schnorr.utils.taggedHash(
    AUTH_TAG,
    concatBytes(uintBE(o.length, 2), o, abytes(challenge, 32, 'challenge'), abytes(mailbox, 32, 'mailbox')),
  );
}

/**
 * Signs the auth message for `mailbox` (BIP340). The mailbox id is the x-only
 * public key of `secretKey`.
 * @param auxRand 32 bytes of BIP340 auxiliary randomness (fresh random by default)
 * @returns the 64-byte signature
 */
export function signAuth(origin: string, challenge: Uint8Array, secretKey: Uint8Array, auxRand?: Uint8Array): Uint8Array {
  abytes(secretKey, 32, 'secretKey');
  const mailbox = schnorr.getPublicKey(secretKey);
  return schnorr.sign(authMessage(origin, challenge, mailbox), secretKey, auxRand);
}

/**
 * Verifies a mailbox owner's auth signature (BIP340) over
 * {@link authMessage}. Never throws on hostile bytes: a malformed key or
 * signature of the right length simply does not verify.
 * @throws LnMailboxError INVALID_TYPE / INVALID_LENGTH only for wrong argument types or lengths
 */
export function verifyAuth(
  origin: string,
  challenge: Uint8Array,
  mailbox: Uint8Array,
  signature: Uint8Array,
): boolean {
  const msg = authMessage(origin, challenge, mailbox);
  abytes(signature, 64, 'signature');
  try {
    return schnorr.verify(signature, msg, mailbox);
  } catch {
    // Not on the curve, or r/s out of range: an invalid signature, not a fault.
    return false;
  }
}

/** Normalizes a relay base URL to the origin string bound into the auth message. */
export function relayOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch (e) {
    return fail(ErrorCode.INVALID_TYPE, `not a URL: ${JSON.stringify(url)}`, e);
  }
}

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

// ---------------------------------------------------------------------------
// WebSocket frames (JSON text frames on /v1/ws)

/** WebSocket close codes used by the relay. */
export const WsCloseCode = {
  /** Relay shutting down. */
  GOING_AWAY: 1001,
  /** Protocol error: malformed frame. */
  PROTOCOL_ERROR: 1002,
  /** Policy violation (auth failed, forbidden). */
  POLICY_VIOLATION: 1008,
  /** Frame larger than the relay's maximum. */
  MESSAGE_TOO_BIG: 1009,
  /** Store unavailable or internal fault. */
  INTERNAL_ERROR: 1011,
  /** No auth before the auth timeout. */
  AUTH_TIMEOUT: 4001,
  /** Outbound buffer over its limit: a slow consumer; mail is kept. */
  SLOW_CONSUMER: 4002,
  /** Too many connections from this address. */
  TOO_MANY_CONNECTIONS: 4003,
} as const;

/** Frames a client sends. */
export type ClientFrame =
  | { type: 'auth'; mailbox: string; challenge: string; signature: string }
  | { type: 'auth'; token: string }
  | { type: 'subscribe'; after: number }
  | { type: 'ack'; ids: string[] };

/** Frames a relay sends. */
export type ServerFrame =
  | { type: 'challenge'; challenge: string; expiresAt: string }
  | { type: 'ready'; mailbox: string }
  | ({ type: 'envelope' } & StoredEnvelopeJson)
  | { type: 'backlog_end'; seq: number }
  | { type: 'acked'; ids: string[] }
  | ({ type: 'error' } & ErrorBody);

/** Maximum ids in one ack (WebSocket frame or HTTP body). */
export const MAX_ACK_IDS = 1000;

const HEX64 = /^[0-9a-f]{64}$/;

/** True for 64 lowercase hex characters (a mailbox id, envelope id or challenge). */
export function isHex32(s: unknown): s is string {
  return typeof s === 'string' && HEX64.test(s);
}

function badFrame(msg: string): never {
  return fail(ErrorCode.BAD_FRAME, msg);
}

function parseJsonObject(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    badFrame('frame is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) badFrame('frame is not a JSON object');
  return v as Record<string, unknown>;
}

function hexIds(v: unknown): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_ACK_IDS)
    badFrame(`ids: expected 1..${MAX_ACK_IDS} envelope ids`);
  for (const id of v) if (!isHex32(id)) badFrame('ids: each id must be 64 lowercase hex chars');
  return v as string[];
}

function cursor(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) badFrame('after: expected a non-negative integer');
  return v;
}

/**
 * Parses and validates a client→relay frame.
 * @throws LnMailboxError BAD_FRAME
 */
export function parseClientFrame(text: string): ClientFrame {
  const o = parseJsonObject(text);
  switch (o.type) {
    case 'auth':
      if (o.token !== undefined) {
        if (typeof o.token !== 'string' || o.token.length === 0 || o.token.length > 256) badFrame('token: bad token');
        return { type: 'auth', token: o.token };
      }
      if (!isHex32(o.mailbox)) badFrame('mailbox: expected 64 lowercase hex chars');
      if (!isHex32(o.challenge)) badFrame('challenge: expected 64 lowercase hex chars');
      if (typeof o.signature !== 'string' || !/^[0-9a-f]{128}$/.test(o.signature))
        badFrame('signature: expected 128 lowercase hex chars');
      return { type: 'auth', mailbox: o.mailbox, challenge: o.challenge, signature: o.signature };
    case 'subscribe':
      return { type: 'subscribe', after: cursor(o.after) };
    case 'ack':
      return { type: 'ack', ids: hexIds(o.ids) };
    default:
      return badFrame(`unknown frame type ${JSON.stringify(o.type)}`);
  }
}

/**
 * Parses and validates a relay→client frame.
 * @throws LnMailboxError BAD_FRAME
 */
export function parseServerFrame(text: string): ServerFrame {
  const o = parseJsonObject(text);
  const str = (k: string): string => {
    if (typeof o[k] !== 'string') badFrame(`${k}: expected string`);
    return o[k] as string;
  };
  switch (o.type) {
    case 'challenge':
      if (!isHex32(o.challenge)) badFrame('challenge: expected 64 lowercase hex chars');
      return { type: 'challenge', challenge: o.challenge, expiresAt: str('expiresAt') };
    case 'ready':
      if (!isHex32(o.mailbox)) badFrame('mailbox: expected 64 lowercase hex chars');
      return { type: 'ready', mailbox: o.mailbox };
    case 'envelope':
      if (!isHex32(o.id)) badFrame('id: expected 64 lowercase hex chars');
      return { type: 'envelope', id: o.id, seq: cursor(o.seq), envelope: str('envelope'), expiresAt: str('expiresAt') };
    case 'backlog_end':
      return { type: 'backlog_end', seq: cursor(o.seq) };
    case 'acked':
      return { type: 'acked', ids: hexIds(o.ids) };
    case 'error': {
      const e = o.error as Record<string, unknown> | undefined;
      if (typeof e !== 'object' || e === null || typeof e.code !== 'string' || typeof e.message !== 'string')
        badFrame('error: expected { code, message }');
      return { type: 'error', error: { code: e.code as Code, message: e.message } };
    }
    default:
      return badFrame(`unknown frame type ${JSON.stringify(o.type)}`);
  }
}

/** Parses the 32-byte hex path/body parameter `name`, or throws BAD_REQUEST. */
export function parseHex32Param(value: unknown, name: string): Uint8Array {
  if (!isHex32(value)) fail(ErrorCode.BAD_REQUEST, `${name}: expected 64 lowercase hex chars`);
  return hexToBytes(value, 32, name);
}
