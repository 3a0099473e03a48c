/**
 * {@link DeferringKv}: the Kv conformance suite with every put and delete
 * held (so reads must merge what is held with what is stored), held writes
 * riding at the front of the next batch and dropped once stored, a direct
 * write winning over what was held for its key, a failed batch keeping
 * what it carried, the timer writing what no batch took, and LevelDB
 * keeping held writes across a close but not across a crash.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LevelKv, MemoryKv, type Kv, type KvOp } from '../../../client/mailbox/kv.js';
import { DeferringKv } from '../../../client/mailbox/kv-deferred.js';
import { overKv, recordingKv, type KvCall } from '../../helpers.js';
import { kvConformance } from './kv-conformance.js';

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'lnmb-deferred-'));
  dirs.push(d);
  return d;
};

/** A DeferringKv whose single puts and deletes are all held (never written until a batch carries them). */
function holdingEverything(inner: Kv): Kv {
  const d = new DeferringKv(inner, { delayMs: 3_600_000 });
  return {
    get: (k) => d.get(k),
    put: async (key, value) => d.defer([{ type: 'put', key, value }]),
    del: async (key) => d.defer([{ type: 'del', key }]),
    batch: (ops) => d.batch(ops),
    entries: (p) => d.entries(p),
    close: () => d.close(),
  };
}

kvConformance('DeferringKv over MemoryKv, every put and del held', () => holdingEverything(new MemoryKv()));
kvConformance('DeferringKv over LevelKv, every put and del held', () => holdingEverything(new LevelKv(tmp())));
kvConformance('DeferringKv over LevelKv, nothing held', () => new DeferringKv(new LevelKv(tmp())));

const b = (...xs: number[]) => new Uint8Array(xs);
const put = (key: string, ...v: number[]): KvOp => ({ type: 'put', key, value: b(...v) });
const del = (key: string): KvOp => ({ type: 'del', key });
async function list(kv: Kv, prefix: string): Promise<[string, number[]][]> {
  const out: [string, number[]][] = [];
  for await (const [k, v] of kv.entries(prefix)) out.push([k, [...v]]);
  return out;
}

const t = suite('client/kv DeferringKv');
t.after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

t('reads merge held writes into the store, in LevelDB key order', async () => {
  const inner = new MemoryKv();
  await inner.batch([put('p/a', 1), put('p/c', 3), put('p/e', 5), put('q/x', 9)]);
  const kv = new DeferringKv(inner, { delayMs: 3_600_000 });
  kv.defer([put('p/b', 2), put('p/c', 33), del('p/e'), put('p/\u00e9', 7), put('p/f', 6), del('p/zz')]);
  assert.equal(await list(kv, 'p/'), [
    ['p/a', [1]],
    ['p/b', [2]],
    ['p/c', [33]],
    ['p/f', [6]],
    ['p/\u00e9', [7]],
  ]);
  assert.equal([...(await kv.get('p/c'))!], [33]);
  assert.is(await kv.get('p/e'), undefined);
  assert.equal(await list(inner, 'p/'), [
    ['p/a', [1]],
    ['p/c', [3]],
    ['p/e', [5]],
  ]);
  assert.is(kv.held, 6);
});

t('held writes ride at the front of the next batch, which then holds nothing; a direct write of a held key wins', async () => {
  const calls: KvCall[] = [];
  const inner = new MemoryKv();
  const kv = new DeferringKv(recordingKv(inner, calls).kv, { delayMs: 3_600_000 });
  kv.defer([put('cursor', 1), put('posted', 1), del('outbox/1')]);
  kv.defer([put('cursor', 2)]); // the last one per key wins
  await kv.batch([put('state', 7)]);
  assert.equal(calls, [{ kind: 'batch', keys: ['posted', 'outbox/1', 'cursor', 'state'] }]);
  assert.equal([...(await inner.get('cursor'))!], [2]);
  assert.is(kv.held, 0);
  await kv.batch([put('state', 8)]);
  assert.equal(calls[1], { kind: 'batch', keys: ['state'] }, 'nothing carried twice');
  kv.defer([put('cursor', 3)]);
  await kv.put('cursor', b(4));
  assert.is(kv.held, 0);
  assert.equal([...(await inner.get('cursor'))!], [4]);
  await kv.batch([]);
  assert.is(calls.length, 3, 'an empty batch with nothing held writes nothing');
});

