/**
 * The one mapping from errors to relay responses (SPEC 5.2, "Errors"):
 * every rejection is `{ error: { code, message } }` (`encodeErrorBody`) with
 * the HTTP status of its stable code (`relayHttpStatus`, both in protocol/). Errors that are not ours (body parser, router, a bug) are
 * mapped to a documented code too, so the relay never answers 500 and a
 * client can always branch on `code`.
 * @module
 */
import { STATUS_CODES } from 'node:http';
import { ErrorCode, LnMailboxError, isLnMailboxError, type ErrorCode as Code } from '../base/errors.js';
import { encodeErrorBody } from '../protocol/relay-frames.js';
import { relayHttpStatus } from '../protocol/relay-http.js';

/** Body-parser and router error types we translate (their `type` field). */
const FOREIGN: Record<string, [Code, string]> = {
  'entity.too.large': [ErrorCode.BODY_TOO_LARGE, 'request body too large'],
  'entity.parse.failed': [ErrorCode.BAD_REQUEST, 'request body is not valid JSON'],
  'encoding.unsupported': [ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'unsupported Content-Encoding (send identity)'],
  'charset.unsupported': [ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'unsupported charset'],
  'request.aborted': [ErrorCode.BAD_REQUEST, 'request aborted'],
  'request.size.invalid': [ErrorCode.BAD_REQUEST, 'request size did not match Content-Length'],
};

/**
 * Normalizes anything thrown into an {@link LnMailboxError} the relay may
 * send. Foreign 4xx errors become BAD_REQUEST (or their specific code);
 * anything else (a fault, not the client's doing) becomes STORE_UNAVAILABLE,
 * a retryable 503, and `fault` is set so the caller logs it.
 */
export function toRelayError(e: unknown): { error: LnMailboxError; fault: boolean } {
  if (isLnMailboxError(e)) return { error: e, fault: false };
  const type = (e as { type?: unknown })?.type;
  if (typeof type === 'string' && FOREIGN[type]) {
    const [code, message] = FOREIGN[type];
    return { error: new LnMailboxError(code, message, { cause: e }), fault: false };
  }
  const status = (e as { status?: unknown; statusCode?: unknown })?.status ?? (e as { statusCode?: unknown })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code =
      status === 404
        ? ErrorCode.NOT_FOUND
        : status === 413
          ? ErrorCode.BODY_TOO_LARGE
          : status === 415
            ? ErrorCode.UNSUPPORTED_MEDIA_TYPE
            : ErrorCode.BAD_REQUEST;
    return { error: new LnMailboxError(code, 'malformed request', { cause: e }), fault: false };
  }
  return {
    error: new LnMailboxError(ErrorCode.STORE_UNAVAILABLE, 'the relay could not process the request; retry later', { cause: e }),
    fault: true,
  };
}

/**
 * A whole HTTP/1.1 error response, for the places where no framework answers:
 * a request too malformed to reach express, an upgrade refused before it
 * becomes a WebSocket. Same status and body as the express error exit, then
 * `Connection: close`.
 */
export function rawErrorResponse(e: LnMailboxError): string {
  const body = JSON.stringify(encodeErrorBody(e));
  const status = relayHttpStatus(e.code);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}
