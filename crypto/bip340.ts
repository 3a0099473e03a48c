/**
 * BIP340 Schnorr signatures over secp256k1 (x-only keys), plus the two pieces
 * of BIP340 arithmetic the payment protocol needs from public data alone:
 * the challenge `e` and the signature point `T = s·G = R + e·P`
 * (SPEC 6.6: the hub computes the payment point for A's
 * future signature before A has produced it).
 *
 * Signing and verification delegate to noble's audited BIP340 code; this file
 * adds validation at the door, typed errors, and the raw-nonce signer
 * {@link _signWithNonce} used only by the committed-nonce module.
 * @module
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import type { WeierstrassPoint } from '@noble/curves/abstract/weierstrass.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { abytes } from '../base/bytes.js';
import { ErrorCode, LnMailboxError, fail } from '../base/errors.js';

/** A secp256k1 point (noble's projective point). */
export type Point = WeierstrassPoint<bigint>;

const { Point: Pt } = secp256k1;
const Fn = Pt.Fn;
/** secp256k1 group order n. */
const N = Fn.ORDER;

/**
 * Parses a 32-byte secret key into a scalar in [1, n-1] (BIP340 "Fail if d' = 0 or d' ≥ n").
 * @param name how error messages name the key (e.g. `senderSecretKey`)
 * @throws LnMailboxError INVALID_TYPE / INVALID_LENGTH (not 32 bytes), INVALID_SECRET_KEY (0 or ≥ n)
 */
export function parseSecretKey(sk: Uint8Array, name = 'secret key'): bigint {
  abytes(sk, 32, name);
  const d = bytesToNumberBE(sk);
  if (d === 0n || d >= N) fail(ErrorCode.INVALID_SECRET_KEY, `${name}: must be in [1, n-1]`);
  return d;
}

/**
 * A fresh random secret key in [1, n-1] (e.g. a one-time ephemeral key).
 * Uses the platform CSPRNG (`crypto.getRandomValues`), in Node and browsers alike.
 */
export function randomSecretKey(): Uint8Array {
  return schnorr.utils.randomSecretKey();
}

/**
 * Lifts a 32-byte x-only public key to the curve point with even y
 * (BIP340 `lift_x`). Throws INVALID_PUBLIC_KEY when x ≥ p or x is not on the curve.
 * @param name how error messages name the key (e.g. `recipient`)
 */
export function parsePublicKey(xonly: Uint8Array, name = 'public key'): Point {
  abytes(xonly, 32, name);
  const x = bytesToNumberBE(xonly);
  // lift_x refuses x ≥ p too; checked first so the message names the actual fault.
  if (x >= Pt.CURVE().p) fail(ErrorCode.INVALID_PUBLIC_KEY, `${name}: x coordinate not below the field prime`);
  try {
    return schnorr.utils.lift_x(x);
  } catch (e) {
    throw new LnMailboxError(ErrorCode.INVALID_PUBLIC_KEY, `${name}: not an x coordinate on secp256k1`, { cause: e });
  }
}

/**
 * The BIP340 tagged hash `sha256(sha256(tag) ‖ sha256(tag) ‖ m₁ ‖ m₂ ‖ …)`:
 * domain separation for every message this project signs (auth, inner
 * message, invoice), so a signature made for one purpose never verifies for another.
 * @param tag the UTF-8 tag, e.g. `ln-mailbox/v1/auth`
 */
export function taggedHash(tag: string, ...messages: Uint8Array[]): Uint8Array {
  if (typeof tag !== 'string') fail(ErrorCode.INVALID_TYPE, 'tag: expected string');
  for (const m of messages) abytes(m, undefined, 'message');
  return schnorr.utils.taggedHash(tag, ...messages);
}

/**
 * Parses a 33-byte compressed SEC1 point (0x02/0x03 ‖ x). Throws
 * INVALID_PUBLIC_KEY for a bad prefix, x ≥ p, x off the curve, or infinity.
 */
export function parseCompressedPoint(bytes: Uint8Array, name = 'point'): Point {
  abytes(bytes, 33, name);
  if (bytes[0] !== 0x02 && bytes[0] !== 0x03) fail(ErrorCode.INVALID_PUBLIC_KEY, `${name}: prefix must be 0x02 or 0x03`);
  try {
    const P = Pt.fromBytes(bytes);
    P.assertValidity();
    return P;
  } catch (e) {
    throw new LnMailboxError(ErrorCode.INVALID_PUBLIC_KEY, `${name}: not a point on secp256k1`, { cause: e });
  }
}

