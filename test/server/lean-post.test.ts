/**
 * The lean envelope POST answers exactly as the express route does. Every
 * case is sent twice: to the ordinary path, which the lean handler takes,
 * and to the same path with a trailing slash, which it leaves to express
 * (express routes both). Status, JSON body and the headers a client reads
 * must match, for every bad input and for the good ones.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { envelopeId } from '../../protocol/envelope.js';
import { checkPow, solvePow } from '../../protocol/relay.js';
import { startRelay } from '../../server/relay.js';
import { LevelStore } from '../../server/store/level/store.js';
import { fakeEnvelope, newMailbox, startTestRelay, statusOf, type TestRelay } from './relay-harness.js';

const t = suite('lean envelope POST');

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  // biome-ignore lint/suspicious/noExplicitAny: the relay's JSON answers are read field by field
  body: any;
}

/** One POST over a fresh connection, every header under our control. */
function rawPost(base: string, path: string, headers: Record<string, string>, body?: Uint8Array): Promise<Raw> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method: 'POST', path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined });
      });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : Buffer.from(body));
  });
}

const octet = (body: Uint8Array, extra: Record<string, string> = {}) => ({
  'content-type': 'application/octet-stream',
  'content-length': String(body.length),
  ...extra,
});
const path = (mb: string) => `/v1/mailboxes/${mb}/envelopes`;
const COMPARED = ['content-type', 'cache-control', 'retry-after', 'www-authenticate', 'content-length', 'connection'];

/** Sends the same request to the lean path and to express; both answers must match and be `status` / `code`. */
async function both(
  url: string,
  name: string,
  mb: string,
  headers: Record<string, string>,
  body: Uint8Array | undefined,
  status: number,
  code?: string,
): Promise<[Raw, Raw]> {
  const lean = await rawPost(url, path(mb), headers, body);
  const viaExpress = await rawPost(url, `${path(mb)}/`, headers, body);
  same(lean, viaExpress, name);
  assert.is(lean.status, status, `${name}: status ${JSON.stringify(lean.body)}`);
  if (code !== undefined) assert.is(lean.body?.error?.code, code, `${name}: code`);
  return [lean, viaExpress];
}

function same(lean: Raw, viaExpress: Raw, name: string): void {
  assert.is(
    lean.status,
    viaExpress.status,
    `${name}: status (lean ${JSON.stringify(lean.body)}, express ${JSON.stringify(viaExpress.body)})`,
  );
  assert.equal(lean.body, viaExpress.body, `${name}: body`);
  for (const h of COMPARED) assert.is(lean.headers[h], viaExpress.headers[h], `${name}: header ${h}`);
}

let r: TestRelay;
t.before.each(async () => {
  r = await startTestRelay({ maxEnvelopeBytes: 4096, maxEnvelopesPerMailbox: 4, postBurst: 1_000_000, postRatePerSecond: 1_000_000 });
});
t.after.each(() => r.close());

t('good envelopes: 201 then 200 for the same bytes, whichever door took them first', async () => {
  const mb = newMailbox();
  for (const [first, second] of [
    ['', '/'],
    ['/', ''],
  ] as const) {
    const e = fakeEnvelope(mb.id);
    const a = await rawPost(r.url, path(mb.id) + first, octet(e, { 'x-mailbox-ttl': '999999999' }), e);
    const b = await rawPost(r.url, path(mb.id) + second, octet(e, { 'x-mailbox-ttl': '999999999' }), e);
    assert.equal([a.status, b.status], [201, 200]);
    assert.equal(a.body, b.body, 'same id, seq and (clamped) expiry');
    for (const h of COMPARED) if (h !== 'content-length') assert.is(a.headers[h], b.headers[h], h);
    assert.is(a.headers['content-type'], 'application/json; charset=utf-8');
    assert.is(a.headers['cache-control'], 'no-store');
    assert.is(await statusOf(r.url, a.body.id), 'queued');
  }
});

t('every bad input gets the same answer from both doors', async () => {
  const mb = newMailbox();
  const other = newMailbox();
  const garbage = new Uint8Array(300).fill(7);
  const short = fakeEnvelope(mb.id).slice(0, 100);
  const e = fakeEnvelope(mb.id);
  const big = fakeEnvelope(mb.id, 5000);
  await both(r.url, 'garbage', mb.id, octet(garbage), garbage, 400, 'ENVELOPE_UNKNOWN_VERSION');
  await both(r.url, 'truncated', mb.id, octet(short), short, 400, 'ENVELOPE_TRUNCATED');
  await both(r.url, 'empty body', mb.id, octet(new Uint8Array(0)), new Uint8Array(0), 400, 'ENVELOPE_TRUNCATED');
  await both(r.url, 'wrong recipient', other.id, octet(e), e, 400, 'MAILBOX_MISMATCH');
  await both(r.url, 'oversized', mb.id, octet(big), big, 413, 'BODY_TOO_LARGE');
  await both(r.url, 'wrong content type', mb.id, { ...octet(e), 'content-type': 'text/plain' }, e, 415, 'UNSUPPORTED_MEDIA_TYPE');
  await both(
    r.url,
    'content type with a parameter',
    mb.id,
    { ...octet(new Uint8Array(0)), 'content-type': 'application/octet-stream; x=1' },
    new Uint8Array(0),
    400,
    'ENVELOPE_TRUNCATED',
  );
  await both(r.url, 'gzip', mb.id, { ...octet(e), 'content-encoding': 'gzip' }, e, 415, 'UNSUPPORTED_MEDIA_TYPE');
  await both(r.url, 'ttl zero', mb.id, octet(e, { 'x-mailbox-ttl': '0' }), e, 400, 'TTL_INVALID');
  await both(r.url, 'ttl fraction', mb.id, octet(e, { 'x-mailbox-ttl': '1.5' }), e, 400, 'TTL_INVALID');
  await both(r.url, 'bad retraction hash', mb.id, octet(e, { 'x-mailbox-retraction-hash': 'AB' }), e, 400, 'BAD_REQUEST');
  await both(r.url, 'uppercase mailbox', mb.id.toUpperCase(), octet(e), e, 400, 'BAD_REQUEST');
  await both(r.url, 'short mailbox', 'abcd', octet(e), e, 400, 'BAD_REQUEST');
  // Nothing of the above was stored.
  assert.is(r.relay.connections, 0);
  assert.is(await statusOf(r.url, Buffer.from(envelopeId(e)).toString('hex')), 'ENVELOPE_NOT_FOUND');
});

