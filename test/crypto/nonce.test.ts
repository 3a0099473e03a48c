import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { bytesToHex } from '../../base/bytes.js';
import { ErrorCode } from '../../base/errors.js';
import { MemoryNonceStore, commitNonce, getPublicKey, signWithCommittedNonce, signaturePoint, verify } from '../../crypto/index.js';
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
    const msg = crypto.getRandomValues(new Uint8Array(i === 0 ? 0 : 32));
    const c = await commitNonce(store, sk, msg);
    assert.is(c.R.length, 32);
    // The hub predicts the payment point before the payer signs.
    const T = signaturePoint(c.R, px, msg);
    const sig = await signWithCommittedNonce(store, c.id, sk, msg);
    assert.ok(verify(sig, msg, px));
    assert.is(bytesToHex(sig.subarray(0, 32)), bytesToHex(c.R));
    assert.is(bytesToHex(Point.BASE.multiply(bytesToNumberBE(sig.subarray(32))).toBytes(true)), bytesToHex(T));
  }
});

t('a nonce signs only the message it was committed for; signing it again gives the same signature', async () => {
  const store = new MemoryNonceStore();
  const sk = numberToBytesBE(3n, 32);
  const c = await commitNonce(store, sk, msgOf(1));
  // Before and after the first signature, another message is refused.
  await rejectsCode(signWithCommittedNonce(store, c.id, sk, msgOf(2)), ErrorCode.NONCE_REUSE);
  const first = await signWithCommittedNonce(store, c.id, sk, msgOf(1));
  await rejectsCode(signWithCommittedNonce(store, c.id, sk, msgOf(2)), ErrorCode.NONCE_REUSE);
  assert.equal(await signWithCommittedNonce(store, c.id, sk, msgOf(1)), first);
});

t('after the first signature the store no longer holds the secret nonce', async () => {
  const store = new MemoryNonceStore();
  const sk = numberToBytesBE(5n, 32);
  const c = await commitNonce(store, sk, msgOf(1));
  const committed = (await store.get(c.id))!;
  const sig = await signWithCommittedNonce(store, c.id, sk, msgOf(1));
  const spent = (await store.get(c.id))!;
  const k = committed.subarray(1, 33);
  assert.ok(!Buffer.from(spent).includes(Buffer.from(k)), 'k is gone');
  assert.ok(Buffer.from(spent).includes(Buffer.from(sig)), 'the signature replaced it');
});

t('a failed write after signing loses nothing: the replay signs the same message with the same nonce', async () => {
  // A full disk while the record is being marked spent: the signature is not handed out.
  class FailOnce extends MemoryNonceStore {
    fail = true;
    override async spend(id: string, r: Uint8Array) {
      if (this.fail) {
        this.fail = false;
        throw new Error('ENOSPC');
      }
      return super.spend(id, r);
    }
  }
  const store = new FailOnce();
  const sk = numberToBytesBE(9n, 32);
  const c = await commitNonce(store, sk, msgOf(7));
  let threw = false;
  await signWithCommittedNonce(store, c.id, sk, msgOf(7)).catch(() => (threw = true));
  assert.ok(threw, 'the injected failure surfaced');
  const sig = await signWithCommittedNonce(store, c.id, sk, msgOf(7));
  assert.ok(verify(sig, msgOf(7), getPublicKey(sk)));
  assert.equal(await signWithCommittedNonce(store, c.id, sk, msgOf(7)), sig);
  await rejectsCode(signWithCommittedNonce(store, c.id, sk, msgOf(8)), ErrorCode.NONCE_REUSE);
});

t('a spent record is checked too: another key is refused, a tampered stored signature is never handed out', async () => {
  const sk = numberToBytesBE(11n, 32);
  const store = new MemoryNonceStore();
  const c = await commitNonce(store, sk, msgOf(3));
  const sig = await signWithCommittedNonce(store, c.id, sk, msgOf(3));
  await rejectsCode(signWithCommittedNonce(store, c.id, numberToBytesBE(12n, 32), msgOf(3)), ErrorCode.INVALID_SECRET_KEY);
  const spent = (await store.get(c.id))!;
  const bad = spent.slice();
  bad[128]! ^= 1; // the last byte of the stored s
  const tampered = new MemoryNonceStore();
  await tampered.put(c.id, bad);
  await rejectsCode(signWithCommittedNonce(tampered, c.id, sk, msgOf(3)), ErrorCode.INVALID_SIGNATURE);
  assert.equal(await signWithCommittedNonce(store, c.id, sk, msgOf(3)), sig);
});

t('unknown id → NONCE_UNKNOWN', async () => {
  const store = new MemoryNonceStore();
  await rejectsCode(signWithCommittedNonce(store, 'nope', numberToBytesBE(3n, 32), msgOf(0)), ErrorCode.NONCE_UNKNOWN);
});

