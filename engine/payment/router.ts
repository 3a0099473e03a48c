/**
 * The Router (P) of the privacy hop S→P→B (SPEC 6.13): P has a channel with
 * the hub S (upstream, P is party 1) and with payees (downstream, P is
 * party 0). The payee invoices P; P re-invoices S in its own name for the
 * same offer and point T (the payee's receipt point T_B, SPEC 6.16). S then
 * pays P a PTLC locked to T + r₁·G, P pays the payee a PTLC locked to
 * T + r₂·G with a shorter timeout (each offerer picks its own tweak:
 * payment-point decorrelation), the payee reveals t + r₂ to P (t = s_B, the
 * `s` of its receipt signature), P recovers t and reveals t + r₁ to S, which
 * completes the payer's update with t.
 *
 * What each party learns: S sees the payer's channel and P (not the payee:
 * the invoice and PTLC are P's, and the s_B it learns does not say whose
 * receipt it is); P sees S and the payee, the amount and T, but not the
 * payer's identity, channel or the offer's contents; the payee sees the payer
 * (the offer is sealed by it) and P. No two hops, and not the chain, see the
 * same PTLC point; S and P colluding can still link the hops by P's own
 * records (which incoming PTLC pays which outgoing one), the offer id, T,
 * amount and timing (SPEC 6.13).
 *
 * P's own safety: it extends downstream only once its upstream state with the
 * incoming PTLC is enforceable, with a timeout `cltvDelta` blocks earlier than
 * the incoming one, so that after learning t downstream it still has time to
 * claim upstream on chain. Once t is learned (the payee's PTLC_FULFILL, even
 * one whose downstream settlement is refused, or the payee's claim on chain)
 * it is kept in the payment's record, and the upstream PTLC_FULFILL is owed
 * until the upstream channel can take it: a busy upstream channel delays the
 * claim, it never drops it.
 * @module
 */
import { bytesToHex, equalBytes, hexToBytes } from '../../base/bytes.js';
import { ErrorCode, isLnMailboxError, type LnMailboxError } from '../../base/errors.js';
import { PaymentType, invoiceSigHash, verifyInvoice, type InvoiceFields, type PaymentMessageOf } from '../../protocol/payment.js';
import { adaptorPoint } from '../../crypto/adaptor.js';
import type { NonceStore } from '../../crypto/nonce.js';
import { getPublicKey, sign } from '../../crypto/bip340.js';
import { randomTweak, tweakPoint, tweakSecret, untweakSecret } from '../../crypto/tweak.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { Channel, type StoredChannel } from '../channel/channel.js';
import { inline, noteRefusedProposal, PaymentEngine, refill, type ChannelOut } from './engine.js';
import { channelMap, type PeerChannel } from './peers.js';
import {
  ackSettle,
  acceptPtlc,
  checkFulfillState,
  commitPtlc,
  extendPtlc,
  fulfillPtlc,
  removePtlc,
  settlePtlc,
  type Signer,
} from './ptlc-exchange.js';
import { answerRefusal, hubRefused, isLocalFault, reject } from './refusal.js';
import { COMPLETION_TTL_SECONDS, ignored, step, type ArchivedPayment, type Incoming, type Step, type StepContext } from './types.js';

/**
 * Status of a routed payment. *fulfilled*: the router learned the secret
 * downstream (from the payee's PTLC_FULFILL or from its claim on chain) and
 * keeps the upstream secret ({@link RouterPayment.secret}); the upstream
 * PTLC_FULFILL is owed and goes out as soon as the upstream channel has no
 * pending state (then *fulfilling*).
 */
export type RouterStatus =
  | 'forwarded'
  | 'accepted'
  | 'extended'
  | 'committed'
  | 'fulfilled'
  | 'fulfilling'
  | 'settled'
  | 'failing'
  | 'removing'
  | 'failed';

/**
 * How many times the router proposes the removal of one upstream PTLC that
 * the hub refuses (e.g. because its own proposal crossed ours) before it
 * gives up and lets the PTLC resolve by its timeout.
 */
export const MAX_REMOVE_ATTEMPTS = 3;

