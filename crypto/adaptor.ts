/**
 * BIP340-compatible Schnorr adaptor signatures, as specified by the
 * libsecp256k1-zkp `schnorr_adaptor` module and its Python reference
 * (ZhePang/Python_Specification_for_Schnorr_Adaptor); the vectors in
 * `test/vectors/adaptor_*.csv` come from there.
 *
 * Used for PTLCs (SPEC 6.6): S gives B a pre-signature of the claim
 * transaction encrypted to the payment point T; B completes it with t
 * (`adaptorAdapt`), and S learns t from B's completed signature (`adaptorExtract`).
 *
 * Pre-signature (65 bytes) = R' (33-byte compressed) ‖ s', where
 *   R' = k·G + T,
 *   s' = k + e·d   if R' has even y,  -k + e·d  if R' has odd y,
 *   e  = BIP340 challenge over x(R'), the x-only key and the 32-byte message.
 * Adapting adds t (or -t for odd R'), which makes (x(R'), s) a BIP340 signature.
 * @module
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { abytes, concatBytes, equalBytes } from '../base/bytes.js';
import { ErrorCode, LnMailboxError, fail } from '../base/errors.js';
import { _evenKey, _mulAddXOnly, challenge, parseCompressedPoint, parsePublicKey, type Point } from './bip340.js';
import { native } from './secp.js';

const { Point: Pt } = secp256k1;
const Fn = Pt.Fn;
const N = Fn.ORDER;
const ODD = 0x03;

/** A parsed pre-signature, after checking that R' is a valid point and s' < n. */
interface PreSig {
  Rp: Point;
  odd: boolean;
  rx: Uint8Array;
  s: bigint;
}

function parsePreSig(presig65: Uint8Array): PreSig {
  abytes(presig65, 65, 'pre-signature');
  let Rp: Point;
  try {
    Rp = parseCompressedPoint(presig65.subarray(0, 33), "pre-signature R'");
  } catch (e) {
    throw new LnMailboxError(ErrorCode.INVALID_ADAPTOR_SIGNATURE, "pre-signature: R' is not a valid compressed point", { cause: e });
  }
  const s = bytesToNumberBE(presig65.subarray(33, 65));
  if (s >= N) fail(ErrorCode.INVALID_ADAPTOR_SIGNATURE, "pre-signature: s' is not below the curve order");
  return { Rp, odd: presig65[0] === ODD, rx: presig65.slice(1, 33), s };
}

/** Parses the secret adaptor t: a scalar in [1, n-1] (t = 0 would make T infinity). */
function parseSecretAdaptor(t32: Uint8Array): bigint {
  abytes(t32, 32, 'secret adaptor');
  const t = bytesToNumberBE(t32);
  if (t === 0n || t >= N) fail(ErrorCode.INVALID_SECRET_KEY, 'secret adaptor: must be in [1, n-1]');
  return t;
}

/**
 * The adaptor point T = t·G (33-byte compressed) of a secret adaptor t.
 * A payee checks a revealed t against the payment point with this
 * (SPEC 6.9: the offerer checks t·G = T).
 */
export function adaptorPoint(t32: Uint8Array): Uint8Array {
  return mulG(parseSecretAdaptor(t32));
}

/** k·G (k in [1, n-1]) as 33-byte compressed, on the active backend. */
function mulG(k: bigint): Uint8Array {
  const out = native()?.pointFromScalar(numberToBytesBE(k, 32), true);
  return out ?? Pt.BASE.multiply(k).toBytes(true);
}

/**
 * The zkp module's nonce function: BIP340's derivation under the tags
 * `SchnorrAdaptor/aux` and `SchnorrAdaptor/nonce`, with the compressed T
 * between the masked key and the public key, so one key never reuses a nonce
 * across adaptor points.
 */
