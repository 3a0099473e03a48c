// Module hooks for ec-count.mjs: inserts a counter call at the top of the
// three public multiplication methods of noble's Weierstrass Point class.
const PATCHES = [
  ['multiply(scalar) {', "multiply(scalar) { globalThis.__lnmbEcCount?.(this === Point.BASE ? 'mul_G' : 'mul_P');"],
  ['multiplyUnsafe(scalar) {', "multiplyUnsafe(scalar) { globalThis.__lnmbEcCount?.(this === Point.BASE ? 'mulUnsafe_G' : 'mulUnsafe_P');"],
  ['mulAddUnsafe(a, other, b) {', "mulAddUnsafe(a, other, b) { globalThis.__lnmbEcCount?.('mulAdd');"],
];

// The same kinds on libsecp256k1 (tiny-secp256k1's JS wrapper): k·G for keys,
// nonces and tweaks, k·P for ECDH and e·P, one a·G + b·P per verification
// (and per recovery);
// its BIP340 signer computes d·G and k·G (2 mul_G) and does not self-verify.
const c = (k) => `globalThis.__lnmbEcCount?.('${k}');`;
const NATIVE = [
  ['export function pointFromScalar(d, compressed) {', c('mul_G')],
  ['export function xOnlyPointFromScalar(d) {', c('mul_G')],
  ['export function pointMultiply(p, tweak, compressed) {', c('mul_P')],
  ['export function pointAddScalar(p, tweak, compressed) {', c('mul_G')],
  ['export function xOnlyPointAddTweak(p, tweak) {', c('mul_G')],
  ['export function signSchnorr(h, d, e) {', c('mul_G') + c('mul_G')],
  ['export function verifySchnorr(h, Q, signature) {', c('mulAdd')],
  // ECDSA public-key recovery is one u1·G + u2·R (crypto/bip340.ts _mulAddXOnly uses it as a·G + b·P).
  ['export function recover(h, signature, recoveryId, compressed = false) {', c('mulAdd')],
].map(([from, add]) => [from, from + ' ' + add]);

export async function load(url, context, nextLoad) {
  const r = await nextLoad(url, context);
  const patches =
    url.includes('/@noble/curves/') && url.endsWith('/abstract/weierstrass.js')
      ? PATCHES
      : url.includes('/tiny-secp256k1/lib/') && url.endsWith('/index.js')
        ? NATIVE
        : null;
  if (!patches) return r;
  let src = String(r.source);
  for (const [from, to] of patches) {
    if (src.split(from).length !== 2) throw new Error(`ec-count: expected exactly one "${from}" in ${url}`);
    src = src.replace(from, to);
  }
  return { ...r, source: src };
}
