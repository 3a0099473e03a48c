import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { numberToBytesBE } from '@noble/curves/utils.js';
import { bytesToHex, hexToBytes } from '../../base/bytes.js';
import { ErrorCode } from '../../base/errors.js';
import { adaptorAdapt, adaptorExtract, adaptorPoint, adaptorPresign, adaptorVerify, getPublicKey, verify } from '../../crypto/index.js';
import { throwsCode } from '../helpers.js';
import { readVectors, type Row } from './csv.js';

const t = suite('crypto/adaptor');
const { Point } = secp256k1;
const N = Point.Fn.ORDER;
const h = (s: string) => hexToBytes(s);
const up = (b: Uint8Array) => bytesToHex(b).toUpperCase();

/** Drops the leading comment row (empty index) explicitly, and checks it was there. */
function dataRows(name: string): Row[] {
  const rows = readVectors(name);
  assert.is(rows[0]!.index, '', `${name}: first row is the comment row`);
  assert.ok(
    rows.slice(1).every((r) => r.index !== ''),
    `${name}: only one comment row`,
  );
  return rows.slice(1);
}

t('adaptor_presig_vectors.csv: all rows (exact presign where a key is given, verify result)', () => {
  const rows = dataRows('adaptor_presig_vectors.csv');
  assert.is(rows.length, 15);
  let signed = 0;
  for (const r of rows) {
    const pk = h(r['public key']!);
    const msg = h(r.message!);
    const T = h(r.adaptor!);
    const presig = h(r['pre-signature']!);
    if (r['secret key'] !== '') {
      const sk = h(r['secret key']!);
      assert.is(up(getPublicKey(sk)), r['public key'], `row ${r.index} pubkey`);
      assert.is(up(adaptorPresign(sk, msg, T, h(r.aux_rand!))), r['pre-signature'], `row ${r.index} presign`);
      signed++;
    }
    assert.is(adaptorVerify(presig, msg, pk, T), r.result === 'TRUE', `row ${r.index} verify (${r.comment})`);
  }
  assert.is(signed, 2);
});

t('adaptor_adapt_vectors.csv: all rows (exact adapted signature, BIP340 verify result)', () => {
  const rows = dataRows('adaptor_adapt_vectors.csv');
  assert.is(rows.length, 5);
  for (const r of rows) {
    const sig = adaptorAdapt(h(r['pre-signature']!), h(r.secadaptor!));
    assert.is(up(sig), r['BIP340 signature'], `row ${r.index} adapt`);
    assert.is(verify(sig, h(r.message!), h(r.pubkey!)), r.result === 'TRUE', `row ${r.index} verify (${r.comment})`);
  }
});

t('adaptor_secadaptor_vectors.csv: all rows (extract returns t, or refuses a mismatch)', () => {
  const rows = dataRows('adaptor_secadaptor_vectors.csv');
  assert.is(rows.length, 4);
  for (const r of rows) {
    const tBytes = h(r.secadaptor!);
    const T = adaptorPoint(tBytes);
    const run = () => adaptorExtract(h(r['BIP340 signature']!), h(r['pre-signature']!), T);
    if (r.result === 'TRUE') assert.is(up(run()), r.secadaptor, `row ${r.index} extract`);
    else throwsCode(run, ErrorCode.INVALID_ADAPTOR_SIGNATURE, `row ${r.index} (${r.comment})`);
  }
});

