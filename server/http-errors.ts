/**
 * The one mapping from errors to relay responses (SPEC section 5, "Errors"):
 * every rejection is `{ error: { code, message } }` with the HTTP status of
 * its stable code. Errors that are not ours (body parser, router, a bug) are
 * mapped to a documented code too, so the relay never answers 500 and a
 * client can always branch on `code`.
 * @module
 */
import { ErrorCode, LnMailboxError, isLnMailboxError, type ErrorCode as Code } from '../base/errors.js';
import type { ErrorBody } from '../protocol/relay.js';

/** HTTP status of each code the relay can answer with. Codes not listed answer 400. */
export const HTTP_STATUS: Partial<Record<Code, number>> = {
  BAD_REQUEST: 400,
  INVALID_TYPE: 400,
  INVALID_LENGTH: 400,
  INVALID_HEX: 400,
  INVALID_RANGE: 400,
  ENVELOPE_TRUNCATED: 400,
  ENVELOPE_UNKNOWN_VERSION: 400,
  MAILBOX_MISMATCH: 400,
  TTL_INVALID: 400,
  AUTH_REQUIRED: 401,
  AUTH_EXPIRED: 401,
  AUTH_CHALLENGE_UNKNOWN: 401,
  AUTH_BAD_SIGNATURE: 401,
  AUTH_FORBIDDEN: 403,
  POW_REQUIRED: 403,
  RETRACT_FORBIDDEN: 403,
  NOT_FOUND: 404,
  ENVELOPE_NOT_FOUND: 404,
  MAILBOX_FULL: 409,
  RETRACT_TOO_LATE: 409,
  BODY_TOO_LARGE: 413,
  ENVELOPE_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  TOO_MANY_CONNECTIONS: 429,
  STORE_UNAVAILABLE: 503,
  STORE_FULL: 503,
  SHUTTING_DOWN: 503,
};

/** The HTTP status for a code. */
export function httpStatus(code: Code): number {
  return HTTP_STATUS[code] ?? 400;
}

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

/** The JSON body of an error. */
export function errorBody(e: LnMailboxError): ErrorBody {
  return { error: { code: e.code, message: e.message } };
}
