/**
 * Hostile input: a table of malformed HTTP requests and WebSocket frames,
 * each answered with its documented code, then a seeded fuzz loop. After
 * each, the relay is still up and the mail it already held is untouched.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { ErrorCode } from '../../base/errors.js';
import { ENVELOPE_MIN_LEN, envelopeIdHex } from '../../protocol/envelope.js';
import { relayOrigin } from '../../protocol/relay.js';
import { prng } from '../helpers.js';
import {
  TestSocket,
  fakeEnvelope,
  list,
  login,
  newMailbox,
  postEnvelope,
  request,
  statusOf,
  startTestRelay,
  type HttpAnswer,
  type MailboxKey,
  type TestRelay,
} from './relay-harness.js';

const MAX_ENVELOPE = 4096;
const t = suite<{ r: TestRelay; victim: MailboxKey; ids: string[]; token: string }>('relay bad input', {
  r: undefined as unknown as TestRelay,
  victim: undefined as unknown as MailboxKey,
  ids: [],
  token: '',
});

t.before.each(async (ctx) => {
  ctx.r = await startTestRelay({
    maxEnvelopeBytes: MAX_ENVELOPE,
    maxFrameBytes: 2048,
    postBurst: 1_000_000,
    postRatePerSecond: 1_000_000,
  });
  ctx.victim = newMailbox();
  ctx.ids = [];
  for (let i = 0; i < 3; i++) {
    const e = fakeEnvelope(ctx.victim.id);
    await postEnvelope(ctx.r.url, ctx.victim.id, e);
    ctx.ids.push(envelopeIdHex(e));
  }
  ctx.token = await login(ctx.r.url, ctx.victim);
});

t.after.each(async (ctx) => {
  // The relay is up and the victim's mail is exactly as it was.
  assert.is((await request(`${ctx.r.url}/v1/info`)).status, 200);
  for (const id of ctx.ids) assert.is(await statusOf(ctx.r.url, id), 'queued');
  const token = await login(ctx.r.url, ctx.victim);
  const listed = await list(ctx.r.url, ctx.victim.id, token);
  assert.equal(
    listed.body.envelopes.map((e: { id: string }) => e.id),
    ctx.ids,
  );
  await ctx.r.close();
});

type Case = [name: string, run: (c: { url: string; mb: string; token: string }) => Promise<HttpAnswer>, status: number, code: string];

const other = newMailbox();
const octet = { 'content-type': 'application/octet-stream' };
const jsonCt = { 'content-type': 'application/json' };

function post(url: string, path: string, body: BodyInit | undefined, headers: Record<string, string>) {
  return request(url + path, { method: 'POST', headers, body: body ?? null });
}
function bytes(n: number, first?: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n).fill(0x5a);
  if (first !== undefined) b[0] = first;
  return b;
}

const CASES: Case[] = [
  ['garbage bytes', ({ url, mb }) => post(url, `/v1/mailboxes/${mb}/envelopes`, bytes(300, 0x07), octet), 400, 'ENVELOPE_UNKNOWN_VERSION'],
  [
    'truncated envelope',
    ({ url, mb }) => post(url, `/v1/mailboxes/${mb}/envelopes`, fakeEnvelope(mb).slice(0, ENVELOPE_MIN_LEN - 1), octet),
    400,
    'ENVELOPE_TRUNCATED',
  ],
  ['empty body', ({ url, mb }) => post(url, `/v1/mailboxes/${mb}/envelopes`, new Uint8Array(0), octet), 400, 'ENVELOPE_TRUNCATED'],
  ['no body at all', ({ url, mb }) => post(url, `/v1/mailboxes/${mb}/envelopes`, undefined, octet), 400, 'ENVELOPE_TRUNCATED'],
  [
    'wrong recipient',
    ({ url, mb }) => post(url, `/v1/mailboxes/${mb}/envelopes`, fakeEnvelope(other.id) as Uint8Array<ArrayBuffer>, octet),
    400,
    'MAILBOX_MISMATCH',
  ],
  [
    'oversized body',
    ({ url, mb }) => post(url, `/v1/mailboxes/${mb}/envelopes`, fakeEnvelope(mb, MAX_ENVELOPE + 1) as Uint8Array<ArrayBuffer>, octet),
    413,
    'BODY_TOO_LARGE',
  ],
  [
    'oversized chunked body',
    ({ url, mb }) =>
      request(`${url}/v1/mailboxes/${mb}/envelopes`, {
        method: 'POST',
        headers: octet,
        duplex: 'half',
        body: new ReadableStream({
          start(c) {
            c.enqueue(bytes(MAX_ENVELOPE, 1));
            c.enqueue(bytes(100));
            c.close();
          },
        }),
      } as RequestInit),
    413,
    'BODY_TOO_LARGE',
  ],
  [
    'wrong content-type',
    ({ url, mb }) =>
      post(url, `/v1/mailboxes/${mb}/envelopes`, fakeEnvelope(mb) as Uint8Array<ArrayBuffer>, { 'content-type': 'text/plain' }),
    415,
    'UNSUPPORTED_MEDIA_TYPE',
  ],
  [
    'no content-type',
    ({ url, mb }) =>
      request(`${url}/v1/mailboxes/${mb}/envelopes`, { method: 'POST', body: new Blob([fakeEnvelope(mb) as Uint8Array<ArrayBuffer>]) }),
    415,
    'UNSUPPORTED_MEDIA_TYPE',
  ],
  [
    'gzip-encoded body',
    ({ url, mb }) => post(url, `/v1/mailboxes/${mb}/envelopes`, gzipSync(fakeEnvelope(mb)), { ...octet, 'content-encoding': 'gzip' }),
    415,
    'UNSUPPORTED_MEDIA_TYPE',
  ],
  [
    'uppercase mailbox',
    ({ url, mb }) => post(url, `/v1/mailboxes/${mb.toUpperCase()}/envelopes`, fakeEnvelope(mb) as Uint8Array<ArrayBuffer>, octet),
    400,
    'BAD_REQUEST',
  ],
  ['short mailbox', ({ url }) => post(url, `/v1/mailboxes/abcd/envelopes`, bytes(300, 1), octet), 400, 'BAD_REQUEST'],
  [
    'ttl zero',
    ({ url, mb }) =>
      post(url, `/v1/mailboxes/${mb}/envelopes`, fakeEnvelope(mb) as Uint8Array<ArrayBuffer>, { ...octet, 'x-mailbox-ttl': '0' }),
    400,
    'TTL_INVALID',
  ],
  [
    'ttl negative',
    ({ url, mb }) =>
      post(url, `/v1/mailboxes/${mb}/envelopes`, fakeEnvelope(mb) as Uint8Array<ArrayBuffer>, { ...octet, 'x-mailbox-ttl': '-5' }),
    400,
    'TTL_INVALID',
  ],
  [
    'ttl fractional',
    ({ url, mb }) =>
      post(url, `/v1/mailboxes/${mb}/envelopes`, fakeEnvelope(mb) as Uint8Array<ArrayBuffer>, { ...octet, 'x-mailbox-ttl': '1.5' }),
    400,
    'TTL_INVALID',
  ],
  [
    'bad retraction hash',
    ({ url, mb }) =>
      post(url, `/v1/mailboxes/${mb}/envelopes`, fakeEnvelope(mb) as Uint8Array<ArrayBuffer>, {
        ...octet,
        'x-mailbox-retraction-hash': 'zz',
      }),
    400,
    'BAD_REQUEST',
  ],
  ['status of bad id', ({ url }) => request(`${url}/v1/envelopes/xyz/status`), 400, 'BAD_REQUEST'],
  ['status of unknown id', ({ url }) => request(`${url}/v1/envelopes/${'12'.repeat(32)}/status`), 404, 'ENVELOPE_NOT_FOUND'],
  ['bad percent-encoding', ({ url }) => request(`${url}/v1/envelopes/%E0%A4%A/status`), 400, 'BAD_REQUEST'],
  ['retract without secret', ({ url }) => request(`${url}/v1/envelopes/${'12'.repeat(32)}`, { method: 'DELETE' }), 400, 'BAD_REQUEST'],
  [
    'retract with short secret',
    ({ url }) => request(`${url}/v1/envelopes/${'12'.repeat(32)}`, { method: 'DELETE', headers: { 'x-mailbox-retraction-secret': 'ab' } }),
    400,
    'BAD_REQUEST',
  ],
  ['session: bad JSON', ({ url }) => post(url, '/v1/auth/session', '{"mailbox":', jsonCt), 400, 'BAD_REQUEST'],
  ['session: JSON array', ({ url }) => post(url, '/v1/auth/session', '[1,2]', jsonCt), 400, 'BAD_REQUEST'],
  ['session: JSON scalar', ({ url }) => post(url, '/v1/auth/session', '"x"', jsonCt), 400, 'BAD_REQUEST'],
  ['session: missing fields', ({ url }) => post(url, '/v1/auth/session', '{}', jsonCt), 400, 'BAD_REQUEST'],
  [
    'session: short signature',
    ({ url, mb }) => post(url, '/v1/auth/session', JSON.stringify({ mailbox: mb, challenge: mb, signature: 'ab' }), jsonCt),
    400,
    'BAD_REQUEST',
  ],
  [
    'session: wrong content-type',
    ({ url }) => post(url, '/v1/auth/session', '{}', { 'content-type': 'text/plain' }),
    415,
    'UNSUPPORTED_MEDIA_TYPE',
  ],
  [
    'session: huge JSON',
    ({ url }) => post(url, '/v1/auth/session', JSON.stringify({ pad: 'x'.repeat(140_000) }), jsonCt),
    413,
    'BODY_TOO_LARGE',
  ],
  [
    'acks: bad JSON',
    ({ url, mb, token }) => post(url, `/v1/mailboxes/${mb}/acks`, '{{', { ...jsonCt, authorization: `Bearer ${token}` }),
    400,
    'BAD_REQUEST',
  ],
  [
    'acks: empty ids',
    ({ url, mb, token }) => post(url, `/v1/mailboxes/${mb}/acks`, '{"ids":[]}', { ...jsonCt, authorization: `Bearer ${token}` }),
    400,
    'BAD_REQUEST',
  ],
  [
    'acks: too many ids',
    ({ url, mb, token }) =>
      post(url, `/v1/mailboxes/${mb}/acks`, JSON.stringify({ ids: Array(1001).fill(mb) }), { ...jsonCt, authorization: `Bearer ${token}` }),
    400,
    'BAD_REQUEST',
  ],
  [
    'acks: non-hex ids',
    ({ url, mb, token }) => post(url, `/v1/mailboxes/${mb}/acks`, '{"ids":["nope"]}', { ...jsonCt, authorization: `Bearer ${token}` }),
    400,
    'BAD_REQUEST',
  ],
  ['list: negative cursor', ({ url, mb, token }) => list(url, mb, token, '?after=-1'), 400, 'BAD_REQUEST'],
  ['list: cursor not a number', ({ url, mb, token }) => list(url, mb, token, '?after=abc'), 400, 'BAD_REQUEST'],
  ['list: repeated cursor', ({ url, mb, token }) => list(url, mb, token, '?after=1&after=2'), 400, 'BAD_REQUEST'],
  ['list: limit zero', ({ url, mb, token }) => list(url, mb, token, '?limit=0'), 400, 'BAD_REQUEST'],
  ['list: limit too big', ({ url, mb, token }) => list(url, mb, token, '?limit=100000'), 400, 'BAD_REQUEST'],
  ['unknown route /', ({ url }) => request(`${url}/`), 404, 'NOT_FOUND'],
  ['unknown version', ({ url }) => request(`${url}/v2/info`), 404, 'NOT_FOUND'],
  ['wrong method', ({ url }) => request(`${url}/v1/info`, { method: 'PUT' }), 404, 'NOT_FOUND'],
  ['dot-dot segments', ({ url }) => request(`${url}/v1/envelopes/%2e%2e/status`), 404, 'NOT_FOUND'],
  ['plain GET on /v1/ws', ({ url }) => request(`${url}/v1/ws`), 404, 'NOT_FOUND'],
];

t('a table of malformed HTTP requests: each gets its documented status and code', async ({ r, victim, token }) => {
  for (const [name, run, status, code] of CASES) {
    const res = await run({ url: r.url, mb: victim.id, token });
    assert.is(res.status, status, `${name}: status (${JSON.stringify(res.body)})`);
    assert.is(res.body?.error?.code, code, name);
    assert.type(res.body.error.message, 'string', name);
  }
});

t('malformed HTTP on the socket and upgrades to unknown paths are refused cleanly', async ({ r }) => {
  const { port } = new URL(r.url);
  const raw = (text: string) =>
    new Promise<string>((resolve) => {
      const s = net.connect(Number(port), '127.0.0.1', () => s.write(text));
      let out = '';
      s.on('data', (d) => (out += d.toString()));
      s.on('close', () => resolve(out));
      s.on('error', () => resolve(out));
    });
  assert.match(await raw('GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400/);
  assert.match(await raw('GET /v1/info HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n'), /^HTTP\/1\.1 400/);
  const up = await raw(
    'GET /elsewhere HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  assert.match(up, /^HTTP\/1\.1 404/);
  assert.match(up, /"code":"NOT_FOUND"/);
});

t('bad WebSocket frames: error frame with the documented code, then the documented close', async ({ r, victim }) => {
  const origin = relayOrigin(r.url);
  const cases: [string, boolean, (s: TestSocket) => void, number, string | undefined][] = [
    ['not JSON', false, (s) => s.send('{nope'), 1002, 'BAD_FRAME'],
    ['JSON array', false, (s) => s.send('[]'), 1002, 'BAD_FRAME'],
    ['unknown type', false, (s) => s.send({ type: 'hello' }), 1002, 'BAD_FRAME'],
    ['binary frame', false, (s) => s.ws.send(Buffer.from([1, 2, 3])), 1002, 'BAD_FRAME'],
    ['auth with junk fields', false, (s) => s.send({ type: 'auth', mailbox: 'x', challenge: 'y', signature: 'z' }), 1002, 'BAD_FRAME'],
    ['negative cursor', true, (s) => s.send({ type: 'subscribe', after: -1 }), 1002, 'BAD_FRAME'],
    ['ack without ids', true, (s) => s.send({ type: 'ack', ids: [] }), 1002, 'BAD_FRAME'],
    ['ack with junk ids', true, (s) => s.send({ type: 'ack', ids: ['ZZ'] }), 1002, 'BAD_FRAME'],
    ['frame over maxFrameBytes', true, (s) => s.send({ type: 'ack', ids: Array(40).fill(victim.id) }), 1009, undefined],
    ['invalid UTF-8', false, (s) => s.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false }), 1007, undefined],
  ];
  for (const [name, authed, bad, closeCode, code] of cases) {
    const s = new TestSocket(r.url);
    if (authed) await s.auth(victim, origin);
    else await s.next('challenge');
    bad(s);
    const closed = await s.closed;
    assert.is(closed.code, closeCode, name);
    const err = s.frames.find((f) => f.type === 'error') as { error: { code: string } } | undefined;
    assert.is(err?.error.code, code, name);
    assert.is(s.envelopes().length, 0, name);
  }
});

const DOCUMENTED_STATUS = new Set([200, 201, 400, 401, 403, 404, 409, 413, 415, 429]);
const CODES = new Set<string>(Object.values(ErrorCode));

t('fuzz: a few thousand seeded random HTTP requests and WS frames', async ({ r, victim, token }) => {
  const seed = Number(process.env.FUZZ_SEED ?? 0xc0ffee);
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const randHex = (n: number) =>
    Array.from({ length: n }, () => '0123456789abcdefABCDEFxz%'[Math.floor(rnd() * (rnd() < 0.9 ? 16 : 25))]).join('');
  const randBytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
  const fuzzer = newMailbox();
  const fuzzToken = await login(r.url, fuzzer);
  const hexes = () => pick([fuzzer.id, victim.id, randHex(64), randHex(Math.floor(rnd() * 80)), '']);
  const paths = () =>
    pick([
      `/v1/mailboxes/${hexes()}/envelopes`,
      `/v1/mailboxes/${hexes()}/acks`,
      `/v1/envelopes/${hexes()}/status`,
      `/v1/envelopes/${hexes()}`,
      '/v1/auth/challenge',
      '/v1/auth/session',
      '/v1/info',
      `/v1/${randHex(5)}`,
      `/v1/mailboxes/${hexes()}/envelopes?after=${pick(['0', '-1', 'x', '99999999999999999999', '3'])}&limit=${pick(['1', '0', '5000', 'y'])}`,
    ]);
  const bodies = (): Uint8Array<ArrayBuffer> | string | undefined => {
    const base = fakeEnvelope(pick([fuzzer.id, victim.id, other.id]), ENVELOPE_MIN_LEN + Math.floor(rnd() * 300));
    switch (Math.floor(rnd() * 7)) {
      case 0:
        return undefined;
      case 1:
        return randBytes(Math.floor(rnd() * 400));
      case 2: {
        const at = Math.floor(rnd() * 90);
        base[at] = base[at]! ^ (1 << Math.floor(rnd() * 8));
        return base as Uint8Array<ArrayBuffer>;
      }
      case 3:
        return base.slice(0, Math.floor(rnd() * base.length));
      case 4:
        return JSON.stringify({ ids: [hexes(), hexes()], mailbox: hexes(), challenge: hexes(), signature: randHex(128) });
      case 5:
        return pick(['{', 'null', '[]', '{"ids":null}', '"' + randHex(10) + '"', '{"ids":[' + '"a",'.repeat(50) + '"b"]}']);
      default:
        return base as Uint8Array<ArrayBuffer>;
    }
  };
  const N = 2500;
  let done = 0;
  const worker = async () => {
    while (done < N) {
      done++;
      const headers: Record<string, string> = {};
      if (rnd() < 0.8)
        headers['content-type'] = pick([
          'application/octet-stream',
          'application/json',
          'text/plain',
          'application/json; charset=utf-16',
          'multipart/form-data',
        ]);
      if (rnd() < 0.3)
        headers.authorization = pick([`Bearer ${fuzzToken}`, `Bearer ${token}x`, 'Bearer', `Bearer ${randHex(20)}`, 'Basic x']);
      if (rnd() < 0.2) headers['x-mailbox-ttl'] = pick(['1', '0', '-1', 'abc', '1e9', '99999999999999999999']);
      if (rnd() < 0.2) headers['x-mailbox-retraction-hash'] = randHex(64);
      if (rnd() < 0.2) headers['x-mailbox-retraction-secret'] = randHex(pick([64, 10]));
      if (rnd() < 0.1) headers['x-mailbox-pow'] = randHex(16);
      const method = pick(['GET', 'POST', 'POST', 'POST', 'DELETE', 'PUT', 'PATCH']);
      const body = method === 'GET' ? undefined : bodies();
      const res = await request(r.url + paths(), { method, headers, body: body ?? null });
      assert.ok(DOCUMENTED_STATUS.has(res.status), `seed ${seed}: status ${res.status} ${JSON.stringify(res.body)}`);
      if (res.status >= 400) assert.ok(CODES.has(res.body?.error?.code), `seed ${seed}: undocumented error ${JSON.stringify(res.body)}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));

  // WebSocket frames: random junk after auth must end in a documented close, never a crash.
  const frames = () =>
    pick([
      () => randHex(Math.floor(rnd() * 50)),
      () =>
        JSON.stringify({
          type: pick(['auth', 'subscribe', 'ack', 'x']),
          after: pick([0, -1, 1.5, 'x', 1e20]),
          ids: pick([[], [hexes()], null]),
        }),
      () => JSON.stringify({ type: 'ack', ids: [fuzzer.id, victim.id, ...Array.from({ length: 3 }, hexes)] }),
      () => JSON.stringify({ type: 'subscribe', after: Math.floor(rnd() * 10) }),
    ])();
  for (let i = 0; i < 150; i++) {
    const s = new TestSocket(r.url);
    if (rnd() < 0.7) await s.auth(fuzzer, relayOrigin(r.url));
    else await s.next('challenge');
    for (let k = 0; k < 3 && s.ws.readyState === s.ws.OPEN; k++) s.send(frames());
    await Promise.race([s.closed, new Promise((res) => setTimeout(res, 20))]);
    await s.close();
    const closed = await s.closed;
    assert.ok([1000, 1002, 1005, 1007, 1008, 1009].includes(closed.code), `seed ${seed}: ws close ${closed.code}`);
    for (const f of s.frames) if (f.type === 'error') assert.ok(CODES.has(f.error.code), `seed ${seed}: ${f.error.code}`);
  }
});

t.run();
