/**
 * The JSON a relay and a mailbox client exchange (SPEC.md section 5,
 * "Listing" and "WebSocket"): the stored-envelope object, the WebSocket
 * frames in both directions, and the one place each is encoded and decoded.
 *
 * Encoders build every object field by field, so the field order on the wire
 * is fixed here and nowhere else. Decoders treat their input as hostile: they
 * check every field's type and shape and throw `BAD_FRAME`, never a bare
 * `TypeError`.
 * @module
 */
import { base64 } from '@scure/base';
import { equalBytes } from '../base/bytes.js';
import { ErrorCode, LnMailboxError, fail, type ErrorCode as Code } from '../base/errors.js';
import { envelopeIdHex, parseEnvelopeHeader } from './envelope.js';

/** Maximum ids in one ack (WebSocket frame or HTTP body). */
export const MAX_ACK_IDS = 1000;

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;

/** True for 64 lowercase hex characters (a mailbox id, envelope id or challenge). */
export function isHex32(s: unknown): s is string {
  return typeof s === 'string' && HEX64.test(s);
}

/** JSON body of every relay error response and of WebSocket `error` frames. */
export interface ErrorBody {
  error: { code: Code; message: string };
}

// ---------------------------------------------------------------------------
// Stored envelope (HTTP listing entry and the body of an `envelope` frame)

/** One stored envelope as listed over HTTP or pushed over WebSocket. */
export interface StoredEnvelopeJson {
  id: string;
  /** Per-mailbox sequence number (the cursor) assigned by the relay. */
  seq: number;
  /** Envelope bytes, base64 (RFC 4648 §4, with padding). */
  envelope: string;
  /** When the relay drops it, ISO 8601. */
  expiresAt: string;
}

/** What the relay knows of a stored envelope, before it is put on the wire. */
export interface StoredEnvelopeFields {
  /** Envelope id, 64 lowercase hex. */
  id: string;
  seq: number;
  envelope: Uint8Array;
  /** Expiry, ms since the Unix epoch. */
  expiresAt: number;
}

/**
 * Encodes a stored envelope as `{ id, seq, envelope, expiresAt }` (that order).
 * @param toBase64 RFC 4648 §4 base64 with padding; defaults to a portable
 *   encoder. The relay passes Node's native one: it is ~45 times faster on a
 *   64 KiB envelope, and backlog streaming encodes every envelope it sends.
 */
export function encodeStoredEnvelope(e: StoredEnvelopeFields, toBase64: (bytes: Uint8Array) => string = base64.encode): StoredEnvelopeJson {
  return { id: e.id, seq: e.seq, envelope: toBase64(e.envelope), expiresAt: new Date(e.expiresAt).toISOString() };
}

function badFrame(msg: string): never {
  return fail(ErrorCode.BAD_FRAME, msg);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function cursor(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) badFrame(`${name}: expected a non-negative integer`);
  return v;
}

function str(o: Record<string, unknown>, k: string): string {
  if (typeof o[k] !== 'string') badFrame(`${k}: expected string`);
  return o[k] as string;
}

/**
 * Checks the shape of a stored envelope from a relay (a listing entry or an
 * `envelope` frame). The base64 body is not decoded here: a body that is not
 * genuine is the business of {@link verifyStoredEnvelope}, which lets the
 * client step over that one envelope instead of dropping the whole page or
 * connection.
 * @throws LnMailboxError BAD_FRAME
 */
export function decodeStoredEnvelope(v: unknown): StoredEnvelopeJson {
  if (!isObject(v)) badFrame('stored envelope: expected a JSON object');
  if (!isHex32(v.id)) badFrame('id: expected 64 lowercase hex chars');
  return { id: v.id, seq: cursor(v.seq, 'seq'), envelope: str(v, 'envelope'), expiresAt: str(v, 'expiresAt') };
}

/**
 * Decodes the body of a stored envelope and checks that a relay did not lie
 * about it: the bytes parse as an envelope header, are addressed to `mailbox`,
 * and hash to the claimed id. A client de-duplicates by id, so a relay that
 * could attach a real id to other bytes could make it drop a real envelope.
 * @param mailbox the 32-byte x-only mailbox id the client reads
 * @param maxLen largest envelope accepted (see `parseEnvelopeHeader`)
 * @returns the envelope bytes
 * @throws LnMailboxError BAD_FRAME (not base64), ENVELOPE_TRUNCATED / ENVELOPE_UNKNOWN_VERSION /
 *   ENVELOPE_TOO_LARGE (header), ENVELOPE_WRONG_RECIPIENT, RELAY_BAD_RESPONSE (id mismatch)
 */
export function verifyStoredEnvelope(e: StoredEnvelopeJson, mailbox: Uint8Array, maxLen?: number): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = base64.decode(e.envelope);
  } catch (cause) {
    return fail(ErrorCode.BAD_FRAME, 'envelope: not base64 (RFC 4648 §4, padded)', cause);
  }
  const header = parseEnvelopeHeader(bytes, maxLen);
  if (!equalBytes(header.recipient, mailbox)) throw new LnMailboxError(ErrorCode.ENVELOPE_WRONG_RECIPIENT, 'not addressed to this mailbox');
  if (envelopeIdHex(bytes) !== e.id) throw new LnMailboxError(ErrorCode.RELAY_BAD_RESPONSE, 'id does not match the envelope bytes');
  return bytes;
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

function parseJsonObject(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    badFrame('frame is not valid JSON');
  }
  if (!isObject(v)) badFrame('frame is not a JSON object');
  return v;
}

// Field checks shared by the WebSocket frames (refused with BAD_FRAME) and the
// HTTP request bodies (refused with BAD_REQUEST): one rule per field.

