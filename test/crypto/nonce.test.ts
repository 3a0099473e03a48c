import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { bytesToHex } from '../../protocol/bytes.js';
import { ErrorCode } from '../../protocol/errors.js';
import {
  MemoryNonceStore, commitNonce, getPublicKey, signWithCommittedNonce, signaturePoint, verify, type NonceStore,
} from '../../src/crypto/index.js';
import { rejectsCode } from '../helpers.js';
import { nonceStoreConformance } from './nonce-store-conformance.js';

nonceStoreConformance('MemoryNonceStore', async () => ({ store: new MemoryNonceStore() }));

const t = suite('crypto/nonce');
const { Point } = secp256k1;
const N = Point.Fn.ORDER;
const msgOf = (b: number) => new Uint8Array(32).fill(b);

t('signature verifies, carries the committed R, and s·G = signaturePoint(R, P, m)', async () => {
  const store = new MemoryNonceStore();
  for (let i = 0; i < 12; i++) {
    const sk = secp256k1.utils.randomSecretKey();
    const px = getPublicKey(sk);
    const c = await commitNonce(store, sk);
    assert.is(c.R.length, 32);
    // The hub predicts the payment point before A signs (DESIGN.md §2 step 3).
    const msg = crypto.getRandomValues(new Uint8Array(i === 0 ? 0 : 32));
    const T = signaturePoint(c.R, px, msg);
    const sig = await signWithCommittedNonce(store, c.id, sk, msg);
    assert.ok(verify(sig, msg, px));
    assert.is(bytesToHex(sig.subarray(0, 32)), bytesToHex(c.R));
    assert.is(bytesToHex(Point.BASE.multiply(bytesToNumberBE(sig.subarray(32))).toBytes(true)), bytesToHex(T));
  }
});

t('second sign with the same id → NONCE_REUSE, even for the same message', async () => {
  const store = new MemoryNonceStore();
  const sk = numberToBytesBE(3n, 32);
  const c = await commitNonce(store, sk);
  await signWithCommittedNonce(store, c.id, sk, msgOf(1));
  await rejectsCode(signWithCommittedNonce(store, c.id, sk, msgOf(1)), ErrorCode.NONCE_REUSE);
  await rejectsCode(signWithCommittedNonce(store, c.id, sk, msgOf(2)), ErrorCode.NONCE_REUSE);
});

t('unknown id → NONCE_UNKNOWN', async () => {
  const store = new MemoryNonceStore();
  await rejectsCode(signWithCommittedNonce(store, 'nope', numberToBytesBE(3n, 32), msgOf(0)), ErrorCode.NONCE_UNKNOWN);
});

t('two commitments never share a nonce: not across ids, not with a repeated rand', async () => {
  const store = new MemoryNonceStore();
  const sk = secp256k1.utils.randomSecretKey();
  const Rs = new Set<string>();
  const ids = new Set<string>();
  for (let i = 0; i < 32; i++) {
    const c = await commitNonce(store, sk);
    Rs.add(bytesToHex(c.R));
    ids.add(c.id);
  }
  assert.is(Rs.size, 32);
  assert.is(ids.size, 32);
  // Same rand, different ids → different nonces.
  const rand = new Uint8Array(32).fill(4);
  const a = await commitNonce(store, sk, { rand, id: 'rand-a' });
  const b = await commitNonce(store, sk, { rand, id: 'rand-b' });
  assert.is.not(bytesToHex(a.R), bytesToHex(b.R));
  // Same rand, default id → the store refuses the second commitment (same id, same k).
  await commitNonce(store, sk, { rand });
  await rejectsCode(commitNonce(store, sk, { rand }), ErrorCode.NONCE_REUSE);
  // Same rand and id for another key is a different nonce too.
  const other = await commitNonce(new MemoryNonceStore(), secp256k1.utils.randomSecretKey(), { rand, id: 'rand-a' });
  assert.is.not(bytesToHex(other.R), bytesToHex(a.R));
});

t('commitment is deterministic given rand and id (reproducible tests)', async () => {
  const sk = numberToBytesBE(7n, 32);
  const rand = new Uint8Array(32).fill(1);
  const a = await commitNonce(new MemoryNonceStore(), sk, { rand, id: 'n1' });
  const b = await commitNonce(new MemoryNonceStore(), sk, { rand, id: 'n1' });
  assert.equal(a, b);
  const c = await commitNonce(new MemoryNonceStore(), sk, { rand });
  assert.is(c.id.length, 32);
  assert.ok(/^[0-9a-f]+$/.test(c.id));
});

