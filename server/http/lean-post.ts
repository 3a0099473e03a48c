/**
 * The lean front door of `POST /v1/mailboxes/:mailbox/envelopes`, the
 * relay's hot path: a plain `node:http` handler placed in front of the
 * express app. It takes the ordinary form of the request (the exact path
 * with a lowercase 64-hex mailbox, `Content-Type: application/octet-stream`,
 * a `Content-Length` within the envelope limit, no content or transfer
 * encoding) and leaves every other form to express, before it has touched
 * anything (no rate token taken, no byte read): an unusual request gets
 * exactly the express route's answer because express answers it.
 *
 * What it does itself is what the express route does, in the same order and
 * through the same code: the per-address rate limit, then reading the body,
 * then {@link acceptEnvelope} (header parse, id, PoW, quota, durable append)
 * and the shared error exit ({@link sendError}); it skips express's router,
 * its request/response wrappers and the body parser. docs/design.md
 * ("The envelope POST") gives the reasons; docs/performance.md the gain.
 * @module
 */
import { Buffer } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, LnMailboxError } from '../../base/errors.js';
import { RelayPath, isHex32 } from '../../protocol/relay.js';
import type { RelayContext } from '../context.js';
import { UINT, takeRateToken } from './common.js';
import { acceptEnvelope } from './envelopes.js';
import { sendError, writeJson } from './error-exit.js';

const PREFIX = '/v1/mailboxes/';
const SUFFIX = '/envelopes';
const PATH_LENGTH = PREFIX.length + 64 + SUFFIX.length;

/** A request handler that answers the requests it takes and returns false for the others (left to express). */
export type LeanHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** The mailbox id of a POST the lean path takes, or undefined when express must answer it. */
function leanMailbox(req: IncomingMessage, maxBytes: number, closing: boolean): string | undefined {
  if (req.method !== 'POST' || closing) return undefined;
  const url = req.url;
  if (url === undefined || url.length !== PATH_LENGTH || !url.startsWith(PREFIX) || !url.endsWith(SUFFIX)) return undefined;
  const mailbox = url.slice(PREFIX.length, PREFIX.length + 64);
  if (!isHex32(mailbox)) return undefined;
  const h = req.headers;
  if (h['content-type'] !== 'application/octet-stream' || h['content-encoding'] !== undefined || h['transfer-encoding'] !== undefined)
    return undefined;
  const length = h['content-length'];
  if (length === undefined || !UINT.test(length) || Number(length) > maxBytes) return undefined;
  return mailbox;
}

/** Builds the lean envelope POST of one relay. */
export function leanPost(ctx: RelayContext): LeanHandler {
  const { config, metrics } = ctx;
  const counter = (status: number) =>
    metrics.httpRequests.labels({ route: RelayPath.postEnvelope, method: 'POST', status: String(status) });
  // Pre-bound label sets of the common answers: counting costs no label hashing.
  const created = counter(201);
  const again = counter(200);
  const done = (res: ServerResponse): void => {
    const s = res.statusCode;
    (s === 201 ? created : s === 200 ? again : counter(s)).inc();
  };
  const reject = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    sendError(ctx, req.method, res, err);
    done(res);
  };

  return (req, res) => {
    const mailbox = leanMailbox(req, config.maxEnvelopeBytes, ctx.lifecycle.closing);
    if (mailbox === undefined) return false;
    // What express's first middleware sets on every answer.
    res.setHeader('Cache-Control', 'no-store');
    try {
      takeRateToken(ctx, req, res);
    } catch (e) {
      reject(req, res, e);
      return true;
    }
    const length = Number(req.headers['content-length']);
    const body = Buffer.allocUnsafe(length);
    let at = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      // Node's parser frames the body by Content-Length; the check only keeps the copy in bounds.
      if (at + chunk.length > length) failed = true;
      else chunk.copy(body, at);
      at += chunk.length;
    });
    req.on('error', () => {
      // The client went away mid-body: nothing to store; the answer (if the socket still takes one) is what express gives.
      if (failed) return;
      failed = true;
      reject(req, res, new LnMailboxError(ErrorCode.BAD_REQUEST, 'request aborted'));
    });
    req.on('end', () => {
      if (failed || at !== length) {
        if (!res.headersSent) reject(req, res, new LnMailboxError(ErrorCode.BAD_REQUEST, 'request size did not match Content-Length'));
        return;
      }
      acceptEnvelope(ctx, mailbox, body, req).then(
        (answer) => {
          writeJson(res, answer.status, answer.body);
          done(res);
        },
        (e: unknown) => reject(req, res, e),
      );
    });
    return true;
  };
}
