/** Runs the store conformance suite against the LevelDB backend, plus LevelDB-specific checks. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { LevelStore } from '../../server/store/level.js';
import type { RelayStore } from '../../server/store/types.js';
import { storeConformance } from './store-conformance.js';

const RETENTION = 60_000;
const dirs = new WeakMap<RelayStore, string>();

function open(dir: string): LevelStore {
  const s = new LevelStore({ location: dir, expiredRetentionMs: RETENTION });
  dirs.set(s, dir);
  return s;
}

storeConformance({
  name: 'level',
  expiredRetentionMs: RETENTION,
  factory: () => open(fs.mkdtempSync(os.tmpdir() + '/lnmb-')),
  reopen: (closed) => open(dirs.get(closed)!),
});

const t = suite('store level: group commit');

t('concurrent appends share synced batches', async () => {
  const batches: { ops: number; sync: boolean }[] = [];
  const store = new LevelStore({
    location: fs.mkdtempSync(os.tmpdir() + '/lnmb-'),
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
  assert.ok(batches.every((b) => b.sync), 'appends are always synced');
  assert.is(store.usage(mailbox).count, n);
  await store.close();
});

t('a store that cannot open reports STORE_UNAVAILABLE', async () => {
  const file = fs.mkdtempSync(os.tmpdir() + '/lnmb-') + '/not-a-dir';
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

t.run();
