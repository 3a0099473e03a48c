/** Shared test helpers. */
import * as assert from 'uvu/assert';
import { isLnMailboxError } from '../base/errors.js';
import type { Kv } from '../client/mailbox/kv.js';

/** Asserts that `fn` throws an LnMailboxError with `code` (sync). */
export function throwsCode(fn: () => unknown, code: string, msg?: string): void {
  try {
    fn();
  } catch (e) {
    assert.ok(isLnMailboxError(e), `${msg ?? ''} expected LnMailboxError ${code}, got ${String(e)}`);
    assert.is((e as { code: string }).code, code, msg);
    return;
  }
  assert.unreachable(`${msg ?? ''} expected throw with ${code}`);
}

/** Asserts that the promise rejects with an LnMailboxError with `code`. */
export async function rejectsCode(p: Promise<unknown> | (() => Promise<unknown>), code: string, msg?: string): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(isLnMailboxError(e), `${msg ?? ''} expected LnMailboxError ${code}, got ${String(e)}`);
    assert.is((e as { code: string }).code, code, msg);
    return;
  }
  assert.unreachable(`${msg ?? ''} expected rejection with ${code}`);
}

/** mulberry32: a tiny seeded PRNG, so that a failing randomized test can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** `kv` with some of its writing calls replaced (the rest pass through). */
export function overKv(kv: Kv, o: Partial<Pick<Kv, 'put' | 'del' | 'batch'>>): Kv {
  return {
    get: (k) => kv.get(k),
    put: o.put ?? ((k, v) => kv.put(k, v)),
    del: o.del ?? ((k) => kv.del(k)),
    batch: o.batch ?? ((ops) => kv.batch(ops)),
    entries: (p) => kv.entries(p),
    close: () => kv.close(),
  };
}

/** One writing call a {@link recordingKv} saw: its kind and the keys it wrote. */
export interface KvCall {
  kind: 'put' | 'del' | 'batch';
  keys: string[];
}

/** `kv` recording every writing call, in order, into `calls`. */
export function recordingKv(kv: Kv, calls: KvCall[] = []): { kv: Kv; calls: KvCall[] } {
  return {
    calls,
    kv: overKv(kv, {
      put: (k, v) => {
        calls.push({ kind: 'put', keys: [k] });
        return kv.put(k, v);
      },
      del: (k) => {
        calls.push({ kind: 'del', keys: [k] });
        return kv.del(k);
      },
      batch: (ops) => {
        calls.push({ kind: 'batch', keys: ops.map((o) => o.key) });
        return kv.batch(ops);
      },
    }),
  };
}
