/**
 * Typed errors with stable codes, in the style of `ws` and abstract-level.
 *
 * Every rejection anywhere in ln-mailbox (codec, crypto, relay, client) is an
 * {@link LnMailboxError} whose `code` is one of {@link ErrorCode}. Callers
 * branch on `code`, never on `message`. The list is part of the wire contract
 * and is reproduced in `protocol/SPEC.md` ("Error codes").
 * @module
 */

/**
 * The stable error codes. Adding a code is a minor change; renaming or
 * removing one is a breaking change of the protocol.
 */
export const ErrorCode = {
  // --- generic input validation -------------------------------------------
  /** A value had the wrong type (e.g. a string where bytes were expected). */
  INVALID_TYPE: 'INVALID_TYPE',
  /** A byte array or string had the wrong length. */
  INVALID_LENGTH: 'INVALID_LENGTH',
  /** Malformed hex. */
  INVALID_HEX: 'INVALID_HEX',
  /** A number out of its allowed range. */
  INVALID_RANGE: 'INVALID_RANGE',
  // --- keys, points, signatures --------------------------------------------
  /** A secret key that is zero or not below the curve order. */
  INVALID_SECRET_KEY: 'INVALID_SECRET_KEY',
  /** A public key or point that is not on secp256k1 (or is infinity). */
  INVALID_PUBLIC_KEY: 'INVALID_PUBLIC_KEY',
  /** A signature that is malformed or does not verify. */
  INVALID_SIGNATURE: 'INVALID_SIGNATURE',
  /** A committed nonce was asked to sign a second time. */
  NONCE_REUSE: 'NONCE_REUSE',
  /** A committed nonce is unknown to the nonce store. */
  NONCE_UNKNOWN: 'NONCE_UNKNOWN',
  /** An adaptor pre-signature is malformed or does not verify. */
  INVALID_ADAPTOR_SIGNATURE: 'INVALID_ADAPTOR_SIGNATURE',
  // --- mailbox address -----------------------------------------------------
  /** A mailbox address is not valid bech32m (bad checksum, charset, case). */
  ADDRESS_BAD_ENCODING: 'ADDRESS_BAD_ENCODING',
  /** A mailbox address has the wrong human-readable part. */
  ADDRESS_BAD_HRP: 'ADDRESS_BAD_HRP',
  /** A mailbox address has malformed, missing or unknown-even TLV records. */
  ADDRESS_BAD_TLV: 'ADDRESS_BAD_TLV',
  /** A relay URL in a mailbox address is not an http(s) URL. */
  ADDRESS_BAD_RELAY_URL: 'ADDRESS_BAD_RELAY_URL',
  // --- envelope --------------------------------------------------------------
  /** The envelope is shorter than the fixed header plus tag. */
  ENVELOPE_TRUNCATED: 'ENVELOPE_TRUNCATED',
  /** The envelope's version byte is not one this implementation knows. */
  ENVELOPE_UNKNOWN_VERSION: 'ENVELOPE_UNKNOWN_VERSION',
  /** The envelope is addressed to a different mailbox than expected. */
  ENVELOPE_WRONG_RECIPIENT: 'ENVELOPE_WRONG_RECIPIENT',
  /** AEAD authentication failed (tampered bytes or wrong key). */
  ENVELOPE_BAD_TAG: 'ENVELOPE_BAD_TAG',
  /** The decrypted plaintext's length prefix or padding is malformed. */
  ENVELOPE_BAD_PADDING: 'ENVELOPE_BAD_PADDING',
  /** The inner message is malformed. */
  ENVELOPE_BAD_INNER: 'ENVELOPE_BAD_INNER',
  /** The inner message's sender signature does not verify. */
  ENVELOPE_BAD_SIGNATURE: 'ENVELOPE_BAD_SIGNATURE',
  /** The envelope (or its body) exceeds the maximum size. */
  ENVELOPE_TOO_LARGE: 'ENVELOPE_TOO_LARGE',
  // --- relay API (HTTP and WebSocket) ---------------------------------------
  /** The request is malformed (bad path parameter, header, query or JSON). */
  BAD_REQUEST: 'BAD_REQUEST',
  /** No such route. */
  NOT_FOUND: 'NOT_FOUND',
  /** No envelope with that id (or it is no longer known). */
  ENVELOPE_NOT_FOUND: 'ENVELOPE_NOT_FOUND',
  /** No record of that name in that mailbox (SPEC 5.13). */
  RECORD_NOT_FOUND: 'RECORD_NOT_FOUND',
  /** The mailbox already holds the maximum number of records; delete one first (SPEC 5.13). */
  RECORD_LIMIT: 'RECORD_LIMIT',
  /** The mailbox id in the path does not match the envelope's recipient. */
  MAILBOX_MISMATCH: 'MAILBOX_MISMATCH',
  /** The mailbox has reached its envelope-count or byte quota. */
  MAILBOX_FULL: 'MAILBOX_FULL',
  /** The requested TTL is not a positive integer. */
  TTL_INVALID: 'TTL_INVALID',
  /** A proof-of-work stamp is required and missing or insufficient. */
  POW_REQUIRED: 'POW_REQUIRED',
  /** The retraction secret does not match, or no retraction hash was set. */
  RETRACT_FORBIDDEN: 'RETRACT_FORBIDDEN',
  /** The envelope was already acknowledged and cannot be retracted. */
  RETRACT_TOO_LATE: 'RETRACT_TOO_LATE',
  /** Authentication is required and missing. */
  AUTH_REQUIRED: 'AUTH_REQUIRED',
  /** The challenge or session token has expired. */
  AUTH_EXPIRED: 'AUTH_EXPIRED',
  /** The challenge is unknown or was already used. */
  AUTH_CHALLENGE_UNKNOWN: 'AUTH_CHALLENGE_UNKNOWN',
  /** The auth signature does not verify. */
  AUTH_BAD_SIGNATURE: 'AUTH_BAD_SIGNATURE',
  /** The session token does not grant access to this mailbox. */
  AUTH_FORBIDDEN: 'AUTH_FORBIDDEN',
  /** Too many requests from this address (token bucket empty). */
  RATE_LIMITED: 'RATE_LIMITED',
  /** Too many open connections from this address. */
  TOO_MANY_CONNECTIONS: 'TOO_MANY_CONNECTIONS',
  /** A WebSocket frame is malformed or of an unknown type. */
  BAD_FRAME: 'BAD_FRAME',
  /** The request body is larger than allowed. */
  BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  /** Wrong Content-Type for the route. */
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  /** The store cannot accept writes now (full disk, closed, failing). */
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  /** The relay's storage is at its free-space reserve: new envelopes are refused for now (acks and retractions still work). */
  STORE_FULL: 'STORE_FULL',
  /** The relay is shutting down. */
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  /** A WebSocket subscriber did not read fast enough and was disconnected (close 4002); its mail stays queued. */
  SLOW_CONSUMER: 'SLOW_CONSUMER',
  // --- mailbox client --------------------------------------------------------
  /** A relay could not be reached (connection refused, DNS failure, timeout). */
  RELAY_UNREACHABLE: 'RELAY_UNREACHABLE',
  /** A relay answered outside the protocol (unexpected status or JSON, or a pushed envelope whose bytes do not match its id). */
  RELAY_BAD_RESPONSE: 'RELAY_BAD_RESPONSE',
  /** Every relay of a multi-relay operation failed, with different codes; `cause` is an AggregateError of the per-relay errors. */
  ALL_RELAYS_FAILED: 'ALL_RELAYS_FAILED',
  /** A subscription handler threw; the envelope was not acknowledged and will be delivered again. */
  HANDLER_FAILED: 'HANDLER_FAILED',
  // --- payment protocol ------------------------------------------------------
  /** A payment message is malformed or has an unknown type/version. */
  PAYMENT_BAD_MESSAGE: 'PAYMENT_BAD_MESSAGE',
  /** A payment message is valid but not acceptable in the current state. */
  PAYMENT_REJECTED: 'PAYMENT_REJECTED',
  /** A channel invariant would be broken (balances, timelocks, state order). */
  CHANNEL_INVARIANT: 'CHANNEL_INVARIANT',
  /** A transaction or witness is malformed. */
  TX_INVALID: 'TX_INVALID',

  // --- chain and channel lifecycle ----------------------------------------------
  /** The chain backend refused a transaction (for example a fee rate below its minimum). */
  CHAIN_REJECTED: 'CHAIN_REJECTED',
  /** The chain backend cannot be reached. */
  CHAIN_UNREACHABLE: 'CHAIN_UNREACHABLE',
  /** The chain backend answered something that does not parse or does not check. */
  CHAIN_BAD_RESPONSE: 'CHAIN_BAD_RESPONSE',
  /** A channel open was refused (terms, policy, keys, amounts, order of messages). */
  OPEN_REFUSED: 'OPEN_REFUSED',
  /** A funding transaction does not pay the agreed channel output, or cannot be built. */
  FUNDING_INVALID: 'FUNDING_INVALID',
  /** A receipt, or a payee's receipt-ticket batch, does not verify (SPEC 6.16). */
  RECEIPT_INVALID: 'RECEIPT_INVALID',
} as const;

/** One of the stable error code strings. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The one error class of ln-mailbox. `code` is stable; `message` is for
 * humans; `cause` keeps the underlying error where there is one.
 */
export class LnMailboxError extends Error {
  /** Stable, documented code a caller can branch on. */
  readonly code: ErrorCode;
  /** HTTP status when the error crosses the relay API, if it has one. */
  readonly status?: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LnMailboxError';
    this.code = code;
    if (options?.status !== undefined) this.status = options.status;
  }
}

/** Throws an {@link LnMailboxError}; handy in expression position. */
export function fail(code: ErrorCode, message: string, cause?: unknown): never {
  throw new LnMailboxError(code, message, cause === undefined ? undefined : { cause });
}

/** True when `e` is an {@link LnMailboxError}, optionally with a given code. */
export function isLnMailboxError(e: unknown, code?: ErrorCode): e is LnMailboxError {
  return e instanceof LnMailboxError && (code === undefined || e.code === code);
}
