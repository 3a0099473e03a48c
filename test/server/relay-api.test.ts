/** The relay's HTTP API end to end: real relay, real LevelDB, real sealed envelopes. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { schnorr } from '@noble/curves/secp256k1.js';
import { envelopeIdHex } from '../../protocol/envelope.js';
import { relayOrigin } from '../../protocol/relay.js';
import { open, seal } from '../../protocol/seal.js';
import { LevelStore } from '../../server/store/level/store.js';
import { RELAY_SOFTWARE_VERSION, startRelay } from '../../server/relay.js';
import {
  T0,
  TestSocket,
  fakeEnvelope,
  list,
  login,
  newMailbox,
  postEnvelope,
  request,
  statusOf,
  subscribed,
  startTestRelay,
  type TestRelay,
} from './relay-harness.js';

const t = suite<{ r: TestRelay }>('relay http api', { r: undefined as unknown as TestRelay });
t.before.each(async (ctx) => {
  ctx.r = await startTestRelay();
});
t.after.each(async (ctx) => {
  await ctx.r.close();
});

const hash = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

t('GET /v1/info advertises protocol, version, limits and PoW', async ({ r }) => {
  const res = await request(`${r.url}/v1/info`);
  assert.is(res.status, 200);
  assert.is(res.body.protocol, 1);
  assert.is(res.body.software, 'ln-mailbox');
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  assert.is(res.body.version, pkg.version);
  assert.is(RELAY_SOFTWARE_VERSION, pkg.version);
  assert.equal(res.body.limits, {
    maxEnvelopeBytes: 65536,
    maxTtlSeconds: 2592000,
    defaultTtlSeconds: 604800,
    maxEnvelopesPerMailbox: 10000,
    maxBytesPerMailbox: 67108864,
    maxFrameBytes: 131072,
    authTimeoutMs: 10000,
  });
  assert.is(res.body.powBits, 0);
});

t('round trip: post → queued → auth → push over WS → open → ack → acknowledged', async ({ r }) => {
  const sender = schnorr.utils.randomSecretKey();
  const bob = newMailbox();
  const body = new TextEncoder().encode('pay-for-signature offer');
  const envelope = seal({ senderSecretKey: sender, recipient: Buffer.from(bob.id, 'hex'), type: 1, body, timestamp: T0 });
  const id = envelopeIdHex(envelope);

  const posted = await postEnvelope(r.url, bob.id, envelope);
  assert.is(posted.status, 201);
  assert.equal(posted.body, { id, seq: 1, expiresAt: new Date(T0 + 7 * 86400_000).toISOString() });
  const again = await postEnvelope(r.url, bob.id, envelope);
  assert.is(again.status, 200, 'idempotent re-post');
  assert.equal(again.body, posted.body);
  assert.is(await statusOf(r.url, id), 'queued');

  const ws = await subscribed(r.url, bob);
  const [pushed] = ws.envelopes();
  assert.ok(pushed, 'backlog pushed');
  assert.is(pushed.id, id);
  assert.is(pushed.seq, 1);
  const bytes = new Uint8Array(Buffer.from(pushed.envelope, 'base64'));
  assert.equal(Buffer.from(bytes), Buffer.from(envelope), 'exact bytes');
  const opened = open(bytes, bob.sk);
  assert.equal(Buffer.from(opened.body).toString(), 'pay-for-signature offer');
  assert.equal((await ws.next('backlog_end')).seq, 1);
  await eventuallyStatus(r.url, id, 'delivered');

  ws.send({ type: 'ack', ids: [id] });
  assert.equal((await ws.next('acked')).ids, [id]);
  assert.is(await statusOf(r.url, id), 'acknowledged');
  const token = await login(r.url, bob);
  assert.equal((await list(r.url, bob.id, token)).body, { envelopes: [], more: false });
  await ws.close();
});

async function eventuallyStatus(url: string, id: string, want: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await statusOf(url, id)) === want) return;
    await new Promise((res) => setTimeout(res, 5));
  }
  assert.is(await statusOf(url, id), want);
}

t('listing by cursor with paging, delivered marking, HTTP acks', async ({ r }) => {
  const bob = newMailbox();
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const e = fakeEnvelope(bob.id);
    ids.push(envelopeIdHex(e));
    assert.is((await postEnvelope(r.url, bob.id, e)).body.seq, i + 1);
  }
  const token = await login(r.url, bob);
  const p1 = await list(r.url, bob.id, token, '?limit=2');
  assert.is(p1.status, 200);
  assert.equal(
    p1.body.envelopes.map((e: { seq: number }) => e.seq),
    [1, 2],
  );
  assert.is(p1.body.more, true);
  assert.equal(p1.body.envelopes[0].id, ids[0]);
  assert.is(p1.body.envelopes[0].expiresAt, new Date(T0 + 7 * 86400_000).toISOString());
  const p2 = await list(r.url, bob.id, token, '?after=2&limit=10');
  assert.equal(
    p2.body.envelopes.map((e: { seq: number }) => e.seq),
    [3, 4, 5],
  );
  assert.is(p2.body.more, false);
  await eventuallyStatus(r.url, ids[0]!, 'delivered');

  const acked = await request(`${r.url}/v1/mailboxes/${bob.id}/acks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ids: [ids[0], ids[1], 'ff'.repeat(32)] }),
  });
  assert.equal([acked.status, acked.body], [200, { acked: 2 }]);
  const rest = await list(r.url, bob.id, token);
  assert.equal(
    rest.body.envelopes.map((e: { seq: number }) => e.seq),
    [3, 4, 5],
  );
  assert.is(await statusOf(r.url, ids[0]!), 'acknowledged');
});

t('retraction: wrong secret refused, right secret retracts for good, acked is too late', async ({ r }) => {
  const bob = newMailbox();
  const secret = randomBytes(32);
  const e = fakeEnvelope(bob.id);
  const id = envelopeIdHex(e);
  const retractHeader = { 'x-mailbox-retraction-hash': hash(secret) };
  assert.is((await postEnvelope(r.url, bob.id, e, retractHeader)).status, 201);
  const del = (s: Buffer | string) =>
    request(`${r.url}/v1/envelopes/${id}`, {
      method: 'DELETE',
      headers: { 'x-mailbox-retraction-secret': typeof s === 'string' ? s : s.toString('hex') },
    });
  const wrong = await del(randomBytes(32));
  assert.equal([wrong.status, wrong.body.error.code], [403, 'RETRACT_FORBIDDEN']);
  assert.is(await statusOf(r.url, id), 'queued');
  const ok = await del(secret);
  assert.equal([ok.status, ok.body], [200, { status: 'retracted' }]);
  assert.is(await statusOf(r.url, id), 'retracted');
  assert.is((await postEnvelope(r.url, bob.id, e, retractHeader)).status, 200, 're-post does not resurrect');
  const token = await login(r.url, bob);
  assert.equal((await list(r.url, bob.id, token)).body.envelopes, []);

  const e2 = fakeEnvelope(bob.id);
  const id2 = envelopeIdHex(e2);
  await postEnvelope(r.url, bob.id, e2, retractHeader);
  await request(`${r.url}/v1/mailboxes/${bob.id}/acks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ids: [id2] }),
  });
  const late = await request(`${r.url}/v1/envelopes/${id2}`, {
    method: 'DELETE',
    headers: { 'x-mailbox-retraction-secret': secret.toString('hex') },
  });
  assert.equal([late.status, late.body.error.code], [409, 'RETRACT_TOO_LATE']);
  const none = await request(`${r.url}/v1/envelopes/${'00'.repeat(32)}`, {
    method: 'DELETE',
    headers: { 'x-mailbox-retraction-secret': secret.toString('hex') },
  });
  assert.equal([none.status, none.body.error.code], [404, 'ENVELOPE_NOT_FOUND']);
  const noHash = fakeEnvelope(bob.id);
  await postEnvelope(r.url, bob.id, noHash);
  const forbidden = await request(`${r.url}/v1/envelopes/${envelopeIdHex(noHash)}`, {
    method: 'DELETE',
    headers: { 'x-mailbox-retraction-secret': secret.toString('hex') },
  });
  assert.equal([forbidden.status, forbidden.body.error.code], [403, 'RETRACT_FORBIDDEN']);
});

t('expiry with the injected clock: never served, swept, tombstone ends; TTL is clamped', async ({ r }) => {
  const bob = newMailbox();
  const short = fakeEnvelope(bob.id);
  const long = fakeEnvelope(bob.id);
  const p = await postEnvelope(r.url, bob.id, short, { 'x-mailbox-ttl': '60' });
  assert.is(p.body.expiresAt, new Date(T0 + 60_000).toISOString());
  const clamped = await postEnvelope(r.url, bob.id, long, { 'x-mailbox-ttl': '999999999' });
  assert.is(clamped.body.expiresAt, new Date(T0 + 30 * 86400_000).toISOString(), 'clamped to maxTtlSeconds');
  const token = await login(r.url, bob);
  r.clock.t = T0 + 60_000;
  assert.is(await statusOf(r.url, envelopeIdHex(short)), 'expired');
  assert.equal(
    (await list(r.url, bob.id, token)).body.envelopes.map((e: { seq: number }) => e.seq),
    [2],
  );
  const ws = await subscribed(r.url, bob);
  assert.equal(
    ws.envelopes().map((e) => e.seq),
    [2],
    'not pushed either',
  );
  await ws.close();
  const swept = await r.relay.sweep();
  assert.is(swept.expired, 1);
  assert.is(await statusOf(r.url, envelopeIdHex(short)), 'expired');
  r.clock.t = T0 + 60_000 + 24 * 3600_000;
  await r.relay.sweep();
  assert.is(await statusOf(r.url, envelopeIdHex(short)), 'ENVELOPE_NOT_FOUND');
  assert.is(await statusOf(r.url, envelopeIdHex(long)), 'delivered', 'untouched by the sweep');
  const metrics = await request(`${r.url}/metrics`);
  assert.match(metrics.body, /lnmb_envelopes_expired_total 1/);
});

t('healthz, readyz and metrics (no mailbox ids in labels)', async ({ r }) => {
  const bob = newMailbox();
  await postEnvelope(r.url, bob.id, fakeEnvelope(bob.id));
  assert.equal((await request(`${r.url}/healthz`)).body, { status: 'ok' });
  assert.equal((await request(`${r.url}/readyz`)).body, { status: 'ready' });
  const m = await request(`${r.url}/metrics`);
  assert.is(m.status, 200);
  for (const name of [
    'lnmb_http_requests_total',
    'lnmb_envelopes_stored_total 1',
    'lnmb_envelope_bytes_stored_total',
    'lnmb_store_write_seconds_bucket',
    'lnmb_ws_connections',
    'lnmb_nodejs_eventloop_lag_seconds',
    'lnmb_store_envelopes 1',
    'route="/v1/mailboxes/:mailbox/envelopes"',
  ])
    assert.ok(m.body.includes(name), name);
  assert.not.ok(m.body.includes(bob.id), 'mailbox id leaked into metrics');
});

t('HEAD is no method of the API (SPEC 5.3): 404 everywhere, and a HEAD of a listing marks nothing delivered', async ({ r }) => {
  const key = newMailbox();
  const e = fakeEnvelope(key.id);
  await postEnvelope(r.url, key.id, e);
  const id = envelopeIdHex(e);
  const token = await login(r.url, key);
  const paths = [
    '/v1/info',
    `/v1/envelopes/${id}/status`,
    `/v1/mailboxes/${key.id}/envelopes`,
    `/v1/mailboxes/${key.id}/records/hub-terms`,
    '/v1/ws',
    '/healthz',
    '/readyz',
    '/metrics',
  ];
  for (const path of paths) {
    const res = await fetch(r.url + path, { method: 'HEAD', headers: { authorization: `Bearer ${token}` } });
    assert.is(res.status, 404, path);
    assert.is(res.headers.get('cache-control'), 'no-store', path);
    assert.is(await res.text(), '', `${path}: a HEAD answer has no body`);
  }
  assert.is(await statusOf(r.url, id), 'queued', 'the HEAD of the listing did not mark it delivered');
  assert.is((await request(`${r.url}/v1/info`)).status, 200, 'GET still answers');
});

t('metrics: event-loop delay by quantile shows a stall of the relay process, then starts over', async ({ r }) => {
  await request(`${r.url}/metrics`); // starts a fresh window
  // The relay runs in this process: a busy wait stalls its event loop for at least 150 ms.
  const until = performance.now() + 150;
  while (performance.now() < until);
  await new Promise((resolve) => setTimeout(resolve, 5));
  const quantile = (body: string, q: string) => {
    const m = new RegExp(`^lnmb_event_loop_delay_seconds\\{quantile="${q.replace('.', '\\.')}"\\} (\\S+)$`, 'm').exec(body);
    assert.ok(m, `quantile ${q} exported`);
    return Number(m![1]);
  };
  const body = (await request(`${r.url}/metrics`)).body as string;
  assert.match(body, /# TYPE lnmb_event_loop_delay_seconds gauge/);
  const [p50, p99, max] = [quantile(body, '0.5'), quantile(body, '0.99'), quantile(body, '1')];
  assert.ok(max >= 0.1, `the stall is seen: max ${max} s`);
  assert.ok(p50 <= p99 && p99 <= max, 'quantiles in order');
  // Each scrape reports the window since the previous one: the stall is not reported twice.
  const again = quantile((await request(`${r.url}/metrics`)).body as string, '1');
  assert.ok(again < max, `new window: max ${again} s after ${max} s`);
});

t('store failure answers 503 STORE_UNAVAILABLE and the relay stays up', async () => {
  const dir = fs.mkdtempSync(os.tmpdir() + '/lnmb-');
  const store = new LevelStore({ location: dir });
  const relay = await startRelay({ host: '127.0.0.1', port: 0, logLevel: 'silent', store });
  const bob = newMailbox();
  assert.is((await postEnvelope(relay.url, bob.id, fakeEnvelope(bob.id))).status, 201);
  await store.close(); // the disk "goes away"
  const p = await postEnvelope(relay.url, bob.id, fakeEnvelope(bob.id));
  assert.equal([p.status, p.body.error.code], [503, 'STORE_UNAVAILABLE']);
  const s = await request(`${relay.url}/v1/envelopes/${'00'.repeat(32)}/status`);
  assert.equal([s.status, s.body.error.code], [503, 'STORE_UNAVAILABLE']);
  assert.is((await request(`${relay.url}/healthz`)).status, 200);
  await relay.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

t('graceful shutdown: sockets closed with 1001, new requests refused, data kept', async ({ r }) => {
  const bob = newMailbox();
  const e = fakeEnvelope(bob.id);
  await postEnvelope(r.url, bob.id, e);
  const ws = await subscribed(r.url, bob);
  const closing = r.relay.close();
  assert.is((await ws.closed).code, 1001);
  await closing;
  const again = await startTestRelay({ dataDir: r.dir });
  try {
    assert.is(await statusOf(again.url, envelopeIdHex(e)), 'delivered');
    const token = await login(again.url, bob);
    assert.is((await list(again.url, bob.id, token)).body.envelopes.length, 1);
    const ws2 = new TestSocket(again.url);
    await ws2.auth(bob, relayOrigin(again.url));
    await ws2.close();
  } finally {
    await again.close();
  }
});

t.run();
