/** Relay limits: mailbox quotas, per-IP rate and connection limits, proof of work. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { envelopeId, envelopeIdHex } from '../../protocol/envelope.js';
import { checkPow, solvePow } from '../../protocol/relay.js';
import { T0, TestSocket, fakeEnvelope, login, newMailbox, postEnvelope, request, startTestRelay } from './relay-harness.js';

const t = suite('relay limits');

t('mailbox quota: envelope count and bytes; acking frees room; other mailboxes unaffected', async () => {
  const r = await startTestRelay({ maxEnvelopesPerMailbox: 3, maxEnvelopeBytes: 1024, maxBytesPerMailbox: 2048 });
  try {
    const bob = newMailbox();
    const carol = newMailbox();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const e = fakeEnvelope(bob.id, 300);
      ids.push(envelopeIdHex(e));
      assert.is((await postEnvelope(r.url, bob.id, e)).status, 201);
    }
    const full = await postEnvelope(r.url, bob.id, fakeEnvelope(bob.id, 300));
    assert.equal([full.status, full.body.error.code], [409, 'MAILBOX_FULL']);
    assert.is((await postEnvelope(r.url, bob.id, fakeEnvelope(bob.id, 300).slice())).status, 409);
    assert.is((await postEnvelope(r.url, carol.id, fakeEnvelope(carol.id, 1000))).status, 201);
    assert.is((await postEnvelope(r.url, carol.id, fakeEnvelope(carol.id, 1000))).status, 201);
    const bytes = await postEnvelope(r.url, carol.id, fakeEnvelope(carol.id, 1000));
    assert.equal([bytes.status, bytes.body.error.code], [409, 'MAILBOX_FULL'], 'byte quota');
    const token = await login(r.url, bob);
    await request(`${r.url}/v1/mailboxes/${bob.id}/acks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ids: [ids[0]] }),
    });
    assert.is((await postEnvelope(r.url, bob.id, fakeEnvelope(bob.id, 300))).status, 201, 'room again after ack');
  } finally {
    await r.close();
  }
});

t('rate limit: token bucket per client IP, refilled by time, Retry-After given', async () => {
  const r = await startTestRelay({ postBurst: 5, postRatePerSecond: 1 });
  try {
    const bob = newMailbox();
    for (let i = 0; i < 5; i++) assert.is((await postEnvelope(r.url, bob.id, fakeEnvelope(bob.id))).status, 201);
    const limited = await postEnvelope(r.url, bob.id, fakeEnvelope(bob.id));
    assert.equal([limited.status, limited.body.error.code], [429, 'RATE_LIMITED']);
    assert.is(limited.headers.get('retry-after'), '1');
    const ch = await request(`${r.url}/v1/auth/challenge`, { method: 'POST' });
    assert.is(ch.status, 429, 'auth challenges share the bucket');
    // Without trusted proxies, X-Forwarded-For cannot buy a fresh bucket.
    const spoof = await postEnvelope(r.url, bob.id, fakeEnvelope(bob.id), { 'x-forwarded-for': '10.9.9.9' });
    assert.is(spoof.status, 429);
    assert.is((await request(`${r.url}/v1/info`)).status, 200, 'reads are not limited');
    r.clock.t = T0 + 1000;
    assert.is((await postEnvelope(r.url, bob.id, fakeEnvelope(bob.id))).status, 201, 'refilled');
    assert.is((await postEnvelope(r.url, bob.id, fakeEnvelope(bob.id))).status, 429);
  } finally {
    await r.close();
  }
});

t('rate limit behind a trusted proxy is keyed by the forwarded client address', async () => {
  const r = await startTestRelay({ postBurst: 2, postRatePerSecond: 1, trustProxy: 1 });
  try {
    const bob = newMailbox();
    const from = (ip: string) => postEnvelope(r.url, bob.id, fakeEnvelope(bob.id), { 'x-forwarded-for': `6.6.6.6, ${ip}` });
    assert.is((await from('10.0.0.1')).status, 201);
    assert.is((await from('10.0.0.1')).status, 201);
    assert.is((await from('10.0.0.1')).status, 429);
    assert.is((await from('10.0.0.2')).status, 201, 'another client behind the proxy has its own bucket');
  } finally {
    await r.close();
  }
});

t('proof of work: advertised, required, checked', async () => {
  const bits = 8;
  const r = await startTestRelay({ powBits: bits });
  try {
    const bob = newMailbox();
    assert.is((await request(`${r.url}/v1/info`)).body.powBits, bits);
    const e = fakeEnvelope(bob.id);
    const missing = await postEnvelope(r.url, bob.id, e);
    assert.equal([missing.status, missing.body.error.code], [403, 'POW_REQUIRED']);
    const id = envelopeId(e);
    let weak = new Uint8Array(8);
    for (let i = 0; checkPow(id, weak, bits); i++) weak = Uint8Array.from(Buffer.from(i.toString(16).padStart(16, '0'), 'hex'));
    const insufficient = await postEnvelope(r.url, bob.id, e, { 'x-mailbox-pow': Buffer.from(weak).toString('hex') });
    assert.equal([insufficient.status, insufficient.body.error.code], [403, 'POW_REQUIRED']);
    const malformed = await postEnvelope(r.url, bob.id, e, { 'x-mailbox-pow': 'xyz' });
    assert.equal([malformed.status, malformed.body.error.code], [400, 'BAD_REQUEST']);
    const stamp = Buffer.from(solvePow(id, bits)).toString('hex');
    assert.is((await postEnvelope(r.url, bob.id, e, { 'x-mailbox-pow': stamp })).status, 201);
    const other = fakeEnvelope(bob.id);
    const reused = await postEnvelope(r.url, bob.id, other, { 'x-mailbox-pow': stamp });
    assert.is(reused.status, checkPow(envelopeId(other), Buffer.from(stamp, 'hex'), bits) ? 201 : 403, 'a stamp binds one envelope id');
  } finally {
    await r.close();
  }
});

t('connections per IP: the one over the limit is closed with 4003', async () => {
  const r = await startTestRelay({ maxConnectionsPerIp: 2 });
  try {
    const a = new TestSocket(r.url);
    const b = new TestSocket(r.url);
    await a.next('challenge');
    await b.next('challenge');
    const c = new TestSocket(r.url);
    assert.is((await c.next('error')).error.code, 'TOO_MANY_CONNECTIONS');
    assert.is((await c.closed).code, 4003);
    await a.close();
    for (let i = 0; i < 100 && r.relay.connections > 1; i++) await new Promise((res) => setTimeout(res, 10));
    const d = new TestSocket(r.url);
    await d.next('challenge');
    await b.close();
    await d.close();
  } finally {
    await r.close();
  }
});

t.run();
