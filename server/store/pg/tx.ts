/**
 * Transactions and retries for the PostgreSQL relay store, and the mapping
 * of every driver or server failure to `STORE_UNAVAILABLE` (the same code
 * the LevelDB backend uses; `types.ts`).
 *
 * Only failures that PostgreSQL guarantees rolled everything back are
 * retried: deadlock detected (40P01) and serialization failure (40001). A
 * lost connection during COMMIT is NOT retried: its outcome is unknown, and
 * the caller's 503 lets the sender re-post (ids make that idempotent).
 * @module
 */
import type pg from 'pg';
import { ErrorCode, LnMailboxError } from '../../../base/errors.js';

const RETRYABLE = new Set(['40P01', '40001']);
const ATTEMPTS = 4;

function retryable(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && RETRYABLE.has(code);
}

/** Maps any failure to STORE_UNAVAILABLE, naming the SQLSTATE or errno, keeping the cause; typed errors pass through. */
export function unavailable(e: unknown): LnMailboxError {
  if (e instanceof LnMailboxError) return e;
  const code = (e as { code?: unknown })?.code;
  return new LnMailboxError(ErrorCode.STORE_UNAVAILABLE, `store unavailable${typeof code === 'string' ? ` (${code})` : ''}`, { cause: e });
}

/** Runs `fn` again after a deadlock or serialization failure (a few times). */
export async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt < ATTEMPTS && retryable(e)) continue;
      throw e;
    }
  }
}

/** Runs `fn` in one transaction on one pooled connection; retried as {@link retrying}. */
export function transaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  return retrying(async () => {
    const c = await pool.connect();
    let broken = false;
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw e;
    } finally {
      // A connection that cannot even roll back is dropped, not reused.
      c.release(broken);
    }
  });
}
