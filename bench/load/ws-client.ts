/**
 * A minimal relay WebSocket client for load generation (SPEC section 5,
 * "WebSocket"): challenge → auth (signature or session token) → ready →
 * subscribe → backlog → backlog_end → live. It parses only what it must,
 * so the generator stays cheaper than the relay it loads.
 * @module
 */
import WebSocket from 'ws';
import { authMessage, relayOrigin } from '../../protocol/relay.js';
import { schnorr } from '@noble/curves/secp256k1.js';

/** How a connection proves it owns the mailbox. */
export type Credential =
  | { mailbox: string; secretKey: Uint8Array }
  | { mailbox: string; sign: (msg: Uint8Array) => Uint8Array }
  | { mailbox: string; token: string };

/** WebSocket URL of a relay base URL. */
export const wsUrl = (url: string): string => url.replace(/^http/, 'ws') + '/v1/ws';

/** Opens a socket and authenticates; resolves once `ready` arrived. */
export function connectAuthed(url: string, cred: Credential): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(url), { perMessageDeflate: false });
    const fail = (e: Error): void => {
      ws.terminate();
      reject(e);
    };
    ws.once('error', fail);
    ws.once('close', (code) => reject(new Error(`closed ${code} before ready`)));
    ws.on('message', function first(data) {
      const f = JSON.parse(data.toString()) as { type: string; challenge?: string; error?: { code: string } };
      if (f.type === 'challenge') {
        if ('token' in cred) return ws.send(JSON.stringify({ type: 'auth', token: cred.token }));
        const msg = authMessage(relayOrigin(url), Buffer.from(f.challenge!, 'hex'), Buffer.from(cred.mailbox, 'hex'));
        const sig = 'sign' in cred ? cred.sign(msg) : schnorr.sign(msg, cred.secretKey);
        return ws.send(
          JSON.stringify({ type: 'auth', mailbox: cred.mailbox, challenge: f.challenge, signature: Buffer.from(sig).toString('hex') }),
        );
      }
      if (f.type === 'ready') {
        ws.off('message', first);
        ws.removeAllListeners('close');
        ws.off('error', fail);
        ws.on('error', () => undefined);
        return resolve(ws);
      }
      fail(new Error(`unexpected frame ${f.type} ${f.error?.code ?? ''}`));
    });
  });
}

/** Sends `subscribe` and resolves at `backlog_end` with the envelope frames counted on the way. */
export function subscribe(ws: WebSocket, after = 0, onEnvelope?: (text: string) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    const onMsg = (data: WebSocket.RawData): void => {
      const text = data.toString();
      // Cheap type sniffing: the relay serializes `type` first.
      if (text.startsWith('{"type":"envelope"')) {
        n++;
        onEnvelope?.(text);
      } else if (text.startsWith('{"type":"backlog_end"')) {
        ws.off('message', onMsg);
        resolve(n);
      } else if (text.startsWith('{"type":"error"')) reject(new Error(text));
    };
    ws.on('message', onMsg);
    ws.once('close', (code) => reject(new Error(`closed ${code} during backlog`)));
    ws.send(JSON.stringify({ type: 'subscribe', after }));
  });
}

/** Gets a session token over HTTP (challenge → signed → token). */
export async function sessionToken(url: string, mailbox: string, secretKey: Uint8Array): Promise<string> {
  const c = (await (await fetch(url + '/v1/auth/challenge', { method: 'POST' })).json()) as { challenge: string };
  const msg = authMessage(relayOrigin(url), Buffer.from(c.challenge, 'hex'), Buffer.from(mailbox, 'hex'));
  const signature = Buffer.from(schnorr.sign(msg, secretKey)).toString('hex');
  const r = await fetch(url + '/v1/auth/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ mailbox, challenge: c.challenge, signature }),
  });
  if (r.status !== 200) throw new Error(`session: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { token: string }).token;
}
