/**
 * Group commit, as strfry and most databases do it, shared by every backend:
 * writes submitted while a batch is being committed wait together and go to
 * the database as ONE flush, so durability costs one fsync (LevelDB) or one
 * transaction and WAL flush (PostgreSQL) per batch instead of one per
 * request. Each backend supplies the flush function; this class only forms
 * batches, keeps one in flight and settles the submissions.
 *
 * The durability contract: a submission resolves only after the flush of its
 * batch resolved, i.e. after the backend reports the batch durable. On
 * failure every submission of the batch is rejected and its `undo` runs
 * synchronously, in reverse order, before the next batch is formed, so a
 * backend's in-memory state never drifts from what is on disk.
 * @module
 */

/**
 * Commits one batch and resolves once it is durable, with one result per
 * item in item order. A slot left empty (a hole, or past the end) rejects
 * that item's submission; throwing rejects the whole batch.
 */
export type FlushBatch<T, R> = (items: T[]) => Promise<readonly R[]>;

/** Hooks of one submission. */
export interface SubmitHooks {
  /** Reverts the caller's in-memory changes when the batch fails. */
  undo?: () => void;
  /** Runs synchronously, in submission order, once the batch is durable, before any submission resolves (e.g. a doorbell). */
  committed?: () => void;
}

/** Options of {@link GroupCommit}. */
export interface GroupCommitOptions {
  /** Largest batch, in items (default unbounded): bounds one transaction's size and lock time. */
  maxBatch?: number;
}

interface Pending<T, R> extends SubmitHooks {
  item: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

/** Queues items and commits them in batches through one flush function, one batch in flight at a time. */
export class GroupCommit<T, R = void> {
  readonly #flush: FlushBatch<T, R>;
  readonly #maxBatch: number;
  #queue: Pending<T, R>[] = [];
  #inFlight = false;
  #scheduled = false;
  #idle: (() => void)[] = [];

  /**
   * @param flush commits one batch (see {@link FlushBatch})
   * @param options batch bound
   */
  constructor(flush: FlushBatch<T, R>, options: GroupCommitOptions = {}) {
    this.#flush = flush;
    this.#maxBatch = options.maxBatch ?? Infinity;
  }

  /** Queues `item`; resolves with its result once its batch is durable, rejects with the batch's error. */
  submit(item: T, hooks: SubmitHooks = {}): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject, undo: hooks.undo, committed: hooks.committed });
      this.#schedule();
    });
  }

  /** Resolves when everything submitted so far has been committed (or failed). */
  flush(): Promise<void> {
    if (!this.#inFlight && !this.#scheduled && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #schedule(): void {
    if (this.#inFlight || this.#scheduled) return;
    this.#scheduled = true;
    // setImmediate, not a microtask: submissions made by other requests in
    // the same I/O phase join this batch.
    setImmediate(() => {
      this.#scheduled = false;
      void this.#run();
    });
  }

  async #run(): Promise<void> {
    if (this.#inFlight || this.#queue.length === 0) return this.#settleIdle();
    let batch = this.#queue;
    if (batch.length > this.#maxBatch) {
      this.#queue = batch.slice(this.#maxBatch);
      batch = batch.slice(0, this.#maxBatch);
    } else this.#queue = [];
    this.#inFlight = true;
    let results: readonly R[] | undefined;
    let error: unknown;
    try {
      results = await this.#flush(batch.map((p) => p.item));
    } catch (e) {
      error = e;
    }
    if (results) {
      for (const p of batch) {
        try {
          p.committed?.();
        } catch {
          // A listener's fault must not fail a durable write.
        }
      }
      for (let i = 0; i < batch.length; i++) {
        if (i in results) batch[i]!.resolve(results[i]!);
        else batch[i]!.reject(new Error('group commit: the flush returned no result for an item'));
      }
    } else {
      for (let i = batch.length - 1; i >= 0; i--) batch[i]!.undo?.();
      for (const p of batch) p.reject(error);
    }
    this.#inFlight = false;
    if (this.#queue.length > 0) this.#schedule();
    else this.#settleIdle();
  }

  #settleIdle(): void {
    if (this.#inFlight || this.#scheduled || this.#queue.length > 0) return;
    const idle = this.#idle;
    this.#idle = [];
    for (const f of idle) f();
  }
}
