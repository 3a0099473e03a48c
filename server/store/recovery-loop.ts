/**
 * Retries a store's recovery with backoff until it succeeds, gives up for
 * good (a damaged store), or the store closes. One attempt runs at a time.
 * @module
 */

/** What one attempt reports: `ok` (done), `retry` (try again later), `final` (stop trying). */
export type AttemptResult = 'ok' | 'retry' | 'final';

/** Options of {@link RecoveryLoop}. */
export interface RecoveryLoopOptions {
  /** One recovery attempt. Must not throw (report `retry` instead). */
  attempt: () => Promise<AttemptResult>;
  /** First delay before an attempt, ms (default 100). */
  minDelayMs?: number;
  /** Delay cap, ms (default 1000: recovery is tried every second while the fault lasts). */
  maxDelayMs?: number;
}

/** Schedules recovery attempts with doubling delays. */
export class RecoveryLoop {
  readonly #opts: RecoveryLoopOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #delay: number;
  #stopped = false;

  constructor(opts: RecoveryLoopOptions) {
    this.#opts = opts;
    this.#delay = opts.minDelayMs ?? 100;
  }

  /** True while an attempt is scheduled or running. */
  get active(): boolean {
    return this.#timer !== undefined || this.#running !== undefined;
  }

  /** Schedules an attempt unless one is already pending. */
  start(): void {
    if (this.#stopped || this.active) return;
    this.#delay = this.#opts.minDelayMs ?? 100;
    this.#schedule();
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#opts.attempt().then((r) => {
        this.#running = undefined;
        if (r !== 'retry' || this.#stopped) return;
        this.#delay = Math.min(this.#delay * 2, this.#opts.maxDelayMs ?? 1000);
        this.#schedule();
      });
    }, this.#delay);
    this.#timer.unref();
  }

  /** Stops retrying and waits for a running attempt. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
