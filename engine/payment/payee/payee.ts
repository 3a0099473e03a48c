/**
 * The Payee (B) of the offer flow (SPEC 6.8), where the payer pre-signs: when it comes online it is pushed
 * the payer's offer, verifies that s_A is the payer's valid BIP340 signature
 * over the update sighash BEFORE issuing any invoice, invoices the hub, and
 * sells s_A for a PTLC locked to T = s_A·G, revealing it only once it holds a
 * fully signed channel state containing the PTLC and the hub's adaptor
 * pre-signature for the claim (so it could claim on chain with t).
 * Its part of the request flow (the payee pre-signs, SPEC 6.14) is in request.ts.
 * @module
 */
import { bytesToHex, equalBytes, hexToBytes } from '../../../base/bytes.js';
import type { LnMailboxError } from '../../../base/errors.js';
import {
  PaymentType,
  encodePayment,
  invoiceSigHash,
  receiptFromEnvelope,
  type InvoiceFields,
  type PaymentMessageOf,
} from '../../../protocol/payment.js';
import { seal } from '../../../protocol/seal.js';
import type { NonceStore } from '../../../crypto/nonce.js';
import { adaptorPoint } from '../../../crypto/adaptor.js';
import { tweakSecret } from '../../../crypto/tweak.js';
import { getPublicKey as getPublicKeyOf, sign, verify } from '../../../crypto/bip340.js';
import type { Channel, ChannelJson } from '../../channel/channel.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { PaymentEngine, refill, type ChannelWithPeer } from '../engine.js';
import { ackSettle, acceptPtlc, fulfilPtlc, type Signer } from '../ptlc-exchange.js';
import { answerRefusal, reject } from '../refusal.js';
import { ignored, step, type Incoming, type Step, type StepContext } from '../types.js';
import { payeeOnComplete, payeeOnPrepared, payeeRequest, type PayeeRequest } from './request.js';

/** Status of an incoming payment. */
export type PayeeStatus = 'invoiced' | 'accepted' | 'fulfilling' | 'paid' | 'void' | 'failed';

/** One incoming payment as the payee persists it. Byte fields are hex. */
export interface PayeePayment {
  offerId: string;
  amount: number;
  expiry: number;
  point: string;
  /** The payer's s_A: the secret being sold. */
  secret: string;
  memo: string;
  status: PayeeStatus;
  ptlcState?: number;
  claimPresig?: string;
  /** The hub's tweak r: the PTLC is locked to T + r·G and fulfilled with t + r. */
  tweak?: string;
  /** Identity key (hex) of whoever sent the offer: only it may void the offer. */
  payerIdentity: string;
}

/** Static configuration of a payee. */
export interface PayeeConfig {
  /** The payee's identity (mailbox) secret key: signs invoices. */
  identityKey: Uint8Array;
  /** The payee's mailbox address, put in invoices. */
  address: string;
  /** The payee's channel secret key (party 1 of the S–B channel). */
  channelKey: Uint8Array;
  /** Our channel partner's identity key and mailbox address: a hub, or a router towards hubs. */
  hubKey: Uint8Array;
  hubAddress: string;
  /**
   * Hubs reachable through our partner when it is a router (S→P→B privacy
   * hop): offers through them are invoiced to our partner, who forwards.
   */
  routedHubs?: Uint8Array[];
  /** Blocks the payee needs to claim a PTLC on chain. */
  timeoutDelta: number;
  /** How long an invoice stays valid, ms. */
  invoiceTtlMs: number;
}

/** Persisted state of a {@link Payee}. */
export interface PayeeJson {
  channel: ChannelJson;
  payments: Record<string, PayeePayment>;
  /** Requests (SPEC 6.14) this payee pre-signed. */
  requests?: Record<string, PayeeRequest>;
}

/** The payee role engine. Pure: the runtime persists {@link Payee.toJSON} after every step. */
export class Payee extends PaymentEngine<PayeeJson> {
  readonly payments: Map<string, PayeePayment>;

  private readonly signer: Signer;
  private readonly identityPub: Uint8Array;

  constructor(
    readonly config: PayeeConfig,
    readonly channel: Channel,
    nonces: NonceStore,
    payments: Record<string, PayeePayment> = {},
    requests: Record<string, PayeeRequest> = {},
  ) {
    super();
    this.signer = { channelKey: config.channelKey, nonces };
    this.identityPub = getPublicKeyOf(config.identityKey);
    this.payments = new Map(Object.entries(payments));
    this.requests = new Map(Object.entries(requests));
  }

  /** Requests this payee pre-signed, by request id (hex). */
  readonly requests: Map<string, PayeeRequest>;

