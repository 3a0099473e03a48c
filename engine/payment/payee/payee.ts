/**
 * The Payee (B) role engine: it holds one channel with its hub, or with a
 * router towards hubs (B is party 1). Its part of the offer flow (SPEC 6.8,
 * the payer pre-signs) is in offer.ts, its part of the request flow
 * (SPEC 6.14, the payee pre-signs) in request.ts; this file routes each
 * message to them, answers refusals, and persists.
 * @module
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { bytesToHex, equalBytes, hexToBytes } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { MAX_TICKETS, receiptSecretKey, signTicketBatch } from '../../../protocol/receipt.js';
import { reject } from '../refusal.js';
import type { LnMailboxError } from '../../../base/errors.js';
import { PaymentType } from '../../../protocol/payment.js';
import { commitTicketNonce, isFreeTicket, ticketNonceId, type NonceStore } from '../../../crypto/nonce.js';
import { getPublicKey as getPublicKeyOf } from '../../../crypto/bip340.js';
import { Channel } from '../../channel/channel.js';
import { inline, PaymentEngine, refill, type ChannelOut, type ChannelWithPeer } from '../engine.js';
import { WalletEngine } from '../open/wallet-engine.js';
import { WalletSlot, type WalletSlotJson } from '../open/wallet-slot.js';
import type { Signer } from '../ptlc-exchange.js';
import { answerRefusal } from '../refusal.js';
import {
  forgetExpired,
  ignored,
  WALLET_FINISHED_GRACE_MS,
  type ArchivedPayment,
  type Incoming,
  type Step,
  type StepContext,
} from '../types.js';
import type { PayeeConfig } from './config.js';
import {
  payeeOnOffer,
  payeeOnPtlcAdd,
  payeeOnPtlcCommit,
  payeeOnReject,
  payeeOnSettle,
  payeeOnVoid,
  payeePaymentFinished,
  type FinishedPayeeOffer,
  type PayeeOfferContext,
  type PayeePayment,
} from './offer.js';
import {
  expiredRequests,
  payeeCancelRequest,
  payeeOnCancelAccept,
  payeeOnComplete,
  payeeOnPrepared,
  payeeOnRequestReject,
  payeeRequest,
  payeeRequestFinished,
  type PayeeRequest,
  type PayeeRequestContext,
} from './request.js';

export type { PayeeConfig } from './config.js';
export type { FinishedPayeeOffer, PayeePayment, PayeeStatus } from './offer.js';

/** Persisted state of a {@link Payee}: its channel (once opened), its open in progress and its hub's terms, payments and requests. */
export interface PayeeJson extends WalletSlotJson {
  payments: Record<string, PayeePayment>;
  /** Requests (SPEC 6.14) this payee pre-signed. */
  requests?: Record<string, PayeeRequest>;
  /** Receipt tickets issued and not yet burned (x-only R_B, hex; SPEC 6.16). */
  tickets?: string[];
  /** Finished offers moved out of `payments`, by id, while a replayed OFFER of theirs must be ignored. */
  finished?: Record<string, FinishedPayeeOffer>;
}

/**
 * The payee role engine. Pure: the runtime persists {@link Payee.toJSON}
 * after every step. It starts with no channel and opens one with its hub
 * ({@link Payee.openChannel}, SPEC 6.17), which the hub funds: the hub is
 * party 0, the payee party 1, and the hub's balance is what it can pay in.
 */
export class Payee extends WalletEngine<PayeeJson> {
  readonly payments: Map<string, PayeePayment>;
  /** The channel with the hub, the open in progress and the hub's terms. */
  override readonly slot: WalletSlot;

  private readonly signer: Signer;
  private readonly identityPub: Uint8Array;

  /**
   * The payee's configuration and its channel with its partner (undefined:
   * none yet, open one); `payments`, `requests` and `saved` (open, terms) restore saved state.
   */
  constructor(
    readonly config: PayeeConfig,
    channel: Channel | undefined,
    nonces: NonceStore,
    payments: Record<string, PayeePayment> = {},
    requests: Record<string, PayeeRequest> = {},
    tickets: string[] = [],
    saved: WalletSlotJson = {},
    finished: Record<string, FinishedPayeeOffer> = {},
  ) {
    super();
    this.signer = { channelKey: config.channelKey, nonces };
    this.slot = new WalletSlot({ key: config.hubKey, address: config.hubAddress }, this.signer, 1, channel, saved);
    this.identityPub = getPublicKeyOf(config.identityKey);
    this.receiptSecret = receiptSecretKey(config.identityKey);
    this.tickets = [...tickets];
    this.payments = new Map(Object.entries(payments));
    this.requests = new Map(Object.entries(requests));
    this.finished = new Map(Object.entries(structuredClone(finished)));
  }

