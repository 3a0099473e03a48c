/**
 * Test support for relay suites: a real relay on 127.0.0.1 port 0 over a
 * real LevelDB in a temp dir, with a controllable clock; header-valid
 * envelopes; HTTP and WebSocket clients speaking the wire protocol.
 */
import fs from 'node:fs';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { schnorr } from '@noble/curves/secp256k1.js';
import WebSocket from 'ws';
import { ENVELOPE_MIN_LEN } from '../../protocol/envelope.js';
import { parseServerFrame, relayOrigin, signAuth, type ServerFrame } from '../../protocol/relay.js';
import { startRelay, type Relay, type StartRelayOptions } from '../../server/relay.js';

/** Fixed start of test time (2027-01-15). */
export const T0 = 1_800_000_000_000;

/** A relay under test plus its clock. */
export interface TestRelay {
  relay: Relay;
  url: string;
  dir: string;
  clock: { t: number };
  /** Closes the relay and removes its data dir when the harness created it. */
  close(): Promise<void>;
}

/** Starts a relay with silent logs, a fake clock at {@link T0}, and the given options. */
export async function startTestRelay(opts: StartRelayOptions = {}): Promise<TestRelay> {
  const owned = opts.dataDir === undefined;
  const dir = opts.dataDir ?? fs.mkdtempSync(os.tmpdir() + '/lnmb-');
  const clock = { t: T0 };
  const relay = await startRelay({ host: '127.0.0.1', port: 0, logLevel: 'silent', now: () => clock.t, ...opts, dataDir: dir });
  const close = async () => {
    await relay.close();
    if (owned) fs.rmSync(dir, { recursive: true, force: true });
  };
  return { relay, url: relay.url, dir, clock, close };
}

/** A mailbox key pair: secret key and x-only id as hex. */
export interface MailboxKey {
  sk: Uint8Array;
  id: string;
}

/** A fresh random mailbox. */
export function newMailbox(): MailboxKey {
  const sk = schnorr.utils.randomSecretKey();
  return { sk, id: Buffer.from(schnorr.getPublicKey(sk)).toString('hex') };
}

/** Header-valid envelope bytes for `mailbox` (the relay never decrypts): version, recipient, random rest. */
export function fakeEnvelope(mailbox: string, size = ENVELOPE_MIN_LEN + 64): Uint8Array {
  const e = new Uint8Array(randomBytes(size));
  e[0] = 1;
  e.set(Buffer.from(mailbox, 'hex'), 1);
  return e;
}

/** A parsed HTTP answer. */
export interface HttpAnswer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read the relay's JSON answers field by field
  body: any;
  headers: Headers;
}

/** Any HTTP request; the body is parsed as JSON when it is JSON. */
export async function request(url: string, init: RequestInit = {}): Promise<HttpAnswer> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json')) body = JSON.parse(text);
  return { status: res.status, body, headers: res.headers };
}

/** POSTs an envelope. */
export function postEnvelope(
  url: string,
  mailbox: string,
  envelope: Uint8Array,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  return request(`${url}/v1/mailboxes/${mailbox}/envelopes`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', ...headers },
    body: envelope as Uint8Array<ArrayBuffer>,
  });
}

/** Runs the HTTP auth flow and returns a session token. */
export async function login(url: string, key: MailboxKey, origin = relayOrigin(url)): Promise<string> {
  const ch = await request(`${url}/v1/auth/challenge`, { method: 'POST' });
  if (ch.status !== 200) throw new Error(`challenge: ${ch.status} ${JSON.stringify(ch.body)}`);
  const signature = Buffer.from(signAuth(origin, Buffer.from(ch.body.challenge, 'hex'), key.sk)).toString('hex');
  const s = await request(`${url}/v1/auth/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ mailbox: key.id, challenge: ch.body.challenge, signature }),
  });
  if (s.status !== 200) throw new Error(`session: ${s.status} ${JSON.stringify(s.body)}`);
  return s.body.token as string;
}

/** Lists a mailbox over HTTP with a token. */
export function list(url: string, mailbox: string, token: string, query = ''): Promise<HttpAnswer> {
  return request(`${url}/v1/mailboxes/${mailbox}/envelopes${query}`, { headers: { authorization: `Bearer ${token}` } });
}

/** Status of an envelope id. */
export async function statusOf(url: string, id: string): Promise<string> {
  const r = await request(`${url}/v1/envelopes/${id}/status`);
  return r.status === 200 ? r.body.status : r.body.error.code;
}

/** A WebSocket client that records server frames and the close. */
export class TestSocket {
  readonly ws: WebSocket;
  readonly frames: ServerFrame[] = [];
  readonly raw: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;
  #waiters: (() => void)[] = [];

  constructor(url: string, opts: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url.replace(/^http/, 'ws') + '/v1/ws', opts);
    this.ws.on('error', () => undefined);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      this.ws.once('error', reject);
    });
    this.opened.catch(() => undefined);
    this.closed = new Promise((resolve) =>
      this.ws.once('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.#wake();
      }),
    );
    this.ws.on('message', (data) => {
      const text = data.toString();
      this.raw.push(text);
      this.frames.push(parseServerFrame(text));
      this.#wake();
    });
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Sends a frame (object → JSON, string as is). */
  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Waits until a frame satisfies `pred` (searching from index `from`); rejects on close or timeout. */
  async waitFor(pred: (f: ServerFrame) => boolean, timeoutMs = 5000, from = 0): Promise<ServerFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.frames.slice(from).find(pred);
      if (f) return f;
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed; frames: ${this.raw.join(' | ').slice(0, 500)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout; frames: ${this.raw.join(' | ').slice(0, 500)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for a frame of `type`. */
  next<T extends ServerFrame['type']>(type: T, timeoutMs = 5000): Promise<Extract<ServerFrame, { type: T }>> {
    return this.waitFor((f) => f.type === type, timeoutMs) as Promise<Extract<ServerFrame, { type: T }>>;
  }

  /** Envelope frames received so far. */
  envelopes(): Extract<ServerFrame, { type: 'envelope' }>[] {
    return this.frames.filter((f): f is Extract<ServerFrame, { type: 'envelope' }> => f.type === 'envelope');
  }

  /** Authenticates with the connection's challenge and waits for `ready`. */
  async auth(key: MailboxKey, origin: string): Promise<void> {
    const ch = await this.next('challenge');
    const signature = Buffer.from(signAuth(origin, Buffer.from(ch.challenge, 'hex'), key.sk)).toString('hex');
    this.send({ type: 'auth', mailbox: key.id, challenge: ch.challenge, signature });
    await this.next('ready');
  }

  /** Closes (if open) and waits for the close. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
    await Promise.race([this.closed, new Promise((r) => setTimeout(r, 2000))]);
    this.ws.terminate();
  }
}

/** Opens an authenticated, subscribed socket and waits for `backlog_end`. */
export async function subscribed(url: string, key: MailboxKey, after = 0): Promise<TestSocket> {
  const s = new TestSocket(url);
  await s.auth(key, relayOrigin(url));
  s.send({ type: 'subscribe', after });
  await s.next('backlog_end');
  return s;
}

/** Polls `fn` until it returns true (for effects that are observable only from outside). */
export async function eventually(fn: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