t("round trip presign → verify → adapt → BIP340 verify → extract, both parities of T and of R'", () => {
  const seen = { T02: 0, T03: 0, R02: 0, R03: 0 };
  for (let i = 0; i < 24; i++) {
    const sk = secp256k1.utils.randomSecretKey();
    const pk = getPublicKey(sk);
    const tSec = secp256k1.utils.randomSecretKey();
    const T = adaptorPoint(tSec);
    const msg = crypto.getRandomValues(new Uint8Array(32));
    const pre = adaptorPresign(sk, msg, T);
    seen[T[0] === 2 ? 'T02' : 'T03']++;
    seen[pre[0] === 2 ? 'R02' : 'R03']++;
    assert.ok(adaptorVerify(pre, msg, pk, T));
    // A pre-signature alone is not a signature, and does not verify for another T, key or message.
    assert.not.ok(verify(pre.subarray(1), msg, pk));
    assert.not.ok(adaptorVerify(pre, msg, pk, Point.BASE.toBytes(true)));
    assert.not.ok(adaptorVerify(pre, msg, getPublicKey(secp256k1.utils.randomSecretKey()), T));
    const sig = adaptorAdapt(pre, tSec);
    assert.ok(verify(sig, msg, pk));
    assert.is(bytesToHex(adaptorExtract(sig, pre, T)), bytesToHex(tSec));
    // Adapting with the wrong secret gives an invalid signature, and extraction refuses a foreign T.
    assert.not.ok(verify(adaptorAdapt(pre, secp256k1.utils.randomSecretKey()), msg, pk));
    throwsCode(() => adaptorExtract(sig, pre, Point.BASE.toBytes(true)), ErrorCode.INVALID_ADAPTOR_SIGNATURE);
  }
  // Force both parities of T deterministically too: t and n - t.
  const tSec = numberToBytesBE(7n, 32);
  const tNeg = numberToBytesBE(N - 7n, 32);
  assert.is.not(adaptorPoint(tSec)[0], adaptorPoint(tNeg)[0]);
  const sk = numberToBytesBE(3n, 32);
  const msg = new Uint8Array(32).fill(9);
  for (const s of [tSec, tNeg]) {
    const pre = adaptorPresign(sk, msg, adaptorPoint(s), new Uint8Array(32));
    const sig = adaptorAdapt(pre, s);
    assert.ok(verify(sig, msg, getPublicKey(sk)));
    assert.is(bytesToHex(adaptorExtract(sig, pre, adaptorPoint(s))), bytesToHex(s));
  }
  assert.ok(seen.T02 > 0 && seen.T03 > 0 && seen.R02 > 0 && seen.R03 > 0, JSON.stringify(seen));
});

t('presign: the nonce depends on T (no nonce reuse across adaptor points)', () => {
  const sk = numberToBytesBE(3n, 32);
  const msg = new Uint8Array(32);
  const aux = new Uint8Array(32);
  const a = adaptorPresign(sk, msg, adaptorPoint(numberToBytesBE(2n, 32)), aux);
  const b = adaptorPresign(sk, msg, adaptorPoint(numberToBytesBE(5n, 32)), aux);
  // R' = k·G + T: subtracting T leaves k·G, which must differ.
  const kG = (pre: Uint8Array, t: bigint) => Point.fromBytes(pre.subarray(0, 33)).subtract(Point.BASE.multiply(t));
  assert.not.ok(kG(a, 2n).equals(kG(b, 5n)));
});

