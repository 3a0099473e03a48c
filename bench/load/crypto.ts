/**
 * Crypto baselines and the client seal+open row, in a process started with
 * the EC-count hook (`ec-count.mjs`), so each figure comes with the number
 * of point multiplications behind it. CPU time is `process.cpuUsage()`
 * over a synchronous loop (no I/O, so CPU time is the cost).
 * @module
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { open, seal } from '../../protocol/seal.js';
import { native } from '../../crypto/secp.js';
import { serve } from '../rpc.js';

const { Point } = secp256k1;
const Fn = Point.Fn;

declare global {
  var __lnmbEcCounts: Record<string, number> | undefined;
}

/** CPU ms per call of `fn`, over at least `minMs` of CPU and `minIter` calls. */
export function cpuMsPer(fn: () => void, minMs: number, minIter = 5): number {
  for (let i = 0; i < 3; i++) fn(); // warm up (JIT, precomputed tables)
  const c0 = process.cpuUsage();
  let n = 0;
  let spent = 0;
  while (n < minIter || spent < minMs) {
    fn();
    n++;
    if ((n & 3) === 0 || n < minIter + 1) {
      const c = process.cpuUsage(c0);
      spent = (c.user + c.system) / 1000;
    }
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / n;
}

function snapshot(): Record<string, number> {
  return { ...(globalThis.__lnmbEcCounts ?? {}) };
}
function diff(a: Record<string, number>, b: Record<string, number>, per = 1): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(b)) {
    const d = (b[k] ?? 0) - (a[k] ?? 0);
    if (d) out[k.replace(/^[^:]*:/, '')] = d / per;
  }
  return out;
}

const rand = (): bigint => Fn.fromBytes(schnorr.utils.randomSecretKey());

/** CPU ms per operation kind, as named by ec-count.mjs, measured alone. */
export function opCosts(minMs: number): Record<string, number> {
  const P = Point.BASE.multiply(rand());
  return {
    mul_G: cpuMsPer(() => void Point.BASE.multiply(rand()), minMs),
    mul_P: cpuMsPer(() => void P.multiply(rand()), minMs),
    mulUnsafe_G: cpuMsPer(() => void Point.BASE.multiplyUnsafe(rand()), minMs),
    mulUnsafe_P: cpuMsPer(() => void P.multiplyUnsafe(rand()), minMs),
    mulAdd: cpuMsPer(() => void Point.BASE.mulAddUnsafe(rand(), P, rand()), minMs),
  };
}

/** CPU ms per operation kind on libsecp256k1 (tiny-secp256k1), null when it did not load. */
export function nativeOpCosts(minMs: number): Record<string, number> | null {
  const lib = native();
  if (!lib) return null;
  const k = () => schnorr.utils.randomSecretKey();
  const P = lib.pointFromScalar(k(), true)!;
  const sk = k();
  const pk = lib.xOnlyPointFromScalar(sk);
  const m = randomBytes(32);
  const sig = lib.signSchnorr(m, sk);
  return {
    mul_G: cpuMsPer(() => void lib.pointFromScalar(k(), true), minMs),
    mul_P: cpuMsPer(() => void lib.pointMultiply(P, k(), true), minMs),
    mulAdd: cpuMsPer(() => void lib.verifySchnorr(m, pk, sig), minMs),
  };
}

serve({
  /** BIP340 verifications per second (one core, same library as the relay). */
  verifyRate(minMs: number): number {
    const sk = schnorr.utils.randomSecretKey();
    const pk = schnorr.getPublicKey(sk);
    const sigs = Array.from({ length: 16 }, () => {
      const m = randomBytes(32);
      return { m, s: schnorr.sign(m, sk) };
    });
    let i = 0;
    const ms = cpuMsPer(() => {
      const x = sigs[i++ & 15]!;
      if (!schnorr.verify(x.s, x.m, pk)) throw new Error('verify failed');
    }, minMs);
    return 1000 / ms;
  },

  /** seal + open of one envelope of ~`envelopeBytes`, and its baselines. */
  sealOpen(minMs: number, bodyBytes: number) {
    const sender = schnorr.utils.randomSecretKey();
    const rsk = schnorr.utils.randomSecretKey();
    const recipient = schnorr.getPublicKey(rsk);
    const body = randomBytes(bodyBytes);
    const once = (): number => {
      const env = seal({ senderSecretKey: sender, recipient, type: 1, body });
      open(env, rsk);
      return env.length;
    };
    const envelopeBytes = once();
    const c0 = snapshot();
    once();
    const counts = diff(c0, snapshot());

    const otherPk = secp256k1.getPublicKey(schnorr.utils.randomSecretKey(), true);
    const msg = randomBytes(32);
    const sig = schnorr.sign(msg, sender);
    const senderPk = schnorr.getPublicKey(sender);
    // The floor on the backend the envelope code uses: libsecp256k1's own calls when it
    // loaded (its BIP340 signer derives d·G and k·G), noble's otherwise.
    const lib = native();
    const ecdh = lib ? () => void lib.pointMultiply(otherPk, rsk, true) : () => void secp256k1.getSharedSecret(rsk, otherPk);
    const signOnce = lib ? () => void lib.signSchnorr(msg, sender, msg) : () => void schnorr.sign(msg, sender);
    const verifyOnce = lib ? () => void lib.verifySchnorr(msg, senderPk, sig) : () => void schnorr.verify(sig, msg, senderPk);
    // Interleaved rounds, minimum of each: the row and its baselines see the same
    // neighbours, and the minimum is the least disturbed estimate of a CPU cost.
    const best = { sealOpenMs: Infinity, ecdhMs: Infinity, signMs: Infinity, verifyMs: Infinity };
    // Warm up first, to the steady state a wallet runs in: seal and open keep getting faster for
    // about 3 s of CPU while V8 optimizes them (and its compiler threads count in cpuUsage), which
    // the floor's WebAssembly calls do not. Both sides are measured warm.
    cpuMsPer(() => void once(), Math.min(3000, minMs));
    for (const f of [ecdh, signOnce, verifyOnce]) cpuMsPer(f, Math.min(300, minMs / 10));
    for (let round = 0; round < 3; round++) {
      best.sealOpenMs = Math.min(
        best.sealOpenMs,
        cpuMsPer(() => void once(), minMs / 3),
      );
      best.ecdhMs = Math.min(best.ecdhMs, cpuMsPer(ecdh, minMs / 3));
      best.signMs = Math.min(best.signMs, cpuMsPer(signOnce, minMs / 3));
      best.verifyMs = Math.min(best.verifyMs, cpuMsPer(verifyOnce, minMs / 3));
    }
    const { sealOpenMs, ecdhMs, signMs, verifyMs } = best;
    const s0 = snapshot();
    signOnce();
    const signCounts = diff(s0, snapshot());
    return {
      envelopeBytes,
      counts,
      sealOpenMs,
      ecdhMs,
      signMs,
      verifyMs,
      signCounts,
      ops: opCosts(minMs),
      nativeOps: nativeOpCosts(minMs),
      backend: lib ? 'libsecp256k1' : 'noble',
    };
  },

  opCosts,
  nativeOpCosts,
});