  /** Restores a payee from {@link Payee.toJSON}. */
  static fromJSON(config: PayeeConfig, j: PayeeJson, nonces: NonceStore): Payee {
    const ch = j.channel ? Channel.fromStored(j.channel) : undefined;
    return new Payee(config, ch, nonces, j.payments, j.requests ?? {}, j.tickets ?? [], j, j.finished ?? {});
  }

  /** Finished offers moved out of {@link payments}, by id, while a replay must be ignored (see `PayeeOfferContext.finished`). */
  readonly finished: Map<string, FinishedPayeeOffer>;

  /**
   * Moves the finished payments and requests (see `payeePaymentFinished`,
   * `payeeRequestFinished`) out of the state into `s.archive`, and forgets
   * finished offer ids past their expiry. Called when a payment or a
   * request starts (a new OFFER recorded, `request`), so the state holds the
   * payments in flight plus those finished since the last start: every
   * step's work (the snapshot, the persisted JSON) stays bounded by them,
   * not by the payee's history. A state saved before archiving is migrated
   * here too. The offer `keep` (the one just recorded) stays until the next start.
   */
  private archiveInto(s: Step, now: number, keep?: string): void {
    const out: ArchivedPayment[] = [];
    forgetExpired(this.finished, now);
    for (const [id, p] of this.payments)
      if (id !== keep && payeePaymentFinished(p)) {
        this.payments.delete(id);
        // Kept while a replayed OFFER is not refused as expired (payeeOnOffer checks the expiry).
        if (now <= p.expiry + WALLET_FINISHED_GRACE_MS)
          this.finished.set(id, p.status === 'paid' ? { expiry: p.expiry, paid: true } : { expiry: p.expiry });
        out.push({ id, record: p });
      }
    for (const [id, r] of this.requests)
      if (payeeRequestFinished(r)) {
        this.requests.delete(id);
        out.push({ id, record: r, kind: 'request' });
      }
    if (out.length > 0) s.archive = [...(s.archive ?? []), ...out];
  }

  /** Requests this payee pre-signed, by request id (hex). */
  readonly requests: Map<string, PayeeRequest>;

  /** Receipt tickets issued and not yet burned (x-only R_B, hex), oldest first. */
  readonly tickets: string[];

  private readonly receiptSecret: Uint8Array;

  /**
   * Tops the receipt tickets up to `target` (SPEC 6.16): commits one-time
   * nonces in the nonce store for the missing ones, and returns the batch of
   * every unburned ticket, signed by the receipt key, to publish as the
   * `receipt-tickets` record. Tickets already published stay in the batch
   * until burned. All or nothing, like every call.
   */
  async issueTickets(target: number, now: number): Promise<Uint8Array> {
    if (!Number.isInteger(target) || target < 1 || target > MAX_TICKETS)
      reject(`ticket target must be 1..${MAX_TICKETS}`, ErrorCode.INVALID_RANGE);
    return this.atomic(async () => {
      // A ticket burned by a step that was never committed (a crash, an offer replayed after
      // its expiry) is still listed: the nonce store, not the list, says which are free.
      const free: string[] = [];
      for (const t of this.tickets) if (await isFreeTicket(this.signer.nonces, ticketNonceId(hexToBytes(t, 32)))) free.push(t);
      this.tickets.splice(0, this.tickets.length, ...free);
      while (this.tickets.length < target) {
        const t = await commitTicketNonce(this.signer.nonces, this.receiptSecret);
        this.tickets.push(bytesToHex(t.R));
      }
      return signTicketBatch(
        this.config.identityKey,
        now,
        this.tickets.map((t) => hexToBytes(t, 32)),
      );
    });
  }

  /**
   * The request flow (the payee pre-signs, SPEC 6.14): asks the hub to co-sign a state paying
   * `amount` to us, then sends the payer the pre-signed update to buy.
   */
  async request(
    req: { payer: { publicKey: Uint8Array; address: string }; amount: number; expiry: number; memo?: string; requestId?: Uint8Array },
    ctx: StepContext,
  ): Promise<{ requestId: string; step: Step }> {
    const requestId = req.requestId ?? randomBytes(32);
    const s = await this.atomic(async () => {
      const st = await payeeRequest(this.requestContext(), { ...req, requestId }, ctx);
      this.archiveInto(st, ctx.now);
      return st;
    });
    return { requestId: bytesToHex(requestId), step: s };
  }

  /**
   * Cancels a request we sent that no payer has paid yet (SPEC 6.14,
   * cancellation): proposes to the hub a state that supersedes the request's
   * state n. The hub decides atomically between this and a payer's PTLC:
   * `cancelled` follows if the cancellation won (the payer is told, the
   * request envelope retracted), `paid` if the payment did. All or nothing.
   */
  async cancelRequest(requestId: string): Promise<Step> {
    return this.atomic(() => payeeCancelRequest(this.requestContext(), requestId));
  }

