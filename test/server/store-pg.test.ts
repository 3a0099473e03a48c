/**
 * Runs the store conformance suite against the PostgreSQL backend on a real,
 * throw-away PostgreSQL server (pg-harness.ts), plus PostgreSQL-specific
 * checks: two stores over one database share seqs, quota and the doorbell.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { ErrorCode } from '../../base/errors.js';
import { PgStore } from '../../server/store/pg/store.js';
import type { AppendRequest, RelayStore, StoredEnvelope } from '../../server/store/types.js';
import { rejectsCode } from '../helpers.js';
import { pgUnavailable, startPostgres, type PgServer } from './pg-harness.js';
import { storeConformance } from '../../server/store/conformance.js';
import { type FaultPlan, faultSuite, type FaultKind } from './store-faults.js';

/** An error shaped like PostgreSQL's or node-postgres's for each fault. */
function pgError(kind: FaultKind): Error {
  if (kind === 'ENOSPC')
    return Object.assign(new Error('could not extend file "base/16384/16400": No space left on device'), { code: '53100' });
  if (kind === 'EIO')
    return Object.assign(new Error('could not write to file "pg_wal/000000010000000000000001": Input/output error'), { code: '58030' });
  // The statement ran (a COMMIT may have been flushed) but its answer never came: outcome unknown.
  return new Error('Connection terminated unexpectedly');
}

