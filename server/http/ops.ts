/**
 * The operator's routes (SPEC 5.9): `/healthz` (the process answers),
 * `/readyz` (a POST would be accepted now), `/v1/info` and `/metrics`.
 * @module
 */
import type { Request, RequestHandler, Response } from 'express';
import { ErrorCode, fail } from '../../base/errors.js';
import { encodeRelayInfo } from '../../protocol/relay-http.js';
import type { RelayContext } from '../context.js';
import { route, sendJson } from './common.js';

/** `GET /healthz`: the process is up. */
export function healthz(): RequestHandler {
  return (_req: Request, res: Response) => {
    res.json({ status: 'ok' });
  };
}

/** `GET /readyz`: not closing, store healthy and above its free-space reserve. */
export function readyz(ctx: RelayContext): RequestHandler {
  return (_req: Request, res: Response) => {
    if (ctx.lifecycle.closing) fail(ErrorCode.SHUTTING_DOWN, 'relay is shutting down');
    // Ready means: a POST would be accepted now. The process itself is /healthz's business.
    const h = ctx.store.health?.();
    if (h && h.state !== 'ok') fail(ErrorCode.STORE_UNAVAILABLE, `store ${h.state}${h.reason ? `: ${h.reason}` : ''}`);
    if (h?.lowSpace)
      fail(ErrorCode.STORE_FULL, `free space ${h.freeBytes ?? '?'} bytes is below the reserve of ${h.reserveBytes ?? '?'} bytes`);
    res.json({ status: 'ready' });
  };
}

/** `GET /v1/info`: protocol version, limits and PoW difficulty. */
export function info(ctx: RelayContext): RequestHandler {
  const body = encodeRelayInfo(ctx.info);
  return (_req: Request, res: Response) => {
    sendJson(res, body);
  };
}

/** `GET /metrics`: Prometheus text format. */
export function metrics(ctx: RelayContext): RequestHandler {
  return route(async (_req, res) => {
    res.setHeader('Content-Type', ctx.metrics.registry.contentType);
    res.end(await ctx.metrics.registry.metrics());
  });
}
