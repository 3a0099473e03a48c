import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { schnorr } from '@noble/curves/secp256k1.js';
import {
  authMessage,
  checkPow,
  decodeAckRequest,
  decodeAckResponse,
  decodeChallengeResponse,
  decodeEnvelopePage,
  decodeErrorBody,
  decodePostEnvelopeResponse,
  decodeRelayInfo,
  decodeSessionRequest,
  decodeSessionResponse,
  decodeStatusResponse,
  encodeAckResponse,
  encodeChallengeResponse,
  encodeEnvelopePage,
  encodeErrorBody,
  encodePostEnvelopeResponse,
  encodeRelayInfo,
  encodeSessionResponse,
  encodeStatusResponse,
  type RelayInfo,
  decodeStoredEnvelope,
  encodeAckRequest,
  encodeSessionRequest,
  MAX_ACK_IDS,
  encodeClientFrame,
  encodeServerFrame,
  encodeStoredEnvelope,
  envelopeId,
  envelopeIdHex,
  leadingZeroBits,
  parseClientFrame,
  parseServerFrame,
  powHash,
  proveAuth,
  relayOrigin,
  seal,
  signAuth,
  solvePow,
  verifyAuth,
  verifyAuthProof,
  verifyStoredEnvelope,
  ErrorCode,
  type ClientFrame,
  type ServerFrame,
} from '../../protocol/index.js';
import { throwsCode } from '../helpers.js';

const t = suite('protocol/relay');

t('auth message binds origin, challenge and mailbox', () => {
  const sk = schnorr.utils.randomSecretKey();
  const pk = schnorr.getPublicKey(sk);
  const ch = new Uint8Array(32).fill(7);
  const m = authMessage('http://127.0.0.1:8080', ch, pk);
  assert.is(m.length, 32);
  const sig = schnorr.sign(m, sk);
  assert.ok(schnorr.verify(sig, m, pk));
  assert.not.ok(schnorr.verify(sig, authMessage('http://127.0.0.1:8081', ch, pk), pk));
  assert.not.ok(schnorr.verify(sig, authMessage('http://127.0.0.1:8080', new Uint8Array(32).fill(8), pk), pk));
  throwsCode(() => authMessage('x', new Uint8Array(31), pk), ErrorCode.INVALID_LENGTH);
  throwsCode(() => authMessage('', ch, pk), ErrorCode.INVALID_TYPE);
});

t('relayOrigin normalizes and rejects junk', () => {
  assert.is(relayOrigin('HTTP://Relay.Example:443/path?q'), 'http://relay.example:443');
  assert.is(relayOrigin('https://relay.example:443/'), 'https://relay.example');
  throwsCode(() => relayOrigin('not a url'), ErrorCode.INVALID_TYPE);
});

t('proof of work: leading zero bits and solve/check', () => {
  assert.is(leadingZeroBits(new Uint8Array([0, 0x80])), 8);
  assert.is(leadingZeroBits(new Uint8Array([0, 0x01])), 15);
  assert.is(leadingZeroBits(new Uint8Array([0, 0])), 16);
  const id = envelopeId(new Uint8Array([1, 2, 3]));
  const nonce = solvePow(id, 10);
  assert.ok(leadingZeroBits(powHash(id, nonce)) >= 10);
  assert.ok(checkPow(id, nonce, 10));
  assert.ok(checkPow(id, new Uint8Array(8), 0));
});

t('client frames: valid and hostile', () => {
  const hex = 'ab'.repeat(32);
  assert.equal(parseClientFrame(JSON.stringify({ type: 'subscribe', after: 5 })), { type: 'subscribe', after: 5 });
  assert.equal(parseClientFrame(JSON.stringify({ type: 'ack', ids: [hex] })), { type: 'ack', ids: [hex] });
  assert.equal(parseClientFrame(JSON.stringify({ type: 'auth', token: 'tok' })), { type: 'auth', token: 'tok' });
  for (const bad of [
    'not json',
    '[]',
    'null',
    '{"type":"nope"}',
    '{"type":"subscribe","after":-1}',
    '{"type":"subscribe","after":1.5}',
    '{"type":"ack","ids":[]}',
    '{"type":"ack","ids":["zz"]}',
    `{"type":"auth","mailbox":"${hex}","challenge":"${hex}","signature":"00"}`,
    `{"type":"ack","ids":${JSON.stringify(Array(1001).fill(hex))}}`,
  ])
    throwsCode(() => parseClientFrame(bad), ErrorCode.BAD_FRAME);
});

