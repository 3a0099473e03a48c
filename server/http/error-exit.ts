/**
 * The one error exit of the HTTP API, shared by express's error middleware
 * (`app.ts`) and the lean envelope POST (`lean-post.ts`): every rejection is
 * `{ error: { code, message } }` with the status of its stable code (SPEC
 * 5.2), the `Retry-After` / `WWW-Authenticate` headers that code calls for,
 * one rejection counted, and a fault logged once. Both front doors answer
 * the same bytes because both go through here.
 * @module
 */
import { Buffer } from 'node:buffer';
import type { ServerResponse } from 'node:http';
import { ErrorCode } from '../../base/errors.js';
import { encodeErrorBody, relayHttpStatus } from '../../protocol/relay.js';
import type { RelayContext } from '../context.js';
import { toRelayError } from '../http-errors.js';

/** The content type every JSON answer of the relay carries (what express's `res.json` sets). */
export const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Writes a JSON body made by one of the protocol's encoders, with the
 * headers express's `res.send` would set (type with charset, length).
 */
export function writeJson(res: ServerResponse, status: number, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', JSON_TYPE);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/** Answers `err` (anything thrown) as the relay's error response; see the module comment. */
export function sendError(ctx: RelayContext, method: string | undefined, res: ServerResponse, err: unknown): void {
  const { error, fault } = toRelayError(err);
  if (fault) ctx.log.error({ err: { message: (err as Error)?.message, name: (err as Error)?.name }, method }, 'request failed');
  // A store that is failed, recovering or damaged logged that once when it happened; one line per refused request would flood the log.
  else if (error.code === ErrorCode.STORE_UNAVAILABLE && (ctx.store.health?.().state ?? 'ok') === 'ok')
    ctx.log.warn({ cause: String((error.cause as Error)?.message ?? '') }, 'store unavailable');
  ctx.metrics.rejections.inc({ code: error.code });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = relayHttpStatus(error.code);
  if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
  if (error.code === ErrorCode.STORE_FULL || error.code === ErrorCode.STORE_UNAVAILABLE) res.setHeader('Retry-After', '5');
  writeJson(res, status, JSON.stringify(encodeErrorBody(error)));
}
