/**
 * The Hub (S) role engine: always online, it holds a channel with each
 * payer (S is party 1) and each payee or router (S is party 0). Its part of
 * the offer flow (SPEC 6.8, the payer pre-signs) is in offer.ts, its part of
 * the request flow (SPEC 6.14, the payee pre-signs) in request.ts; this file
 * routes each message to them, answers refusals, and persists.
 * @module
 */
import { bytesToHex, equalBytes, hexToBytes } from '../../../base/bytes.js';
import { ErrorCode, fail, type LnMailboxError } from '../../../base/errors.js';
import { getPublicKey } from '../../../crypto/bip340.js';
import { PaymentType } from '../../../protocol/payment.js';
import type { NonceStore } from '../../../crypto/nonce.js';
import { termsId, verifyTerms, type HubTerms } from '../../../protocol/terms.js';
import type { BitcoinTx } from '../../bitcoin/transaction.js';
import { Channel, isChannelRecordsRef, type ChannelRecord, type ChannelRecordsRef, type StoredChannel } from '../../channel/channel.js';
import { payoutScript } from '../../channel/onchain.js';
import type { FundingCheck, FundingOrder, OpeningEngine } from '../open/common.js';
import {
  hubExpireOpens,
  hubFundingChecks,
  hubFundingOrders,
  hubNoteFunded,
  hubNoteFundingTx,
  hubOnFunding,
  hubOnOpen,
  hubOnOpenCancel,
  hubOnOpenSign,
  hubOnTermsRequest,
  openRefusalAddress,
  type HubOpen,
  type HubOpenContext,
} from '../open/hub-open.js';
import { byReference, inline, PaymentEngine, refill, type ChannelOut } from '../engine.js';
import { channelMap, type PeerChannel } from '../peers.js';
import type { Signer } from '../ptlc-exchange.js';
import { answerRefusal, reject } from '../refusal.js';
import { ignored, type Incoming, type Step, type StepContext } from '../types.js';
import type { HubConfig } from './config.js';
import {
  hubOnCancel,
  hubOnCancelCommit,
  hubOnChainSecret,
  hubOnFulfill,
  hubOnInvoice,
  hubOnPropose,
  hubOnPtlcAccept,
  hubOnPtlcFail,
  hubOnRemove,
  hubOnPayeeReject,
  hubOnSettleAck,
  hubArchive,
  type FinishedOffer,
  type HubOfferContext,
  type HubPayment,
} from './offer.js';
import { hubArchiveRequests, hubRequestStep, type FinishedRequest, type HubRequest, type HubRequestContext } from './request.js';

export { DEFAULT_TIMEOUT_SLACK, type HubConfig } from './config.js';
export { FINISHED_GRACE_MS } from './offer.js';
export type { FinishedOffer, HubPayment, HubStatus } from './offer.js';
export { FINISHED_REQUEST_GRACE_MS } from './request.js';
export type { FinishedRequest, HubRequest } from './request.js';
export type { HubOpen } from '../open/hub-open.js';

/** Persisted state of a {@link Hub}. */
export interface HubJson {
  /**
   * Every channel with its peer, by channel id. A wallet runtime stores each
   * one as a record of its own, and the state then holds only their count
   * ({@link ChannelRecordsRef}); loading puts them back here.
   */
  peers: Record<string, { channel: StoredChannel; peerKey: string; peerAddress: string }> | ChannelRecordsRef;
  /** Payments in flight (and, in a state saved before finished ones were archived, finished ones too). */
  payments: Record<string, HubPayment>;
  /** Finished offers moved out of `payments` (the step's `archive`), by offer id, while their messages must be ignored. */
  finished?: Record<string, FinishedOffer>;
  /** Requests (the payee pre-signs, SPEC 6.14) the hub co-signed. */
  requests?: Record<string, HubRequest>;
  /** Finished requests moved out of `requests` (the step's `archive`), by request id, while their messages must be ignored. */
  finishedRequests?: Record<string, FinishedRequest>;
  /** Channel opens in progress (SPEC 6.17), by channel id. */
  opens?: Record<string, HubOpen>;
}

/**
 * The peers a hub state lists, as a wallet runtime loads it; a state that
 * holds only the count of its channel records (one not loaded through a
 * runtime) is refused (STORE_UNAVAILABLE).
 */