/** One routed payment as the router persists it. Byte fields are hex. */
export interface RouterPayment {
  offerId: string;
  amount: number;
  point: string;
  /** The downstream channel (to the payee) and the payee's requested delta. */
  downChannel: string;
  downDelta: number;
  /** The invoice's expiry (ms); absent in a record saved before it was kept. */
  expiry?: number;
  status: RouterStatus;
  inTimeout?: number;
  /** Tweak of the incoming PTLC (chosen by the hub) and of the outgoing one (ours). */
  inTweak?: string;
  outTweak?: string;
  /**
   * Why the payment failed downstream, while the committed upstream PTLC is
   * owed back to the hub (*failing*) or being given back (*removing*).
   */
  failReason?: string;
  /** The upstream state number of the PTLC_REMOVE in flight (*removing*). */
  removeN?: number;
  /** Removals the hub refused so far. */
  removeAttempts?: number;
  /**
   * The secret of the upstream PTLC (`t + r₁`), hex, kept from the moment the
   * router learns `t` downstream: always set in *fulfilled*, and kept in
   * *fulfilling* and *settled*; absent in a record saved before it was kept.
   */
  secret?: string;
  /** The upstream state number of the PTLC_FULFILL in flight (*fulfilling*). */
  fulfillN?: number;
  /**
   * True while the downstream PTLC is still unsettled although its secret is
   * known: the payee's PTLC_FULFILL could not be taken (it crossed a proposal
   * of ours on that channel, or was otherwise malformed), or the secret was
   * read from the payee's claim on chain. A later PTLC_FULFILL of the payee
   * for it is still taken while the payment is *fulfilled* or *fulfilling*.
   */
  downOpen?: boolean;
}

/** Static configuration of a router. */
export interface RouterConfig {
  /** The router's identity (mailbox) secret key: signs the invoices it sends upstream. */
  identityKey: Uint8Array;
  /** The router's mailbox address. */
  address: string;
  /** The router's channel secret key (every channel). */
  channelKey: Uint8Array;
  /** Blocks between the incoming and the outgoing PTLC timeouts. */
  cltvDelta: number;
}

/** Persisted state of a {@link Router}. */
export interface RouterJson {
  upstream: { channel: StoredChannel; peerKey: string; peerAddress: string };
  downstream: Record<string, { channel: StoredChannel; peerKey: string; peerAddress: string }>;
  /** Payments in flight (and, in a state saved before finished ones were archived, finished ones too). */
  payments: Record<string, RouterPayment>;
  /**
   * Finished payments moved out of `payments` (the step's `archive`), by offer id: until when
   * (ms, an invoice's expiry) a duplicate of their invoice must be ignored.
   */
  finished?: Record<string, number>;
}

/**
 * How long (ms) past its invoice's expiry a finished payment's id is still
 * remembered in {@link Router.finished}: an expired invoice is refused
 * anyway; the grace only covers the router's clock stepping back.
 */
export const ROUTER_FINISHED_GRACE_MS = 60 * 60 * 1000;

/**
 * How long (ms) after it is archived the id of a payment saved without its
 * invoice's expiry (a state saved before the expiry was kept) is remembered:
 * as long as a relay keeps an envelope, so that no duplicate of its invoice
 * can still be delivered.
 */
export const ROUTER_LEGACY_KEEP_MS = COMPLETION_TTL_SECONDS * 1000;

/** True when `secret` is the discrete log of `point` (`secret·G = point`); false for anything else, a non-scalar included. */
function opens(secret: Uint8Array, point: Uint8Array): boolean {
  try {
    return equalBytes(adaptorPoint(secret), point);
  } catch (e) {
    if (isLnMailboxError(e)) return false;
    throw e;
  }
}

/** The router role engine. Pure: the runtime persists {@link Router.toJSON} after every step. */
export class Router extends PaymentEngine<RouterJson> {
  readonly downstream: Map<string, PeerChannel>;
  /** Payments in flight: a finished one leaves at the step that finishes it (in the step's `archive`). */
  readonly payments: Map<string, RouterPayment>;
  /**
   * Finished payments, by offer id: until when (ms) a duplicate of their
   * invoice is ignored (see {@link Router.archive}).
   */
  readonly finished: Map<string, number>;
  private readonly signer: Signer;
  private readonly publicKey: Uint8Array;

