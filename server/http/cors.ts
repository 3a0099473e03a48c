/**
 * Cross-origin access for browser wallets (SPEC 5.14, "Browsers (CORS)").
 *
 * A mailbox address names any relay, so a wallet page served from its own
 * origin must be able to post envelopes, read `/v1/info`, authenticate and
 * read its mailbox. This layer sits in front of every route at the
 * `node:http` level, before any route handler (express or not), so it
 * covers them all the same way:
 *
 * - every response to an allowed origin carries `Access-Control-Allow-Origin`
 *   and `Access-Control-Expose-Headers`;
 * - a preflight (`OPTIONS` with `Access-Control-Request-Method`), on any
 *   path, is answered here with `204` and never reaches a route.
 *
 * No credentials: the API uses bearer tokens, never cookies, so
 * `Access-Control-Allow-Credentials` is never sent and `*` is a safe default.
 * WebSocket upgrades are not subject to CORS and do not pass through here.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RelayHeader } from '../../protocol/relay.js';

/** Methods a cross-origin page may use (every method of SPEC 5.3 but the WebSocket upgrade). */
export const CORS_ALLOW_METHODS: readonly string[] = ['GET', 'POST', 'PUT', 'DELETE'];

/** Request headers a cross-origin page may send: the bearer token, the body type and the relay's own headers. */
export const CORS_ALLOW_HEADERS: readonly string[] = [
  'authorization',
  'content-type',
  RelayHeader.ttl,
  RelayHeader.retractionHash,
  RelayHeader.pow,
  RelayHeader.retractionSecret,
];

/**
 * Response headers a page may read beyond the CORS-safelisted ones
 * (`Content-Type`, `Content-Length`, `Cache-Control`…): how long to back off,
 * and the auth scheme of a 401.
 */
export const CORS_EXPOSE_HEADERS: readonly string[] = ['retry-after', 'www-authenticate'];

/** How long a browser may cache a preflight, seconds (Chromium caps it at 7200). */
export const CORS_MAX_AGE_SECONDS = 7200;

/** The cross-origin policy of one relay. */
export interface CorsPolicy {
  /** `*` for any origin, or the exact origins allowed. */
  readonly origins: '*' | ReadonlySet<string>;
}

/**
 * The policy of a `corsOrigins` setting (`*` or a comma-separated list of
 * origins, already validated by `resolveConfig`).
 */
export function corsPolicy(setting: string): CorsPolicy {
  if (setting.trim() === '*') return { origins: '*' };
  return { origins: new Set(setting.split(',').map((o) => o.trim())) };
}

/** A header that may be repeated by a client; the first value counts. */
function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Builds the CORS layer of a policy: call it first for every request. It
 * sets the CORS response headers and, for a preflight, answers it.
 * @returns true when the request is fully answered (a preflight), false when
 *   a route must still handle it
 */
export function createCors(policy: CorsPolicy): (req: IncomingMessage, res: ServerResponse) => boolean {
  const any = policy.origins === '*';
  const allowMethods = CORS_ALLOW_METHODS.join(', ');
  const allowHeaders = CORS_ALLOW_HEADERS.join(', ');
  const exposeHeaders = CORS_EXPOSE_HEADERS.join(', ');
  return (req, res) => {
    const origin = one(req.headers.origin);
    let allowed: boolean;
    if (any) allowed = true;
    else {
      // The answer depends on Origin: caches must keep one copy per origin.
      res.setHeader('Vary', 'Origin');
      allowed = origin !== undefined && (policy.origins as ReadonlySet<string>).has(origin);
    }
    if (allowed) {
      res.setHeader('Access-Control-Allow-Origin', any ? '*' : origin!);
      res.setHeader('Access-Control-Expose-Headers', exposeHeaders);
    }
    if (req.method !== 'OPTIONS' || req.headers['access-control-request-method'] === undefined) return false;
    // A preflight: answered here whatever the path. A refused origin gets no
    // Allow-* headers, which is how a browser learns that the answer is no.
    if (allowed) {
      res.setHeader('Access-Control-Allow-Methods', allowMethods);
      res.setHeader('Access-Control-Allow-Headers', allowHeaders);
      res.setHeader('Access-Control-Max-Age', String(CORS_MAX_AGE_SECONDS));
      // Chromium's Private Network Access: a public page may reach a relay on a private address only if it says yes.
      if (one(req.headers['access-control-request-private-network']) === 'true')
        res.setHeader('Access-Control-Allow-Private-Network', 'true');
    }
    res.setHeader('Cache-Control', 'no-store');
    res.statusCode = 204;
    res.end();
    return true;
  };
}
