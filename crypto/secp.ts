/**
 * The secp256k1 backend behind the one door (`bip340.ts`, `adaptor.ts`,
 * `tweak.ts`, `ecdh` for envelopes): libsecp256k1 compiled to WebAssembly
 * (`tiny-secp256k1`, the build the bitcoinjs ecosystem uses) where it loads,
 * noble's pure-JavaScript code everywhere else.
 *
 * - Node: the WASM build is loaded once, at import. Set the environment
 *   variable `LNMB_SECP=noble` to force the pure-JavaScript path.
 * - Browsers: tiny-secp256k1 ships its WASM as an ES module import
 *   (`import * as wasm from "./secp256k1.wasm"`), which neither browsers nor
 *   esbuild load without a bundler plugin, so a browser bundle runs noble:
 *   package.json's `"browser": { "tiny-secp256k1": false }` keeps it out.
 *
 * Only the operations libsecp256k1 exposes go through it (k·G, k·P, point
 * and x-only tweaks, BIP340 sign/verify of 32-byte messages, and a·G + b·P
 * through ECDSA public-key recovery); scalar arithmetic, adaptor
 * signatures' nonce path and messages of other lengths stay in JavaScript.
 * Both paths give identical results: the BIP340, Wycheproof and adaptor
 * vectors run against each (`_setBackend`).
 * @module
 */

/** The subset of tiny-secp256k1's API this project calls. */
export interface NativeSecp {
  pointAdd(pA: Uint8Array, pB: Uint8Array, compressed?: boolean): Uint8Array | null;
  pointFromScalar(d: Uint8Array, compressed?: boolean): Uint8Array | null;
  xOnlyPointFromScalar(d: Uint8Array): Uint8Array;
  pointMultiply(p: Uint8Array, tweak: Uint8Array, compressed?: boolean): Uint8Array | null;
  pointAddScalar(p: Uint8Array, tweak: Uint8Array, compressed?: boolean): Uint8Array | null;
  xOnlyPointAddTweak(p: Uint8Array, tweak: Uint8Array): { parity: 1 | 0; xOnlyPubkey: Uint8Array } | null;
  signSchnorr(h: Uint8Array, d: Uint8Array, e?: Uint8Array): Uint8Array;
  verifySchnorr(h: Uint8Array, Q: Uint8Array, signature: Uint8Array): boolean;
  recover(h: Uint8Array, signature: Uint8Array, recoveryId: 0 | 1 | 2 | 3, compressed?: boolean): Uint8Array | null;
}

interface ProcessLike {
  versions?: { node?: string };
  env?: Record<string, string | undefined>;
}

async function load(): Promise<NativeSecp | null> {
  const proc = (globalThis as { process?: ProcessLike }).process;
  if (!proc?.versions?.node || proc.env?.LNMB_SECP === 'noble') return null;
  try {
    // package.json maps this import to nothing for browser bundles ("browser" field).
    return (await import('tiny-secp256k1')) as NativeSecp;
  } catch {
    return null; // no WebAssembly, or the package is absent: noble serves
  }
}

const loaded = await load();
let active: NativeSecp | null = loaded;

/**
 * INTERNAL (crypto/ caches): the bench runs payer, hub and payee in one
 * process; its role label (set only by the bench) partitions the caches of
 * public keys and points, so that no role is credited with another's work,
 * as in separate processes. Empty in production.
 */
export function cacheScope(): string {
  return (globalThis as { __lnmbEcRole?: () => string }).__lnmbEcRole?.() ?? '';
}

/** The libsecp256k1 binding in use, or null when noble serves every operation. */
export function native(): NativeSecp | null {
  return active;
}

/** Which backend serves: `'libsecp256k1'` (WASM) or `'noble'`. */
export function backendName(): 'libsecp256k1' | 'noble' {
  return active ? 'libsecp256k1' : 'noble';
}

/**
 * INTERNAL (tests and benches): switches between the loaded binding and noble.
 * Returns false when `'libsecp256k1'` is asked for but the binding did not load.
 */
export function _setBackend(name: 'libsecp256k1' | 'noble'): boolean {
  if (name === 'noble') {
    active = null;
    return true;
  }
  active = loaded;
  return loaded !== null;
}
