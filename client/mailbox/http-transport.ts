/**
 * How the client sends one HTTP request to a relay and reads its answer.
 *
 * Two transports do the same thing:
 * - over a WHATWG `fetch` (browsers, and wherever the wallet injects one);
 * - over Node's own `node:http` / `node:https` with keep-alive agents, the
 *   default in Node when no `fetch` is injected. Node's `fetch` (undici)
 *   spends about three times the CPU of `http.request` per small request
 *   (WHATWG streams and promises around every body), and a hub posts an
 *   envelope for nearly every step it takes.
 *
 * `node:http` is reached through `process.getBuiltinModule`, not an import,
 * so browser bundlers neither follow nor stub it; `LNMB_HTTP=fetch` forces
 * the `fetch` transport in Node. Both refuse an answer longer than its cap
 * without reading it all, and neither follows a redirect.
 * @module
 */
import { concatBytes } from '../../base/bytes.js';
import { ErrorCode, LnMailboxError, fail } from '../../base/errors.js';

/** The subset of WHATWG `fetch` the client uses (`globalThis.fetch` by default outside Node). */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** One request, as {@link HttpTransport} sends it. */
export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Aborts the request (the caller's timeout). */
  signal: AbortSignal;
  /** Longest answer body accepted, bytes; a longer one is RELAY_BAD_RESPONSE. */
  maxBytes: number;
}

/** The answer to one request: its status, its content type and its whole body. */
export interface HttpAnswer {
  status: number;
  contentType: string | undefined;
  bytes: Uint8Array;
}

/**
 * Sends one request and reads the whole answer. Rejects with
 * RELAY_BAD_RESPONSE for an answer longer than `maxBytes`, and with the
 * underlying error when the relay cannot be reached or the signal fired.
 */
export type HttpTransport = (req: HttpRequest) => Promise<HttpAnswer>;

function tooLong(url: string, max: number, status: number): LnMailboxError {
  return new LnMailboxError(ErrorCode.RELAY_BAD_RESPONSE, `${url}: answer longer than ${max} bytes`, { status });
}

/** Reads a fetch answer's body, refusing one longer than `max` bytes without reading it all. */
async function readCapped(res: Response, max: number): Promise<Uint8Array> {
  if (!Number.isFinite(max) || res.body === null) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLong(res.url, max, res.status);
    }
    chunks.push(value);
  }
  return concatBytes(...chunks);
}

/** A {@link HttpTransport} over a WHATWG `fetch`. */
export function fetchTransport(fetchImpl: FetchLike): HttpTransport {
  return async (req) => {
    // A fresh ArrayBuffer-backed copy satisfies BodyInit everywhere.
    const body = typeof req.body === 'string' || req.body === undefined ? req.body : new Uint8Array(req.body);
    const res = await fetchImpl(req.url, { method: req.method, headers: req.headers, body, signal: req.signal, redirect: 'error' });
    const bytes = await readCapped(res, req.maxBytes);
    return { status: res.status, contentType: res.headers.get('content-type') ?? undefined, bytes };
  };
}

/** The parts of `node:http` / `node:https` the Node transport uses. */
interface NodeHttpModule {
  Agent: new (opts: { keepAlive: boolean; timeout: number }) => unknown;
  request(
    url: URL,
    opts: { method: string; headers: Record<string, string | number>; agent: unknown; signal: AbortSignal },
    cb: (res: NodeIncoming) => void,
  ): NodeOutgoing;
}
interface NodeIncoming {
  statusCode?: number;
  headers: Record<string, string | string[] | undefined>;
  on(ev: 'data', cb: (chunk: Uint8Array) => void): unknown;
  on(ev: 'end' | 'aborted', cb: () => void): unknown;
  on(ev: 'error', cb: (e: Error) => void): unknown;
}
interface NodeOutgoing {
  /** True when the request went out on a kept-alive socket an earlier request used. */
  reusedSocket?: boolean;
  on(ev: 'error', cb: (e: Error & { code?: string }) => void): unknown;
  end(body?: Uint8Array | string): unknown;
  destroy(): unknown;
}

/**
 * Idle sockets are kept for 4 s: below the 5 s after which a Node server
 * (the relay's default) closes an idle connection, so a request rarely
 * lands on a socket the relay is closing.
 */
const IDLE_SOCKET_MS = 4_000;

