/**
 * The HTTP authentication routes (SPEC 5, "Authentication"): a single-use
 * challenge, then a session token for a BIP340 proof over it.
 * @module
 */
import type { RequestHandler } from 'express';
import { ErrorCode, fail } from '../../base/errors.js';
import { verifyAuthSignature } from '../auth.js';
import { requestOrigin } from '../client-address.js';
import { hexParam, iso, jsonObject, requireType, route, type RouteKit } from './common.js';

const HEX128 = /^[0-9a-f]{128}$/;

/** `POST /v1/auth/challenge`: a fresh single-use challenge. */
export function authChallenge({ ctx, limitRate }: RouteKit): RequestHandler[] {
  return [
    limitRate,
    route((_req, res) => {
      const { challenge, expiresAt } = ctx.auth.issueChallenge(ctx.now());
      res.json({ challenge, expiresAt: iso(expiresAt) });
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
      const b = jsonObject(req);
      const mailbox = hexParam(b.mailbox, 'mailbox');
      const challenge = hexParam(b.challenge, 'challenge');
      if (typeof b.signature !== 'string' || !HEX128.test(b.signature))
        fail(ErrorCode.BAD_REQUEST, 'signature: expected 128 lowercase hex chars');
      const t = now();
      // Consumed before the signature is checked: one challenge, one guess.
      auth.consumeChallenge(challenge, t);
      verifyAuthSignature(requestOrigin(req, config.trustProxy, config.publicUrl), { mailbox, challenge, signature: b.signature });
      const session = auth.openSession(mailbox, t);
      res.json({ token: session.token, expiresAt: iso(session.expiresAt) });
    }),
  ];
}
