/**
 * Browsers on other origins (SPEC 5.14) against a real relay: preflights on
 * every route are answered with what a browser needs, actual requests
 * (successes and refusals alike) carry the allow and expose headers, and
 * with a configured list of origins a page from elsewhere gets no allow
 * header. The header lists of the SPEC are the code's.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../base/errors.js';
import { envelopeIdHex } from '../../protocol/envelope.js';
import { RelayHeader } from '../../protocol/relay.js';
import { loadRelayConfig } from '../../server/cli.js';
import { resolveConfig } from '../../server/config.js';
import {
  CORS_ALLOW_HEADERS,
  CORS_ALLOW_METHODS,
  CORS_EXPOSE_HEADERS,
  CORS_MAX_AGE_SECONDS,
  corsPolicy,
  createCors,
} from '../../server/http/cors.js';
import { throwsCode } from '../helpers.js';
import { fakeEnvelope, login, newMailbox, request, startTestRelay, statusOf, type HttpAnswer } from './relay-harness.js';

const t = suite('relay CORS');

const WALLET = 'https://wallet.example';
const list = (v: string | null): string[] => (v ?? '').split(',').map((s) => s.trim().toLowerCase());

function preflight(url: string, origin: string, method: string, headers: string[] = [], extra: Record<string, string> = {}) {
  const h: Record<string, string> = { origin, 'access-control-request-method': method, ...extra };
  if (headers.length > 0) h['access-control-request-headers'] = headers.join(',');
  return request(url, { method: 'OPTIONS', headers: h });
}

/** What a browser checks of a preflight answer before it sends `method` with `headers` from `origin`. */
function browserWouldSend(a: HttpAnswer, origin: string, method: string, headers: string[]): boolean {
  const allowOrigin = a.headers.get('access-control-allow-origin');
  if (a.status < 200 || a.status > 299) return false;
  if (allowOrigin !== '*' && allowOrigin !== origin) return false;
  const methods = list(a.headers.get('access-control-allow-methods'));
  const allowed = list(a.headers.get('access-control-allow-headers'));
  const safelisted = ['GET', 'HEAD', 'POST'];
  return (safelisted.includes(method) || methods.includes(method.toLowerCase())) && headers.every((h) => allowed.includes(h.toLowerCase()));
}

t('default *: a preflight on every API route says yes to what the client sends, on any path', async () => {
  const r = await startTestRelay();
  try {
    const mb = newMailbox().id;
    const routes: [string, string, string[]][] = [
      [`/v1/mailboxes/${mb}/envelopes`, 'POST', ['content-type', RelayHeader.ttl, RelayHeader.retractionHash, RelayHeader.pow]],
      [`/v1/mailboxes/${mb}/envelopes`, 'GET', ['authorization']],
      [`/v1/mailboxes/${mb}/acks`, 'POST', ['authorization', 'content-type']],
      [`/v1/envelopes/${'ab'.repeat(32)}`, 'DELETE', [RelayHeader.retractionSecret]],
      ['/v1/auth/session', 'POST', ['content-type']],
      [`/v1/mailboxes/${mb}/records/hub-terms`, 'PUT', ['authorization', 'content-type']],
      [`/v1/mailboxes/${mb}/records/hub-terms`, 'DELETE', ['authorization']],
      ['/no/such/route', 'POST', ['content-type']],
    ];
    for (const [path, method, headers] of routes) {
      const a = await preflight(r.url + path, WALLET, method, headers);
      assert.is(a.status, 204, `${method} ${path}`);
      assert.is(a.body, '', 'no body');
      assert.is(a.headers.get('access-control-allow-origin'), '*');
      assert.is(a.headers.get('access-control-max-age'), String(CORS_MAX_AGE_SECONDS));
      assert.is(a.headers.get('access-control-allow-credentials'), null, 'never credentials');
      assert.ok(browserWouldSend(a, WALLET, method, headers), `${method} ${path}: ${a.headers.get('access-control-allow-headers')}`);
    }
    // An OPTIONS that is not a preflight is just an unknown method.
    const plain = await request(`${r.url}/v1/info`, { method: 'OPTIONS' });
    assert.equal([plain.status, plain.body.error.code], [404, ErrorCode.NOT_FOUND]);
    // Private Network Access: asked, granted.
    const pna = await preflight(`${r.url}/v1/info`, WALLET, 'GET', [], { 'access-control-request-private-network': 'true' });
    assert.is(pna.headers.get('access-control-allow-private-network'), 'true');
    const noPna = await preflight(`${r.url}/v1/info`, WALLET, 'GET');
    assert.is(noPna.headers.get('access-control-allow-private-network'), null);
  } finally {
    await r.close();
  }
});

