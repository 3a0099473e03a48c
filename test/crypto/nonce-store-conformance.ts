/**
 * Conformance suite for {@link NonceStore} implementations (abstract-level
 * style): every store — the in-memory one here, the client's LevelDB one —
 * must pass these same tests. Usage from any test file:
 *
 *   import { nonceStoreConformance } from '../crypto/nonce-store-conformance.js';
 *   nonceStoreConformance('LevelNonceStore', async () => ({ store, close }));
 *
 * The factory returns a fresh, empty store (and optionally a `close` hook,
 * run after each test, for stores with resources such as a LevelDB directory).
 * Optionally `reopen` returns a store over the same persisted data, to check
 * that burned ids stay burned across restarts.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../protocol/errors.js';
import type { NonceStore } from '../../src/crypto/nonce.js';
import { commitNonce, signWithCommittedNonce, verify, getPublicKey } from '../../src/crypto/index.js';
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
  const rec = (fill: number) => new Uint8Array(97).fill(fill);

  t('take returns the bytes that were put, once', async ({ ut }) => {
    const { store } = ut!;
    await store.put('a', rec(1));
    await store.put('b', rec(2));
    assert.equal(await store.take('b'), rec(2));
    assert.equal(await store.take('a'), rec(1));
  });

  t('the stored record is a copy: mutating the caller\'s array changes nothing', async ({ ut }) => {
    const { store } = ut!;
    const r = rec(5);
    await store.put('copy', r);
    r.fill(6);
    assert.equal(await store.take('copy'), rec(5));
  });

  t('second take of the same id → NONCE_REUSE', async ({ ut }) => {
    const { store } = ut!;
    await store.put('x', rec(3));
    await store.take('x');
    await rejectsCode(store.take('x'), ErrorCode.NONCE_REUSE);
    await rejectsCode(store.take('x'), ErrorCode.NONCE_REUSE);
  });

  t('take of an id never stored → NONCE_UNKNOWN', async ({ ut }) => {
    await rejectsCode(ut!.store.take('never'), ErrorCode.NONCE_UNKNOWN);
  });

  t('put of a stored or burned id → NONCE_REUSE (ids are never recycled)', async ({ ut }) => {
    const { store } = ut!;
    await store.put('dup', rec(1));
    await rejectsCode(store.put('dup', rec(2)), ErrorCode.NONCE_REUSE);
    assert.equal(await store.take('dup'), rec(1));
    await rejectsCode(store.put('dup', rec(3)), ErrorCode.NONCE_REUSE);
    await rejectsCode(store.take('dup'), ErrorCode.NONCE_REUSE);
  });

  t('concurrent takes of one id: exactly one wins, the rest get NONCE_REUSE', async ({ ut }) => {
    const { store } = ut!;
    await store.put('race', rec(9));
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => store.take('race')));
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.is(won.length, 1);
    for (const r of results)
      if (r.status === 'rejected') assert.is((r.reason as { code?: string }).code, ErrorCode.NONCE_REUSE);
  });

  t('concurrent signings with one committed nonce: exactly one signature', async ({ ut }) => {
    const { store } = ut!;
    const sk = new Uint8Array(32).fill(0x11);
    const c = await commitNonce(store, sk);
    const msgs = Array.from({ length: 4 }, (_, i) => new Uint8Array(32).fill(i));
    const results = await Promise.allSettled(msgs.map((m) => signWithCommittedNonce(store, c.id, sk, m)));
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [[r.value, msgs[i]!] as const] : []));
    assert.is(won.length, 1);
    assert.ok(verify(won[0]![0], won[0]![1], getPublicKey(sk)));
  });

  t('bad ids are typed errors, not crashes', async ({ ut }) => {
    const { store } = ut!;
    await rejectsCode(() => store.put('', rec(1)), ErrorCode.INVALID_LENGTH);
    await rejectsCode(() => store.put('x'.repeat(129), rec(1)), ErrorCode.INVALID_LENGTH);
    await rejectsCode(() => store.put(7 as unknown as string, rec(1)), ErrorCode.INVALID_TYPE);
    await rejectsCode(() => store.put('ok', 'rec' as unknown as Uint8Array), ErrorCode.INVALID_TYPE);
    await rejectsCode(() => store.take(''), ErrorCode.INVALID_LENGTH);
    await rejectsCode(() => store.take(null as unknown as string), ErrorCode.INVALID_TYPE);
  });

  t('burned ids stay burned and live records survive a reopen (persistent stores)', async (ctx) => {
    const ut = ctx.ut!;
    if (!ut.reopen) return; // in-memory stores have nothing to reopen
    await ut.store.put('burned', rec(1));
    await ut.store.put('live', rec(2));
    await ut.store.take('burned');
    const again = await ut.reopen();
    await rejectsCode(again.take('burned'), ErrorCode.NONCE_REUSE);
    await rejectsCode(again.put('burned', rec(3)), ErrorCode.NONCE_REUSE);
    assert.equal(await again.take('live'), rec(2));
  });

  t.run();
}