  constructor(
    readonly config: RouterConfig,
    /** The channel with the hub S; the router is party 1. */
    readonly upstream: PeerChannel,
    downstream: PeerChannel[],
    nonces: NonceStore,
    payments: Record<string, RouterPayment> = {},
    finished: Record<string, number> = {},
  ) {
    super();
    if (upstream.channel.me !== 1) reject('the router is party 1 of its channel with the hub', ErrorCode.INVALID_RANGE);
    for (const d of downstream) if (d.channel.me !== 0) reject('the router is party 0 of its payee channels', ErrorCode.INVALID_RANGE);
    this.downstream = channelMap([upstream, ...downstream], getPublicKey(config.channelKey), 'router');
    this.downstream.delete(bytesToHex(upstream.channel.params.channelId));
    this.payments = new Map(Object.entries(payments));
    this.finished = new Map(Object.entries(finished));
    this.signer = { channelKey: config.channelKey, nonces };
    this.publicKey = getPublicKey(config.identityKey);
  }

  /**
   * One message from the hub (upstream) or a payee (downstream); all or
   * nothing through {@link PaymentEngine.handle}. Whatever the message, the
   * step ends, as soon as the upstream channel is free, by claiming an
   * upstream PTLC whose secret it learned downstream ({@link claimOwed}),
   * else by giving back an upstream PTLC whose downstream failed
   * ({@link giveBack}); and the payments it (or an earlier step, in a state
   * saved before archiving) finished leave the state ({@link archive}).
   */
  protected async dispatch(inc: Incoming, ctx: StepContext): Promise<Step> {
    const s = await this.route(inc, ctx);
    await this.claimOwed(s);
    await this.giveBack(s);
    const archive = this.archive(ctx.now);
    if (archive.length > 0) s.archive = [...(s.archive ?? []), ...archive];
    return s;
  }

  /**
   * True when nothing about payment `p` can change any more, in either
   * channel: *settled* (both PTLCs resolved: the hub acknowledged our
   * fulfillment's settlement, the payee's PTLC settled at our PTLC_FULFILL
   * answer; a late PTLC_SETTLE_ACK of the payee is taken by its channel
   * alone), or *failed* with no PTLC of it left in the upstream channel
   * (refused by the hub before any PTLC, or given back). A payment failed
   * whose upstream PTLC the hub would not take back resolves by its
   * timeout: kept while that PTLC is in the channel.
   */
  private isFinished(p: RouterPayment): boolean {
    // Settled upstream with the downstream PTLC still open: the payee's next fulfillment is still taken.
    if (p.status === 'settled') return p.downOpen !== true;
    if (p.status !== 'failed') return false;
    const id = hexToBytes(p.offerId, 32);
    const up = this.upstream.channel;
    const holds = (ptlcs: { id: Uint8Array }[]) => ptlcs.some((x) => equalBytes(x.id, id));
    return !holds(up.enforceable.state.ptlcs) && !(up.pending !== undefined && holds(up.pending.state.ptlcs));
  }

  /**
   * Moves every finished payment (see {@link isFinished}) out of `payments`
   * into `finished`, and forgets the ids whose time is over at `now` (ms).
   * Only a duplicate INVOICE of a finished payment would start it again
   * (every other message of it needs its record in a given status and is
   * ignored without); the router refuses an expired invoice, so the id is
   * kept until the invoice's expiry plus {@link ROUTER_FINISHED_GRACE_MS}.
   * Returns the records moved, for the runtime to store.
   */
  private archive(now: number): ArchivedPayment[] {
    const out: ArchivedPayment[] = [];
    for (const [id, p] of this.payments) {
      if (!this.isFinished(p)) continue;
      this.payments.delete(id);
      this.finished.set(id, p.expiry !== undefined ? p.expiry + ROUTER_FINISHED_GRACE_MS : now + ROUTER_LEGACY_KEEP_MS);
      out.push({ id, record: p });
    }
    for (const [id, until] of this.finished) if (now > until) this.finished.delete(id);
    return out;
  }

