/**
 * The LevelDB store's fail-safe write path (docs/operators.md, "When the disk
 * fills"): the health state machine of `health.ts` applied to LevelDB.
 *
 * - Every batch goes through {@link LevelFailSafe.write}. The first write or
 *   fsync error fails the store: no further batch is written, because a
 *   failed write may have left a torn record at the tail of LevelDB's log,
 *   and LevelDB's recovery drops everything written behind such a tear.
 * - Recovery never retries a write. It closes and reopens the database (so
 *   LevelDB's own log recovery runs and what survived is known), then checks
 *   with the {@link AckLedger} that everything acknowledged before the error
 *   is still there. Only then does the store accept again; if anything is
 *   missing it stays `damaged`. Attempts repeat with backoff
 *   ({@link RecoveryLoop}) until one succeeds, e.g. once space is back.
 * - The free-space reserve ({@link DiskSpaceMonitor}) refuses new envelopes
 *   before the disk is full, so that everything else can still be written.
 * @module
 */
import { ErrorCode, LnMailboxError } from '../../../base/errors.js';
import { DiskSpaceMonitor } from './disk-space.js';
import { HealthTracker, describeError, type HealthListener, type StoreHealth, type StoreState } from '../health.js';
import { AckLedger, type LedgerReader } from './ack-ledger.js';
import type { BatchOp } from './records.js';
import { RecoveryLoop, type AttemptResult } from '../recovery-loop.js';

/** Settings of the fail-safe path, as {@link LevelStoreOptions} carries them. */
export interface FailSafeSettings {
  /** Refuse new envelopes while the filesystem has fewer free bytes than this. Default 0 (no reserve). */
  minFreeBytes?: number;
  /** Refuse new envelopes below this percentage of the filesystem's size too. Default 0. */
  minFreePercent?: number;
  /** How often free space is polled, ms. Default 1000. */
  diskCheckIntervalMs?: number;
  /** Called on every health change (failed, recovering, ok, damaged, low space), e.g. to log it. */
  onHealth?: HealthListener;
  /** First and largest delay between recovery attempts, ms. Default 100 and 1000. */
  recoveryDelayMs?: { min: number; max: number };
  /** Bytes of recent batches kept for the check after a reopen (`ledger.ts`). Default 32 MiB. */
  ledgerWindowBytes?: number;
  /**
   * Fault-injection seam for tests: wraps every batch write. `write` performs
   * the real (synced, when `sync`) write; the hook may skip it, call it, and
   * throw before or after, like a full disk or a failed fsync would.
   */
  writeHook?: (write: () => Promise<void>, info: { ops: number; sync: boolean }) => Promise<void>;
}

/** What the fail-safe path needs from the store it guards. */
export interface FailSafeStore {
  /** The data directory (for free space). */
  location: string;
  /** True while the store is open (recovery gives up once it closes). */
  isOpen(): boolean;
  /** Resolves once every operation in flight has settled (they are refused or failing by then). */
  quiesce(): Promise<void>;
  /** Closes the database if open, opens it again and reloads memory from it; throws when it cannot. */
  reopen(): Promise<void>;
  /** Reads for the check after a reopen. */
  reader: LedgerReader;
  /** Every mailbox's last seq as just loaded from disk. */
  seqs(): Iterable<[string, number]>;
}

/** Guards one LevelDB store's writes. */
export class LevelFailSafe {
  readonly #store: FailSafeStore;
  readonly #health: HealthTracker;
  readonly #disk: DiskSpaceMonitor;
  readonly #ledger: AckLedger;
  readonly #recovery: RecoveryLoop;
  readonly #writeHook: FailSafeSettings['writeHook'];
  /** The write error that failed the store (kept across recovery attempts). */
  #cause: string | undefined;
  /** False while a recovery has the database closed or half-checked: reads are refused too. */
  #readable = true;

