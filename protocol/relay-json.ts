/**
 * The field rules shared by every JSON body of relay API v1 (SPEC 5.1): the
 * WebSocket frames (`relay-frames.ts`) and the HTTP request and response
 * bodies (`relay-http.ts`) check each field with the same one rule. Each
 * check takes the error code to throw, because the same field is refused
 * with `BAD_FRAME` in a frame, `BAD_REQUEST` in a request the relay reads and
 * `RELAY_BAD_RESPONSE` in an answer the client reads.
 *
 * Internal to `protocol/`: `relay.ts` re-exports only `isHex32` and
 * `MAX_ACK_IDS` (through `relay-frames.ts`).
 * @module
 */
import { fail, type ErrorCode as Code } from '../base/errors.js';

/** Maximum ids in one ack (WebSocket frame or HTTP body). */
export const MAX_ACK_IDS = 1000;

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;
/** A stable error code as SPEC 8 writes them; longer or other strings are not codes. */
const CODE_RE = /^[A-Z][A-Z0-9_]{0,63}$/;
/** A session token (SPEC 5.6): it travels in an `Authorization` header, so nothing else. */
const TOKEN_RE = /^[A-Za-z0-9_-]{1,256}$/;

/** True for 64 lowercase hex characters (a mailbox id, envelope id or challenge). */
export function isHex32(s: unknown): s is string {
  return typeof s === 'string' && HEX64.test(s);
}

/** True for a session token as SPEC 5.6 bounds it: 1–256 characters of `[A-Za-z0-9_-]`. */
export function isSessionToken(s: unknown): s is string {
  return typeof s === 'string' && TOKEN_RE.test(s);
}

/** True for a plain JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A JSON object, or `code`. */
export function object(v: unknown, what: string, code: Code): Record<string, unknown> {
  if (!isObject(v)) fail(code, `${what}: expected a JSON object`);
  return v;
}

/** A non-negative safe integer (a `seq` cursor, a count), or `code`. */
export function uint(v: unknown, name: string, code: Code): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(code, `${name}: expected a non-negative integer`);
  return v;
}

/** A string field, or `code`. */
export function str(o: Record<string, unknown>, k: string, code: Code): string {
  if (typeof o[k] !== 'string') fail(code, `${k}: expected string`);
  return o[k] as string;
}

/** A field of 64 lowercase hex characters, or `code`. */
export function hex32(o: Record<string, unknown>, k: string, code: Code): string {
  const v = o[k];
  if (!isHex32(v)) fail(code, `${k}: expected 64 lowercase hex chars`);
  return v;
}

/** 1..{@link MAX_ACK_IDS} envelope ids (an ack, in a frame or an HTTP body), or `code`. */
export function hexIds(v: unknown, code: Code): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_ACK_IDS) fail(code, `ids: expected 1..${MAX_ACK_IDS} envelope ids`);
  for (const id of v) if (!isHex32(id)) fail(code, 'ids: each id must be 64 lowercase hex chars');
  return v as string[];
}

/** A BIP340 signature field: 128 lowercase hex characters, or `code`. */
export function hex64(o: Record<string, unknown>, k: string, code: Code): string {
  const v = o[k];
  if (typeof v !== 'string' || !HEX128.test(v)) fail(code, `${k}: expected 128 lowercase hex chars`);
  return v;
}

/** An error code field (SPEC 5.2), or `code`. */
export function errorCode(v: unknown, code: Code): Code {
  if (typeof v !== 'string' || !CODE_RE.test(v)) fail(code, 'error.code: expected an error code (A-Z, 0-9, _)');
  return v as Code;
}
