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

// The door (crypto/bip340.ts) on either backend: public keys are cached, a signature costs one k·G
// (no self-verification), a verification one a·G + b·P, ECDH one k·P; on libsecp256k1 the hook counts
// tiny-secp256k1's calls, with LNMB_SECP=noble noble's.
for (const backend of ['libsecp256k1', 'noble'])
  t(
    `the door's operation counts on ${backend}: cached keys, one k·G per signature (none with a committed nonce), one mulAdd per verification`,
    () => {
      const script = `
      const b = await import('./crypto/bip340.ts');
      const { sharedSecretX } = await import('./protocol/seal.ts');
      const { backendName } = await import('./crypto/secp.ts');
      const snap = () => ({ ...globalThis.__lnmbEcCounts });
      function diff(a) { const c = snap(); const d = {}; for (const k in c) if (c[k] !== (a[k] ?? 0)) d[k.replace('all:', '')] = c[k] - (a[k] ?? 0); return d; }
      const sk = b.randomSecretKey();
      const out = { backend: backendName() };
      let s = snap(); const pk = b.getPublicKey(sk); out.getPublicKey = diff(s);
      s = snap(); b.getPublicKey(sk); out.getPublicKeyAgain = diff(s);
      const m = new Uint8Array(32);
      s = snap(); const sig = b.sign(m, sk); out.sign = diff(s);
      s = snap(); out.ok = b.verify(sig, m, pk); out.verify = diff(s);
      const other = b.getPublicKey(b.randomSecretKey());
      s = snap(); sharedSecretX(sk, other); out.ecdh = diff(s);
      // A committed nonce: R = k·G once, when it is committed; the record keeps k in even form
      // with R, so the signature costs no further operation.
      const nonce = await import('./crypto/nonce.ts');
      const store = new nonce.MemoryNonceStore();
      s = snap(); const c = await nonce.commitNonce(store, sk, m); out.commitNonce = diff(s);
      s = snap(); const nsig = await nonce.signWithCommittedNonce(store, c.id, sk, m); out.signWithCommittedNonce = diff(s);
      out.nonceOk = b.verify(nsig, m, pk);
      s = snap(); const tk = await nonce.commitTicketNonce(store, sk); out.commitTicketNonce = diff(s);
      s = snap(); await nonce.bindTicketNonce(store, tk.id, sk, m); await nonce.signWithCommittedNonce(store, tk.id, sk, m); out.ticketSign = diff(s);
      // An adaptor pre-signature costs one k·G; its verification one a·G + b·P, as a signature's.
      const ad = await import('./crypto/adaptor.ts');
      const T = ad.adaptorPoint(b.randomSecretKey());
      s = snap(); const pre = ad.adaptorPresign(sk, m, T); out.adaptorPresign = diff(s);
      s = snap(); out.adaptorOk = ad.adaptorVerify(pre, m, pk, T); out.adaptorVerify = diff(s);
      const bad = pre.slice(); bad[64] ^= 1;
      s = snap(); out.adaptorBad = ad.adaptorVerify(bad, m, pk, T); out.adaptorVerifyBad = diff(s);
      process.stdout.write(JSON.stringify(out));`;
      const out = JSON.parse(
        execFileSync(process.execPath, ['--import', 'tsx', '--import', './bench/load/ec-count.mjs', '--input-type=module', '-e', script], {
          cwd: root,
          encoding: 'utf8',
          env: { ...process.env, LNMB_SECP: backend === 'noble' ? 'noble' : '' },
        }),
      ) as Record<string, unknown>;
      assert.is(out.backend, backend);
      assert.equal(out.getPublicKey, { mul_G: 1 });
      assert.equal(out.getPublicKeyAgain, {});
      assert.equal(out.sign, { mul_G: 1 });
      assert.is(out.ok, true);
      assert.equal(out.verify, { mulAdd: 1 });
      assert.equal(out.ecdh, { mul_P: 1 });
      assert.equal(out.commitNonce, { mul_G: 1 });
      assert.equal(out.signWithCommittedNonce, {});
      assert.is(out.nonceOk, true);
      assert.equal(out.commitTicketNonce, { mul_G: 1 });
      assert.equal(out.ticketSign, {});
      assert.equal(out.adaptorPresign, { mul_G: 1 });
      assert.is(out.adaptorOk, true);
      assert.equal(out.adaptorVerify, { mulAdd: 1 });
      assert.is(out.adaptorBad, false);
      assert.equal(out.adaptorVerifyBad, { mulAdd: 1 });
    },
  );

t.run();
