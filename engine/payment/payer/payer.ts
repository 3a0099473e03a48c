/**
 * The Payer (A) role engine: it holds one channel with its hub (A is party
 * 0). Its part of the offer flow (SPEC 6.8, the payer pre-signs) is in
 * offer.ts, its part of the request flow (SPEC 6.14, the payee pre-signs) in
 * request.ts, the check of the payee's receipt in receipt.ts; this file
 * routes each message to them and persists.
 * @module
 */
import { equalBytes } from '../../../base/bytes.js';
import type { LnMailboxError } from '../../../base/errors.js';
import { PaymentType } from '../../../protocol/payment.js';
import type { NonceStore } from '../../../crypto/nonce.js';
import { getPublicKey } from '../../../crypto/bip340.js';
import { Channel } from '../../channel/channel.js';
import { inline, PaymentEngine, refill, type ChannelOut, type ChannelWithPeer } from '../engine.js';
import { WalletEngine } from '../open/wallet-engine.js';
import { WalletSlot, type WalletSlotJson } from '../open/wallet-slot.js';
import type { Signer } from '../ptlc-exchange.js';
import { reject, requireSender } from '../refusal.js';
import {
  forgetExpired,
  ignored,
  WALLET_FINISHED_GRACE_MS,
  type ArchivedPayment,
  type Incoming,
  type Step,
  type StepContext,
} from '../types.js';
import type { PayerConfig } from './config.js';
import {
  payerCancel,
  payerOnCancelAccept,
  payerOnCompletion,
  payerOnUpdateSigsOnChain,
  payerOnReject,
  payerOnUpdateAccept,
  payerPay,
  payerPaymentFinished,
  type PayerOfferContext,
  type PayerPayment,
  type PaymentOrder,
} from './offer.js';
import {
  payerOnRequest,
  payerOnRequestVoid,
  payerRequestFail,
  payerRequestPay,
  payerRequestPtlc,
  receivedRequestFinished,
  type PayerRequestContext,
  type ReceivedRequest,
} from './request.js';

export type { PayerConfig } from './config.js';
export type { PayerPayment, PayerStatus, PaymentOrder } from './offer.js';

/** Persisted state of a {@link Payer}: its channel (once opened), its open in progress and its hub's terms, payments and requests. */
export interface PayerJson extends WalletSlotJson {
  payments: Record<string, PayerPayment>;
  /** Requests received (the payee pre-signs; once bought, kept for the payee as its watchtower). */
  requests?: Record<string, ReceivedRequest>;
  /** Finished requests moved out of `requests`, by id, while a replayed REQUEST of theirs must be ignored. */
  finishedRequests?: Record<string, { expiry: number }>;
}

/**
 * The payer role engine. Pure: the runtime persists {@link Payer.toJSON}
 * after every step. It starts with no channel and opens one with its hub
 * ({@link Payer.openChannel}, SPEC 6.17), funding it: the payer is party 0.
 */
export class Payer extends WalletEngine<PayerJson> {
  readonly payments: Map<string, PayerPayment>;
  private readonly identityPub: Uint8Array;
  /** The channel with the hub, the open in progress and the hub's terms. */
  override readonly slot: WalletSlot;

  /**
   * The payer's configuration and its channel with the hub (undefined: none
   * yet, open one); `payments`, `requests` and `saved` (open, terms) restore saved state.
   */
  constructor(
    readonly config: PayerConfig,
    channel: Channel | undefined,
    nonces: NonceStore,
    payments: Record<string, PayerPayment> = {},
    requests: Record<string, ReceivedRequest> = {},
    saved: WalletSlotJson = {},
    finishedRequests: Record<string, { expiry: number }> = {},
  ) {
    super();
    this.requests = new Map(Object.entries(requests));
    this.finishedRequests = new Map(Object.entries(structuredClone(finishedRequests)));
    this.signer = { channelKey: config.channelKey, nonces };
    this.slot = new WalletSlot({ key: config.hubKey, address: config.hubAddress }, this.signer, 0, channel, saved);
    this.payments = new Map(Object.entries(payments));
    this.identityPub = getPublicKey(config.identityKey);
  }

