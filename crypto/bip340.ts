/**
 * BIP340 Schnorr signatures over secp256k1 (x-only keys), plus the two pieces
 * of BIP340 arithmetic the payment protocol needs from public data alone:
 * the challenge `e` and the signature point `T = s·G = R + e·P`
 * (SPEC 6.6: the hub computes the payment point for A's
 * future signature before A has produced it). Also the tagged hash and the
 * x-only key tweak (public and secret side) that BIP341 taproot outputs and
 * the per-channel state and PTLC keys of SPEC 6.6 are built from, so that
 * engine/bitcoin and engine/channel reach secp256k1 only through this door.
 *
 * Signing, verification, k·G and the tweaks run on libsecp256k1 (WASM) when
 * it loaded, on noble's audited BIP340 code otherwise (see `secp.ts`); this
 * file adds validation at the door, typed errors, a small cache of public
 * keys, and the raw-nonce signer {@link _signWithNonce} used only by the
 * committed-nonce module.
 * @module
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import type { WeierstrassPoint } from '@noble/curves/abstract/weierstrass.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { abytes, bytesToHex, concatBytes } from '../base/bytes.js';
import { ErrorCode, LnMailboxError, fail } from '../base/errors.js';
import { cacheScope, native } from './secp.js';
import { taggedHash as hashTagged } from './symmetric.js';

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
  const key = `x${bytesToHex(xonly)}`;
  const hit = parsedPoints.get(key);
  if (hit) return hit;
  const x = bytesToNumberBE(xonly);
  // lift_x refuses x ≥ p too; checked first so the message names the actual fault.
  if (x >= Pt.CURVE().p) fail(ErrorCode.INVALID_PUBLIC_KEY, `${name}: x coordinate not below the field prime`);
  let P: Point;
  try {
    P = schnorr.utils.lift_x(x);
  } catch (e) {
    throw new LnMailboxError(ErrorCode.INVALID_PUBLIC_KEY, `${name}: not an x coordinate on secp256k1`, { cause: e });
  }
  return rememberPoint(key, P);
}

/**
 * Points already parsed from their encodings, by encoding: a role parses the
 * same keys, addresses and payment points at every step, and each parse is
 * a square root mod p in JavaScript. Public data only, and only encodings
 * that parsed (a bad one is refused every time); noble's points are
 * immutable. Bounded: cleared when full.
 */
const parsedPoints = new Map<string, Point>();
const PARSED_POINTS_MAX = 4096;

function rememberPoint(key: string, P: Point): Point {
  if (parsedPoints.size >= PARSED_POINTS_MAX) parsedPoints.clear();
  parsedPoints.set(key, P);
  return P;
}

/**
 * Parses a 33-byte compressed SEC1 point (0x02/0x03 ‖ x). Throws
 * INVALID_PUBLIC_KEY for a bad prefix, x ≥ p, x off the curve, or infinity.
 */
export function parseCompressedPoint(bytes: Uint8Array, name = 'point'): Point {
  abytes(bytes, 33, name);
  if (bytes[0] !== 0x02 && bytes[0] !== 0x03) fail(ErrorCode.INVALID_PUBLIC_KEY, `${name}: prefix must be 0x02 or 0x03`);
  const key = `c${bytesToHex(bytes)}`;
  const hit = parsedPoints.get(key);
  if (hit) return hit;
  let P: Point;
  try {
    P = Pt.fromBytes(bytes);
    P.assertValidity();
  } catch (e) {
    throw new LnMailboxError(ErrorCode.INVALID_PUBLIC_KEY, `${name}: not a point on secp256k1`, { cause: e });
  }
  return rememberPoint(key, P);
}

/** x(d·G) and whether d·G has odd y (INTERNAL, crypto/ only). */
export interface KeyPoint {
  readonly x: Uint8Array;
  readonly odd: boolean;
}

/**
 * Public keys of recently used secret keys: a hub signs with its channel and
 * state keys over and over, and k·G is the one EC operation a signature
 * needs besides its nonce. Keyed by a tagged hash of the secret key (the
 * cache holds no copy of a secret), bounded, cleared when full.
 */
const KEY_CACHE_MAX = 1024;

const keyCache = new Map<string, KeyPoint>();

