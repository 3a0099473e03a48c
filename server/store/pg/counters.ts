/**
 * The PostgreSQL store's in-memory copy of the per-mailbox counters (SPEC
 * section 5.12, "Storage contract"): `usage()` and `totals()` are synchronous
 * in the store interface, so they read this cache, never the database.
 *
 * Snapshots arrive out of order (a statement's RETURNING row, another
 * instance's notification sent earlier but read later), so each carries the
 * counter row's `version`, bumped by every update under the row lock, and a
 * snapshot older than the cached one is ignored. Quotas never use the cache:
 * they are checked in the database, under the row lock.
 * @module
 */
import type { MailboxUsage, StoreTotals } from '../types.js';
import type { UsageSnapshot } from './doorbell.js';

/** Reads a counter snapshot from a row with `last_seq, live_count, live_bytes, version` (BIGINTs arrive as strings). */
export function snapshotOf(row: Record<string, unknown>): UsageSnapshot {
  return { lastSeq: Number(row.last_seq), count: Number(row.live_count), bytes: Number(row.live_bytes), version: Number(row.version) };
}

/** Versioned per-mailbox counters plus running totals. */
export class CounterCache {
  readonly #counters = new Map<string, UsageSnapshot>();
  #envelopes = 0;
  #bytes = 0;

  /** Applies a snapshot unless a newer (or the same) version is already cached. */
  apply(mailbox: string, s: UsageSnapshot): void {
    const c = this.#counters.get(mailbox);
    if (c && c.version >= s.version) return;
    this.#envelopes += s.count - (c?.count ?? 0);
    this.#bytes += s.bytes - (c?.bytes ?? 0);
    this.#counters.set(mailbox, { ...s });
  }

  /** Forgets everything (before reloading from the database). */
  clear(): void {
    this.#counters.clear();
    this.#envelopes = 0;
    this.#bytes = 0;
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

  /** Every mailbox with its last seq (to seed the doorbell). */
  *lastSeqs(): IterableIterator<[string, number]> {
    for (const [mailbox, c] of this.#counters) yield [mailbox, c.lastSeq];
  }
}
