/**
 * The symmetric backend (crypto/symmetric.ts): node:crypto and noble give
 * the same bytes for SHA-256, tagged hashes, HKDF-SHA256 and
 * XChaCha20-Poly1305 on random inputs of many lengths, reject the same
 * tampered inputs the same way, and both pass the Wycheproof vectors; an
 * envelope sealed on one opens on the other, and a tampered one fails with
 * the same error code on each.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { randomBytes, randomInt } from 'node:crypto';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { isLnMailboxError } from '../../base/errors.js';
import {
  _setSymmetricBackend,
  hkdfSha256,
  sha256,
  symmetricBackend,
  taggedHash,
  xchachaOpen,
  xchachaSeal,
} from '../../crypto/symmetric.js';
import { open, seal } from '../../protocol/seal.js';

const t = suite('crypto/symmetric');
const hex = (b: Uint8Array | null) => (b === null ? 'null' : Buffer.from(b).toString('hex'));
const hx = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const rnd = (n: number) => new Uint8Array(randomBytes(n));
const BACKENDS = ['node', 'noble'] as const;

/** Runs `f` on each backend and returns both results. */
function both<T>(f: () => T): [T, T] {
  const out: T[] = [];
  for (const b of BACKENDS) {
    if (!_setSymmetricBackend(b)) assert.unreachable('node:crypto did not load');
    try {
      out.push(f());
    } finally {
      _setSymmetricBackend('node');
    }
  }
  return out as [T, T];
}

/** The error code `f` throws, or 'ok'. */
function codeOf(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    return isLnMailboxError(e) ? e.code : `not an LnMailboxError: ${(e as Error).message}`;
  }
}

// Lengths around ChaCha's 64-byte blocks, Poly1305's 16-byte blocks and SHA-256's 64-byte blocks.
const LENGTHS = [0, 1, 2, 15, 16, 17, 31, 32, 33, 55, 56, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1000, 1001, 4097];

t('node:crypto serves in Node unless LNMB_SYM=noble', () => {
  assert.is(symmetricBackend(), process.env.LNMB_SYM === 'noble' ? 'noble' : 'node');
});

t('both backends agree: SHA-256, tagged hashes and HKDF on random inputs of many lengths', () => {
  if (process.env.LNMB_SYM === 'noble') return;
  for (const n of LENGTHS) {
    const m = rnd(n);
    const [a, b] = both(() => hex(sha256(m)));
    assert.is(a, b, `sha256 ${n}`);
    assert.is(a, hex(nobleSha256(m)));
    const parts = [rnd(randomInt(0, 40)), m, rnd(randomInt(0, 3))];
    const [ta, tb] = both(() => hex(taggedHash('BIP0340/nonce', ...parts)));
    assert.is(ta, tb, `tagged ${n}`);
    assert.is(ta, hex(schnorr.utils.taggedHash('BIP0340/nonce', ...parts)));
    const salt = rnd(n % 70);
    const info = rnd((n * 7) % 90);
    const len = 1 + ((n * 13) % 200);
    const [ha, hb] = both(() => hex(hkdfSha256(m, salt, info, len)));
    assert.is(ha, hb, `hkdf ${n}`);
    assert.is(ha, hex(hkdf(nobleSha256, m, salt, info, len)));
  }
  assert.is(
    codeOf(() => hkdfSha256(rnd(32), rnd(0), rnd(0), 255 * 32 + 1)),
    'INVALID_RANGE',
  );
});

