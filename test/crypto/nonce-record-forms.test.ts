/**
 * The two forms of a stored nonce record. Nonces are committed in even form
 * (k·G has even y, R.x and a check value stored with k, so signing needs no
 * k·G); records of the first form (k as drawn, R recomputed at signing),
 * written by earlier versions, still load and sign, in memory and in LevelDB
 * across a reopen, with the same message binding.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { concatBytes, equalBytes } from '../../base/bytes.js';
import { ErrorCode } from '../../base/errors.js';
import { LevelKv } from '../../client/mailbox/kv.js';
import { KvNonceStore } from '../../client/wallet/nonce-store.js';
import {
  MemoryNonceStore,
  bindTicketNonce,
  commitNonce,
  commitTicketNonce,
  getPublicKey,
  isFreeTicket,
  signWithCommittedNonce,
  signaturePoint,
  ticketNonceId,
  verify,
  type NonceStore,
} from '../../crypto/index.js';
import { rejectsCode } from '../helpers.js';

const t = suite('crypto/nonce-record-forms');
const { Point } = secp256k1;
const N = Point.Fn.ORDER;
const msgOf = (b: number) => new Uint8Array(32).fill(b);
const msgHash = (m: Uint8Array) => schnorr.utils.taggedHash('LnMailbox/nonce-msg', m);

/** A record of the first form, as earlier versions wrote it: kind ‖ k ‖ P.x ‖ R.x ‖ H(msg) (zeros for a ticket). */
function firstForm(kind: 0x02 | 0x04, sk: Uint8Array, k: bigint, msg: Uint8Array | null): { record: Uint8Array; R: Uint8Array } {
  const R = numberToBytesBE(Point.BASE.multiply(k).toAffine().x, 32);
  const mh = msg ? msgHash(msg) : new Uint8Array(32);
  return { record: concatBytes(new Uint8Array([kind]), numberToBytesBE(k, 32), getPublicKey(sk), R, mh), R };
}

/** A nonce scalar whose point has odd (or even) y: the first form stores it as drawn. */
function nonceWithParity(odd: boolean, seed: bigint): bigint {
  for (let k = seed; ; k++) if ((Point.BASE.multiply(k).toAffine().y & 1n) === (odd ? 1n : 0n)) return k;
}

async function signsOnlyItsMessage(store: NonceStore, id: string, sk: Uint8Array, msg: Uint8Array, R: Uint8Array): Promise<void> {
  await rejectsCode(signWithCommittedNonce(store, id, sk, msgOf(0xee)), ErrorCode.NONCE_REUSE);
  const sig = await signWithCommittedNonce(store, id, sk, msg);
  assert.ok(verify(sig, msg, getPublicKey(sk)));
  assert.ok(equalBytes(sig.subarray(0, 32), R), 'the signature carries the committed R');
  assert.is(
    Point.BASE.multiply(bytesToNumberBE(sig.subarray(32))).toHex(true),
    Buffer.from(signaturePoint(R, getPublicKey(sk), msg)).toString('hex'),
  );
  assert.equal(await signWithCommittedNonce(store, id, sk, msg), sig, 'replay gives the same signature');
  await rejectsCode(signWithCommittedNonce(store, id, sk, msgOf(0xee)), ErrorCode.NONCE_REUSE);
}

t('a committed record of the first form (k as drawn, odd or even R) signs its message and only it', async () => {
  for (const odd of [true, false]) {
    const sk = numberToBytesBE(21n, 32);
    const msg = msgOf(odd ? 1 : 2);
    const { record, R } = firstForm(0x02, sk, nonceWithParity(odd, 1000n), msg);
    const store = new MemoryNonceStore();
    await store.put('old', record);
    await signsOnlyItsMessage(store, 'old', sk, msg, R);
  }
});

t(
  'a first-form record whose R does not belong to its k is refused, never signed with: the signature would not carry the committed R',
  async () => {
    const sk = numberToBytesBE(21n, 32);
    const msg = msgOf(3);
    const { record } = firstForm(0x02, sk, nonceWithParity(false, 2000n), msg);
    record.set(numberToBytesBE(Point.BASE.multiply(7n).toAffine().x, 32), 65); // another point's x
    const store = new MemoryNonceStore();
    await store.put('old', record);
    await rejectsCode(signWithCommittedNonce(store, 'old', sk, msg), ErrorCode.INVALID_SIGNATURE);
    assert.is((await store.get('old'))![0], 0x02, 'nothing was spent');
  },
);

