/**
 * The PostgreSQL backend's flush for the shared group commit
 * (`../group-commit.ts`): appends submitted while a batch is committing wait
 * together and go to the database as ONE call of the batch append function
 * (`schema.ts`), in ONE transaction.
 *
 * Why it matters more here: a transaction that NOTIFYs holds a
 * database-wide lock from pre-commit until its commit record is flushed, so
 * PostgreSQL serializes such commits and cannot share a WAL flush among
 * them. One append per transaction would cap a whole cluster at one fsync
 * per append; one batch per transaction shares it.
 * @module
 */
import type pg from 'pg';
import type { MailboxQuota } from '../types.js';
import { retrying } from './tx.js';

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

/** Largest batch: bounds one transaction's size and lock time. */
export const MAX_APPEND_BATCH = 256;

/**
 * Runs one batch through the batch append function: one round trip, one
 * transaction, rows back in item order (a missing row leaves a hole, which
 * the group commit turns into that item's rejection).
 * @param statement the `append` statement of `sql.ts`
 */
export async function appendBatch(pool: pg.Pool, statement: string, items: BatchItem[]): Promise<BatchRow[]> {
  // The function takes bigint quotas; an unbounded quota is passed as the largest safe integer.
  const cap = (v: number) => Math.min(v, Number.MAX_SAFE_INTEGER);
  const r = await retrying(() =>
    pool.query(statement, [
      items.map((x) => x.id),
      items.map((x) => x.mailbox),
      items.map((x) => x.body),
      items.map((x) => x.expiresAt),
      items.map((x) => x.retractionHash),
      items.map((x) => cap(x.quota.maxEnvelopes)),
      items.map((x) => cap(x.quota.maxBytes)),
    ]),
  );
  const rows: BatchRow[] = [];
  for (const row of r.rows) rows[Number(row.idx) - 1] = row;
  return rows;
}
