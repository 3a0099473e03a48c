/**
 * The one conformance suite every {@link Kv} backend passes (abstract-level
 * style): `kvConformance(name, factory)` registers and runs a uvu suite.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Kv } from '../../../client/mailbox/kv.js';
import { ErrorCode } from '../../../protocol/index.js';
import { rejectsCode } from '../../helpers.js';

const b = (...xs: number[]): Uint8Array => new Uint8Array(xs);

async function collect(kv: Kv, prefix: string): Promise<[string, number[]][]> {
  const out: [string, number[]][] = [];
  for await (const [k, v] of kv.entries(prefix)) out.push([k, [...v]]);
  return out;
}

/** Runs the Kv conformance suite against stores made by `factory`. */
export function kvConformance(name: string, factory: () => Promise<Kv> | Kv): void {
  const t = suite<{ kv: Kv }>(`kv conformance: ${name}`, { kv: undefined as unknown as Kv });
  t.before.each(async (ctx) => {
    ctx.kv = await factory();
  });
  t.after.each(async (ctx) => {
    await ctx.kv.close().catch(() => undefined);
  });

  t('get of a missing key is undefined; put/get/del round trip', async ({ kv }) => {
    assert.is(await kv.get('missing'), undefined);
    await kv.put('a', b(1, 2, 3));
    const got = await kv.get('a');
    assert.instance(got, Uint8Array);
    assert.equal([...got!], [1, 2, 3]);
    await kv.put('a', b(9));
    assert.equal([...(await kv.get('a'))!], [9]);
    await kv.del('a');
    assert.is(await kv.get('a'), undefined);
    await kv.del('a'); // deleting a missing key is fine
    await kv.put('empty', b());
    assert.equal([...(await kv.get('empty'))!], [], 'an empty value is a value, not a missing key');
  });

  t('values are copied in and out', async ({ kv }) => {
    const v = b(1, 2);
    await kv.put('k', v);
    v[0] = 99;
    const got = (await kv.get('k'))!;
    assert.is(got[0], 1, 'mutating the input after put does not change the store');
    got[1] = 77;
    assert.is((await kv.get('k'))![1], 2, 'mutating a returned value does not change the store');
  });

  t('batch is applied in order', async ({ kv }) => {
    await kv.put('x', b(1));
    await kv.batch([
      { type: 'put', key: 'y', value: b(2) },
      { type: 'del', key: 'x' },
      { type: 'put', key: 'z', value: b(3) },
      { type: 'put', key: 'z', value: b(4) },
    ]);
    assert.is(await kv.get('x'), undefined);
    assert.equal([...(await kv.get('y'))!], [2]);
    assert.equal([...(await kv.get('z'))!], [4]);
    await kv.batch([]);
  });

  t('an invalid batch changes nothing', async ({ kv }) => {
    await kv.put('keep', b(1));
    await rejectsCode(
      kv.batch([
        { type: 'del', key: 'keep' },
        { type: 'put', key: 'bad', value: 'nope' as unknown as Uint8Array },
      ]),
      ErrorCode.INVALID_TYPE,
    );
    assert.equal([...(await kv.get('keep'))!], [1]);
    assert.is(await kv.get('bad'), undefined);
    await rejectsCode(kv.batch([{ type: 'nope', key: 'k' } as never]), ErrorCode.INVALID_TYPE);
    await rejectsCode(kv.batch('x' as never), ErrorCode.INVALID_TYPE);
  });

  t('entries: only the prefix, in UTF-8 byte order', async ({ kv }) => {
    for (const k of ['p/b', 'p/a', 'p/a/1', 'p0', 'o', 'p/\u00e9', 'p/\uffff', 'p/\u{1F600}', 'q']) await kv.put(k, b(k.length));
    const keys = (await collect(kv, 'p/')).map(([k]) => k);
    // UTF-8 order puts U+1F600 (F0 ..) after U+FFFF (EF ..), unlike UTF-16 order.
    assert.equal(keys, ['p/a', 'p/a/1', 'p/b', 'p/\u00e9', 'p/\uffff', 'p/\u{1F600}']);
    assert.equal(await collect(kv, 'nothing/'), []);
    assert.is((await collect(kv, '')).length, 9, 'the empty prefix lists everything');
  });

  t('bad keys and values are typed errors', async ({ kv }) => {
    await rejectsCode(kv.get(1 as unknown as string), ErrorCode.INVALID_TYPE);
    await rejectsCode(kv.get(''), ErrorCode.INVALID_LENGTH);
    await rejectsCode(kv.put('k', [1, 2] as unknown as Uint8Array), ErrorCode.INVALID_TYPE);
    await rejectsCode(kv.del(null as unknown as string), ErrorCode.INVALID_TYPE);
  });

  t('a closed store refuses work with STORE_UNAVAILABLE', async ({ kv }) => {
    await kv.put('k', b(1));
    await kv.close();
    await rejectsCode(kv.get('k'), ErrorCode.STORE_UNAVAILABLE);
    await rejectsCode(kv.put('k', b(2)), ErrorCode.STORE_UNAVAILABLE);
    await rejectsCode(kv.batch([{ type: 'del', key: 'k' }]), ErrorCode.STORE_UNAVAILABLE);
  });

  t.run();
}
