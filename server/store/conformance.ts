/**
 * The relay store conformance suite: every {@link RelayStore} backend must
 * pass it unchanged, the way abstract-level ships `suite({ test, factory })`
 * for its implementations. The LevelDB and PostgreSQL backends run it in
 * this repository's tests; a third-party backend runs it the same way, with
 * whatever test runner it uses:
 *
 * ```ts
 * import { test } from 'node:test';
 * import { storeConformance } from 'ln-mailbox/server';
 * import { MyStore } from './my-store.js';
 *
 * storeConformance({
 *   test,
 *   // A fresh, unopened, EMPTY store per test.
 *   factory: () => new MyStore({ location: freshTempDir() }),
 *   // Persistent backends: a new instance over the data of a closed one.
 *   reopen: (closed) => new MyStore({ location: locationOf(closed) }),
 * });
 * ```
 *
 * With uvu, pass a suite (`const s = suite('my store'); storeConformance({ test: s, … }); s.run();`).
 * Each test opens the store from `factory`, and closes it (and any reopened
 * instance) when it ends, pass or fail. Times are passed explicitly, so
 * nothing here depends on the wall clock; failures are thrown as
 * `node:assert` errors, which every runner reports.
 * @module
 */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { ErrorCode, isLnMailboxError } from '../../base/errors.js';
import { DEFAULT_EXPIRED_RETENTION_MS } from './lifecycle.js';
import type { AppendRequest, MailboxQuota, RelayStore, StoreFactory } from './types.js';

/**
 * Registers one named test: node:test's `test`, uvu's `test` or a uvu
 * `suite(…)`, or anything with the same call shape. The suite calls it once
 * per test, synchronously, and runs nothing itself.
 */
export type TestRegistrar = (name: string, fn: () => Promise<void>) => unknown;

/** Options of {@link storeConformance}. */
export interface StoreConformanceOptions {
  /** Registers each test of the suite. */
  test: TestRegistrar;
  /** Creates a fresh, unopened, empty store; called once at the start of every test. */
  factory: StoreFactory;
  /**
   * A new, unopened instance over the data of `closed` (persistent backends
   * only); when given, the suite also checks that everything survives a reopen.
   */
  reopen?: (closed: RelayStore) => RelayStore | Promise<RelayStore>;
  /**
   * Retention of `expired` tombstones the factory's stores were configured
   * with, ms (default the backends' default, 24 h).
   */
  expiredRetentionMs?: number;
}

const T0 = 1_800_000_000_000;
const HOUR = 3_600_000;
const BIG: MailboxQuota = { maxEnvelopes: 1_000_000, maxBytes: 1 << 30 };

const sha256hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const mailboxOf = (n: number): string => n.toString(16).padStart(2, '0').repeat(32);
const retraction = () => {
  const secret = randomBytes(32);
  return { secret, hash: sha256hex(secret) };
};

function req(mailbox: string, size = 100, expiresAt = T0 + HOUR, extra: Partial<AppendRequest> = {}): AppendRequest {
  const envelope = new Uint8Array(randomBytes(size));
  return { id: sha256hex(envelope), mailbox, envelope, expiresAt, ...extra };
}

/** Asserts that `p` rejects with an `LnMailboxError` of `code` (the contract names codes, not messages). */
async function rejectsCode(p: Promise<unknown>, code: ErrorCode, message?: string): Promise<void> {
  await assert.rejects(
    p,
    (e: unknown) => {
      assert.ok(isLnMailboxError(e), `${message ?? ''} expected LnMailboxError ${code}, got ${String(e)}`);
      assert.strictEqual(e.code, code, message);
      return true;
    },
    message,
  );
}

/**
 * Registers the conformance suite's tests with `options.test`. Every test
 * gets its own store from `options.factory`, so tests are independent and a
 * runner may report each one on its own.
 */