t('a failed batch keeps what it carried; the next one writes it', async () => {
  const inner = new MemoryKv();
  let fail = true;
  const kv = new DeferringKv(
    overKv(inner, {
      batch: async (ops) => {
        if (fail) throw new Error('disk full');
        return inner.batch(ops);
      },
    }),
    { delayMs: 3_600_000 },
  );
  kv.defer([put('cursor', 5)]);
  try {
    await kv.batch([put('state', 1)]);
    assert.unreachable('the batch failed');
  } catch (e) {
    assert.match(String(e), /disk full/);
  }
  assert.is(kv.held, 1);
  assert.is(await inner.get('state'), undefined);
  fail = false;
  await kv.batch([put('state', 2)]);
  assert.equal([...(await inner.get('cursor'))!], [5]);
  assert.is(kv.held, 0);
});

t('what no batch carries is written on its own after delayMs; a failure is reported and retried', async () => {
  const inner = new MemoryKv();
  let failures = 1;
  const errors: Error[] = [];
  const calls: KvCall[] = [];
  const kv = new DeferringKv(
    recordingKv(
      overKv(inner, {
        batch: async (ops) => {
          if (failures-- > 0) throw new Error('busy');
          return inner.batch(ops);
        },
      }),
      calls,
    ).kv,
    { delayMs: 20, onError: (e) => errors.push(e) },
  );
  kv.defer([put('cursor', 1)]);
  kv.defer([put('cursor', 2), del('outbox/9')]);
  const deadline = Date.now() + 5_000;
  while (kv.held > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.is(kv.held, 0);
  assert.is(errors.length, 1);
  assert.equal(calls, [
    { kind: 'batch', keys: ['cursor', 'outbox/9'] },
    { kind: 'batch', keys: ['cursor', 'outbox/9'] },
  ]);
  assert.equal([...(await inner.get('cursor'))!], [2]);
});

t('LevelDB: held writes survive a close (written first), not a crash (never written)', async () => {
  const dir = tmp();
  const a = new DeferringKv(new LevelKv(dir), { delayMs: 3_600_000 });
  await a.put('outbox/1', b(1));
  a.defer([del('outbox/1'), put('cursor', 7)]);
  await a.close();
  const again = new LevelKv(dir);
  assert.is(await again.get('outbox/1'), undefined);
  assert.equal([...(await again.get('cursor'))!], [7]);
  await again.close();

  const dir2 = tmp();
  const inner = new LevelKv(dir2);
  const c = new DeferringKv(inner, { delayMs: 3_600_000 });
  await c.put('outbox/1', b(1));
  c.defer([del('outbox/1')]);
  c.discard(); // the process dies with it held
  await inner.close();
  const after = new LevelKv(dir2);
  assert.equal([...(await after.get('outbox/1'))!], [1], 'the entry is still there: it is posted again');
  await after.close();
});

t('batches run one at a time in call order; a write held while one is in flight stays held for the next', async () => {
  const inner = new MemoryKv();
  const started: string[][] = [];
  let open!: () => void;
  let gate = new Promise<void>((r) => (open = r));
  const kv = new DeferringKv(
    overKv(inner, {
      batch: async (ops) => {
        started.push(ops.map((o) => o.key));
        await gate;
        return inner.batch(ops);
      },
    }),
    { delayMs: 3_600_000 },
  );
  kv.defer([put('cursor', 1)]);
  const first = kv.batch([put('state', 1)]);
  const second = kv.batch([put('state', 2)]);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(started, [['cursor', 'state']], 'the second batch waits for the first');
  kv.defer([put('cursor', 2)]); // held while the first batch is in flight
  open();
  await first;
  gate = Promise.resolve();
  await second;
  assert.equal(started[1], ['cursor', 'state'], 'the newer cursor rides in the next batch');
  assert.equal([...(await inner.get('state'))!], [2]);
  assert.equal([...(await inner.get('cursor'))!], [2]);
  assert.is(kv.held, 0);
});

t('a direct write supersedes only what was held before it was made; stop() ignores later defers', async () => {
  const inner = new MemoryKv();
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const kv = new DeferringKv(
    overKv(inner, {
      batch: async (ops) => {
        await gate;
        return inner.batch(ops);
      },
    }),
    { delayMs: 3_600_000 },
  );
  kv.defer([del('outbox/retract-t')]);
  const p = kv.put('outbox/retract-t', b(1)); // newer than the held delete: supersedes it
  kv.defer([del('outbox/retract-t')]); // newer still: must not be lost under the put
  open();
  await p;
  assert.equal([...(await inner.get('outbox/retract-t'))!], [1]);
  assert.is(await kv.get('outbox/retract-t'), undefined, 'the newest write (held) is what reads see');
  await kv.flush();
  assert.is(await inner.get('outbox/retract-t'), undefined);
  kv.stop();
  kv.defer([put('cursor', 9)]);
  assert.is(kv.held, 0);
  assert.is(await inner.get('cursor'), undefined);
});

t.run();
