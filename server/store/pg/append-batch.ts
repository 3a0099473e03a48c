/**
 * Group commit for PostgreSQL appends, as the LevelDB backend's
 * `group-commit.ts` does for LevelDB batches: appends submitted while a batch is committing wait together
 * and go to the database as ONE call of the batch append function, in ONE
 * transaction.
 *
 * Why it matters more here: a transaction that NOTIFYs holds a
 * database-wide lock from pre-commit until its commit record is flushed, so
 * PostgreSQL serializes such commits and cannot share a WAL flush among
 * them. One append per transaction would cap a whole cluster at one fsync
 * per append; one batch per transaction shares it.
 * @module
 */
import type { MailboxQuota } from '../types.js';

/** One append as sent to the database. */
export interface BatchItem {
  id: Buffer;
  mailbox: Buffer;
  body: Buffer;
  expiresAt: number;
  retractionHash: Buffer | null;
  quota: MailboxQuota;
}

/** The database's answer for one item (the batch function's row). */
export type BatchRow = Record<string, unknown>;

/** Runs one batch; returns one row per item, in item order. */
export type BatchRunner = (items: BatchItem[]) => Promise<BatchRow[]>;

interface Pending {
  item: BatchItem;
  resolve: (row: BatchRow) => void;
  reject: (e: unknown) => void;
}

/** Largest batch: bounds one transaction's size and lock time. */
export const MAX_BATCH = 256;

/** Queues appends and commits them in batches, one batch in flight at a time. */
export class AppendBatcher {
  readonly #run: BatchRunner;
  #queue: Pending[] = [];
  #inFlight = false;
  #scheduled = false;

  constructor(run: BatchRunner) {
    this.#run = run;
  }

  /** Resolves with the item's row once its batch has committed; rejects with the batch's error. */
  submit(item: BatchItem): Promise<BatchRow> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#inFlight || this.#scheduled) return;
    this.#scheduled = true;
    // setImmediate, not a microtask: appends of other requests in the same I/O phase join this batch.
    setImmediate(() => {
      this.#scheduled = false;
      void this.#next();
    });
  }

  async #next(): Promise<void> {
    if (this.#inFlight || this.#queue.length === 0) return;
    const batch = this.#queue.slice(0, MAX_BATCH);
    this.#queue = this.#queue.slice(batch.length);
    this.#inFlight = true;
    try {
      const rows = await this.#run(batch.map((p) => p.item));
      batch.forEach((p, i) => {
        const row = rows[i];
        if (row) p.resolve(row);
        else p.reject(new Error('batch append returned no row for an item'));
      });
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      this.#inFlight = false;
      if (this.#queue.length > 0) this.#schedule();
    }
  }
}