  constructor(store: FailSafeStore, settings: FailSafeSettings = {}) {
    this.#store = store;
    this.#writeHook = settings.writeHook;
    this.#health = new HealthTracker(settings.onHealth);
    this.#disk = new DiskSpaceMonitor({
      path: store.location,
      minFreeBytes: settings.minFreeBytes ?? 0,
      minFreePercent: settings.minFreePercent ?? 0,
      intervalMs: settings.diskCheckIntervalMs ?? 1000,
      onChange: (low) => this.#health.setLowSpace(low),
    });
    this.#health.space = () => {
      const free = this.#disk.freeBytes;
      const out: { freeBytes?: number; reserveBytes?: number } = { reserveBytes: this.#disk.reserveBytes };
      if (free !== undefined) out.freeBytes = free;
      return out;
    };
    this.#ledger = new AckLedger(settings.ledgerWindowBytes);
    this.#recovery = new RecoveryLoop({
      attempt: () => this.#recover(),
      minDelayMs: settings.recoveryDelayMs?.min ?? 100,
      maxDelayMs: settings.recoveryDelayMs?.max ?? 1000,
    });
  }

  /** Call once the store has opened and loaded: the verified starting point, and the first free-space poll. */
  async started(): Promise<void> {
    this.#ledger.reset(this.#store.seqs());
    await this.#disk.start();
  }

  /** Current write state. */
  get state(): StoreState {
    return this.#health.state;
  }

  /** False while reads must be refused (a recovery has the database closed). */
  get readable(): boolean {
    return this.#readable && this.#health.state !== 'recovering';
  }

  /** The error for a refused write, or undefined when it may go ahead (`append`: also the reserve). */
  refusal(append: boolean): LnMailboxError | undefined {
    return this.#health.refusal(append);
  }

  /** A snapshot of the store's health. */
  health(): StoreHealth {
    return this.#health.snapshot();
  }

  /**
   * Writes one batch with `write`, or refuses it when the store is not
   * healthy: nothing is ever appended behind a failed write. A failure fails
   * the store and schedules recovery.
   */
  async write(ops: BatchOp[], sync: boolean, write: () => Promise<void>): Promise<void> {
    if (this.#health.state !== 'ok')
      throw new LnMailboxError(ErrorCode.STORE_UNAVAILABLE, `store ${this.#health.state}; the batch was not written`);
    try {
      await (this.#writeHook ? this.#writeHook(write, { ops: ops.length, sync }) : write());
    } catch (e) {
      // A failed fsync is fatal for the whole batch: its records may or may not be in the log.
      this.#ledger.failed(ops);
      this.#fail(e);
      throw e;
    }
    this.#ledger.committed(ops);
    let bytes = 0;
    for (const op of ops) bytes += op.key.length + (op.type === 'put' ? op.value.length : 0);
    this.#disk.noteWritten(bytes);
  }

  /** Stops acknowledging and schedules recovery. */
  #fail(e: unknown): void {
    if (this.#health.state === 'damaged') return;
    this.#cause = `write failed: ${describeError(e)}`;
    this.#health.set('failed', this.#cause);
    if (this.#store.isOpen()) this.#recovery.start();
  }

  /** One recovery attempt: quiesce, close, reopen (LevelDB recovers its log), verify against the ledger. */
  async #recover(): Promise<AttemptResult> {
    if (!this.#store.isOpen()) return 'final';
    const cause = this.#cause;
    this.#health.set('recovering', cause);
    try {
      await this.#store.quiesce();
      this.#readable = false;
      await this.#store.reopen();
      const missing = await this.#ledger.verify(this.#store.reader);
      this.#readable = true;
      if (missing) {
        this.#health.recovered('damaged');
        this.#health.set('damaged', `acknowledged data missing after reopen: ${missing}`);
        return 'final';
      }
      this.#ledger.reset(this.#store.seqs());
      await this.#disk.check();
      this.#health.recovered('ok');
      this.#health.set('ok');
      return 'ok';
    } catch (e) {
      if (!this.#store.isOpen()) return 'final';
      this.#health.recovered('failed');
      this.#health.set('failed', `${cause ?? 'write failed'}; reopen failed: ${describeError(e)}`);
      return 'retry';
    }
  }

  /** Stops polling and recovering (waits for a running attempt). */
  async stop(): Promise<void> {
    this.#disk.stop();
    await this.#recovery.stop();
  }
}
