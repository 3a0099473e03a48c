/**
 * The shared group commit (server/store/group-commit.ts) on its own, with a
 * flush function that records what it was given: both backends rely on
 * these rules for their durability contract.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { GroupCommit } from '../../server/store/group-commit.js';

const t = suite('store group commit');

/** A flush that records each batch and answers from `answer` after a tick. */
function recorder<R>(answer: (items: number[]) => readonly R[] | Promise<readonly R[]>) {
  const batches: number[][] = [];
  const flush = async (items: number[]): Promise<readonly R[]> => {
    batches.push([...items]);
    await new Promise((r) => setTimeout(r, 1));
    return answer(items);
  };
  return { batches, flush };
}

t('submissions of one I/O phase share one flush; each gets its own result', async () => {
  const { batches, flush } = recorder((items) => items.map((x) => x * 10));
  const gc = new GroupCommit<number, number>(flush);
  const results = await Promise.all([1, 2, 3].map((x) => gc.submit(x)));
  assert.equal(results, [10, 20, 30]);
  assert.equal(batches, [[1, 2, 3]]);
});

t('one batch in flight: what arrives meanwhile waits and forms the next batch', async () => {
  const { batches, flush } = recorder((items) => items);
  const gc = new GroupCommit<number, number>(flush);
  const first = gc.submit(1);
  await new Promise((r) => setImmediate(r));
  const later = [gc.submit(2), gc.submit(3)];
  await Promise.all([first, ...later]);
  assert.equal(batches, [[1], [2, 3]]);
});

t('maxBatch bounds a batch; the rest follows in order', async () => {
  const { batches, flush } = recorder((items) => items);
  const gc = new GroupCommit<number, number>(flush, { maxBatch: 2 });
  assert.equal(await Promise.all([1, 2, 3, 4, 5].map((x) => gc.submit(x))), [1, 2, 3, 4, 5]);
  assert.equal(batches, [[1, 2], [3, 4], [5]]);
});

t('a failed flush rejects the whole batch and undoes it in reverse order, before the next batch', async () => {
  let fail = true;
  const log: string[] = [];
  const gc = new GroupCommit<string, string>(async (items) => {
    log.push(`flush ${items.join(',')}`);
    if (fail) {
      fail = false;
      throw new Error('disk full');
    }
    return items;
  });
  const a = gc.submit('a', { undo: () => log.push('undo a'), committed: () => log.push('committed a') });
  const b = gc.submit('b', { undo: () => log.push('undo b') });
  const c = new Promise<string>((resolve) => setImmediate(() => resolve(gc.submit('c'))));
  const settled = await Promise.allSettled([a, b, c]);
  assert.equal(
    settled.map((s) => s.status),
    ['rejected', 'rejected', 'fulfilled'],
  );
  assert.is(((settled[0] as PromiseRejectedResult).reason as Error).message, 'disk full');
  assert.equal(log, ['flush a,b', 'undo b', 'undo a', 'flush c']);
});

t('committed hooks run in submission order before any submission resolves; a throwing hook fails nothing', async () => {
  const log: string[] = [];
  const gc = new GroupCommit<string, string>(async (items) => items);
  const all = ['a', 'b', 'c'].map((x) =>
    gc
      .submit(x, {
        committed: () => {
          log.push(`committed ${x}`);
          if (x === 'b') throw new Error('listener fault');
        },
      })
      .then((r) => log.push(`resolved ${r}`)),
  );
  await Promise.all(all);
  assert.equal(log, ['committed a', 'committed b', 'committed c', 'resolved a', 'resolved b', 'resolved c']);
});

t('an item the flush left without a result is rejected alone', async () => {
  const gc = new GroupCommit<number, string>(async (items) => {
    const out: string[] = [];
    items.forEach((x, i) => {
      if (x !== 2) out[i] = `row ${x}`;
    });
    return out;
  });
  const settled = await Promise.allSettled([1, 2, 3].map((x) => gc.submit(x)));
  assert.equal(
    settled.map((s) => s.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  assert.equal((settled[2] as PromiseFulfilledResult<string>).value, 'row 3');
});

t('flush() waits for every submission so far, and resolves at once when idle', async () => {
  const { flush } = recorder((items) => items);
  const gc = new GroupCommit<number, number>(flush);
  await gc.flush();
  let done = 0;
  for (let i = 0; i < 5; i++) void gc.submit(i).then(() => done++);
  await gc.flush();
  assert.is(done, 5);
});

t.run();