  /**
   * The request flow (the payee pre-signs, SPEC 6.14): asks the hub to co-sign a state paying
   * `amount` to us, then sends the payer the pre-signed update to buy.
   */
  async request(
    req: { payer: { publicKey: Uint8Array; address: string }; amount: number; expiry: number; memo?: string; requestId?: Uint8Array },
    ctx: StepContext,
  ): Promise<{ requestId: string; step: Step }> {
    const requestId = req.requestId ?? randomBytes(32);
    const s = await this.atomic(() =>
      payeeRequest(this.channel, this.signer, this.config.hubAddress, this.requests, { ...req, requestId }, ctx),
    );
    return { requestId: bytesToHex(requestId), step: s };
  }

  /** One message (an offer from any payer, or a message from the hub); all or nothing through {@link PaymentEngine.handle}. */
  protected async dispatch(inc: Incoming, ctx: StepContext): Promise<Step> {
    const m = inc.message;
    switch (m.type) {
      case PaymentType.OFFER:
        return this.onOffer(inc.from, m, ctx);
      case PaymentType.OFFER_VOID:
        return this.onVoid(inc.from, m);
      case PaymentType.REQUEST_COMPLETE:
        return payeeOnComplete(this.channel, this.config.hubAddress, this.requests, inc.from, this.config.hubKey, m);
    }
    // Everything else must come from our hub.
    if (!equalBytes(inc.from, this.config.hubKey)) return ignored(m.type, 'not from our hub');
    switch (m.type) {
      case PaymentType.PTLC_ADD:
        return await this.onPtlcAdd(m, ctx);
      case PaymentType.PTLC_COMMIT:
        return await this.onPtlcCommit(m);
      case PaymentType.PTLC_SETTLE:
        return await this.onSettle(m);
      case PaymentType.REJECT:
        return this.onReject(m);
      case PaymentType.REQUEST_PREPARED:
        return await payeeOnPrepared(this.channel, this.signer, this.config, this.requests, m, ctx);
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
    return equalBytes(id, this.channel.params.channelId) ? { channel: this.channel, peerKey: this.config.hubKey } : undefined;
  }

  private onOffer(from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.OFFER>, ctx: StepContext): Step {
    const id = bytesToHex(m.offerId);
    if (this.payments.has(id)) return ignored(m.type, 'duplicate offer');
    const reachable = equalBytes(m.hub, this.config.hubKey) || (this.config.routedHubs ?? []).some((k) => equalBytes(k, m.hub));
    if (!reachable) return ignored(m.type, 'offer through a hub we cannot reach');
    if (!(m.expiry > ctx.now)) return ignored(m.type, 'offer expired');
    // Safety rule: no invoice before s_A is verified against the update's sighash.
    if (!verify(m.payerSig, m.updateSighash, m.payerKey)) return ignored(m.type, "payer's signature does not verify");
    const secret = m.payerSig.subarray(32, 64);
    if (!equalBytes(adaptorPoint(secret), m.point)) return ignored(m.type, 'payment point is not s_A·G');
    const fields: InvoiceFields = {
      offerId: m.offerId,
      point: m.point,
      amount: m.amount,
      expiry: Math.min(m.expiry, ctx.now + this.config.invoiceTtlMs),
      payeeChannel: this.channel.params.channelId,
      payeeAddress: this.config.address,
      timeoutDelta: this.config.timeoutDelta,
      payeeKey: this.identityPub,
      receipt: new Uint8Array(0),
    };
    // The receipt: this same invoice, signed, sealed for the payer alone. The hub (and any
    // router between us) passes it through without learning who we are from it.
    const inner = { type: PaymentType.INVOICE, ...fields, signature: sign(invoiceSigHash(fields), this.config.identityKey) } as const;
    const receipt = receiptFromEnvelope(
      seal({
        senderSecretKey: this.config.identityKey,
        recipient: from,
        type: PaymentType.INVOICE,
        body: encodePayment(inner),
        timestamp: ctx.now,
      }),
    );
    const outer: InvoiceFields = { ...fields, receipt };
    const signature = sign(invoiceSigHash(outer), this.config.identityKey);
    this.payments.set(id, {
      offerId: id,
      amount: m.amount,
      expiry: m.expiry,
      point: bytesToHex(m.point),
      secret: bytesToHex(secret),
      memo: m.memo,
      status: 'invoiced',
      payerIdentity: bytesToHex(from),
    });
    const s = step();
    s.send.push({ to: this.config.hubAddress, message: { type: PaymentType.INVOICE, ...outer, signature } });
    s.events.push({ kind: 'offer_received', offerId: id, amount: m.amount }, { kind: 'invoiced', offerId: id });
    return s;
  }

  private onVoid(from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.OFFER_VOID>): Step {
    const p = this.payments.get(bytesToHex(m.offerId));
    // Only the offer's sender may void it, and only before it is being paid; the hub decides the rest.
    if (p?.status !== 'invoiced') return ignored(m.type, 'nothing to void');
    if (p.payerIdentity !== bytesToHex(from)) return ignored(m.type, 'void from someone other than the payer');
    p.status = 'void';
    const s = step();
    s.events.push({ kind: 'voided', offerId: p.offerId });
    return s;
  }

  private async onPtlcAdd(m: PaymentMessageOf<typeof PaymentType.PTLC_ADD>, ctx: StepContext): Promise<Step> {
    const id = bytesToHex(m.offerId);
    const p = this.payments.get(id);
    // A duplicate of a PTLC we took changes nothing. Any other PTLC we will not take is
    // refused with PTLC_FAIL (by the caller), so the hub can drop its proposed state:
    // ignoring it (e.g. for an offer its payer voided meanwhile) would leave the hub's side
    // of our channel pending for good, and the payer unable to cancel.
    if (p && (p.status === 'accepted' || p.status === 'fulfilling' || p.status === 'paid')) return ignored(m.type, 'PTLC already taken');
    if (p?.status !== 'invoiced')
      reject(
        !p ? 'no invoiced offer for that PTLC' : p.status === 'void' ? 'the offer was voided by its payer' : `the offer is ${p.status}`,
      );
    this.channel.requireOpen();
    // To claim on chain B must publish update m and wait the CSV delay before settlement m
    // confirms; a timeout inside that window would let the offerer refund first.
    const minTimeout = ctx.height + Math.max(this.config.timeoutDelta, this.channel.params.csvDelay + 1);
    const accept = await acceptPtlc(this.channel, this.signer, m, { amount: p.amount, point: hexToBytes(p.point, 33), minTimeout });
    p.status = 'accepted';
    p.ptlcState = accept.n;
    p.claimPresig = bytesToHex(m.claimPresig);
    p.tweak = bytesToHex(m.tweak);
    const s = step();
    s.send.push({ to: this.config.hubAddress, message: accept });
    return s;
  }

  private async onPtlcCommit(m: PaymentMessageOf<typeof PaymentType.PTLC_COMMIT>): Promise<Step> {
    const p = [...this.payments.values()].find((x) => x.status === 'accepted' && x.ptlcState === m.n);
    const ch = this.channel;
    if (!p || !ch.pending || ch.pending.state.n !== m.n || !equalBytes(m.channelId, ch.params.channelId))
      return ignored(m.type, 'no accepted PTLC for that state');
    // State m (with the PTLC) becomes enforceable by us: revealing t is safe.
    ch.receiveUpdateSig(m.updateSig);
    const secret = tweakSecret(hexToBytes(p.secret, 32), hexToBytes(p.tweak ?? '00'.repeat(32), 32));
    const fulfil = await fulfilPtlc(ch, this.signer, hexToBytes(p.offerId, 32), secret);
    p.status = 'fulfilling';
    const s = step();
    s.send.push({ to: this.config.hubAddress, message: fulfil });
    s.events.push({ kind: 'ptlc_committed', offerId: p.offerId });
    return s;
  }

  private async onSettle(m: PaymentMessageOf<typeof PaymentType.PTLC_SETTLE>): Promise<Step> {
    const p = [...this.payments.values()].find((x) => x.status === 'fulfilling');
    const ch = this.channel;
    if (!p || !ch.pending || ch.pending.state.n !== m.n || !equalBytes(m.channelId, ch.params.channelId))
      return ignored(m.type, 'no fulfilment in flight');
    const ack = await ackSettle(ch, this.signer, m);
    p.status = 'paid';
    const s = step();
    s.send.push({ to: this.config.hubAddress, message: ack });
    s.events.push({ kind: 'paid', offerId: p.offerId, amount: p.amount });
    return s;
  }

  private onReject(m: PaymentMessageOf<typeof PaymentType.REJECT>): Step {
    const s = step();
    const req = this.requests.get(bytesToHex(m.ref));
    if (req && req.status === 'preparing') {
      // The hub refused our request's proposal: drop the state so the channel is free again.
      if (this.channel.pending?.state.n === req.n) this.channel.abandonPending();
      this.requests.delete(req.requestId);
      s.events.push({ kind: 'rejected', offerId: req.requestId, code: m.code, message: m.message });
      return s;
    }
    const p = this.payments.get(bytesToHex(m.ref));
    if (p?.status !== 'invoiced') return ignored(m.type, 'reject for nothing pending');
    p.status = 'failed';
    s.events.push({ kind: 'rejected', offerId: p.offerId, code: m.code, message: m.message });
    return s;
  }

  /** Every channel of this role. */
  channels(): Channel[] {
    return [this.channel];
  }

  /** Puts the engine back in the state of `j` (a snapshot from {@link Payee.toJSON}). */
  restore(j: PayeeJson): void {
    this.channel.restore(j.channel);
    refill(this.payments, j.payments);
    refill(this.requests, j.requests);
  }

  /** Persisted state. */
  toJSON(): PayeeJson {
    return { channel: this.channel.toJSON(), payments: Object.fromEntries(this.payments), requests: Object.fromEntries(this.requests) };
  }
}
