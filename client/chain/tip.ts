/**
 * The tip height of a {@link ChainSource}, cached and refreshed by a poll, so
 * that synchronous code (a role runtime's step context) can read the height
 * without awaiting the network.
 * @module
 */
import { ErrorCode, fail } from '../../base/errors.js';
import type { ChainSource } from './source.js';

/** Options of {@link ChainTip}. */
export interface ChainTipOptions {
  /** How often to ask the source for the tip, ms. Default 30 000. */
  readonly pollMs?: number;
  /** Called when the height moves up. */
  readonly onHeight?: (height: number) => void;
  /** Called when a poll fails (the last known height stays in use). */
  readonly onError?: (e: unknown) => void;
}

/**
 * A cached tip height. {@link ChainTip.start} reads it once (and fails when
 * the source cannot answer), then polls. The height never moves down: a
 * backend behind a load balancer may answer from a node a block behind, and
 * a reorg deeper than the poll interval is not this cache's business.
 */
export class ChainTip {
  readonly #source: ChainSource;
  readonly #opts: ChainTipOptions;
  #height: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(source: ChainSource, opts: ChainTipOptions = {}) {
    this.#source = source;
    this.#opts = opts;
    const ms = opts.pollMs ?? 30_000;
    if (!Number.isFinite(ms) || ms <= 0) fail(ErrorCode.INVALID_RANGE, `pollMs ${ms}`);
  }

  /** The last known tip height. Throws CHAIN_UNREACHABLE before the first successful read. */
  height(): number {
    if (this.#height === undefined) fail(ErrorCode.CHAIN_UNREACHABLE, 'chain tip not read yet (start() first)');
    return this.#height as number;
  }

  /** Asks the source now; returns the (cached, never lower) height. */
  async refresh(): Promise<number> {
    const h = await this.#source.tipHeight();
    if (this.#height === undefined || h > this.#height) {
      this.#height = h;
      this.#opts.onHeight?.(h);
    }
    return this.#height;
  }

  /** Reads the tip once (rejecting when the source cannot answer), then polls until {@link ChainTip.stop}. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.refresh();
    this.#schedule();
  }

  /** Stops polling. The last height stays readable. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.refresh().then(
        () => this.#schedule(),
        (e: unknown) => {
          this.#opts.onError?.(e);
          this.#schedule();
        },
      );
    }, this.#opts.pollMs ?? 30_000);
    // Node: the poll alone does not keep a process alive (browsers have no unref).
    (this.#timer as { unref?: () => void }).unref?.();
  }
}
