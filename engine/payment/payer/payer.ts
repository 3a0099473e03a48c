/**
 * The Payer (A) of the offer flow (SPEC 6.8): pre-signs a channel state with its
 * hub and leaves the signature, sealed, in the payee's mailbox.
 *
 * Flow: `pay()` → UPDATE_PROPOSE to the hub (A's settlement signature and the
 * committed nonce R_A of its update signature) → UPDATE_ACCEPT (the hub's
 * settlement signature and nonce) → A signs update n with R_A and sends the
 * OFFER (with s_A) to the payee, never to the hub → … → COMPLETION from the
 * hub: the payee's signed invoice, the scalar t = s_A, and the hub's update
 * signature, all verified before the state is accepted.
 * Cancellation: `cancel()` → CANCEL_PROPOSE (state n+1 restoring the balances)
 * → CANCEL_ACCEPT → CANCEL_COMMIT, then OFFER_VOID to the payee and the offer
 * envelope is retracted.
 * Its part of the request flow (the payee pre-signs, SPEC 6.14) is in request.ts.
 * @module
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { bytesToHex, equalBytes, hexToBytes } from '../../../base/bytes.js';
import { ErrorCode, fail, type LnMailboxError } from '../../../base/errors.js';
import { PaymentType, encodeChannelState, type PaymentMessageOf } from '../../../protocol/payment.js';
import type { NonceStore } from '../../../crypto/nonce.js';
import { adaptorPoint } from '../../../crypto/adaptor.js';
import { getPublicKey } from '../../../crypto/bip340.js';
import type { Channel, ChannelJson } from '../../channel/channel.js';
import { transfer } from '../../channel/state.js';
import { PaymentEngine, refill, type ChannelWithPeer } from '../engine.js';
import type { Signer } from '../ptlc-exchange.js';
import { reject, requireSender } from '../refusal.js';
import { ignored, step, type Incoming, type Receipt, type Step, type StepContext } from '../types.js';
import { checkReceipt } from './receipt.js';
import {
  payerOnRequest,
  payerPayRequest,
  payerRequestFail,
  payerRequestPtlc,
  type PayerRequestContext,
  type ReceivedRequest,
} from './request.js';

/** Status of an outgoing payment. */
export type PayerStatus = 'proposed' | 'offered' | 'completed' | 'cancelling' | 'cancelled' | 'failed';

/** One outgoing payment as the payer persists it. Byte fields are hex. */
export interface PayerPayment {
  offerId: string;
  payeeAddress: string;
  payeeKey: string;
  amount: number;
  fee: number;
  expiry: number;
  memo: string;
  n: number;
  status: PayerStatus;
  point?: string;
  retractionSecret: string;
  /** While cancelling: the status the cancellation started from (restored if the hub refuses it). */
  cancelFrom?: 'proposed' | 'offered';
  /** The hub accepted state n (UPDATE_ACCEPT) while our cancellation of a proposed payment was in flight. */
  hubAccepted?: boolean;
  /** The payer asked to cancel, the hub did not know the offer yet (reordered mail): cancel again once it does. */
  cancelWanted?: boolean;
  receipt?: { invoice: string | null; secret: string; n: number; receiptError?: string };
}

/** Static configuration of a payer. */
export interface PayerConfig {
  /** The payer's identity (mailbox) secret key: opens the payee's sealed receipt. */
  identityKey: Uint8Array;
  /** The hub's identity (mailbox) key, x-only. */
  hubKey: Uint8Array;
  /** The hub's mailbox address. */
  hubAddress: string;
  /** The payer's channel secret key (party 0 of the A–S channel). */
  channelKey: Uint8Array;
}

/** Persisted state of a {@link Payer}. */
export interface PayerJson {
  channel: ChannelJson;
  payments: Record<string, PayerPayment>;
  /** Requests received (the payee pre-signs; once bought, kept for the payee as its watchtower). */
  requests?: Record<string, ReceivedRequest>;
}