/** Errors of a socket the server closed under a request. */
const RESET: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE']);

interface ProcessLike {
  versions?: { node?: string };
  env?: Record<string, string | undefined>;
  getBuiltinModule?: (id: string) => unknown;
}

function loadNodeHttp(): { http: NodeHttpModule; https: NodeHttpModule } | null {
  const proc = (globalThis as { process?: ProcessLike }).process;
  if (!proc?.versions?.node || proc.env?.LNMB_HTTP === 'fetch' || typeof proc.getBuiltinModule !== 'function') return null;
  try {
    const http = proc.getBuiltinModule('node:http') as NodeHttpModule | undefined;
    const https = proc.getBuiltinModule('node:https') as NodeHttpModule | undefined;
    if (typeof http?.request !== 'function' || typeof https?.request !== 'function') return null;
    return { http, https };
  } catch {
    return null;
  }
}

let nodeTransport: HttpTransport | null | undefined;

/** The Node transport (see the module's comment), or null outside Node or with `LNMB_HTTP=fetch`. */
export function nodeHttpTransport(): HttpTransport | null {
  if (nodeTransport !== undefined) return nodeTransport;
  const mods = loadNodeHttp();
  if (mods === null) return (nodeTransport = null);
  const agents = new Map<NodeHttpModule, unknown>();
  const agentOf = (m: NodeHttpModule) => {
    let a = agents.get(m);
    if (a === undefined) agents.set(m, (a = new m.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS })));
    return a;
  };
  nodeTransport = (req) =>
    new Promise<HttpAnswer>((resolve, reject) => {
      const url = new URL(req.url);
      const mod = url.protocol === 'https:' ? mods.https : url.protocol === 'http:' ? mods.http : undefined;
      if (mod === undefined) {
        reject(new TypeError(`unsupported protocol ${url.protocol}`));
        return;
      }
      const body = typeof req.body === 'string' ? new TextEncoder().encode(req.body) : req.body;
      const headers: Record<string, string | number> = { ...req.headers };
      if (body !== undefined) headers['content-length'] = body.length;
      let done = false;
      const fail = (e: Error) => {
        if (done) return;
        done = true;
        reject(e);
      };
      const attempt = (mayRetry: boolean) => {
        let answered = false;
        const out = mod.request(url, { method: req.method, headers, agent: agentOf(mod), signal: req.signal }, (res) => {
          answered = true;
          const status = res.statusCode ?? 0;
          const ct = res.headers['content-type'];
          const chunks: Uint8Array[] = [];
          let n = 0;
          res.on('data', (chunk) => {
            if (done) return;
            n += chunk.length;
            if (n > req.maxBytes) {
              fail(tooLong(req.url, req.maxBytes, status));
              out.destroy();
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => {
            if (done) return;
            done = true;
            resolve({ status, contentType: typeof ct === 'string' ? ct : undefined, bytes: concatBytes(...chunks) });
          });
          res.on('aborted', () => fail(new Error('connection closed before the answer ended')));
          res.on('error', fail);
        });
        out.on('error', (e: Error & { code?: string }) => {
          // A kept-alive socket the server closed as we reused it: the request never reached it. Once
          // more on a fresh socket (every relay request is safe to repeat: a re-posted envelope is
          // the same envelope, an ack or a retraction the same answer).
          if (mayRetry && !answered && !done && out.reusedSocket === true && !req.signal.aborted && RESET.has(e.code ?? '')) attempt(false);
          else fail(e);
        });
        out.end(body);
      };
      attempt(true);
    });
  return nodeTransport;
}

/**
 * The transport a client uses: over `fetchImpl` when one is given, else the
 * Node transport in Node, else over `globalThis.fetch`; undefined when none
 * is available. INVALID_TYPE when `fetchImpl` is not a function.
 */
export function defaultTransport(fetchImpl?: FetchLike): HttpTransport | undefined {
  if (fetchImpl !== undefined && typeof fetchImpl !== 'function') fail(ErrorCode.INVALID_TYPE, 'fetch: expected a function');
  if (fetchImpl !== undefined) return fetchTransport(fetchImpl);
  const node = nodeHttpTransport();
  if (node !== null) return node;
  const g = globalThis as { fetch?: unknown };
  return typeof g.fetch === 'function' ? fetchTransport((g.fetch as FetchLike).bind(globalThis)) : undefined;
}
