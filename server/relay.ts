/**
 * Starts and stops one relay: store, HTTP API, WebSocket push, sweeper,
 * metrics, all on one HTTP server (SPEC 5).
 *
 * Shutdown order: refuse new work, stop accepting
 * connections, close WebSockets with 1001, let in-flight requests finish
 * (their group commit flushes), then close the store. Nothing that got a
 * 201 is lost, and nothing in flight gets a 201 after the store is gone.
 * @module
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, LnMailboxError } from '../base/errors.js';
import { RELAY_PROTOCOL_VERSION, type RelayInfo } from '../protocol/relay.js';
import { MailboxAuth } from './sessions.js';
import { resolveConfig, type RelayConfig, type StoreKind } from './config.js';
import type { RelayContext } from './context.js';
import { Fanout } from './fanout.js';
import { createHttpApp } from './http/app.js';
import { corsPolicy, createCors } from './http/cors.js';
import { leanPost } from './http/lean-post.js';
import { rawErrorResponse } from './http-errors.js';
import { ConnectionLimiter, RateLimiter } from './limits.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics } from './metrics.js';
import { LevelStore } from './store/level/store.js';
import { PgStore } from './store/pg/store.js';
import type { StoreHealth } from './store/health.js';
import type { RelayStore, SweepResult } from './store/types.js';
import { Sweeper } from './sweeper.js';
import { WsFrontEnd } from './ws.js';

/** Software version reported by `GET /v1/info` (kept equal to package.json by a test). */
export const RELAY_SOFTWARE_VERSION = '0.1.0';

/** Options of {@link startRelay}: any {@link RelayConfig} setting, plus what only code can pass. */
export interface StartRelayOptions extends Partial<Omit<RelayConfig, 'store'>> {
  /** Clock in ms since the epoch; inject to drive expiry and auth timeouts in tests. Default `Date.now`. */
  now?: () => number;
  /**
   * The `store` setting (`level` or `postgres`), or a store object to use
   * instead of one built from the settings. The relay flushes an injected
   * store on close but does not close it.
   */
  store?: StoreKind | RelayStore;
  /** A pino logger to use instead of one writing to stdout at `logLevel`. */
  logger?: Logger;
}

/** A running relay. */
export interface Relay {
  /** Base URL it listens on, e.g. `http://127.0.0.1:54321` (not the public URL). */
  readonly url: string;
  /** The bound port (useful with `port: 0`). */
  readonly port: number;
  /** The resolved configuration. */
  readonly config: RelayConfig;
  /** Open WebSocket connections. */
  readonly connections: number;
  /** Runs the expiry sweep now (it also runs every `sweepIntervalMs`). */
  sweep(): Promise<SweepResult>;
  /** Graceful shutdown; idempotent. */
  close(): Promise<void>;
}

/** Logs a store health change at the level it deserves: damaged is an error an operator must act on. */
function logHealth(log: Logger, h: StoreHealth, event: string): void {
  const fields = { state: h.state, reason: h.reason, lowSpace: h.lowSpace, freeBytes: h.freeBytes, reserveBytes: h.reserveBytes };
  switch (event) {
    case 'damaged':
      log.error(
        fields,
        'store DAMAGED: acknowledged data is missing after recovery; refusing all writes (see docs/operators.md, "When the disk fills")',
      );
      break;
    case 'failed':
      log.warn(fields, 'store failed a write: refusing writes until a reopen proves nothing acknowledged was lost');
      break;
    case 'recovering':
      log.info(fields, 'store recovering: closing, reopening and verifying');
      break;
    case 'ok':
      log.info(fields, 'store recovered: accepting writes again');
      break;
    case 'low_space':
      log.warn(fields, 'store below its free-space reserve: refusing new envelopes (STORE_FULL)');
      break;
    case 'space_ok':
      log.info(fields, 'store free space back above the reserve: accepting new envelopes');
      break;
  }
}

/** Grace for in-flight HTTP requests on shutdown before their connections are cut. */
const HTTP_DRAIN_MS = 5000;

function relayInfo(cfg: RelayConfig): RelayInfo {
  return {
    protocol: RELAY_PROTOCOL_VERSION,
    software: 'ln-mailbox',
    version: RELAY_SOFTWARE_VERSION,
    limits: {
      maxEnvelopeBytes: cfg.maxEnvelopeBytes,
      maxTtlSeconds: cfg.maxTtlSeconds,
      defaultTtlSeconds: cfg.defaultTtlSeconds,
      maxEnvelopesPerMailbox: cfg.maxEnvelopesPerMailbox,
      maxBytesPerMailbox: cfg.maxBytesPerMailbox,
      maxFrameBytes: cfg.maxFrameBytes,
      authTimeoutMs: cfg.authTimeoutMs,
    },
    powBits: cfg.powBits,
  };
}

/**
 * Starts a relay and resolves once it is listening.
 * @throws LnMailboxError INVALID_TYPE / INVALID_RANGE for a bad setting, STORE_UNAVAILABLE when the store cannot open
 */