  /** Restores a payer from {@link Payer.toJSON}. */
  static fromJSON(config: PayerConfig, j: PayerJson, nonces: NonceStore): Payer {
    const ch = j.channel ? Channel.fromStored(j.channel) : undefined;
    return new Payer(config, ch, nonces, j.payments, j.requests ?? {}, j, j.finishedRequests ?? {});
  }

  /** Requests received from payees, by request id (hex). */
  readonly requests: Map<string, ReceivedRequest>;
  /** Finished requests moved out of {@link requests}, by id, with their expiry (ms), while a replay must be ignored. */
  readonly finishedRequests: Map<string, { expiry: number }>;
  private readonly signer: Signer;

  /**
   * The request flow (SPEC 6.14): pays a payee's pre-signed request with a
   * PTLC of amount + `fee` to the hub, locked to the point of the hub's
   * signature that completes the payee's state. The payee may be offline.
   * All or nothing.
   */
  async payRequest(requestId: string, fee: number, ctx: StepContext): Promise<Step> {
    return this.atomic(async () => {
      this.#requireNoFulfillDue();
      return payerRequestPay(this.requestContext(), requestId, fee, ctx);
    });
  }

  /**
   * Refuses to propose a state while a request's PTLC is committed on our
   * channel (SPEC 6.14): the hub's next move is its PTLC_FULFILL, under the
   * next number. A proposal of ours under that same number would cross it,
   * each side would refuse the other's, and the channel would take no state
   * again.
   */
  #requireNoFulfillDue(): void {
    for (const r of this.requests.values())
      if (r.status === 'committed') reject(`request ${r.requestId} is committed on this channel: the hub's fulfillment comes first`);
  }

  /** Starts a payment: proposes state n to the hub. One payment at a time per channel. All or nothing. */
  async pay(req: PaymentOrder, ctx: StepContext): Promise<{ offerId: string; step: Step }> {
    return this.atomic(async () => {
      this.#requireNoFulfillDue();
      const r = await payerPay(this.offerContext(), req, ctx);
      this.archiveInto(r.step, ctx.now);
      return r;
    });
  }

  /**
   * Moves the finished payments and requests (see `payerPaymentFinished`,
   * `receivedRequestFinished`) out of the state into `s.archive`, and
   * forgets finished request ids past their expiry. Called when a payment
   * or a request starts (`pay`, a REQUEST received), so the state holds the
   * payments in flight plus those finished since the last start: every
   * step's work (the snapshot, the persisted JSON) stays bounded by them,
   * not by the payer's history. A state saved before archiving is migrated
   * here too.
   */
  private archiveInto(s: Step, now: number): void {
    const out: ArchivedPayment[] = [];
    for (const [id, p] of this.payments)
      if (payerPaymentFinished(p)) {
        this.payments.delete(id);
        out.push({ id, record: p });
      }
    forgetExpired(this.finishedRequests, now);
    for (const [id, r] of this.requests)
      if (receivedRequestFinished(r)) {
        this.requests.delete(id);
        // Kept while a replayed REQUEST is not refused as expired (payerOnRequest checks the expiry).
        if (now <= r.expiry + WALLET_FINISHED_GRACE_MS) this.finishedRequests.set(id, { expiry: r.expiry });
        out.push({ id, record: r, kind: 'request' });
      }
    if (out.length > 0) s.archive = [...(s.archive ?? []), ...out];
  }

  /**
   * Offers past their expiry that are still open (the payee never invoiced in
   * time). The hub no longer pays for them; cancelling frees the channel.
   */
  expiredOffers(now: number): string[] {
    return [...this.payments.values()]
      .filter((p) => (p.status === 'offered' || p.status === 'proposed') && p.expiry <= now)
      .map((p) => p.offerId);
  }

  /** Cancels an offered payment that the hub has not yet extended to the payee. All or nothing. */
  async cancel(offerIdHex: string): Promise<Step> {
    return this.atomic(() => payerCancel(this.offerContext(), offerIdHex));
  }

  /**
   * A refused message is never answered: a REQUEST may come from anyone
   * (answering would let strangers use us to mail third parties), and the
   * hub acts on no REJECT from its payer. The error goes to the runtime,
   * which reports it and acknowledges the message.
   */
  protected answer(_inc: Incoming, e: LnMailboxError): Step {
    throw e;
  }

  protected channelPeer(id: Uint8Array): ChannelWithPeer | undefined {
    const ch = this.slot.current;
    return ch && equalBytes(id, ch.params.channelId)
      ? { channel: ch, peerKey: this.config.hubKey, peerAddress: this.config.hubAddress }
      : undefined;
  }

  /** One message from the hub (or a payee's request); all or nothing through {@link PaymentEngine.handle}. */
  protected async dispatch(inc: Incoming, ctx: StepContext): Promise<Step> {
    const m = inc.message;
    // A payee's pre-signed request may come from anyone; all else from our hub.
    if (m.type === PaymentType.REQUEST && !this.slot.current) return ignored(m.type, 'no channel yet');
    if (m.type === PaymentType.REQUEST) {
      const s = payerOnRequest(this.requestContext(), inc.from, m, ctx);
      // A new request starts: the finished ones leave (a duplicate or a refused one changes nothing).
      if (s.events.some((e) => e.kind === 'request_received')) this.archiveInto(s, ctx.now);
      return s;
    }
    // A payee voids its own request (SPEC 6.14, cancellation); payers send no OFFER_VOID to payers.
    if (m.type === PaymentType.OFFER_VOID) return payerOnRequestVoid(this.requestContext(), inc.from, m);
    requireSender(inc.from, this.config.hubKey, 'hub');
    const opening = await this.slot.dispatch(m, ctx);
    if (opening) return opening;
    if (!this.slot.current) return ignored(m.type, 'no channel yet');
    switch (m.type) {
      case PaymentType.PTLC_ACCEPT:
      case PaymentType.PTLC_FULFILL:
      case PaymentType.PTLC_SETTLE_ACK:
        return payerRequestPtlc(this.requestContext(), m);
      case PaymentType.PTLC_FAIL:
        return payerRequestFail(this.requestContext(), m);
      case PaymentType.UPDATE_ACCEPT:
        return payerOnUpdateAccept(this.offerContext(), m, ctx);
      case PaymentType.COMPLETION:
        return payerOnCompletion(this.offerContext(), m);
      case PaymentType.CANCEL_ACCEPT:
        return payerOnCancelAccept(this.offerContext(), m);
      case PaymentType.REJECT:
        return await payerOnReject(this.offerContext(), m);
      default:
        return ignored(m.type, 'not a message for the payer');
    }
  }

  /** Update n of our channel read on chain: a payment whose completion never came completes from it (offer.ts). */
  protected override async onChainUpdateSigs(channelId: string, n: number, sigs: readonly [Uint8Array, Uint8Array]): Promise<Step> {
    return payerOnUpdateSigsOnChain(this.offerContext(), channelId, n, sigs);
  }

  /** The offer flow (the payer pre-signs, SPEC 6.8): the payer's side, in offer.ts. */
  private offerContext(): PayerOfferContext {
    return { config: this.config, channel: this.channel, payments: this.payments, signer: this.signer, identityPub: this.identityPub };
  }

  /** The request flow (the payee pre-signs, SPEC 6.14): the payer's side, in request.ts. */
  private requestContext(): PayerRequestContext {
    return {
      config: this.config,
      channel: this.channel,
      signer: this.signer,
      requests: this.requests,
      finishedRequests: this.finishedRequests,
    };
  }

  /** Every channel of this role. */
  channels(): Channel[] {
    return this.slot.current ? [this.slot.current] : [];
  }

  /** Puts the engine back in the state of `j` (a snapshot from {@link Payer.toJSON}). */
  restore(j: PayerJson, resolve?: (id: string) => Channel | undefined): void {
    this.slot.restore(j, resolve);
    refill(this.payments, j.payments);
    refill(this.requests, j.requests);
    refill(this.finishedRequests, j.finishedRequests);
  }

  /** Persisted state. */
  toJSON(out: ChannelOut = inline): PayerJson {
    return {
      ...this.slot.toJSON(out),
      payments: Object.fromEntries(this.payments),
      requests: Object.fromEntries(this.requests),
      finishedRequests: Object.fromEntries(this.finishedRequests),
    };
  }
}
