/**
 * What the HTTP and WebSocket front ends share: configuration, store, auth,
 * limits, metrics, logger, clock and lifecycle. Built once by `relay.ts`.
 * @module
 */
import type { RelayInfo } from '../protocol/relay.js';
import type { MailboxAuth } from './sessions.js';
import type { RelayConfig } from './config.js';
import type { Fanout } from './fanout.js';
import type { ConnectionLimiter, RateLimiter } from './limits.js';
import type { Logger } from './log.js';
import type { RelayMetrics } from './metrics.js';
import type { RelayStore } from './store/types.js';

/** Shared state of one relay instance. */
export interface RelayContext {
  config: RelayConfig;
  store: RelayStore;
  auth: MailboxAuth;
  fanout: Fanout;
  rate: RateLimiter;
  connections: ConnectionLimiter;
  metrics: RelayMetrics;
  log: Logger;
  /** The clock, ms since the epoch (injectable for tests). */
  now: () => number;
  /** `GET /v1/info` body, built once. */
  info: RelayInfo;
  /** Lifecycle flags read by the front ends. */
  lifecycle: { closing: boolean };
}

/** Largest total envelope size of one listing page or backlog page. */
export const PAGE_BYTES = 1024 * 1024;
