/**
 * Same-run baselines, each in its own process like the relay:
 * - `express`: a bare express route that reads the body and answers 201;
 * - `http`: a bare node:http server that reads the body and answers 201;
 * - `ws`: a bare `ws` server that sends pre-built frames (the same JSON
 *   envelope frames the relay sends) to each connection, then `{"type":"end"}`;
 * - `broadcast`: a bare `ws` server holding one plain socket per mailbox
 *   (`?mailbox=<hex>` in the URL); `broadcast` sends envelope frames to them
 *   round-robin at an open-loop rate, as the relay pushes to its subscribers.
 * @module
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { WebSocketServer, type WebSocket } from 'ws';
import { ENVELOPE_BYTES, idOf, syntheticEnvelope } from '../envelopes.js';
import { serve } from '../rpc.js';

let server: http.Server | undefined;
let frames: string[] = [];

/** A `broadcast` connection: its socket, its last seq, and the rest of its frames after the seq, built once. */
interface Sub {
  ws: WebSocket;
  seq: number;
  /** `,"envelope":"<base64 of a 1 KiB envelope to this mailbox>","expiresAt":"…"}`. */
  tail: string;
}
const subs: Sub[] = [];

/** The outcome of one `broadcast` run: frames sent, per wall-clock second, and each frame's id and send time (epoch ms). */
export interface BroadcastResult {
  sent: number;
  achievedRate: number;
  stamps: [string, number][];
}

/**
 * Sends envelope frames round-robin over the open connections at `rate`/s
 * for `durationMs` (open loop: each 5 ms tick catches up to rate·elapsed),
 * stamping each frame just before `ws.send` with the clock the load
 * processes stamp arrivals with. Ids are unique (a random 48-hex prefix and
 * a 16-hex counter) so arrivals can be matched; the rest of the frame is
 * pre-built per connection, so the cost measured is `ws` sending.
 */
function broadcast(rate: number, durationMs: number): Promise<BroadcastResult> {
  if (subs.length === 0) throw new Error('broadcast: no connections');
  const prefix = randomBytes(24).toString('hex');
  const origin = performance.timeOrigin;
  const stamps: [string, number][] = [];
  let sent = 0;
  const t0 = performance.now();
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - t0;
      const due = Math.floor((rate * Math.min(elapsed, durationMs)) / 1000) - sent;
      for (let i = 0; i < due; i++) {
        const s = subs[sent % subs.length]!;
        const id = prefix + sent.toString(16).padStart(16, '0');
        stamps.push([id, origin + performance.now()]);
        s.ws.send(`{"type":"envelope","id":"${id}","seq":${++s.seq}${s.tail}`);
        sent++;
      }
      if (elapsed >= durationMs) {
        clearInterval(timer);
        resolve({ sent, achievedRate: sent / ((performance.now() - t0) / 1000), stamps });
      }
    }, 5);
  });
}

function listen(s: http.Server): Promise<{ url: string; pid: number }> {
  server = s;
  return new Promise((resolve) =>
    s.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, pid: process.pid })),
  );
}

serve({
  start(kind: 'express' | 'http' | 'ws' | 'broadcast', frameCount = 0, mailbox = '00'.repeat(32)): Promise<{ url: string; pid: number }> {
    if (kind === 'express') {
      const app = express();
      app.disable('x-powered-by');
      app.set('etag', false);
      app.post('/v1/mailboxes/:mailbox/envelopes', express.raw({ type: () => true, limit: 64 * 1024, inflate: false }), (_req, res) => {
        res.status(201).end();
      });
      return listen(http.createServer(app));
    }
    if (kind === 'http') {
      return listen(
        http.createServer((req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => {
            Buffer.concat(chunks);
            res.statusCode = 201;
            res.end();
          });
        }),
      );
    }
    if (kind === 'broadcast') {
      subs.length = 0;
      const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
      const s = http.createServer();
      const wss = new WebSocketServer({ server: s, perMessageDeflate: false, clientTracking: false });
      wss.on('connection', (ws, req) => {
        const mailbox = new URL(req.url ?? '/', 'http://x').searchParams.get('mailbox');
        if (!mailbox || !/^[0-9a-f]{64}$/.test(mailbox)) return ws.close(1008, 'mailbox');
        const envelope = syntheticEnvelope(mailbox, ENVELOPE_BYTES).toString('base64');
        const sub: Sub = { ws, seq: 0, tail: `,"envelope":"${envelope}","expiresAt":"${expiresAt}"}` };
        subs.push(sub);
        ws.on('close', () => {
          const i = subs.indexOf(sub);
          if (i >= 0) subs.splice(i, 1);
        });
      });
      return listen(s);
    }
    // The relay's frames for the same backlog: same fields, same sizes.
    frames = [];
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    for (let seq = 1; seq <= frameCount; seq++) {
      const e = syntheticEnvelope(mailbox, ENVELOPE_BYTES);
      frames.push(JSON.stringify({ type: 'envelope', id: idOf(e), seq, envelope: e.toString('base64'), expiresAt }));
    }
    const s = http.createServer();
    const wss = new WebSocketServer({ server: s, perMessageDeflate: false, clientTracking: false });
    wss.on('connection', (ws) => {
      for (const f of frames) ws.send(f);
      ws.send(JSON.stringify({ type: 'end' }));
    });
    return listen(s);
  },
  broadcast,
  /** Open `broadcast` connections. */
  connections(): number {
    return subs.length;
  },
  usage(): { cpuUs: number } {
    const c = process.cpuUsage();
    return { cpuUs: c.user + c.system };
  },
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!server) return resolve();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  },
});
