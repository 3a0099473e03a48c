import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  ErrorCode,
  INNER_MIN_LEN,
  INNER_SIG_TAG,
  InnerTypeRange,
  concatBytes,
  decodeInner,
  hexToBytes,
  innerSigHash,
  signInner,
  utf8,
  verifyInner,
} from '../../protocol/index.js';
import { throwsCode } from '../helpers.js';

const t = suite('protocol/inner');

const senderSk = hexToBytes('0000000000000000000000000000000000000000000000000000000000000003');
const sender = schnorr.getPublicKey(senderSk);
const recipient = schnorr.getPublicKey(hexToBytes('00000000000000000000000000000000000000000000000000000000000000aa'));
const other = schnorr.getPublicKey(hexToBytes('00000000000000000000000000000000000000000000000000000000000000bb'));
const aux = new Uint8Array(32).fill(0x11);
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

function make(body = utf8('hello'), type = 0x0002, timestamp = 1_700_000_000_123) {
  return signInner({ senderSecretKey: senderSk, recipient, type, timestamp, body, auxRand: aux });
}

t('layout: type ‖ sender ‖ timestamp ‖ body_len ‖ body ‖ signature', () => {
  const body = utf8('hello');
  const m = make(body);
  assert.is(m.length, INNER_MIN_LEN + body.length);
  assert.equal(m.subarray(0, 2), Uint8Array.of(0x00, 0x02));
  assert.equal(m.subarray(2, 34), sender);
  assert.equal(m.subarray(34, 42), hexToBytes('0000018bcfe5687b')); // 1_700_000_000_123
  assert.equal(m.subarray(42, 46), Uint8Array.of(0, 0, 0, 5));
  assert.equal(m.subarray(46, 51), body);
  const d = decodeInner(m);
  assert.is(d.type, 2);
  assert.equal(d.sender, sender);
  assert.is(d.timestamp, 1_700_000_000_123);
  assert.equal(d.body, body);
  assert.equal(d.signature, m.subarray(51));
});

t('signature hash is the BIP340 tagged hash of version ‖ recipient ‖ unsigned inner', () => {
  const m = make();
  const unsigned = m.subarray(0, m.length - 64);
  const tag = sha256(utf8(INNER_SIG_TAG));
  const want = sha256(concatBytes(tag, tag, Uint8Array.of(0x01), recipient, unsigned));
  assert.equal(innerSigHash(recipient, unsigned), want);
  assert.ok(schnorr.verify(m.subarray(m.length - 64), want, sender));
});

t('verifyInner binds the recipient (no surreptitious forwarding)', () => {
  const m = make();
  assert.is(verifyInner(m, recipient).type, 2);
  throwsCode(() => verifyInner(m, other), ErrorCode.ENVELOPE_BAD_SIGNATURE);
});

t('every signed byte is covered', () => {
  const m = make(utf8('body!'));
  for (let i = 0; i < m.length; i++) {
    const x = m.slice();
    x[i]! ^= 0x01;
    let code: string | undefined;
    try {
      verifyInner(x, recipient);
    } catch (e) {
      code = (e as { code?: string }).code;
    }
    assert.ok(code === ErrorCode.ENVELOPE_BAD_SIGNATURE || code === ErrorCode.ENVELOPE_BAD_INNER, `byte ${i}: ${code}`);
  }
});

t('an empty body and the largest type/timestamp round trip', () => {
  const m = make(new Uint8Array(0), 0xffff, Number.MAX_SAFE_INTEGER);
  assert.is(m.length, INNER_MIN_LEN);
  const d = verifyInner(m, recipient);
  assert.is(d.type, 0xffff);
  assert.is(d.timestamp, Number.MAX_SAFE_INTEGER);
  assert.is(d.body.length, 0);
});

t('decodeInner rejects malformed messages with ENVELOPE_BAD_INNER', () => {
  const m = make(utf8('abc'));
  throwsCode(() => decodeInner(m.subarray(0, INNER_MIN_LEN - 1)), ErrorCode.ENVELOPE_BAD_INNER, 'too short');
  throwsCode(() => decodeInner(m.subarray(0, m.length - 1)), ErrorCode.ENVELOPE_BAD_INNER, 'body_len too big');
  throwsCode(() => decodeInner(concatBytes(m, Uint8Array.of(0))), ErrorCode.ENVELOPE_BAD_INNER, 'trailing byte');
  const type0 = m.slice();
  type0[0] = 0;
  type0[1] = 0;
  throwsCode(() => decodeInner(type0), ErrorCode.ENVELOPE_BAD_INNER, 'type 0');
  const bigTs = m.slice();
  bigTs.set(hexToBytes('0020000000000000'), 34); // 2^53
  throwsCode(() => decodeInner(bigTs), ErrorCode.ENVELOPE_BAD_INNER, 'timestamp 2^53');
  const bigLen = m.slice();
  bigLen.set(Uint8Array.of(0xff, 0xff, 0xff, 0xff), 42);
  throwsCode(() => decodeInner(bigLen), ErrorCode.ENVELOPE_BAD_INNER, 'body_len 2^32-1');
});

t('a sender key that is not on the curve fails verification', () => {
  const m = make();
  const x = m.slice();
  x.set(hexToBytes('0000000000000000000000000000000000000000000000000000000000000005'), 2); // x=5: no point
  throwsCode(() => verifyInner(x, recipient), ErrorCode.ENVELOPE_BAD_SIGNATURE);
});

t('signInner validates its inputs', () => {
  const ok = { senderSecretKey: senderSk, recipient, type: 1, timestamp: 0, body: new Uint8Array(0), auxRand: aux };
  for (const type of [0, 0x10000, 1.5, -1]) throwsCode(() => signInner({ ...ok, type }), ErrorCode.INVALID_RANGE, `type ${type}`);
  throwsCode(() => signInner({ ...ok, type: '1' as unknown as number }), ErrorCode.INVALID_TYPE);
  for (const timestamp of [-1, 2 ** 53, NaN, 1.5]) throwsCode(() => signInner({ ...ok, timestamp }), ErrorCode.INVALID_RANGE);
  throwsCode(() => signInner({ ...ok, senderSecretKey: new Uint8Array(32) }), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => signInner({ ...ok, senderSecretKey: hexToBytes(N.toString(16)) }), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => signInner({ ...ok, senderSecretKey: new Uint8Array(31) }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => signInner({ ...ok, recipient: new Uint8Array(33) }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => signInner({ ...ok, auxRand: new Uint8Array(16) }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => signInner({ ...ok, body: 'x' as unknown as Uint8Array }), ErrorCode.INVALID_TYPE);
});

t('type registry ranges tile 1..0xffff', () => {
  assert.is(InnerTypeRange.PAYMENT.min, 1);
  assert.is(InnerTypeRange.RESERVED.min, InnerTypeRange.PAYMENT.max + 1);
  assert.is(InnerTypeRange.EXPERIMENTAL.min, InnerTypeRange.RESERVED.max + 1);
  assert.is(InnerTypeRange.EXPERIMENTAL.max, 0xffff);
});

t.run();
