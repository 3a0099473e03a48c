/**
 * The LevelDB store's per-mailbox counters (last seq, live count, live
 * bytes) and running totals, held in memory so that quota checks,
 * `usage()` and `totals()` are O(1) and never read the database.
 *
 * Memory is the working copy; disk follows it batch by batch: every change
 * marks its mailbox dirty, and the group commit's flush writes the counter
 * records of the dirty mailboxes in the SAME batch as the envelopes they
 * count ({@link LevelCounters.dirtyOps}), so a crash can never leave the
 * counters on disk out of step with the data. A failed batch undoes its
 * changes in memory (the caller's `undo`), and a recovery reloads from disk.
 * @module
 */
import { Buffer } from 'node:buffer';
import type { MailboxUsage, StoreTotals } from '../types.js';
import { counterKey, encodeCounter, type BatchOp, type Counter } from './records.js';

/** In-memory counters of every mailbox that ever held mail. */
export class LevelCounters {
  readonly #counters = new Map<string, Counter>();
  readonly #dirty = new Set<string>();
  #envelopes = 0;
  #bytes = 0;

  /** Forgets everything (before loading from disk). */
  clear(): void {
    this.#counters.clear();
    this.#dirty.clear();
    this.#envelopes = 0;
    this.#bytes = 0;
  }

  /** Takes a counter as read from disk (clean: it is already there). */
  load(mailbox: string, c: Counter): void {
    this.#counters.set(mailbox, c);
    this.#envelopes += c.count;
    this.#bytes += c.bytes;
  }

  /** Replaces a mailbox's counter with one counted again from disk (a log replay), keeping the totals right. */
  replace(mailbox: string, c: Counter): void {
    const old = this.#counters.get(mailbox);
    if (old) {
      this.#envelopes -= old.count;
      this.#bytes -= old.bytes;
    }
    this.load(mailbox, c);
  }

  /** The live counter of `mailbox`, created at zero when unknown; callers change it only through {@link adjust} or `lastSeq`. */
  get(mailbox: string): Counter {
    let c = this.#counters.get(mailbox);
    if (!c) {
      c = { lastSeq: 0, count: 0, bytes: 0 };
      this.#counters.set(mailbox, c);
    }
    return c;
  }

  /** Adjusts live usage of `mailbox` (whose counter is `c`) and marks it for the next batch. */
  adjust(mailbox: string, c: Counter, dCount: number, dBytes: number): void {
    c.count += dCount;
    c.bytes += dBytes;
    this.#envelopes += dCount;
    this.#bytes += dBytes;
    this.#dirty.add(mailbox);
  }

  /** The counter records of every mailbox changed since the last call, for the batch being formed. */
  dirtyOps(): BatchOp[] {
    const ops: BatchOp[] = [];
    for (const mailbox of this.#dirty) {
      const c = this.#counters.get(mailbox);
      if (c) ops.push({ type: 'put', key: counterKey(Buffer.from(mailbox, 'hex')), value: encodeCounter(c) });
    }
    this.#dirty.clear();
    return ops;
  }

  /** Every mailbox with its last seq (what the fail-safe ledger checks after a reopen). */
  lastSeqs(): [string, number][] {
    return [...this.#counters].map(([m, c]): [string, number] => [m, c.lastSeq]);
  }

  /** Usage of one mailbox (zeros when unknown). */
  usage(mailbox: string): MailboxUsage {
    const c = this.#counters.get(mailbox);
    return c ? { count: c.count, bytes: c.bytes, lastSeq: c.lastSeq } : { count: 0, bytes: 0, lastSeq: 0 };
  }

  /** Totals over every known mailbox. */
  totals(): StoreTotals {
    return { envelopes: this.#envelopes, bytes: this.#bytes, mailboxes: this.#counters.size };
  }
}