/** The payer's order to {@link Payer.pay}: whom to pay, how much, the hub's fee and the offer's expiry. */
export interface PaymentOrder {
  /** The payee's decoded mailbox address: its key and address string. */
  payee: { publicKey: Uint8Array; address: string };
  amount: number;
  fee: number;
  /** Offer expiry, ms since the epoch. */
  expiry: number;
  memo?: string;
  /** Fixed offer id and randomness, for deterministic tests only. */
  offerId?: Uint8Array;
}

/** The payer role engine. Pure: the runtime persists {@link Payer.toJSON} after every step. */
export class Payer extends PaymentEngine<PayerJson> {
  readonly channel: Channel;
  readonly payments: Map<string, PayerPayment>;
  private readonly identityPub: Uint8Array;

  constructor(
    readonly config: PayerConfig,
    channel: Channel,
    private readonly nonces: NonceStore,
    payments: Record<string, PayerPayment> = {},
    requests: Record<string, ReceivedRequest> = {},
  ) {
    super();
    this.requests = new Map(Object.entries(requests));
    this.signer = { channelKey: config.channelKey, nonces };
    if (channel.me !== 0) fail(ErrorCode.INVALID_RANGE, 'the payer is party 0 of its channel with the hub');
    this.channel = channel;
    this.payments = new Map(Object.entries(payments));
    this.identityPub = getPublicKey(config.identityKey);
  }

  /** Requests received from payees, by request id (hex). */
  readonly requests: Map<string, ReceivedRequest>;
  private readonly signer: Signer;

  /**
   * The request flow (SPEC 6.14): pays a payee's pre-signed request with a
   * PTLC of amount + `fee` to the hub, locked to the point of the hub's
   * signature that completes the payee's state. The payee may be offline.
   * All or nothing.
   */
  async payRequest(requestId: string, fee: number, ctx: StepContext): Promise<Step> {
    return this.atomic(() => this.#payRequest(requestId, fee, ctx));
  }

  async #payRequest(requestId: string, fee: number, ctx: StepContext): Promise<Step> {
    const r = this.requests.get(requestId);
    if (!r) reject('unknown request');
    const add = await payerPayRequest(this.channel, this.signer, r, fee, ctx);
    const s = step();
    s.send.push({ to: this.config.hubAddress, message: add });
    return s;
  }

