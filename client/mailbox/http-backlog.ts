/**
 * Reading a mailbox over plain HTTP (SPEC 5.6 "Authentication" and
 * 5.7 "Reading over HTTP"), for environments without WebSocket or for a one-shot poll:
 * challenge → BIP340 signature → session token → list after the cursor →
 * deliver each envelope → ack → advance the cursor, page by page.
 * The same checks as on the push path apply: an envelope whose bytes do not
 * hash to its id, or that is not addressed to this mailbox, is stepped over
 * and never acked.
 * @module
 */
import { bytesToHex } from '../../base/bytes.js';
import { ErrorCode, LnMailboxError, isLnMailboxError } from '../../base/errors.js';
import { proveAuth, relayOrigin } from '../../protocol/relay-auth.js';
import { verifyStoredEnvelope, type StoredEnvelopeJson } from '../../protocol/relay-frames.js';
import type { DeliveryLedger } from './delivery-ledger.js';
import type { RelayHttp } from './relay-http.js';
import type { PushedEnvelope } from './relay-socket.js';
import type { DeliveryOutcome } from './subscription.js';

/** Per-relay outcome of `MailboxClient.fetchBacklog`. */
export interface BacklogResult {
  relay: string;
  /** Envelopes the handler processed. */
  handled: number;
  /** Envelopes skipped because their id was already processed (acked again). */
  duplicates: number;
  /** Set when this relay failed (unreachable, auth, handler threw); what was handled before stays acked. */
  error?: LnMailboxError;
}

/** What one drain needs from the client. */
export interface DrainContext {
  http: RelayHttp;
  mailbox: Uint8Array;
  secretKey: Uint8Array;
  ledger: DeliveryLedger;
  pageSize: number;
  /** The client's delivery queue (de-dup, handler, record). Never rejects. */
  deliver(env: PushedEnvelope): Promise<{ outcome: DeliveryOutcome; error?: LnMailboxError }>;
}

async function openSession(c: DrainContext): Promise<string> {
  const challenge = await c.http.challenge();
  // Bound to the origin we address, so a relay cannot replay it at another relay.
  return c.http.session(proveAuth(relayOrigin(c.http.relay), challenge, c.secretKey));
}

function verifyListed(c: DrainContext, e: StoredEnvelopeJson): PushedEnvelope | undefined {
  try {
    const bytes = verifyStoredEnvelope(e, c.mailbox, Number.MAX_SAFE_INTEGER);
    return { id: e.id, seq: e.seq, envelope: bytes, relay: c.http.relay, expiresAt: e.expiresAt };
  } catch {
    return undefined;
  }
}

/**
 * Drains one relay. Stops at the first failure, keeping what was acked, and
 * reports it in `error` rather than throwing.
 */
export async function drainOverHttp(c: DrainContext): Promise<BacklogResult> {
  const relay = c.http.relay;
  const mailboxHex = bytesToHex(c.mailbox);
  const result: BacklogResult = { relay, handled: 0, duplicates: 0 };
  try {
    let cursor = await c.ledger.cursor(relay);
    let token = await openSession(c);
    // A long drain may outlive the short session token: renew on AUTH_EXPIRED.
    const authed = async <T>(fn: (t: string) => Promise<T>): Promise<T> => {
      try {
        return await fn(token);
      } catch (e) {
        if (!isLnMailboxError(e, ErrorCode.AUTH_EXPIRED)) throw e;
        token = await openSession(c);
        return fn(token);
      }
    };
    for (;;) {
      const page = await authed((t) => c.http.list(mailboxHex, t, cursor, c.pageSize));
      const acks: string[] = [];
      let last = cursor;
      let stop: LnMailboxError | undefined;
      for (const e of page.envelopes) {
        const env = verifyListed(c, e);
        if (env === undefined) {
          last = Math.max(last, e.seq); // not ours or not genuine: step over it, never ack it
          continue;
        }
        const { outcome, error } = await c.deliver(env);
        if (outcome === 'failed' || outcome === 'skipped') {
          stop = error ?? new LnMailboxError(ErrorCode.HANDLER_FAILED, `${relay}: delivery of ${env.id} did not complete`);
          break;
        }
        if (outcome === 'handled') result.handled++;
        else result.duplicates++;
        acks.push(env.id);
        last = Math.max(last, env.seq);
      }
      if (acks.length > 0) await authed((t) => c.http.ack(mailboxHex, t, acks));
      if (last > cursor) {
        cursor = last;
        await c.ledger.setCursor(relay, cursor);
      } else if (stop === undefined && page.more) {
        // The relay says there is more but did not move past our cursor: don't loop forever.
        throw new LnMailboxError(ErrorCode.RELAY_BAD_RESPONSE, `${relay}: listing did not advance past seq ${cursor}`);
      }
      if (stop !== undefined) throw stop;
      if (!page.more) break;
    }
  } catch (e) {
    result.error = isLnMailboxError(e)
      ? e
      : new LnMailboxError(ErrorCode.RELAY_BAD_RESPONSE, String((e as Error)?.message ?? e), { cause: e });
  }
  return result;
}
