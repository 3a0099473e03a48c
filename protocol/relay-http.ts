/**
 * The HTTP bodies of relay API v1 (SPEC 5.2–5.9): the HTTP status of every
 * error code, the two JSON request bodies (session, ack) and every JSON
 * response body, each with its one encoder (the relay's) and its one decoder
 * (the client's). The error body itself, shared with the WebSocket `error`
 * frame, is in `relay-frames.ts`.
 *
 * Encoders return the JSON text with its fields in the order the SPEC shows
 * them, so the bytes on the wire are fixed here and nowhere else. Decoders
 * treat their input as hostile: the relay's decoders throw `BAD_REQUEST`, the
 * client's `RELAY_BAD_RESPONSE` (or the code they are given), never a bare
 * `TypeError`. Unknown fields are ignored (SPEC 5.1), so a newer peer may add some.
 * @module
 */
import { ErrorCode, fail, type ErrorCode as Code } from '../base/errors.js';
import { decodeAuthProof, decodeStoredEnvelope, type AuthProof, type StoredEnvelopeJson } from './relay-frames.js';
import { hex32, hexIds, isSessionToken, object, str, uint } from './relay-json.js';

const BAD_REQUEST = ErrorCode.BAD_REQUEST;
const BAD_RESPONSE = ErrorCode.RELAY_BAD_RESPONSE;

// ---------------------------------------------------------------------------
// Status of each error code (SPEC 5.2 and 8)

/**
 * HTTP status of each code a relay answers with (SPEC 5.2). Codes not
 * listed answer 400. A client may read it to tell what status a code comes with.
 */
export const RELAY_HTTP_STATUS: Readonly<Partial<Record<Code, number>>> = {
  BAD_REQUEST: 400,
  INVALID_TYPE: 400,
  INVALID_LENGTH: 400,
  INVALID_HEX: 400,
  INVALID_RANGE: 400,
  ENVELOPE_TRUNCATED: 400,
  ENVELOPE_UNKNOWN_VERSION: 400,
  MAILBOX_MISMATCH: 400,
  TTL_INVALID: 400,
  AUTH_REQUIRED: 401,
  AUTH_EXPIRED: 401,
  AUTH_CHALLENGE_UNKNOWN: 401,
  AUTH_BAD_SIGNATURE: 401,
  AUTH_FORBIDDEN: 403,
  POW_REQUIRED: 403,
  RETRACT_FORBIDDEN: 403,
  NOT_FOUND: 404,
  ENVELOPE_NOT_FOUND: 404,
  RECORD_NOT_FOUND: 404,
  MAILBOX_FULL: 409,
  RECORD_LIMIT: 409,
  RETRACT_TOO_LATE: 409,
  BODY_TOO_LARGE: 413,
  ENVELOPE_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  TOO_MANY_CONNECTIONS: 429,
  STORE_UNAVAILABLE: 503,
  STORE_FULL: 503,
  SHUTTING_DOWN: 503,
};

/** The HTTP status a relay answers `code` with (400 for a code {@link RELAY_HTTP_STATUS} does not list). */
export function relayHttpStatus(code: Code): number {
  return RELAY_HTTP_STATUS[code] ?? 400;
}

// ---------------------------------------------------------------------------
// Request bodies (decoded by the relay: BAD_REQUEST)

/** Body of `POST /v1/auth/session` (the inverse of {@link decodeSessionRequest}). */
export function encodeSessionRequest(proof: AuthProof): string {
  return JSON.stringify({ mailbox: proof.mailbox, challenge: proof.challenge, signature: proof.signature });
}

/**
 * Checks a parsed `POST /v1/auth/session` body.
 * @throws LnMailboxError BAD_REQUEST
 */
export function decodeSessionRequest(body: unknown): AuthProof {
  return decodeAuthProof(object(body, 'session request', BAD_REQUEST), BAD_REQUEST);
}

/** Body of `POST /v1/mailboxes/:mailbox/acks` (the inverse of {@link decodeAckRequest}). */
export function encodeAckRequest(ids: readonly string[]): string {
  return JSON.stringify({ ids });
}

/**
 * Checks a parsed `POST /v1/mailboxes/:mailbox/acks` body: 1..`MAX_ACK_IDS` envelope ids.
 * @throws LnMailboxError BAD_REQUEST
 */
