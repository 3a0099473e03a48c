/**
 * Same-run baselines, each in its own process like the relay:
 * - `express`: a bare express route that reads the body and answers 201;
 * - `http`: a bare node:http server that reads the body and answers 201;
 * - `ws`: a bare `ws` server that sends pre-built frames (the same JSON
 *   envelope frames the relay sends) to each connection, then `{"type":"end"}`.
 * @module
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { WebSocketServer } from 'ws';
import { ENVELOPE_BYTES, idOf, syntheticEnvelope } from '../envelopes.js';
import { serve } from '../rpc.js';

let server: http.Server | undefined;
let frames: string[] = [];

function listen(s: http.Server): Promise<{ url: string; pid: number }> {
  server = s;
  return new Promise((resolve) =>
    s.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, pid: process.pid })),
  );
}

serve({
  start(kind: 'express' | 'http' | 'ws', frameCount = 0, mailbox = '00'.repeat(32)): Promise<{ url: string; pid: number }> {
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
