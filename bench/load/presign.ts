/**
 * BIP340 signing with nonces prepared ahead of time, for the auth load
 * generator only. A BIP340 signature (R, s) is valid for any secret nonce k
 * with R = k·G (BIP340 recommends, but verifiers cannot tell, how k was
 * drawn), so the generator computes the k·G multiplications before the
 * clock starts and each handshake costs it only a hash and two scalar
 * operations. Without this, the load generator's own signing (one base
 * multiplication per handshake, plus the key) would compete with the
 * relay for the same two cores and the row would measure the client.
 * Every prepared nonce is used once and discarded (a reused nonce leaks
 * the key).
 * @module
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';

const { Point } = secp256k1;
const Fn = Point.Fn;

const num = (b: Uint8Array): bigint => BigInt('0x' + Buffer.from(b).toString('hex'));

/** A signer for one key with a pool of one-time nonces. */
export class PresignedSigner {
  readonly publicKey: Uint8Array;
  readonly #d: bigint;
  readonly #pool: { k: bigint; rx: Uint8Array }[] = [];

  constructor(secretKey: Uint8Array) {
    let d = Fn.fromBytes(secretKey);
    const P = Point.BASE.multiply(d);
    if (P.toAffine().y % 2n === 1n) d = Fn.neg(d);
    this.#d = d;
    this.publicKey = P.toBytes(true).subarray(1);
  }

  /** Prepares `n` more nonces (the expensive part: one k·G each). */
  prepare(n: number): void {
    for (let i = 0; i < n; i++) {
      let k = Fn.fromBytes(schnorr.utils.randomSecretKey());
      const R = Point.BASE.multiply(k);
      if (R.toAffine().y % 2n === 1n) k = Fn.neg(k);
      this.#pool.push({ k, rx: R.toBytes(true).subarray(1) });
    }
  }

  /** Nonces left. */
  get remaining(): number {
    return this.#pool.length;
  }

  /** Signs a 32-byte message with the next prepared nonce (BIP340 `s = k + e·d`). */
  sign(msg: Uint8Array): Uint8Array {
    const n = this.#pool.pop();
    if (!n) throw new Error('presigned nonce pool is empty');
    const e = Fn.create(num(schnorr.utils.taggedHash('BIP0340/challenge', n.rx, this.publicKey, msg)));
    const s = Fn.add(n.k, Fn.mul(e, this.#d));
    const sig = new Uint8Array(64);
    sig.set(n.rx, 0);
    sig.set(Fn.toBytes(s), 32);
    return sig;
  }
}