/** The 32-byte x-only public key of a secret key (BIP340 `PubKey`). */
export function getPublicKey(sk: Uint8Array): Uint8Array {
  parseSecretKey(sk);
  return schnorr.getPublicKey(sk);
}

/**
 * Signs `msg` (any length, BIP340 since 2022-12) with `sk`. `auxRand` is the
 * 32 bytes of auxiliary randomness of BIP340's nonce derivation; it defaults
 * to fresh randomness (pass it only to reproduce vectors).
 */
export function sign(msg: Uint8Array, sk: Uint8Array, auxRand: Uint8Array = randomBytes(32)): Uint8Array {
  abytes(msg, undefined, 'message');
  parseSecretKey(sk);
  abytes(auxRand, 32, 'aux_rand');
  return schnorr.sign(msg, sk, auxRand);
}

/**
 * Verifies a BIP340 signature. Returns false for any well-typed input that
 * does not verify (including a public key off the curve, r ≥ p, s ≥ n);
 * throws INVALID_TYPE / INVALID_LENGTH only for wrongly typed or sized input.
 */
export function verify(sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean {
  abytes(sig, 64, 'signature');
  abytes(msg, undefined, 'message');
  abytes(pk, 32, 'public key');
  return schnorr.verify(sig, msg, pk);
}

/**
 * The BIP340 challenge e = int(hash_BIP0340/challenge(R.x ‖ P.x ‖ m)) mod n.
 * Pure hashing: it does not check that `rx`/`px` are on the curve.
 */
export function challenge(rx: Uint8Array, px: Uint8Array, msg: Uint8Array): bigint {
  abytes(rx, 32, 'nonce point x');
  abytes(px, 32, 'public key');
  abytes(msg, undefined, 'message');
  return Fn.create(bytesToNumberBE(schnorr.utils.taggedHash('BIP0340/challenge', rx, px, msg)));
}

/**
 * The signature point T = s·G = R + e·P (R, P lifted to even y) of the BIP340
 * signature that the owner of `px` will make over `msg` with the nonce whose
 * x-only point is `rx`, as 33-byte compressed SEC1. Computable from public
 * data only: this is the PTLC payment point of SPEC 6.6.
 * Throws INVALID_PUBLIC_KEY when R or P is not on the curve, or T is infinity.
 */
export function signaturePoint(rx: Uint8Array, px: Uint8Array, msg: Uint8Array): Uint8Array {
  const R = parsePublicKey(abytes(rx, 32, 'nonce point x'));
  const P = parsePublicKey(px);
  const e = challenge(rx, px, msg);
  // e·P with e possibly 0 (probability 2^-256) is still well defined.
  const T = R.add(P.multiplyUnsafe(e));
  // T = s·G is infinity only if s = 0, which no valid BIP340 signature has.
  if (T.is0()) fail(ErrorCode.INVALID_PUBLIC_KEY, 'signature point is infinity');
  return T.toBytes(true);
}

/**
 * INTERNAL — do not re-export. BIP340 signing with a caller-chosen nonce
 * scalar `k` (the committed-nonce module's signer). Signing two different
 * messages with one `k` reveals the secret key, which is why only
 * `signWithCommittedNonce` (which binds `k` to one message) may call this.
 *
 * BIP340 math: negate d if P has odd y, negate k if R = k·G has odd y,
 * s = k + e·d mod n, sig = R.x ‖ s.
 */
export function _signWithNonce(msg: Uint8Array, sk: Uint8Array, k: bigint): Uint8Array {
  abytes(msg, undefined, 'message');
  const d0 = parseSecretKey(sk);
  if (typeof k !== 'bigint' || k <= 0n || k >= N) fail(ErrorCode.INVALID_SECRET_KEY, 'nonce: must be in [1, n-1]');
  const P = Pt.BASE.multiply(d0).toAffine();
  const d = P.y % 2n === 0n ? d0 : Fn.neg(d0);
  const R = Pt.BASE.multiply(k).toAffine();
  const kk = R.y % 2n === 0n ? k : Fn.neg(k);
  const rx = numberToBytesBE(R.x, 32);
  const px = numberToBytesBE(P.x, 32);
  const e = challenge(rx, px, msg);
  const sig = new Uint8Array(64);
  sig.set(rx, 0);
  sig.set(numberToBytesBE(Fn.create(kk + e * d), 32), 32);
  // Guard against faults and bugs: never hand out a signature that fails verification.
  if (!schnorr.verify(sig, msg, px)) fail(ErrorCode.INVALID_SIGNATURE, 'produced signature does not verify');
  return sig;
}