t('both backends agree: XChaCha20-Poly1305 on random keys, nonces, AAD and lengths (0 and odd sizes)', () => {
  if (process.env.LNMB_SYM === 'noble') return;
  for (const n of LENGTHS) {
    for (let i = 0; i < 3; i++) {
      const key = rnd(32);
      const nonce = rnd(24);
      const aad = rnd([0, 1, 89, 200][i % 4]!);
      const pt = rnd(n);
      const [ca, cb] = both(() => hex(xchachaSeal(key, nonce, aad, pt)));
      assert.is(ca, cb, `seal ${n}`);
      assert.is(ca, hex(xchacha20poly1305(key, nonce, aad).encrypt(pt)));
      const sealed = hx(ca);
      // Into a caller's buffer, as seal() does.
      const [oa, ob] = both(() => {
        const out = new Uint8Array(7 + n + 16);
        xchachaSeal(key, nonce, aad, pt, out.subarray(7));
        return hex(out.subarray(7));
      });
      assert.is(oa, ca);
      assert.is(ob, ca);
      const [pa, pb] = both(() => hex(xchachaOpen(key, nonce, aad, sealed)));
      assert.is(pa, hex(pt));
      assert.is(pb, hex(pt));
      // A nonce at an odd offset of a larger buffer (an envelope header's nonce is at 65).
      const buf = rnd(1 + 24);
      buf.set(nonce, 1);
      const [pc] = both(() => hex(xchachaOpen(key, buf.subarray(1), aad, sealed)));
      assert.is(pc, hex(pt));
    }
  }
});

t('both backends reject the same tampered input: every flipped byte of ciphertext, tag, key, nonce or AAD, and short input', () => {
  if (process.env.LNMB_SYM === 'noble') return;
  const key = rnd(32);
  const nonce = rnd(24);
  const aad = rnd(89);
  const pt = rnd(77);
  const sealed = xchachaSeal(key, nonce, aad, pt);
  const flip = (b: Uint8Array, i: number) => {
    const c = b.slice();
    c[i] = (c[i] ?? 0) ^ (1 << (i % 8));
    return c;
  };
  for (let i = 0; i < sealed.length; i++) {
    const [a, b] = both(() => xchachaOpen(key, nonce, aad, flip(sealed, i)));
    assert.is(a, null, `sealed byte ${i}`);
    assert.is(b, null, `sealed byte ${i}`);
  }
  for (const [name, mutate] of [
    ['key', (i: number) => xchachaOpen(flip(key, i), nonce, aad, sealed)],
    ['nonce', (i: number) => xchachaOpen(key, flip(nonce, i), aad, sealed)],
    ['aad', (i: number) => xchachaOpen(key, nonce, flip(aad, i), sealed)],
  ] as const) {
    for (const i of [0, 5, 15, 16, 23]) {
      const [a, b] = both(() => mutate(i));
      assert.is(a, null, `${name} byte ${i}`);
      assert.is(b, null, `${name} byte ${i}`);
    }
  }
  const [x, y] = both(() => xchachaOpen(key, nonce, aad, sealed.subarray(0, sealed.length - 1)));
  assert.is(x, null);
  assert.is(y, null);
  for (const n of [0, 1, 15]) {
    const [s1, s2] = both(() => xchachaOpen(key, nonce, aad, sealed.subarray(0, n)));
    assert.is(s1, null, `${n}-byte input`);
    assert.is(s2, null, `${n}-byte input`);
  }
  // An empty plaintext's tag alone authenticates too.
  const empty = xchachaSeal(key, nonce, aad, new Uint8Array(0));
  const [e1, e2] = both(() => xchachaOpen(key, nonce, aad, flip(empty, 3)));
  assert.is(e1, null);
  assert.is(e2, null);
  // Malformed arguments throw the same typed error on both.
  const [k1, k2] = both(() => codeOf(() => xchachaOpen(key.subarray(1), nonce, aad, sealed)));
  assert.is(k1, 'INVALID_LENGTH');
  assert.is(k2, 'INVALID_LENGTH');
  const [n1, n2] = both(() => codeOf(() => xchachaSeal(key, nonce.subarray(0, 12), aad, pt)));
  assert.is(n1, 'INVALID_LENGTH');
  assert.is(n2, 'INVALID_LENGTH');
  const [o1, o2] = both(() => codeOf(() => xchachaSeal(key, nonce, aad, pt, new Uint8Array(pt.length + 15))));
  assert.is(o1, 'INVALID_LENGTH');
  assert.is(o2, 'INVALID_LENGTH');
});

