/**
 * How a multi-relay operation of the mailbox client reports failure: one
 * {@link LnMailboxError} whose code is the relays' common code when they all
 * agree, else `ALL_RELAYS_FAILED`, with every relay's error in `cause`.
 * @module
 */
import { ErrorCode, LnMailboxError, isLnMailboxError } from '../../base/errors.js';

/** Combines per-relay failures: the common code when every relay agrees, else ALL_RELAYS_FAILED. */
export function aggregate(what: string, failures: { relay: string; error: LnMailboxError }[]): LnMailboxError {
  const codes = new Set(failures.map((f) => f.error.code));
  const statuses = new Set(failures.map((f) => f.error.status));
  const code = codes.size === 1 ? failures[0]!.error.code : ErrorCode.ALL_RELAYS_FAILED;
  const message = `${what} failed on every relay: ${failures.map((f) => `${f.relay}: ${f.error.code}`).join('; ')}`;
  const status = codes.size === 1 && statuses.size === 1 ? failures[0]!.error.status : undefined;
  const cause = new AggregateError(
    failures.map((f) => f.error),
    message,
  );
  return new LnMailboxError(code, message, status === undefined ? { cause } : { cause, status });
}

/** Any thrown value as an LnMailboxError (a foreign one becomes RELAY_BAD_RESPONSE, cause kept). */
export function asError(e: unknown): LnMailboxError {
  return isLnMailboxError(e) ? e : new LnMailboxError(ErrorCode.RELAY_BAD_RESPONSE, String((e as Error)?.message ?? e), { cause: e });
}
