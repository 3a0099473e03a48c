/**
 * Reconnect delays: capped exponential backoff with "equal jitter" (AWS
 * Architecture Blog, "Exponential Backoff And Jitter"). Jitter spreads the
 * reconnect storm when a relay restarts and every wallet reconnects at once;
 * keeping half of the delay fixed stops a client hammering a relay that is down.
 * @module
 */
import { ErrorCode, fail } from '../../base/errors.js';

/** Bounds of the reconnect delay, in milliseconds. */
export interface BackoffOptions {
  /** Delay before the first retry (before jitter). Default 250. */
  minMs: number;
  /**
   * Largest delay, however many failures in a row. Default 3000: a role
   * whose relay restarted is back within a few seconds (with jitter, the
   * reconnects of many wallets still spread over half of it).
   */
  maxMs: number;
}

/** Default reconnect bounds. */
export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({ minMs: 250, maxMs: 3000 });

/**
 * Validates backoff bounds (both finite, `0 <= minMs <= maxMs`), filling defaults.
 * @throws LnMailboxError INVALID_TYPE, INVALID_RANGE
 */
export function backoffOptions(o: Partial<BackoffOptions> | undefined): BackoffOptions {
  if (o !== undefined && (typeof o !== 'object' || o === null)) fail(ErrorCode.INVALID_TYPE, 'reconnect: expected { minMs, maxMs }');
  const minMs = o?.minMs ?? DEFAULT_BACKOFF.minMs;
  const maxMs = o?.maxMs ?? Math.max(DEFAULT_BACKOFF.maxMs, minMs);
  for (const [k, v] of [
    ['minMs', minMs],
    ['maxMs', maxMs],
  ] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(ErrorCode.INVALID_TYPE, `reconnect.${k}: expected a finite number`);
    if (v < 0) fail(ErrorCode.INVALID_RANGE, `reconnect.${k}: must be >= 0, got ${v}`);
  }
  if (minMs > maxMs) fail(ErrorCode.INVALID_RANGE, `reconnect: minMs (${minMs}) > maxMs (${maxMs})`);
  return { minMs, maxMs };
}

/**
 * The delay before retry number `attempt` (0 for the first retry):
 * `d = min(maxMs, minMs * 2^attempt)`, then a uniform draw in `[d/2, d]`.
 * @param random a uniform draw in [0, 1); injectable so tests are deterministic
 */
export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  if (!Number.isSafeInteger(attempt) || attempt < 0) fail(ErrorCode.INVALID_RANGE, `attempt: expected an integer >= 0, got ${attempt}`);
  // 2^attempt overflows to Infinity for large attempts; min() keeps it capped.
  const d = Math.min(o.maxMs, o.minMs * 2 ** Math.min(attempt, 1024));
  const r = random();
  const u = r >= 0 && r < 1 ? r : 0;
  return Math.round(d / 2 + (u * d) / 2);
}