function adaptorNonce(d: bigint, aux: Uint8Array, T33: Uint8Array, px: Uint8Array, msg: Uint8Array): bigint {
  const mask = schnorr.utils.taggedHash('SchnorrAdaptor/aux', aux);
  const masked = numberToBytesBE(d ^ bytesToNumberBE(mask), 32);
  return Fn.create(bytesToNumberBE(schnorr.utils.taggedHash('SchnorrAdaptor/nonce', masked, T33, px, msg)));
}

/**
 * Creates a 65-byte pre-signature of the 32-byte `msg32` under `sk`,
 * encrypted to the adaptor point `T33` (33-byte compressed). `auxRand`
 * (32 bytes) defaults to fresh randomness; pass it only to reproduce vectors.
 */
export function adaptorPresign(sk: Uint8Array, msg32: Uint8Array, T33: Uint8Array, auxRand: Uint8Array = randomBytes(32)): Uint8Array {
  const { d, px } = _evenKey(sk);
  abytes(msg32, 32, 'message');
  const T = parseCompressedPoint(T33, 'adaptor point');
  abytes(auxRand, 32, 'aux_rand');
  const T33c = T.toBytes(true);
  const k0 = adaptorNonce(d, auxRand, T33c, px, msg32);
  if (k0 === 0n) fail(ErrorCode.INVALID_ADAPTOR_SIGNATURE, 'nonce is zero (negligible probability)');
  const lib = native();
  let Rp33: Uint8Array | null;
  if (lib) Rp33 = lib.pointAdd(mulG(k0), T33c, true);
  else {
    const Rp = Pt.BASE.multiply(k0).add(T);
    Rp33 = Rp.is0() ? null : Rp.toBytes(true);
  }
  if (!Rp33) fail(ErrorCode.INVALID_ADAPTOR_SIGNATURE, "R' is infinity (negligible probability)");
  // The BIP340 nonce of the adapted signature is lift_x(x(R')); for odd R'
  // that is -R' = -k·G - T, so negate k here (and t when adapting).
  const k = Rp33[0] === ODD ? Fn.neg(k0) : k0;
  const rx = Rp33.slice(1);
  const e = challenge(rx, px, msg32);
  // No self-verification: the arithmetic is pinned by the zkp vectors, and
  // the receiver verifies every pre-signature (adaptorVerify) before use.
  return concatBytes(Rp33, numberToBytesBE(Fn.create(k + e * d), 32));
}

/**
 * The adaptor point a pre-signature commits to (zkp `schnorr_adaptor_extract`):
 * T = R' - (s'·G - e·P) for even R', R' + (s'·G - e·P) for odd R'.
 * Returns null when the pre-signature is invalid for `pk32` and `msg32`.
 */
function extractAdaptorPoint(presig65: Uint8Array, msg32: Uint8Array, pk32: Uint8Array): Point | null {
  let pre: PreSig;
  let P: Point;
  try {
    pre = parsePreSig(presig65);
    P = parsePublicKey(pk32);
  } catch {
    return null;
  }
  const e = challenge(pre.rx, pk32, msg32);
  const R = Pt.BASE.mulAddUnsafe(pre.s, P, Fn.neg(e)); // s'·G − e·P: one joint multiplication
  if (R.is0()) return null; // "s'G - eP is infinite"
  const T = pre.odd ? pre.Rp.add(R) : pre.Rp.add(R.negate());
  if (T.is0()) return null; // "R' - (s'G - eP) is infinite"
  return T;
}

/** Negates a 33-byte compressed point (flips the parity prefix). */
function neg33(p: Uint8Array): Uint8Array {
  const out = p.slice();
  out[0] = p[0] === ODD ? 0x02 : ODD;
  return out;
}

/**
 * {@link extractAdaptorPoint} and the comparison with T on libsecp256k1:
 * T' = R' ∓ (s'·G − e·P), with s'·G − e·P as one double-scalar
 * multiplication ({@link _mulAddXOnly}). Undefined when the binding is
 * absent, a scalar is zero, or an input fails to parse (the noble path then decides).
 */
