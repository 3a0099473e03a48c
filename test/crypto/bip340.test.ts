import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE } from '@noble/curves/utils.js';
import { bytesToHex, hexToBytes } from '../../base/bytes.js';
import { ErrorCode } from '../../base/errors.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from '../../base/bytes.js';
import {
  challenge,
  getPublicKey,
  parseCompressedPoint,
  parsePublicKey,
  parseSecretKey,
  randomSecretKey,
  sign,
  signaturePoint,
  taggedHash,
  verify,
} from '../../crypto/index.js';
import { _mulAddXOnly, _signWithEvenNonce, _signWithNonce } from '../../crypto/bip340.js';
import { throwsCode } from '../helpers.js';
import { readVectors } from './csv.js';

const t = suite('crypto/bip340');
const { Point } = secp256k1;
const N = Point.Fn.ORDER;
const P_FIELD = 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F';
const h = (s: string) => hexToBytes(s);
const rows = readVectors('bip340.csv');

t('bip340.csv: all 19 rows (keygen, exact signing, verification)', () => {
  assert.is(rows.length, 19);
  let signed = 0;
  for (const r of rows) {
    const pk = h(r['public key']!);
    const msg = h(r.message!);
    const sig = h(r.signature!);
    const expected = r['verification result'] === 'TRUE';
    if (r['secret key'] !== '') {
      const sk = h(r['secret key']!);
      assert.is(bytesToHex(getPublicKey(sk)).toUpperCase(), r['public key'], `row ${r.index} pubkey`);
      assert.is(bytesToHex(sign(msg, sk, h(r.aux_rand!))).toUpperCase(), r.signature, `row ${r.index} sign`);
      signed++;
    }
    assert.is(verify(sig, msg, pk), expected, `row ${r.index} verify (${r.comment})`);
  }
  assert.is(signed, 8); // rows 0-3 and 15-18 carry a secret key
});

t('bip340.csv: variable-length messages (rows 15-18: 0, 1, 17, 100 bytes)', () => {
  const lens = rows.filter((r) => Number(r.index) >= 15).map((r) => h(r.message!).length);
  assert.equal(lens, [0, 1, 17, 100]);
  for (const r of rows.filter((x) => Number(x.index) >= 15)) {
    const sig = h(r.signature!);
    const msg = h(r.message!);
    assert.ok(verify(sig, msg, h(r['public key']!)));
    // One byte more or less must break it: the message length is committed.
    assert.not.ok(verify(sig, new Uint8Array([...msg, 0]), h(r['public key']!)));
  }
});

t('challenge matches the e behind a vector signature: s·G = R + e·P', () => {
  const r = rows[1]!;
  const sig = h(r.signature!);
  const rx = sig.subarray(0, 32);
  const px = h(r['public key']!);
  const msg = h(r.message!);
  const e = challenge(rx, px, msg);
  const s = bytesToNumberBE(sig.subarray(32));
  const lhs = Point.BASE.multiply(s);
  const rhs = parsePublicKey(rx).add(parsePublicKey(px).multiply(e));
  assert.ok(lhs.equals(rhs));
  assert.ok(e < N);
  assert.is.not(challenge(rx, px, new Uint8Array(0)), e);
});

t('signaturePoint(R, P, m) equals s·G for the vector signatures', () => {
  for (const r of rows.filter((x) => x['verification result'] === 'TRUE')) {
    const sig = h(r.signature!);
    const T = signaturePoint(sig.subarray(0, 32), h(r['public key']!), h(r.message!));
    assert.is(bytesToHex(T), bytesToHex(Point.BASE.multiply(bytesToNumberBE(sig.subarray(32))).toBytes(true)), `row ${r.index}`);
  }
});

