/**
 * A minimal relay WebSocket client for load generation (SPEC 5.8, "WebSocket
 * push"): challenge → auth (signature or session token) → ready → subscribe →
 * backlog → backlog_end → live. The handshake uses the protocol's own frame
 * codec and auth signer; the backlog is only sniffed, so the generator stays
 * cheaper than the relay it loads.
 * @module
 */
import WebSocket from 'ws';
import { bytesToHex, hexToBytes } from '../../base/bytes.js';
import {
  RelayPath,
  authMessage,
  decodeChallengeResponse,
  decodeSessionResponse,
  encodeClientFrame,
  encodeSessionRequest,
  parseServerFrame,
  proveAuth,
  relayOrigin,
  type ServerFrame,
} from '../../protocol/relay.js';

/** How a connection proves it owns the mailbox (`sign`: an external BIP340 signer of `authMessage`, e.g. presigned nonces). */
export type Credential =
  | { mailbox: string; secretKey: Uint8Array }
  | { mailbox: string; sign: (msg: Uint8Array) => Uint8Array }
  | { mailbox: string; token: string };

/** WebSocket URL of a relay base URL. */
export const wsUrl = (url: string): string => url.replace(/^http/, 'ws') + RelayPath.ws;

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
      let f: ServerFrame;
      try {
        f = parseServerFrame(data.toString());
      } catch (e) {
        return fail(e as Error);
      }
      if (f.type === 'challenge') {
        if ('token' in cred) return ws.send(encodeClientFrame({ type: 'auth', token: cred.token }));
        const origin = relayOrigin(url);
        const proof =
          'sign' in cred
            ? {
                mailbox: cred.mailbox,
                challenge: f.challenge,
                signature: bytesToHex(cred.sign(authMessage(origin, hexToBytes(f.challenge, 32), hexToBytes(cred.mailbox, 32)))),
              }
            : proveAuth(origin, f.challenge, cred.secretKey);
        return ws.send(encodeClientFrame({ type: 'auth', ...proof }));
      }
      if (f.type === 'ready') {
        ws.off('message', first);
        ws.removeAllListeners('close');
        ws.off('error', fail);
        ws.on('error', () => undefined);
        return resolve(ws);
      }
      fail(new Error(`unexpected frame ${f.type} ${f.type === 'error' ? f.error.code : ''}`));
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
    ws.send(encodeClientFrame({ type: 'subscribe', after }));
  });
}

/** Gets a session token over HTTP (challenge → signed → token). */
export async function sessionToken(url: string, mailbox: string, secretKey: Uint8Array): Promise<string> {
  const c = decodeChallengeResponse(await (await fetch(url + RelayPath.challenge, { method: 'POST' })).json());
  const proof = proveAuth(relayOrigin(url), c.challenge, secretKey);
  if (proof.mailbox !== mailbox) throw new Error('session: secretKey is not the key of mailbox');
  const r = await fetch(url + RelayPath.session, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: encodeSessionRequest(proof),
  });
  if (r.status !== 200) throw new Error(`session: ${r.status} ${await r.text()}`);
  return decodeSessionResponse(await r.json()).token;
}