function nativeVerify(presig65: Uint8Array, msg: Uint8Array, pk32: Uint8Array, T33: Uint8Array): boolean | undefined {
  const lib = native();
  if (!lib || (presig65[0] !== 0x02 && presig65[0] !== ODD) || (T33[0] !== 0x02 && T33[0] !== ODD)) return undefined;
  const s = bytesToNumberBE(presig65.subarray(33, 65));
  if (s === 0n || s >= N) return undefined;
  const rx = presig65.slice(1, 33);
  const e = challenge(rx, pk32, msg);
  if (e === 0n) return undefined;
  try {
    const R = _mulAddXOnly(s, pk32, N - e);
    if (!R) return false; // "s'G - eP is infinite"
    const T = lib.pointAdd(presig65.subarray(0, 33), presig65[0] === ODD ? R : neg33(R), true);
    if (!T) return false; // "R' - (s'G - eP) is infinite"
    return equalBytes(T, T33);
  } catch {
    return undefined;
  }
}

/**
 * Verifies a 65-byte pre-signature of the 32-byte `msg` under x-only `pk32`
 * for the adaptor point `T33`. Returns false for any well-typed input that does
 * not verify (off-curve key, R' or T, s' ≥ n, bad prefix); throws
 * INVALID_TYPE / INVALID_LENGTH only for wrongly typed or sized input.
 */
export function adaptorVerify(presig65: Uint8Array, msg: Uint8Array, pk32: Uint8Array, T33: Uint8Array): boolean {
  abytes(presig65, 65, 'pre-signature');
  abytes(msg, 32, 'message');
  abytes(pk32, 32, 'public key');
  abytes(T33, 33, 'adaptor point');
  const fast = nativeVerify(presig65, msg, pk32, T33);
  if (fast !== undefined) return fast;
  let T: Point;
  try {
    T = parseCompressedPoint(T33, 'adaptor point');
  } catch {
    return false;
  }
  const got = extractAdaptorPoint(presig65, msg, pk32);
  return got?.equals(T) === true;
}

/**
 * Completes a pre-signature with the secret adaptor t (32 bytes), giving the
 * 64-byte BIP340 signature (x(R'), s' + t) for even R', (x(R'), s' - t) for odd.
 * Adapting does not check the result: verify it with `verify` from bip340.
 */
export function adaptorAdapt(presig65: Uint8Array, t32: Uint8Array): Uint8Array {
  const pre = parsePreSig(presig65);
  const t = parseSecretAdaptor(t32);
  const s = Fn.create(pre.odd ? pre.s - t : pre.s + t);
  return concatBytes(pre.rx, numberToBytesBE(s, 32));
}

/**
 * Recovers the secret adaptor t from a completed BIP340 signature and its
 * pre-signature: t = s - s' for even R', s' - s for odd R'. Throws
 * INVALID_ADAPTOR_SIGNATURE when the two do not belong together (different
 * nonce, or t·G ≠ T): a PTLC payee must never accept a wrong t as payment.
 */
export function adaptorExtract(sig64: Uint8Array, presig65: Uint8Array, T33: Uint8Array): Uint8Array {
  abytes(sig64, 64, 'signature');
  const pre = parsePreSig(presig65);
  const T = parseCompressedPoint(T33, 'adaptor point');
  if (!equalBytes(sig64.subarray(0, 32), pre.rx))
    fail(ErrorCode.INVALID_ADAPTOR_SIGNATURE, "signature nonce differs from pre-signature R'");
  const s = bytesToNumberBE(sig64.subarray(32, 64));
  if (s >= N) fail(ErrorCode.INVALID_SIGNATURE, 'signature: s is not below the curve order');
  const t = Fn.create(pre.odd ? pre.s - s : s - pre.s);
  if (t === 0n || !equalBytes(mulG(t), T.toBytes(true)))
    fail(ErrorCode.INVALID_ADAPTOR_SIGNATURE, 'extracted secret does not match the adaptor point');
  return numberToBytesBE(t, 32);
}
