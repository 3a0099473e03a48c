/** The client's persistent nonce store passes the same conformance suite as the in-memory one. */
import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../../base/errors.js';
import { overKv, recordingKv, rejectsCode } from '../../helpers.js';
import os from 'node:os';
import { LevelKv, MemoryKv } from '../../../client/mailbox/kv.js';
import { KvNonceStore } from '../../../client/wallet/nonce-store.js';
import { nonceStoreConformance } from '../../crypto/nonce-store-conformance.js';

nonceStoreConformance('KvNonceStore over MemoryKv', async () => ({ store: new KvNonceStore(new MemoryKv()) }));

nonceStoreConformance('KvNonceStore over LevelKv', async () => {
  const dir = fs.mkdtempSync(os.tmpdir() + '/lnmb-nonce-');
  let kv = new LevelKv(dir);
  return {
    store: new KvNonceStore(kv),
    reopen: async () => {
      await kv.close();
      kv = new LevelKv(dir);
      return new KvNonceStore(kv);
    },
    close: async () => {
      await kv.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

// Holding (a runtime's step): records stay in memory, reads see them, and a reopen after the
// release finds them — whether they went out in the caller's batch or at the release.
nonceStoreConformance('KvNonceStore over LevelKv, holding its writes for the step batch', async () => {
  const dir = fs.mkdtempSync(os.tmpdir() + '/lnmb-nonce-held-');
  let kv = new LevelKv(dir);
  let store = new KvNonceStore(kv);
  store.hold();
  return {
    store,
    reopen: async () => {
      await store.release();
      await kv.close();
      kv = new LevelKv(dir);
      store = new KvNonceStore(kv);
      store.hold();
      return store;
    },
    close: async () => {
      await store.release();
      await kv.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

const held = suite('KvNonceStore: held writes');
const record = (b: number) => new Uint8Array(161).fill(b);

held('held records are written by the caller’s batch, once, and nothing else is written for them', async () => {
  const kv = new MemoryKv();
  const { kv: spy, calls } = recordingKv(kv);
  const writes = () => calls.map((c) => `${c.kind} ${c.keys.join(',')}`);
  const store = new KvNonceStore(spy);
  store.hold();
  await store.put('a', record(1));
  await store.spend('a', record(2));
  await store.put('b', record(3));
  assert.equal(await kv.get('nonce/rec/a'), undefined, 'nothing reached the store');
  assert.equal(await store.get('a'), record(2), 'reads see the held writes');
  await rejectsCode(store.put('a', record(4)), ErrorCode.NONCE_REUSE);
  const ops = store.heldOps();
  assert.equal(
    ops.map((o) => o.key),
    ['nonce/rec/a', 'nonce/rec/b'],
  );
  await spy.batch([{ type: 'put', key: 'role/state', value: record(0) }, ...ops]);
  store.written(ops);
  await store.release();
  assert.equal(writes(), ['batch role/state,nonce/rec/a,nonce/rec/b'], 'the release had nothing left to write');
  assert.equal(await kv.get('nonce/rec/a'), record(2));
  await store.put('c', record(5));
  assert.equal(writes().at(-1), 'put nonce/rec/c', 'released: writes go through again');
});

held('a step that failed before its batch: the release writes what it held, so a committed nonce is never forgotten', async () => {
  const kv = new MemoryKv();
  const store = new KvNonceStore(kv);
  store.hold();
  await store.put('a', record(1));
  const ops = store.heldOps(); // taken for a batch that then failed: not written()
  assert.is(ops.length, 1);
  await store.release();
  assert.equal(await kv.get('nonce/rec/a'), record(1));
  assert.equal(new KvNonceStore(kv).heldOps(), []);
  await rejectsCode(new KvNonceStore(kv).put('a', record(9)), ErrorCode.NONCE_REUSE);
});

held('a release that fails keeps holding: the next step’s batch carries the records', async () => {
  const kv = new MemoryKv();
  let fail = true;
  const flaky = overKv(kv, {
    batch: async (ops) => {
      if (fail) throw new Error('disk full');
      await kv.batch(ops);
    },
  });
  const store = new KvNonceStore(flaky);
  store.hold();
  await store.put('a', record(1));
  let refused: unknown;
  await store.release().catch((e: unknown) => void (refused = e));
  assert.ok(refused instanceof Error && refused.message === 'disk full', 'the release reports the failure');
  fail = false;
  store.hold();
  assert.equal(
    store.heldOps().map((o) => o.key),
    ['nonce/rec/a'],
    'still held for the next batch',
  );
  assert.equal(await store.get('a'), record(1));
  await store.release();
  assert.equal(await kv.get('nonce/rec/a'), record(1));
});

held.run();