function hexIds(v: unknown, code: Code = ErrorCode.BAD_FRAME): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_ACK_IDS) fail(code, `ids: expected 1..${MAX_ACK_IDS} envelope ids`);
  for (const id of v) if (!isHex32(id)) fail(code, 'ids: each id must be 64 lowercase hex chars');
  return v as string[];
}

function authProofOf(o: Record<string, unknown>, code: Code = ErrorCode.BAD_FRAME): AuthProof {
  if (!isHex32(o.mailbox)) fail(code, 'mailbox: expected 64 lowercase hex chars');
  if (!isHex32(o.challenge)) fail(code, 'challenge: expected 64 lowercase hex chars');
  if (typeof o.signature !== 'string' || !HEX128.test(o.signature)) fail(code, 'signature: expected 128 lowercase hex chars');
  return { mailbox: o.mailbox, challenge: o.challenge, signature: o.signature };
}

/**
 * What a mailbox owner presents to a relay, all lowercase hex: the fields of
 * the WebSocket `auth` frame and of the `POST /v1/auth/session` body (SPEC 5.6).
 */
export interface AuthProof {
  /** 32-byte x-only mailbox key, 64 hex. */
  mailbox: string;
  /** The relay's challenge, 64 hex. */
  challenge: string;
  /** BIP340 signature over the auth message (`authMessage`), 128 hex. */
  signature: string;
}

/** Body of `POST /v1/auth/session` (the inverse of {@link decodeSessionRequest}). */
export function encodeSessionRequest(proof: AuthProof): string {
  return JSON.stringify({ mailbox: proof.mailbox, challenge: proof.challenge, signature: proof.signature });
}

/**
 * Checks a parsed `POST /v1/auth/session` body.
 * @throws LnMailboxError BAD_REQUEST
 */
export function decodeSessionRequest(body: unknown): AuthProof {
  if (!isObject(body)) fail(ErrorCode.BAD_REQUEST, 'expected a JSON object');
  return authProofOf(body, ErrorCode.BAD_REQUEST);
}

/** Body of `POST /v1/mailboxes/:mailbox/acks` (the inverse of {@link decodeAckRequest}). */
export function encodeAckRequest(ids: readonly string[]): string {
  return JSON.stringify({ ids });
}

/**
 * Checks a parsed `POST /v1/mailboxes/:mailbox/acks` body: 1..{@link MAX_ACK_IDS} envelope ids.
 * @throws LnMailboxError BAD_REQUEST
 */
export function decodeAckRequest(body: unknown): string[] {
  if (!isObject(body)) fail(ErrorCode.BAD_REQUEST, 'expected a JSON object');
  return hexIds(body.ids, ErrorCode.BAD_REQUEST);
}

/** Serializes a client→relay frame (the inverse of {@link parseClientFrame}). */
export function encodeClientFrame(f: ClientFrame): string {
  switch (f.type) {
    case 'auth':
      return JSON.stringify(
        'token' in f
          ? { type: 'auth', token: f.token }
          : { type: 'auth', mailbox: f.mailbox, challenge: f.challenge, signature: f.signature },
      );
    case 'subscribe':
      return JSON.stringify({ type: 'subscribe', after: f.after });
    case 'ack':
      return JSON.stringify({ type: 'ack', ids: f.ids });
  }
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
      return { type: 'auth', ...authProofOf(o) };
    case 'subscribe':
      return { type: 'subscribe', after: cursor(o.after, 'after') };
    case 'ack':
      return { type: 'ack', ids: hexIds(o.ids) };
    default:
      return badFrame(`unknown frame type ${JSON.stringify(o.type)}`);
  }
}

/** Serializes a relay→client frame (the inverse of {@link parseServerFrame}). */
export function encodeServerFrame(f: ServerFrame): string {
  switch (f.type) {
    case 'challenge':
      return JSON.stringify({ type: 'challenge', challenge: f.challenge, expiresAt: f.expiresAt });
    case 'ready':
      return JSON.stringify({ type: 'ready', mailbox: f.mailbox });
    case 'envelope':
      return JSON.stringify({ type: 'envelope', id: f.id, seq: f.seq, envelope: f.envelope, expiresAt: f.expiresAt });
    case 'backlog_end':
      return JSON.stringify({ type: 'backlog_end', seq: f.seq });
    case 'acked':
      return JSON.stringify({ type: 'acked', ids: f.ids });
    case 'error':
      return JSON.stringify({ type: 'error', error: { code: f.error.code, message: f.error.message } });
  }
}

/**
 * Parses and validates a relay→client frame.
 * @throws LnMailboxError BAD_FRAME
 */
export function parseServerFrame(text: string): ServerFrame {
  const o = parseJsonObject(text);
  switch (o.type) {
    case 'challenge':
      if (!isHex32(o.challenge)) badFrame('challenge: expected 64 lowercase hex chars');
      return { type: 'challenge', challenge: o.challenge, expiresAt: str(o, 'expiresAt') };
    case 'ready':
      if (!isHex32(o.mailbox)) badFrame('mailbox: expected 64 lowercase hex chars');
      return { type: 'ready', mailbox: o.mailbox };
    case 'envelope':
      return { type: 'envelope', ...decodeStoredEnvelope(o) };
    case 'backlog_end':
      return { type: 'backlog_end', seq: cursor(o.seq, 'seq') };
    case 'acked':
      return { type: 'acked', ids: hexIds(o.ids) };
    case 'error': {
      const e = o.error;
      if (!isObject(e) || typeof e.code !== 'string' || typeof e.message !== 'string') badFrame('error: expected { code, message }');
      return { type: 'error', error: { code: e.code as Code, message: e.message } };
    }
    default:
      return badFrame(`unknown frame type ${JSON.stringify(o.type)}`);
  }
}
