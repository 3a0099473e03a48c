/**
 * The relay store conformance suite, in the style of abstract-level's shared
 * test suite: every {@link RelayStore} backend must pass it unchanged.
 *
 *   storeConformance({ name: 'level', factory, reopen })
 *
 * `factory` returns a fresh, unopened, empty store; `reopen` (for persistent
 * backends) returns a new instance over the same data as a closed store.
 * Times are passed explicitly, so nothing here depends on the wall clock.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { ErrorCode } from '../../base/errors.js';
import type { AppendRequest, MailboxQuota, RelayStore } from '../../server/store/types.js';
import { rejectsCode } from '../helpers.js';

/** Options of {@link storeConformance}. */
export interface ConformanceOptions {
  name: string;
  /** A fresh, unopened, empty store. */
  factory: () => RelayStore;
  /** A new instance over the data of `closed` (persistent backends only). */
  reopen?: (closed: RelayStore) => RelayStore;
  /** Retention of `expired` tombstones the factory configured (ms). */
  expiredRetentionMs: number;
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

/** Registers and runs the conformance suite against one backend. */
export function storeConformance(opts: ConformanceOptions): void {
  const t = suite<{ store: RelayStore; all: RelayStore[] }>(`store conformance: ${opts.name}`, {
    store: undefined as unknown as RelayStore,
    all: [],
  });
  t.before.each(async (ctx) => {
    ctx.all = [];
    ctx.store = opts.factory();
    ctx.all.push(ctx.store);
    await ctx.store.open();
  });
  t.after.each(async (ctx) => {
    for (const s of ctx.all) await s.close();
  });

  const A = mailboxOf(0xaa);
  const B = mailboxOf(0xbb);

  t('empty store: zero usage, empty list, unknown status', async ({ store }) => {
    assert.equal(store.usage(A), { count: 0, bytes: 0, lastSeq: 0 });
    assert.equal(store.totals(), { envelopes: 0, bytes: 0, mailboxes: 0 });
    assert.equal(await store.list(A, 0, 10, T0), { envelopes: [], more: false });
    assert.is(await store.status('00'.repeat(32), T0), undefined);
  });

  t('append assigns per-mailbox seqs from 1 and lists the exact bytes', async ({ store }) => {
    const a1 = req(A), a2 = req(A), b1 = req(B);
    assert.equal(await store.append(a1, BIG), { created: true, seq: 1, expiresAt: a1.expiresAt });
    assert.equal(await store.append(b1, BIG), { created: true, seq: 1, expiresAt: b1.expiresAt });
    assert.equal(await store.append(a2, BIG), { created: true, seq: 2, expiresAt: a2.expiresAt });
    const { envelopes, more } = await store.list(A, 0, 10, T0);
    assert.is(more, false);
    assert.equal(envelopes.map((e) => [e.id, e.seq, e.expiresAt]), [[a1.id, 1, a1.expiresAt], [a2.id, 2, a2.expiresAt]]);
    assert.equal(Buffer.from(envelopes[0]!.envelope), Buffer.from(a1.envelope));
    assert.equal(store.usage(A), { count: 2, bytes: 200, lastSeq: 2 });
    assert.equal(store.totals(), { envelopes: 3, bytes: 300, mailboxes: 2 });
    assert.is(await store.status(a1.id, T0), 'queued');
  });

  t('the same envelope again is not stored twice, even concurrently', async ({ store }) => {
    const a = req(A);
    const first = await store.append(a, BIG);
    assert.equal(await store.append(a, BIG), { ...first, created: false });
    const b = req(A);
    const results = await Promise.all(Array.from({ length: 20 }, () => store.append({ ...b }, BIG)));
    assert.is(results.filter((r) => r.created).length, 1);
    assert.ok(results.every((r) => r.seq === 2));
    assert.is(store.usage(A).count, 2);
    assert.is((await store.list(A, 0, 100, T0)).envelopes.length, 2);
  });

  t('concurrent distinct appends get distinct consecutive seqs', async ({ store }) => {
    const reqs = Array.from({ length: 200 }, () => req(A, 50));
    const results = await Promise.all(reqs.map((r) => store.append(r, BIG)));
    assert.equal(results.map((r) => r.seq).sort((x, y) => x - y), Array.from({ length: 200 }, (_, i) => i + 1));
    const listed = await store.list(A, 0, 1000, T0);
    assert.equal(listed.envelopes.map((e) => e.seq), Array.from({ length: 200 }, (_, i) => i + 1));
    const bySeq = new Map(results.map((r, i) => [r.seq, reqs[i]!.id]));
    for (const e of listed.envelopes) assert.is(e.id, bySeq.get(e.seq));
  });

  t('list pages by cursor and limit, with `more`', async ({ store }) => {
    for (let i = 0; i < 5; i++) await store.append(req(A), BIG);
    const p1 = await store.list(A, 0, 2, T0);
    assert.equal(p1.envelopes.map((e) => e.seq), [1, 2]);
    assert.is(p1.more, true);
    const p2 = await store.list(A, 2, 2, T0);
    assert.equal(p2.envelopes.map((e) => e.seq), [3, 4]);
    const p3 = await store.list(A, 4, 2, T0);
    assert.equal(p3.envelopes.map((e) => e.seq), [5]);
    assert.is(p3.more, false);
    assert.equal((await store.list(A, 5, 2, T0)).envelopes, []);
    assert.equal((await store.list(A, 1e12, 2, T0)).envelopes, []);
    assert.equal((await store.list(B, 0, 2, T0)).envelopes, []);
    const capped = await store.list(A, 0, 10, T0, 150);
    assert.equal(capped.envelopes.map((e) => e.seq), [1, 2], 'stops once maxBytes is reached');
    assert.is(capped.more, true);
    assert.equal((await store.list(A, 0, 10, T0, 1)).envelopes.map((e) => e.seq), [1], 'at least one');
  });

  t('quota: envelope count and bytes are enforced atomically', async ({ store }) => {
    const q: MailboxQuota = { maxEnvelopes: 3, maxBytes: 250 };
    await store.append(req(A, 100), q);
    await store.append(req(A, 100), q);
    await rejectsCode(store.append(req(A, 100), q), ErrorCode.MAILBOX_FULL, 'bytes');
    await store.append(req(A, 50), q);
    await rejectsCode(store.append(req(A, 1), q), ErrorCode.MAILBOX_FULL, 'count');
    assert.equal(store.usage(A), { count: 3, bytes: 250, lastSeq: 3 });
    // Concurrent appends cannot overshoot the quota.
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => store.append(req(B, 10), q)));
    assert.is(results.filter((r) => r.status === 'fulfilled').length, 3);
    assert.is(store.usage(B).count, 3);
    // Acking frees space.
    const first = (await store.list(A, 0, 1, T0)).envelopes[0]!;
    assert.equal(await store.ack(A, [first.id]), [first.id]);
    await store.append(req(A, 100), q);
  });

  t('markDelivered turns queued into delivered', async ({ store }) => {
    const a = req(A);
    await store.append(a, BIG);
    store.markDelivered([a.id]);
    await store.flush();
    assert.is(await store.status(a.id, T0), 'delivered');
    assert.is((await store.list(A, 0, 10, T0)).envelopes.length, 1, 'still listed until acked');
  });

  t('ack deletes only the caller mailbox’s live envelopes and leaves a tombstone', async ({ store }) => {
    const a = req(A), b = req(B);
    await store.append(a, BIG);
    await store.append(b, BIG);
    assert.equal(await store.ack(A, [b.id, '11'.repeat(32), a.id]), [a.id], 'another mailbox’s id and unknown ids are ignored');
    assert.is(await store.status(b.id, T0), 'queued');
    assert.is(await store.status(a.id, T0), 'acknowledged');
    assert.equal((await store.list(A, 0, 10, T0)).envelopes, []);
    assert.equal(store.usage(A), { count: 0, bytes: 0, lastSeq: 1 });
    assert.equal(await store.ack(A, [a.id]), [], 'second ack is a no-op');
    store.markDelivered([a.id]);
    await store.flush();
    assert.is(await store.status(a.id, T0), 'acknowledged', 'a late delivered flag does not resurrect it');
    assert.equal(await store.append(a, BIG), { created: false, seq: 1, expiresAt: a.expiresAt }, 'no resurrection by re-post');
    assert.is(await store.status(a.id, a.expiresAt), undefined, 'tombstone ends with the original TTL');
  });

  t('seq stays monotonic after every envelope is acked', async ({ store }) => {
    const a = req(A);
    await store.append(a, BIG);
    await store.ack(A, [a.id]);
    assert.is((await store.append(req(A), BIG)).seq, 2);
  });

  t('retraction: secret checks, outcomes and no resurrection', async ({ store }) => {
    const r = retraction();
    const a = req(A, 100, T0 + HOUR, { retractionHash: r.hash });
    const plain = req(A);
    await store.append(a, BIG);
    await store.append(plain, BIG);
    await rejectsCode(store.retract('22'.repeat(32), r.hash, T0), ErrorCode.ENVELOPE_NOT_FOUND);
    await rejectsCode(store.retract(plain.id, r.hash, T0), ErrorCode.RETRACT_FORBIDDEN, 'no hash set');
    await rejectsCode(store.retract(a.id, retraction().hash, T0), ErrorCode.RETRACT_FORBIDDEN, 'wrong secret');
    assert.is(await store.status(a.id, T0), 'queued');
    store.markDelivered([a.id]);
    assert.is(await store.retract(a.id, r.hash, T0), 'retracted', 'delivered but unacked can be retracted');
    assert.is(await store.status(a.id, T0), 'retracted');
    assert.equal((await store.list(A, 0, 10, T0)).envelopes.map((e) => e.id), [plain.id]);
    assert.equal(store.usage(A), { count: 1, bytes: 100, lastSeq: 2 });
    assert.is(await store.retract(a.id, r.hash, T0), 'retracted', 'idempotent');
    assert.equal(await store.ack(A, [a.id]), []);
    assert.is((await store.append(a, BIG)).created, false);
    assert.equal((await store.list(A, 0, 10, T0)).envelopes.map((e) => e.id), [plain.id]);
  });

  t('retraction after acknowledgement is too late; after expiry reports expired', async ({ store }) => {
    const r = retraction();
    const a = req(A, 100, T0 + HOUR, { retractionHash: r.hash });
    await store.append(a, BIG);
    await store.ack(A, [a.id]);
    await rejectsCode(store.retract(a.id, r.hash, T0), ErrorCode.RETRACT_TOO_LATE);
    const r2 = retraction();
    const b = req(A, 100, T0 + HOUR, { retractionHash: r2.hash });
    await store.append(b, BIG);
    assert.is(await store.retract(b.id, r2.hash, T0 + HOUR), 'expired');
  });

  t('expiry: never served after expiresAt, swept into a tombstone, then purged', async ({ store }) => {
    const short = req(A, 100, T0 + 1000);
    const long = req(A, 100, T0 + HOUR);
    await store.append(short, BIG);
    await store.append(long, BIG);
    assert.equal((await store.list(A, 0, 10, T0 + 999)).envelopes.length, 2);
    assert.equal((await store.list(A, 0, 10, T0 + 1000)).envelopes.map((e) => e.id), [long.id]);
    assert.is(await store.status(short.id, T0 + 1000), 'expired', 'expired before the sweep runs');
    const s1 = await store.sweep(T0 + 1000);
    assert.equal(s1, { expired: 1, purged: 0, more: false });
    assert.equal(store.usage(A), { count: 1, bytes: 100, lastSeq: 2 });
    assert.is(await store.status(short.id, T0 + 1000 + opts.expiredRetentionMs - 1), 'expired');
    assert.equal(await store.ack(A, [short.id]), [], 'an expired envelope cannot be acked');
    const s2 = await store.sweep(T0 + 1000 + opts.expiredRetentionMs);
    assert.is(s2.purged, 1);
    assert.is(await store.status(short.id, T0 + 1000 + opts.expiredRetentionMs), undefined);
    assert.is(await store.status(long.id, T0), 'queued', 'the other envelope is untouched');
  });

  t('sweep purges ack tombstones at the original expiry, respects its limit', async ({ store }) => {
    const reqs = Array.from({ length: 5 }, (_, i) => req(A, 10, T0 + 1000 + i));
    for (const r of reqs) await store.append(r, BIG);
    await store.ack(A, [reqs[0]!.id]);
    const s1 = await store.sweep(T0 + 10_000, 3);
    assert.is(s1.more, true);
    assert.is(s1.expired + s1.purged, 3);
    const s2 = await store.sweep(T0 + 10_000, 100);
    assert.is(s1.expired + s2.expired, 4);
    assert.is(s1.purged + s2.purged, 1);
    assert.is(await store.status(reqs[0]!.id, T0 + 10_000), undefined);
    assert.equal(store.usage(A), { count: 0, bytes: 0, lastSeq: 5 });
    assert.is(store.totals().envelopes, 0);
  });

  t('onAppend fires once per new envelope, after it is durable, in seq order', async ({ store }) => {
    const seen: [string, number, string][] = [];
    const off = store.onAppend((mailbox, e) => seen.push([mailbox, e.seq, e.id]));
    const reqs = Array.from({ length: 30 }, (_, i) => req(i % 2 ? A : B));
    await Promise.all(reqs.map((r) => store.append(r, BIG)));
    await store.append(reqs[0]!, BIG);
    assert.is(seen.length, 30);
    for (const mb of [A, B]) {
      const seqs = seen.filter(([m]) => m === mb).map(([, s]) => s);
      assert.equal(seqs, [...seqs].sort((x, y) => x - y));
    }
    for (const [mb, , id] of seen) assert.ok((await store.status(id, T0)) === 'queued' && (mb === A || mb === B));
    off();
    await store.append(req(A), BIG);
    assert.is(seen.length, 30);
  });

  t('closed store rejects with STORE_UNAVAILABLE; close is idempotent', async ({ store }) => {
    await store.append(req(A), BIG);
    await store.close();
    await store.close();
    await rejectsCode(store.append(req(A), BIG), ErrorCode.STORE_UNAVAILABLE);
    await rejectsCode(store.list(A, 0, 1, T0), ErrorCode.STORE_UNAVAILABLE);
    await rejectsCode(store.status('00'.repeat(32), T0), ErrorCode.STORE_UNAVAILABLE);
    await rejectsCode(store.ack(A, ['00'.repeat(32)]), ErrorCode.STORE_UNAVAILABLE);
    store.markDelivered(['00'.repeat(32)]);
  });

  t('close waits for appends already accepted', async ({ store }) => {
    const reqs = Array.from({ length: 50 }, () => req(A));
    const pending = reqs.map((r) => store.append(r, BIG));
    await store.close();
    const results = await Promise.allSettled(pending);
    assert.ok(results.every((r) => r.status === 'fulfilled'));
  });

  if (opts.reopen) {
    const reopen = opts.reopen;
    t('persistence: counters, seqs, envelopes and tombstones survive a reopen', async (ctx) => {
      const { store } = ctx;
      const r = retraction();
      const a = req(A), b = req(A, 100, T0 + HOUR, { retractionHash: r.hash }), c = req(A), d = req(B);
      for (const x of [a, b, c, d]) await store.append(x, BIG);
      await store.ack(A, [a.id]);
      await store.retract(b.id, r.hash, T0);
      store.markDelivered([c.id]);
      await store.close();
      const again = reopen(store);
      ctx.all.push(again);
      await again.open();
      assert.equal(again.usage(A), { count: 1, bytes: 100, lastSeq: 3 });
      assert.equal(again.totals(), { envelopes: 2, bytes: 200, mailboxes: 2 });
      assert.equal((await again.list(A, 0, 10, T0)).envelopes.map((e) => [e.id, e.seq]), [[c.id, 3]]);
      assert.is(await again.status(a.id, T0), 'acknowledged');
      assert.is(await again.status(b.id, T0), 'retracted');
      assert.is(await again.status(c.id, T0), 'delivered');
      assert.is((await again.append(req(A), BIG)).seq, 4, 'seq continues after the reopen');
      assert.is((await again.append(a, BIG)).created, false);
    });
  }

  t.run();
}
