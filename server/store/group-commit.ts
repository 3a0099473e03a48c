/**
 * Group commit, as strfry and most databases do it: writes submitted while a
 * batch is being synced wait together and go to disk as ONE synced batch,
 * so durability costs one fsync per batch instead of one per request.
 *
 * Each submission resolves only after its batch is durable. On failure every
 * submission of the batch is rejected and its `undo` runs synchronously, in
 * reverse order, before the next batch is formed, so in-memory state never
 * drifts from disk.
 * @module
 */

/** One write operation of a batch (the shape `level`'s `batch()` takes). */
export type BatchOp<K, V> = { type: 'put'; key: K; value: V } | { type: 'del'; key: K };

/** Options of one submission. */
export interface Submission {
  /** True when the caller needs the batch fsynced before it resolves (default true). */
  sync?: boolean;
  /** Reverts the caller's in-memory changes when the batch fails. */
  undo?: () => void;
  /** Runs synchronously, in submission order, once the batch is durable (e.g. the doorbell). */
  committed?: () => void;
}

interface Pending<K, V> extends Submission {
  ops: BatchOp<K, V>[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** Writes one batch; resolves when it is on disk (when `sync`). */
export type BatchWriter<K, V> = (ops: BatchOp<K, V>[], sync: boolean) => Promise<void>;

/** Observes each batch: ops written, whether synced, duration in seconds, and success. */
export type BatchObserver = (info: { ops: number; sync: boolean; seconds: number; ok: boolean }) => void;

/** Queues writes and commits them in batches, one batch in flight at a time. */
export class GroupCommit<K, V> {
  readonly #write: BatchWriter<K, V>;
  readonly #extra: () => BatchOp<K, V>[];
  readonly #observe: BatchObserver | undefined;
  #queue: Pending<K, V>[] = [];
  #inFlight: Promise<void> | null = null;
  #scheduled = false;
  #idle: (() => void)[] = [];

  /**
   * @param write writes one batch
   * @param extra ops appended to every batch when it is formed (e.g. the counters its ops touched)
   * @param observe metrics hook
   */
  constructor(write: BatchWriter<K, V>, extra: () => BatchOp<K, V>[] = () => [], observe?: BatchObserver) {
    this.#write = write;
    this.#extra = extra;
    this.#observe = observe;
  }

  /** Queues `ops`; resolves once they are durable, rejects with the batch's error. */
  submit(ops: BatchOp<K, V>[], opts: Submission = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ ...opts, ops, resolve, reject });
      this.#schedule();
    });
  }

  /** Resolves when everything submitted so far has been written (or failed). */
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
    const batch = this.#queue;
    this.#queue = [];
    const ops: BatchOp<K, V>[] = [];
    let sync = false;
    for (const p of batch) {
      for (const op of p.ops) ops.push(op);
      if (p.sync !== false) sync = true;
    }
    const started = performance.now();
    let error: unknown;
    let ok = true;
    const write = (async () => {
      const extra = this.#extra();
      for (const op of extra) ops.push(op);
      await this.#write(ops, sync);
    })();
    this.#inFlight = write.catch(() => undefined);
    try {
      await write;
    } catch (e) {
      ok = false;
      error = e;
    }
    this.#observe?.({ ops: ops.length, sync, seconds: (performance.now() - started) / 1000, ok });
    if (ok) {
      for (const p of batch) {
        try {
          p.committed?.();
        } catch {
          // A listener's fault must not fail a durable write.
        }
        p.resolve();
      }
    } else {
      for (let i = batch.length - 1; i >= 0; i--) batch[i]!.undo?.();
      for (const p of batch) p.reject(error);
    }
    this.#inFlight = null;
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
