/**
 * The crypto door's tagged hash and x-only key tweaks, against BIP341's
 * wallet vectors (test/vectors/bip341.json: internal key, TapTweak, tweaked
 * public and secret key) and against bare curve arithmetic.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes, utf8 } from '../../base/bytes.js';
import { ErrorCode } from '../../base/errors.js';
import { getPublicKey, taggedHash, tweakXOnlyPublicKey, tweakXOnlySecretKey } from '../../crypto/index.js';
import { throwsCode } from '../helpers.js';

const t = suite('crypto/xonly-tweak');
const Pt = secp256k1.Point;
const N = Pt.Fn.ORDER;
const bip341 = JSON.parse(readFileSync(new URL('../vectors/bip341.json', import.meta.url), 'utf8')) as {
  scriptPubKey: { given: { internalPubkey: string }; intermediary: { merkleRoot: string | null; tweak: string; tweakedPubkey: string } }[];
  keyPathSpending: {
    inputSpending: {
      given: { internalPrivkey: string; merkleRoot: string | null };
      intermediary: { internalPubkey: string; tweak: string; tweakedPrivkey: string };
    }[];
  }[];
};

t('taggedHash is sha256(sha256(tag) ‖ sha256(tag) ‖ m…), and the BIP341 TapTweak of every vector', () => {
  const tag = 'ln-mailbox/v1/test';
  const th = sha256(utf8(tag));
  const a = utf8('a');
  const b = new Uint8Array([1, 2, 3]);
  assert.is(bytesToHex(taggedHash(tag, a, b)), bytesToHex(sha256(concatBytes(th, th, a, b))));
  assert.is(bytesToHex(taggedHash(tag)), bytesToHex(sha256(concatBytes(th, th))));
  for (const v of bip341.scriptPubKey) {
    const p = hexToBytes(v.given.internalPubkey);
    const msg = v.intermediary.merkleRoot === null ? p : concatBytes(p, hexToBytes(v.intermediary.merkleRoot));
    assert.is(bytesToHex(taggedHash('TapTweak', msg)), v.intermediary.tweak);
  }
  throwsCode(() => taggedHash(tag, 'x' as never), ErrorCode.INVALID_TYPE);
});

t('tweakXOnlyPublicKey: BIP341 tweaked output keys (scriptPubKey vectors)', () => {
  assert.ok(bip341.scriptPubKey.length >= 7);
  for (const v of bip341.scriptPubKey) {
    const q = tweakXOnlyPublicKey(hexToBytes(v.given.internalPubkey), hexToBytes(v.intermediary.tweak));
    assert.is(bytesToHex(q.xonly), v.intermediary.tweakedPubkey);
  }
});

t('tweakXOnlySecretKey: BIP341 tweaked secret keys (key-path spending vectors), matching the public tweak', () => {
  let n = 0;
  for (const group of bip341.keyPathSpending)
    for (const v of group.inputSpending) {
      const sk = hexToBytes(v.given.internalPrivkey);
      const tweak = hexToBytes(v.intermediary.tweak);
      const d = tweakXOnlySecretKey(sk, tweak);
      assert.is(bytesToHex(d), v.intermediary.tweakedPrivkey);
      assert.is(bytesToHex(getPublicKey(d)), bytesToHex(tweakXOnlyPublicKey(getPublicKey(sk), tweak).xonly));
      n++;
    }
  assert.ok(n >= 7);
});

t('random keys and tweaks: parity and the negation rule agree with bare curve arithmetic', () => {
  let odd = 0;
  for (let i = 0; i < 32; i++) {
    const sk = sha256(utf8(`xonly-tweak sk ${i}`));
    const tweak = sha256(utf8(`xonly-tweak t ${i}`));
    const d0 = bytesToNumberBE(sk);
    const P = Pt.BASE.multiply(d0).toAffine();
    if (P.y % 2n === 1n) odd++;
    const even = Pt.fromHex(`02${bytesToHex(numberToBytesBE(P.x, 32))}`);
    const Q = even.add(Pt.BASE.multiply(bytesToNumberBE(tweak) % N)).toAffine();
    const q = tweakXOnlyPublicKey(getPublicKey(sk), tweak, { reduce: true });
    assert.is(bytesToHex(q.xonly), bytesToHex(numberToBytesBE(Q.x, 32)));
    assert.is(q.parity, Number(Q.y & 1n));
    const d = bytesToNumberBE(tweakXOnlySecretKey(sk, tweak, { reduce: true }));
    assert.is(Pt.BASE.multiply(d).toAffine().x, Q.x);
  }
  assert.ok(odd > 0 && odd < 32, 'both parities of P covered');
});

t('tweaks ≥ n: refused by default (BIP341), reduced mod n on request; infinity and zero refused', () => {
  const sk = sha256(utf8('xonly-tweak ge-n'));
  const pk = getPublicKey(sk);
  const big = numberToBytesBE(N + 5n, 32);
  const five = numberToBytesBE(5n, 32);
  throwsCode(() => tweakXOnlyPublicKey(pk, big), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => tweakXOnlySecretKey(sk, big), ErrorCode.INVALID_PUBLIC_KEY);
  // n itself is not below the order: refused too; n − 1 is a valid tweak.
  throwsCode(() => tweakXOnlyPublicKey(pk, numberToBytesBE(N, 32)), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => tweakXOnlySecretKey(sk, numberToBytesBE(N, 32)), ErrorCode.INVALID_PUBLIC_KEY);
  assert.is(tweakXOnlyPublicKey(pk, numberToBytesBE(N - 1n, 32)).xonly.length, 32);
  assert.equal(tweakXOnlyPublicKey(pk, big, { reduce: true }), tweakXOnlyPublicKey(pk, five));
  assert.equal(tweakXOnlySecretKey(sk, big, { reduce: true }), tweakXOnlySecretKey(sk, five));
  // t = 0 leaves the key alone: the result is the even-y key itself.
  assert.equal(tweakXOnlyPublicKey(pk, new Uint8Array(32)), { xonly: pk, parity: 0 });
  // t = n − d (d of the even-y key) gives infinity / a zero secret.
  const d0 = bytesToNumberBE(sk);
  const d = Pt.BASE.multiply(d0).toAffine().y % 2n === 0n ? d0 : N - d0;
  const cancel = numberToBytesBE(N - d, 32);
  throwsCode(() => tweakXOnlyPublicKey(pk, cancel), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => tweakXOnlySecretKey(sk, cancel), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => tweakXOnlyPublicKey(new Uint8Array(32).fill(0xff), five), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => tweakXOnlyPublicKey(pk, new Uint8Array(31)), ErrorCode.INVALID_LENGTH);
});

t.run();
