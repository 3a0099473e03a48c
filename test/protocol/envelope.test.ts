import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import {
  ENVELOPE_HEADER_LEN,
  ENVELOPE_MIN_LEN,
  ENVELOPE_VERSION,
  ErrorCode,
  bytesToHex,
  envelopeId,
  envelopeIdHex,
  envelopeKey,
  hexToBytes,
  open,
  pad,
  parseEnvelopeHeader,
  seal,
  sharedSecretX,
  signInner,
} from '../../protocol/index.js';
import { generateEnvelopeVectors, type EnvelopeVector } from '../../scripts/vectors/generate-envelope.js';
import { throwsCode } from '../helpers.js';

const t = suite('protocol/envelope');
const FILE = new URL('../../protocol/vectors/envelope.json', import.meta.url);
const committed = readFileSync(FILE, 'utf8');
const vectors = JSON.parse(committed) as EnvelopeVector[];
const hx = (s: string) => hexToBytes(s);

t('envelope.json is exactly what the generator produces from its fixed inputs', () => {
  assert.is(JSON.stringify(generateEnvelopeVectors(), null, 2) + '\n', committed);
});

t('the vectors cover what the spec promises', () => {
  const valid = vectors.filter((v) => v.valid);
  const errors = new Set(vectors.filter((v) => !v.valid).map((v) => v.error));
  assert.ok(
    valid.some((v) => v.body === ''),
    'empty body',
  );
  assert.ok(
    valid.some((v) => v.body.length / 2 >= 5000),
    '~5 KiB body',
  );
  assert.ok(
    valid.some((v) => v.innerMessage.length / 2 + 2 === v.plaintext.length / 2),
    'bucket filled exactly',
  );
  const odd = (skHex: string) => secp256k1.getPublicKey(hx(skHex), true)[0] === 0x03;
  assert.ok(valid.some((v) => odd(v.recipientSecretKey)) && valid.some((v) => !odd(v.recipientSecretKey)), 'recipient parities');
  assert.ok(valid.some((v) => odd(v.ephemeralSecretKey)) && valid.some((v) => !odd(v.ephemeralSecretKey)), 'ephemeral parities');
  for (const code of [
    'ENVELOPE_BAD_TAG',
    'ENVELOPE_WRONG_RECIPIENT',
    'ENVELOPE_TRUNCATED',
    'ENVELOPE_UNKNOWN_VERSION',
    'ENVELOPE_BAD_PADDING',
    'ENVELOPE_BAD_INNER',
    'ENVELOPE_BAD_SIGNATURE',
    'INVALID_PUBLIC_KEY',
  ])
    assert.ok(errors.has(code), code);
  for (const v of vectors)
    for (const [k, val] of Object.entries(v))
      if (typeof val === 'string' && k !== 'description' && k !== 'error') assert.ok(/^([0-9a-f]{2})*$/.test(val), `${k} lowercase hex`);
});

t('valid vectors: seal reproduces every byte, and open returns the content', () => {
  for (const v of vectors.filter((x) => x.valid)) {
    const env = seal({
      senderSecretKey: hx(v.senderSecretKey),
      recipient: hx(v.recipient),
      type: v.type,
      body: hx(v.body),
      timestamp: v.timestamp,
      ephemeralSecretKey: hx(v.ephemeralSecretKey),
      nonce: hx(v.nonce),
      auxRand: hx(v.auxRand),
    });
    assert.is(bytesToHex(env), v.envelope, v.description);
    const o = open(hx(v.envelope), hx(v.recipientSecretKey));
    assert.is(bytesToHex(o.id), v.id);
    assert.is(bytesToHex(o.sender), v.sender);
    assert.is(o.type, v.type);
    assert.is(o.timestamp, v.timestamp);
    assert.is(bytesToHex(o.body), v.body);
  }
});

t('valid vectors: every intermediate value agrees with the library pieces', () => {
  for (const v of vectors.filter((x) => x.valid)) {
    const shared = sharedSecretX(hx(v.ephemeralSecretKey), hx(v.recipient));
    assert.is(bytesToHex(shared), v.sharedSecret);
    assert.is(bytesToHex(sharedSecretX(hx(v.recipientSecretKey), hx(v.ephemeral))), v.sharedSecret);
    assert.is(bytesToHex(envelopeKey(shared, hx(v.ephemeral), hx(v.recipient))), v.key);
    const inner = signInner({
      senderSecretKey: hx(v.senderSecretKey),
      recipient: hx(v.recipient),
      type: v.type,
      timestamp: v.timestamp,
      body: hx(v.body),
      auxRand: hx(v.auxRand),
    });
    assert.is(bytesToHex(inner), v.innerMessage);
    assert.is(bytesToHex(pad(inner)), v.plaintext);
    assert.is(v.id, envelopeIdHex(hx(v.envelope)));
  }
});

t('invalid vectors: open rejects each with the stated code', () => {
  for (const v of vectors.filter((x) => !x.valid)) {
    throwsCode(() => open(hx(v.envelope), hx(v.recipientSecretKey)), v.error!, v.description);
  }
});

t('parseEnvelopeHeader: fields are views at the documented offsets', () => {
  const v = vectors[0]!;
  const env = hx(v.envelope);
  const h = parseEnvelopeHeader(env);
  assert.is(h.version, ENVELOPE_VERSION);
  assert.is(bytesToHex(h.recipient), v.recipient);
  assert.is(bytesToHex(h.ephemeral), v.ephemeral);
  assert.is(bytesToHex(h.nonce), v.nonce);
  assert.is(ENVELOPE_HEADER_LEN, 89);
  assert.equal(envelopeId(env), hx(v.id));
  throwsCode(() => parseEnvelopeHeader(env.subarray(0, ENVELOPE_MIN_LEN - 1)), ErrorCode.ENVELOPE_TRUNCATED);
  throwsCode(() => parseEnvelopeHeader(env, ENVELOPE_MIN_LEN - 1), ErrorCode.ENVELOPE_TOO_LARGE);
  throwsCode(() => parseEnvelopeHeader(Uint8Array.of(2)), ErrorCode.ENVELOPE_UNKNOWN_VERSION);
  throwsCode(() => parseEnvelopeHeader(new Uint8Array(0)), ErrorCode.ENVELOPE_TRUNCATED);
  throwsCode(() => envelopeId([1] as unknown as Uint8Array), ErrorCode.INVALID_TYPE);
});

t.run();
