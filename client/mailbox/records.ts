/**
 * Mailbox records (SPEC 5.13): small named values a mailbox's owner
 * publishes on its relays, readable by anyone while the owner is offline (a
 * hub's channel terms under `hub-terms`, a payee's receipt tickets under
 * `receipt-tickets`). Writing needs the mailbox key (a session token per
 * relay, SPEC 5.6); reading needs only the mailbox address.
 *
 * The relays vouch for nothing: a record is whatever bytes its relay
 * serves. Publish signed bytes, and verify what {@link fetchRecord} returns
 * against the mailbox key before trusting it.
 * @module
 */
import { abytes, bytesToHex } from '../../base/bytes.js';
import { ErrorCode, type LnMailboxError, fail, isLnMailboxError } from '../../base/errors.js';
import { decodeMailboxAddress } from '../../protocol/address.js';
import { MAX_RECORD_BYTES, isRecordName } from '../../protocol/relay-http.js';
import { proveAuth, relayOrigin } from '../../protocol/relay-auth.js';
import { aggregate, asError } from './relay-errors.js';
import { defaultTransport, type FetchLike } from './http-transport.js';
import { RelayHttp } from './relay-http.js';

/** Options of {@link fetchRecord}. */
export interface FetchRecordOptions {
  /** fetch implementation. Default: `node:http` in Node, `globalThis.fetch` elsewhere  */
  fetch?: FetchLike;
  /** Per-relay request timeout, ms. Default 10 000. */
  timeoutMs?: number;
}

/** What the owner's record operations need from its `MailboxClient`. */
export interface RecordOwner {
  /** The client's relays (normalized). */
  relays: readonly string[];
  /** This mailbox's id, 64 hex. */
  mailboxId: string;
  secretKey: Uint8Array;
  http(relay: string): RelayHttp;
}

/** Checks a record name (SPEC 5.13), as the relay would: BAD_REQUEST when malformed. */
export function checkRecordName(name: unknown): string {
  if (typeof name !== 'string') fail(ErrorCode.INVALID_TYPE, 'name: expected a string');
  if (!isRecordName(name)) fail(ErrorCode.BAD_REQUEST, `name: ${JSON.stringify(name)} is not 1..32 of [a-z0-9-] starting with [a-z0-9]`);
  return name;
}

/** A session token for the owner's mailbox on one relay (challenge, signature bound to the relay's origin). */
async function session(owner: RecordOwner, http: RelayHttp): Promise<string> {
  const challenge = await http.challenge();
  return http.session(proveAuth(relayOrigin(http.relay), challenge, owner.secretKey));
}

/** Runs `op` on every relay concurrently; resolves if at least one succeeded, else the aggregate error. */
async function everywhere(owner: RecordOwner, what: string, op: (http: RelayHttp, token: string) => Promise<void>): Promise<void> {
  const failures: { relay: string; error: LnMailboxError }[] = [];
  await Promise.all(
    owner.relays.map(async (relay) => {
      try {
        const http = owner.http(relay);
        await op(http, await session(owner, http));
      } catch (e) {
        failures.push({ relay, error: asError(e) });
      }
    }),
  );
  if (failures.length === owner.relays.length) throw aggregate(what, failures);
}

/**
 * Stores `value` as record `name` on every relay of `owner` (replacing what
 * was there); resolves once every relay answered, if at least one stored it.
 * @throws LnMailboxError INVALID_TYPE / BAD_REQUEST / BODY_TOO_LARGE before anything is sent; when no relay
 *   stored it, their common code (RECORD_LIMIT, RELAY_UNREACHABLE, …) or ALL_RELAYS_FAILED
 */
export async function publishRecordEverywhere(owner: RecordOwner, name: string, value: Uint8Array): Promise<void> {
  checkRecordName(name);
  abytes(value, undefined, 'body');
  if (value.length > MAX_RECORD_BYTES)
    fail(ErrorCode.BODY_TOO_LARGE, `body: ${value.length} bytes, a record holds at most ${MAX_RECORD_BYTES}`);
  const copy = Uint8Array.from(value); // the caller may reuse its buffer meanwhile
  await everywhere(owner, 'publishRecord', (http, token) => http.putRecord(owner.mailboxId, token, name, copy));
}

/**
 * Deletes record `name` on every relay of `owner`; resolves if at least one
 * relay confirmed (a relay that had none confirms too).
 * @throws LnMailboxError as {@link publishRecordEverywhere}
 */
export async function deleteRecordEverywhere(owner: RecordOwner, name: string): Promise<void> {
  checkRecordName(name);
  await everywhere(owner, 'deleteRecord', (http, token) => http.deleteRecord(owner.mailboxId, token, name));
}

/**
 * Reads record `name` of the mailbox at `address`: asks its relays one after
 * the other, in the address's order, and returns the first value one serves.
 * The bytes are unverified: check the publisher's signature before use.
 * @param address the mailbox address (`lnmb1…`)
 * @returns the value, or null when no relay has the record (each that answered said RECORD_NOT_FOUND,
 *   or, for a relay without records, NOT_FOUND)
 * @throws LnMailboxError ADDRESS_* for a bad address, INVALID_TYPE / BAD_REQUEST for a bad name; when every
 *   relay failed otherwise, their common code (RELAY_UNREACHABLE, RELAY_BAD_RESPONSE, …) or ALL_RELAYS_FAILED
 */
export async function fetchRecord(address: string, name: string, opts: FetchRecordOptions = {}): Promise<Uint8Array | null> {
  const { publicKey, relays } = decodeMailboxAddress(address);
  checkRecordName(name);
  if (typeof opts !== 'object' || opts === null) fail(ErrorCode.INVALID_TYPE, 'opts: expected an object');
  const transport = defaultTransport(opts.fetch);
  if (transport === undefined) fail(ErrorCode.INVALID_TYPE, 'no fetch implementation: pass opts.fetch');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0)
    fail(ErrorCode.INVALID_RANGE, 'timeoutMs: expected a positive number');
  const mailbox = bytesToHex(publicKey);
  const failures: { relay: string; error: LnMailboxError }[] = [];
  let missing = false;
  for (const relay of relays) {
    try {
      return await new RelayHttp(relay, transport, timeoutMs).getRecord(mailbox, name);
    } catch (e) {
      const error = asError(e);
      if (isLnMailboxError(error, ErrorCode.RECORD_NOT_FOUND) || isLnMailboxError(error, ErrorCode.NOT_FOUND)) missing = true;
      else failures.push({ relay, error });
    }
  }
  if (missing) return null;
  throw aggregate('fetchRecord', failures);
}
