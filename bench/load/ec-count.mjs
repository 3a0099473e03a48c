// Bench-only instrumentation (payment and seal+open rows): counts
// secp256k1 point multiplications by kind, by patching the source text of
// @noble/curves' weierstrass.js as it loads (its objects are frozen, so they
// cannot be wrapped). Load with `node --import ./bench/load/ec-count.mjs`.
// Kinds: mul_G / mul_P (constant-time k·G / k·P: keys, signing, ECDH),
// mulUnsafe_G / mulUnsafe_P (variable-time, public scalars), mulAdd
// (a·G + b·P, BIP340 verification). A role label comes from
// globalThis.__lnmbEcRole() when the bench sets one.
import { register } from 'node:module';

const counts = {};
globalThis.__lnmbEcCounts = counts;
globalThis.__lnmbEcCount = (kind) => {
  const role = globalThis.__lnmbEcRole ? globalThis.__lnmbEcRole() : 'all';
  const k = `${role}:${kind}`;
  counts[k] = (counts[k] ?? 0) + 1;
  // LNMB_EC_TRACE=<file>: also tally the project call sites behind each operation.
  if (process.env.LNMB_EC_TRACE) {
    const site = (new Error().stack ?? '')
      .split('\n')
      .filter((l) => l.includes(process.cwd()) && !l.includes('node_modules'))
      .slice(0, 4)
      .map((l) => l.trim().replace(/^at /, '').replace(process.cwd(), ''))
      .join(' < ');
    const t = (globalThis.__lnmbEcTraces ??= {});
    t[`${k} ${site}`] = (t[`${k} ${site}`] ?? 0) + 1;
  }
};
register('./ec-count-hooks.mjs', import.meta.url);
