/**
 * WebSocket load generator (its own process): backlog drain, push latency,
 * auth handshake rate and idle subscribers, all against a
 * relay (or the bare `ws` baseline) on loopback.
 * @module
 */
import http from 'node:http';
import WebSocket from 'ws';
import { schnorr } from '@noble/curves/secp256k1.js';
import { idOf, mailboxKey, syntheticEnvelope, type MailboxKey } from '../envelopes.js';
import { serve } from '../rpc.js';
import { PresignedSigner } from './presign.js';
import { connectAuthed, sessionToken, subscribe, wsUrl, type Credential } from './ws-client.js';

const held: WebSocket[] = [];
/** Where the id starts in the relay's envelope frame (`{"type":"envelope","id":"<64 hex>"…`). */
const ID_AT = '{"type":"envelope","id":"'.length;

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

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;

function postOnce(agent: http.Agent, url: URL, mailbox: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: `/v1/mailboxes/${mailbox}/envelopes`,
        headers: { 'content-type': 'application/octet-stream', 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
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
   * Push latency: `subscribers` mailboxes, each with one live subscriber;
   * POSTs at `rate`/s (open loop, spread over the mailboxes) for
   * `durationMs`; latency = POST sent → envelope frame received (same
   * process, same clock), plus 201 received → frame for reference.
   */
  async push(url: string, subscribers: number, rate: number, durationMs: number) {
    const keys: MailboxKey[] = Array.from({ length: subscribers }, () => mailboxKey());
    const sent = new Map<string, number>();
    const accepted = new Map<string, number>();
    const lat: number[] = [];
    const arrived = new Map<string, number>();
    let received = 0;
    const socks = await pool(keys, 50, async (k) => {
      const ws = await connectAuthed(url, { mailbox: k.mailbox, secretKey: k.secretKey });
      await subscribe(ws, 0);
      ws.on('message', (data) => {
        const t = performance.now();
        const text = data.toString();
        if (!text.startsWith('{"type":"envelope"')) return;
        const id = text.slice(ID_AT, ID_AT + 64);
        const s = sent.get(id);
        if (s === undefined) return;
        received++;
        lat.push(t - s);
        arrived.set(id, t);
      });
      return ws;
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    const u = new URL(url);
    let posted = 0;
    let failed = 0;
    const inflight = new Set<Promise<void>>();
    const t0 = performance.now();
    const TICK = 10;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const elapsed = performance.now() - t0;
        if (elapsed >= durationMs) {
          clearInterval(timer);
          return resolve();
        }
        // Catch up to the schedule: rate·elapsed envelopes by now.
        const due = Math.floor((rate * elapsed) / 1000) - posted;
        for (let i = 0; i < due; i++) {
          const k = keys[posted++ % keys.length]!;
          const body = syntheticEnvelope(k.mailbox);
          const id = idOf(body);
          sent.set(id, performance.now());
          const p = postOnce(agent, u, k.mailbox, body)
            .then((st) => {
              if (st === 201) accepted.set(id, performance.now());
              else failed++;
            })
            .catch(() => void failed++)
            .finally(() => inflight.delete(p));
          inflight.add(p);
        }
      }, TICK);
    });
    await Promise.all(inflight);
    const deadline = performance.now() + 5000;
    while (received < posted - failed && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const ws of socks) ws.terminate();
    agent.destroy();
    // 201 received → frame received; negative when the push beat the response (both follow one commit).
    const afterAccept: number[] = [];
    for (const [id, a] of accepted) {
      const t = arrived.get(id);
      if (t !== undefined) afterAccept.push(t - a);
    }
    lat.sort((a, b) => a - b);
    afterAccept.sort((a, b) => a - b);
    return {
      posted,
      failed,
      received,
      achievedRate: posted / (durationMs / 1000),
      p50: pct(lat, 0.5),
      p99: pct(lat, 0.99),
      acceptedP50: pct(afterAccept, 0.5),
      acceptedP99: pct(afterAccept, 0.99),
      framesBeforeAccept: afterAccept.filter((x) => x < 0).length,
      arrivals: [...arrived].map(([id, t]) => [id, performance.timeOrigin + t] as [string, number]),
    };
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