export async function startRelay(options: StartRelayOptions = {}): Promise<Relay> {
  const { now = Date.now, store: storeOption, logger, ...settings } = options;
  const injected = typeof storeOption === 'object' && storeOption !== null ? storeOption : undefined;
  const config = resolveConfig(injected || storeOption === undefined ? settings : { ...settings, store: storeOption });
  const log = logger ?? createLogger(config.logLevel);

  let metrics: ReturnType<typeof createMetrics> | undefined;
  const fanout = new Fanout();
  let store: RelayStore;
  if (injected) store = injected;
  else if (config.store === 'postgres') {
    // Several instances may share this database (docs/operators.md, "Several relay instances").
    store = new PgStore({
      connectionString: config.databaseUrl!,
      expiredRetentionMs: config.expiredRetentionSeconds * 1000,
      onError: (e) => log.warn({ code: (e as { code?: unknown })?.code }, 'postgres store: background failure'),
      // Envelopes posted to other instances are read back only for mailboxes someone here listens to.
      wants: (mailbox) => fanout.has(mailbox),
      onHealth: (h, event) => logHealth(log, h, event),
    });
  } else {
    fs.mkdirSync(config.dataDir, { recursive: true });
    store = new LevelStore({
      location: config.dataDir,
      expiredRetentionMs: config.expiredRetentionSeconds * 1000,
      minFreeBytes: config.minFreeBytes,
      minFreePercent: config.minFreePercent,
      onHealth: (h, event) => logHealth(log, h, event),
      onBatch: ({ ops, seconds }) => {
        metrics?.storeWriteSeconds.observe(seconds);
        metrics?.storeBatchOps.observe(ops);
      },
    });
  }
  await store.open();
  const replay = store instanceof LevelStore ? store.lastReplay : undefined;
  if (replay && replay.records > 0) {
    // After an unclean stop: what the log gave back to the index (docs/design.md, "The envelope log is the write-ahead log").
    const { records, reindexed, tombstones, orphans } = replay;
    log.info({ records, reindexed, tombstones, orphans }, 'store: replayed the envelope log above its checkpoint');
  }
  metrics = createMetrics(
    () => store.totals(),
    () => store.health?.(),
  );

  const ctx: RelayContext = {
    config,
    store,
    auth: new MailboxAuth({
      challengeTtlMs: config.challengeTtlSeconds * 1000,
      sessionTtlMs: config.sessionTtlSeconds * 1000,
      maxChallenges: config.maxPendingChallenges,
      maxSessions: config.maxSessions,
    }),
    fanout,
    rate: new RateLimiter(config.postRatePerSecond, config.postBurst),
    connections: new ConnectionLimiter(config.maxConnectionsPerIp),
    metrics,
    log,
    now,
    info: relayInfo(config),
    lifecycle: { closing: false },
  };
  const offAppend = store.onAppend((mailbox, envelope) => ctx.fanout.publish(mailbox, envelope));

  const app = createHttpApp(ctx);
  // CORS first, for every route however it is handled (preflights end there);
  // then the envelope POST, the hot path, which skips express when it has its
  // ordinary form (http/lean-post.ts); then express for everything else.
  const cors = createCors(corsPolicy(config.corsOrigins));
  const lean = leanPost(ctx);
  const server = http.createServer((req, res) => {
    if (!cors(req, res) && !lean(req, res)) app(req, res);
  });
  // Slow-loris bounds: a client must send its headers and body in time.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  const ws = new WsFrontEnd(ctx);
  server.on('upgrade', (req, socket, head) => ws.handleUpgrade(req, socket, head));
  server.on('clientError', (_err, socket) => {
    // Malformed HTTP never reaches express: answer 400 in our error shape and drop the socket.
    if (socket.writable) socket.end(rawErrorResponse(new LnMailboxError(ErrorCode.BAD_REQUEST, 'malformed HTTP request')));
    else socket.destroy();
  });

  const sweeper = new Sweeper({
    store,
    intervalMs: config.sweepIntervalMs,
    now,
    onRound: (r) => {
      metrics?.envelopesExpired.inc(r.expired);
    },
    onError: (e) => log.warn({ err: (e as Error)?.message }, 'expiry sweep failed'),
  });
  const prune = setInterval(() => {
    ctx.auth.prune(now());
    ctx.rate.prune(now());
  }, 60_000);
  prune.unref();

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    clearInterval(prune);
    metrics.stop();
    await ws.close();
    offAppend();
    if (!injected) await store.close();
    throw e;
  }
  sweeper.start();

  const addr = server.address() as AddressInfo;
  const hostForUrl = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  const url = `http://${hostForUrl}:${addr.port}`;
  log.info(
    {
      url,
      store: injected ? 'injected' : config.store,
      dataDir: injected || config.store !== 'level' ? undefined : config.dataDir,
      powBits: config.powBits,
    },
    'relay listening',
  );
  if (!config.publicUrl)
    log.warn(
      'publicUrl is not set: auth signatures are checked against the Host header of each request. ' +
        'Set --public-url to the URL clients use (e.g. https://relay.example) so a signature made for another relay can never be accepted here.',
    );

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    ctx.lifecycle.closing = true;
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await ws.close();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([serverClosed, new Promise((r) => (timer = setTimeout(r, HTTP_DRAIN_MS)))]);
    clearTimeout(timer);
    server.closeAllConnections();
    await sweeper.stop();
    clearInterval(prune);
    metrics.stop();
    offAppend();
    if (injected) await store.flush();
    else await store.close();
    log.info('relay closed');
  };

  return {
    url,
    port: addr.port,
    config,
    get connections() {
      return ws.size;
    },
    sweep: () => sweeper.sweep(),
    close: () => (closing ??= close()),
  };
}