function keyPoint(sk: Uint8Array, d: bigint, cache = true): KeyPoint {
  const id = cache ? cacheScope() + bytesToHex(hashTagged('LnMailbox/key-cache', sk)) : '';
  const hit = cache ? keyCache.get(id) : undefined;
  if (hit) return hit;
  const lib = native();
  let kp: KeyPoint;
  if (lib) {
    const c = lib.pointFromScalar(sk, true);
    if (!c) fail(ErrorCode.INVALID_SECRET_KEY, 'secret key: must be in [1, n-1]');
    kp = { x: c.slice(1), odd: c[0] === 0x03 };
  } else {
    const a = Pt.BASE.multiply(d).toAffine();
    kp = { x: numberToBytesBE(a.x, 32), odd: (a.y & 1n) === 1n };
  }
  if (cache) rememberKey(sk, kp, id);
  return kp;
}

function rememberKey(sk: Uint8Array, kp: KeyPoint, id = cacheScope() + bytesToHex(hashTagged('LnMailbox/key-cache', sk))): void {
  if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
  keyCache.set(id, kp);
}

/** INTERNAL (tests): empties the public-key cache. */
export function _clearKeyCache(): void {
  keyCache.clear();
  tweakCache.clear();
}

/**
 * INTERNAL (crypto/ only): the validated scalar of `sk`, negated when d·G has
 * odd y (BIP340's signing key), and the x-only public key. Cached.
 */
export function _evenKey(sk: Uint8Array, name = 'secret key', cache = true): { d: bigint; px: Uint8Array } {
  const d0 = parseSecretKey(sk, name);
  const kp = keyPoint(sk, d0, cache);
  return { d: kp.odd ? Fn.neg(d0) : d0, px: kp.x };
}

/**
 * The 32-byte x-only public key of a secret key (BIP340 `PubKey`). Cached
 * (see above) unless `opts.cache` is false, as for a one-time key.
 */
export function getPublicKey(sk: Uint8Array, opts: { readonly cache?: boolean } = {}): Uint8Array {
  return _evenKey(sk, 'secret key', opts.cache !== false).px.slice();
}

/**
 * Signs `msg` (any length, BIP340 since 2022-12) with `sk`. `auxRand` is the
 * 32 bytes of auxiliary randomness of BIP340's nonce derivation; it defaults
 * to fresh randomness (pass it only to reproduce vectors).
 */
export function sign(msg: Uint8Array, sk: Uint8Array, auxRand: Uint8Array = randomBytes(32)): Uint8Array {
  abytes(msg, undefined, 'message');
  const { d, px } = _evenKey(sk);
  return signEven(msg, d, px, auxRand);
}

/** A secret key made ready to sign: its x-only public key, and a signer that does not look it up again. */
export interface SigningKey {
  /** The x-only public key (BIP340 `PubKey`). */
  readonly publicKey: Uint8Array;
  /** {@link sign} with this key. */
  sign(msg: Uint8Array, auxRand?: Uint8Array): Uint8Array;
}

/**
 * Validates `sk` and looks up (or computes) its public key once, for a
 * caller that needs both the key and a signature made with it (a signed
 * message that carries its signer's key).
 * @param name how error messages name the key
 * @throws LnMailboxError INVALID_TYPE, INVALID_LENGTH, INVALID_SECRET_KEY
 */
export function signingKey(sk: Uint8Array, name = 'secret key'): SigningKey {
  const { d, px } = _evenKey(sk, name);
  return new EvenKey(d, px);
}

