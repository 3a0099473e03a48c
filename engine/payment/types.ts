/**
 * Shared shapes of the payment role engines (Payer, Hub, Payee, Router): what goes
 * in (a decoded message, its authenticated sender, the time and height) and
 * what comes out (messages to send, envelopes to retract, events).
 * The engines are pure state machines; the client runtimes do the I/O.
 * @module
 */
import type { PaymentMessage } from '../../protocol/payment.js';

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

/** Progress events a wallet can show. `offerId` and every other id or byte string is lowercase hex (no `Uint8Array`). */
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
  // The request flow (the payee pre-signs, SPEC 6.14): `offerId` is the request id.
  | { kind: 'request_sent'; offerId: string; amount: number }
  | { kind: 'request_received'; offerId: string; amount: number; payee: string }
  | { kind: 'signature_sold'; offerId: string; n: number }
  | { kind: 'request_paid'; offerId: string; amount: number }
  // Opening a channel (SPEC 6.17): `channelId` hex (the open id while the hub has not answered).
  | { kind: 'terms_received'; serial: number }
  | { kind: 'open_requested'; channelId: string; amount: number }
  | { kind: 'open_accepted'; channelId: string }
  | { kind: 'open_signed'; channelId: string }
  | { kind: 'funding_published'; channelId: string; txid: string }
  | { kind: 'channel_ready'; channelId: string; height: number }
  | { kind: 'open_aborted'; channelId: string; reason: string };

/**
 * What the payer holds at the end: the payee's receipt (SPEC 6.16). One
 * shape wherever a wallet meets it, every byte string lowercase hex: the
 * `completed` event, the stored payment (`PayerPayment.receipt`, the query
 * API's `payments()` and `getPayment(id)`) and the payment's history.
 */
export interface Receipt {
  /**
   * The encoded receipt (`protocol/receipt.ts`), hex: the payment's offer id,
   * amount, payer and payee keys and expiry, with the payee's BIP340
   * signature over them. Anyone checks it with
   * `verifyReceipt(hexToBytes(receipt), payeeAddress)`.
   */
  receipt: string;
  /** The revealed scalar s_B (the receipt signature's `s`), hex, which completed the payer's update. */
  secret: string;
  /** The channel state number that the payment completed. */
  n: number;
}

/** The result of one engine step. */
export interface Step {
  send: Outbound[];
  /** Tags of previously posted envelopes the runtime must retract. */
  retract: string[];
  events: PaymentEvent[];
  /**
   * Payments this step finished for good (nothing about them can change any
   * more): the engine dropped them from its state, and the runtime stores
   * each record in the same write as that state, so queries still find it.
   */
  archive?: ArchivedPayment[];
  /**
   * Secrets of PTLCs we receive that this step learned and that none of its
   * messages carries yet: a router that owes its upstream PTLC_FULFILL while
   * that channel is busy. The runtime stores them for the watchtower in the
   * step's own write, so that the tower can claim the PTLC on chain before
   * its timeout if the fulfillment never gets through.
   */
  secrets?: LearnedSecret[];
}

/** A PTLC secret a step learned (see {@link Step.secrets}). */
export interface LearnedSecret {
  /** The channel holding the PTLC. */
  channelId: Uint8Array;
  /** The PTLC's id (its offer id). */
  ptlcId: Uint8Array;
  /** The scalar that claims it. */
  secret: Uint8Array;
}

/** A finished payment moved out of an engine's state (see {@link Step.archive}). */
export interface ArchivedPayment {
  /** The payment's offer id, hex. */
  id: string;
  /** The payment's last record, as the engine stored it. */
  record: object;
  /**
   * `request`: a record of the request flow (SPEC 6.14), which the query
   * API does not list among payments; absent: a payment (offer) record.
   */
  kind?: 'request';
}

/**
 * How long (ms) past its expiry a wallet engine (payer, payee) still
 * remembers the id of a finished offer or request it moved out of its
 * state: past the expiry every message that could start it again is
 * refused anyway; the grace covers the wallet's clock stepping back.
 */
export const WALLET_FINISHED_GRACE_MS = 60 * 60 * 1000;

/** Forgets the ids of `done` more than {@link WALLET_FINISHED_GRACE_MS} past their `expiry` (ms) at `now`. */
export function forgetExpired(done: Map<string, { expiry: number }>, now: number): void {
  for (const [id, f] of done) if (now > f.expiry + WALLET_FINISHED_GRACE_MS) done.delete(id);
}

/** A decoded payment message with its authenticated sender (the inner-message key). */
export interface Incoming {
  from: Uint8Array;
  message: PaymentMessage;
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
