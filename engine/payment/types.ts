/**
 * Shared shapes of the payment role engines (Payer, Hub, Payee): what goes
 * in (a decoded message, its authenticated sender, the time and height) and
 * what comes out (messages to send, envelopes to retract, events).
 * The engines are pure state machines; the client runtimes do the I/O.
 * @module
 */
import { bytesToHex, equalBytes } from '../../base/bytes.js';
import { ErrorCode, fail, isLnMailboxError, type ErrorCode as Code } from '../../base/errors.js';
import { PaymentType, decodeChannelState, type PaymentMessage } from '../../protocol/payment.js';
import type { Channel } from '../channel/channel.js';

/** TTL asked for envelopes a party may collect much later, e.g. a COMPLETION (30 days; relays clamp it). */
export const COMPLETION_TTL_SECONDS = 30 * 24 * 3600;

/** The environment a step runs in; injected so engines stay pure and testable. */
export interface StepContext {
  /** Wall-clock time in ms since the epoch. */
  now: number;
  /** Current best block height (from the wallet's chain watcher). */
  height: number;
}

/** A message the runtime must seal and post. */
export interface Outbound {
  /** Destination mailbox address (bech32m `lnmb1…`). */
  to: string;
  /** The payment message. */
  message: PaymentMessage;
  /** When set, the runtime posts with `sha256(secret)` as retraction hash and remembers the envelope under `tag`. */
  retractionSecret?: Uint8Array;
  /** Local label for a posted envelope (e.g. `offer:<offerId>`), used by {@link Step.retract}. */
  tag?: string;
  /** Envelope TTL in seconds. */
  ttlSeconds?: number;
}

/** Progress events a wallet can show. `offerId` is hex. */
export type PaymentEvent =
  | { kind: 'proposed'; offerId: string }
  | { kind: 'offered'; offerId: string }
  | { kind: 'offer_received'; offerId: string; amount: number }
  | { kind: 'invoiced'; offerId: string }
  | { kind: 'ptlc_extended'; offerId: string; timeout: number }
  | { kind: 'ptlc_committed'; offerId: string }
  | { kind: 'signature_bought'; offerId: string; n: number }
  | { kind: 'paid'; offerId: string; amount: number }
  | { kind: 'completed'; offerId: string; receipt: Receipt }
  | { kind: 'cancelling'; offerId: string }
  | { kind: 'cancelled'; offerId: string }
  | { kind: 'voided'; offerId: string }
  | { kind: 'rejected'; offerId: string; code: string; message: string }
  | { kind: 'ignored'; type: number; reason: string }
  // Mode 2 (the payee pre-signs): `offerId` is the request id.
  | { kind: 'request_sent'; offerId: string; amount: number }
  | { kind: 'request_received'; offerId: string; amount: number; payee: string }
  | { kind: 'signature_sold'; offerId: string; n: number }
  | { kind: 'request_paid'; offerId: string; amount: number };

/** What the payer holds at the end: the payee's signed invoice and the scalar it revealed. */
export interface Receipt {
  /**
   * The payee's signed invoice (encoded INVOICE body, opened from the receipt
   * the payee sealed for the payer), or null when the hub delivered a receipt
   * that does not open or check (see `receiptError`); the payment itself
   * completed either way.
   */
  invoice: Uint8Array | null;
  /** Why the receipt is missing, when `invoice` is null. */
  receiptError?: string;
  /** The revealed scalar t (= the payer's s_A). */
  secret: Uint8Array;
  /** The channel state number that the payment completed. */
  n: number;
}

/** The result of one engine step. */
export interface Step {
  send: Outbound[];
  /** Tags of previously posted envelopes the runtime must retract. */
  retract: string[];
  events: PaymentEvent[];
}

/** A decoded payment message with its authenticated sender (the inner-message key). */
export interface Incoming {
  from: Uint8Array;
  message: PaymentMessage;
}

/** Replaces a map's entries with deep copies of `obj`'s (an engine restoring a snapshot). */
export function refill<V>(map: Map<string, V>, obj: Record<string, V> | undefined): void {
  map.clear();
  for (const [k, v] of Object.entries(obj ?? {})) map.set(k, structuredClone(v));
}

/**
 * True for an error that is our own local fault, not the peer's: a store
 * that is down or full (STORE_UNAVAILABLE) or a bug (not an LnMailboxError).
 * A step that fails with one is not answered (a REJECT would tell the peer
 * its message is wrong, and fail a good payment); the message stays
 * unacknowledged and is handled again later.
 */
export function isLocalFault(e: unknown): boolean {
  return !isLnMailboxError(e) || e.code === ErrorCode.STORE_UNAVAILABLE;
}

/** What {@link allOrNothing} needs of an engine: a snapshot and a way back to it. */
export interface Snapshots<J> {
  toJSON(): J;
  restore(j: J): void;
}

/**
 * Runs one engine step all or nothing: if `fn` throws, the engine is put
 * back exactly as it was before (its channels, payments and requests), and
 * the error is rethrown. Nonces committed meanwhile stay in the nonce store;
 * they are bound to one message each, so a replayed step is safe.
 */
export async function allOrNothing<J, T>(engine: Snapshots<J>, fn: () => Promise<T>): Promise<T> {
  const before = structuredClone(engine.toJSON());
  try {
    return await fn();
  } catch (e) {
    engine.restore(before);
    throw e;
  }
}

/**
 * After refusing a message that proposed a state (UPDATE_PROPOSE,
 * CANCEL_PROPOSE, PTLC_ADD, PTLC_FULFILL, REQUEST_PREPARE) from the genuine peer
 * of its channel, raises that channel's high-water mark to the proposed
 * number when the message carries the peer's valid settlement signature for
 * it (see {@link Channel.noteRefusedProposal}): the peer released a
 * settlement for that number and will not use it again, so neither may we.
 * `lookup` returns the channel with that id and its peer's identity key.
 */
export function noteRefusedProposal(
  m: PaymentMessage, from: Uint8Array, lookup: (channelId: Uint8Array) => { channel: Channel; peerKey: Uint8Array } | undefined,
): void {
  if (!('state' in m) || !('channelId' in m) || !('settleSig' in m)) return;
  const c = lookup(m.channelId);
  if (!c || !equalBytes(c.peerKey, from)) return;
  let state: ReturnType<typeof decodeChannelState>;
  try {
    state = decodeChannelState(m.state);
  } catch {
    return;
  }
  c.channel.noteRefusedProposal(state, m.settleSig);
}

/** An empty step. */
export function step(): Step {
  return { send: [], retract: [], events: [] };
}

/** A step that changes nothing and reports why the message was ignored. */
export function ignored(type: number, reason: string): Step {
  const s = step();
  s.events.push({ kind: 'ignored', type, reason });
  return s;
}

/** Throws PAYMENT_REJECTED with `message`. */
export function reject(message: string, code: Code = ErrorCode.PAYMENT_REJECTED): never {
  return fail(code, message);
}

/** Asserts that `from` is the expected counterpart key (PAYMENT_REJECTED otherwise). */
export function requireSender(from: Uint8Array, expected: Uint8Array, who: string): void {
  if (!equalBytes(from, expected)) reject(`message must come from the ${who}`);
}

/** A REJECT message referring to `ref` (an offer or channel id). */
export function rejectMessage(refType: number, ref: Uint8Array, code: string, message: string): PaymentMessage {
  return { type: PaymentType.REJECT, refType, ref, code, message: message.slice(0, 500) };
}

/** Hex of bytes (record keys). */
export const hex = bytesToHex;
