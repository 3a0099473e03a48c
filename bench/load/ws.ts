/**
 * WebSocket load generator (its own process): backlog drain, push subscribers,
 * auth handshake rate and idle subscribers, all against a
 * relay (or the bare `ws` baseline) on loopback.
 * @module
 */
import WebSocket from 'ws';
import { schnorr } from '@noble/curves/secp256k1.js';
import { mailboxKey, randomMailboxes, type MailboxKey } from '../envelopes.js';
import { serve } from '../rpc.js';
import { PresignedSigner } from './presign.js';
import { connectAuthed, sessionToken, subscribe, wsUrl, type Credential } from './ws-client.js';

const held: WebSocket[] = [];
/** Sockets opened by `listen`, and the frames they stamped. */
const listeners: WebSocket[] = [];
const listening: [string, number][] = [];
/** Where the id starts in the relay's envelope frame (`{"type":"envelope","id":"<64 hex>"…`). */
const ID_AT = '{"type":"envelope","id":"'.length;

const ENVELOPE_FRAME = Buffer.from('{"type":"envelope"');

/**
 * Stamps every envelope frame `ws` receives from now on with its epoch ms,
 * for `arrivals`. Only the id is copied out of the frame: a slice of the
 * frame's text would keep the whole frame alive until `arrivals`, and the
 * collections that costs show up in the latencies at high rates.
 */
function stampArrivals(ws: WebSocket): void {
  const origin = performance.timeOrigin;
  ws.on('message', (data: Buffer) => {
    const t = origin + performance.now();
    if (data.subarray(0, ENVELOPE_FRAME.length).equals(ENVELOPE_FRAME)) listening.push([data.toString('latin1', ID_AT, ID_AT + 64), t]);
  });
}

/** Runs `fn` over `items` with at most `width` in flight. */
async function pool<T, R>(items: readonly T[], width: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

serve({
  /** Subscribes from 0 and times the backlog until `backlog_end`. */
  async drain(url: string, secretKeyHex: string): Promise<{ frames: number; ms: number }> {
    const secretKey = Buffer.from(secretKeyHex, 'hex');
    const mailbox = Buffer.from(schnorr.getPublicKey(secretKey)).toString('hex');
    const ws = await connectAuthed(url, { mailbox, secretKey });
    const t0 = performance.now();
    const frames = await subscribe(ws, 0);
    const ms = performance.now() - t0;
    ws.terminate();
    return { frames, ms };
  },

  /** Times the bare server's frames from `open` to its end marker. */
  drainBare(url: string): Promise<{ frames: number; ms: number }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl(url), { perMessageDeflate: false });
      let t0 = 0;
      let frames = 0;
      ws.on('open', () => (t0 = performance.now()));
      ws.on('error', reject);
      ws.on('message', (data) => {
        const text = data.toString();
        if (text.startsWith('{"type":"envelope"')) frames++;
        else if (text.startsWith('{"type":"end"')) {
          const ms = performance.now() - t0;
          ws.terminate();
          resolve({ frames, ms });
        }
      });
    });
  },

  /**
   * Auth handshakes (challenge → signed → ready, then close) from
   * `concurrency` closed-loop clients for `durationMs`. Nonces are prepared
   * before the clock starts (see presign.ts).
   */
  async auth(
    url: string,
    concurrency: number,
    durationMs: number,
    budget: number,
  ): Promise<{ handshakes: number; seconds: number; perSecond: number; failed: number; prepareMs: number }> {
    const p0 = performance.now();
    const per = Math.ceil(budget / concurrency);
    const signers = Array.from({ length: concurrency }, () => {
      const s = new PresignedSigner(schnorr.utils.randomSecretKey());
      s.prepare(per);
      return s;
    });
    const prepareMs = performance.now() - p0;
    let handshakes = 0;
    let failed = 0;
    const t0 = performance.now();
    const end = t0 + durationMs;
    await Promise.all(
      signers.map(async (s) => {
        const mailbox = Buffer.from(s.publicKey).toString('hex');
        while (performance.now() < end && s.remaining > 0) {
          try {
            const ws = await connectAuthed(url, { mailbox, sign: (m) => s.sign(m) });
            handshakes++;
            ws.terminate();
          } catch {
            failed++;
          }
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    return { handshakes, seconds, perSecond: handshakes / seconds, failed, prepareMs };
  },

  /**
   * Opens `subscribers` authenticated, subscribed sockets on `url` (one
   * fresh mailbox each) and stamps every envelope frame that arrives from
   * then on with its epoch ms; returns the mailbox ids. The POSTs come from
   * another process (load/http.ts `openLoop`), so this process only listens.
   */
  async listen(url: string, subscribers: number): Promise<string[]> {
    const keys: MailboxKey[] = Array.from({ length: subscribers }, () => mailboxKey());
    const socks = await pool(keys, 50, async (k) => {
      const ws = await connectAuthed(url, { mailbox: k.mailbox, secretKey: k.secretKey });
      await subscribe(ws, 0);
      stampArrivals(ws);
      return ws;
    });
    listeners.push(...socks);
    return keys.map((k) => k.mailbox);
  },

  /**
   * {@link listen} against the bare broadcast server (servers/bare.ts):
   * plain sockets, no auth, each naming a fresh mailbox in its URL.
   */
  async listenBare(url: string, subscribers: number): Promise<string[]> {
    const mailboxes = randomMailboxes(subscribers);
    const socks = await pool(
      mailboxes,
      50,
      (m) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`${wsUrl(url)}?mailbox=${m}`, { perMessageDeflate: false });
          ws.once('error', reject);
          ws.once('open', () => {
            ws.off('error', reject);
            ws.on('error', () => undefined);
            stampArrivals(ws);
            resolve(ws);
          });
        }),
    );
    listeners.push(...socks);
    return mailboxes;
  },

  /** What {@link listen} or `listenBare` stamped so far ([id, epoch ms]); `close` also ends its sockets. */
  arrivals(close = false): [string, number][] {
    const out = listening.splice(0);
    if (close) for (const ws of listeners.splice(0)) ws.terminate();
    return out;
  },

  /** Makes `mailboxes` keys and session tokens (HTTP auth), for idle connections. */
  async tokens(url: string, mailboxes: number): Promise<{ mailbox: string; token: string }[]> {
    const keys = Array.from({ length: mailboxes }, () => mailboxKey());
    return pool(keys, 20, async (k) => ({ mailbox: k.mailbox, token: await sessionToken(url, k.mailbox, k.secretKey) }));
  },

  /** Opens `count` authenticated, subscribed sockets (round-robin over `creds`) and holds them. */
  async hold(url: string, creds: Credential[], count: number): Promise<{ opened: number; failed: number; firstError?: string }> {
    let opened = 0;
    let failed = 0;
    let firstError: string | undefined;
    await pool(
      Array.from({ length: count }, (_, i) => creds[i % creds.length]!),
      100,
      async (c) => {
        try {
          const ws = await connectAuthed(url, c);
          await subscribe(ws, 0);
          held.push(ws);
          opened++;
        } catch (e) {
          failed++;
          firstError ??= (e as Error).message;
        }
      },
    );
    return firstError === undefined ? { opened, failed } : { opened, failed, firstError };
  },

  /** Closes every held socket. */
  async release(): Promise<number> {
    const n = held.length;
    await Promise.all(
      held.splice(0).map(
        (ws) =>
          new Promise<void>((resolve) => {
            ws.once('close', () => resolve());
            ws.terminate();
          }),
      ),
    );
    return n;
  },
});
