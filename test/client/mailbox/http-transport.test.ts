/**
 * The two HTTP transports of the client (`node:http` in Node, `fetch`
 * elsewhere) against real loopback servers, one suite run for each: the
 * body and headers arrive intact, an answer is read whole and handed back as
 * a plain Uint8Array, an answer past its cap is refused without reading it
 * all, a relay that never answers is cut off by the signal, one that drops
 * the connection mid-answer is an error, a redirect is not followed, and
 * requests share kept-alive connections.
 */
import http from 'node:http';
import type net from 'node:net';
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode, isLnMailboxError } from '../../../base/errors.js';
import { fetchTransport, nodeHttpTransport, type HttpTransport } from '../../../client/mailbox/http-transport.js';

interface Server {
  url: string;
  connections: () => number;
  close: () => Promise<void>;
}

async function server(handler: http.RequestListener): Promise<Server> {
  const srv = http.createServer(handler);
  let connections = 0;
  srv.on('connection', () => connections++);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

const echo: http.RequestListener = (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(201, { 'content-type': 'application/x-echo', 'x-method': req.method ?? '' });
    res.end(
      JSON.stringify({
        method: req.method,
        url: req.url,
        header: req.headers['x-test'] ?? null,
        body: Buffer.concat(chunks).toString('hex'),
      }),
    );
  });
};

const never = () => new AbortController().signal;

function run(name: string, transport: () => HttpTransport): void {
  const t = suite(`client/http-transport: ${name}`);
  const open: Server[] = [];
  t.after.each(async () => {
    while (open.length > 0) await open.pop()!.close();
  });
  const serve = async (h: http.RequestListener) => {
    const s = await server(h);
    open.push(s);
    return s;
  };

  t('sends method, path, headers and body; reads status, content type and the whole answer as a plain Uint8Array', async () => {
    const s = await serve(echo);
    const body = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
    const res = await transport()({
      method: 'POST',
      url: `${s.url}/v1/x?y=1`,
      headers: { 'x-test': 'yes' },
      body,
      signal: never(),
      maxBytes: Number.POSITIVE_INFINITY,
    });
    assert.is(res.status, 201);
    assert.is(res.contentType, 'application/x-echo');
    assert.is(Object.getPrototypeOf(res.bytes), Uint8Array.prototype);
    const got = JSON.parse(new TextDecoder().decode(res.bytes)) as Record<string, unknown>;
    assert.equal(got, { method: 'POST', url: '/v1/x?y=1', header: 'yes', body: Buffer.from(body).toString('hex') });
    const str = await transport()({ method: 'PUT', url: s.url, body: '{"a":1}', signal: never(), maxBytes: 10_000 });
    assert.is((JSON.parse(new TextDecoder().decode(str.bytes)) as { body: string }).body, Buffer.from('{"a":1}').toString('hex'));
  });

  t('an answer of exactly the cap is read; one byte more is RELAY_BAD_RESPONSE', async () => {
    const size = 200_000;
    const s = await serve((req, res) => {
      const n = req.url === '/over' ? size + 1 : size;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      // In pieces, so the cap is crossed in the middle of the stream.
      for (let at = 0; at < n; at += 16_384) res.write(Buffer.alloc(Math.min(16_384, n - at), 7));
      res.end();
    });
    const ok = await transport()({ method: 'GET', url: `${s.url}/exact`, signal: never(), maxBytes: size });
    assert.is(ok.bytes.length, size);
    try {
      await transport()({ method: 'GET', url: `${s.url}/over`, signal: never(), maxBytes: size });
      assert.unreachable('an answer past its cap must be refused');
    } catch (e) {
      assert.ok(isLnMailboxError(e, ErrorCode.RELAY_BAD_RESPONSE), String(e));
    }
    // The transport still works after it cut a connection.
    assert.is((await transport()({ method: 'GET', url: `${s.url}/exact`, signal: never(), maxBytes: size })).bytes.length, size);
  });

  t('a relay that never answers is cut off by the signal', async () => {
    const s = await serve(() => undefined);
    const ctl = new AbortController();
    const started = Date.now();
    const p = transport()({ method: 'GET', url: s.url, signal: ctl.signal, maxBytes: 100 });
    setTimeout(() => ctl.abort(), 50);
    try {
      await p;
      assert.unreachable('must reject once aborted');
    } catch (e) {
      assert.not.ok(isLnMailboxError(e), 'an abort is the caller’s to name (RELAY_UNREACHABLE)');
    }
    assert.ok(Date.now() - started < 5_000);
  });

  t('a connection dropped in the middle of the answer is an error, not a short body', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(100));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    try {
      await transport()({ method: 'GET', url: s.url, signal: never(), maxBytes: 10_000 });
      assert.unreachable('a truncated answer must not resolve');
    } catch (e) {
      assert.not.ok(isLnMailboxError(e), String(e));
    }
  });

  t('a redirect is not followed', async () => {
    let hits = 0;
    const target = await serve((_req, res) => {
      hits++;
      res.end('{}');
    });
    const s = await serve((_req, res) => res.writeHead(302, { location: target.url }).end());
    try {
      const res = await transport()({ method: 'GET', url: s.url, signal: never(), maxBytes: 10_000 });
      assert.is(res.status, 302, 'answered as it is');
    } catch (e) {
      assert.not.ok(isLnMailboxError(e), String(e));
    }
    assert.is(hits, 0, 'the redirect target was never asked');
  });

  t('sequential requests reuse kept-alive connections', async () => {
    const s = await serve(echo);
    for (let i = 0; i < 20; i++)
      await transport()({ method: 'POST', url: s.url, body: new Uint8Array(10), signal: never(), maxBytes: 10_000 });
    assert.ok(s.connections() <= 2, `${s.connections()} connections for 20 requests`);
  });

  t.run();
}

