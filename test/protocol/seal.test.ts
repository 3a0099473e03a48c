import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  ENVELOPE_HEADER_LEN,
  ENVELOPE_MAX_BODY_LEN,
  ENVELOPE_MAX_LEN,
  ENVELOPE_MIN_LEN,
  ENVELOPE_TAG_LEN,
  ErrorCode,
  INNER_MIN_LEN,
  bytesToHex,
  concatBytes,
  hexToBytes,
  open,
  paddedLen,
  seal,
  sharedSecretX,
  utf8,
} from '../../protocol/index.js';
import { throwsCode } from '../helpers.js';

const t = suite('protocol/seal');

const N = secp256k1.Point.CURVE().n;
const sk = (n: bigint) => hexToBytes(n.toString(16).padStart(64, '0'));
const neg = (k: Uint8Array) => sk(N - BigInt('0x' + bytesToHex(k)));
const isOdd = (k: Uint8Array) => secp256k1.getPublicKey(k, true)[0] === 0x03;
/** A deterministic secret key with the requested y parity. */
function keyOf(seed: number, odd: boolean): Uint8Array {
  const k = sha256(Uint8Array.of(seed));
  return isOdd(k) === odd ? k : neg(k);
}

const senderSk = keyOf(1, false);
const recipientSk = keyOf(2, true);
const recipient = schnorr.getPublicKey(recipientSk);
const fixed = { ephemeralSecretKey: keyOf(3, false), nonce: new Uint8Array(24).fill(7), auxRand: new Uint8Array(32).fill(9) };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? `uncoded: ${String(e)}`;
  }
  return undefined;
}

t('seal then open returns the authenticated content', () => {
  const body = utf8('an offer');
  const env = seal({ senderSecretKey: senderSk, recipient, type: 0x0003, body, timestamp: 1_234_567 });
  const o = open(env, recipientSk);
  assert.equal(o.id, sha256(env));
  assert.equal(o.sender, schnorr.getPublicKey(senderSk));
  assert.is(o.type, 3);
  assert.is(o.timestamp, 1_234_567);
  assert.equal(o.body, body);
  assert.is(env[0], 0x01);
  assert.equal(env.subarray(1, 33), recipient);
});

t('layout and size: header ‖ bucket ‖ tag, deterministic with injected randomness', () => {
  for (const n of [0, 16, 17, 100, 1000, 5000]) {
    const body = new Uint8Array(n).fill(n & 0xff);
    const a = seal({ senderSecretKey: senderSk, recipient, type: 1, body, timestamp: 5, ...fixed });
    const b = seal({ senderSecretKey: senderSk, recipient, type: 1, body, timestamp: 5, ...fixed });
    assert.equal(a, b);
    assert.is(a.length, ENVELOPE_HEADER_LEN + paddedLen(INNER_MIN_LEN + n) + ENVELOPE_TAG_LEN);
    assert.equal(a.subarray(33, 65), schnorr.getPublicKey(fixed.ephemeralSecretKey));
    assert.equal(a.subarray(65, 89), fixed.nonce);
    assert.equal(open(a, recipientSk).body, body);
  }
  assert.is(seal({ senderSecretKey: senderSk, recipient, type: 1, body: new Uint8Array(0) }).length, ENVELOPE_MIN_LEN);
});

t('defaults draw a fresh ephemeral key, nonce and timestamp per envelope', () => {
  const before = Date.now();
  const a = seal({ senderSecretKey: senderSk, recipient, type: 1, body: new Uint8Array(0) });
  const b = seal({ senderSecretKey: senderSk, recipient, type: 1, body: new Uint8Array(0) });
  assert.not.equal(a.subarray(33, 65), b.subarray(33, 65));
  assert.not.equal(a.subarray(65, 89), b.subarray(65, 89));
  assert.ok(open(a, recipientSk).timestamp >= before);
});

t('parity: every recipient/ephemeral y-parity combination seals and opens', () => {
  for (const rOdd of [false, true]) {
    for (const eOdd of [false, true]) {
      const rSk = keyOf(10, rOdd);
      const eSk = keyOf(11, eOdd);
      assert.is(isOdd(rSk), rOdd);
      assert.is(isOdd(eSk), eOdd);
      const body = utf8(`r${rOdd} e${eOdd}`);
      const env = seal({ senderSecretKey: senderSk, recipient: schnorr.getPublicKey(rSk), type: 1, body, ephemeralSecretKey: eSk });
      assert.equal(open(env, rSk).body, body);
      // The same mailbox key in its negated form (same x-only key) opens it too.
      assert.equal(open(env, neg(rSk)).body, body);
    }
  }
});