  /**
   * Owed removals: a payment whose downstream PTLC failed (*failing*) while
   * its upstream PTLC is committed is given back to the hub with PTLC_REMOVE
   * once the upstream channel has no pending state (SPEC 6.13). One at a
   * time: the removal itself is a pending state; the next one goes when it
   * settles.
   */
  private async giveBack(s: Step): Promise<void> {
    const up = this.upstream.channel;
    if (up.pending) return;
    const p = [...this.payments.values()].find((x) => x.status === 'failing');
    if (!p) return;
    const id = hexToBytes(p.offerId, 32);
    if (!up.enforceable.state.ptlcs.some((x) => equalBytes(x.id, id))) {
      p.status = 'failed'; // nothing committed upstream to give back
      return;
    }
    const remove = await removePtlc(up, this.signer, id, p.failReason ?? 'the next hop failed');
    p.status = 'removing';
    p.removeN = up.pending!.state.n;
    s.send.push({ to: this.upstream.peerAddress, message: remove });
  }

  /**
   * Owed fulfillments: a payment whose secret the router learned downstream
   * (*fulfilled*) has its upstream PTLC claimed with PTLC_FULFILL as soon as
   * the upstream channel has no pending state (SPEC 6.13): the payee can
   * already take the downstream PTLC, so the router must never drop the
   * claim. One at a time, before any removal: the fulfillment itself is a
   * pending state; the next one goes when it settles. A payment whose PTLC is
   * not in the upstream channel's enforceable state has nothing to claim off
   * chain and is passed over (it never blocks the others). Sent over a
   * closing channel too: the message is how the watchtower learns the secret
   * to claim on chain.
   */
  private async claimOwed(s: Step): Promise<void> {
    const up = this.upstream.channel;
    if (up.pending) return;
    const held = (p: RouterPayment) => up.enforceable.state.ptlcs.some((x) => bytesToHex(x.id) === p.offerId);
    const p = [...this.payments.values()].find((x) => x.status === 'fulfilled' && held(x));
    if (!p) return;
    const fulfill = await fulfillPtlc(up, this.signer, hexToBytes(p.offerId, 32), hexToBytes(p.secret!, 32));
    p.status = 'fulfilling';
    p.fulfillN = up.pending!.state.n;
    s.send.push({ to: this.upstream.peerAddress, message: fulfill });
  }

  /**
   * Records `t` (the payment's secret, untweaked), learned downstream, as the
   * secret of the upstream PTLC (`t + r₁`): from now on the upstream
   * PTLC_FULFILL is owed (*fulfilled*, sent by {@link claimOwed}), and the
   * step `s` hands the secret to the watchtower ({@link Step.secrets}).
   */
  private learn(p: RouterPayment, t: Uint8Array, s: Step): void {
    const secret = tweakSecret(t, hexToBytes(p.inTweak!, 32));
    p.secret = bytesToHex(secret);
    p.status = 'fulfilled';
    // The watchtower learns it with this step, not with the PTLC_FULFILL that may wait for S–P:
    // if S keeps S–P busy until the PTLC's timeout nears, the tower claims it on chain.
    s.secrets = [...(s.secrets ?? []), { channelId: this.upstream.channel.params.channelId, ptlcId: hexToBytes(p.offerId, 32), secret }];
  }

  private async route(inc: Incoming, ctx: StepContext): Promise<Step> {
    const m = inc.message;
    if (equalBytes(inc.from, this.upstream.peerKey)) {
      switch (m.type) {
        case PaymentType.PTLC_ADD:
          return await this.onAdd(m, ctx);
        case PaymentType.PTLC_COMMIT:
          return await this.onCommit(m);
        case PaymentType.PTLC_SETTLE:
          return await this.onSettle(m);
        case PaymentType.REJECT:
          return this.onHubReject(m);
        default:
          return ignored(m.type, 'not a message for the router');
      }
    }
    switch (m.type) {
      case PaymentType.INVOICE:
        return this.onInvoice(inc.from, m, ctx);
      case PaymentType.PTLC_ACCEPT:
        return await this.onAccept(inc.from, m);
      case PaymentType.PTLC_FULFILL:
        return await this.onFulfill(inc.from, m);
      case PaymentType.PTLC_SETTLE_ACK:
        return this.onSettleAck(inc.from, m);
      case PaymentType.PTLC_FAIL:
        return this.onFail(inc.from, m);
      default:
        return ignored(m.type, 'not a message for the router');
    }
  }