t('default *: actual requests, successes and refusals, carry the allow and expose headers', async () => {
  const r = await startTestRelay({ postBurst: 3, postRatePerSecond: 1 });
  try {
    const key = newMailbox();
    const origin = { origin: WALLET };
    const e = fakeEnvelope(key.id);
    const answers: [string, HttpAnswer, number][] = [];
    answers.push(['info', await request(`${r.url}/v1/info`, { headers: origin }), 200]);
    const post = await request(`${r.url}/v1/mailboxes/${key.id}/envelopes`, {
      method: 'POST',
      headers: { ...origin, 'content-type': 'application/octet-stream' },
      body: e as Uint8Array<ArrayBuffer>,
    });
    answers.push(['post', post, 201]);
    answers.push(['status', await request(`${r.url}/v1/envelopes/${envelopeIdHex(e)}/status`, { headers: origin }), 200]);
    const noToken = await request(`${r.url}/v1/mailboxes/${key.id}/envelopes`, { headers: origin });
    answers.push(['401', noToken, 401]);
    const token = await login(r.url, key); // takes rate-limit tokens too: the bucket is empty after it
    answers.push([
      'list',
      await request(`${r.url}/v1/mailboxes/${key.id}/envelopes`, { headers: { ...origin, authorization: `Bearer ${token}` } }),
      200,
    ]);
    const limited = await request(`${r.url}/v1/auth/challenge`, { method: 'POST', headers: origin });
    answers.push(['429', limited, 429]);
    for (const [what, a, status] of answers) {
      assert.is(a.status, status, what);
      assert.is(a.headers.get('access-control-allow-origin'), '*', what);
      assert.equal(list(a.headers.get('access-control-expose-headers')), [...CORS_EXPOSE_HEADERS], what);
      assert.is(a.headers.get('access-control-allow-credentials'), null, what);
    }
    // What the exposed headers are for: a page can read them.
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.is(noToken.headers.get('www-authenticate'), 'Bearer');
    assert.is(post.body.id, envelopeIdHex(e));
  } finally {
    await r.close();
  }
});

t('configured origins: the listed ones are allowed by name, any other gets no allow header', async () => {
  const r = await startTestRelay({ corsOrigins: `${WALLET},http://localhost:5173` });
  try {
    const key = newMailbox();
    const path = `${r.url}/v1/mailboxes/${key.id}/envelopes`;
    const headers = ['content-type'];
    for (const origin of [WALLET, 'http://localhost:5173']) {
      const ok = await preflight(path, origin, 'POST', headers);
      assert.is(ok.status, 204);
      assert.is(ok.headers.get('access-control-allow-origin'), origin);
      assert.is(ok.headers.get('vary'), 'Origin');
      assert.ok(browserWouldSend(ok, origin, 'POST', headers), origin);
    }
    for (const origin of ['https://evil.example', 'https://wallet.example.evil.example', 'http://wallet.example', 'null']) {
      const no = await preflight(path, origin, 'POST', headers);
      assert.is(no.status, 204, origin);
      assert.is(no.headers.get('vary'), 'Origin');
      for (const h of ['allow-origin', 'allow-methods', 'allow-headers', 'max-age', 'expose-headers'])
        assert.is(no.headers.get(`access-control-${h}`), null, `${origin}: ${h}`);
      assert.not.ok(browserWouldSend(no, origin, 'POST', headers), origin);
    }
    // CORS is not access control: the request itself is served, only without the headers a browser needs to read it.
    const e = fakeEnvelope(key.id);
    const posted = await request(path, {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/octet-stream' },
      body: e as Uint8Array<ArrayBuffer>,
    });
    assert.is(posted.status, 201);
    assert.is(posted.headers.get('access-control-allow-origin'), null);
    assert.is(await statusOf(r.url, envelopeIdHex(e)), 'queued');
    const info = await request(`${r.url}/v1/info`, { headers: { origin: WALLET } });
    assert.is(info.headers.get('access-control-allow-origin'), WALLET);
    const noOrigin = await request(`${r.url}/v1/info`);
    assert.is(noOrigin.headers.get('access-control-allow-origin'), null);
  } finally {
    await r.close();
  }
});

