/**
 * The sender's routes (SPEC 5.4 "Posting an envelope", 5.5 "Status and retraction"): post an
 * envelope, ask for its status, retract it with the secret whose hash was
 * posted with it. None needs authentication: the envelope id and the
 * retraction secret are the capabilities.
 * @module
 */
import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import { bytesToHex, hexToBytes } from '../../base/bytes.js';
import { ErrorCode, fail } from '../../base/errors.js';
import { parseEnvelopeHeader } from '../../protocol/envelope.js';
import { RelayHeader, checkPow, encodePostEnvelopeResponse, encodeStatusResponse, isHex32 } from '../../protocol/relay.js';
import { UINT, header, hexParam, iso, requireType, route, sendJson, type RouteKit } from './common.js';

const HEX16 = /^[0-9a-f]{16}$/;

/**
 * `POST /v1/mailboxes/:mailbox/envelopes`: 201 stored now, 200 already
 * stored (same bytes, same id). The TTL is clamped, not refused; the PoW
 * stamp, when required, is checked before the store is touched.
 */
export function postEnvelope({ ctx, limitRate, rawEnvelope }: RouteKit): RequestHandler[] {
  const { config, store, metrics, now } = ctx;
  return [
    limitRate,
    (req, _res, next) => {
      hexParam(req.params.mailbox, 'mailbox');
      requireType(req, 'application/octet-stream');
      next();
    },
    rawEnvelope,
    route(async (req, res) => {
      const mailbox = req.params.mailbox as string;
      const body: unknown = req.body;
      const envelope = body instanceof Uint8Array ? body : new Uint8Array(0);
      const hdr = parseEnvelopeHeader(envelope, config.maxEnvelopeBytes);
      if (bytesToHex(hdr.recipient) !== mailbox)
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

      // envelopeIdHex's definition (sha256 of the bytes), with Node's native hash: faster on 64 KiB bodies.
      const id = createHash('sha256').update(envelope).digest('hex');
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
      sendJson(res, encodePostEnvelopeResponse({ id, seq: result.seq, expiresAt: iso(result.expiresAt) }), result.created ? 201 : 200);
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
