/**
 * The JSON a relay and a mailbox client exchange outside HTTP bodies (SPEC
 * 5.2 "Errors", 5.7 "Reading over HTTP", 5.8 "WebSocket push"): the error
 * body, the stored-envelope object, the WebSocket frames in both directions,
 * and the one place each is encoded and decoded. The HTTP request and
 * response bodies are in `relay-http.ts`.
 *
 * Encoders build every object field by field, so the field order on the wire
 * is fixed here and nowhere else. Decoders treat their input as hostile: they
 * check every field's type and shape and throw `BAD_FRAME` (or the code they
 * are given), never a bare `TypeError`.
 * @module
 */
import { base64 } from '@scure/base';
import { equalBytes } from '../base/bytes.js';
import { ErrorCode, LnMailboxError, fail, type ErrorCode as Code } from '../base/errors.js';
import { envelopeIdHex, parseEnvelopeHeader } from './envelope.js';
import { errorCode, hex32, hex64, hexIds, isObject, object, str, uint } from './relay-json.js';

export { MAX_ACK_IDS, isHex32 } from './relay-json.js';

// ---------------------------------------------------------------------------
// Error body (HTTP error responses and the WebSocket `error` frame)

/** JSON body of every relay error response and of WebSocket `error` frames. */
export interface ErrorBody {
  error: { code: Code; message: string };
}

/** Encodes `{ error: { code, message } }` (that order), the body of every relay rejection (SPEC 5.2). */
export function encodeErrorBody(e: { code: Code; message: string }): ErrorBody {
  return { error: { code: e.code, message: e.message } };
}

/**
 * Checks an error body: `error.code` is shaped like a stable code (one this
 * version does not know is passed through, callers branch on it) and
 * `error.message` is a string.
 * @param code what to throw when it is not an error body: BAD_FRAME for a
 *   WebSocket `error` frame, RELAY_BAD_RESPONSE for an HTTP error response
 * @throws LnMailboxError `code`
 */
export function decodeErrorBody(v: unknown, code: Code = ErrorCode.BAD_FRAME): ErrorBody {
  const e = object(object(v, 'error body', code).error, 'error', code);
  const c = errorCode(e.code, code);
  if (typeof e.message !== 'string') fail(code, 'error.message: expected string');
  return { error: { code: c, message: e.message } };
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

const BAD_FRAME = ErrorCode.BAD_FRAME;

function badFrame(msg: string): never {
  return fail(BAD_FRAME, msg);
}

/**
 * Checks the shape of a stored envelope from a relay (a listing entry or an
 * `envelope` frame). The base64 body is not decoded here: a body that is not
 * genuine is the business of {@link verifyStoredEnvelope}, which lets the
 * client step over that one envelope instead of dropping the whole page or
 * connection.
 * @param code what to throw: BAD_FRAME in an `envelope` frame, RELAY_BAD_RESPONSE in a listing
 * @throws LnMailboxError `code`
 */
export function decodeStoredEnvelope(v: unknown, code: Code = BAD_FRAME): StoredEnvelopeJson {
  const o = object(v, 'stored envelope', code);
  return {
    id: hex32(o, 'id', code),
    seq: uint(o.seq, 'seq', code),
    envelope: str(o, 'envelope', code),
    expiresAt: str(o, 'expiresAt', code),
  };
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

/** WebSocket close codes used by the relay (SPEC 5.8; 1007 and 1009 are sent by the WebSocket layer itself). */
export const WsCloseCode = {
  /** Relay shutting down. */
  GOING_AWAY: 1001,
  /** Protocol error: malformed frame. */
  PROTOCOL_ERROR: 1002,
  /** A text frame that is not UTF-8 (RFC 6455 "invalid frame payload data"). */
  INVALID_PAYLOAD: 1007,
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

/** The syntax of every session token (SPEC 5.6): 1 to 256 characters of `[A-Za-z0-9_-]`. */
export const SESSION_TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

/** True when `v` is a string of session-token syntax ({@link SESSION_TOKEN}). */
export function isSessionToken(v: unknown): v is string {
  return typeof v === 'string' && SESSION_TOKEN.test(v);
}

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

/**
 * Checks the three fields of an {@link AuthProof} in a parsed object (a
 * WebSocket `auth` frame or the session request body).
 * @param code BAD_FRAME in a frame, BAD_REQUEST in an HTTP body
 * @throws LnMailboxError `code`
 */
export function decodeAuthProof(o: Record<string, unknown>, code: Code = BAD_FRAME): AuthProof {
  return { mailbox: hex32(o, 'mailbox', code), challenge: hex32(o, 'challenge', code), signature: hex64(o, 'signature', code) };
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
        // Whatever is wrong with it (type, length, characters), a malformed token is a malformed frame.
        if (!isSessionToken(o.token)) badFrame('token: expected 1 to 256 characters of [A-Za-z0-9_-]');
        return { type: 'auth', token: o.token };
      }
      return { type: 'auth', ...decodeAuthProof(o) };
    case 'subscribe':
      return { type: 'subscribe', after: uint(o.after, 'after', BAD_FRAME) };
    case 'ack':
      return { type: 'ack', ids: hexIds(o.ids, BAD_FRAME) };
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
      return JSON.stringify({ type: 'error', ...encodeErrorBody(f.error) });
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
      return { type: 'challenge', challenge: hex32(o, 'challenge', BAD_FRAME), expiresAt: str(o, 'expiresAt', BAD_FRAME) };
    case 'ready':
      return { type: 'ready', mailbox: hex32(o, 'mailbox', BAD_FRAME) };
    case 'envelope':
      return { type: 'envelope', ...decodeStoredEnvelope(o) };
    case 'backlog_end':
      return { type: 'backlog_end', seq: uint(o.seq, 'seq', BAD_FRAME) };
    case 'acked':
      return { type: 'acked', ids: hexIds(o.ids, BAD_FRAME) };
    case 'error':
      return { type: 'error', ...decodeErrorBody(o, BAD_FRAME) };
    default:
      return badFrame(`unknown frame type ${JSON.stringify(o.type)}`);
  }
}