t('ECDH x is the same from both sides, for either parity and either key form', () => {
  for (const [a, b] of [
    [keyOf(20, false), keyOf(21, false)],
    [keyOf(20, true), keyOf(21, false)],
    [keyOf(20, true), keyOf(21, true)],
  ] as const) {
    const A = secp256k1.getPublicKey(a, true);
    const B = secp256k1.getPublicKey(b, true);
    const x = sharedSecretX(a, B.subarray(1)); // x-only: lifted to even y
    assert.equal(sharedSecretX(b, A.subarray(1)), x);
    assert.equal(sharedSecretX(a, B), x); // SEC1 compressed, true parity
    assert.equal(sharedSecretX(neg(a), B), x); // BIP340-normalised secret
    assert.equal(sharedSecretX(a, secp256k1.getPublicKey(b, false)), x); // uncompressed
    const flipped = B.slice();
    flipped[0]! ^= 0x01; // the negated point
    assert.equal(sharedSecretX(a, flipped), x);
    assert.equal(x, secp256k1.getSharedSecret(a, B).subarray(1));
  }
});

t('the largest body fills exactly 64 KiB; one more byte is refused', () => {
  const body = new Uint8Array(ENVELOPE_MAX_BODY_LEN).fill(0x5a);
  const env = seal({ senderSecretKey: senderSk, recipient, type: 1, body });
  assert.is(env.length, ENVELOPE_MAX_LEN);
  assert.equal(open(env, recipientSk).body, body);
  throwsCode(
    () => seal({ senderSecretKey: senderSk, recipient, type: 1, body: new Uint8Array(ENVELOPE_MAX_BODY_LEN + 1) }),
    ErrorCode.ENVELOPE_TOO_LARGE,
  );
  throwsCode(() => open(env, recipientSk, { maxLen: ENVELOPE_MAX_LEN - 1 }), ErrorCode.ENVELOPE_TOO_LARGE);
  throwsCode(() => open(concatBytes(env, Uint8Array.of(0)), recipientSk), ErrorCode.ENVELOPE_TOO_LARGE);
});

t('every single-byte change of an envelope is rejected with the check that guards that byte', () => {
  const env = seal({ senderSecretKey: senderSk, recipient, type: 1, body: utf8('flip me'), ...fixed });
  const seen = new Set<string>();
  for (let i = 0; i < env.length; i++) {
    const x = env.slice();
    x[i]! ^= 0x80;
    const code = codeOf(() => open(x, recipientSk));
    seen.add(code ?? 'accepted');
    if (i === 0) assert.is(code, ErrorCode.ENVELOPE_UNKNOWN_VERSION);
    else if (i < 33) assert.is(code, ErrorCode.ENVELOPE_WRONG_RECIPIENT, `byte ${i}`);
    else if (i < 65) assert.ok(code === ErrorCode.INVALID_PUBLIC_KEY || code === ErrorCode.ENVELOPE_BAD_TAG, `byte ${i}: ${code}`);
    else assert.is(code, ErrorCode.ENVELOPE_BAD_TAG, `byte ${i}`);
  }
  assert.ok(seen.has(ErrorCode.INVALID_PUBLIC_KEY) && seen.has(ErrorCode.ENVELOPE_BAD_TAG));
});

t('truncated or extended envelopes are rejected', () => {
  const env = seal({ senderSecretKey: senderSk, recipient, type: 1, body: new Uint8Array(300), ...fixed });
  for (const n of [0, 1, 88, 89, 104, ENVELOPE_MIN_LEN - 1])
    throwsCode(() => open(env.subarray(0, n), recipientSk), ErrorCode.ENVELOPE_TRUNCATED, `len ${n}`);
  for (const n of [ENVELOPE_MIN_LEN, env.length - 16, env.length - 1])
    throwsCode(() => open(env.subarray(0, n), recipientSk), ErrorCode.ENVELOPE_BAD_TAG, `len ${n}`);
  throwsCode(() => open(concatBytes(env, Uint8Array.of(0)), recipientSk), ErrorCode.ENVELOPE_BAD_TAG);
  throwsCode(() => open(new Uint8Array(0), recipientSk), ErrorCode.ENVELOPE_TRUNCATED);
});

