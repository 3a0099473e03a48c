/**
 * Conformance suite for {@link NonceStore} implementations (abstract-level
 * style): every store — the in-memory one here, the client's LevelDB one —
 * must pass these same tests. Usage from any test file:
 *
 *   import { nonceStoreConformance } from './nonce-store-conformance.js';
 *   nonceStoreConformance('LevelNonceStore', async () => ({ store, close }));
 *
 * The factory returns a fresh, empty store (and optionally a `close` hook,
 * run after each test, for stores with resources such as a LevelDB directory).
 * Optionally `reopen` returns a store over the same persisted data, to check
 * that committed and spent records survive restarts.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../base/errors.js';
import type { NonceStore } from '../../crypto/nonce.js';
import { commitNonce, signWithCommittedNonce, verify, getPublicKey } from '../../crypto/index.js';
import { rejectsCode } from '../helpers.js';

/** What a conformance factory hands back. */
export interface NonceStoreUnderTest {
  store: NonceStore;
  /** Releases resources; called after every test. */
  close?: () => Promise<void>;
  /** Closes `store` and returns a new store over the same persisted data (persistent stores only). */
  reopen?: () => Promise<NonceStore>;
}

/** Registers and runs the conformance suite named `NonceStore conformance: <name>`. */
export function nonceStoreConformance(name: string, factory: () => Promise<NonceStoreUnderTest>): void {
  const t = suite<{ ut?: NonceStoreUnderTest }>(`NonceStore conformance: ${name}`, {});
  t.before.each(async (ctx) => {
    ctx.ut = await factory();
  });
  t.after.each(async (ctx) => {
    await ctx.ut?.close?.();
    ctx.ut = undefined;
  });
  const rec = (fill: number) => new Uint8Array(129).fill(fill);

  t('get returns a copy of the bytes that were put; unknown ids are undefined', async ({ ut }) => {
    const { store } = ut!;
    await store.put('a', rec(1));
    await store.put('b', rec(2));
    assert.equal(await store.get('b'), rec(2));
    assert.equal(await store.get('a'), rec(1));
    assert.is(await store.get('never'), undefined);
    const got = (await store.get('a'))!;
    got.fill(9);
    assert.equal(await store.get('a'), rec(1));
  });

  t("the stored record is a copy: mutating the caller's array changes nothing", async ({ ut }) => {
    const { store } = ut!;
    const r = rec(5);
    await store.put('copy', r);
    r.fill(6);
    assert.equal(await store.get('copy'), rec(5));
  });

  t('spend replaces the record; spend of an id never stored → NONCE_UNKNOWN', async ({ ut }) => {
    const { store } = ut!;
    await store.put('x', rec(3));
    await store.spend('x', rec(4));
    assert.equal(await store.get('x'), rec(4));
    await rejectsCode(store.spend('never', rec(4)), ErrorCode.NONCE_UNKNOWN);
    assert.is(await store.get('never'), undefined);
  });

  t('put of a stored or spent id → NONCE_REUSE (ids are never recycled)', async ({ ut }) => {
    const { store } = ut!;
    await store.put('dup', rec(1));
    await rejectsCode(store.put('dup', rec(2)), ErrorCode.NONCE_REUSE);
    await store.spend('dup', rec(7));
    await rejectsCode(store.put('dup', rec(3)), ErrorCode.NONCE_REUSE);
    assert.equal(await store.get('dup'), rec(7));
  });

  t('concurrent puts of one id: exactly one wins, the rest get NONCE_REUSE', async ({ ut }) => {
    const { store } = ut!;
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.put('race', rec(i))));
    assert.is(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') assert.is((r.reason as { code?: string }).code, ErrorCode.NONCE_REUSE);
  });

  t('a committed nonce signs only its own message, concurrently or not, always the same signature', async ({ ut }) => {
    const { store } = ut!;
    const sk = new Uint8Array(32).fill(0x11);
    const mine = new Uint8Array(32).fill(1);
    const c = await commitNonce(store, sk, mine);
    const msgs = [mine, new Uint8Array(32).fill(2), mine, new Uint8Array(32).fill(3), mine];
    const results = await Promise.allSettled(msgs.map((m) => signWithCommittedNonce(store, c.id, sk, m)));
    const sigs = new Set<string>();
    results.forEach((r, i) => {
      if (msgs[i] === mine) {
        assert.is(r.status, 'fulfilled');
        if (r.status === 'fulfilled') {
          assert.ok(verify(r.value, mine, getPublicKey(sk)));
          sigs.add(Buffer.from(r.value).toString('hex'));
        }
      } else {
        assert.is(r.status, 'rejected');
        if (r.status === 'rejected') assert.is((r.reason as { code?: string }).code, ErrorCode.NONCE_REUSE);
      }
    });
    assert.is(sigs.size, 1, 'one nonce, one message, one signature');
  });

  t('bad ids are typed errors, not crashes', async ({ ut }) => {
    const { store } = ut!;
    await rejectsCode(() => store.put('', rec(1)), ErrorCode.INVALID_LENGTH);
    await rejectsCode(() => store.put('x'.repeat(129), rec(1)), ErrorCode.INVALID_LENGTH);
    await rejectsCode(() => store.put(7 as unknown as string, rec(1)), ErrorCode.INVALID_TYPE);
    await rejectsCode(() => store.put('ok', 'rec' as unknown as Uint8Array), ErrorCode.INVALID_TYPE);
    await rejectsCode(() => store.get(''), ErrorCode.INVALID_LENGTH);
    await rejectsCode(() => store.spend(null as unknown as string, rec(1)), ErrorCode.INVALID_TYPE);
  });

  t('committed and spent records survive a reopen (persistent stores)', async (ctx) => {
    const ut = ctx.ut!;
    if (!ut.reopen) return; // in-memory stores have nothing to reopen
    const sk = new Uint8Array(32).fill(0x22);
    const m1 = new Uint8Array(32).fill(1);
    const m2 = new Uint8Array(32).fill(2);
    const spent = await commitNonce(ut.store, sk, m1);
    const sig = await signWithCommittedNonce(ut.store, spent.id, sk, m1);
    const live = await commitNonce(ut.store, sk, m2);
    const again = await ut.reopen();
    await rejectsCode(signWithCommittedNonce(again, spent.id, sk, m2), ErrorCode.NONCE_REUSE);
    assert.equal(await signWithCommittedNonce(again, spent.id, sk, m1), sig, 'signing the same message again is idempotent');
    await rejectsCode(again.put(spent.id, rec(3)), ErrorCode.NONCE_REUSE);
    assert.ok(verify(await signWithCommittedNonce(again, live.id, sk, m2), m2, getPublicKey(sk)));
  });

  t.run();
}