class EvenKey implements SigningKey {
  readonly #d: bigint;
  readonly #px: Uint8Array;
  readonly publicKey: Uint8Array;
  constructor(d: bigint, px: Uint8Array) {
    this.#d = d;
    this.#px = px;
    this.publicKey = px.slice();
  }
  sign(msg: Uint8Array, auxRand: Uint8Array = randomBytes(32)): Uint8Array {
    return signEven(abytes(msg, undefined, 'message'), this.#d, this.#px, auxRand);
  }
}

/** BIP340 "Default Signing" with d·G from the key cache: one k·G per signature. */
function signEven(msg: Uint8Array, d: bigint, px: Uint8Array, auxRand: Uint8Array): Uint8Array {
  abytes(auxRand, 32, 'aux_rand');
  const dBytes = numberToBytesBE(d, 32);
  const mask = hashTagged('BIP0340/aux', auxRand);
  for (let i = 0; i < 32; i++) dBytes[i] = (dBytes[i] ?? 0) ^ (mask[i] ?? 0);
  const k0 = Fn.create(bytesToNumberBE(hashTagged('BIP0340/nonce', dBytes, px, msg)));
  dBytes.fill(0);
  if (k0 === 0n) fail(ErrorCode.INVALID_SECRET_KEY, 'nonce is zero (negligible probability)');
  // No self-verification (libsecp256k1 does none either): the BIP340 vectors
  // pin this arithmetic on both backends, and every receiver verifies.
  return signWith(msg, d, px, k0);
}

/** s = k + e·d for the even-y nonce point of k·G; `d` is already even-adjusted. */
function signWith(msg: Uint8Array, d: bigint, px: Uint8Array, k: bigint): Uint8Array {
  const R = basePoint(k);
  const kk = R.odd ? Fn.neg(k) : k;
  const e = challenge(R.x, px, msg);
  const sig = new Uint8Array(64);
  sig.set(R.x, 0);
  sig.set(numberToBytesBE(Fn.create(kk + e * d), 32), 32);
  return sig;
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
  const lib = native();
  if (lib && msg.length === 32) {
    try {
      return lib.verifySchnorr(msg, pk, sig);
    } catch {
      return false; // the binding throws for r ≥ p, s ≥ n, or a key off the curve
    }
  }
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
  return Fn.create(bytesToNumberBE(hashTagged('BIP0340/challenge', rx, px, msg)));
}

/**
 * The signature point T = s·G = R + e·P (R, P lifted to even y) of the BIP340
 * signature that the owner of `px` will make over `msg` with the nonce whose
 * x-only point is `rx`, as 33-byte compressed SEC1. Computable from public
 * data only: this is the PTLC payment point of SPEC 6.6.
 * Throws INVALID_PUBLIC_KEY when R or P is not on the curve, or T is infinity.
 */
export function signaturePoint(rx: Uint8Array, px: Uint8Array, msg: Uint8Array): Uint8Array {
  abytes(rx, 32, 'nonce point x');
  const lib = native();
  const e = challenge(rx, px, msg);
  if (lib && e !== 0n) {
    let T: Uint8Array | null | undefined;
    try {
      const eP = lib.pointMultiply(even33(px), numberToBytesBE(e, 32), true);
      T = eP && lib.pointAdd(even33(rx), eP, true);
    } catch {
      T = undefined; // R or P off the curve: the noble path below names the fault
    }
    if (T === null) fail(ErrorCode.INVALID_PUBLIC_KEY, 'signature point is infinity');
    if (T) return T;
  }
  const R = parsePublicKey(rx, 'nonce point x');
  const P = parsePublicKey(px);
  // e·P with e possibly 0 (probability 2^-256) is still well defined.
  const T = R.add(P.multiplyUnsafe(e));
  // T = s·G is infinity only if s = 0, which no valid BIP340 signature has.
  if (T.is0()) fail(ErrorCode.INVALID_PUBLIC_KEY, 'signature point is infinity');
  return T.toBytes(true);
}

/**
 * INTERNAL (crypto/ only): a·G + b·P for P = lift_x(`px`) and public scalars
 * a, b in [0, n-1], as 33-byte compressed SEC1, or null when it is infinity:
 * one double-scalar multiplication (as in a verification), for checks of
 * public data such as an adaptor pre-signature. Throws INVALID_PUBLIC_KEY
 * when `px` is not an x coordinate on the curve.
 *
 * libsecp256k1 exposes a·G + b·P through ECDSA public-key recovery, which
 * computes Q = u1·G + u2·R with u1 = −h/r and u2 = s/r for the point R of
 * x-coordinate r and the parity of the recovery id: with R = P (even y,
 * recovery id 0), h = −a·r and s = b·r give Q = a·G + b·P. Where that does
 * not apply (no binding, b = 0, x(P) ≥ n, or a null answer, which the
 * binding also gives for infinity) noble's joint multiplication decides.
 */
export function _mulAddXOnly(a: bigint, px: Uint8Array, b: bigint): Uint8Array | null {
  abytes(px, 32, 'public key');
  if (a < 0n || a >= N || b < 0n || b >= N) fail(ErrorCode.INVALID_RANGE, 'scalar: must be in [0, n-1]');
  const lib = native();
  const r = bytesToNumberBE(px);
  if (lib && b !== 0n && r > 0n && r < N) {
    let Q: Uint8Array | null = null;
    try {
      const sig = concatBytes(px, numberToBytesBE(Fn.mul(b, r), 32));
      Q = lib.recover(numberToBytesBE(Fn.neg(Fn.mul(a, r)), 32), sig, 0, true);
    } catch {
      Q = null; // P off the curve: the noble path below names the fault
    }
    if (Q) return Q;
  }
  const P = parsePublicKey(px);
  const Q = Pt.BASE.mulAddUnsafe(a, P, b);
  return Q.is0() ? null : Q.toBytes(true);
}

/** lift_x as 33-byte compressed SEC1 (0x02 ‖ x); the binding validates it when used. */
function even33(xonly: Uint8Array): Uint8Array {
  const c = new Uint8Array(33);
  c[0] = 0x02;
  c.set(xonly, 1);
  return c;
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
  const { d, px } = _evenKey(sk);
  if (typeof k !== 'bigint' || k <= 0n || k >= N) fail(ErrorCode.INVALID_SECRET_KEY, 'nonce: must be in [1, n-1]');
  return signWith(msg, d, px, k);
}

/**
 * INTERNAL — do not re-export. BIP340 signing with a committed nonce stored
 * in even form: `k` such that k·G has even y and x-coordinate `rx` (the
 * committed-nonce module normalizes k when it commits, so signing needs no
 * k·G). Only `signWithCommittedNonce`, which binds `k` to one message and
 * checks the record that pairs `k` with `rx`, may call this: a wrong `rx`
 * for `k` gives an invalid signature, never a second one with the same `k`
 * for another message. s = k + e·d mod n, sig = rx ‖ s.
 */
export function _signWithEvenNonce(msg: Uint8Array, sk: Uint8Array, k: bigint, rx: Uint8Array): Uint8Array {
  abytes(msg, undefined, 'message');
  abytes(rx, 32, 'nonce point x');
  const { d, px } = _evenKey(sk);
  if (typeof k !== 'bigint' || k <= 0n || k >= N) fail(ErrorCode.INVALID_SECRET_KEY, 'nonce: must be in [1, n-1]');
  const e = challenge(rx, px, msg);
  const sig = new Uint8Array(64);
  sig.set(rx, 0);
  sig.set(numberToBytesBE(Fn.create(k + e * d), 32), 32);
  return sig;
}

/**
 * INTERNAL (crypto/ only): k·G for a scalar k in [1, n-1], as its x coordinate
 * and the parity of its y (constant time on both backends). Not cached.
 */
export function basePoint(k: bigint): KeyPoint {
  const lib = native();
  if (lib) {
    const c = lib.pointFromScalar(numberToBytesBE(k, 32), true);
    if (!c) fail(ErrorCode.INVALID_SECRET_KEY, 'scalar: must be in [1, n-1]');
    return { x: c.slice(1), odd: c[0] === 0x03 };
  }
  const a = Pt.BASE.multiply(k).toAffine();
  return { x: numberToBytesBE(a.x, 32), odd: (a.y & 1n) === 1n };
}

/**
 * INTERNAL (envelope ECDH, protocol/seal.ts): x(d·P) on libsecp256k1, for a
 * validated secret key and an x-only (even y) or 33-byte compressed point.
 * Null when the binding is absent, the encoding is another one, or the
 * binding rejects P: the caller's noble path then decides and names the fault.
 */
export function ecdhXOnBinding(sk: Uint8Array, pk: Uint8Array): Uint8Array | null {
  const lib = native();
  if (!lib) return null;
  let p: Uint8Array;
  if (pk.length === 32) p = even33(pk);
  else if (pk.length === 33 && (pk[0] === 0x02 || pk[0] === 0x03)) p = pk;
  else return null;
  try {
    const out = lib.pointMultiply(p, sk, true);
    return out ? out.slice(1) : null;
  } catch {
    return null;
  }
}

/**
 * The BIP340 tagged hash `sha256(sha256(tag) ‖ sha256(tag) ‖ m₁ ‖ m₂ ‖ …)`:
 * domain separation for every hash that feeds a key, a tweak or a
 * signature message (BIP340 "Tagged Hashes"; BIP341's TapLeaf, TapBranch,
 * TapTweak, TapSighash; this project's `ln-mailbox/v1/*` tags).
 */
export function taggedHash(tag: string, ...msgs: Uint8Array[]): Uint8Array {
  return hashTagged(tag, ...msgs);
}

/** How a 32-byte tweak becomes a scalar. */
export interface XOnlyTweakOptions {
  /**
   * `false` (default, BIP341 `taproot_tweak_pubkey`): a tweak ≥ n is refused.
   * `true`: the tweak is taken mod n, as key derivations from a hash do
   * (SPEC 6.6 state and PTLC keys, the NUMS key H + r·G).
   */
  readonly reduce?: boolean;
}

function tweakScalar(tweak: Uint8Array, opts: XOnlyTweakOptions): bigint {
  const t = bytesToNumberBE(abytes(tweak, 32, 'tweak'));
  if (opts.reduce) return Fn.create(t);
  if (t >= N) fail(ErrorCode.INVALID_PUBLIC_KEY, 'tweak is not below the curve order');
  return t;
}

/**
 * Tweaks an x-only key: Q = lift_x(P) + t·G with t = int(tweak) (see
 * {@link XOnlyTweakOptions} for t ≥ n). Returns x(Q) and the parity of Q's y
 * (a taproot control block carries it). Throws INVALID_PUBLIC_KEY when P is
 * not on the curve, t ≥ n in strict mode, or Q is infinity.
 */
export function tweakXOnlyPublicKey(
  xonly: Uint8Array,
  tweak: Uint8Array,
  opts: XOnlyTweakOptions = {},
): { xonly: Uint8Array; parity: 0 | 1 } {
  const t = tweakScalar(tweak, opts);
  // Public inputs, public output: a channel's taproot, state and PTLC keys are
  // rebuilt from the same (key, tweak) pairs on every message, so remember them.
  const id = `${cacheScope()}${bytesToHex(abytes(xonly, 32, 'public key'))}:${t.toString(16)}`;
  const hit = tweakCache.get(id);
  if (hit) return { xonly: hit.xonly.slice(), parity: hit.parity };
  const out = tweakUncached(xonly, t);
  if (tweakCache.size >= TWEAK_CACHE_MAX) tweakCache.clear();
  tweakCache.set(id, out);
  return { xonly: out.xonly.slice(), parity: out.parity };
}

const TWEAK_CACHE_MAX = 4096;
const tweakCache = new Map<string, { xonly: Uint8Array; parity: 0 | 1 }>();

function tweakUncached(xonly: Uint8Array, t: bigint): { xonly: Uint8Array; parity: 0 | 1 } {
  const lib = native();
  if (lib && t !== 0n) {
    let r: { parity: 0 | 1; xOnlyPubkey: Uint8Array } | null | undefined;
    try {
      r = lib.xOnlyPointAddTweak(xonly, numberToBytesBE(t, 32));
    } catch {
      r = undefined; // P off the curve: the noble path below names the fault
    }
    if (r === null) fail(ErrorCode.INVALID_PUBLIC_KEY, 'tweaked key is infinity');
    if (r) return { xonly: r.xOnlyPubkey, parity: r.parity };
  }
  const P = parsePublicKey(xonly);
  const Q = t === 0n ? P : P.add(Pt.BASE.multiply(t));
  if (Q.is0()) fail(ErrorCode.INVALID_PUBLIC_KEY, 'tweaked key is infinity');
  const a = Q.toAffine();
  return { xonly: numberToBytesBE(a.x, 32), parity: Number(a.y & 1n) as 0 | 1 };
}

/**
 * The secret key of {@link tweakXOnlyPublicKey}: (±d + t) mod n, with d
 * negated when d·G has odd y (the x-only key is the even-y point), so that
 * `getPublicKey(result) = tweakXOnlyPublicKey(getPublicKey(sk), tweak).xonly`.
 * Throws INVALID_SECRET_KEY for a bad `sk` or a zero result.
 */
export function tweakXOnlySecretKey(sk: Uint8Array, tweak: Uint8Array, opts: XOnlyTweakOptions = {}): Uint8Array {
  const { d, px } = _evenKey(sk);
  const out = Fn.add(d, tweakScalar(tweak, opts));
  if (out === 0n) fail(ErrorCode.INVALID_SECRET_KEY, 'tweaked secret key is zero');
  const outSk = numberToBytesBE(out, 32);
  // Its public key is the tweaked public key, which building the output has usually
  // computed (and cached) already: seed the key cache with it instead of a new k·G.
  const pub = tweakXOnlyPublicKey(px, tweak, opts);
  rememberKey(outSk, { x: pub.xonly, odd: pub.parity === 1 });
  return outSk;
}