t(
  'an unbound ticket signs nothing; a committed nonce is already bound, so binding it as a ticket to another message is NONCE_REUSE',
  async () => {
    const sk = numberToBytesBE(23n, 32);
    const store = new MemoryNonceStore();
    const tk = await commitTicketNonce(store, sk);
    const c = await commitNonce(store, sk, msgOf(4));
    await rejectsCode(signWithCommittedNonce(store, tk.id, sk, msgOf(4)), ErrorCode.INVALID_RANGE);
    assert.ok(await isFreeTicket(store, tk.id), 'the ticket is still free');
    await rejectsCode(bindTicketNonce(store, c.id, sk, msgOf(5)), ErrorCode.NONCE_REUSE);
    await bindTicketNonce(store, c.id, sk, msgOf(4)); // its own message: nothing changes
    assert.ok(
      verify(await signWithCommittedNonce(store, c.id, sk, msgOf(4)), msgOf(4), getPublicKey(sk)),
      'the committed nonce still signs',
    );
  },
);

t('a ticket committed under another key is not bound: INVALID_SECRET_KEY, for both forms, and it stays free', async () => {
  const mine = numberToBytesBE(25n, 32);
  const theirs = numberToBytesBE(27n, 32);
  const store = new MemoryNonceStore();
  await store.put('first', firstForm(0x04, theirs, nonceWithParity(false, 3000n), null).record);
  const even = await commitTicketNonce(store, theirs);
  await rejectsCode(bindTicketNonce(store, 'first', mine, msgOf(6)), ErrorCode.INVALID_SECRET_KEY);
  await rejectsCode(bindTicketNonce(store, even.id, mine, msgOf(6)), ErrorCode.INVALID_SECRET_KEY);
  assert.ok(await isFreeTicket(store, 'first'));
  assert.ok(await isFreeTicket(store, even.id));
});

