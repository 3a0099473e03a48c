/**
 * Payment-point decorrelation (SPEC 6.6): a PTLC is
 * locked to `T + r·G` rather than `T`, with a random tweak `r` that only the
 * two parties of that hop know. Revealing the hop's secret `t + r` lets the
 * offerer, who knows `r`, recover `t`; every hop and the chain see a
 * different point, so no two hops can be linked by it.
 * @module
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { abytes } from '../base/bytes.js';
import { ErrorCode, fail } from '../base/errors.js';
import { parseCompressedPoint, taggedHash } from './bip340.js';
import { cacheScope, native } from './secp.js';
import { bytesToHex } from '../base/bytes.js';

const Pt = secp256k1.Point;
const Fn = Pt.Fn;

function scalar(b: Uint8Array, name: string): bigint {
  const v = bytesToNumberBE(abytes(b, 32, name));
  if (v >= Fn.ORDER) fail(ErrorCode.INVALID_RANGE, `${name}: not below the curve order`);
  return v;
}

/** A fresh random tweak (32 bytes, below the curve order, non-zero). */
export function randomTweak(rand: Uint8Array): Uint8Array {
  const r = Fn.create(bytesToNumberBE(abytes(rand, 32, 'rand')));
  return numberToBytesBE(r === 0n ? 1n : r, 32);
}

/** `T + r·G` as 33-byte compressed; `r = 0` returns `T` unchanged. */
export function tweakPoint(T33: Uint8Array, r32: Uint8Array): Uint8Array {
  const r = scalar(r32, 'tweak');
  // The offerer computes T + r·G when it offers the PTLC and again when the secret
  // comes back: remember it (keyed by a hash, so the map holds no tweak).
  const id = cacheScope() + bytesToHex(taggedHash('LnMailbox/tweak-point-cache', abytes(T33, 33, 'point'), r32));
  const hit = pointCache.get(id);
  if (hit) return hit.slice();
  const T = parseCompressedPoint(T33, 'point');
  let out: Uint8Array;
  if (r === 0n) out = T.toBytes(true);
  else {
    const lib = native();
    const sum = lib ? lib.pointAddScalar(T33, r32, true) : T.add(Pt.BASE.multiply(r));
    if (sum === null || (sum instanceof Uint8Array ? false : sum.is0())) fail(ErrorCode.INVALID_PUBLIC_KEY, 'tweaked point is infinity');
    out = sum instanceof Uint8Array ? sum : sum.toBytes(true);
  }
  if (pointCache.size >= POINT_CACHE_MAX) pointCache.clear();
  pointCache.set(id, out);
  return out.slice();
}

const POINT_CACHE_MAX = 1024;
const pointCache = new Map<string, Uint8Array>();

/** INTERNAL (tests): empties the cache of tweaked points. */
export function _clearPointCache(): void {
  pointCache.clear();
}

/** `(t + r) mod n`: the secret of the tweaked point. */
export function tweakSecret(t32: Uint8Array, r32: Uint8Array): Uint8Array {
  return numberToBytesBE(Fn.add(scalar(t32, 'secret'), scalar(r32, 'tweak')), 32);
}

/** `(t' − r) mod n`: the untweaked secret, recovered by whoever chose `r`. */
export function untweakSecret(t32: Uint8Array, r32: Uint8Array): Uint8Array {
  return numberToBytesBE(Fn.sub(scalar(t32, 'secret'), scalar(r32, 'tweak')), 32);
}
