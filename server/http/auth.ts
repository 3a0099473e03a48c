/**
 * The HTTP authentication routes (SPEC 5.6, "Authentication"): a single-use
 * challenge, then a session token for a BIP340 proof over it.
 * @module
 */
import type { RequestHandler } from 'express';
import { decodeSessionRequest, encodeChallengeResponse, encodeSessionResponse } from '../../protocol/relay-http.js';
import { verifyAuthSignature } from '../sessions.js';
import { requestOrigin } from '../client-address.js';
import { iso, requireType, route, sendJson, type RouteKit } from './common.js';

/** `POST /v1/auth/challenge`: a fresh single-use challenge. */
export function authChallenge({ ctx, limitRate }: RouteKit): RequestHandler[] {
  return [
    limitRate,
    route((_req, res) => {
      const { challenge, expiresAt } = ctx.auth.issueChallenge(ctx.now());
      sendJson(res, encodeChallengeResponse({ challenge, expiresAt: iso(expiresAt) }));
    }),
  ];
}

/**
 * `POST /v1/auth/session`: trades `{ mailbox, challenge, signature }` for a
 * short-lived bearer token bound to that mailbox. The signature is checked
 * against the origin this relay is reached at, so a proof made for another
 * relay does not verify here.
 */
export function authSession({ ctx, limitRate, json }: RouteKit): RequestHandler[] {
  const { config, auth, now } = ctx;
  return [
    limitRate,
    (req, _res, next) => {
      requireType(req, 'application/json');
      next();
    },
    json,
    route((req, res) => {
      const proof = decodeSessionRequest(req.body);
      const t = now();
      // Consumed before the signature is checked: one challenge, one guess.
      auth.consumeChallenge(proof.challenge, t);
      verifyAuthSignature(requestOrigin(req, config.trustProxy, config.publicUrl), proof);
      const session = auth.openSession(proof.mailbox, t);
      sendJson(res, encodeSessionResponse({ token: session.token, expiresAt: iso(session.expiresAt) }));
    }),
  ];
}
