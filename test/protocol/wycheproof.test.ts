/**
 * Published vectors (C2SP/wycheproof, testvectors_v1) for the three
 * primitives envelope v1 is built from: XChaCha20-Poly1305, HKDF-SHA256 and
 * secp256k1 ECDH. See test/vectors/README.md for the files' origin.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { ErrorCode, bytesToHex, concatBytes, hexToBytes, isLnMailboxError, sharedSecretX } from '../../protocol/index.js';

const t = suite('protocol/wycheproof');

interface Group<T> {
  tests: (T & { tcId: number; result: 'valid' | 'invalid' | 'acceptable'; flags: string[]; comment: string })[];
}
function load<T>(name: string): Group<T>[] {
  const file = new URL(`../vectors/wycheproof/${name}`, import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { testGroups: Group<T>[] }).testGroups;
}
const hx = (s: string) => hexToBytes(s);

t('XChaCha20-Poly1305: every case (encrypt and decrypt agree; invalid rejected)', () => {
  const groups = load<{ key: string; iv: string; aad: string; msg: string; ct: string; tag: string }>('xchacha20_poly1305_test.json');
  let valid = 0;
  let invalid = 0;
  for (const g of groups) {
    for (const c of g.tests) {
      const sealed = concatBytes(hx(c.ct), hx(c.tag));
      let out: Uint8Array | undefined;
      let enc: Uint8Array | undefined;
      try {
        out = xchacha20poly1305(hx(c.key), hx(c.iv), hx(c.aad)).decrypt(sealed);
        enc = xchacha20poly1305(hx(c.key), hx(c.iv), hx(c.aad)).encrypt(hx(c.msg));
      } catch {
        out = undefined;
      }
      if (c.result === 'valid') {
        assert.ok(out, `tc ${c.tcId} must decrypt`);
        assert.is(bytesToHex(out!), c.msg, `tc ${c.tcId} plaintext`);
        assert.is(bytesToHex(enc!), c.ct + c.tag, `tc ${c.tcId} ciphertext`);
        valid++;
      } else {
        assert.is(out, undefined, `tc ${c.tcId} (${c.comment}) must be rejected`);
        invalid++;
      }
    }
  }
  assert.is(valid + invalid, 315);
  assert.ok(invalid > 0);
});

t('HKDF-SHA256: every case', () => {
  const groups = load<{ ikm: string; salt: string; info: string; size: number; okm: string }>('hkdf_sha256_test.json');
  let n = 0;
  for (const g of groups) {
    for (const c of g.tests) {
      n++;
      if (c.result === 'valid') {
        assert.is(bytesToHex(hkdf(sha256, hx(c.ikm), hx(c.salt), hx(c.info), c.size)), c.okm, `tc ${c.tcId}`);
      } else {
        assert.throws(() => hkdf(sha256, hx(c.ikm), hx(c.salt), hx(c.info), c.size), `tc ${c.tcId} (${c.comment})`);
      }
    }
  }
  assert.is(n, 86);
});

// --- secp256k1 ECDH --------------------------------------------------------------

/** A strict DER reader for one TLV: definite, minimal lengths only. */
function derTlv(b: Uint8Array, pos: number): { tag: number; value: Uint8Array; next: number } {
  const tag = b[pos];
  let len = b[pos + 1];
  if (tag === undefined || len === undefined) throw new Error('DER: truncated');
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 2) throw new Error('DER: indefinite or oversized length');
    if (b[p] === 0) throw new Error('DER: length with leading zero');
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | (b[p + i] ?? NaN);
    if (Number.isNaN(len) || len < 0x80) throw new Error('DER: non-minimal length');
    p += n;
  }
  if (p + len > b.length) throw new Error('DER: length overruns');
  return { tag, value: b.subarray(p, p + len), next: p + len };
}

const OID_EC_PUBLIC_KEY = '2a8648ce3d0201'; // 1.2.840.10045.2.1
const OID_SECP256K1 = '2b8104000a'; // 1.3.132.0.10

/**
 * SubjectPublicKeyInfo (RFC 5480) for a named-curve secp256k1 key → the SEC 1
 * point bytes. Anything else (explicit parameters, other curves, trailing
 * bytes, unused bits) is refused here, before our key parsing sees it.
 */
