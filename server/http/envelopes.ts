/**
 * The sender's routes (SPEC 5.4 "Posting an envelope", 5.5 "Status and retraction"): post an
 * envelope, ask for its status, retract it with the secret whose hash was
 * posted with it. None needs authentication: the envelope id and the
 * retraction secret are the capabilities.
 * @module
 */
import { Buffer } from 'node:buffer';
import { createHash, hash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHandler } from 'express';
import { hexToBytes } from '../../base/bytes.js';
import { ErrorCode, fail } from '../../base/errors.js';
import { parseEnvelopeHeader } from '../../protocol/envelope.js';
import { RelayHeader, checkPow, encodePostEnvelopeResponse, encodeStatusResponse, isHex32 } from '../../protocol/relay.js';
import type { RelayContext } from '../context.js';
import { UINT, header, hexParam, iso, requireType, route, sendJson, type RouteKit } from './common.js';
import { writeJson } from './error-exit.js';

const HEX16 = /^[0-9a-f]{16}$/;

/** An envelope POST's answer: 201 stored now, 200 already stored (same bytes, same id), with its JSON body. */
export interface PostAnswer {
  status: 200 | 201;
  body: string;
}

/**
 * The body of `POST /v1/mailboxes/:mailbox/envelopes` once the route,
 * mailbox id, content type and body size were checked: header parse,
 * recipient check, TTL (clamped, not refused), retraction hash, id, the PoW
 * stamp when required (all before the store is touched), then the durable
 * append with its quota. Shared by the express route and the lean POST
 * (`lean-post.ts`), so both answer exactly alike.
 * @throws LnMailboxError every documented rejection of SPEC 5.4
 */
export async function acceptEnvelope(
  ctx: RelayContext,
  mailbox: string,
  envelope: Uint8Array,
  req: { headers: IncomingHttpHeaders },
): Promise<PostAnswer> {
  const { config, store, metrics, now } = ctx;
  const hdr = parseEnvelopeHeader(envelope, config.maxEnvelopeBytes);
  if (Buffer.from(hdr.recipient.buffer, hdr.recipient.byteOffset, 32).toString('hex') !== mailbox)
    fail(ErrorCode.MAILBOX_MISMATCH, 'the envelope is addressed to a different mailbox than the path');

  let ttl = config.defaultTtlSeconds;
  const ttlHeader = header(req, RelayHeader.ttl);
  if (ttlHeader !== undefined) {
    if (!UINT.test(ttlHeader) || Number(ttlHeader) < 1)
      fail(ErrorCode.TTL_INVALID, `${RelayHeader.ttl}: expected a positive integer number of seconds`);
    // Clamped, not refused: the response's expiresAt tells the sender what it got.
    ttl = Math.min(Number(ttlHeader), config.maxTtlSeconds);
  }
  const retractionHash = header(req, RelayHeader.retractionHash);
  if (retractionHash !== undefined && !isHex32(retractionHash))
    fail(ErrorCode.BAD_REQUEST, `${RelayHeader.retractionHash}: expected 64 lowercase hex chars`);

  // envelopeIdHex's definition (sha256 of the bytes), with Node's one-shot native hash (no Hash object per request).
  const id = hash('sha256', envelope, 'hex');
  if (config.powBits > 0) {
    const stamp = header(req, RelayHeader.pow);
    if (stamp === undefined) fail(ErrorCode.POW_REQUIRED, `this relay requires ${config.powBits} bits of proof of work`);
    if (!HEX16.test(stamp)) fail(ErrorCode.BAD_REQUEST, `${RelayHeader.pow}: expected 16 lowercase hex chars`);
    if (!checkPow(hexToBytes(id, 32), hexToBytes(stamp, 8), config.powBits))
      fail(ErrorCode.POW_REQUIRED, `proof of work below the required ${config.powBits} bits`);
  }

  const req2 = { id, mailbox, envelope, expiresAt: now() + ttl * 1000 };
  const result = await store.append(retractionHash === undefined ? req2 : { ...req2, retractionHash }, {
    maxEnvelopes: config.maxEnvelopesPerMailbox,
    maxBytes: config.maxBytesPerMailbox,
  });
  if (result.created) {
    metrics.envelopesStored.inc();
    metrics.bytesStored.inc(envelope.length);
  } else metrics.envelopesDuplicate.inc();
  return {
    status: result.created ? 201 : 200,
    body: encodePostEnvelopeResponse({ id, seq: result.seq, expiresAt: iso(result.expiresAt) }),
  };
}

/**
 * `POST /v1/mailboxes/:mailbox/envelopes` through express: the requests the
 * lean POST leaves to it (an unusual path form, content type, encoding or
 * framing, an oversized body, a closing relay). The PoW stamp, when
 * required, is checked before the store is touched.
 */
export function postEnvelope({ ctx, limitRate, rawEnvelope }: RouteKit): RequestHandler[] {
  return [
    limitRate,
    (req, _res, next) => {
      hexParam(req.params.mailbox, 'mailbox');
      requireType(req, 'application/octet-stream');
      next();
    },
    rawEnvelope,
    route(async (req, res) => {
      const body: unknown = req.body;
      const envelope = body instanceof Uint8Array ? body : new Uint8Array(0);
      const answer = await acceptEnvelope(ctx, req.params.mailbox as string, envelope, req);
      writeJson(res, answer.status, answer.body);
    }),
  ];
}

/** `GET /v1/envelopes/:id/status`: queued, delivered, acknowledged, expired or retracted. */
export function envelopeStatus({ ctx }: RouteKit): RequestHandler[] {
  return [
    route(async (req, res) => {
      const id = hexParam(req.params.id, 'id');
      const status = await ctx.store.status(id, ctx.now());
      if (status === undefined) fail(ErrorCode.ENVELOPE_NOT_FOUND, 'no such envelope');
      sendJson(res, encodeStatusResponse(status));
    }),
  ];
}

/** `DELETE /v1/envelopes/:id`: retracts an envelope whose retraction hash is `sha256(secret)`. */
export function retractEnvelope({ ctx, limitRate }: RouteKit): RequestHandler[] {
  return [
    limitRate,
    route(async (req, res) => {
      const id = hexParam(req.params.id, 'id');
      const secret = header(req, RelayHeader.retractionSecret);
      if (!isHex32(secret)) fail(ErrorCode.BAD_REQUEST, `${RelayHeader.retractionSecret}: expected 64 lowercase hex chars`);
      const hash = createHash('sha256').update(Buffer.from(secret, 'hex')).digest('hex');
      const status = await ctx.store.retract(id, hash, ctx.now());
      if (status === 'retracted') ctx.metrics.envelopesRetracted.inc();
      sendJson(res, encodeStatusResponse(status));
    }),
  ];
}