t('_signWithNonce: random keys and nonces give valid signatures whose s·G is predicted', () => {
  for (let i = 0; i < 16; i++) {
    const sk = secp256k1.utils.randomSecretKey();
    const k = bytesToNumberBE(secp256k1.utils.randomSecretKey());
    const msg = crypto.getRandomValues(new Uint8Array(i * 7));
    const sig = _signWithNonce(msg, sk, k);
    const px = getPublicKey(sk);
    assert.ok(verify(sig, msg, px));
    // R.x is that of k·G, whatever the parity of its y.
    assert.is(bytesToHex(sig.subarray(0, 32)), bytesToHex(Point.BASE.multiply(k).toBytes(true).subarray(1)));
    const T = signaturePoint(sig.subarray(0, 32), px, msg);
    assert.is(bytesToHex(T), bytesToHex(Point.BASE.multiply(bytesToNumberBE(sig.subarray(32))).toBytes(true)));
  }
});

t('_signWithNonce: same nonce for two messages leaks the key (why nonces are burned)', () => {
  const sk = h('B7E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D9045190CFEF');
  const k = 12345678901234567890n;
  const m1 = new Uint8Array(32).fill(1);
  const m2 = new Uint8Array(32).fill(2);
  const s1 = _signWithNonce(m1, sk, k);
  const s2 = _signWithNonce(m2, sk, k);
  const px = getPublicKey(sk);
  const Fn = Point.Fn;
  const e1 = challenge(s1.subarray(0, 32), px, m1);
  const e2 = challenge(s2.subarray(0, 32), px, m2);
  const d = Fn.div(Fn.sub(bytesToNumberBE(s1.subarray(32)), bytesToNumberBE(s2.subarray(32))), Fn.sub(e1, e2));
  // d is the even-y key: equal to sk or n - sk.
  const d0 = parseSecretKey(sk);
  assert.ok(d === d0 || d === N - d0);
  throwsCode(() => _signWithNonce(m1, sk, 0n), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => _signWithNonce(m1, sk, N), ErrorCode.INVALID_SECRET_KEY);
  // The even-nonce signer takes R from the record: its k is checked the same way, at both ends.
  const rx = new Uint8Array(32).fill(1);
  for (const k of [0n, -1n, N, N + 1n]) throwsCode(() => _signWithEvenNonce(m1, sk, k, rx), ErrorCode.INVALID_SECRET_KEY);
  assert.is(_signWithEvenNonce(m1, sk, N - 1n, rx).length, 64);
  assert.is(_signWithEvenNonce(m1, sk, 1n, rx).length, 64);
  // a·G + b·P takes scalars in [0, n−1].
  const pub = getPublicKey(sk);
  for (const [a, b] of [
    [N, 1n],
    [1n, N],
    [-1n, 1n],
    [1n, -1n],
  ] as const)
    throwsCode(() => _mulAddXOnly(a, pub, b), ErrorCode.INVALID_RANGE);
  assert.ok(_mulAddXOnly(N - 1n, pub, N - 1n) !== undefined);
  // Zero is a scalar too: 0·G + 1·P is P, 1·G + 0·P is G.
  assert.equal(_mulAddXOnly(0n, pub, 1n)!.subarray(1), pub);
  assert.equal(_mulAddXOnly(1n, pub, 0n)!.subarray(1), Point.BASE.toBytes(true).subarray(1));
});