  /** Starts a payment: proposes state n to the hub. One payment at a time per channel. All or nothing. */
  async pay(req: PaymentOrder, ctx: StepContext): Promise<{ offerId: string; step: Step }> {
    return this.atomic(() => this.#pay(req, ctx));
  }

  async #pay(req: PaymentOrder, ctx: StepContext): Promise<{ offerId: string; step: Step }> {
    this.channel.requireOpen();
    if (this.channel.pending) reject('a payment is already in flight on this channel');
    if (!(req.expiry > ctx.now)) reject('offer expiry must be in the future');
    const ch = this.channel;
    const n = ch.topN + 1;
    const next = transfer(ch.enforceable.state, 0, req.amount + req.fee, n);
    ch.propose(next);
    const settleSig = ch.signSettlement(this.config.channelKey);
    const R = await ch.commitUpdateNonce(this.nonces, this.config.channelKey);
    const offerId = req.offerId ?? randomBytes(32);
    const id = bytesToHex(offerId);
    this.payments.set(id, {
      offerId: id,
      payeeAddress: req.payee.address,
      payeeKey: bytesToHex(req.payee.publicKey),
      amount: req.amount,
      fee: req.fee,
      expiry: req.expiry,
      memo: req.memo ?? '',
      n,
      status: 'proposed',
      retractionSecret: bytesToHex(randomBytes(32)),
    });
    const s = step();
    s.send.push({
      to: this.config.hubAddress,
      message: {
        type: PaymentType.UPDATE_PROPOSE,
        channelId: ch.params.channelId,
        state: encodeChannelState(next),
        offerId,
        amount: req.amount,
        fee: req.fee,
        expiry: req.expiry,
        updateNonce: R,
        settleSig,
      },
    });
    s.events.push({ kind: 'proposed', offerId: id });
    return { offerId: id, step: s };
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
    return this.atomic(() => this.#cancel(offerIdHex));
  }

  async #cancel(offerIdHex: string): Promise<Step> {
    const p = this.payments.get(offerIdHex);
    if (!p || (p.status !== 'offered' && p.status !== 'proposed')) reject('no cancellable payment with that id');
    const ch = this.channel;
    p.cancelFrom = p.status;
    delete p.cancelWanted;
    const e = ch.enforceable.state;
    const next = { n: ch.topN + 1, balances: [e.balances[0], e.balances[1]] as [number, number], ptlcs: e.ptlcs };
    ch.propose(next);
    const settleSig = ch.signSettlement(this.config.channelKey);
    const R = await ch.commitUpdateNonce(this.nonces, this.config.channelKey);
    p.status = 'cancelling';
    const s = step();
    s.send.push({
      to: this.config.hubAddress,
      message: {
        type: PaymentType.CANCEL_PROPOSE,
        channelId: ch.params.channelId,
        offerId: hexToBytes(p.offerId),
        state: encodeChannelState(next),
        updateNonce: R,
        settleSig,
      },
    });
    s.events.push({ kind: 'cancelling', offerId: p.offerId });
    return s;
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
    return equalBytes(id, this.channel.params.channelId) ? { channel: this.channel, peerKey: this.config.hubKey } : undefined;
  }

  /** One message from the hub (or a payee's request); all or nothing through {@link PaymentEngine.handle}. */
  protected async dispatch(inc: Incoming, ctx: StepContext): Promise<Step> {
    const m = inc.message;
    // A payee's pre-signed request may come from anyone; all else from our hub.
    if (m.type === PaymentType.REQUEST) return payerOnRequest(this.config.hubKey, this.requests, inc.from, m, ctx);
    requireSender(inc.from, this.config.hubKey, 'hub');
    switch (m.type) {
      case PaymentType.PTLC_ACCEPT:
      case PaymentType.PTLC_FULFILL:
      case PaymentType.PTLC_SETTLE_ACK:
        return payerRequestPtlc(this.requestContext(), m);
      case PaymentType.PTLC_FAIL:
        return payerRequestFail(this.requestContext(), m);
      case PaymentType.UPDATE_ACCEPT:
        return this.onAccept(m, ctx);
      case PaymentType.COMPLETION:
        return this.onCompletion(m);
      case PaymentType.CANCEL_ACCEPT:
        return this.onCancelAccept(m);
      case PaymentType.REJECT:
        return await this.onReject(m);
      default:
        return ignored(m.type, 'not a message for the payer');
    }
  }

  private byState(n: number, status: PayerStatus): PayerPayment | undefined {
    for (const p of this.payments.values()) if (p.n === n && p.status === status) return p;
    return undefined;
  }