const node = nodeHttpTransport();
if (node === null) throw new Error('node:http transport unavailable in Node: process.getBuiltinModule missing?');
run('node:http', () => node);
run('fetch', () => fetchTransport(globalThis.fetch.bind(globalThis)));

const k = suite('client/http-transport: node:http, a kept-alive socket closed under a request');
k('is retried once on a fresh socket: the request was never answered', async () => {
  // The server answers the first request of each connection and drops the connection on the second
  // (what a server's idle timeout firing as the request arrives looks like to the client).
  let requests = 0;
  const perSocket = new WeakMap<object, number>();
  const s = await server((req, res) => {
    requests++;
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    if (n > 1) {
      req.socket.destroy();
      return;
    }
    req.resume();
    req.on('end', () => res.end('{"ok":true}'));
  });
  try {
    const ask = () => node({ method: 'POST', url: s.url, body: new Uint8Array(4), signal: new AbortController().signal, maxBytes: 1_000 });
    assert.is((await ask()).status, 200);
    const again = await ask(); // goes out on the kept-alive socket, which the server drops
    assert.equal(JSON.parse(new TextDecoder().decode(again.bytes)), { ok: true });
    assert.is(requests, 3, 'one dropped, one answered on a fresh socket');
    assert.is(s.connections(), 2);
  } finally {
    await s.close();
  }
});
k.run();

const t = suite('client/http-transport: choice');
t('LNMB_HTTP=fetch turns the node:http transport off (a separate process)', () => {
  const code = `import('${new URL('../../../client/mailbox/http-transport.ts', import.meta.url).href}').then((m) => console.log(m.nodeHttpTransport() === null))`;
  for (const [env, want] of [
    ['fetch', 'true'],
    ['', 'false'],
  ] as const) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { env: { ...process.env, LNMB_HTTP: env }, encoding: 'utf8' });
    assert.is(r.stdout.trim(), want, `LNMB_HTTP=${env}: ${r.stderr}`);
  }
});
t.run();