t('quota: the envelope over the mailbox limit is refused alike', async () => {
  const mb = newMailbox();
  for (let i = 0; i < 4; i++) {
    const e = fakeEnvelope(mb.id);
    assert.is((await rawPost(r.url, path(mb.id), octet(e), e)).status, 201);
  }
  const e = fakeEnvelope(mb.id);
  await both(r.url, 'mailbox full', mb.id, octet(e), e, 409, 'MAILBOX_FULL');
});

t('a client that goes away mid-body stores nothing, and the relay keeps serving', async () => {
  const mb = newMailbox();
  const e = fakeEnvelope(mb.id);
  const u = new URL(r.url);
  await new Promise<void>((resolve) => {
    const req = http.request({ host: u.hostname, port: u.port, method: 'POST', path: path(mb.id), headers: octet(e), agent: false });
    req.on('error', () => resolve());
    req.write(Buffer.from(e.subarray(0, 100)));
    setTimeout(() => {
      req.destroy();
      resolve();
    }, 50);
  });
  assert.is(await statusOf(r.url, Buffer.from(envelopeId(e)).toString('hex')), 'ENVELOPE_NOT_FOUND');
  assert.is((await rawPost(r.url, path(mb.id), octet(e), e)).status, 201);
});

t('proof of work: missing, malformed, too weak and good stamps answered alike', async () => {
  const bits = 8;
  const p = await startTestRelay({ powBits: bits, postBurst: 1_000_000, postRatePerSecond: 1_000_000 });
  try {
    const mb = newMailbox();
    const e = fakeEnvelope(mb.id);
    const id = envelopeId(e);
    let weak = new Uint8Array(8);
    for (let i = 0; checkPow(id, weak, bits); i++) weak = Uint8Array.from(Buffer.from(i.toString(16).padStart(16, '0'), 'hex'));
    await both(p.url, 'no stamp', mb.id, octet(e), e, 403, 'POW_REQUIRED');
    await both(p.url, 'malformed stamp', mb.id, octet(e, { 'x-mailbox-pow': 'xyz' }), e, 400, 'BAD_REQUEST');
    await both(p.url, 'weak stamp', mb.id, octet(e, { 'x-mailbox-pow': Buffer.from(weak).toString('hex') }), e, 403, 'POW_REQUIRED');
    const stamp = Buffer.from(solvePow(id, bits)).toString('hex');
    const good = await rawPost(p.url, path(mb.id), octet(e, { 'x-mailbox-pow': stamp }), e);
    const again = await rawPost(p.url, `${path(mb.id)}/`, octet(e, { 'x-mailbox-pow': stamp }), e);
    assert.equal([good.status, again.status], [201, 200]);
    assert.equal(good.body, again.body);
  } finally {
    await p.close();
  }
});

t('rate limit: 429 with the same Retry-After from both doors', async () => {
  const p = await startTestRelay({ postBurst: 2, postRatePerSecond: 1 });
  try {
    const mb = newMailbox();
    for (let i = 0; i < 2; i++) {
      const e = fakeEnvelope(mb.id);
      assert.is((await rawPost(p.url, path(mb.id), octet(e), e)).status, 201);
    }
    const e = fakeEnvelope(mb.id);
    const [lean] = await both(p.url, 'rate limited', mb.id, octet(e), e, 429, 'RATE_LIMITED');
    assert.ok(Number(lean.headers['retry-after']) >= 1, 'Retry-After');
  } finally {
    await p.close();
  }
});

t('store full and store unavailable: 503 with Retry-After from both doors', async () => {
  const full = await startTestRelay({ minFreeBytes: 2 ** 50 });
  try {
    const mb = newMailbox();
    const e = fakeEnvelope(mb.id);
    const [lean] = await both(full.url, 'store full', mb.id, octet(e), e, 503, 'STORE_FULL');
    assert.is(lean.headers['retry-after'], '5');
  } finally {
    await full.close();
  }
  const dir = fs.mkdtempSync(`${os.tmpdir()}/lnmb-`);
  const store = new LevelStore({ location: dir });
  const relay = await startRelay({ host: '127.0.0.1', port: 0, logLevel: 'silent', store });
  try {
    const mb = newMailbox();
    const e = fakeEnvelope(mb.id);
    assert.is((await rawPost(relay.url, path(mb.id), octet(e), e)).status, 201);
    await store.close(); // the disk "goes away"
    const e2 = fakeEnvelope(mb.id);
    const [lean] = await both(relay.url, 'store unavailable', mb.id, octet(e2), e2, 503, 'STORE_UNAVAILABLE');
    assert.is(lean.headers['retry-after'], '5');
  } finally {
    await relay.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