  private async onAccept(m: PaymentMessageOf<typeof PaymentType.UPDATE_ACCEPT>, ctx: StepContext): Promise<Step> {
    if (!equalBytes(m.channelId, this.channel.params.channelId)) return ignored(m.type, 'accept for another channel');
    // Our cancellation of a proposed payment overtook the hub's accept (mail over several
    // relays is not ordered). Remember it: if the hub refuses the cancellation because it
    // had not seen the offer yet, we cancel again.
    const late = this.byState(m.n, 'cancelling');
    if (late && late.cancelFrom === 'proposed') {
      late.hubAccepted = true;
      return ignored(m.type, 'accept of a payment being cancelled');
    }
    const p = this.byState(m.n, 'proposed');
    if (!p) return ignored(m.type, 'no proposed payment for that state');
    // The payer asked to cancel before the hub knew the offer: cancel now that it does.
    if (p.cancelWanted) return this.#cancel(p.offerId);
    const ch = this.channel;
    ch.receiveSettlementSig(m.settleSig);
    ch.receiveUpdateNonce(m.updateNonce);
    // Both settlement signatures are held: only now may A sign update n.
    const sig = await ch.signUpdate(this.nonces, this.config.channelKey);
    const point = ch.updatePoint(0);
    p.status = 'offered';
    p.point = bytesToHex(point);
    const s = step();
    s.send.push({
      to: p.payeeAddress,
      tag: `offer:${p.offerId}`,
      retractionSecret: hexToBytes(p.retractionSecret),
      ttlSeconds: Math.max(60, Math.ceil((p.expiry - ctx.now) / 1000)),
      message: {
        type: PaymentType.OFFER,
        offerId: hexToBytes(p.offerId),
        hub: this.config.hubKey,
        hubAddress: this.config.hubAddress,
        amount: p.amount,
        expiry: p.expiry,
        n: p.n,
        point,
        updateSighash: ch.updateSighash(),
        payerKey: ch.stateKey(0),
        payerSig: sig.subarray(0, 64),
        memo: p.memo,
      },
    });
    s.events.push({ kind: 'offered', offerId: p.offerId });
    return s;
  }

  private onCompletion(m: PaymentMessageOf<typeof PaymentType.COMPLETION>): Step {
    const id = bytesToHex(m.offerId);
    const p = this.payments.get(id);
    if (!equalBytes(m.channelId, this.channel.params.channelId)) return ignored(m.type, 'completion for another channel');
    if (!p || (p.status !== 'offered' && p.status !== 'cancelling') || p.n !== m.n)
      return ignored(m.type, 'no offered payment for that completion');
    // Only an offered payment can complete (the hub bought s_A, which left in the offer).
    if (p.status === 'cancelling' && p.cancelFrom === 'proposed') return ignored(m.type, 'completion of a payment never offered');
    // A completion can overtake our own cancellation (the hub had already bought s_A and will
    // refuse the cancel): the payment completed, so resume state n and take it.
    if (p.status === 'cancelling') this.channel.restoreOverwritten(p.n);
    // The channel part first: t must be our own s_A (so the hub did buy it), and the hub's
    // update signature must complete state n. These decide the channel state.
    if (bytesToHex(adaptorPoint(m.secret)) !== p.point) reject('revealed secret does not match the payment point');
    const ch = this.channel;
    const mine = ch.requirePending(m.n).updateSigs[0];
    if (!mine || !equalBytes(mine.subarray(32, 64), m.secret)) reject('revealed secret is not our update signature');
    ch.receiveUpdateSig(m.updateSig, 1);
    p.status = 'completed';
    // The receipt: B's signed invoice for exactly this offer, sealed by B for us alone. A hub
    // (or router) that spoils it cannot undo the state above; the payment completes and the
    // receipt is reported missing, with the reason.
    let invoice: Uint8Array | null = null;
    let receiptError: string | undefined;
    try {
      invoice = checkReceipt(m.invoice, p, this.config.identityKey, this.identityPub);
    } catch (e) {
      receiptError = (e as Error).message;
    }
    const receipt: Receipt = { invoice, secret: m.secret, n: m.n, ...(receiptError ? { receiptError } : {}) };
    p.receipt = {
      invoice: invoice ? bytesToHex(invoice) : null,
      secret: bytesToHex(m.secret),
      n: m.n,
      ...(receiptError ? { receiptError } : {}),
    };
    const s = step();
    s.events.push({ kind: 'completed', offerId: id, receipt });
    return s;
  }