t('server frames: valid and hostile', () => {
  const hex = 'cd'.repeat(32);
  const f = parseServerFrame(JSON.stringify({ type: 'envelope', id: hex, seq: 1, envelope: 'AA==', expiresAt: 'x' }));
  assert.is(f.type, 'envelope');
  assert.equal(parseServerFrame('{"type":"backlog_end","seq":0}'), { type: 'backlog_end', seq: 0 });
  assert.equal(parseServerFrame('{"type":"error","error":{"code":"AUTH_EXPIRED","message":"m"}}'), {
    type: 'error',
    error: { code: 'AUTH_EXPIRED', message: 'm' },
  });
  for (const bad of ['{"type":"envelope","id":"x"}', '{"type":"error","error":1}', '{"type":"ready"}'])
    throwsCode(() => parseServerFrame(bad), ErrorCode.BAD_FRAME);
});

t('every frame: the encoder writes the SPEC field order, the decoder reads it back', () => {
  const hex = 'ab'.repeat(32);
  const sig = 'cd'.repeat(64);
  const client: [ClientFrame, string][] = [
    [
      { type: 'auth', mailbox: hex, challenge: hex, signature: sig },
      `{"type":"auth","mailbox":"${hex}","challenge":"${hex}","signature":"${sig}"}`,
    ],
    [{ type: 'auth', token: 'tok' }, '{"type":"auth","token":"tok"}'],
    [{ type: 'subscribe', after: 7 }, '{"type":"subscribe","after":7}'],
    [{ type: 'ack', ids: [hex, hex] }, `{"type":"ack","ids":["${hex}","${hex}"]}`],
  ];
  for (const [f, text] of client) {
    assert.is(encodeClientFrame(f), text);
    assert.equal(parseClientFrame(text), f);
  }
  const server: [ServerFrame, string][] = [
    [{ type: 'challenge', challenge: hex, expiresAt: 'T' }, `{"type":"challenge","challenge":"${hex}","expiresAt":"T"}`],
    [{ type: 'ready', mailbox: hex }, `{"type":"ready","mailbox":"${hex}"}`],
    [
      { type: 'envelope', id: hex, seq: 3, envelope: 'AAE=', expiresAt: 'T' },
      `{"type":"envelope","id":"${hex}","seq":3,"envelope":"AAE=","expiresAt":"T"}`,
    ],
    [{ type: 'backlog_end', seq: 0 }, '{"type":"backlog_end","seq":0}'],
    [{ type: 'acked', ids: [hex] }, `{"type":"acked","ids":["${hex}"]}`],
    [
      { type: 'error', error: { code: ErrorCode.AUTH_EXPIRED, message: 'm' } },
      '{"type":"error","error":{"code":"AUTH_EXPIRED","message":"m"}}',
    ],
  ];
  for (const [f, text] of server) {
    assert.is(encodeServerFrame(f), text);
    assert.equal(parseServerFrame(text), f);
  }
  // Field order is the encoder's, not the caller's object's.
  assert.is(encodeServerFrame({ seq: 1, type: 'backlog_end' } as ServerFrame), '{"type":"backlog_end","seq":1}');
  // Extra fields a caller carries never reach the wire.
  assert.is(encodeServerFrame({ type: 'ready', mailbox: hex, secret: 'x' } as ServerFrame), `{"type":"ready","mailbox":"${hex}"}`);
});