t('parseSecretKey / parsePublicKey / parseCompressedPoint reject bad input', () => {
  assert.is(parseSecretKey(h('00'.repeat(31) + '03')), 3n);
  throwsCode(() => parseSecretKey(new Uint8Array(32)), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => parseSecretKey(h(N.toString(16))), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => parseSecretKey(h('ff'.repeat(32))), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => parseSecretKey(new Uint8Array(31)), ErrorCode.INVALID_LENGTH);
  throwsCode(() => parseSecretKey('00' as unknown as Uint8Array), ErrorCode.INVALID_TYPE);

  assert.ok(parsePublicKey(h(rows[1]!['public key']!)).toAffine().y % 2n === 0n);
  throwsCode(() => parsePublicKey(h(rows[5]!['public key']!)), ErrorCode.INVALID_PUBLIC_KEY); // not on curve
  throwsCode(() => parsePublicKey(h(P_FIELD)), ErrorCode.INVALID_PUBLIC_KEY); // x = p
  throwsCode(() => parsePublicKey(new Uint8Array(32)), ErrorCode.INVALID_PUBLIC_KEY); // x = 0
  throwsCode(() => parsePublicKey(new Uint8Array(33)), ErrorCode.INVALID_LENGTH);
  throwsCode(() => parsePublicKey([1, 2] as unknown as Uint8Array), ErrorCode.INVALID_TYPE);

  const G = Point.BASE.toBytes(true);
  assert.ok(parseCompressedPoint(G).equals(Point.BASE));
  assert.ok(parseCompressedPoint(Point.BASE.negate().toBytes(true)).equals(Point.BASE.negate()));
  throwsCode(() => parseCompressedPoint(new Uint8Array([0x04, ...G.subarray(1)])), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => parseCompressedPoint(new Uint8Array(33)), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => parseCompressedPoint(h('02' + P_FIELD)), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => parseCompressedPoint(h('02' + rows[5]!['public key'])), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => parseCompressedPoint(Point.BASE.toBytes(false)), ErrorCode.INVALID_LENGTH);
});

t('parsePublicKey / parseCompressedPoint remember parsed points, never a bad encoding', () => {
  // Parsed points are remembered (bounded, cleared when full): every round parses thousands of keys,
  // and the off-curve encodings around them are refused each time, before and after the cache fills.
  const offCurveX = h(rows[5]!['public key']!);
  const G = Point.BASE.toBytes(true);
  for (let round = 0; round < 3; round++) {
    throwsCode(() => parsePublicKey(offCurveX), ErrorCode.INVALID_PUBLIC_KEY);
    throwsCode(() => parseCompressedPoint(h('02' + rows[5]!['public key'])), ErrorCode.INVALID_PUBLIC_KEY);
    for (let i = 1; i <= 1500; i++) {
      const P = Point.BASE.multiply(BigInt(round * 1500 + i));
      const c = P.toBytes(true);
      assert.ok(parseCompressedPoint(c).equals(P));
      // The same 32 bytes as an x-only key: the even-y point, never the cached odd one.
      const x = parsePublicKey(c.subarray(1));
      assert.ok(x.toAffine().x === P.toAffine().x && x.toAffine().y % 2n === 0n);
    }
    throwsCode(() => parsePublicKey(offCurveX), ErrorCode.INVALID_PUBLIC_KEY);
    assert.ok(parseCompressedPoint(G).equals(Point.BASE));
    assert.ok(parseCompressedPoint(Point.BASE.negate().toBytes(true)).equals(Point.BASE.negate()));
  }
});