  private async onCancelAccept(m: PaymentMessageOf<typeof PaymentType.CANCEL_ACCEPT>): Promise<Step> {
    const p = [...this.payments.values()].find((x) => x.status === 'cancelling');
    const ch = this.channel;
    if (!p || !ch.pending || ch.pending.state.n !== m.n || !equalBytes(m.channelId, ch.params.channelId))
      return ignored(m.type, 'no cancellation in flight');
    ch.receiveSettlementSig(m.settleSig);
    ch.receiveUpdateNonce(m.updateNonce);
    const sig = await ch.signUpdate(this.nonces, this.config.channelKey);
    ch.receiveUpdateSig(m.updateSig, 1);
    p.status = 'cancelled';
    const s = step();
    s.send.push({
      to: this.config.hubAddress,
      message: { type: PaymentType.CANCEL_COMMIT, channelId: ch.params.channelId, n: m.n, updateSig: sig },
    });
    s.send.push({
      to: p.payeeAddress,
      message: { type: PaymentType.OFFER_VOID, offerId: hexToBytes(p.offerId), reason: 'cancelled by payer' },
    });
    s.retract.push(`offer:${p.offerId}`);
    s.events.push({ kind: 'cancelled', offerId: p.offerId });
    return s;
  }

  /**
   * A REJECT of our proposal or of our cancellation. Mail may arrive in any
   * order, so every combination is defined:
   * - the proposal refused (fee, expiry, state): the payment fails and the
   *   channel drops state n, and our cancellation state too if one is in flight;
   * - the cancellation refused while the payment was offered: the hub already
   *   extended the PTLC, the payment goes on (state n resumes);
   * - the cancellation refused while the payment was only proposed: the hub
   *   had not seen the proposal yet. State n resumes, and we cancel again as
   *   soon as the hub has accepted it (at once if its accept already came).
   * The numbers of dropped states are never used again.
   */
  private async onReject(m: PaymentMessageOf<typeof PaymentType.REJECT>): Promise<Step> {
    const id = bytesToHex(m.ref);
    const p = this.payments.get(id);
    const s = step();
    if (!p) return ignored(m.type, 'reject for an unknown payment');
    const ch = this.channel;
    if (
      m.refType === PaymentType.UPDATE_PROPOSE &&
      (p.status === 'proposed' || (p.status === 'cancelling' && p.cancelFrom === 'proposed'))
    ) {
      if (p.status === 'cancelling' && ch.overwritten?.state.n === p.n) ch.abandonPending(); // our cancellation state
      if (ch.pending?.state.n === p.n) ch.abandonPending(); // state n
      p.status = 'failed';
    } else if (m.refType === PaymentType.CANCEL_PROPOSE && p.status === 'cancelling') {
      ch.restoreOverwritten(p.n);
      if (p.cancelFrom === 'proposed') {
        p.status = 'proposed';
        if (p.hubAccepted) {
          s.events.push({ kind: 'rejected', offerId: id, code: m.code, message: m.message });
          const again = await this.#cancel(p.offerId);
          return { send: again.send, retract: again.retract, events: [...s.events, ...again.events] };
        }
        p.cancelWanted = true;
      } else {
        p.status = 'offered';
      }
    } else {
      return ignored(m.type, 'reject for nothing in flight');
    }
    s.events.push({ kind: 'rejected', offerId: id, code: m.code, message: m.message });
    return s;
  }

  /** What the request flow's steps (request.ts) need of this payer. */
  private requestContext(): PayerRequestContext {
    return { channel: this.channel, signer: this.signer, hubAddress: this.config.hubAddress, requests: this.requests };
  }

  /** Every channel of this role. */
  channels(): Channel[] {
    return [this.channel];
  }

  /** Puts the engine back in the state of `j` (a snapshot from {@link Payer.toJSON}). */
  restore(j: PayerJson): void {
    this.channel.restore(j.channel);
    refill(this.payments, j.payments);
    refill(this.requests, j.requests);
  }

  /** Persisted state. */
  toJSON(): PayerJson {
    return { channel: this.channel.toJSON(), payments: Object.fromEntries(this.payments), requests: Object.fromEntries(this.requests) };
  }
}
