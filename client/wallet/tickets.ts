/**
 * Receipt tickets on the wire between wallets (SPEC 6.16): the payee
 * publishes its signed batch of one-time receipt nonces as the relay record
 * `receipt-tickets`; a payer fetches it from the payee's relays, checks it
 * against the payee's address, and picks a ticket it has not used.
 *
 * The record routes are the relay's (SPEC 5.13): reading a record is public,
 * writing it is the mailbox owner's; the batch is signed, so a relay can
 * withhold or replay an old batch but not forge one.
 * @module
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { bytesToHex } from '../../base/bytes.js';
import { ErrorCode, fail } from '../../base/errors.js';
import { TICKETS_RECORD, openTicketBatch } from '../../protocol/receipt.js';
import type { FetchLike } from '../mailbox/relay-http.js';
import { fetchRecord } from '../mailbox/records.js';

/** Reads a payee's published ticket batch: resolves with its bytes, or null when no relay has one. */
export type TicketSource = (payeeAddress: string) => Promise<Uint8Array | null>;

/**
 * A {@link TicketSource} over the relays named in the payee's address: the
 * public `receipt-tickets` record ({@link fetchRecord}), tried relay by relay.
 */
export function relayTicketSource(fetchImpl?: FetchLike): TicketSource {
  return (payeeAddress) => fetchRecord(payeeAddress, TICKETS_RECORD, fetchImpl ? { fetch: fetchImpl } : {});
}

/**
 * Checks `batch` against the payee's address (SPEC 6.16) and picks, at
 * random, a ticket not in `used` (x-only hex). Two payers picking at random
 * from a large batch rarely collide; when they do, the payee refuses the
 * second offer and its payer cancels. RECEIPT_INVALID for a batch that does
 * not verify, PAYMENT_REJECTED when every ticket was used.
 */
export function pickTicket(batch: Uint8Array, payeeAddress: string, used: ReadonlySet<string> = new Set()): Uint8Array {
  const { tickets } = openTicketBatch(batch, payeeAddress);
  const fresh = tickets.filter((t) => !used.has(bytesToHex(t)));
  if (fresh.length === 0) fail(ErrorCode.PAYMENT_REJECTED, 'the payee has no unused receipt ticket: it must come online to publish more');
  const r = randomBytes(4);
  const i = (((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) >>> 0) % fresh.length;
  return fresh[i]!;
}