t('stored envelope: one JSON shape for the listing and the envelope frame', () => {
  const bytes = new Uint8Array([0, 1, 2, 250, 255]);
  const json = encodeStoredEnvelope({ id: 'ef'.repeat(32), seq: 9, envelope: bytes, expiresAt: Date.UTC(2030, 0, 2) });
  assert.is(JSON.stringify(json), `{"id":"${'ef'.repeat(32)}","seq":9,"envelope":"AAEC+v8=","expiresAt":"2030-01-02T00:00:00.000Z"}`);
  assert.equal(decodeStoredEnvelope(JSON.parse(JSON.stringify(json))), json);
  // An injected base64 encoder (the relay's native one) must give the same text.
  assert.equal(
    encodeStoredEnvelope({ ...json, envelope: bytes, expiresAt: Date.UTC(2030, 0, 2) }, (b) => Buffer.from(b).toString('base64')),
    json,
  );
  for (const bad of [
    null,
    [],
    'x',
    { ...json, id: 'EF'.repeat(32) },
    { ...json, seq: -1 },
    { ...json, seq: 1.5 },
    { ...json, seq: '1' },
    { ...json, envelope: 5 },
    { ...json, expiresAt: undefined },
  ])
    throwsCode(() => decodeStoredEnvelope(bad), ErrorCode.BAD_FRAME, JSON.stringify(bad));
});

t('verifyStoredEnvelope: the body must be base64 of an envelope for this mailbox that hashes to the id', () => {
  const bob = schnorr.utils.randomSecretKey();
  const mailbox = schnorr.getPublicKey(bob);
  const env = seal({ senderSecretKey: schnorr.utils.randomSecretKey(), recipient: mailbox, type: 1, body: new Uint8Array(3) });
  const json = encodeStoredEnvelope({ id: envelopeIdHex(env), seq: 1, envelope: env, expiresAt: 0 });
  assert.equal(verifyStoredEnvelope(json, mailbox), env);
  throwsCode(() => verifyStoredEnvelope(json, schnorr.getPublicKey(schnorr.utils.randomSecretKey())), ErrorCode.ENVELOPE_WRONG_RECIPIENT);
  throwsCode(() => verifyStoredEnvelope({ ...json, id: 'ab'.repeat(32) }, mailbox), ErrorCode.RELAY_BAD_RESPONSE);
  throwsCode(() => verifyStoredEnvelope({ ...json, envelope: json.envelope.slice(1) }, mailbox), ErrorCode.BAD_FRAME);
  throwsCode(() => verifyStoredEnvelope({ ...json, envelope: 'AAAA' }, mailbox), ErrorCode.ENVELOPE_UNKNOWN_VERSION);
  throwsCode(() => verifyStoredEnvelope(json, mailbox, env.length - 1), ErrorCode.ENVELOPE_TOO_LARGE);
});

