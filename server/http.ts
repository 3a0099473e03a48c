/**
 * The relay's HTTP API v1 (express), exactly as SPEC section 5 specifies it:
 * info, post, status, retract, auth challenge/session, list, ack, plus
 * healthz/readyz/metrics. Every rejection goes through one error middleware
 * that answers `{ error: { code, message } }` with the code's status; no
 * route can answer 500 (`http-errors.ts`).
 * @module
 */
import { createHash } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ErrorCode, fail } from '../base/errors.js';
import { parseEnvelopeHeader } from '../protocol/envelope.js';
import { bytesToHex, hexToBytes } from '../base/bytes.js';
import {
  MAX_ACK_IDS, RelayHeader, RelayPath, checkPow, isHex32,
  type PostEnvelopeResponse, type StoredEnvelopeJson,
} from '../protocol/relay.js';
import { verifyAuthSignature } from './auth.js';
import { clientAddress, requestOrigin } from './client-address.js';
import { PAGE_BYTES, type RelayContext } from './context.js';
import { errorBody, httpStatus, toRelayError } from './http-errors.js';

const HEX16 = /^[0-9a-f]{16}$/;
const UINT = /^\d{1,15}$/;
/** Large enough for an ack of MAX_ACK_IDS ids (~67 KB), small enough to bound parsing. */
const JSON_LIMIT = 128 * 1024;

/** Wraps an async handler so its rejection reaches the error middleware. */
function route(fn: (req: Request, res: Response) => Promise<void> | void) {
  return (req: Request, res: Response, next: NextFunction): void => {
    try {
      const p = fn(req, res);
      if (p) p.catch(next);
    } catch (e) {
      next(e);
    }
  };
}

function hexParam(value: unknown, name: string): string {
  if (!isHex32(value)) fail(ErrorCode.BAD_REQUEST, `${name}: expected 64 lowercase hex chars`);
  return value;
}

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  if (Array.isArray(v)) fail(ErrorCode.BAD_REQUEST, `${name}: repeated header`);
  return v;
}

function bearer(req: Request): string | undefined {
  const h = header(req, 'authorization');
  if (!h) return undefined;
  const m = /^Bearer ([A-Za-z0-9_-]{1,256})$/.exec(h);
  if (!m) fail(ErrorCode.AUTH_REQUIRED, 'Authorization: expected "Bearer <token>"');
  return m[1];
}

function queryUint(req: Request, name: string, dflt: number, min: number, max: number): number {
  const v = req.query[name];
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !UINT.test(v)) fail(ErrorCode.BAD_REQUEST, `${name}: expected a non-negative integer`);
  const n = Number(v);
  if (n < min || n > max) fail(ErrorCode.BAD_REQUEST, `${name}: expected ${min}..${max}`);
  return n;
}

