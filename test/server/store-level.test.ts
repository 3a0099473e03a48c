/** Runs the store conformance suite (server/store/conformance.ts) against the LevelDB backend, plus LevelDB-specific checks. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { IdFilter } from '../../server/store/level/id-filter.js';
import { LevelStore } from '../../server/store/level/store.js';
import type { RelayStore } from '../../server/store/types.js';
import { storeConformance } from '../../server/store/conformance.js';
import { FaultPlan, faultSuite, type FaultKind } from './store-faults.js';

const RETENTION = 60_000;
const dirs = new WeakMap<RelayStore, string>();
const created: string[] = [];

function tempDir(): string {
  const d = fs.mkdtempSync(os.tmpdir() + '/lnmb-');
  created.push(d);
  return d;
}

function open(dir: string): LevelStore {
  const s = new LevelStore({ location: dir, expiredRetentionMs: RETENTION });
  dirs.set(s, dir);
  return s;
}

const conformance = suite('store conformance: level');
storeConformance({
  test: conformance,
  expiredRetentionMs: RETENTION,
  factory: () => open(tempDir()),
  reopen: (closed) => open(dirs.get(closed)!),
});
conformance.run();

/** An error shaped like classic-level's for each fault (code LEVEL_IO_ERROR, LevelDB's message). */
function levelError(kind: FaultKind): Error {
  const msg =
    kind === 'ENOSPC'
      ? 'IO error: /data/000005.log: No space left on device'
      : kind === 'EIO'
        ? 'IO error: /data/000005.log: Input/output error'
        : 'IO error: /data/000005.log: fsync: Input/output error';
  return Object.assign(new Error(msg), { code: 'LEVEL_IO_ERROR' });
}

const plans = new WeakMap<RelayStore, FaultPlan>();
function openFaulty(dir: string, plan: FaultPlan): LevelStore {
  const s = new LevelStore({
    location: dir,
    expiredRetentionMs: RETENTION,
    recoveryDelayMs: { min: 1, max: 20 },
    writeHook: (write) => plan.step(write, levelError),
  });
  dirs.set(s, dir);
  plans.set(s, plan);
  return s;
}

faultSuite({
  name: 'level',
  open: (plan) => openFaulty(tempDir(), plan),
  reopen: (closed) => openFaulty(dirs.get(closed)!, new FaultPlan()),
});

const t = suite('store level: group commit');

t('concurrent appends share synced batches', async () => {
  const batches: { ops: number; sync: boolean }[] = [];
  const store = new LevelStore({
    location: tempDir(),
    onBatch: ({ ops, sync }) => batches.push({ ops, sync }),
  });
  await store.open();
  const mailbox = 'ab'.repeat(32);
  const n = 300;
  await Promise.all(
    Array.from({ length: n }, () => {
      const envelope = new Uint8Array(randomBytes(200));
      const id = createHash('sha256').update(envelope).digest('hex');
      return store.append({ id, mailbox, envelope, expiresAt: Date.now() + 3_600_000 }, { maxEnvelopes: 1e6, maxBytes: 1e9 });
    }),
  );
  assert.ok(batches.length < n / 2, `expected batching, got ${batches.length} batches for ${n} appends`);
  assert.ok(
    batches.every((b) => b.sync),
    'appends are always synced',
  );
  assert.is(store.usage(mailbox).count, n);
  await store.close();
});

t('a store that cannot open reports STORE_UNAVAILABLE', async () => {
  const file = tempDir() + '/not-a-dir';
  fs.writeFileSync(file, 'x');
  const store = new LevelStore({ location: file });
  try {
    await store.open();
    assert.unreachable('opened a file as a database');
  } catch (e) {
    assert.is((e as { code?: string }).code, 'STORE_UNAVAILABLE');
  }
  await store.close();
});

const f = suite('store level: id filter');

f('no false negatives, few false positives, grows past its first layer', () => {
  const filter = new IdFilter(1000);
  const ids = Array.from({ length: 50_000 }, () => randomBytes(32));
  for (const id of ids) filter.add(id);
  assert.is(filter.size, 50_000);
  for (const id of ids) assert.ok(filter.mightContain(id));
  let fp = 0;
  for (let i = 0; i < 20_000; i++) if (filter.mightContain(randomBytes(32))) fp++;
  assert.ok(fp < 20_000 * 0.03, `false positives ${fp} / 20000`);
  assert.ok(filter.bytes < 50_000 * 8, `memory ${filter.bytes} bytes`);
});

f('a reopened store still recognises every old id as a duplicate', async () => {
  const dir = tempDir();
  const mailbox = 'cd'.repeat(32);
  const quota = { maxEnvelopes: 1e6, maxBytes: 1e9 };
  const reqs = Array.from({ length: 500 }, () => {
    const envelope = new Uint8Array(randomBytes(64));
    return { id: createHash('sha256').update(envelope).digest('hex'), mailbox, envelope, expiresAt: Date.now() + 3_600_000 };
  });
  const a = new LevelStore({ location: dir });
  await a.open();
  await Promise.all(reqs.map((r) => a.append(r, quota)));
  await a.ack(
    mailbox,
    reqs.slice(0, 100).map((r) => r.id),
  );
  await a.close();
  const b = new LevelStore({ location: dir });
  await b.open();
  const again = await Promise.all(reqs.map((r) => b.append(r, quota)));
  assert.ok(
    again.every((r) => !r.created),
    'live and tombstoned ids are duplicates',
  );
  assert.is(b.usage(mailbox).count, 400);
  await b.close();
});

f.after(() => {
  for (const d of created) fs.rmSync(d, { recursive: true, force: true });
});

t.run();
f.run();