t('seal validates its inputs with typed errors', () => {
  const ok = { senderSecretKey: senderSk, recipient, type: 1, body: new Uint8Array(0) };
  throwsCode(() => seal(null as unknown as typeof ok), ErrorCode.INVALID_TYPE);
  throwsCode(() => seal({ ...ok, recipient: sk(5n) }), ErrorCode.INVALID_PUBLIC_KEY, 'x=5 is not on the curve');
  throwsCode(() => seal({ ...ok, recipient: new Uint8Array(32).fill(0xff) }), ErrorCode.INVALID_PUBLIC_KEY, 'x >= p');
  throwsCode(() => seal({ ...ok, recipient: new Uint8Array(33) }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => seal({ ...ok, senderSecretKey: new Uint8Array(32) }), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => seal({ ...ok, senderSecretKey: sk(N) }), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => seal({ ...ok, ephemeralSecretKey: sk(N + 1n) }), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => seal({ ...ok, ephemeralSecretKey: new Uint8Array(16) }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => seal({ ...ok, nonce: new Uint8Array(12) }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => seal({ ...ok, auxRand: new Uint8Array(31) }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => seal({ ...ok, type: 0 }), ErrorCode.INVALID_RANGE);
  throwsCode(() => seal({ ...ok, timestamp: -5 }), ErrorCode.INVALID_RANGE);
  throwsCode(() => seal({ ...ok, body: 'text' as unknown as Uint8Array }), ErrorCode.INVALID_TYPE);
});

t('open validates its inputs with typed errors', () => {
  const env = seal({ senderSecretKey: senderSk, recipient, type: 1, body: new Uint8Array(0) });
  throwsCode(() => open(env, new Uint8Array(32)), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => open(env, new Uint8Array(31)), ErrorCode.INVALID_LENGTH);
  throwsCode(() => open('AQ==' as unknown as Uint8Array, recipientSk), ErrorCode.INVALID_TYPE);
  throwsCode(() => open(env, recipientSk, { maxLen: 10 }), ErrorCode.INVALID_RANGE);
  throwsCode(() => open(env, recipientSk, { maxLen: ENVELOPE_MAX_LEN + 1 }), ErrorCode.INVALID_RANGE);
  throwsCode(() => open(env, keyOf(30, false)), ErrorCode.ENVELOPE_WRONG_RECIPIENT);
});

t('sharedSecretX rejects points that are not on the curve', () => {
  const a = keyOf(40, false);
  const G = secp256k1.Point.BASE.toBytes(false);
  const bad = G.slice();
  bad[64]! ^= 0x01; // y changed: off the curve (invalid-curve attack shape)
  throwsCode(() => sharedSecretX(a, bad), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => sharedSecretX(a, concatBytes(Uint8Array.of(0x02), sk(5n))), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => sharedSecretX(a, concatBytes(Uint8Array.of(0x05), G.subarray(1, 33))), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => sharedSecretX(a, new Uint8Array(64)), ErrorCode.INVALID_LENGTH);
  throwsCode(() => sharedSecretX(new Uint8Array(32), G), ErrorCode.INVALID_SECRET_KEY);
});

t('seal leaves its inputs untouched', () => {
  const body = utf8('keep me');
  const copy = body.slice();
  const eph = fixed.ephemeralSecretKey.slice();
  seal({ senderSecretKey: senderSk, recipient, type: 1, body, ...fixed });
  assert.equal(body, copy);
  assert.equal(fixed.ephemeralSecretKey, eph);
});

t('cached public keys: right ones give the same result, wrong ones only make the envelope fail', () => {
  const ssk = schnorr.utils.randomSecretKey();
  const rsk = schnorr.utils.randomSecretKey();
  const spk = schnorr.getPublicKey(ssk);
  const rpk = schnorr.getPublicKey(rsk);
  const body = new Uint8Array([1, 2, 3]);
  const env = seal({ senderSecretKey: ssk, senderPublicKey: spk, recipient: rpk, type: 7, body });
  const o = open(env, rsk, { recipientPublicKey: rpk });
  assert.equal(o.sender, spk);
  assert.equal(o.body, body);
  const otherPk = schnorr.getPublicKey(schnorr.utils.randomSecretKey());
  throwsCode(
    () => open(seal({ senderSecretKey: ssk, senderPublicKey: otherPk, recipient: rpk, type: 7, body }), rsk),
    ErrorCode.ENVELOPE_BAD_SIGNATURE,
  );
  throwsCode(() => open(env, rsk, { recipientPublicKey: otherPk }), ErrorCode.ENVELOPE_WRONG_RECIPIENT);
  throwsCode(() => open(env, rsk, { recipientPublicKey: new Uint8Array(31) }), ErrorCode.INVALID_LENGTH);
});

t.run();