t('a first-form record stored in LevelDB by an earlier version loads after a reopen and signs', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lnmb-nonce-old-'));
  try {
    const sk = numberToBytesBE(23n, 32);
    const msg = msgOf(3);
    const c = firstForm(0x02, sk, nonceWithParity(true, 5000n), msg);
    const tk = firstForm(0x04, sk, nonceWithParity(true, 7000n), null);
    let kv = new LevelKv(dir);
    await new KvNonceStore(kv).put('old', c.record);
    await new KvNonceStore(kv).put(ticketNonceId(tk.R), tk.record);
    await kv.close();
    kv = new LevelKv(dir);
    const store = new KvNonceStore(kv);
    await signsOnlyItsMessage(store, 'old', sk, msg, c.R);
    // An old ticket: still free, binds to one message (first-form committed record), signs it.
    const id = ticketNonceId(tk.R);
    assert.ok(await isFreeTicket(store, id));
    await bindTicketNonce(store, id, sk, msgOf(4));
    assert.is((await store.get(id))![0], 0x02, 'an old ticket binds to a first-form record');
    assert.not.ok(await isFreeTicket(store, id));
    await rejectsCode(bindTicketNonce(store, id, sk, msgOf(5)), ErrorCode.NONCE_REUSE);
    await signsOnlyItsMessage(store, id, sk, msgOf(4), tk.R);
    await kv.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t('new records are of the even form: k·G = lift_x(R.x), checked, and k is gone once spent', async () => {
  for (let i = 0; i < 16; i++) {
    const store = new MemoryNonceStore();
    const sk = secp256k1.utils.randomSecretKey();
    const msg = msgOf(i);
    const c = await commitNonce(store, sk, msg);
    const rec = (await store.get(c.id))!;
    assert.is(rec.length, 161);
    assert.is(rec[0], 0x05);
    const P = Point.BASE.multiply(bytesToNumberBE(rec.subarray(1, 33))).toAffine();
    assert.is(P.y & 1n, 0n, 'the stored k has an even-y point');
    assert.ok(equalBytes(numberToBytesBE(P.x, 32), c.R));
    await signsOnlyItsMessage(store, c.id, sk, msg, c.R);
    const spent = (await store.get(c.id))!;
    assert.is(spent[0], 0x03);
    assert.not.ok(Buffer.from(spent).includes(Buffer.from(rec.subarray(1, 33))), 'k is gone');
  }
});

t('tickets: new ones are of the even form and bind to an even-form committed record', async () => {
  const store = new MemoryNonceStore();
  const sk = numberToBytesBE(29n, 32);
  for (let i = 0; i < 8; i++) {
    const c = await commitTicketNonce(store, sk);
    const rec = (await store.get(c.id))!;
    assert.is(rec[0], 0x06);
    assert.is(rec.length, 161);
    assert.ok(await isFreeTicket(store, c.id));
    await bindTicketNonce(store, c.id, sk, msgOf(i));
    await bindTicketNonce(store, c.id, sk, msgOf(i)); // idempotent
    assert.is((await store.get(c.id))![0], 0x05);
    assert.not.ok(await isFreeTicket(store, c.id));
    await rejectsCode(bindTicketNonce(store, c.id, sk, msgOf(i + 1)), ErrorCode.NONCE_REUSE);
    await signsOnlyItsMessage(store, c.id, sk, msgOf(i), c.R);
  }
});

t('an even-form record whose k, R, key or check value was altered is refused, never signed with', async () => {
  const sk = numberToBytesBE(31n, 32);
  const cases: Array<[string, (r: Uint8Array) => void, string]> = [
    ['k + 1', (r) => r.set(numberToBytesBE((bytesToNumberBE(r.subarray(1, 33)) + 1n) % N, 32), 1), ErrorCode.INVALID_SIGNATURE],
    ['k negated', (r) => r.set(numberToBytesBE(N - bytesToNumberBE(r.subarray(1, 33)), 32), 1), ErrorCode.INVALID_SIGNATURE],
    ['k = n', (r) => r.set(numberToBytesBE(N, 32), 1), ErrorCode.INVALID_SECRET_KEY],
    ['R.x', (r) => void (r[70]! ^= 4), ErrorCode.INVALID_SIGNATURE],
    ['check value', (r) => void (r[160]! ^= 1), ErrorCode.INVALID_SIGNATURE],
    ['check value zeroed', (r) => void r.fill(0, 129), ErrorCode.INVALID_SIGNATURE],
  ];
  for (const [what, mutate, code] of cases) {
    const store = new MemoryNonceStore();
    const c = await commitNonce(store, sk, msgOf(9));
    const rec = (await store.get(c.id))!;
    mutate(rec);
    const tampered = new MemoryNonceStore();
    await tampered.put(c.id, rec);
    await rejectsCode(signWithCommittedNonce(tampered, c.id, sk, msgOf(9)), code, what);
    assert.is((await tampered.get(c.id))![0], 0x05, `${what}: nothing was spent`);
  }
  // A record of the other length for its kind is refused as such.
  const store = new MemoryNonceStore();
  const c = await commitNonce(store, sk, msgOf(9));
  const short = new MemoryNonceStore();
  await short.put(c.id, (await store.get(c.id))!.subarray(0, 129));
  await rejectsCode(signWithCommittedNonce(short, c.id, sk, msgOf(9)), ErrorCode.INVALID_LENGTH);
  // An empty record (a truncated store) is refused as such, and one of an unknown kind as that.
  const odd = new MemoryNonceStore();
  await odd.put('empty', new Uint8Array(0));
  await odd.put('kind-9', new Uint8Array(129).fill(9));
  await rejectsCode(signWithCommittedNonce(odd, 'empty', sk, msgOf(9)), ErrorCode.INVALID_LENGTH);
  await rejectsCode(signWithCommittedNonce(odd, 'kind-9', sk, msgOf(9)), ErrorCode.INVALID_RANGE);
  // A ticket whose stored R was altered is refused at binding, before it is burned.
  const tk = await commitTicketNonce(store, sk);
  const rec = (await store.get(tk.id))!;
  rec[70]! ^= 4;
  const bad = new MemoryNonceStore();
  await bad.put(tk.id, rec);
  await rejectsCode(bindTicketNonce(bad, tk.id, sk, msgOf(1)), ErrorCode.INVALID_SIGNATURE);
  assert.ok(await isFreeTicket(bad, tk.id));
});

t.run();
