// Module hooks for ec-count.mjs: inserts a counter call at the top of the
// three public multiplication methods of noble's Weierstrass Point class.
const PATCHES = [
  ['multiply(scalar) {', "multiply(scalar) { globalThis.__lnmbEcCount?.(this === Point.BASE ? 'mul_G' : 'mul_P');"],
  ['multiplyUnsafe(scalar) {', "multiplyUnsafe(scalar) { globalThis.__lnmbEcCount?.(this === Point.BASE ? 'mulUnsafe_G' : 'mulUnsafe_P');"],
  ['mulAddUnsafe(a, other, b) {', "mulAddUnsafe(a, other, b) { globalThis.__lnmbEcCount?.('mulAdd');"],
];

export async function load(url, context, nextLoad) {
  const r = await nextLoad(url, context);
  if (!url.includes('/@noble/curves/') || !url.endsWith('/abstract/weierstrass.js')) return r;
  let src = String(r.source);
  for (const [from, to] of PATCHES) {
    if (src.split(from).length !== 2) throw new Error(`ec-count: expected exactly one "${from}" in ${url}`);
    src = src.replace(from, to);
  }
  return { ...r, source: src };
}
