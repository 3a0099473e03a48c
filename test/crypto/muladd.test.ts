/**
 * The door's a·G + b·P (`_mulAddXOnly`): on libsecp256k1 through ECDSA
 * public-key recovery, on noble through its joint multiplication. Both must
 * give exactly a·G + b·lift_x(P), null for infinity, and refuse a key off the curve.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { bytesToHex } from '../../base/bytes.js';
import { ErrorCode } from '../../base/errors.js';
import { _mulAddXOnly, getPublicKey, parsePublicKey } from '../../crypto/bip340.js';
import { _setBackend, backendName } from '../../crypto/secp.js';
import { throwsCode } from '../helpers.js';

const t = suite('crypto/muladd');
const { Point } = secp256k1;
const N = Point.Fn.ORDER;
const P_FIELD = Point.CURVE().p;
const rand = () => bytesToNumberBE(secp256k1.utils.randomSecretKey());
const expect = (a: bigint, px: Uint8Array, b: bigint): string | null => {
  const Q = Point.BASE.multiplyUnsafe(a).add(parsePublicKey(px).multiplyUnsafe(b));
  return Q.is0() ? null : bytesToHex(Q.toBytes(true));
};
const got = (a: bigint, px: Uint8Array, b: bigint): string | null => {
  const Q = _mulAddXOnly(a, px, b);
  return Q === null ? null : bytesToHex(Q);
};

/** An x coordinate in [n, p) that is on the curve (where ECDSA recovery needs its overflow bit). */
function highX(): Uint8Array {
  for (let x = N + 1n; x < P_FIELD; x++) {
    try {
      parsePublicKey(numberToBytesBE(x, 32));
      return numberToBytesBE(x, 32);
    } catch {
      /* not on the curve: next */
    }
  }
  throw new Error('no x in [n, p) on the curve');
}

for (const backend of ['libsecp256k1', 'noble'] as const)
  t(`a·G + b·P on ${backend}: random scalars and keys, zero scalars, infinity, x(P) ≥ n, a key off the curve`, () => {
    if (!_setBackend(backend)) return; // the binding did not load: noble serves everything
    try {
      assert.is(backendName(), backend);
      for (let i = 0; i < 24; i++) {
        const px = getPublicKey(secp256k1.utils.randomSecretKey());
        const a = rand(),
          b = rand();
        assert.is(got(a, px, b), expect(a, px, b), `random ${i}`);
        assert.is(got(a, px, N - b), expect(a, px, N - b), `negated b ${i}`);
        assert.is(got(0n, px, b), expect(0n, px, b), `a = 0 ${i}`);
        assert.is(got(a, px, 0n), expect(a, px, 0n), `b = 0 ${i}`);
      }
      // Infinity: P = d·G (even y), b = −a/d.
      const sk = secp256k1.utils.randomSecretKey();
      const px = getPublicKey(sk);
      const P = parsePublicKey(px);
      const d = Point.BASE.multiply(bytesToNumberBE(sk)).equals(P) ? bytesToNumberBE(sk) : N - bytesToNumberBE(sk);
      const a = rand();
      assert.is(_mulAddXOnly(a, px, Point.Fn.neg(Point.Fn.div(a, d))), null);
      const hx = highX();
      assert.is(got(a, hx, 5n), expect(a, hx, 5n), 'x(P) ≥ n');
      const off = new Uint8Array(32).fill(0xff); // x ≥ p
      throwsCode(() => _mulAddXOnly(1n, off, 1n), ErrorCode.INVALID_PUBLIC_KEY);
      throwsCode(() => _mulAddXOnly(N, px, 1n), ErrorCode.INVALID_RANGE);
      throwsCode(() => _mulAddXOnly(1n, px, -1n), ErrorCode.INVALID_RANGE);
    } finally {
      _setBackend('libsecp256k1');
    }
  });

t.run();