  /** A refused message is answered to the hub or to the payee it came from; a stranger gets no answer. */
  protected answer(inc: Incoming, e: LnMailboxError): Step {
    const to = equalBytes(inc.from, this.upstream.peerKey) ? this.upstream.peerAddress : this.peerOf(inc.from)?.peerAddress;
    return answerRefusal(inc.message, e, to);
  }

  protected channelPeer(id: Uint8Array): PeerChannel | undefined {
    return equalBytes(id, this.upstream.channel.params.channelId) ? this.upstream : this.downstream.get(bytesToHex(id));
  }

  private peerOf(key: Uint8Array): PeerChannel | undefined {
    for (const p of this.downstream.values()) if (equalBytes(p.peerKey, key)) return p;
    return undefined;
  }

  private down(channelId: Uint8Array, from: Uint8Array): PeerChannel {
    const p = this.downstream.get(bytesToHex(channelId));
    if (!p || !equalBytes(p.peerKey, from)) reject('message does not come from the peer of that channel');
    return p;
  }

  private onInvoice(from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.INVOICE>, ctx: StepContext): Step {
    if (!verifyInvoice(m)) reject('invoice signature does not verify', ErrorCode.INVALID_SIGNATURE);
    if (!equalBytes(from, m.payeeKey)) reject('invoice must be sent by its signer');
    const id = bytesToHex(m.offerId);
    // A finished payment left `payments` (see archive): its invoice again is a duplicate too.
    if (this.payments.has(id) || this.finished.has(id)) return ignored(m.type, 'invoice already forwarded');
    // The hub refuses an expired invoice anyway; refusing it here bounds how long a finished id is kept.
    if (!(ctx.now < m.expiry)) reject('invoice expired');
    this.down(m.payeeChannel, from).channel.requireOpen();
    this.upstream.channel.requireOpen();
    // Our own invoice to the hub, for the same offer and point.
    const fields: InvoiceFields = {
      offerId: m.offerId,
      point: m.point,
      amount: m.amount,
      expiry: m.expiry,
      payeeChannel: this.upstream.channel.params.channelId,
      payeeAddress: this.config.address,
      timeoutDelta: m.timeoutDelta + this.config.cltvDelta,
      payeeKey: this.publicKey,
    };
    const signature = sign(invoiceSigHash(fields), this.config.identityKey);
    this.payments.set(id, {
      offerId: id,
      amount: m.amount,
      point: bytesToHex(m.point),
      downChannel: bytesToHex(m.payeeChannel),
      downDelta: m.timeoutDelta,
      expiry: m.expiry,
      status: 'forwarded',
    });
    const s = step();
    s.send.push({ to: this.upstream.peerAddress, message: { type: PaymentType.INVOICE, ...fields, signature } });
    s.events.push({ kind: 'invoiced', offerId: id });
    return s;
  }

  private onHubReject(m: PaymentMessageOf<typeof PaymentType.REJECT>): Step {
    const p = this.payments.get(bytesToHex(m.ref));
    if (m.refType === PaymentType.PTLC_REMOVE && p?.status === 'removing') return this.onRemoveRefused(p, m);
    // A record saved before the secret was kept cannot propose again: its refusal is ignored, as it was.
    if (m.refType === PaymentType.PTLC_FULFILL && p?.status === 'fulfilling' && p.secret !== undefined) return this.onFulfillRefused(p, m);
    if (p?.status !== 'forwarded') return ignored(m.type, 'reject for nothing forwarded');
    p.status = 'failed';
    const s = step();
    s.send.push({ to: this.downstream.get(p.downChannel)!.peerAddress, message: { ...m } });
    s.events.push({ kind: 'rejected', offerId: p.offerId, code: m.code, message: m.message });
    return s;
  }