t('two commitments never share a nonce: not across ids, messages, or with a repeated rand', async () => {
  const store = new MemoryNonceStore();
  const sk = secp256k1.utils.randomSecretKey();
  const Rs = new Set<string>();
  const ids = new Set<string>();
  for (let i = 0; i < 32; i++) {
    const c = await commitNonce(store, sk, msgOf(0));
    Rs.add(bytesToHex(c.R));
    ids.add(c.id);
  }
  assert.is(Rs.size, 32);
  assert.is(ids.size, 32);
  const rand = new Uint8Array(32).fill(4);
  // Same rand, different ids → different nonces.
  const a = await commitNonce(store, sk, msgOf(0), { rand, id: 'rand-a' });
  const b = await commitNonce(store, sk, msgOf(0), { rand, id: 'rand-b' });
  assert.is.not(bytesToHex(a.R), bytesToHex(b.R));
  // Same rand and id, different messages (e.g. a store restored from a backup) → different nonces.
  const m1 = await commitNonce(new MemoryNonceStore(), sk, msgOf(1), { rand, id: 'same' });
  const m2 = await commitNonce(new MemoryNonceStore(), sk, msgOf(2), { rand, id: 'same' });
  assert.is.not(bytesToHex(m1.R), bytesToHex(m2.R));
  // Same rand, default id → the store refuses the second commitment (same id, same k).
  await commitNonce(store, sk, msgOf(0), { rand });
  await rejectsCode(commitNonce(store, sk, msgOf(0), { rand }), ErrorCode.NONCE_REUSE);
  // Same rand and id for another key is a different nonce too.
  const other = await commitNonce(new MemoryNonceStore(), secp256k1.utils.randomSecretKey(), msgOf(0), { rand, id: 'rand-a' });
  assert.is.not(bytesToHex(other.R), bytesToHex(a.R));
});

t('commitment is deterministic given rand, id and message (reproducible tests)', async () => {
  const sk = numberToBytesBE(7n, 32);
  const rand = new Uint8Array(32).fill(1);
  const a = await commitNonce(new MemoryNonceStore(), sk, msgOf(0), { rand, id: 'n1' });
  const b = await commitNonce(new MemoryNonceStore(), sk, msgOf(0), { rand, id: 'n1' });
  assert.equal(a, b);
  const c = await commitNonce(new MemoryNonceStore(), sk, msgOf(0), { rand });
  assert.is(c.id.length, 32);
  assert.ok(/^[0-9a-f]+$/.test(c.id));
});

t('the nonce is bound to its key: signing with another key is refused, and the nonce stays usable', async () => {
  const store = new MemoryNonceStore();
  const c = await commitNonce(store, numberToBytesBE(3n, 32), msgOf(0));
  await rejectsCode(signWithCommittedNonce(store, c.id, numberToBytesBE(4n, 32), msgOf(0)), ErrorCode.INVALID_SECRET_KEY);
  assert.ok(
    verify(await signWithCommittedNonce(store, c.id, numberToBytesBE(3n, 32), msgOf(0)), msgOf(0), getPublicKey(numberToBytesBE(3n, 32))),
  );
});

t('bad input is typed and costs nothing', async () => {
  const store = new MemoryNonceStore();
  const sk = numberToBytesBE(3n, 32);
  const c = await commitNonce(store, sk, msgOf(0));
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
  await rejectsCode(commitNonce(store, new Uint8Array(32), msgOf(0)), ErrorCode.INVALID_SECRET_KEY);
  await rejectsCode(commitNonce(store, numberToBytesBE(N, 32), msgOf(0)), ErrorCode.INVALID_SECRET_KEY);
  await rejectsCode(commitNonce(store, new Uint8Array(33), msgOf(0)), ErrorCode.INVALID_LENGTH);
  await rejectsCode(commitNonce(store, numberToBytesBE(3n, 32), 'm' as unknown as Uint8Array), ErrorCode.INVALID_TYPE);
  await rejectsCode(commitNonce(store, numberToBytesBE(3n, 32), msgOf(0), { rand: new Uint8Array(16) }), ErrorCode.INVALID_LENGTH);
  await rejectsCode(commitNonce(store, numberToBytesBE(3n, 32), msgOf(0), { id: '' }), ErrorCode.INVALID_LENGTH);
  await rejectsCode(commitNonce(store, numberToBytesBE(3n, 32), msgOf(0), { id: 'x'.repeat(129) }), ErrorCode.INVALID_LENGTH);
  // An id of exactly the longest length is taken, and signs.
  const c = await commitNonce(store, numberToBytesBE(3n, 32), msgOf(0), { id: 'x'.repeat(128) });
  assert.is(c.id.length, 128);
  assert.is((await signWithCommittedNonce(store, c.id, numberToBytesBE(3n, 32), msgOf(0))).length, 64);
});

t('a corrupted store record is refused, never signed with', async () => {
  // A store that hands back tampered bytes (disk corruption, wrong backend data).
  class Tampering extends MemoryNonceStore {
    constructor(readonly mutate: (r: Uint8Array) => Uint8Array) {
      super();
    }
    override async get(id: string) {
      const r = await super.get(id);
      return r && this.mutate(r);
    }
  }
  const sk = numberToBytesBE(3n, 32);
  const cases: Array<[(r: Uint8Array) => Uint8Array, string]> = [
    [(r) => r.subarray(0, 96), ErrorCode.INVALID_LENGTH],
    [
      (r) => {
        const x = r.slice();
        x[0] = 9;
        return x;
      },
      ErrorCode.INVALID_RANGE,
    ],
    [
      (r) => {
        const x = r.slice();
        x[96]! ^= 1;
        return x;
      },
      ErrorCode.INVALID_SIGNATURE,
    ], // R differs from k·G
    [
      (r) => {
        const x = r.slice();
        x.fill(0, 1, 33);
        return x;
      },
      ErrorCode.INVALID_SECRET_KEY,
    ], // k = 0
    [
      (r) => {
        const x = r.slice();
        x[100]! ^= 1;
        return x;
      },
      ErrorCode.NONCE_REUSE,
    ], // bound to another message
  ];
  for (const [mutate, code] of cases) {
    const store = new Tampering(mutate);
    const c = await commitNonce(store, sk, msgOf(0));
    await rejectsCode(signWithCommittedNonce(store, c.id, sk, msgOf(0)), code);
  }
});

t.run();