t('the layer is independent of express: a bare node:http handler that uses writeHead gets the headers too', async () => {
  const cors = createCors(corsPolicy(WALLET));
  const server = http.createServer((req, res) => {
    if (cors(req, res)) return;
    res.writeHead(201, { 'content-type': 'application/json', 'retry-after': '3' });
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/mailboxes/x/envelopes`;
  try {
    const pre = await preflight(url, WALLET, 'POST', ['content-type', RelayHeader.pow]);
    assert.ok(browserWouldSend(pre, WALLET, 'POST', ['content-type', RelayHeader.pow]));
    const res = await request(url, { method: 'POST', headers: { origin: WALLET } });
    assert.is(res.status, 201);
    assert.is(res.headers.get('access-control-allow-origin'), WALLET);
    assert.ok(list(res.headers.get('access-control-expose-headers')).includes('retry-after'));
    const other = await request(url, { method: 'POST', headers: { origin: 'https://evil.example' } });
    assert.is(other.headers.get('access-control-allow-origin'), null);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

t('corsOrigins: *, or exact http(s) origins; from a flag, the environment or a config file', () => {
  assert.is(resolveConfig().corsOrigins, '*');
  assert.is(
    loadRelayConfig(['--cors-origins', 'https://a.example, https://b.example:8443']).corsOrigins,
    'https://a.example,https://b.example:8443',
  );
  assert.is(loadRelayConfig([], { LNMB_CORS_ORIGINS: 'http://localhost:3000' }).corsOrigins, 'http://localhost:3000');
  assert.is(loadRelayConfig(['--cors-origins', '*'], { LNMB_CORS_ORIGINS: 'http://localhost:3000' }).corsOrigins, '*', 'flag wins');
  assert.is(resolveConfig({ corsOrigins: ['https://a.example', 'https://a.example'] }).corsOrigins, 'https://a.example', 'a JSON list');
  for (const bad of ['https://a.example/', 'https://a.example/path', 'ftp://a.example', 'a.example', '*,https://a.example', ' , ', ''])
    throwsCode(() => resolveConfig({ corsOrigins: bad }), ErrorCode.INVALID_RANGE, JSON.stringify(bad));
  throwsCode(() => resolveConfig({ corsOrigins: 5 }), ErrorCode.INVALID_TYPE);
  throwsCode(() => resolveConfig({ corsOrigins: ['https://a.example', 5] }), ErrorCode.INVALID_TYPE);
});

t('SPEC 5.14 names the methods and headers the code sends', () => {
  const spec = fs.readFileSync(new URL('../../protocol/spec/relay.md', import.meta.url), 'utf8');
  const section = spec.slice(spec.indexOf('### 5.14'));
  const flat = section.replace(/\s+/g, ' ');
  assert.ok(flat.includes(`Access-Control-Allow-Methods: ${CORS_ALLOW_METHODS.join(', ')}\``), 'methods');
  assert.ok(flat.includes(`Access-Control-Allow-Headers: ${CORS_ALLOW_HEADERS.join(', ')}\``), 'allow headers');
  assert.ok(flat.includes(`Access-Control-Expose-Headers: ${CORS_EXPOSE_HEADERS.join(', ')}\``), 'expose headers');
  assert.ok(flat.includes(`Access-Control-Max-Age: ${CORS_MAX_AGE_SECONDS}\``), 'max age');
  for (const h of Object.values(RelayHeader)) assert.ok(CORS_ALLOW_HEADERS.includes(h), `${h} may be sent cross-origin`);
});

t.run();