  /**
   * The hub refused our PTLC_REMOVE (its own proposal crossed ours, or it
   * does not hold the PTLC as committed): drop the removal state (its number
   * stays used, SPEC 6.5) and owe the removal again; {@link giveBack} retries
   * in this same step, up to {@link MAX_REMOVE_ATTEMPTS} times, after which
   * the PTLC resolves by its timeout.
   */
  private onRemoveRefused(p: RouterPayment, m: PaymentMessageOf<typeof PaymentType.REJECT>): Step {
    const up = this.upstream.channel;
    if (!up.pending || up.pending.state.n !== p.removeN) return ignored(m.type, 'no removal in flight for that payment');
    up.abandonPending();
    delete p.removeN;
    p.removeAttempts = (p.removeAttempts ?? 0) + 1;
    p.status = p.removeAttempts < MAX_REMOVE_ATTEMPTS ? 'failing' : 'failed';
    const s = step();
    s.events.push(hubRefused(p.offerId, 'removal', m));
    return s;
  }

  /**
   * The hub refused our PTLC_FULFILL (its own proposal crossed ours): drop
   * the fulfillment state (its number stays used, SPEC 6.5) and owe the
   * fulfillment again (*fulfilled*); {@link claimOwed} proposes it again in
   * this same step, under a greater number. No limit: the secret is ours to
   * claim, and giving up would let the hub refund the PTLC at its timeout.
   */
  private onFulfillRefused(p: RouterPayment, m: PaymentMessageOf<typeof PaymentType.REJECT>): Step {
    const up = this.upstream.channel;
    if (!up.pending || up.pending.state.n !== p.fulfillN) return ignored(m.type, 'no fulfillment in flight for that payment');
    up.abandonPending();
    delete p.fulfillN;
    p.status = 'fulfilled';
    const s = step();
    s.events.push(hubRefused(p.offerId, 'fulfillment', m));
    return s;
  }

  private async onAdd(m: PaymentMessageOf<typeof PaymentType.PTLC_ADD>, ctx: StepContext): Promise<Step> {
    const p = this.payments.get(bytesToHex(m.offerId));
    if (p?.status !== 'forwarded') return ignored(m.type, 'no forwarded invoice for that PTLC');
    const up = this.upstream.channel;
    up.requireOpen();
    // Enough time for the payee's delta plus ours, and beyond our channel's CSV delay (on-chain claim).
    const minTimeout = ctx.height + Math.max(p.downDelta + this.config.cltvDelta, up.params.csvDelay + 1);
    const accept = await acceptPtlc(up, this.signer, m, { amount: p.amount, point: hexToBytes(p.point, 33), minTimeout });
    p.inTimeout = up.pending!.state.ptlcs.find((x) => equalBytes(x.id, m.offerId))!.timeout;
    p.inTweak = bytesToHex(m.tweak);
    p.status = 'accepted';
    const s = step();
    s.send.push({ to: this.upstream.peerAddress, message: accept });
    return s;
  }

  private async onCommit(m: PaymentMessageOf<typeof PaymentType.PTLC_COMMIT>): Promise<Step> {
    const p = [...this.payments.values()].find((x) => x.status === 'accepted');
    const up = this.upstream.channel;
    if (!p || !up.pending || up.pending.state.n !== m.n || !equalBytes(m.channelId, up.params.channelId))
      return ignored(m.type, 'no accepted PTLC for that state');
    up.receiveUpdateSig(m.updateSig); // the incoming PTLC is now enforceable by us
    const d = this.downstream.get(p.downChannel)!;
    // Our own tweak: the payee's hop sees T + r₂·G, the hub's hop T + r₁·G.
    const outTweak = randomTweak(randomBytes(32));
    const s = step();
    let add: Awaited<ReturnType<typeof extendPtlc>>;
    try {
      d.channel.requireOpen();
      add = await extendPtlc(
        d.channel,
        this.signer,
        {
          id: hexToBytes(p.offerId, 32),
          amount: p.amount,
          point: hexToBytes(p.point, 33),
          timeout: p.inTimeout! - this.config.cltvDelta,
        },
        outTweak,
      );
    } catch (e) {
      if (isLocalFault(e) || !isLnMailboxError(e)) throw e;
      // We cannot pay on (a busy, closing or underfunded payee channel; refused before anything
      // changed there). Keep the incoming PTLC's commitment, and give it back at once
      // (giveBack, at the end of this step: the upstream channel is free).
      p.status = 'failing';
      p.failReason = `cannot extend: ${e.message}`;
      s.events.push({ kind: 'rejected', offerId: p.offerId, code: e.code, message: e.message });
      return s;
    }
    p.status = 'extended';
    p.outTweak = bytesToHex(outTweak);
    s.send.push({ to: d.peerAddress, message: add });
    s.events.push({ kind: 'ptlc_extended', offerId: p.offerId, timeout: p.inTimeout! - this.config.cltvDelta });
    return s;
  }