export function storeConformance(options: StoreConformanceOptions): void {
  const retention = options.expiredRetentionMs ?? DEFAULT_EXPIRED_RETENTION_MS;
  /** Registers a test whose body gets an open store; `track` adds a further instance to close at the end. */
  const t = (name: string, body: (store: RelayStore, track: (s: RelayStore) => RelayStore) => Promise<void>): void => {
    options.test(name, async () => {
      const all: RelayStore[] = [];
      const track = (s: RelayStore): RelayStore => {
        all.push(s);
        return s;
      };
      try {
        const store = track(await options.factory());
        await store.open();
        await body(store, track);
      } finally {
        for (const s of all) await s.close();
      }
    });
  };

  const A = mailboxOf(0xaa);
  const B = mailboxOf(0xbb);

  t('empty store: zero usage, empty list, unknown status', async (store) => {
    assert.deepStrictEqual(store.usage(A), { count: 0, bytes: 0, lastSeq: 0 });
    assert.deepStrictEqual(store.totals(), { envelopes: 0, bytes: 0, mailboxes: 0 });
    assert.deepStrictEqual(await store.list(A, 0, 10, T0), { envelopes: [], more: false });
    assert.strictEqual(await store.status('00'.repeat(32), T0), undefined);
  });

  t('append assigns per-mailbox seqs from 1 and lists the exact bytes', async (store) => {
    const a1 = req(A),
      a2 = req(A),
      b1 = req(B);
    assert.deepStrictEqual(await store.append(a1, BIG), { created: true, seq: 1, expiresAt: a1.expiresAt });
    assert.deepStrictEqual(await store.append(b1, BIG), { created: true, seq: 1, expiresAt: b1.expiresAt });
    assert.deepStrictEqual(await store.append(a2, BIG), { created: true, seq: 2, expiresAt: a2.expiresAt });
    const { envelopes, more } = await store.list(A, 0, 10, T0);
    assert.strictEqual(more, false);
    assert.deepStrictEqual(
      envelopes.map((e) => [e.id, e.seq, e.expiresAt]),
      [
        [a1.id, 1, a1.expiresAt],
        [a2.id, 2, a2.expiresAt],
      ],
    );
    assert.deepStrictEqual(Buffer.from(envelopes[0]!.envelope), Buffer.from(a1.envelope));
    assert.deepStrictEqual(store.usage(A), { count: 2, bytes: 200, lastSeq: 2 });
    assert.deepStrictEqual(store.totals(), { envelopes: 3, bytes: 300, mailboxes: 2 });
    assert.strictEqual(await store.status(a1.id, T0), 'queued');
  });

  t('the same envelope again is not stored twice, even concurrently', async (store) => {
    const a = req(A);
    const first = await store.append(a, BIG);
    assert.deepStrictEqual(await store.append(a, BIG), { ...first, created: false });
    const b = req(A);
    const results = await Promise.all(Array.from({ length: 20 }, () => store.append({ ...b }, BIG)));
    assert.strictEqual(results.filter((r) => r.created).length, 1);
    assert.ok(results.every((r) => r.seq === 2));
    assert.strictEqual(store.usage(A).count, 2);
    assert.strictEqual((await store.list(A, 0, 100, T0)).envelopes.length, 2);
  });

  t('concurrent distinct appends get distinct consecutive seqs', async (store) => {
    const reqs = Array.from({ length: 200 }, () => req(A, 50));
    const results = await Promise.all(reqs.map((r) => store.append(r, BIG)));
    assert.deepStrictEqual(
      results.map((r) => r.seq).sort((x, y) => x - y),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    const listed = await store.list(A, 0, 1000, T0);
    assert.deepStrictEqual(
      listed.envelopes.map((e) => e.seq),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    const bySeq = new Map(results.map((r, i) => [r.seq, reqs[i]!.id]));
    for (const e of listed.envelopes) assert.strictEqual(e.id, bySeq.get(e.seq));
  });

  t('list pages by cursor and limit, with `more`', async (store) => {
    for (let i = 0; i < 5; i++) await store.append(req(A), BIG);
    const p1 = await store.list(A, 0, 2, T0);
    assert.deepStrictEqual(
      p1.envelopes.map((e) => e.seq),
      [1, 2],
    );
    assert.strictEqual(p1.more, true);
    const p2 = await store.list(A, 2, 2, T0);
    assert.deepStrictEqual(
      p2.envelopes.map((e) => e.seq),
      [3, 4],
    );
    const p3 = await store.list(A, 4, 2, T0);
    assert.deepStrictEqual(
      p3.envelopes.map((e) => e.seq),
      [5],
    );
    assert.strictEqual(p3.more, false);
    assert.deepStrictEqual((await store.list(A, 5, 2, T0)).envelopes, []);
    assert.deepStrictEqual((await store.list(A, 1e12, 2, T0)).envelopes, []);
    assert.deepStrictEqual((await store.list(B, 0, 2, T0)).envelopes, []);
    const capped = await store.list(A, 0, 10, T0, 150);
    assert.deepStrictEqual(
      capped.envelopes.map((e) => e.seq),
      [1, 2],
      'stops once maxBytes is reached',
    );
    assert.strictEqual(capped.more, true);
    assert.deepStrictEqual(
      (await store.list(A, 0, 10, T0, 1)).envelopes.map((e) => e.seq),
      [1],
      'at least one',
    );
  });

  t('quota: envelope count and bytes are enforced atomically', async (store) => {
    const q: MailboxQuota = { maxEnvelopes: 3, maxBytes: 250 };
    await store.append(req(A, 100), q);
    await store.append(req(A, 100), q);
    await rejectsCode(store.append(req(A, 100), q), ErrorCode.MAILBOX_FULL, 'bytes');
    await store.append(req(A, 50), q);
    await rejectsCode(store.append(req(A, 1), q), ErrorCode.MAILBOX_FULL, 'count');
    assert.deepStrictEqual(store.usage(A), { count: 3, bytes: 250, lastSeq: 3 });
    // Concurrent appends cannot overshoot the quota.
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => store.append(req(B, 10), q)));
    assert.strictEqual(results.filter((r) => r.status === 'fulfilled').length, 3);
    assert.strictEqual(store.usage(B).count, 3);
    // Acking frees space.
    const first = (await store.list(A, 0, 1, T0)).envelopes[0]!;
    assert.deepStrictEqual(await store.ack(A, [first.id]), [first.id]);
    await store.append(req(A, 100), q);
  });

  t('markDelivered turns queued into delivered', async (store) => {
    const a = req(A);
    await store.append(a, BIG);
    store.markDelivered([a.id]);
    await store.flush();
    assert.strictEqual(await store.status(a.id, T0), 'delivered');
    assert.strictEqual((await store.list(A, 0, 10, T0)).envelopes.length, 1, 'still listed until acked');
  });

  t('ack deletes only the caller mailbox’s live envelopes and leaves a tombstone', async (store) => {
    const a = req(A),
      b = req(B);
    await store.append(a, BIG);
    await store.append(b, BIG);
    assert.deepStrictEqual(await store.ack(A, [b.id, '11'.repeat(32), a.id]), [a.id], 'another mailbox’s id and unknown ids are ignored');
    assert.strictEqual(await store.status(b.id, T0), 'queued');
    assert.strictEqual(await store.status(a.id, T0), 'acknowledged');
    assert.deepStrictEqual((await store.list(A, 0, 10, T0)).envelopes, []);
    assert.deepStrictEqual(store.usage(A), { count: 0, bytes: 0, lastSeq: 1 });
    assert.deepStrictEqual(await store.ack(A, [a.id]), [], 'second ack is a no-op');
    store.markDelivered([a.id]);
    await store.flush();
    assert.strictEqual(await store.status(a.id, T0), 'acknowledged', 'a late delivered flag does not resurrect it');
    assert.deepStrictEqual(await store.append(a, BIG), { created: false, seq: 1, expiresAt: a.expiresAt }, 'no resurrection by re-post');
    assert.strictEqual(await store.status(a.id, a.expiresAt), undefined, 'tombstone ends with the original TTL');
  });

  t('seq stays monotonic after every envelope is acked', async (store) => {
    const a = req(A);
    await store.append(a, BIG);
    await store.ack(A, [a.id]);
    assert.strictEqual((await store.append(req(A), BIG)).seq, 2);
  });

  t('retraction: secret checks, outcomes and no resurrection', async (store) => {
    const r = retraction();
    const a = req(A, 100, T0 + HOUR, { retractionHash: r.hash });
    const plain = req(A);
    await store.append(a, BIG);
    await store.append(plain, BIG);
    await rejectsCode(store.retract('22'.repeat(32), r.hash, T0), ErrorCode.ENVELOPE_NOT_FOUND);
    await rejectsCode(store.retract(plain.id, r.hash, T0), ErrorCode.RETRACT_FORBIDDEN, 'no hash set');
    await rejectsCode(store.retract(a.id, retraction().hash, T0), ErrorCode.RETRACT_FORBIDDEN, 'wrong secret');
    assert.strictEqual(await store.status(a.id, T0), 'queued');
    store.markDelivered([a.id]);
    assert.strictEqual(await store.retract(a.id, r.hash, T0), 'retracted', 'delivered but unacked can be retracted');
    assert.strictEqual(await store.status(a.id, T0), 'retracted');
    assert.deepStrictEqual(
      (await store.list(A, 0, 10, T0)).envelopes.map((e) => e.id),
      [plain.id],
    );
    assert.deepStrictEqual(store.usage(A), { count: 1, bytes: 100, lastSeq: 2 });
    assert.strictEqual(await store.retract(a.id, r.hash, T0), 'retracted', 'idempotent');
    assert.deepStrictEqual(await store.ack(A, [a.id]), []);
    assert.strictEqual((await store.append(a, BIG)).created, false);
    assert.deepStrictEqual(
      (await store.list(A, 0, 10, T0)).envelopes.map((e) => e.id),
      [plain.id],
    );
  });

  t('retraction after acknowledgement is too late; after expiry reports expired', async (store) => {
    const r = retraction();
    const a = req(A, 100, T0 + HOUR, { retractionHash: r.hash });
    await store.append(a, BIG);
    await store.ack(A, [a.id]);
    await rejectsCode(store.retract(a.id, r.hash, T0), ErrorCode.RETRACT_TOO_LATE);
    const r2 = retraction();
    const b = req(A, 100, T0 + HOUR, { retractionHash: r2.hash });
    await store.append(b, BIG);
    assert.strictEqual(await store.retract(b.id, r2.hash, T0 + HOUR), 'expired');
  });

  t('expiry: never served after expiresAt, swept into a tombstone, then purged', async (store) => {
    const short = req(A, 100, T0 + 1000);
    // Outlives the short one's retention too, whatever the retention is.
    const long = req(A, 100, T0 + 1000 + retention + HOUR);
    await store.append(short, BIG);
    await store.append(long, BIG);
    assert.strictEqual((await store.list(A, 0, 10, T0 + 999)).envelopes.length, 2);
    assert.deepStrictEqual(
      (await store.list(A, 0, 10, T0 + 1000)).envelopes.map((e) => e.id),
      [long.id],
    );
    assert.strictEqual(await store.status(short.id, T0 + 1000), 'expired', 'expired before the sweep runs');
    const s1 = await store.sweep(T0 + 1000);
    assert.deepStrictEqual(s1, { expired: 1, purged: 0, more: false });
    assert.deepStrictEqual(store.usage(A), { count: 1, bytes: 100, lastSeq: 2 });
    assert.strictEqual(await store.status(short.id, T0 + 1000 + retention - 1), 'expired');
    assert.deepStrictEqual(await store.ack(A, [short.id]), [], 'an expired envelope cannot be acked');
    const s2 = await store.sweep(T0 + 1000 + retention);
    assert.strictEqual(s2.purged, 1);
    assert.strictEqual(await store.status(short.id, T0 + 1000 + retention), undefined);
    assert.strictEqual(await store.status(long.id, T0), 'queued', 'the other envelope is untouched');
  });

  t('sweep purges ack tombstones at the original expiry, respects its limit', async (store) => {
    const reqs = Array.from({ length: 5 }, (_, i) => req(A, 10, T0 + 1000 + i));
    for (const r of reqs) await store.append(r, BIG);
    await store.ack(A, [reqs[0]!.id]);
    const s1 = await store.sweep(T0 + 10_000, 3);
    assert.strictEqual(s1.more, true);
    assert.strictEqual(s1.expired + s1.purged, 3);
    const s2 = await store.sweep(T0 + 10_000, 100);
    assert.strictEqual(s1.expired + s2.expired, 4);
    assert.strictEqual(s1.purged + s2.purged, 1);
    assert.strictEqual(await store.status(reqs[0]!.id, T0 + 10_000), undefined);
    assert.deepStrictEqual(store.usage(A), { count: 0, bytes: 0, lastSeq: 5 });
    assert.strictEqual(store.totals().envelopes, 0);
  });

  t('onAppend fires once per new envelope, after it is durable, in seq order', async (store) => {
    const seen: [string, number, string][] = [];
    const off = store.onAppend((mailbox, e) => seen.push([mailbox, e.seq, e.id]));
    const reqs = Array.from({ length: 30 }, (_, i) => req(i % 2 ? A : B));
    await Promise.all(reqs.map((r) => store.append(r, BIG)));
    await store.append(reqs[0]!, BIG);
    assert.strictEqual(seen.length, 30);
    for (const mb of [A, B]) {
      const seqs = seen.filter(([m]) => m === mb).map(([, s]) => s);
      assert.deepStrictEqual(
        seqs,
        [...seqs].sort((x, y) => x - y),
      );
    }
    for (const [mb, , id] of seen) assert.ok((await store.status(id, T0)) === 'queued' && (mb === A || mb === B));
    off();
    await store.append(req(A), BIG);
    assert.strictEqual(seen.length, 30);
  });

  t('records: put, get the exact bytes, replace, list, delete; per mailbox; no envelope usage', async (store) => {
    const v1 = new Uint8Array(randomBytes(300));
    const v2 = new Uint8Array(randomBytes(16 * 1024));
    assert.strictEqual(await store.getRecord(A, 'hub-terms'), undefined);
    assert.deepStrictEqual(await store.listRecords(A), []);
    await store.putRecord(A, 'hub-terms', v1, 8);
    assert.deepStrictEqual(Buffer.from((await store.getRecord(A, 'hub-terms'))!), Buffer.from(v1));
    assert.strictEqual(await store.getRecord(B, 'hub-terms'), undefined, 'records are per mailbox');
    assert.strictEqual(await store.getRecord(A, 'hub-term'), undefined, 'names match exactly');
    await store.putRecord(A, 'hub-terms', v2, 8);
    assert.deepStrictEqual(Buffer.from((await store.getRecord(A, 'hub-terms'))!), Buffer.from(v2), 'replaced');
    await store.putRecord(A, 'a-0', new Uint8Array(0), 8);
    assert.strictEqual((await store.getRecord(A, 'a-0'))?.length, 0, 'an empty value is a record');
    await store.putRecord(B, 'receipt-tickets', v1, 8);
    assert.deepStrictEqual(await store.listRecords(A), ['a-0', 'hub-terms']);
    assert.deepStrictEqual(await store.listRecords(B), ['receipt-tickets']);
    assert.deepStrictEqual(store.usage(A), { count: 0, bytes: 0, lastSeq: 0 }, 'records are not envelopes');
    assert.strictEqual(store.totals().envelopes, 0);
    assert.strictEqual(await store.deleteRecord(A, 'hub-terms'), true);
    assert.strictEqual(await store.deleteRecord(A, 'hub-terms'), false, 'a second delete finds nothing');
    assert.strictEqual(await store.deleteRecord(B, 'a-0'), false, 'another mailbox’s record is not touched');
    assert.strictEqual(await store.getRecord(A, 'hub-terms'), undefined);
    assert.deepStrictEqual(await store.listRecords(A), ['a-0']);
    assert.deepStrictEqual(Buffer.from((await store.getRecord(B, 'receipt-tickets'))!), Buffer.from(v1));
  });

  t('records: at most maxRecords per mailbox, replacing at the limit is fine, concurrent puts cannot overshoot', async (store) => {
    const v = new Uint8Array(randomBytes(10));
    for (let i = 0; i < 3; i++) await store.putRecord(A, `r${i}`, v, 3);
    await rejectsCode(store.putRecord(A, 'r3', v, 3), ErrorCode.RECORD_LIMIT);
    await store.putRecord(A, 'r1', new Uint8Array([1]), 3);
    assert.deepStrictEqual([...(await store.getRecord(A, 'r1'))!], [1], 'a replacement at the limit is stored');
    assert.strictEqual(await store.getRecord(A, 'r3'), undefined, 'a refused put stored nothing');
    await store.putRecord(B, 'r0', v, 3);
    assert.strictEqual(await store.deleteRecord(A, 'r0'), true);
    await store.putRecord(A, 'r3', v, 3);
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.putRecord(B, `c${i}`, v, 3)));
    assert.strictEqual(results.filter((r) => r.status === 'fulfilled').length, 2);
    for (const r of results) if (r.status === 'rejected') assert.strictEqual((r.reason as { code?: unknown }).code, ErrorCode.RECORD_LIMIT);
    assert.strictEqual((await store.listRecords(B)).length, 3);
  });

  t('closed store rejects with STORE_UNAVAILABLE; close is idempotent', async (store) => {
    await store.append(req(A), BIG);
    await store.close();
    await store.close();
    await rejectsCode(store.append(req(A), BIG), ErrorCode.STORE_UNAVAILABLE);
    await rejectsCode(store.list(A, 0, 1, T0), ErrorCode.STORE_UNAVAILABLE);
    await rejectsCode(store.status('00'.repeat(32), T0), ErrorCode.STORE_UNAVAILABLE);
    await rejectsCode(store.ack(A, ['00'.repeat(32)]), ErrorCode.STORE_UNAVAILABLE);
    await rejectsCode(store.putRecord(A, 'x', new Uint8Array(1), 8), ErrorCode.STORE_UNAVAILABLE);
    await rejectsCode(store.getRecord(A, 'x'), ErrorCode.STORE_UNAVAILABLE);
    await rejectsCode(store.deleteRecord(A, 'x'), ErrorCode.STORE_UNAVAILABLE);
    store.markDelivered(['00'.repeat(32)]);
  });

  t('close waits for appends already accepted', async (store) => {
    const reqs = Array.from({ length: 50 }, () => req(A));
    const pending = reqs.map((r) => store.append(r, BIG));
    await store.close();
    const results = await Promise.allSettled(pending);
    assert.ok(results.every((r) => r.status === 'fulfilled'));
  });

  if (options.reopen) {
    const reopen = options.reopen;
    t('persistence: counters, seqs, envelopes, tombstones and records survive a reopen', async (store, track) => {
      const r = retraction();
      const a = req(A),
        b = req(A, 100, T0 + HOUR, { retractionHash: r.hash }),
        c = req(A),
        d = req(B);
      for (const x of [a, b, c, d]) await store.append(x, BIG);
      const terms = new Uint8Array(randomBytes(1000));
      await store.putRecord(A, 'hub-terms', terms, 8);
      await store.putRecord(A, 'gone', terms, 8);
      await store.deleteRecord(A, 'gone');
      await store.ack(A, [a.id]);
      await store.retract(b.id, r.hash, T0);
      store.markDelivered([c.id]);
      await store.close();
      const again = track(await reopen(store));
      await again.open();
      assert.deepStrictEqual(again.usage(A), { count: 1, bytes: 100, lastSeq: 3 });
      assert.deepStrictEqual(again.totals(), { envelopes: 2, bytes: 200, mailboxes: 2 });
      assert.deepStrictEqual(
        (await again.list(A, 0, 10, T0)).envelopes.map((e) => [e.id, e.seq]),
        [[c.id, 3]],
      );
      assert.strictEqual(await again.status(a.id, T0), 'acknowledged');
      assert.strictEqual(await again.status(b.id, T0), 'retracted');
      assert.strictEqual(await again.status(c.id, T0), 'delivered');
      assert.strictEqual((await again.append(req(A), BIG)).seq, 4, 'seq continues after the reopen');
      assert.strictEqual((await again.append(a, BIG)).created, false);
      assert.deepStrictEqual(Buffer.from((await again.getRecord(A, 'hub-terms'))!), Buffer.from(terms), 'records survive');
      assert.deepStrictEqual(await again.listRecords(A), ['hub-terms'], 'and so do their deletions');
    });
  }
}
