/**
 * Periodic expiry (SPEC 5.5, "Status and retraction": the `expired` status): expired envelopes are turned
 * into `expired` tombstones and old tombstones are purged, in bounded rounds
 * so one sweep never holds the event loop or a huge batch. Expired envelopes
 * are never served even before the sweep reaches them (the store filters by
 * time on every read); the sweep only reclaims space and quota.
 * @module
 */
import type { RelayStore, SweepResult } from './store/types.js';

/** Options of {@link Sweeper}. */
export interface SweeperOptions {
  store: RelayStore;
  intervalMs: number;
  now: () => number;
  /** Index entries handled per round. */
  roundLimit?: number;
  /** Called after each round (metrics, logs). */
  onRound?: (r: SweepResult) => void;
  /** Called when a round fails (the next interval retries). */
  onError?: (e: unknown) => void;
}

/**
 * Index entries per sweep round by default: small enough that a round's batch
 * (about five operations per envelope) does not delay the ingest batches it
 * shares the group commit with (docs/performance.md, sweep row).
 */
const DEFAULT_SWEEP_ROUND = 200;

/** Runs the store's sweep on an interval. */
export class Sweeper {
  readonly #opts: SweeperOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<SweepResult> | undefined;

  constructor(opts: SweeperOptions) {
    this.#opts = opts;
  }

  /** Starts the interval (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.sweep().catch((e: unknown) => this.#opts.onError?.(e)), this.#opts.intervalMs);
    this.#timer.unref();
  }

  /** Sweeps now, round after round until no work is due; concurrent calls share the run. */
  sweep(): Promise<SweepResult> {
    this.#running ??= this.#sweepAll().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #sweepAll(): Promise<SweepResult> {
    const total: SweepResult = { expired: 0, purged: 0, more: false };
    for (let round = 0; round < 1000; round++) {
      const r = await this.#opts.store.sweep(this.#opts.now(), this.#opts.roundLimit ?? DEFAULT_SWEEP_ROUND);
      this.#opts.onRound?.(r);
      total.expired += r.expired;
      total.purged += r.purged;
      if (!r.more) return total;
      // Let requests in between rounds.
      await new Promise((res) => setImmediate(res));
    }
    total.more = true;
    return total;
  }

  /** Stops the interval and waits for a running sweep. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }
}