  private async onAccept(from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.PTLC_ACCEPT>): Promise<Step> {
    const d = this.down(m.channelId, from);
    const p = [...this.payments.values()].find((x) => x.status === 'extended' && x.downChannel === bytesToHex(m.channelId));
    if (!p || !d.channel.pending || d.channel.pending.state.n !== m.n) return ignored(m.type, 'no extended PTLC for that state');
    const commit = await commitPtlc(d.channel, this.signer, m);
    p.status = 'committed';
    const s = step();
    s.send.push({ to: d.peerAddress, message: commit });
    return s;
  }

  /**
   * The payee reveals `t + r₂` and proposes the P–B state that pays it the
   * PTLC. The secret is checked against `T + r₂·G` first and, once it
   * verifies, kept whatever becomes of the rest of the message: `t` pays our
   * upstream PTLC, and the payee, who knows it, can claim the downstream one
   * on chain anyway. The downstream settlement is then taken as usual; if it
   * is refused (our own proposal on that channel crossed the payee's, or the
   * state or a signature is wrong), the channel is put back as it was, the
   * payee gets the usual refusal, and the payment stays owed upstream with
   * its downstream PTLC open ({@link RouterPayment.downOpen}). The upstream
   * PTLC_FULFILL goes at the end of the step if the upstream channel is
   * free, else at the end of the step that frees it ({@link claimOwed}).
   */
  private async onFulfill(from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>): Promise<Step> {
    const d = this.down(m.channelId, from);
    const p = this.payments.get(bytesToHex(m.offerId));
    const open =
      p?.status === 'committed' ||
      (p?.downOpen === true && (p.status === 'fulfilled' || p.status === 'fulfilling' || p.status === 'settled'));
    if (!p || !open || p.downChannel !== bytesToHex(m.channelId))
      return ignored(m.type, 'no committed PTLC for that offer on that channel');
    const outTweak = hexToBytes(p.outTweak!, 32);
    if (!opens(m.secret, tweakPoint(hexToBytes(p.point, 33), outTweak)))
      reject('secret does not match the payment point', ErrorCode.INVALID_SIGNATURE);
    // t from downstream pays our upstream PTLC, tweaked by the hub's r₁.
    const s = step();
    if (p.status === 'committed') this.learn(p, untweakSecret(m.secret, outTweak), s);
    const before = d.channel.toJSON();
    try {
      checkFulfillState(d.channel, m);
      s.send.push({ to: d.peerAddress, message: await settlePtlc(d.channel, this.signer, m) });
      delete p.downOpen;
    } catch (e) {
      if (isLocalFault(e)) throw e;
      // Refused downstream, kept upstream: the channel as it was (as a rolled-back step leaves it).
      d.channel.restore(before);
      noteRefusedProposal(m, from, (id) => this.channelPeer(id));
      const refusal = answerRefusal(m, e as LnMailboxError, d.peerAddress);
      s.send.push(...refusal.send);
      s.events.push(...refusal.events);
      p.downOpen = true;
    }
    return s;
  }

  private onSettleAck(from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.PTLC_SETTLE_ACK>): Step {
    const d = this.down(m.channelId, from);
    if (!d.channel.pending || d.channel.pending.state.n !== m.n) return ignored(m.type, 'no pending state for that ack');
    d.channel.receiveUpdateSig(m.updateSig);
    return step();
  }

