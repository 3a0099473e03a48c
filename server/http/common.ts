/**
 * What every route of the relay's HTTP API shares: the async-handler wrapper
 * that routes rejections to the one error middleware, the request readers
 * that refuse malformed input with a typed error (never a 500), the
 * per-address rate limit and the body parsers.
 * @module
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { ErrorCode, fail } from '../../base/errors.js';
import { SESSION_TOKEN, isHex32 } from '../../protocol/relay-frames.js';
import { clientAddress } from '../client-address.js';
import type { RelayContext } from '../context.js';

/** Decimal integer of at most 15 digits (below 2^53). */
export const UINT = /^\d{1,15}$/;
/** Large enough for an ack of MAX_ACK_IDS ids (~67 KB), small enough to bound parsing. */
const JSON_LIMIT = 128 * 1024;

/** Wraps a (possibly async) handler so its rejection reaches the error middleware. */
export function route(fn: (req: Request, res: Response) => Promise<void> | void): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    try {
      const p = fn(req, res);
      if (p) p.catch(next);
    } catch (e) {
      next(e);
    }
  };
}

/** A path or body parameter that must be 64 lowercase hex chars, or BAD_REQUEST. */
export function hexParam(value: unknown, name: string): string {
  if (!isHex32(value)) fail(ErrorCode.BAD_REQUEST, `${name}: expected 64 lowercase hex chars`);
  return value;
}

/** A request header that may appear at most once. */
export function header(req: { headers: IncomingHttpHeaders }, name: string): string | undefined {
  const v = req.headers[name];
  if (Array.isArray(v)) fail(ErrorCode.BAD_REQUEST, `${name}: repeated header`);
  return v;
}

/** The session token of an `Authorization: Bearer` header, if any. */
export function bearer(req: Request): string | undefined {
  const h = header(req, 'authorization');
  if (!h) return undefined;
  const token = h.startsWith('Bearer ') ? h.slice('Bearer '.length) : undefined;
  if (token === undefined || !SESSION_TOKEN.test(token)) fail(ErrorCode.AUTH_REQUIRED, 'Authorization: expected "Bearer <token>"');
  return token;
}

/** An optional integer query parameter in `min..max`. */
export function queryUint(req: Request, name: string, dflt: number, min: number, max: number): number {
  const v = req.query[name];
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !UINT.test(v)) fail(ErrorCode.BAD_REQUEST, `${name}: expected a non-negative integer`);
  const n = Number(v);
  if (n < min || n > max) fail(ErrorCode.BAD_REQUEST, `${name}: expected ${min}..${max}`);
  return n;
}

/** Refuses a body of the wrong type before it is read (no body at all is judged by the route). */
export function requireType(req: Request, type: string): void {
  if (!req.is(type)) fail(ErrorCode.UNSUPPORTED_MEDIA_TYPE, `Content-Type must be ${type}`);
}

/**
 * Sends a JSON body made by one of the protocol's encoders (`protocol/relay-http.ts`),
 * with the headers `res.json` would set.
 */
export function sendJson(res: Response, body: string, status = 200): void {
  res.status(status).type('application/json').send(body);
}

/** Milliseconds since the epoch as ISO 8601. */
export const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Takes one token of the client address's bucket (POST/PUT/DELETE).
 * @throws LnMailboxError RATE_LIMITED, with `Retry-After` set on `res`, when the bucket is empty
 */
export function takeRateToken(ctx: RelayContext, req: IncomingMessage, res: ServerResponse): void {
  const wait = ctx.rate.take(clientAddress(req, ctx.config.trustProxy), ctx.now());
  if (wait > 0) {
    res.setHeader('Retry-After', String(Math.ceil(wait / 1000)));
    fail(ErrorCode.RATE_LIMITED, 'too many requests from this address');
  }
}

/** The pieces the route groups share, built once per app. */
export interface RouteKit {
  ctx: RelayContext;
  /** Per-address token bucket: RATE_LIMITED with Retry-After when empty. */
  limitRate: RequestHandler;
  /** The raw envelope body, at most `maxEnvelopeBytes`. */
  rawEnvelope: RequestHandler;
  /** A strict JSON body of at most 128 KiB. */
  json: RequestHandler;
}

/** Builds the shared middleware of one relay. */
export function routeKit(ctx: RelayContext): RouteKit {
  const { config } = ctx;
  const limitRate = (req: Request, res: Response, next: NextFunction): void => {
    takeRateToken(ctx, req, res);
    next();
  };
  return {
    ctx,
    limitRate,
    rawEnvelope: express.raw({ type: () => true, limit: config.maxEnvelopeBytes, inflate: false }),
    json: express.json({ type: () => true, limit: JSON_LIMIT, inflate: false, strict: true }),
  };
}