export function decodeAckRequest(body: unknown): string[] {
  return hexIds(object(body, 'ack request', BAD_REQUEST).ids, BAD_REQUEST);
}

// ---------------------------------------------------------------------------
// Response bodies (decoded by the client: RELAY_BAD_RESPONSE)

/** `GET /v1/info` response (SPEC 5.9). */
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

/** The limits of {@link RelayInfo}, in wire order. */
const LIMITS = [
  'maxEnvelopeBytes',
  'maxTtlSeconds',
  'defaultTtlSeconds',
  'maxEnvelopesPerMailbox',
  'maxBytesPerMailbox',
  'maxFrameBytes',
  'authTimeoutMs',
] as const satisfies readonly (keyof RelayInfo['limits'])[];

/** Body of `GET /v1/info` (the inverse of {@link decodeRelayInfo}). */
export function encodeRelayInfo(info: RelayInfo): string {
  const limits: Record<string, number> = {};
  for (const k of LIMITS) limits[k] = info.limits[k];
  return JSON.stringify({ protocol: info.protocol, software: info.software, version: info.version, limits, powBits: info.powBits });
}

/**
 * Checks a parsed `GET /v1/info` body: every limit a non-negative integer,
 * `powBits` in 0..64 (a larger difficulty could never be met).
 * @throws LnMailboxError `code`
 */
export function decodeRelayInfo(body: unknown, code: Code = BAD_RESPONSE): RelayInfo {
  const o = object(body, 'info', code);
  const l = object(o.limits, 'limits', code);
  const limits = {} as RelayInfo['limits'];
  for (const k of LIMITS) limits[k] = uint(l[k], `limits.${k}`, code);
  const powBits = uint(o.powBits, 'powBits', code);
  if (powBits > 64) fail(code, 'powBits: expected an integer in 0..64');
  return {
    protocol: uint(o.protocol, 'protocol', code),
    software: str(o, 'software', code),
    version: str(o, 'version', code),
    limits,
    powBits,
  };
}

/** `POST /v1/mailboxes/:mailbox/envelopes` response (201 new, 200 already stored; SPEC 5.4). */
export interface PostEnvelopeResponse {
  id: string;
  /** Per-mailbox sequence number (the cursor) assigned by the relay. */
  seq: number;
  expiresAt: string;
}

/** Body of a post's answer (the inverse of {@link decodePostEnvelopeResponse}). */
export function encodePostEnvelopeResponse(r: PostEnvelopeResponse): string {
  return JSON.stringify({ id: r.id, seq: r.seq, expiresAt: r.expiresAt });
}

/**
 * Checks a parsed post answer `{ id, seq, expiresAt }`.
 * @throws LnMailboxError `code`
 */
export function decodePostEnvelopeResponse(body: unknown, code: Code = BAD_RESPONSE): PostEnvelopeResponse {
  const o = object(body, 'post', code);
  return { id: hex32(o, 'id', code), seq: uint(o.seq, 'seq', code), expiresAt: str(o, 'expiresAt', code) };
}

/** Lifecycle of a stored envelope, as reported by the status route (SPEC 5.5). */
export type EnvelopeStatus = 'queued' | 'delivered' | 'acknowledged' | 'expired' | 'retracted';
/** All envelope statuses. */
export const ENVELOPE_STATUSES: readonly EnvelopeStatus[] = ['queued', 'delivered', 'acknowledged', 'expired', 'retracted'];

/** Body `{ status }` of the status and retraction answers (the inverse of {@link decodeStatusResponse}). */
export function encodeStatusResponse(status: EnvelopeStatus): string {
  return JSON.stringify({ status });
}

/**
 * Checks a parsed `{ status }` answer (status or retraction).
 * @throws LnMailboxError `code`
 */
export function decodeStatusResponse(body: unknown, code: Code = BAD_RESPONSE): EnvelopeStatus {
  const s = object(body, 'status', code).status;
  if (!ENVELOPE_STATUSES.includes(s as EnvelopeStatus)) fail(code, `unknown envelope status ${JSON.stringify(s)}`);
  return s as EnvelopeStatus;
}

