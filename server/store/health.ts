/**
 * The write health of a relay store, shared by both backends: whether the
 * store may acknowledge writes now, and why not (docs/operators.md, "When
 * the disk fills").
 *
 *   ok ──(write or fsync error)──▶ failed ──(attempt)──▶ recovering ──▶ ok
 *                                    ▲                        │
 *                                    └──(attempt failed)──────┤
 *                                                             └──▶ damaged (verification failed; stays)
 *
 * While the state is not `ok` every write is refused with
 * `STORE_UNAVAILABLE`; below the free-space reserve (`lowSpace`) new
 * envelopes are refused with `STORE_FULL` while deletes, acks, retractions
 * and sweeps still go through.
 * @module
 */
import { ErrorCode, LnMailboxError } from '../../base/errors.js';

/** Write state of a store; see the module comment for the transitions. */
export type StoreState = 'ok' | 'failed' | 'recovering' | 'damaged';

/** Every {@link StoreState}, for metrics. */
export const STORE_STATES: readonly StoreState[] = ['ok', 'failed', 'recovering', 'damaged'];

/** Why a write was refused: the store's state, or `low_space` (the free-space reserve). */
export type RefusalReason = Exclude<StoreState, 'ok'> | 'low_space';

/** Outcome of one recovery attempt. */
export type RecoveryOutcome = 'ok' | 'failed' | 'damaged';

/** A snapshot of a store's health, for `/readyz`, `/metrics` and logs. */
export interface StoreHealth {
  state: StoreState;
  /** Human-readable cause of the current state (the error that failed the store, or the failed check). */
  reason?: string;
  /** True while new envelopes are refused because free space is below the reserve. */
  lowSpace: boolean;
  /** Free bytes available to the store's filesystem, when the backend knows it. */
  freeBytes?: number;
  /** The free-space reserve in bytes, when the backend enforces one. */
  reserveBytes?: number;
  /** Writes refused so far, by reason (cumulative). */
  refusals: Record<RefusalReason, number>;
  /** Recovery attempts so far, by outcome (cumulative). */
  recoveries: Record<RecoveryOutcome, number>;
}

/** Called on every state change (and on entering or leaving low space), with a short description. */
export type HealthListener = (health: StoreHealth, event: string) => void;

/** Keeps one store's {@link StoreHealth} and reports its changes. */
export class HealthTracker {
  #state: StoreState = 'ok';
  #reason: string | undefined;
  #lowSpace = false;
  readonly #refusals: Record<RefusalReason, number> = { failed: 0, recovering: 0, damaged: 0, low_space: 0 };
  readonly #recoveries: Record<RecoveryOutcome, number> = { ok: 0, failed: 0, damaged: 0 };
  readonly #listener: HealthListener | undefined;
  #space: () => { freeBytes?: number; reserveBytes?: number } = () => ({});

  constructor(listener?: HealthListener) {
    this.#listener = listener;
  }

  /** Current state. */
  get state(): StoreState {
    return this.#state;
  }

  /** Plugs in the free-space figures shown in {@link snapshot}. */
  set space(fn: () => { freeBytes?: number; reserveBytes?: number }) {
    this.#space = fn;
  }

  /** Moves to `state` (no-op when already there with the same reason). */
  set(state: StoreState, reason?: string): void {
    if (this.#state === state && this.#reason === reason) return;
    // Damaged is final for this process: only an operator (restart after repair) leaves it.
    if (this.#state === 'damaged') return;
    this.#state = state;
    this.#reason = state === 'ok' ? undefined : reason;
    this.#listener?.(this.snapshot(), state);
  }

  /** Records one recovery attempt's outcome. */
  recovered(outcome: RecoveryOutcome): void {
    this.#recoveries[outcome]++;
  }

  /** Sets the low-space flag (reported on change). */
  setLowSpace(low: boolean): void {
    if (low === this.#lowSpace) return;
    this.#lowSpace = low;
    this.#listener?.(this.snapshot(), low ? 'low_space' : 'space_ok');
  }

  /** True while new envelopes are refused for lack of space. */
  get lowSpace(): boolean {
    return this.#lowSpace;
  }

  /**
   * The error for a refused write, counted by reason, or undefined when the
   * write may go ahead. `append` also honours the free-space reserve.
   */
  refusal(append: boolean): LnMailboxError | undefined {
    if (this.#state !== 'ok') {
      this.#refusals[this.#state]++;
      return new LnMailboxError(
        ErrorCode.STORE_UNAVAILABLE,
        `store ${this.#state}${this.#reason ? `: ${this.#reason}` : ''}; nothing acknowledged was lost, retry later`,
      );
    }
    if (append && this.#lowSpace) {
      this.#refusals.low_space++;
      return new LnMailboxError(ErrorCode.STORE_FULL, 'the relay is low on disk space and accepts no new envelopes now; retry later');
    }
    return undefined;
  }

  /** A copy of the current health. */
  snapshot(): StoreHealth {
    const h: StoreHealth = {
      state: this.#state,
      lowSpace: this.#lowSpace,
      refusals: { ...this.#refusals },
      recoveries: { ...this.#recoveries },
      ...this.#space(),
    };
    if (this.#reason !== undefined) h.reason = this.#reason;
    return h;
  }
}

/** A short, log-safe description of an I/O error (its code and first message line). */
export function describeError(e: unknown): string {
  const parts: string[] = [];
  // abstract-level wraps the I/O error ("Database failed to open" ← "IO error: …: No space left on device").
  for (let x: unknown = e, depth = 0; x !== undefined && x !== null && depth < 3; x = (x as { cause?: unknown }).cause, depth++) {
    const code = (x as { code?: unknown }).code;
    const msg = String((x as Error).message ?? x)
      .split('\n')[0]!
      .slice(0, 200);
    parts.push(typeof code === 'string' && !msg.includes(code) ? `${code}: ${msg}` : msg);
  }
  return parts.join(' ← ');
}