/** Routes every statement of the pool, and of clients it hands out, through `plan`. */
function faultyPool(pool: pg.Pool, plan: FaultPlan): pg.Pool {
  const through = <T extends object>(target: T, wrap: Record<string, unknown>): T =>
    new Proxy(target, {
      get(t, prop) {
        if (typeof prop === 'string' && prop in wrap) return wrap[prop];
        const v = Reflect.get(t, prop, t) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
  const query =
    (target: { query: (...a: unknown[]) => Promise<unknown> }) =>
    (...args: unknown[]) =>
      plan.step(() => target.query(...args), pgError);
  return through(pool, {
    query: query(pool as unknown as { query: (...a: unknown[]) => Promise<unknown> }),
    connect: async () => {
      const c = await pool.connect();
      return through(c, { query: query(c as unknown as { query: (...a: unknown[]) => Promise<unknown> }) });
    },
  });
}

const RETENTION = 60_000;
const why = pgUnavailable();

if (why) {
  console.log(`SKIPPED: PostgreSQL not available (${why})`);
} else {
  const server: PgServer = await startPostgres();
  const url = await server.createDatabase('lnmb_store');
  const schemas = new WeakMap<RelayStore, string>();
  let next = 0;
  const open = (schema: string, extra: Partial<ConstructorParameters<typeof PgStore>[0]> = {}): PgStore => {
    const s = new PgStore({ connectionString: url, schema, expiredRetentionMs: RETENTION, poolSize: 4, ...extra });
    schemas.set(s, schema);
    return s;
  };

  const conformance = suite('store conformance: postgres');
  storeConformance({
    test: conformance,
    expiredRetentionMs: RETENTION,
    // A fresh schema per test: an empty store without the cost of a database per test.
    factory: () => open(`conf_${++next}`),
    reopen: (closed) => open(schemas.get(closed)!),
  });
  conformance.run();

  faultSuite({
    name: 'postgres',
    open: (plan) => open(`fault_${++next}`, { wrapPool: (p) => faultyPool(p, plan), recoveryDelayMs: { min: 1, max: 20 } }),
    reopen: (closed) => open(schemas.get(closed)!),
  });

  const T0 = 1_800_000_000_000;
  const BIG = { maxEnvelopes: 1e6, maxBytes: 1e9 };
  const req = (mailbox: string, size = 100): AppendRequest => {
    const envelope = new Uint8Array(randomBytes(size));
    return { id: createHash('sha256').update(envelope).digest('hex'), mailbox, envelope, expiresAt: T0 + 3_600_000 };
  };

  const t = suite('store postgres: several instances, one database');

  t('two stores share gap-free seqs and one quota under concurrent appends', async () => {
    const a = open('multi_1'),
      b = open('multi_1');
    await a.open();
    await b.open();
    const mb = 'a1'.repeat(32);
    const reqs = Array.from({ length: 120 }, () => req(mb, 10));
    const results = await Promise.all(reqs.map((r, i) => (i % 2 ? a : b).append(r, BIG)));
    assert.equal(
      results.map((r) => r.seq).sort((x, y) => x - y),
      Array.from({ length: 120 }, (_, i) => i + 1),
    );
    // The same envelope posted to both at once is stored once.
    const dup = req(mb, 10);
    const both = await Promise.all([a.append(dup, BIG), b.append({ ...dup }, BIG)]);
    assert.is(both.filter((r) => r.created).length, 1);
    assert.is(both[0]!.seq, both[1]!.seq);
    // Quota across instances: 20 concurrent appends to a fresh mailbox with room for 7.
    const q = { maxEnvelopes: 7, maxBytes: 1e9 };
    const mb2 = 'a2'.repeat(32);
    const settled = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).append(req(mb2, 10), q)));
    assert.is(settled.filter((s) => s.status === 'fulfilled').length, 7);
    for (const s of settled) if (s.status === 'rejected') assert.is((s.reason as { code: string }).code, ErrorCode.MAILBOX_FULL);
    assert.is((await a.list(mb2, 0, 100, T0)).envelopes.length, 7);
    await a.close();
    await b.close();
  });

  t('the doorbell: an append on one store reaches the other’s listeners, in seq order, once', async () => {
    const a = open('bell_1'),
      b = open('bell_1');
    await a.open();
    await b.open();
    const mb = 'b1'.repeat(32);
    const seenA: StoredEnvelope[] = [],
      seenB: StoredEnvelope[] = [];
    a.onAppend((m, e) => m === mb && seenA.push(e));
    b.onAppend((m, e) => m === mb && seenB.push(e));
    const reqs = Array.from({ length: 60 }, () => req(mb, 50));
    await Promise.all(reqs.map((r, i) => (i % 3 ? a : b).append(r, BIG)));
    const deadline = Date.now() + 5000;
    while ((seenA.length < 60 || seenB.length < 60) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const seen of [seenA, seenB]) {
      assert.equal(
        seen.map((e) => e.seq),
        Array.from({ length: 60 }, (_, i) => i + 1),
        'every seq once, in order',
      );
    }
    const byId = new Map(reqs.map((r) => [r.id, r]));
    for (const e of seenB) assert.equal(Buffer.from(e.envelope), Buffer.from(byId.get(e.id)!.envelope), 'bytes read back intact');
    // Counters seen by the other instance follow through notifications.
    assert.equal(a.usage(mb), { count: 60, bytes: 3000, lastSeq: 60 });
    assert.equal(b.usage(mb), { count: 60, bytes: 3000, lastSeq: 60 });
    await a.ack(mb, [reqs[0]!.id]);
    const until = Date.now() + 5000;
    while (b.usage(mb).count !== 59 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.equal(b.usage(mb), { count: 59, bytes: 2950, lastSeq: 60 });
    await a.close();
    await b.close();
  });

  t('wants: another instance’s envelope is read back only for a mailbox someone listens to here', async () => {
    const watched = 'd1'.repeat(32),
      ignored = 'd2'.repeat(32);
    const a = open('wants_1', { wants: (m) => m === watched }),
      b = open('wants_1');
    await a.open();
    await b.open();
    const seen: string[] = [];
    a.onAppend((m) => seen.push(m));
    await b.append(req(ignored), BIG);
    await b.append(req(watched), BIG);
    await a.append(req(ignored), BIG);
    const until = Date.now() + 5000;
    while (seen.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(seen, [watched, ignored], 'the watched foreign one and our own, not the ignored foreign one');
    await a.close();
    await b.close();
  });

  t('a lost LISTEN connection is re-established and the gap is filled in order', async () => {
    const errors: unknown[] = [];
    const a = open('gap_1', { onError: (e) => errors.push(e) }),
      b = open('gap_1');
    await a.open();
    await b.open();
    const mb = 'c1'.repeat(32);
    const seen: number[] = [];
    a.onAppend((m, e) => m === mb && seen.push(e.seq));
    await b.append(req(mb), BIG);
    const until0 = Date.now() + 5000;
    while (seen.length < 1 && Date.now() < until0) await new Promise((r) => setTimeout(r, 10));
    // Kill a's LISTEN backend from the outside, then append through b while a is deaf.
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN ln_mailbox_append__gap_1%' AND pid <> pg_backend_pid()`,
    );
    await admin.end();
    for (let i = 0; i < 3; i++) await b.append(req(mb), BIG);
    // a reconnects; the next append it hears about fills seqs 2..4 first.
    const until1 = Date.now() + 8000;
    while (seen.length < 5 && Date.now() < until1) {
      await b.append(req(mb), BIG);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(errors.length > 0, 'the loss was reported');
    assert.equal(seen.slice(0, 5), [1, 2, 3, 4, 5]);
    assert.equal(
      seen,
      [...seen].sort((x, y) => x - y),
    );
    await a.close();
    await b.close();
  });

  t('a database that goes away mid-life: STORE_UNAVAILABLE, never a crash; close still resolves', async () => {
    const doomedUrl = await server.createDatabase('lnmb_doomed');
    const errors: unknown[] = [];
    const s = new PgStore({ connectionString: doomedUrl, onError: (e) => errors.push(e) });
    await s.open();
    const mb = 'e1'.repeat(32);
    const a = req(mb);
    await s.append(a, BIG);
    const admin = new pg.Client({ connectionString: server.adminUrl });
    await admin.connect();
    await admin.query('DROP DATABASE lnmb_doomed WITH (FORCE)');
    await admin.end();
    await rejectsCode(s.append(req(mb), BIG), ErrorCode.STORE_UNAVAILABLE);
    await rejectsCode(s.status(a.id, T0), ErrorCode.STORE_UNAVAILABLE);
    await rejectsCode(s.list(mb, 0, 10, T0), ErrorCode.STORE_UNAVAILABLE);
    await rejectsCode(s.ack(mb, [a.id]), ErrorCode.STORE_UNAVAILABLE);
    s.markDelivered([a.id]);
    await s.flush();
    assert.ok(errors.length > 0, 'the lost LISTEN connection was reported');
    await s.close();
  });

  t('records: two instances share one record limit; a put on one is read on the other', async () => {
    const a = open('rec_multi'),
      b = open('rec_multi');
    await a.open();
    await b.open();
    const mb = 'c1'.repeat(32);
    const v = new Uint8Array(randomBytes(64));
    const settled = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => (i % 2 ? a : b).putRecord(mb, `n${i}`, v, 5)));
    assert.is(settled.filter((s) => s.status === 'fulfilled').length, 5);
    for (const s of settled) if (s.status === 'rejected') assert.is((s.reason as { code: string }).code, ErrorCode.RECORD_LIMIT);
    assert.is((await b.listRecords(mb)).length, 5);
    const name = (await a.listRecords(mb))[0]!;
    await a.putRecord(mb, name, new Uint8Array([7, 7]), 5);
    assert.equal([...(await b.getRecord(mb, name))!], [7, 7]);
    await a.close();
    await b.close();
  });

  t('schema migration: a version-1 database gains the records table and becomes version 2', async () => {
    const first = open('migrate_1');
    await first.open();
    const mb = 'c2'.repeat(32);
    const e = req(mb);
    await first.append(e, BIG);
    await first.close();
    // Turn it back into what a version-1 relay left behind.
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query('DROP TABLE migrate_1.lnmb_records');
    await admin.query(`UPDATE migrate_1.lnmb_meta SET value = '1' WHERE key = 'schema_version'`);
    const again = open('migrate_1');
    await again.open();
    assert.is((await again.list(mb, 0, 10, T0)).envelopes[0]?.id, e.id, 'the envelopes are still there');
    await again.putRecord(mb, 'hub-terms', new Uint8Array([1, 2, 3]), 8);
    assert.equal([...(await again.getRecord(mb, 'hub-terms'))!], [1, 2, 3]);
    const v = await admin.query(`SELECT value FROM migrate_1.lnmb_meta WHERE key = 'schema_version'`);
    assert.is(v.rows[0]?.value, '2');
    await again.close();
    // A database newer than this relay is refused, not written.
    await admin.query(`UPDATE migrate_1.lnmb_meta SET value = '3' WHERE key = 'schema_version'`);
    await admin.end();
    const newer = open('migrate_1');
    await rejectsCode(newer.open(), ErrorCode.STORE_UNAVAILABLE);
    await newer.close();
  });

  t('an unreachable database is STORE_UNAVAILABLE at open', async () => {
    const s = new PgStore({ connectionString: 'postgresql://postgres@127.0.0.1:1/none' });
    await rejectsCode(s.open(), ErrorCode.STORE_UNAVAILABLE);
    await s.close();
  });

  t.after(() => server.stop());
  t.run();
}