  private async onSettle(m: PaymentMessageOf<typeof PaymentType.PTLC_SETTLE>): Promise<Step> {
    const p = [...this.payments.values()].find((x) => x.status === 'fulfilling' || x.status === 'removing');
    const up = this.upstream.channel;
    if (!p || !up.pending || up.pending.state.n !== m.n || !equalBytes(m.channelId, up.params.channelId))
      return ignored(m.type, 'no fulfillment or removal in flight');
    const ack = await ackSettle(up, this.signer, m);
    const s = step();
    s.send.push({ to: this.upstream.peerAddress, message: ack });
    if (p.status === 'fulfilling') s.events.push({ kind: 'paid', offerId: p.offerId, amount: p.amount });
    p.status = p.status === 'fulfilling' ? 'settled' : 'failed';
    return s;
  }

  private onFail(from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.PTLC_FAIL>): Step {
    const d = this.down(m.channelId, from);
    const p = this.payments.get(bytesToHex(m.offerId));
    if (p?.status !== 'extended' || p.downChannel !== bytesToHex(m.channelId))
      return ignored(m.type, 'no extended PTLC to fail on that channel');
    // The payee refused before co-signing: drop the downstream state (its number stays used).
    d.channel.abandonPending();
    const s = step();
    // The committed upstream PTLC is owed back to the hub (PTLC_REMOVE), so that the hub's
    // funds and the payer's pending state are not locked until the PTLC times out: at the end
    // of this step if the upstream channel is free, else at the end of the step that frees it.
    p.status = 'failing';
    p.failReason = `the next hop refused: ${m.reason}`;
    s.events.push({ kind: 'rejected', offerId: p.offerId, code: ErrorCode.PAYMENT_REJECTED, message: m.reason });
    return s;
  }

  /**
   * The router's watchtower read the secret `t + r₂` of a downstream PTLC
   * from the payee's claim on chain (SPEC 6.18): the router keeps `t` and
   * claims its upstream PTLC with it, as if the payee had fulfilled off chain
   * (*fulfilled*, then {@link claimOwed}). A secret that matches no
   * *committed* payment of that channel, or not its point, changes nothing.
   */
  protected override async onChainSecret(channelId: string, ptlcId: string, secret: Uint8Array): Promise<Step> {
    const p = this.payments.get(ptlcId);
    if (p?.status !== 'committed' || p.downChannel !== channelId) return step();
    const outTweak = hexToBytes(p.outTweak!, 32);
    if (!opens(secret, tweakPoint(hexToBytes(p.point, 33), outTweak))) return step();
    const s = step();
    this.learn(p, untweakSecret(secret, outTweak), s);
    p.downOpen = true;
    await this.claimOwed(s);
    return s;
  }

  /** Every channel of this role. */
  channels(): Channel[] {
    return [this.upstream.channel, ...[...this.downstream.values()].map((p) => p.channel)];
  }

  /** Puts the engine back in the state of `j` (a snapshot from {@link Router.toJSON}); the set of channels is fixed. */
  restore(j: RouterJson): void {
    Channel.fromStored(j.upstream.channel, this.upstream.channel);
    for (const [id, p] of this.downstream) {
      const saved = j.downstream[id];
      if (saved) Channel.fromStored(saved.channel, p.channel);
    }
    refill(this.payments, j.payments);
    refill(this.finished, j.finished);
  }

  /** Persisted state. */
  toJSON(out: ChannelOut = inline): RouterJson {
    const j = (p: PeerChannel) => ({ channel: out(p.channel), peerKey: bytesToHex(p.peerKey), peerAddress: p.peerAddress });
    const downstream: RouterJson['downstream'] = {};
    for (const [id, p] of this.downstream) downstream[id] = j(p);
    return {
      upstream: j(this.upstream),
      downstream,
      payments: Object.fromEntries(this.payments),
      finished: Object.fromEntries(this.finished),
    };
  }

  /** Restores a router from {@link Router.toJSON}. */
  static fromJSON(config: RouterConfig, j: RouterJson, nonces: NonceStore): Router {
    const peer = (p: RouterJson['upstream']): PeerChannel => ({
      channel: Channel.fromStored(p.channel),
      peerKey: hexToBytes(p.peerKey, 32),
      peerAddress: p.peerAddress,
    });
    return new Router(config, peer(j.upstream), Object.values(j.downstream).map(peer), nonces, j.payments, j.finished ?? {});
  }
}