t('getPublicKey / sign / verify / challenge / signaturePoint: typed errors at the door', () => {
  const sk = h(rows[1]!['secret key']!);
  const pk = getPublicKey(sk);
  const msg = new Uint8Array(32);
  const sig = sign(msg, sk);
  assert.ok(verify(sig, msg, pk));
  assert.is.not(bytesToHex(sign(msg, sk)), bytesToHex(sig)); // fresh aux_rand by default

  throwsCode(() => getPublicKey(new Uint8Array(32)), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => getPublicKey(new Uint8Array(64)), ErrorCode.INVALID_LENGTH);
  throwsCode(() => sign(msg, new Uint8Array(32)), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => sign(msg, h(N.toString(16))), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => sign(msg, sk, new Uint8Array(31)), ErrorCode.INVALID_LENGTH);
  throwsCode(() => sign('hello' as unknown as Uint8Array, sk), ErrorCode.INVALID_TYPE);

  throwsCode(() => verify(sig.subarray(0, 63), msg, pk), ErrorCode.INVALID_LENGTH);
  throwsCode(() => verify(sig, msg, new Uint8Array(33)), ErrorCode.INVALID_LENGTH);
  throwsCode(() => verify(sig, null as unknown as Uint8Array, pk), ErrorCode.INVALID_TYPE);
  // Well-typed garbage never throws: it just does not verify.
  assert.not.ok(verify(new Uint8Array(64), msg, pk));
  assert.not.ok(verify(new Uint8Array(64).fill(0xff), msg, pk));
  assert.not.ok(verify(sig, msg, h(P_FIELD)));
  assert.not.ok(verify(sig, msg, new Uint8Array(32)));

  throwsCode(() => challenge(new Uint8Array(31), pk, msg), ErrorCode.INVALID_LENGTH);
  throwsCode(() => challenge(pk, new Uint8Array(33), msg), ErrorCode.INVALID_LENGTH);
  throwsCode(() => challenge(pk, pk, 7 as unknown as Uint8Array), ErrorCode.INVALID_TYPE);

  throwsCode(() => signaturePoint(h(rows[5]!['public key']!), pk, msg), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => signaturePoint(sig.subarray(0, 32), h(P_FIELD), msg), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => signaturePoint(sig.subarray(0, 31), pk, msg), ErrorCode.INVALID_LENGTH);
});

t('taggedHash is sha256(sha256(tag) ‖ sha256(tag) ‖ m…) and feeds the BIP340 challenge', () => {
  const tag = 'ln-mailbox/v1/auth';
  const th = sha256(utf8(tag));
  const a = new Uint8Array([1, 2, 3]);
  const b = new Uint8Array(40).fill(9);
  assert.is(bytesToHex(taggedHash(tag, a, b)), bytesToHex(sha256(concatBytes(th, th, a, b))));
  assert.is(bytesToHex(taggedHash(tag)), bytesToHex(sha256(concatBytes(th, th))));
  assert.is.not(bytesToHex(taggedHash('ln-mailbox/v1/inner', a)), bytesToHex(taggedHash(tag, a)), 'the tag separates domains');
  // The BIP340 challenge is the same tagged hash reduced mod n.
  const r = rows[0]!;
  const sig = h(r.signature!);
  const e = bytesToNumberBE(taggedHash('BIP0340/challenge', sig.subarray(0, 32), h(r['public key']!), h(r.message!))) % N;
  assert.is(challenge(sig.subarray(0, 32), h(r['public key']!), h(r.message!)), e);
  throwsCode(() => taggedHash(7 as unknown as string, a), ErrorCode.INVALID_TYPE);
  throwsCode(() => taggedHash(tag, 'ab' as unknown as Uint8Array), ErrorCode.INVALID_TYPE);
});

t('randomSecretKey: 32 bytes, a valid scalar, fresh each call', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 16; i++) {
    const sk = randomSecretKey();
    assert.is(sk.length, 32);
    parseSecretKey(sk);
    seen.add(bytesToHex(sk));
  }
  assert.is(seen.size, 16);
});

t('parseSecretKey / parsePublicKey name the key in their errors and tell x ≥ p from off-curve', () => {
  const message = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error('expected a throw');
  };
  throwsCode(() => parsePublicKey(h(P_FIELD), 'recipient'), ErrorCode.INVALID_PUBLIC_KEY);
  assert.is(
    message(() => parseSecretKey(new Uint8Array(32), 'senderSecretKey')),
    'senderSecretKey: must be in [1, n-1]',
  );
  assert.is(
    message(() => parsePublicKey(h(P_FIELD), 'recipient')),
    'recipient: x coordinate not below the field prime',
  );
  assert.is(
    message(() => parsePublicKey(h(rows[5]!['public key']!), 'recipient')),
    'recipient: not an x coordinate on secp256k1',
  );
  assert.is(message(() => parsePublicKey(new Uint8Array(31), 'recipient')).startsWith('recipient'), true);
});

t.run();
