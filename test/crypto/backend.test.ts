/**
 * The secp256k1 backend (crypto/secp.ts): libsecp256k1 (WASM) loads in Node,
 * gives results identical to noble's on every operation the door routes to
 * it, and the vector suites pass with noble forced (LNMB_SECP=noble) as they
 * do with the binding; the symmetric primitives' suites pass with noble
 * forced (LNMB_SYM=noble) as well.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { _setBackend, backendName } from '../../crypto/secp.js';
import {
  _clearKeyCache,
  _signWithNonce,
  getPublicKey,
  randomSecretKey,
  sign,
  signaturePoint,
  tweakXOnlyPublicKey,
  tweakXOnlySecretKey,
  verify,
} from '../../crypto/bip340.js';
import { adaptorExtract, adaptorAdapt, adaptorPoint, adaptorPresign, adaptorVerify } from '../../crypto/adaptor.js';
import { _clearPointCache, tweakPoint } from '../../crypto/tweak.js';

const t = suite('crypto/backend');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

t('libsecp256k1 loads in Node unless LNMB_SECP=noble', () => {
  assert.is(backendName(), process.env.LNMB_SECP === 'noble' ? 'noble' : 'libsecp256k1');
});

/** Runs `f` on each backend (cache emptied first) and returns both results as hex. */
function both<T>(f: () => T): [string, string] {
  const out: string[] = [];
  for (const b of ['libsecp256k1', 'noble'] as const) {
    if (!_setBackend(b)) assert.unreachable('binding did not load');
    _clearKeyCache();
    _clearPointCache();
    out.push(JSON.stringify(f(), (_k, v) => (v instanceof Uint8Array ? hex(v) : typeof v === 'bigint' ? v.toString() : v)));
  }
  _setBackend('libsecp256k1');
  return out as [string, string];
}

t('both backends agree: keys, signatures, signature points, tweaks, adaptor signatures', () => {
  if (process.env.LNMB_SECP === 'noble') return;
  for (let i = 0; i < 20; i++) {
    const sk = randomSecretKey();
    const msg = randomBytes(32);
    const aux = randomBytes(32);
    const tw = randomBytes(32);
    const tAd = randomSecretKey();
    const k = BigInt(`0x${hex(randomSecretKey())}`);
    const [a, b] = both(() => {
      const pk = getPublicKey(sk);
      const sig = sign(msg, sk, aux);
      const nsig = _signWithNonce(msg, sk, k);
      const T = adaptorPoint(tAd);
      const pre = adaptorPresign(sk, msg, T, aux);
      const bad = pre.slice();
      bad[64] = (bad[64] ?? 0) ^ 1;
      return {
        pk,
        sig,
        ok: verify(sig, msg, pk),
        wrong: verify(sig, randomBytes(32).fill(i), pk),
        nsig,
        sp: signaturePoint(nsig.subarray(0, 32), pk, msg),
        tpub: tweakXOnlyPublicKey(pk, tw, { reduce: true }),
        tsec: tweakXOnlySecretKey(sk, tw, { reduce: true }),
        tpt: tweakPoint(T, tAd),
        pre,
        preOk: adaptorVerify(pre, msg, pk, T),
        preBad: adaptorVerify(bad, msg, pk, T),
        extracted: adaptorExtract(adaptorAdapt(pre, tAd), pre, T),
      };
    });
    assert.is(a, b);
    assert.ok(JSON.parse(a).ok && JSON.parse(a).preOk && !JSON.parse(a).preBad);
  }
});

t('the key cache seeded by tweakXOnlySecretKey holds the key k·G gives', () => {
  for (let i = 0; i < 10; i++) {
    const sk = randomSecretKey();
    const tw = randomBytes(32);
    const tsk = tweakXOnlySecretKey(sk, tw, { reduce: true });
    const seeded = getPublicKey(tsk);
    const msg = randomBytes(32);
    const sig = sign(msg, tsk); // signs with the seeded d·G
    _clearKeyCache();
    assert.is(hex(seeded), hex(getPublicKey(tsk)));
    assert.ok(verify(sig, msg, seeded));
  }
});

t('the BIP340, Wycheproof, adaptor and envelope vectors pass with noble forced', () => {
  if (process.env.LNMB_SECP === 'noble') return;
  const files = [
    'test/crypto/bip340.test.ts',
    'test/crypto/adaptor.test.ts',
    'test/crypto/xonly-tweak.test.ts',
    'test/crypto/nonce.test.ts',
    'test/crypto/guards.test.ts',
    'test/protocol/wycheproof.test.ts',
    'test/protocol/seal.test.ts',
  ];
  const out = execFileSync(process.execPath, ['scripts/test.mjs', ...files, 'test/crypto/backend.test.ts'], {
    env: { ...process.env, LNMB_SECP: 'noble' },
    encoding: 'utf8',
  });
  assert.match(out, / 0 failed/);
});

t('the symmetric, BIP340, envelope and Wycheproof suites pass on the pure-JavaScript path (LNMB_SYM=noble, LNMB_SECP=noble)', () => {
  if (process.env.LNMB_SYM === 'noble') return;
  const files = [
    'test/crypto/symmetric.test.ts',
    'test/crypto/bip340.test.ts',
    'test/protocol/wycheproof.test.ts',
    'test/protocol/envelope.test.ts',
    'test/protocol/inner.test.ts',
    'test/protocol/seal.test.ts',
  ];
  const out = execFileSync(process.execPath, ['scripts/test.mjs', ...files], {
    env: { ...process.env, LNMB_SYM: 'noble', LNMB_SECP: 'noble' },
    encoding: 'utf8',
  });
  assert.match(out, / 0 failed/);
  assert.match(out, /symmetric/);
});

t.run();
