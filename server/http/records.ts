/**
 * The mailbox records routes (SPEC 5.13): a few small named values per
 * mailbox that its owner writes (`PUT`, `DELETE`, with a session token for
 * the mailbox, SPEC 5.6) and anyone reads (`GET`). The relay stores and
 * serves the bytes without reading them; the publisher signs them.
 * @module
 */
import express, { type Request, type RequestHandler } from 'express';
import { ErrorCode, fail } from '../../base/errors.js';
import { MAX_RECORDS_PER_MAILBOX, MAX_RECORD_BYTES, isRecordName } from '../../protocol/relay-http.js';
import { bearer, hexParam, requireType, route, type RouteKit } from './common.js';

/** The record name of the path, or BAD_REQUEST. */
function nameParam(value: unknown): string {
  if (!isRecordName(value)) fail(ErrorCode.BAD_REQUEST, 'name: expected 1..32 of [a-z0-9-], not starting with "-"');
  return value;
}

/** Checks mailbox and name of the path and the owner's session token; returns the mailbox and name. */
function owner({ ctx }: RouteKit, req: Request): { mailbox: string; name: string } {
  const mailbox = hexParam(req.params.mailbox, 'mailbox');
  const name = nameParam(req.params.name);
  ctx.auth.authorize(bearer(req), mailbox, ctx.now());
  return { mailbox, name };
}

/** The raw record body, at most {@link MAX_RECORD_BYTES} (larger: BODY_TOO_LARGE before it is all read). */
const rawRecord = express.raw({ type: () => true, limit: MAX_RECORD_BYTES, inflate: false });

/** `PUT /v1/mailboxes/:mailbox/records/:name`: stores or replaces the record (owner only); 204 once durable. */
export function putRecord(kit: RouteKit): RequestHandler[] {
  const { store } = kit.ctx;
  return [
    kit.limitRate,
    (req, _res, next) => {
      // Authorize before reading the body: strangers do not get to upload.
      owner(kit, req);
      requireType(req, 'application/octet-stream');
      next();
    },
    rawRecord,
    route(async (req, res) => {
      const body: unknown = req.body;
      const value = body instanceof Uint8Array ? body : new Uint8Array(0);
      await store.putRecord(req.params.mailbox as string, req.params.name as string, value, MAX_RECORDS_PER_MAILBOX);
      res.status(204).end();
    }),
  ];
}

/** `GET /v1/mailboxes/:mailbox/records/:name`: the record's bytes, for anyone; RECORD_NOT_FOUND when there is none. */
export function getRecord({ ctx }: RouteKit): RequestHandler[] {
  return [
    route(async (req, res) => {
      const mailbox = hexParam(req.params.mailbox, 'mailbox');
      const name = nameParam(req.params.name);
      const value = await ctx.store.getRecord(mailbox, name);
      if (value === undefined) fail(ErrorCode.RECORD_NOT_FOUND, 'no record of that name in this mailbox');
      res
        .status(200)
        .type('application/octet-stream')
        .send(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    }),
  ];
}

/** `DELETE /v1/mailboxes/:mailbox/records/:name`: deletes the record (owner only); 204, also when there was none. */
export function deleteRecord(kit: RouteKit): RequestHandler[] {
  return [
    kit.limitRate,
    route(async (req, res) => {
      const { mailbox, name } = owner(kit, req);
      await kit.ctx.store.deleteRecord(mailbox, name);
      res.status(204).end();
    }),
  ];
}
