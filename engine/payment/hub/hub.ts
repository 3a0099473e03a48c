/**
 * The Hub (S) role engine: always online, it holds a channel with each
 * payer (S is party 1) and each payee or router (S is party 0). Its part of
 * the offer flow (SPEC 6.8, the payer pre-signs) is in offer.ts, its part of
 * the request flow (SPEC 6.14, the payee pre-signs) in request.ts; this file
 * routes each message to them, answers refusals, and persists.
 * @module
 */
import { bytesToHex, equalBytes, hexToBytes } from '../../../base/bytes.js';
import type { LnMailboxError } from '../../../base/errors.js';
import { getPublicKey } from '../../../crypto/bip340.js';
import { PaymentType } from '../../../protocol/payment.js';
import type { NonceStore } from '../../../crypto/nonce.js';
import { Channel, type ChannelJson } from '../../channel/channel.js';
import { PaymentEngine, refill } from '../engine.js';
import { channelMap, type PeerChannel } from '../peers.js';
import type { Signer } from '../ptlc-exchange.js';
import { answerRefusal, reject } from '../refusal.js';
import { ignored, type Incoming, type Step, type StepContext } from '../types.js';
import type { HubConfig } from './config.js';
import {
  hubOnCancel,
  hubOnCancelCommit,
  hubOnFulfill,
  hubOnInvoice,
  hubOnPropose,
  hubOnPtlcAccept,
  hubOnPtlcFail,
  hubOnRemove,
  hubOnPayeeReject,
  hubOnSettleAck,
  type HubOfferContext,
  type HubPayment,
} from './offer.js';
import { hubRequestStep, type HubRequest } from './request.js';

export { DEFAULT_TIMEOUT_SLACK, type HubConfig } from './config.js';
export type { HubPayment, HubStatus } from './offer.js';
export type { HubRequest } from './request.js';

/** Persisted state of a {@link Hub}. */
export interface HubJson {
  peers: Record<string, { channel: ChannelJson; peerKey: string; peerAddress: string }>;
  payments: Record<string, HubPayment>;
  /** Requests (the payee pre-signs, SPEC 6.14) the hub co-signed. */
  requests?: Record<string, HubRequest>;
}

/** The hub role engine. Pure: the runtime persists {@link Hub.toJSON} after every step. */
export class Hub extends PaymentEngine<HubJson> {
  readonly peers: Map<string, PeerChannel>;
  readonly payments: Map<string, HubPayment>;

  private readonly signer: Signer;

  /** The hub's configuration and channels (each with its peer); `payments` and `requests` restore saved state. */
  constructor(
    readonly config: HubConfig,
    peers: PeerChannel[],
    nonces: NonceStore,
    payments: Record<string, HubPayment> = {},
    requests: Record<string, HubRequest> = {},
  ) {
    super();
    this.requests = new Map(Object.entries(requests));
    this.signer = { channelKey: config.channelKey, nonces };
    this.peers = channelMap(peers, getPublicKey(config.channelKey), 'hub');
    this.payments = new Map(Object.entries(payments));
  }

  /** Requests (the payee pre-signs) the hub co-signed, by request id (hex). */
  readonly requests: Map<string, HubRequest>;

  /** One message; {@link PaymentEngine.handle} makes it all or nothing and answers a refusal. */
  protected async dispatch(inc: Incoming, ctx: StepContext): Promise<Step> {
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
        // A payee cancelling a request (SPEC 6.14), or a payer cancelling an offer (SPEC 6.8).
        if (this.requests.has(bytesToHex(m.offerId))) return await this.onRequest(inc.from, m, ctx);
        return await hubOnCancel(this.offerContext(), inc.from, m);
      case PaymentType.CANCEL_COMMIT:
        return hubOnCancelCommit(this.offerContext(), inc.from, m);
      case PaymentType.PTLC_FAIL:
        return hubOnPtlcFail(this.offerContext(), inc.from, m);
      case PaymentType.PTLC_REMOVE:
        return await hubOnRemove(this.offerContext(), inc.from, m);
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
   * let anyone use the hub to send mail to third parties.
   */
  protected answer(inc: Incoming, e: LnMailboxError): Step {
    return answerRefusal(inc.message, e, this.peerByKey(inc.from));
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
    return { config: this.config, peers: this.peers, payments: this.payments, signer: this.signer, peer: (id, f) => this.peer(id, f) };
  }

  /** The request flow (the payee pre-signs, SPEC 6.14): the hub's side, in request.ts. */
  private onRequest(from: Uint8Array, m: Incoming['message'], ctx: StepContext): Promise<Step> {
    return hubRequestStep(
      {
        peer: (id, f) => this.peer(id, f),
        peers: this.peers,
        requests: this.requests,
        signer: this.signer,
        fee: this.config.fee,
        safetyMargin: this.config.safetyMargin,
      },
      from,
      m,
      ctx,
    );
  }

  /** Every channel of this role. */
  channels(): Channel[] {
    return [...this.peers.values()].map((p) => p.channel);
  }

  /** Puts the engine back in the state of `j` (a snapshot from {@link Hub.toJSON}); the set of channels is fixed. */
  restore(j: HubJson): void {
    for (const [id, p] of this.peers) {
      const saved = j.peers[id];
      if (saved) p.channel.restore(saved.channel);
    }
    refill(this.payments, j.payments);
    refill(this.requests, j.requests);
  }

  /** Persisted state. */
  toJSON(): HubJson {
    const peers: HubJson['peers'] = {};
    for (const [id, p] of this.peers)
      peers[id] = { channel: p.channel.toJSON(), peerKey: bytesToHex(p.peerKey), peerAddress: p.peerAddress };
    return { peers, payments: Object.fromEntries(this.payments), requests: Object.fromEntries(this.requests) };
  }

  /** Restores a hub from {@link Hub.toJSON}. */
  static fromJSON(config: HubConfig, j: HubJson, nonces: NonceStore): Hub {
    const peers = Object.values(j.peers).map((p) => ({
      channel: Channel.fromJSON(p.channel),
      peerKey: hexToBytes(p.peerKey, 32),
      peerAddress: p.peerAddress,
    }));
    return new Hub(config, peers, nonces, j.payments, j.requests ?? {});
  }
}