t('the nonce is bound to its key: signing with another key is refused (and burns it)', async () => {
  const store = new MemoryNonceStore();
  const c = await commitNonce(store, numberToBytesBE(3n, 32));
  await rejectsCode(signWithCommittedNonce(store, c.id, numberToBytesBE(4n, 32), msgOf(0)), ErrorCode.INVALID_SECRET_KEY);
  await rejectsCode(signWithCommittedNonce(store, c.id, numberToBytesBE(3n, 32), msgOf(0)), ErrorCode.NONCE_REUSE);
});

t('bad input is rejected before the nonce is burned', async () => {
  const store = new MemoryNonceStore();
  const sk = numberToBytesBE(3n, 32);
  const c = await commitNonce(store, sk);
  await rejectsCode(signWithCommittedNonce(store, c.id, new Uint8Array(32), msgOf(0)), ErrorCode.INVALID_SECRET_KEY);
  await rejectsCode(signWithCommittedNonce(store, c.id, numberToBytesBE(N, 32), msgOf(0)), ErrorCode.INVALID_SECRET_KEY);
  await rejectsCode(signWithCommittedNonce(store, c.id, new Uint8Array(31), msgOf(0)), ErrorCode.INVALID_LENGTH);
  await rejectsCode(signWithCommittedNonce(store, c.id, sk, 'msg' as unknown as Uint8Array), ErrorCode.INVALID_TYPE);
  await rejectsCode(signWithCommittedNonce(store, '', sk, msgOf(0)), ErrorCode.INVALID_LENGTH);
  await rejectsCode(signWithCommittedNonce(store, 5 as unknown as string, sk, msgOf(0)), ErrorCode.INVALID_TYPE);
  // Still usable after all of that.
  assert.ok(verify(await signWithCommittedNonce(store, c.id, sk, msgOf(0)), msgOf(0), getPublicKey(sk)));
});

t('commitNonce: typed errors', async () => {
  const store = new MemoryNonceStore();
  await rejectsCode(commitNonce(store, new Uint8Array(32)), ErrorCode.INVALID_SECRET_KEY);
  await rejectsCode(commitNonce(store, numberToBytesBE(N, 32)), ErrorCode.INVALID_SECRET_KEY);
  await rejectsCode(commitNonce(store, new Uint8Array(33)), ErrorCode.INVALID_LENGTH);
  await rejectsCode(commitNonce(store, numberToBytesBE(3n, 32), { rand: new Uint8Array(16) }), ErrorCode.INVALID_LENGTH);
  await rejectsCode(commitNonce(store, numberToBytesBE(3n, 32), { id: '' }), ErrorCode.INVALID_LENGTH);
  await rejectsCode(commitNonce(store, numberToBytesBE(3n, 32), { id: 'x'.repeat(129) }), ErrorCode.INVALID_LENGTH);
});

t('a corrupted store record is refused, never signed with', async () => {
  // A store that hands back tampered bytes (disk corruption, wrong backend data).
  class Tampering implements NonceStore {
    readonly inner = new MemoryNonceStore();
    constructor(readonly mutate: (r: Uint8Array) => Uint8Array) {}
    put(id: string, r: Uint8Array) { return this.inner.put(id, r); }
    async take(id: string) { return this.mutate(await this.inner.take(id)); }
  }
  const sk = numberToBytesBE(3n, 32);
  const cases: Array<[(r: Uint8Array) => Uint8Array, string]> = [
    [(r) => r.subarray(0, 96), ErrorCode.INVALID_LENGTH],
    [(r) => { const x = r.slice(); x[0] = 2; return x; }, ErrorCode.INVALID_RANGE],
    [(r) => { const x = r.slice(); x[96]! ^= 1; return x; }, ErrorCode.INVALID_SIGNATURE], // R differs from k·G
    [(r) => { const x = r.slice(); x.fill(0, 1, 33); return x; }, ErrorCode.INVALID_SECRET_KEY], // k = 0
  ];
  for (const [mutate, code] of cases) {
    const store = new Tampering(mutate);
    const c = await commitNonce(store, sk);
    await rejectsCode(signWithCommittedNonce(store, c.id, sk, msgOf(0)), code);
  }
});

t.run();
