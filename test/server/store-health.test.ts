/**
 * Store health on one machine, no special filesystem needed: the free-space
 * reserve (STORE_FULL for new envelopes, every other write still allowed),
 * a store whose disk lost acknowledged writes turning `damaged` and staying
 * so, the disk-space monitor's arithmetic, and the relay's /readyz, /healthz
 * and /metrics following the store.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { ErrorCode } from '../../base/errors.js';
import { DiskSpaceMonitor } from '../../server/store/level/disk-space.js';
import { AckLedger } from '../../server/store/level/ack-ledger.js';
import { LevelStore } from '../../server/store/level/store.js';
import type { AppendRequest } from '../../server/store/types.js';
import { rejectsCode } from '../helpers.js';
import { fakeEnvelope, newMailbox, postEnvelope, request, startTestRelay } from './relay-harness.js';

const T0 = 1_800_000_000_000;
const BIG = { maxEnvelopes: 1e6, maxBytes: 1e9 };
const created: string[] = [];
const tempDir = (): string => {
  const d = fs.mkdtempSync(os.tmpdir() + '/lnmb-');
  created.push(d);
  return d;
};
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const req = (mailbox: string, extra: Partial<AppendRequest> = {}): AppendRequest => {
  const envelope = new Uint8Array(randomBytes(100));
  return { id: sha(envelope), mailbox, envelope, expiresAt: T0 + 3_600_000, ...extra };
};
const A = 'c3'.repeat(32);

async function until(fn: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const t = suite('store health');

t('below the free-space reserve: appends get STORE_FULL; ack, retract, sweep and delivered flags still write', async () => {
  const dir = tempDir();
  const secret = randomBytes(32);
  const a = req(A),
    b = req(A, { retractionHash: sha(secret) }),
    c = req(A, { expiresAt: T0 + 10 });
  const s1 = new LevelStore({ location: dir });
  await s1.open();
  for (const r of [a, b, c]) await s1.append(r, BIG);
  await s1.close();
  // A reserve no filesystem can meet.
  const s2 = new LevelStore({ location: dir, minFreeBytes: 2 ** 50 });
  await s2.open();
  const h = s2.health();
  assert.is(h.state, 'ok');
  assert.ok(h.lowSpace, 'low space');
  assert.ok((h.freeBytes ?? 0) > 0, 'free bytes known');
  assert.is(h.reserveBytes, 2 ** 50);
  await rejectsCode(s2.append(req(A), BIG), ErrorCode.STORE_FULL);
  assert.is((await s2.append(a, BIG)).created, false, 'a re-post of a stored envelope still gets its answer');
  s2.markDelivered([a.id]);
  await s2.flush();
  assert.equal(await s2.ack(A, [a.id]), [a.id]);
  assert.is(await s2.retract(b.id, sha(secret), T0), 'retracted');
  assert.is((await s2.sweep(T0 + 100)).expired, 1);
  assert.is(s2.health().refusals.low_space, 1);
  assert.is(s2.health().state, 'ok');
  await s2.close();
  const s3 = new LevelStore({ location: dir });
  await s3.open();
  assert.is(await s3.status(a.id, T0), 'acknowledged');
  assert.is(await s3.status(b.id, T0), 'retracted');
  assert.equal(s3.usage(A).count, 0);
  await s3.close();
});

t('a disk that lost an acknowledged write: the check after reopen fails, the store stays damaged and refuses', async () => {
  let step = 0;
  const events: string[] = [];
  const store = new LevelStore({
    location: tempDir(),
    recoveryDelayMs: { min: 1, max: 10 },
    onHealth: (_h, e) => events.push(e),
    writeHook: async (write) => {
      step++;
      if (step === 2) return; // "written": acknowledged, but never reached the disk
      if (step === 3) throw Object.assign(new Error('IO error: No space left on device'), { code: 'LEVEL_IO_ERROR' });
      await write();
    },
  });
  await store.open();
  const first = req(A);
  await store.append(first, BIG);
  const lost = req(A);
  assert.is((await store.append(lost, BIG)).seq, 2, 'acknowledged by the lying disk');
  await rejectsCode(store.append(req(A), BIG), ErrorCode.STORE_UNAVAILABLE);
  await until(() => store.health().state === 'damaged', 'damaged');
  const h = store.health();
  assert.match(h.reason ?? '', /acknowledged up to seq 2, found 1/);
  assert.is(h.recoveries.damaged, 1);
  assert.equal(events.slice(0, 3), ['failed', 'recovering', 'damaged']);
  await rejectsCode(store.append(req(A), BIG), ErrorCode.STORE_UNAVAILABLE);
  await rejectsCode(store.ack(A, [first.id]), ErrorCode.STORE_UNAVAILABLE);
  assert.is(await store.status(first.id, T0), 'queued', 'reads still work, for draining');
  await new Promise((r) => setTimeout(r, 50));
  assert.is(store.health().state, 'damaged', 'no silent way back');
  await store.close();
});

t(
  'after a failed write nothing is written until a reopen is verified; then the store accepts again, seqs continuing from disk',
  async () => {
    let failing = true;
    let step = 0;
    const store = new LevelStore({
      location: tempDir(),
      recoveryDelayMs: { min: 1, max: 10 },
      writeHook: async (write) => {
        step++;
        if (failing) throw Object.assign(new Error('IO error: No space left on device'), { code: 'LEVEL_IO_ERROR' });
        await write();
      },
    });
    failing = false;
    await store.open();
    const a = req(A);
    await store.append(a, BIG);
    failing = true;
    await rejectsCode(store.append(req(A), BIG), ErrorCode.STORE_UNAVAILABLE);
    // Recovery itself writes nothing through the hook, so it succeeds; but no write may happen while failed.
    await until(() => store.health().state === 'ok', 'recovered');
    const before = step;
    failing = false;
    assert.is((await store.append(req(A), BIG)).seq, 2, 'the refused envelope burnt no seq');
    assert.is(step, before + 1);
    assert.ok(store.health().recoveries.ok >= 1);
    await store.close();
  },
);

t('disk-space monitor: reserve from bytes or percent, lowered by writes between polls, recovers on the next poll', async () => {
  let bavail = 1000;
  const changes: boolean[] = [];
  const m = new DiskSpaceMonitor({
    path: '/',
    minFreeBytes: 100 * 4096,
    minFreePercent: 10,
    intervalMs: 1_000_000,
    onChange: (low) => changes.push(low),
    statfs: async () => ({ bavail, bsize: 4096, blocks: 10_000 }),
  });
  await m.start();
  assert.is(m.reserveBytes, 1000 * 4096, '10 % of 10000 blocks beats 100 blocks');
  assert.is(m.low, false, 'exactly at the reserve is not below it');
  m.noteWritten(1);
  assert.is(m.low, true, 'one byte written since the poll tips it');
  bavail = 5000;
  await m.check();
  assert.is(m.low, false);
  assert.is(m.freeBytes, 5000 * 4096);
  assert.equal(changes, [true, false]);
  m.stop();
  const off = new DiskSpaceMonitor({ path: '/', minFreeBytes: 0, statfs: async () => ({ bavail: 0, bsize: 4096, blocks: 1 }) });
  await off.check();
  assert.is(off.low, false, 'no reserve, no refusal');
  assert.is(off.freeBytes, 0);
});

t('ack ledger: a deleted key that reappears, a missing value, an older counter are all found; uncertain keys are not', async () => {
  const key = (n: number) => Buffer.from([0x01, n]);
  const counterKey = Buffer.concat([Buffer.from([0x04]), Buffer.from(A, 'hex')]);
  const counter = (seq: number) => {
    const v = Buffer.alloc(24);
    v.writeUIntBE(seq, 2, 6);
    return v;
  };
  const db = new Map<string, Buffer>();
  const reader = { getMany: async (keys: Buffer[]) => keys.map((k) => db.get(k.toString('hex'))) };
  const ledger = new AckLedger(1 << 20);
  ledger.reset([]);
  ledger.committed([
    { type: 'put', key: key(1), value: Buffer.from('one') },
    { type: 'put', key: counterKey, value: counter(5) },
  ]);
  ledger.committed([{ type: 'del', key: key(2) }]);
  db.set(key(1).toString('hex'), Buffer.from('one'));
  db.set(counterKey.toString('hex'), counter(5));
  assert.is(await ledger.verify(reader), undefined);
  db.set(key(2).toString('hex'), Buffer.from('back'));
  assert.match((await ledger.verify(reader)) ?? '', /deleted before the error is different/);
  ledger.failed([{ type: 'put', key: key(2), value: Buffer.from('back') }]);
  assert.is(await ledger.verify(reader), undefined, 'a failed batch may have landed');
  db.set(counterKey.toString('hex'), counter(4));
  assert.match((await ledger.verify(reader)) ?? '', /acknowledged up to seq 5, found 4/);
  db.set(counterKey.toString('hex'), counter(5));
  db.delete(key(1).toString('hex'));
  assert.match((await ledger.verify(reader)) ?? '', /written before the error is missing/);
});

t('ack ledger window: the oldest writes leave it first, a rewritten key is checked at its latest value', async () => {
  const key = (n: number) => Buffer.from([0x01, n >> 8, n & 0xff]);
  const db = new Map<string, Buffer>();
  const reader = { getMany: async (keys: Buffer[]) => keys.map((k) => db.get(k.toString('hex'))) };
  // Each write holds 3 key bytes + 100 value bytes; the window keeps 10 of them.
  const ledger = new AckLedger(1030);
  ledger.reset([]);
  const v = (tag: number) => Buffer.alloc(100, tag);
  for (let i = 0; i < 50; i++) ledger.committed([{ type: 'put', key: key(i), value: v(i) }]);
  // Key 45 rewritten: only its latest value is acknowledged now.
  ledger.committed([{ type: 'put', key: key(45), value: v(200) }]);
  assert.ok(ledger.truncated, 'older writes left the window');
  assert.ok(ledger.size <= 10, `window holds ${ledger.size} keys`);
  for (let i = 0; i < 50; i++) db.set(key(i).toString('hex'), v(i));
  db.set(key(45).toString('hex'), v(200));
  assert.is(await ledger.verify(reader), undefined);
  // Keys that left the window are no longer checked; the newest ones are.
  db.delete(key(0).toString('hex'));
  assert.is(await ledger.verify(reader), undefined, 'key 0 left the window');
  db.set(key(45).toString('hex'), v(45));
  assert.match((await ledger.verify(reader)) ?? '', /written before the error is different/, 'the rewrite is checked at its latest value');
  db.set(key(45).toString('hex'), v(200));
  db.delete(key(49).toString('hex'));
  assert.match((await ledger.verify(reader)) ?? '', /written before the error is missing/);
});

t('relay: /readyz and /metrics follow the store, /healthz stays about the process', async () => {
  const r = await startTestRelay({ minFreeBytes: 2 ** 50 });
  try {
    const mb = newMailbox();
    const post = await postEnvelope(r.url, mb.id, fakeEnvelope(mb.id));
    assert.is(post.status, 503);
    assert.is(post.body.error.code, 'STORE_FULL');
    assert.ok(post.headers.get('retry-after'), 'Retry-After');
    const ready = await request(`${r.url}/readyz`);
    assert.is(ready.status, 503);
    assert.is(ready.body.error.code, 'STORE_FULL');
    assert.is((await request(`${r.url}/healthz`)).status, 200);
    const metrics = (await request(`${r.url}/metrics`)).body as string;
    assert.match(metrics, /lnmb_store_low_space 1/);
    assert.match(metrics, /lnmb_store_state\{state="ok"\} 1/);
    assert.match(metrics, /lnmb_store_refusals_total\{reason="low_space"\} 1/);
    assert.match(metrics, /lnmb_store_free_bytes \d+/);
    assert.match(metrics, /lnmb_store_reserve_bytes 1125899906842624/);
  } finally {
    await r.close();
  }
  const ok = await startTestRelay({ minFreeBytes: 0 });
  try {
    assert.is((await request(`${ok.url}/readyz`)).status, 200);
    const mb = newMailbox();
    assert.is((await postEnvelope(ok.url, mb.id, fakeEnvelope(mb.id))).status, 201);
  } finally {
    await ok.close();
  }
});

t.after(() => {
  for (const d of created) fs.rmSync(d, { recursive: true, force: true });
});
t.run();