function spkiPoint(der: Uint8Array): Uint8Array {
  const outer = derTlv(der, 0);
  if (outer.tag !== 0x30 || outer.next !== der.length) throw new Error('DER: not one SEQUENCE');
  const alg = derTlv(outer.value, 0);
  if (alg.tag !== 0x30) throw new Error('DER: no AlgorithmIdentifier');
  const oid = derTlv(alg.value, 0);
  const curve = derTlv(alg.value, oid.next);
  if (oid.tag !== 6 || bytesToHex(oid.value) !== OID_EC_PUBLIC_KEY || curve.next !== alg.value.length)
    throw new Error('DER: not id-ecPublicKey');
  if (curve.tag !== 6 || bytesToHex(curve.value) !== OID_SECP256K1) throw new Error('DER: not the named curve secp256k1');
  const bits = derTlv(outer.value, alg.next);
  if (bits.tag !== 3 || bits.next !== outer.value.length) throw new Error('DER: no BIT STRING');
  if (bits.value[0] !== 0) throw new Error('DER: unused bits');
  return bits.value.subarray(1);
}

const N = secp256k1.Point.CURVE().n;
function privateKey(hex: string): Uint8Array {
  const d = BigInt('0x' + hex);
  assert.ok(d > 0n && d < N, 'wycheproof private keys are in range');
  return hx(d.toString(16).padStart(64, '0'));
}

t('secp256k1 ECDH: shared x for every valid key; invalid keys refused with typed errors', () => {
  const groups = load<{ public: string; private: string; shared: string }>('ecdh_secp256k1_test.json');
  const count = { valid: 0, acceptableComputed: 0, refusedByDer: 0, refusedByUs: 0, refusedLength: 0 };
  for (const g of groups) {
    for (const c of g.tests) {
      let point: Uint8Array | undefined;
      try {
        point = spkiPoint(hx(c.public));
      } catch {
        point = undefined;
      }
      if (c.result === 'valid') {
        assert.ok(point, `tc ${c.tcId}: valid SPKI must parse`);
        const d = privateKey(c.private);
        // The envelope's own path, for every case: x-only key lifted to even y; x(d·P) = x(d·(−P)).
        assert.is(bytesToHex(sharedSecretX(d, point!.subarray(1, 33))), c.shared, `tc ${c.tcId} (x-only)`);
        // The SEC 1 point as given, for a quarter of the cases (each ECDH costs
        // milliseconds; the multiplication is the same, only parsing differs).
        if (c.tcId % 4 === 1) assert.is(bytesToHex(sharedSecretX(d, point!)), c.shared, `tc ${c.tcId} (SEC1 point)`);
        count.valid++;
        continue;
      }
      if (point === undefined) {
        count.refusedByDer++;
        continue;
      }
      let shared: Uint8Array | undefined;
      try {
        shared = sharedSecretX(privateKey(c.private), point);
      } catch (e) {
        // A point of a length no SEC 1 form has is a length error; a well-formed one that fails is off the curve.
        const want = point.length === 33 || point.length === 65 ? ErrorCode.INVALID_PUBLIC_KEY : ErrorCode.INVALID_LENGTH;
        assert.ok(isLnMailboxError(e, want), `tc ${c.tcId}: expected ${want}, got ${String(e)}`);
        if (want === ErrorCode.INVALID_PUBLIC_KEY) count.refusedByUs++;
        else count.refusedLength++;
        continue;
      }
      assert.is(c.result, 'acceptable', `tc ${c.tcId} (${c.comment}) must be refused`);
      assert.is(bytesToHex(shared), c.shared, `tc ${c.tcId} acceptable case computed correctly`);
      count.acceptableComputed++;
    }
  }
  assert.is(count.valid, 473);
  // Off-curve points, invalid-curve-attack points and invalid compressed keys
  // under the secp256k1 OID all reach, and are refused by, our key parsing
  // with INVALID_PUBLIC_KEY (on top of those refused for their length).
  assert.is(count.refusedByUs, 22, 'refused by sharedSecretX as off-curve');
  assert.is(count.acceptableComputed, 1, 'the compressed-key case (tc 2) is computed, not refused');
  assert.is(count.valid + count.acceptableComputed + count.refusedByDer + count.refusedByUs + count.refusedLength, 752);
});

t.run();