t('auth proof: one signer for the client, one verifier for the relay', () => {
  const sk = schnorr.utils.randomSecretKey();
  const pk = schnorr.getPublicKey(sk);
  const origin = 'https://relay.example';
  const ch = 'a5'.repeat(32);
  const proof = proveAuth(origin, ch, sk);
  assert.is(proof.mailbox, Buffer.from(pk).toString('hex'));
  assert.is(proof.challenge, ch);
  // An independent check with noble: the proof is BIP340 over authMessage.
  assert.ok(schnorr.verify(Buffer.from(proof.signature, 'hex'), authMessage(origin, Buffer.from(ch, 'hex'), pk), pk));
  assert.ok(verifyAuthProof(origin, proof));
  assert.not.ok(verifyAuthProof('https://other.example', proof), 'bound to the origin');
  assert.not.ok(verifyAuthProof(origin, { ...proof, challenge: 'a6'.repeat(32) }), 'bound to the challenge');
  assert.not.ok(
    verifyAuthProof(origin, { ...proof, mailbox: Buffer.from(schnorr.getPublicKey(schnorr.utils.randomSecretKey())).toString('hex') }),
    'bound to the mailbox',
  );
  assert.not.ok(verifyAuthProof(origin, { ...proof, mailbox: 'ff'.repeat(32) }), 'a key off the curve does not verify, and does not throw');
  assert.not.ok(verifyAuthProof(origin, { ...proof, signature: 'ff'.repeat(64) }), 'r, s out of range do not verify, and do not throw');
  throwsCode(() => verifyAuthProof(origin, { ...proof, signature: 'ab' }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => verifyAuthProof(origin, { ...proof, mailbox: 'AB'.repeat(32) }), ErrorCode.INVALID_HEX);
  const bytesSig = signAuth(origin, Buffer.from(ch, 'hex'), sk);
  assert.ok(verifyAuth(origin, Buffer.from(ch, 'hex'), pk, bytesSig));
  throwsCode(() => proveAuth(origin, 'zz', sk), ErrorCode.INVALID_HEX);
  throwsCode(() => proveAuth(origin, ch, new Uint8Array(32)), ErrorCode.INVALID_SECRET_KEY);
});

t('HTTP request bodies: the session request and the ack, one encoder and one decoder each', () => {
  const proof = { mailbox: 'a1'.repeat(32), challenge: 'b2'.repeat(32), signature: 'c3'.repeat(64) };
  const text = encodeSessionRequest(proof);
  assert.is(text, `{"mailbox":"${proof.mailbox}","challenge":"${proof.challenge}","signature":"${proof.signature}"}`);
  assert.equal(decodeSessionRequest(JSON.parse(text)), proof);
  // Extra fields are not echoed back; hostile bodies are BAD_REQUEST (the WebSocket frame says BAD_FRAME).
  assert.equal(decodeSessionRequest({ ...proof, admin: true }), proof);
  for (const bad of [
    null,
    [],
    'x',
    {},
    { ...proof, mailbox: 'A1'.repeat(32) },
    { ...proof, challenge: 7 },
    { ...proof, signature: 'c3'.repeat(32) },
  ]) {
    throwsCode(() => decodeSessionRequest(bad), ErrorCode.BAD_REQUEST);
  }
  throwsCode(() => parseClientFrame(JSON.stringify({ type: 'auth', ...proof, signature: 'c3' })), ErrorCode.BAD_FRAME);

  const ids = ['d4'.repeat(32), 'e5'.repeat(32)];
  assert.is(encodeAckRequest(ids), `{"ids":["${ids[0]}","${ids[1]}"]}`);
  assert.equal(decodeAckRequest(JSON.parse(encodeAckRequest(ids))), ids);
  const tooMany = Array.from({ length: MAX_ACK_IDS + 1 }, () => ids[0]!);
  for (const bad of [undefined, {}, { ids: [] }, { ids: 'd4' }, { ids: ['D4'.repeat(32)] }, { ids: tooMany }]) {
    throwsCode(() => decodeAckRequest(bad), ErrorCode.BAD_REQUEST);
  }
});

t('HTTP response bodies: one encoder for the relay, one decoder for the client, SPEC field order', () => {
  const hex = 'f0'.repeat(32);
  const info: RelayInfo = {
    protocol: 1,
    software: 'ln-mailbox',
    version: '0.1.0',
    limits: {
      maxEnvelopeBytes: 65536,
      maxTtlSeconds: 2592000,
      defaultTtlSeconds: 604800,
      maxEnvelopesPerMailbox: 10000,
      maxBytesPerMailbox: 67108864,
      maxFrameBytes: 131072,
      authTimeoutMs: 10000,
    },
    powBits: 0,
  };
  const entry = { id: hex, seq: 2, envelope: 'AAE=', expiresAt: 'T' };
  // [encoded text, decoder, decoded value]
  const cases: [string, string, (b: unknown) => unknown, unknown][] = [
    [
      encodeRelayInfo(info),
      '{"protocol":1,"software":"ln-mailbox","version":"0.1.0","limits":{"maxEnvelopeBytes":65536,"maxTtlSeconds":2592000,"defaultTtlSeconds":604800,"maxEnvelopesPerMailbox":10000,"maxBytesPerMailbox":67108864,"maxFrameBytes":131072,"authTimeoutMs":10000},"powBits":0}',
      decodeRelayInfo,
      info,
    ],
    [
      encodePostEnvelopeResponse({ seq: 4, id: hex, expiresAt: 'T' }),
      `{"id":"${hex}","seq":4,"expiresAt":"T"}`,
      decodePostEnvelopeResponse,
      { id: hex, seq: 4, expiresAt: 'T' },
    ],
    [encodeStatusResponse('retracted'), '{"status":"retracted"}', decodeStatusResponse, 'retracted'],
    [
      encodeChallengeResponse({ challenge: hex, expiresAt: 'T' }),
      `{"challenge":"${hex}","expiresAt":"T"}`,
      decodeChallengeResponse,
      { challenge: hex, expiresAt: 'T' },
    ],
    [
      encodeSessionResponse({ token: 'a-b_C', expiresAt: 'T' }),
      '{"token":"a-b_C","expiresAt":"T"}',
      decodeSessionResponse,
      { token: 'a-b_C', expiresAt: 'T' },
    ],
    [
      encodeEnvelopePage({ envelopes: [entry], more: true }),
      `{"envelopes":[{"id":"${hex}","seq":2,"envelope":"AAE=","expiresAt":"T"}],"more":true}`,
      decodeEnvelopePage,
      { envelopes: [entry], more: true },
    ],
    [encodeAckResponse(3), '{"acked":3}', decodeAckResponse, 3],
  ];
  for (const [text, want, decode, value] of cases) {
    assert.is(text, want);
    assert.equal(decode(JSON.parse(text)), value);
    // Unknown fields are ignored (SPEC 5.1) and never echoed.
    if (typeof value === 'object') assert.equal(decode({ ...JSON.parse(text), extra: 1 }), value);
  }
  const hostile: [(b: unknown) => unknown, unknown[]][] = [
    [
      decodeRelayInfo,
      [
        null,
        [],
        {},
        { ...info, powBits: 65 },
        { ...info, powBits: -1 },
        { ...info, limits: null },
        { ...info, limits: { ...info.limits, maxFrameBytes: '1' } },
        { ...info, version: 1 },
      ],
    ],
    [
      decodePostEnvelopeResponse,
      [{}, { id: 'F0'.repeat(32), seq: 1, expiresAt: 'T' }, { id: hex, seq: 1.5, expiresAt: 'T' }, { id: hex, seq: 1 }],
    ],
    [decodeStatusResponse, [{}, { status: 'gone' }, { status: ['queued'] }, 'queued']],
    [decodeChallengeResponse, [{ challenge: 'ab', expiresAt: 'T' }, { challenge: hex }]],
    // The token goes into an Authorization header: CR/LF or spaces would inject headers.
    [
      decodeSessionResponse,
      [{ token: '', expiresAt: 'T' }, { token: 'a\r\nX: y', expiresAt: 'T' }, { token: 'x'.repeat(257), expiresAt: 'T' }, { token: 'a' }],
    ],
    [
      decodeEnvelopePage,
      [
        { envelopes: {}, more: false },
        { envelopes: [], more: 'no' },
        { envelopes: [{ ...entry, seq: -1 }], more: false },
      ],
    ],
    [decodeAckResponse, [{}, { acked: -1 }, { acked: '1' }, null]],
  ];
  for (const [decode, bads] of hostile)
    for (const bad of bads) throwsCode(() => decode(bad), ErrorCode.RELAY_BAD_RESPONSE, `${decode.name} ${JSON.stringify(bad)}`);
  throwsCode(() => decodeAckResponse({}, ErrorCode.BAD_FRAME), ErrorCode.BAD_FRAME);
});

t('error body: one encoder, one decoder, for HTTP responses and the WebSocket error frame', () => {
  const e = { code: ErrorCode.MAILBOX_FULL, message: 'full', stack: 'not on the wire' };
  assert.is(JSON.stringify(encodeErrorBody(e)), '{"error":{"code":"MAILBOX_FULL","message":"full"}}');
  assert.equal(decodeErrorBody({ error: { code: 'SOME_FUTURE_CODE', message: 'm' } }), {
    error: { code: 'SOME_FUTURE_CODE', message: 'm' },
  });
  for (const bad of [
    null,
    {},
    { error: 'x' },
    { error: { code: 'lower', message: 'm' } },
    { error: { code: 'A'.repeat(65), message: 'm' } },
    { error: { code: 'X' } },
  ]) {
    throwsCode(() => decodeErrorBody(bad), ErrorCode.BAD_FRAME);
    throwsCode(() => decodeErrorBody(bad, ErrorCode.RELAY_BAD_RESPONSE), ErrorCode.RELAY_BAD_RESPONSE);
  }
});

t.run();