function requireType(req: Request, type: string): void {
  // No body at all is judged by the route; a body of the wrong type is refused before it is read.
  if (!req.is(type)) fail(ErrorCode.UNSUPPORTED_MEDIA_TYPE, `Content-Type must be ${type}`);
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Builds the express app of one relay. */
export function createHttpApp(ctx: RelayContext): express.Express {
  const { config, store, auth, metrics, log, now } = ctx;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);

  const rawEnvelope = express.raw({ type: () => true, limit: config.maxEnvelopeBytes, inflate: false });
  const json = express.json({ type: () => true, limit: JSON_LIMIT, inflate: false, strict: true });
  const ttlMax = config.maxTtlSeconds;

  // Metrics by route pattern (never the concrete path: it holds mailbox ids).
  app.use((req, res, next) => {
    res.on('finish', () => {
      const r = req.route as { path?: unknown } | undefined;
      metrics.httpRequests.inc({
        route: typeof r?.path === 'string' ? r.path : 'unmatched',
        method: req.method,
        status: String(res.statusCode),
      });
    });
    res.setHeader('Cache-Control', 'no-store');
    next();
  });

  app.get(RelayPath.healthz, (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get(RelayPath.readyz, (_req, res) => {
    if (ctx.lifecycle.closing) fail(ErrorCode.SHUTTING_DOWN, 'relay is shutting down');
    // Ready means: a POST would be accepted now. The process itself is /healthz's business.
    const h = store.health?.();
    if (h && h.state !== 'ok') fail(ErrorCode.STORE_UNAVAILABLE, `store ${h.state}${h.reason ? `: ${h.reason}` : ''}`);
    if (h?.lowSpace) fail(ErrorCode.STORE_FULL, `free space ${h.freeBytes ?? '?'} bytes is below the reserve of ${h.reserveBytes ?? '?'} bytes`);
    res.json({ status: 'ready' });
  });

  // From here on, a closing relay turns requests away (SPEC 5, shutdown).
  app.use((_req, res, next) => {
    if (ctx.lifecycle.closing) {
      res.setHeader('Connection', 'close');
      fail(ErrorCode.SHUTTING_DOWN, 'relay is shutting down');
    }
    next();
  });

  const limitRate = (req: Request, res: Response, next: NextFunction): void => {
    const wait = ctx.rate.take(clientAddress(req, config.trustProxy), now());
    if (wait > 0) {
      res.setHeader('Retry-After', String(Math.ceil(wait / 1000)));
      fail(ErrorCode.RATE_LIMITED, 'too many requests from this address');
    }
    next();
  };

  app.get(RelayPath.info, (_req, res) => {
    res.json(ctx.info);
  });

  app.get(
    RelayPath.metrics,
    route(async (_req, res) => {
      res.setHeader('Content-Type', metrics.registry.contentType);
      res.end(await metrics.registry.metrics());
    }),
  );

  app.post(
    RelayPath.postEnvelope,
    limitRate,
    (req, _res, next) => {
      hexParam(req.params.mailbox, 'mailbox');
      requireType(req, 'application/octet-stream');
      next();
    },
    rawEnvelope,
    route(async (req, res) => {
      const mailbox = req.params.mailbox as string;
      const body: unknown = req.body;
      const envelope = body instanceof Uint8Array ? body : new Uint8Array(0);
      const hdr = parseEnvelopeHeader(envelope, config.maxEnvelopeBytes);
      if (bytesToHex(hdr.recipient) !== mailbox)
        fail(ErrorCode.MAILBOX_MISMATCH, 'the envelope is addressed to a different mailbox than the path');

      let ttl = config.defaultTtlSeconds;
      const ttlHeader = header(req, RelayHeader.ttl);
      if (ttlHeader !== undefined) {
        if (!UINT.test(ttlHeader) || Number(ttlHeader) < 1)
          fail(ErrorCode.TTL_INVALID, `${RelayHeader.ttl}: expected a positive integer number of seconds`);
        // Clamped, not refused: the response's expiresAt tells the sender what it got.
        ttl = Math.min(Number(ttlHeader), ttlMax);
      }
      const retractionHash = header(req, RelayHeader.retractionHash);
      if (retractionHash !== undefined && !isHex32(retractionHash))
        fail(ErrorCode.BAD_REQUEST, `${RelayHeader.retractionHash}: expected 64 lowercase hex chars`);

      // envelopeIdHex's definition (sha256 of the bytes), with Node's native hash: faster on 64 KiB bodies.
      const id = createHash('sha256').update(envelope).digest('hex');
      if (config.powBits > 0) {
        const stamp = header(req, RelayHeader.pow);
        if (stamp === undefined) fail(ErrorCode.POW_REQUIRED, `this relay requires ${config.powBits} bits of proof of work`);
        if (!HEX16.test(stamp)) fail(ErrorCode.BAD_REQUEST, `${RelayHeader.pow}: expected 16 lowercase hex chars`);
        if (!checkPow(hexToBytes(id, 32), hexToBytes(stamp, 8), config.powBits))
          fail(ErrorCode.POW_REQUIRED, `proof of work below the required ${config.powBits} bits`);
      }

      const req2 = { id, mailbox, envelope, expiresAt: now() + ttl * 1000 };
      const result = await store.append(
        retractionHash === undefined ? req2 : { ...req2, retractionHash },
        { maxEnvelopes: config.maxEnvelopesPerMailbox, maxBytes: config.maxBytesPerMailbox },
      );
      if (result.created) {
        metrics.envelopesStored.inc();
        metrics.bytesStored.inc(envelope.length);
      } else metrics.envelopesDuplicate.inc();
      const out: PostEnvelopeResponse = { id, seq: result.seq, expiresAt: iso(result.expiresAt) };
      res.status(result.created ? 201 : 200).json(out);
    }),
  );

  app.get(
    RelayPath.status,
    route(async (req, res) => {
      const id = hexParam(req.params.id, 'id');
      const status = await store.status(id, now());
      if (status === undefined) fail(ErrorCode.ENVELOPE_NOT_FOUND, 'no such envelope');
      res.json({ status });
    }),
  );

  app.delete(
    RelayPath.retract,
    limitRate,
    route(async (req, res) => {
      const id = hexParam(req.params.id, 'id');
      const secret = header(req, RelayHeader.retractionSecret);
      if (!isHex32(secret)) fail(ErrorCode.BAD_REQUEST, `${RelayHeader.retractionSecret}: expected 64 lowercase hex chars`);
      const hash = createHash('sha256').update(Buffer.from(secret, 'hex')).digest('hex');
      const status = await store.retract(id, hash, now());
      if (status === 'retracted') metrics.envelopesRetracted.inc();
      res.json({ status });
    }),
  );

  app.post(
    RelayPath.challenge,
    limitRate,
    route((_req, res) => {
      const { challenge, expiresAt } = auth.issueChallenge(now());
      res.json({ challenge, expiresAt: iso(expiresAt) });
    }),
  );

  app.post(
    RelayPath.session,
    limitRate,
    (req, _res, next) => {
      requireType(req, 'application/json');
      next();
    },
    json,
    route((req, res) => {
      const b = req.body as Record<string, unknown> | undefined;
      if (typeof b !== 'object' || b === null || Array.isArray(b)) fail(ErrorCode.BAD_REQUEST, 'expected a JSON object');
      const mailbox = hexParam(b.mailbox, 'mailbox');
      const challenge = hexParam(b.challenge, 'challenge');
      if (typeof b.signature !== 'string' || !/^[0-9a-f]{128}$/.test(b.signature))
        fail(ErrorCode.BAD_REQUEST, 'signature: expected 128 lowercase hex chars');
      const t = now();
      // Consumed before the signature is checked: one challenge, one guess.
      auth.consumeChallenge(challenge, t);
      verifyAuthSignature(requestOrigin(req, config.trustProxy, config.publicUrl), challenge, mailbox, b.signature);
      const session = auth.openSession(mailbox, t);
      res.json({ token: session.token, expiresAt: iso(session.expiresAt) });
    }),
  );

  app.get(
    RelayPath.listEnvelopes,
    route(async (req, res) => {
      const mailbox = hexParam(req.params.mailbox, 'mailbox');
      auth.authorize(bearer(req), mailbox, now());
      const after = queryUint(req, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
      const limit = queryUint(req, 'limit', Math.min(100, config.maxListLimit), 1, config.maxListLimit);
      const page = await store.list(mailbox, after, limit, now(), PAGE_BYTES);
      const envelopes: StoredEnvelopeJson[] = page.envelopes.map((e) => ({
        id: e.id,
        seq: e.seq,
        envelope: Buffer.from(e.envelope.buffer, e.envelope.byteOffset, e.envelope.byteLength).toString('base64'),
        expiresAt: iso(e.expiresAt),
      }));
      store.markDelivered(envelopes.map((e) => e.id));
      metrics.envelopesDelivered.inc({ via: 'http' }, envelopes.length);
      res.json({ envelopes, more: page.more });
    }),
  );

  app.post(
    RelayPath.ack,
    limitRate,
    (req, _res, next) => {
      const mailbox = hexParam(req.params.mailbox, 'mailbox');
      // Authorize before reading the body: strangers do not get to upload.
      auth.authorize(bearer(req), mailbox, now());
      requireType(req, 'application/json');
      next();
    },
    json,
    route(async (req, res) => {
      const mailbox = req.params.mailbox as string;
      const b = req.body as Record<string, unknown> | undefined;
      if (typeof b !== 'object' || b === null || Array.isArray(b)) fail(ErrorCode.BAD_REQUEST, 'expected a JSON object');
      const ids = b.ids;
      if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_ACK_IDS || !ids.every(isHex32))
        fail(ErrorCode.BAD_REQUEST, `ids: expected 1..${MAX_ACK_IDS} envelope ids (64 lowercase hex chars)`);
      const acked = await store.ack(mailbox, ids as string[]);
      metrics.envelopesAcked.inc(acked.length);
      res.json({ acked: acked.length });
    }),
  );

  app.use(() => {
    fail(ErrorCode.NOT_FOUND, 'no such route');
  });

  // The one error exit.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { error, fault } = toRelayError(err);
    if (fault) log.error({ err: { message: (err as Error)?.message, name: (err as Error)?.name }, method: req.method }, 'request failed');
    // A store that is failed, recovering or damaged logged that once when it happened; one line per refused request would flood the log.
    else if (error.code === ErrorCode.STORE_UNAVAILABLE && (store.health?.().state ?? 'ok') === 'ok')
      log.warn({ cause: String((error.cause as Error)?.message ?? '') }, 'store unavailable');
    metrics.rejections.inc({ code: error.code });
    const status = httpStatus(error.code);
    if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    if (error.code === ErrorCode.STORE_FULL || error.code === ErrorCode.STORE_UNAVAILABLE) res.setHeader('Retry-After', '5');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(status).json(errorBody(error));
  });

  return app;
}
