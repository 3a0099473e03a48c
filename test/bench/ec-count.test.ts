import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const t = suite('bench/ec-count');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// The hook patches noble's source text; if an upgrade renames the methods it must fail loudly, not count zero.
t('counts point multiplications by kind: getPublicKey, sign (noble self-verifies), verify, ECDH', () => {
  const script = `
    import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
    const sk = schnorr.utils.randomSecretKey();
    const snap = () => ({ ...globalThis.__lnmbEcCounts });
    const out = {};
    let s = snap(); const pk = schnorr.getPublicKey(sk); out.getPublicKey = diff(s);
    const m = new Uint8Array(32);
    s = snap(); const sig = schnorr.sign(m, sk); out.sign = diff(s);
    s = snap(); schnorr.verify(sig, m, pk); out.verify = diff(s);
    const other = secp256k1.getPublicKey(schnorr.utils.randomSecretKey());
    s = snap(); secp256k1.getSharedSecret(sk, other); out.ecdh = diff(s);
    function diff(a) { const b = snap(); const d = {}; for (const k in b) if (b[k] !== (a[k] ?? 0)) d[k] = b[k] - (a[k] ?? 0); return d; }
    process.stdout.write(JSON.stringify(out));`;
  const out = JSON.parse(
    execFileSync(process.execPath, ['--import', './bench/load/ec-count.mjs', '--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
    }),
  ) as Record<string, Record<string, number>>;
  assert.equal(out.getPublicKey, { 'all:mul_G': 1 });
  assert.equal(out.sign, { 'all:mul_G': 2, 'all:mulAdd': 1 });
  assert.equal(out.verify, { 'all:mulAdd': 1 });
  assert.equal(out.ecdh, { 'all:mul_P': 1 });
});

t.run();