/** `POST /v1/auth/challenge` response (SPEC 5.6). */
export interface ChallengeResponse {
  /** 32 random bytes, 64 hex. */
  challenge: string;
  /** ISO 8601. */
  expiresAt: string;
}

/** Body of the challenge answer (the inverse of {@link decodeChallengeResponse}). */
export function encodeChallengeResponse(c: ChallengeResponse): string {
  return JSON.stringify({ challenge: c.challenge, expiresAt: c.expiresAt });
}

/**
 * Checks a parsed challenge answer.
 * @throws LnMailboxError `code`
 */
export function decodeChallengeResponse(body: unknown, code: Code = BAD_RESPONSE): ChallengeResponse {
  const o = object(body, 'challenge', code);
  return { challenge: hex32(o, 'challenge', code), expiresAt: str(o, 'expiresAt', code) };
}

/** `POST /v1/auth/session` response (SPEC 5.6). */
export interface SessionResponse {
  /** Opaque bearer token, 1–256 characters of `[A-Za-z0-9_-]`. */
  token: string;
  /** ISO 8601. */
  expiresAt: string;
}

/** Body of the session answer (the inverse of {@link decodeSessionResponse}). */
export function encodeSessionResponse(s: SessionResponse): string {
  return JSON.stringify({ token: s.token, expiresAt: s.expiresAt });
}

/**
 * Checks a parsed session answer. The token goes into an `Authorization`
 * header next, so one with other characters (a header injection) is refused.
 * @throws LnMailboxError `code`
 */
export function decodeSessionResponse(body: unknown, code: Code = BAD_RESPONSE): SessionResponse {
  const o = object(body, 'session', code);
  if (!isSessionToken(o.token)) fail(code, 'token: expected 1..256 characters of [A-Za-z0-9_-]');
  return { token: o.token, expiresAt: str(o, 'expiresAt', code) };
}

/** One page of `GET /v1/mailboxes/:mailbox/envelopes` (SPEC 5.7). */
export interface EnvelopePage {
  envelopes: StoredEnvelopeJson[];
  /** True when more may follow: ask again after the last `seq`. */
  more: boolean;
}

/** Body of a listing (the inverse of {@link decodeEnvelopePage}); the entries come from `encodeStoredEnvelope`. */
export function encodeEnvelopePage(page: EnvelopePage): string {
  return JSON.stringify({ envelopes: page.envelopes, more: page.more });
}

/**
 * Checks a parsed listing: each entry's shape (see `decodeStoredEnvelope`; its
 * bytes are checked later, one by one, by `verifyStoredEnvelope`).
 * @throws LnMailboxError `code`
 */
export function decodeEnvelopePage(body: unknown, code: Code = BAD_RESPONSE): EnvelopePage {
  const o = object(body, 'list', code);
  if (!Array.isArray(o.envelopes)) fail(code, 'envelopes: expected an array');
  if (typeof o.more !== 'boolean') fail(code, 'more: expected a boolean');
  return { envelopes: o.envelopes.map((e: unknown) => decodeStoredEnvelope(e, code)), more: o.more };
}

/** Body `{ acked }` of the ack answer: how many envelopes were deleted now (the inverse of {@link decodeAckResponse}). */
export function encodeAckResponse(acked: number): string {
  return JSON.stringify({ acked });
}

/**
 * Checks a parsed ack answer.
 * @throws LnMailboxError `code`
 */
export function decodeAckResponse(body: unknown, code: Code = BAD_RESPONSE): number {
  return uint(object(body, 'ack', code).acked, 'acked', code);
}

// ---------------------------------------------------------------------------
// Records (SPEC 5.13): the relay stores their bytes without reading them

/** Largest record value a relay accepts, in bytes (16 KiB). */
export const MAX_RECORD_BYTES = 16 * 1024;

/** Most records one mailbox may hold at once. */
export const MAX_RECORDS_PER_MAILBOX = 8;

/** What a record name must match: 1..32 of `[a-z0-9-]`, not starting with `-`. */
export const RECORD_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** True when `name` is a valid record name ({@link RECORD_NAME}). */
export function isRecordName(name: unknown): name is string {
  return typeof name === 'string' && RECORD_NAME.test(name);
}
