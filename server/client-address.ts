/**
 * Who is asking, and which origin did they address: the client IP that rate
 * and connection limits are keyed by, and the relay origin an auth
 * signature must bind (SPEC 5.6, "Authentication"; SPEC 5.10, "Limits").
 *
 * Forwarded headers are only believed for `trustProxy` hops, counted from the
 * socket (the same rule as express's numeric `trust proxy`); otherwise a
 * client could pick its own rate-limit key, or an origin to sign for.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { relayOrigin } from '../protocol/relay.js';

function forwarded(req: IncomingMessage, name: string): string[] {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v.join(',') : v;
  return s
    ? s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
    : [];
}

/** The client address: the socket peer, or the `trustProxy`-th hop of X-Forwarded-For. */
export function clientAddress(req: IncomingMessage, trustProxy: number): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (trustProxy <= 0) return peer;
  // [peer, last XFF entry, ...]: hop i is the address the i-th trusted proxy saw.
  const hops = [peer, ...forwarded(req, 'x-forwarded-for').reverse()];
  return hops[Math.min(trustProxy, hops.length - 1)]!;
}

/**
 * The origin a client must have signed for: the configured public URL's
 * origin when set (recommended: then it does not depend on headers at all),
 * else `scheme://Host` of this request, where the scheme is `http` unless a
 * trusted proxy says `X-Forwarded-Proto: https`.
 * @throws LnMailboxError INVALID_TYPE when the Host header makes no URL
 */
export function requestOrigin(req: IncomingMessage, trustProxy: number, publicUrl: string | undefined): string {
  if (publicUrl) return relayOrigin(publicUrl);
  let scheme = 'http';
  let host = req.headers.host ?? '';
  if (trustProxy > 0) {
    const proto = forwarded(req, 'x-forwarded-proto')[0]?.toLowerCase();
    if (proto === 'https' || proto === 'http') scheme = proto;
    const fwdHost = forwarded(req, 'x-forwarded-host')[0];
    if (fwdHost) host = fwdHost;
  }
  return relayOrigin(`${scheme}://${host}`);
}
