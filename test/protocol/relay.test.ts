import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { schnorr } from '@noble/curves/secp256k1.js';
import {
  authMessage, checkPow, envelopeId, leadingZeroBits, parseClientFrame, parseServerFrame,
  powHash, relayOrigin, solvePow, ErrorCode,
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
    'not json', '[]', 'null', '{"type":"nope"}', '{"type":"subscribe","after":-1}', '{"type":"subscribe","after":1.5}',
    '{"type":"ack","ids":[]}', '{"type":"ack","ids":["zz"]}', `{"type":"auth","mailbox":"${hex}","challenge":"${hex}","signature":"00"}`,
    `{"type":"ack","ids":${JSON.stringify(Array(1001).fill(hex))}}`,
  ]) throwsCode(() => parseClientFrame(bad), ErrorCode.BAD_FRAME);
});

t('server frames: valid and hostile', () => {
  const hex = 'cd'.repeat(32);
  const f = parseServerFrame(JSON.stringify({ type: 'envelope', id: hex, seq: 1, envelope: 'AA==', expiresAt: 'x' }));
  assert.is(f.type, 'envelope');
  assert.equal(parseServerFrame('{"type":"backlog_end","seq":0}'), { type: 'backlog_end', seq: 0 });
  assert.equal(parseServerFrame('{"type":"error","error":{"code":"AUTH_EXPIRED","message":"m"}}'), {
    type: 'error', error: { code: 'AUTH_EXPIRED', message: 'm' },
  });
  for (const bad of ['{"type":"envelope","id":"x"}', '{"type":"error","error":1}', '{"type":"ready"}'])
    throwsCode(() => parseServerFrame(bad), ErrorCode.BAD_FRAME);
});

t.run();