t('Wycheproof XChaCha20-Poly1305 and HKDF-SHA256 vectors pass on each backend', () => {
  const load = <T>(name: string) =>
    (
      JSON.parse(readFileSync(new URL(`../vectors/wycheproof/${name}`, import.meta.url), 'utf8')) as {
        testGroups: { tests: (T & { tcId: number; result: string })[] }[];
      }
    ).testGroups.flatMap((g) => g.tests);
  const aead = load<{ key: string; iv: string; aad: string; msg: string; ct: string; tag: string }>('xchacha20_poly1305_test.json');
  const kdf = load<{ ikm: string; salt: string; info: string; size: number; okm: string }>('hkdf_sha256_test.json');
  for (const b of process.env.LNMB_SYM === 'noble' ? (['noble'] as const) : BACKENDS) {
    assert.ok(_setSymmetricBackend(b));
    try {
      let rejected = 0;
      for (const c of aead) {
        const sealedHex = c.ct + c.tag;
        let out: Uint8Array | null = null;
        const code = codeOf(() => {
          out = xchachaOpen(hx(c.key), hx(c.iv), hx(c.aad), hx(sealedHex));
        });
        if (c.result === 'valid') {
          assert.is(hex(out), c.msg, `${b} tc ${c.tcId}`);
          assert.is(hex(xchachaSeal(hx(c.key), hx(c.iv), hx(c.aad), hx(c.msg))), sealedHex, `${b} tc ${c.tcId}`);
        } else {
          // Rejected: a failed tag, or (wrong key or nonce size) a typed error.
          assert.ok(out === null && (code === 'ok' || code === 'INVALID_LENGTH'), `${b} tc ${c.tcId} must be rejected`);
          rejected++;
        }
      }
      assert.ok(rejected > 0);
      for (const c of kdf) {
        if (c.result === 'valid') assert.is(hex(hkdfSha256(hx(c.ikm), hx(c.salt), hx(c.info), c.size)), c.okm, `${b} tc ${c.tcId}`);
        else
          assert.is(
            codeOf(() => hkdfSha256(hx(c.ikm), hx(c.salt), hx(c.info), c.size)),
            'INVALID_RANGE',
            `${b} tc ${c.tcId}`,
          );
      }
    } finally {
      _setSymmetricBackend('node');
    }
  }
});

t('envelopes: sealed on either backend, opened on either; a tampered byte fails with the same code on both', () => {
  if (process.env.LNMB_SYM === 'noble') return;
  const sender = schnorr.utils.randomSecretKey();
  const rsk = schnorr.utils.randomSecretKey();
  const recipient = schnorr.getPublicKey(rsk);
  for (const n of [0, 1, 31, 700, 1001]) {
    const body = rnd(n);
    const fixed = { ephemeralSecretKey: schnorr.utils.randomSecretKey(), nonce: rnd(24), auxRand: rnd(32), timestamp: 1_700_000_000_000 };
    const [ea, eb] = both(() => seal({ senderSecretKey: sender, recipient, type: 7, body, ...fixed }));
    assert.is(hex(ea), hex(eb), `same envelope bytes, body ${n}`);
    for (const env of [ea, eb]) {
      const [oa, ob] = both(() => open(env, rsk));
      assert.is(hex(oa.body), hex(body));
      assert.is(hex(ob.body), hex(body));
      assert.is(hex(oa.id), hex(ob.id));
      assert.ok(oa.body.constructor === Uint8Array && oa.id.constructor === Uint8Array, 'plain Uint8Arrays out');
    }
    // Header bytes past the recipient, a ciphertext byte, a tag byte.
    for (const i of [40, 70, 88, 89, 89 + Math.floor(n / 2), ea.length - 1]) {
      const bad = ea.slice();
      bad[i] = (bad[i] ?? 0) ^ 0x20;
      const [ca, cb] = both(() => codeOf(() => open(bad, rsk)));
      assert.is(ca, cb, `byte ${i}`);
      assert.ok(ca !== 'ok', `byte ${i} must not open`);
      if (i >= 65) assert.is(ca, 'ENVELOPE_BAD_TAG', `byte ${i}`);
    }
  }
});

t.run();
