/**
 * The recipient's routes (SPEC 5.7, "Reading over HTTP"): read the
 * backlog after a cursor, and acknowledge (delete) what was processed. Both
 * need a session token for the mailbox in the path.
 * @module
 */
import type { RequestHandler } from 'express';
import { decodeAckRequest, encodeAckResponse, encodeEnvelopePage } from '../../protocol/relay-http.js';
import { PAGE_BYTES } from '../context.js';
import { storedEnvelopeJson } from '../fanout.js';
import { bearer, hexParam, queryUint, requireType, route, sendJson, type RouteKit } from './common.js';

/** `GET /v1/mailboxes/:mailbox/envelopes?after=&limit=`: one page of the backlog; marks it delivered. */
export function listEnvelopes({ ctx }: RouteKit): RequestHandler[] {
  const { config, store, auth, metrics, now } = ctx;
  return [
    route(async (req, res) => {
      const mailbox = hexParam(req.params.mailbox, 'mailbox');
      auth.authorize(bearer(req), mailbox, now());
      const after = queryUint(req, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
      const limit = queryUint(req, 'limit', Math.min(100, config.maxListLimit), 1, config.maxListLimit);
      const page = await store.list(mailbox, after, limit, now(), PAGE_BYTES);
      const envelopes = page.envelopes.map(storedEnvelopeJson);
      store.markDelivered(envelopes.map((e) => e.id));
      metrics.envelopesDelivered.inc({ via: 'http' }, envelopes.length);
      sendJson(res, encodeEnvelopePage({ envelopes, more: page.more }));
    }),
  ];
}

/** `POST /v1/mailboxes/:mailbox/acks`: deletes the acknowledged envelopes; answers how many were held. */
export function ackEnvelopes({ ctx, limitRate, json }: RouteKit): RequestHandler[] {
  const { store, auth, metrics, now } = ctx;
  return [
    limitRate,
    (req, _res, next) => {
      const mailbox = hexParam(req.params.mailbox, 'mailbox');
      // Authorize before reading the body: strangers do not get to upload.
      auth.authorize(bearer(req), mailbox, now());
      requireType(req, 'application/json');
      next();
    },
    json,
    route(async (req, res) => {
      const mailbox = req.params.mailbox as string;
      const acked = await store.ack(mailbox, decodeAckRequest(req.body));
      metrics.envelopesAcked.inc(acked.length);
      sendJson(res, encodeAckResponse(acked.length));
    }),
  ];
}
