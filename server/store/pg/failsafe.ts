/**
 * The PostgreSQL store's fail-safe write path (docs/operators.md, "When the
 * disk fills"): the health state machine of `../health.ts` applied to
 * PostgreSQL, as `../level/failsafe.ts` applies it to LevelDB.
 *
 * A write that fails for any reason other than the caller's (a lost
 * connection, a failed COMMIT, a database restart, a full disk) puts the
 * store in `failed`: writes are refused at once instead of each waiting for
 * its own timeout, and a write probe is retried with backoff
 * ({@link RecoveryLoop}) until the database commits again. Unlike LevelDB's,
 * this recovery re-checks nothing: PostgreSQL's transactions are
 * all-or-nothing and a COMMIT that did not answer is never reported as
 * success, so nothing unacknowledged was acknowledged, and nothing
 * acknowledged can have been lost by the failure.
 * @module
 */
import type { LnMailboxError } from '../../../base/errors.js';
import { HealthTracker, describeError, type HealthListener, type StoreHealth, type StoreState } from '../health.js';
import { RecoveryLoop, type AttemptResult } from '../recovery-loop.js';

/** Settings of the fail-safe path, as {@link PgStoreOptions} carries them. */
export interface PgFailSafeSettings {
  /** Called on every health change (failed, recovering, ok). */
  onHealth?: HealthListener;
  /** First and largest delay between write probes while failed, ms. Default 100 and 1000. */
  recoveryDelayMs?: { min: number; max: number };
}

/** What the fail-safe path needs from the store it guards. */
export interface PgFailSafeStore {
  /** True while the store is open (probing stops once it closes). */
  isOpen(): boolean;
  /**
   * One committed write (not just a read: a full disk still answers SELECT),
   * then a reload of whatever the store caches from the database, which is
   * the truth after a failure. Throws when the database does not commit.
   */
  probe(): Promise<void>;
}

/** Health, refusals and probing of one PostgreSQL store. */
export class PgFailSafe {
  readonly #store: PgFailSafeStore;
  readonly #health: HealthTracker;
  readonly #recovery: RecoveryLoop;
  /** The write error that failed the store (kept across probes). */
  #cause: string | undefined;

  constructor(store: PgFailSafeStore, settings: PgFailSafeSettings = {}) {
    this.#store = store;
    this.#health = new HealthTracker(settings.onHealth);
    this.#recovery = new RecoveryLoop({
      attempt: () => this.#attempt(),
      minDelayMs: settings.recoveryDelayMs?.min ?? 100,
      maxDelayMs: settings.recoveryDelayMs?.max ?? 1000,
    });
  }

  /** Current health state. */
  get state(): StoreState {
    return this.#health.state;
  }

  /** The error to refuse a write with now (counted), or undefined when writes are accepted. */
  refusal(newEnvelope: boolean): LnMailboxError | undefined {
    return this.#health.refusal(newEnvelope);
  }

  /** Records a write's fault: refuses writes until a write probe commits again. */
  fail(e: unknown): void {
    // A probe in flight decides the outcome; a late failure of an older statement does not interrupt it.
    if (!this.#store.isOpen() || this.#health.state === 'recovering') return;
    if (this.#health.state === 'ok') this.#cause = `write failed: ${describeError(e)}`;
    this.#health.set('failed', this.#cause);
    this.#recovery.start();
  }

  async #attempt(): Promise<AttemptResult> {
    if (!this.#store.isOpen()) return 'final';
    const cause = this.#cause;
    this.#health.set('recovering', cause);
    try {
      await this.#store.probe();
      this.#health.recovered('ok');
      this.#health.set('ok');
      return 'ok';
    } catch (e) {
      this.#health.recovered('failed');
      this.#health.set('failed', `${cause ?? 'write failed'}; write probe failed: ${describeError(e)}`);
      return 'retry';
    }
  }

  /** The store's write health (state, refusals, recoveries). Free space is the database server's to watch. */
  health(): StoreHealth {
    return this.#health.snapshot();
  }

  /** Stops probing (on close); resolves once an attempt in flight has ended. */
  stop(): Promise<void> {
    return this.#recovery.stop();
  }
}