export function listedPeers(j: HubJson): Exclude<HubJson['peers'], ChannelRecordsRef> {
  if (isChannelRecordsRef(j.peers)) fail(ErrorCode.STORE_UNAVAILABLE, 'hub: a state whose channel records were not loaded');
  return j.peers;
}

/**
 * The hub role engine. Pure: the runtime persists {@link Hub.toJSON} after
 * every step. Its channels grow while it runs: an open (SPEC 6.17) that
 * completes adds one.
 */
export class Hub extends PaymentEngine<HubJson> implements OpeningEngine {
  readonly peers: Map<string, PeerChannel>;
  /** Payments in flight: a finished one leaves at the step that finishes it (in the step's `archive`). */
  readonly payments: Map<string, HubPayment>;
  /** Finished offers, by id, while their messages must be ignored (see {@link FinishedOffer}). */
  readonly finished: Map<string, FinishedOffer>;
  /** Channel opens in progress, by channel id (hex). */
  readonly opens: Map<string, HubOpen>;
  #terms: HubOpenContext['terms'];
  #previousTerms: HubOpenContext['previous'];

  private readonly signer: Signer;
  private readonly channelKeyPub: Uint8Array;

  /**
   * The hub's configuration and its channels (each with its peer);
   * `payments`, `requests`, `opens` and `finished` restore saved state. A hub starts
   * with no channel and opens them (SPEC 6.17); channels passed here are
   * restored ones, or ready-made channels in tests.
   */
  constructor(
    readonly config: HubConfig,
    peers: PeerChannel[],
    nonces: NonceStore,
    payments: Record<string, HubPayment> = {},
    requests: Record<string, HubRequest> = {},
    opens: Record<string, HubOpen> = {},
    finished: Record<string, FinishedOffer> = {},
    finishedRequests: Record<string, FinishedRequest> = {},
  ) {
    super();
    this.requests = new Map(Object.entries(requests));
    this.finishedRequests = new Map(Object.entries(finishedRequests));
    this.signer = { channelKey: config.channelKey, nonces };
    this.channelKeyPub = getPublicKey(config.channelKey);
    this.peers = channelMap(peers, this.channelKeyPub, 'hub');
    this.payments = new Map(Object.entries(payments));
    this.finished = new Map(Object.entries(finished));
    this.opens = new Map(Object.entries(structuredClone(opens)));
    this.#terms = config.terms ? Hub.checkTerms(config, config.terms, this.channelKeyPub) : undefined;
    if (config.previousTerms && this.#terms)
      try {
        const prev = Hub.checkTerms(config, config.previousTerms, this.channelKeyPub);
        if (!equalBytes(prev.id, this.#terms.id)) this.#previousTerms = prev;
      } catch {
        // terms of another configuration: no OPEN may name them any more
      }
  }

  /** The hub's signed terms, decoded, when it opens channels (see {@link renewTerms}). */
  get terms(): HubOpenContext['terms'] {
    return this.#terms;
  }

  /** The terms the current ones replaced, if any: an OPEN may still name them while they are unexpired. */
  get previousTerms(): HubOpenContext['previous'] {
    return this.#previousTerms;
  }

  /**
   * Makes `doc` the hub's terms (SPEC 6.17.1: a hub renews its terms before
   * they expire). It is checked as the terms given at construction are (the
   * hub's keys, fee and timeout delta), must be unexpired at `now` and not
   * older than the current terms; the current terms become the previous
   * ones, which an OPEN may still name while they are unexpired. Terms are
   * configuration, not persisted state (not in {@link toJSON}).
   * @returns false when `doc` already is the current terms (nothing changes).
   * @throws LnMailboxError (the terms are bad, expired or older); the hub is then unchanged.
   */
  renewTerms(doc: Uint8Array, now: number): boolean {
    const next = Hub.checkTerms(this.config, doc, this.channelKeyPub);
    const cur = this.#terms;
    if (cur && equalBytes(next.id, cur.id)) return false;
    if (next.t.expiry <= now) fail(ErrorCode.INVALID_RANGE, 'terms: the new terms have expired');
    if (cur && next.t.issued < cur.t.issued) fail(ErrorCode.INVALID_RANGE, 'terms: older than the current terms');
    this.#previousTerms = cur;
    this.#terms = next;
    return true;
  }

  /** Decodes signed terms `doc` of the hub and checks that they state its configuration. */
  private static checkTerms(config: HubConfig, doc: Uint8Array, channelKeyPub: Uint8Array): NonNullable<HubOpenContext['terms']> {
    const t: HubTerms = verifyTerms(doc, getPublicKey(config.identityKey));
    if (!equalBytes(t.channelKey, channelKeyPub)) fail(ErrorCode.INVALID_PUBLIC_KEY, 'terms: not the hub’s channel key');
    if (t.feeBase !== config.fee.base || t.feePpm !== config.fee.ppm) fail(ErrorCode.INVALID_RANGE, 'terms: not the hub’s fee');
    if (t.maxTimeoutDelta !== config.maxTimeoutDelta) fail(ErrorCode.INVALID_RANGE, 'terms: not the hub’s maximum timeout delta');
    return { doc: doc.slice(), t, id: termsId(doc) };
  }

  /** The open steps' view of the hub (SPEC 6.17, open/hub-open.ts). */
  private openContext(): HubOpenContext {
    return {
      terms: this.#terms,
      previous: this.#previousTerms,
      opens: this.opens,
      peers: this.peers,
      signer: this.signer,
      channelKeyPub: this.channelKeyPub,
      payout: this.config.payout ?? payoutScript(this.channelKeyPub),
      ...(this.config.openLimits ? { limits: this.config.openLimits } : {}),
    };
  }

  /** Funding transactions the hub must build (opens it funds, state 0 signed). */
  fundingOrders(now: number): FundingOrder[] {
    return hubFundingOrders(this.openContext(), now);
  }

  /** Funding outpoints the hub watches until they confirm. */
  fundingChecks(): FundingCheck[] {
    return hubFundingChecks(this.openContext());
  }

  /** The hub built and signed the funding transaction of an open it funds. All or nothing. */
  noteFunded(channelId: string, tx: BitcoinTx, vout: number): Promise<Step> {
    return this.atomic(async () => hubNoteFunded(this.openContext(), channelId, tx, vout));
  }

  /** What the hub's chain source says of a funding transaction. All or nothing. */
  noteFundingTx(channelId: string, found: { tx: BitcoinTx; height: number | null } | null, ctx: StepContext): Promise<Step> {
    return this.atomic(async () => hubNoteFundingTx(this.openContext(), channelId, found, ctx));
  }

  /** Forgets opens not funded in time. All or nothing. */
  expireOpens(ctx: StepContext): Promise<Step> {
    return this.atomic(async () => hubExpireOpens(this.openContext(), ctx.now));
  }

  /** Requests (the payee pre-signs) the hub co-signed, by request id (hex). */
  readonly requests: Map<string, HubRequest>;
  /** Finished requests, by id, while their messages must be ignored (see {@link FinishedRequest}). */
  readonly finishedRequests: Map<string, FinishedRequest>;

  /**
   * One message; {@link PaymentEngine.handle} makes it all or nothing and
   * answers a refusal. After it, the payments it (or an earlier step, in a
   * state saved before archiving) finished leave the state, in the step's
   * `archive`: the hub's per-step work is bounded by payments in flight.
   */
  protected async dispatch(inc: Incoming, ctx: StepContext): Promise<Step> {
    const s = await this.route(inc, ctx);
    const archive = [...hubArchive(this.offerContext(), ctx.now), ...hubArchiveRequests(this.requestContext(), ctx.now)];
    if (archive.length > 0) s.archive = [...(s.archive ?? []), ...archive];
    return s;
  }

  /** Hands one message to the flow it belongs to. */
  private async route(inc: Incoming, ctx: StepContext): Promise<Step> {
    const m = inc.message;
    switch (m.type) {
      case PaymentType.UPDATE_PROPOSE:
        return await hubOnPropose(this.offerContext(), inc.from, m, ctx);
      case PaymentType.INVOICE:
        return await hubOnInvoice(this.offerContext(), inc.from, m, ctx);
      case PaymentType.PTLC_ACCEPT:
        return await hubOnPtlcAccept(this.offerContext(), inc.from, m);
      case PaymentType.PTLC_FULFILL:
        return await hubOnFulfill(this.offerContext(), inc.from, m);
      case PaymentType.PTLC_SETTLE_ACK:
        return hubOnSettleAck(this.offerContext(), inc.from, m);
      case PaymentType.CANCEL_PROPOSE:
        // A payee cancelling a request (SPEC 6.14), or a payer cancelling an offer (SPEC 6.8). The
        // id tells which: the hub refuses a request named after an offer it knows, and an offer
        // named after a request (hubOnPrepare, hubOnPropose), so no id names one of each.
        if (this.requests.has(bytesToHex(m.offerId)) || this.finishedRequests.has(bytesToHex(m.offerId)))
          return await this.onRequest(inc.from, m, ctx);
        return await hubOnCancel(this.offerContext(), inc.from, m);
      case PaymentType.CANCEL_COMMIT:
        return hubOnCancelCommit(this.offerContext(), inc.from, m);
      case PaymentType.PTLC_FAIL:
        return hubOnPtlcFail(this.offerContext(), inc.from, m);
      case PaymentType.PTLC_REMOVE:
        return await hubOnRemove(this.offerContext(), inc.from, m);
      case PaymentType.TERMS_REQUEST:
        return hubOnTermsRequest(this.openContext(), inc.from, m);
      case PaymentType.OPEN:
        return await hubOnOpen(this.openContext(), inc.from, m, ctx);
      case PaymentType.OPEN_SIGN:
        return await hubOnOpenSign(this.openContext(), inc.from, m);
      case PaymentType.FUNDING:
        return hubOnFunding(this.openContext(), inc.from, m, ctx);
      case PaymentType.OPEN_CANCEL:
        return hubOnOpenCancel(this.openContext(), inc.from, m);
      case PaymentType.REJECT:
        return hubOnPayeeReject(this.offerContext(), inc.from, m);
      case PaymentType.REQUEST_PREPARE:
      case PaymentType.PTLC_ADD:
      case PaymentType.PTLC_COMMIT:
      case PaymentType.PTLC_SETTLE:
      case PaymentType.REQUEST_ACK:
        return await this.onRequest(inc.from, m, ctx);
      default:
        return ignored(m.type, 'not a message for the hub');
    }
  }

  /**
   * A refused message is answered to its sender only if it is one of our
   * peers: replying to an address named inside a stranger's message would
   * let anyone use the hub to send mail to third parties. A refused open
   * message is answered to its sender's own mailbox (SPEC 6.17).
   */
  protected answer(inc: Incoming, e: LnMailboxError): Step {
    const to = this.peerByKey(inc.from) ?? openRefusalAddress(this.openContext(), inc.message as never, inc.from);
    return answerRefusal(inc.message, e, to);
  }

  protected channelPeer(id: Uint8Array): PeerChannel | undefined {
    return this.peers.get(bytesToHex(id));
  }

  private peerByKey(key: Uint8Array): string | undefined {
    for (const p of this.peers.values()) if (equalBytes(p.peerKey, key)) return p.peerAddress;
    return undefined;
  }

  /** The channel `id` whose peer is `from`. */
  private peer(id: Uint8Array, from: Uint8Array): PeerChannel {
    const p = this.peers.get(bytesToHex(id));
    if (!p) reject('unknown channel');
    if (!equalBytes(p.peerKey, from)) reject('message does not come from the channel peer');
    return p;
  }

  /** The offer flow (the payer pre-signs, SPEC 6.8): the hub's side, in offer.ts. */
  private offerContext(): HubOfferContext {
    return {
      config: this.config,
      peers: this.peers,
      payments: this.payments,
      finished: this.finished,
      isRequestId: (id) => this.requests.has(id) || this.finishedRequests.has(id),
      signer: this.signer,
      peer: (id, f) => this.peer(id, f),
    };
  }

  /** The request flow (the payee pre-signs, SPEC 6.14): the hub's side, in request.ts. */
  private onRequest(from: Uint8Array, m: Incoming['message'], ctx: StepContext): Promise<Step> {
    return hubRequestStep(this.requestContext(), from, m, ctx);
  }

  private requestContext(): HubRequestContext {
    return {
      peer: (id, f) => this.peer(id, f),
      peers: this.peers,
      requests: this.requests,
      finished: this.finishedRequests,
      isOfferId: (id) => this.payments.has(id) || this.finished.has(id),
      signer: this.signer,
      fee: this.config.fee,
      safetyMargin: this.config.safetyMargin,
    };
  }

  /** A payee claimed a PTLC on chain: complete the payer's update with the secret it revealed (SPEC 6.18). */
  protected override onChainSecret(channelId: string, ptlcId: string, secret: Uint8Array): Promise<Step> {
    return hubOnChainSecret(this.offerContext(), channelId, ptlcId, secret);
  }

  /** Every channel of this role. */
  channels(): Channel[] {
    return [...this.peers.values()].map((p) => p.channel);
  }

  /**
   * Puts the engine back in the state of `j` (a snapshot from {@link Hub.toJSON}):
   * channels in both are restored in place, channels an open added since are dropped.
   */
  restore(j: HubJson, resolve?: (id: string) => Channel | undefined, members?: unknown): void {
    if (isChannelRecordsRef(j.peers)) {
      // A rollback: the journal put the channels back; the map gets back the peers it had.
      if (!(members instanceof Map)) fail(ErrorCode.STORE_UNAVAILABLE, 'hub: a state without its peers and nothing to restore them from');
      this.peers.clear();
      for (const [id, p] of members as Map<string, PeerChannel>) this.peers.set(id, p);
    } else this.restorePeers(j.peers, resolve);
    refill(this.payments, j.payments);
    refill(this.finished, j.finished);
    refill(this.requests, j.requests);
    refill(this.finishedRequests, j.finishedRequests);
    refill(this.opens, j.opens);
  }

  /** The peers of a state that lists them (see {@link restore}). */
  private restorePeers(peers: Exclude<HubJson['peers'], ChannelRecordsRef>, resolve?: (id: string) => Channel | undefined): void {
    for (const [id, p] of [...this.peers]) {
      const saved = peers[id];
      if (saved) Channel.fromStored(saved.channel, p.channel);
      else this.peers.delete(id);
    }
    for (const [id, p] of Object.entries(peers))
      if (!this.peers.has(id))
        this.peers.set(id, {
          channel: Channel.fromStored(p.channel, undefined, resolve),
          peerKey: hexToBytes(p.peerKey, 32),
          peerAddress: p.peerAddress,
        });
  }

  /** A copy of the map of peers (see {@link PaymentEngine.members}). */
  protected override members(): Map<string, PeerChannel> {
    return new Map(this.peers);
  }

  /** A channel's record: the channel and its peer (see {@link PaymentEngine.channelRecord}). */
  override channelRecord(c: Channel): ChannelRecord {
    const p = this.peers.get(bytesToHex(c.params.channelId));
    if (!p) fail(ErrorCode.INVALID_RANGE, `hub: no channel ${bytesToHex(c.params.channelId)}`);
    return { channel: c.toJSON(), peerKey: bytesToHex(p.peerKey), peerAddress: p.peerAddress };
  }

  /** Persisted state. */
  toJSON(out: ChannelOut = inline): HubJson {
    let peers: HubJson['peers'];
    if (out === byReference) peers = { $channelRecords: this.peers.size };
    else {
      const listed: Exclude<HubJson['peers'], ChannelRecordsRef> = {};
      for (const [id, p] of this.peers)
        listed[id] = { channel: out(p.channel), peerKey: bytesToHex(p.peerKey), peerAddress: p.peerAddress };
      peers = listed;
    }
    return {
      peers,
      payments: Object.fromEntries(this.payments),
      finished: Object.fromEntries(this.finished),
      requests: Object.fromEntries(this.requests),
      finishedRequests: Object.fromEntries(this.finishedRequests),
      opens: Object.fromEntries(this.opens),
    };
  }

  /** Restores a hub from {@link Hub.toJSON}. */
  static fromJSON(config: HubConfig, j: HubJson, nonces: NonceStore): Hub {
    const peers = Object.values(listedPeers(j)).map((p) => ({
      channel: Channel.fromStored(p.channel),
      peerKey: hexToBytes(p.peerKey, 32),
      peerAddress: p.peerAddress,
    }));
    return new Hub(config, peers, nonces, j.payments, j.requests ?? {}, j.opens ?? {}, j.finished ?? {}, j.finishedRequests ?? {});
  }
}