  /** Requests past their expiry (at `now`) that no payer paid: {@link cancelRequest} frees the channel. */
  expiredRequests(now: number): string[] {
    return expiredRequests({ requests: this.requests }, now); // needs no channel (a payee still opening has none)
  }

  /** One message (an offer from any payer, or a message from the hub); all or nothing through {@link PaymentEngine.handle}. */
  protected async dispatch(inc: Incoming, ctx: StepContext): Promise<Step> {
    const m = inc.message;
    switch (m.type) {
      case PaymentType.OFFER: {
        const id = bytesToHex(m.offerId);
        const known = this.payments.has(id);
        const s = await payeeOnOffer(this.offerContext(), inc.from, m, ctx);
        // A new offer was recorded: the finished ones leave (a duplicate or an ignored offer changes nothing).
        if (!known && this.payments.has(id)) this.archiveInto(s, ctx.now, id);
        return s;
      }
      case PaymentType.OFFER_VOID:
        return payeeOnVoid(this.offerContext(), inc.from, m);
      case PaymentType.REQUEST_COMPLETE:
        return payeeOnComplete(this.requestContext(), inc.from, m);
    }
    // Everything else must come from our hub.
    if (!equalBytes(inc.from, this.config.hubKey)) return ignored(m.type, 'not from our hub');
    const opening = await this.slot.dispatch(m, ctx);
    if (opening) return opening;
    if (!this.slot.current) return ignored(m.type, 'no channel yet');
    switch (m.type) {
      case PaymentType.PTLC_ADD:
        return await payeeOnPtlcAdd(this.offerContext(), m, ctx);
      case PaymentType.PTLC_COMMIT:
        return await payeeOnPtlcCommit(this.offerContext(), m);
      case PaymentType.PTLC_SETTLE:
        return await payeeOnSettle(this.offerContext(), m);
      case PaymentType.REJECT:
        // A REJECT refers to a request being prepared (SPEC 6.14) or else to an invoice (SPEC 6.8).
        return payeeOnRequestReject(this.requestContext(), m) ?? (await payeeOnReject(this.offerContext(), m));
      case PaymentType.REQUEST_PREPARED:
        return await payeeOnPrepared(this.requestContext(), m, ctx);
      case PaymentType.CANCEL_ACCEPT:
        return await payeeOnCancelAccept(this.requestContext(), m);
      default:
        return ignored(m.type, 'not a message for the payee');
    }
  }

  /**
   * A refused message is answered to our hub (the only peer we have). A
   * refused OFFER is not answered: its sender is anyone, and a REJECT to the
   * hub would mean nothing to it.
   */
  protected answer(inc: Incoming, e: LnMailboxError): Step {
    if (inc.message.type === PaymentType.OFFER) throw e;
    return answerRefusal(inc.message, e, this.config.hubAddress);
  }

  protected channelPeer(id: Uint8Array): ChannelWithPeer | undefined {
    const ch = this.slot.current;
    return ch && equalBytes(id, ch.params.channelId)
      ? { channel: ch, peerKey: this.config.hubKey, peerAddress: this.config.hubAddress }
      : undefined;
  }

  /** The offer flow (the payer pre-signs, SPEC 6.8): the payee's side, in offer.ts. */
  private offerContext(): PayeeOfferContext {
    return {
      config: this.config,
      channel: this.channel,
      payments: this.payments,
      finished: this.finished,
      signer: this.signer,
      identityPub: this.identityPub,
      receiptSecret: this.receiptSecret,
      tickets: this.tickets,
    };
  }

  /** The request flow (the payee pre-signs, SPEC 6.14): the payee's side, in request.ts. */
  private requestContext(): PayeeRequestContext {
    return { config: this.config, channel: this.channel, signer: this.signer, requests: this.requests };
  }

  /** Every channel of this role. */
  channels(): Channel[] {
    return this.slot.current ? [this.slot.current] : [];
  }

  /** Puts the engine back in the state of `j` (a snapshot from {@link Payee.toJSON}). */
  restore(j: PayeeJson, resolve?: (id: string) => Channel | undefined): void {
    this.slot.restore(j, resolve);
    refill(this.payments, j.payments);
    refill(this.requests, j.requests);
    refill(this.finished, j.finished);
    this.tickets.splice(0, this.tickets.length, ...(j.tickets ?? []));
  }

  /** Persisted state. */
  toJSON(out: ChannelOut = inline): PayeeJson {
    return {
      ...this.slot.toJSON(out),
      payments: Object.fromEntries(this.payments),
      requests: Object.fromEntries(this.requests),
      tickets: [...this.tickets],
      finished: Object.fromEntries(this.finished),
    };
  }
}