t('bad input to every adaptor entry point raises a typed error', () => {
  const sk = numberToBytesBE(3n, 32);
  const pk = getPublicKey(sk);
  const tSec = numberToBytesBE(11n, 32);
  const T = adaptorPoint(tSec);
  const msg = new Uint8Array(32);
  const pre = adaptorPresign(sk, msg, T);
  const sig = adaptorAdapt(pre, tSec);
  const offCurve = h('02EEFDEA4CDB677750A420FEE807EACF21EB9898AE79B9768766E4FAA04A2D4A34');
  const badPrefix = new Uint8Array([0x04, ...T.subarray(1)]);
  const sOverflow = new Uint8Array([...pre.subarray(0, 33), ...numberToBytesBE(N, 32)]);
  const rOffCurve = new Uint8Array([...offCurve, ...pre.subarray(33)]);

  // adaptorPoint
  throwsCode(() => adaptorPoint(new Uint8Array(32)), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => adaptorPoint(numberToBytesBE(N, 32)), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => adaptorPoint(new Uint8Array(31)), ErrorCode.INVALID_LENGTH);
  // adaptorPresign
  throwsCode(() => adaptorPresign(new Uint8Array(32), msg, T), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => adaptorPresign(numberToBytesBE(N, 32), msg, T), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => adaptorPresign(sk, new Uint8Array(31), T), ErrorCode.INVALID_LENGTH);
  throwsCode(() => adaptorPresign(sk, msg, offCurve), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => adaptorPresign(sk, msg, badPrefix), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => adaptorPresign(sk, msg, new Uint8Array(33)), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => adaptorPresign(sk, msg, T.subarray(1)), ErrorCode.INVALID_LENGTH);
  throwsCode(() => adaptorPresign(sk, msg, T, new Uint8Array(16)), ErrorCode.INVALID_LENGTH);
  throwsCode(() => adaptorPresign('sk' as unknown as Uint8Array, msg, T), ErrorCode.INVALID_TYPE);
  // adaptorVerify: lengths throw, well-typed garbage is false
  throwsCode(() => adaptorVerify(pre.subarray(1), msg, pk, T), ErrorCode.INVALID_LENGTH);
  throwsCode(() => adaptorVerify(pre, new Uint8Array(33), pk, T), ErrorCode.INVALID_LENGTH);
  throwsCode(() => adaptorVerify(pre, msg, T, T), ErrorCode.INVALID_LENGTH);
  throwsCode(() => adaptorVerify(pre, msg, pk, pk), ErrorCode.INVALID_LENGTH);
  throwsCode(() => adaptorVerify(pre, msg, pk, undefined as unknown as Uint8Array), ErrorCode.INVALID_TYPE);
  assert.ok(adaptorVerify(pre, msg, pk, T));
  for (const bad of [sOverflow, rOffCurve, new Uint8Array(65), new Uint8Array(65).fill(0xff)])
    assert.not.ok(adaptorVerify(bad, msg, pk, T));
  assert.not.ok(adaptorVerify(pre, msg, pk, offCurve));
  assert.not.ok(adaptorVerify(pre, msg, pk, badPrefix));
  assert.not.ok(adaptorVerify(pre, msg, offCurve.subarray(1), T));
  // adaptorAdapt
  throwsCode(() => adaptorAdapt(pre, new Uint8Array(32)), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => adaptorAdapt(pre, numberToBytesBE(N, 32)), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => adaptorAdapt(pre, new Uint8Array(33)), ErrorCode.INVALID_LENGTH);
  throwsCode(() => adaptorAdapt(pre.subarray(0, 64), tSec), ErrorCode.INVALID_LENGTH);
  throwsCode(() => adaptorAdapt(sOverflow, tSec), ErrorCode.INVALID_ADAPTOR_SIGNATURE);
  throwsCode(() => adaptorAdapt(rOffCurve, tSec), ErrorCode.INVALID_ADAPTOR_SIGNATURE);
  throwsCode(() => adaptorAdapt(new Uint8Array([0x04, ...pre.subarray(1)]), tSec), ErrorCode.INVALID_ADAPTOR_SIGNATURE);
  // adaptorExtract
  throwsCode(() => adaptorExtract(sig.subarray(1), pre, T), ErrorCode.INVALID_LENGTH);
  throwsCode(() => adaptorExtract(sig, pre.subarray(1), T), ErrorCode.INVALID_LENGTH);
  throwsCode(() => adaptorExtract(sig, pre, T.subarray(1)), ErrorCode.INVALID_LENGTH);
  throwsCode(() => adaptorExtract(sig, pre, offCurve), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => adaptorExtract(sig, sOverflow, T), ErrorCode.INVALID_ADAPTOR_SIGNATURE);
  throwsCode(
    () => adaptorExtract(new Uint8Array([...sig.subarray(0, 32), ...numberToBytesBE(N, 32)]), pre, T),
    ErrorCode.INVALID_SIGNATURE,
  );
  const otherR = new Uint8Array(sig);
  otherR[0]! ^= 1;
  throwsCode(() => adaptorExtract(otherR, pre, T), ErrorCode.INVALID_ADAPTOR_SIGNATURE);
  // s = s' exactly would extract t = 0: refused.
  throwsCode(() => adaptorExtract(new Uint8Array([...pre.subarray(1)]), pre, T), ErrorCode.INVALID_ADAPTOR_SIGNATURE);
});

t.run();
