/**
 * The relay's HTTP API v1 (express), exactly as SPEC 5 specifies it.
 * This file only wires: per-route metrics, the health routes, the shutdown
 * gate, then one named handler per route (`ops.ts`, `envelopes.ts`,
 * `auth.ts`, `mailbox.ts`, `records.ts`), and the one error exit that answers
 * `{ error: { code, message } }` with the code's status; no route can answer
 * 500 (`../http-errors.ts`).
 * @module
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { ErrorCode, fail } from '../../base/errors.js';
import { RelayPath } from '../../protocol/relay.js';
import type { RelayContext } from '../context.js';
import { authChallenge, authSession } from './auth.js';
import { routeKit } from './common.js';
import { sendError } from './error-exit.js';
import { envelopeStatus, postEnvelope, retractEnvelope } from './envelopes.js';
import { ackEnvelopes, listEnvelopes } from './mailbox.js';
import { deleteRecord, getRecord, putRecord } from './records.js';
import { healthz, info, metrics, readyz } from './ops.js';

/** Builds the express app of one relay. */
export function createHttpApp(ctx: RelayContext): express.Express {
  const { config } = ctx;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);
  const kit = routeKit(ctx);

  // Metrics by route pattern (never the concrete path: it holds mailbox ids).
  app.use((req, res, next) => {
    res.on('finish', () => {
      const r = req.route as { path?: unknown } | undefined;
      ctx.metrics.httpRequests.inc({
        route: typeof r?.path === 'string' ? r.path : 'unmatched',
        method: req.method,
        status: String(res.statusCode),
      });
    });
    res.setHeader('Cache-Control', 'no-store');
    next();
  });

  // HEAD is not a method of this API (SPEC 5.3): express would run the GET
  // route for it, and a HEAD of a listing would then mark envelopes
  // delivered that nobody received.
  app.use((req, _res, next) => {
    if (req.method === 'HEAD') fail(ErrorCode.NOT_FOUND, 'no such route or method');
    next();
  });

  app.get(RelayPath.healthz, healthz());
  app.get(RelayPath.readyz, readyz(ctx));

  // From here on, a closing relay turns requests away (SPEC 5.11, "Shutdown").
  app.use((_req, res, next) => {
    if (ctx.lifecycle.closing) {
      res.setHeader('Connection', 'close');
      fail(ErrorCode.SHUTTING_DOWN, 'relay is shutting down');
    }
    next();
  });

  app.get(RelayPath.info, info(ctx));
  app.get(RelayPath.metrics, metrics(ctx));
  app.post(RelayPath.postEnvelope, ...postEnvelope(kit));
  app.get(RelayPath.status, ...envelopeStatus(kit));
  app.delete(RelayPath.retract, ...retractEnvelope(kit));
  app.post(RelayPath.challenge, ...authChallenge(kit));
  app.post(RelayPath.session, ...authSession(kit));
  app.get(RelayPath.listEnvelopes, ...listEnvelopes(kit));
  app.post(RelayPath.ack, ...ackEnvelopes(kit));
  app.put(RelayPath.record, ...putRecord(kit));
  app.get(RelayPath.record, ...getRecord(kit));
  app.delete(RelayPath.record, ...deleteRecord(kit));

  app.use(() => {
    fail(ErrorCode.NOT_FOUND, 'no such route');
  });

  // The one error exit (shared with the lean envelope POST).
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => sendError(ctx, req.method, res, err));

  return app;
}
