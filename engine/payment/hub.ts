/**
 * The Hub (S) of mode 1 (SPEC 6.8): co-signs the payer's state n while
 * recording the payment point T = R_A + e·P_A of the payer's future update
 * signature, then buys that signature from the payee with a PTLC locked to T.
 *
 * Safety rules enforced here (each has an adversarial test):
 * - S pays only for T of the latest pending state of the payer's channel,
 *   only before the offer's (and the invoice's) expiry, and only once;
 * - S refuses an invoice whose PTLC timeout plus the safety margin would not
 *   be below the payer channel's settlement CSV delay;
 * - S refuses to cancel once the PTLC is extended, and refuses invoices for a
 *   cancelled (superseded) state;
 * - the revealed t is checked (t·G = T) and completes A's update signature,
 *   which is verified against the real sighash before S signs its own.
 * @module
 */
import { bytesToHex, equalBytes, hexToBytes } from '../../base/bytes.js';
import { ErrorCode, fail, isLnMailboxError } from '../../base/errors.js';
import { getPublicKey } from '../../crypto/bip340.js';
import { PaymentType, decodeChannelState, verifyInvoice, type PaymentMessageOf } from '../../protocol/payment.js';
import type { NonceStore } from '../../crypto/nonce.js';
import { Channel, type ChannelJson } from '../channel/channel.js';
import { randomTweak, tweakPoint, untweakSecret } from '../../crypto/tweak.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { checkPtlcTimelock, sameState, transfer } from '../channel/state.js';
import { UPDATE_HASH_TYPE } from '../bitcoin/eltoo.js';
import { checkFulfil, checkRemove, commitPtlc, extendPtlc, settlePtlc, type Signer } from './ptlc-exchange.js';
import { COMPLETION_TTL_SECONDS, ignored, refill, reject, rejectMessage, noteRefusedProposal, step, type Incoming, type Step, type StepContext, isLocalFault } from './types.js';
import { hubMode2, type HubRequest } from './mode2.js';


/** Default {@link HubConfig.timeoutSlack}, in blocks. */
export const DEFAULT_TIMEOUT_SLACK = 2;

/** Status of a payment the hub handles. */
export type HubStatus = 'pending' | 'extended' | 'committed' | 'bought' | 'settled' | 'cancelled';

/** One payment as the hub persists it. Byte fields are hex. */
export interface HubPayment {
  offerId: string;
  payerChannel: string;
  n: number;
  amount: number;
  fee: number;
  expiry: number;
  point: string;
  payerNonce: string;
  status: HubStatus;
  payeeChannel?: string;
  /** The payee's receipt for the payer (an envelope only the payer can open), passed through. */
  receipt?: string;
  /** The tweak r of the PTLC to the payee (locked to T + r·G); the payee reveals t + r. */
  tweak?: string;
  ptlcState?: number;
  secret?: string;
  /** Our update signature completing the payer's state n, once bought: re-sent if the COMPLETION is lost. */
  hubUpdateSig?: string;
}

/** A channel of the hub with one peer. */
export interface HubPeer {
  channel: Channel;
  /** The peer's identity (mailbox) key, x-only. */
  peerKey: Uint8Array;
  /** The peer's mailbox address. */
  peerAddress: string;
}

/**
 * Indexes a role's channels by id, refusing a set that could let one
 * channel's signatures count in another: two channels with the same id
 * (their per-channel state keys would be equal) or the same funding
 * outpoint, and a channel whose own key is not `ourKey`.
 */
export function channelMap(peers: HubPeer[], ourKey: Uint8Array, role: string): Map<string, HubPeer> {
  const byId = new Map<string, HubPeer>();
  const outpoints = new Set<string>();
  for (const p of peers) {
    const { params, me } = p.channel;
    const id = bytesToHex(params.channelId);
    const outpoint = `${bytesToHex(params.funding.txid)}:${params.funding.vout}`;
    if (byId.has(id)) fail(ErrorCode.CHANNEL_INVARIANT, `two channels with channel id ${id}`);
    if (outpoints.has(outpoint)) fail(ErrorCode.CHANNEL_INVARIANT, `two channels on funding outpoint ${outpoint}`);
    if (!equalBytes(params.keys[me], ourKey)) fail(ErrorCode.CHANNEL_INVARIANT, `channel ${id}: our key in it is not the ${role}'s channel key`);
    byId.set(id, p);
    outpoints.add(outpoint);
  }
  return byId;
}

/** Static configuration of a hub. */
export interface HubConfig {
  /** The hub's identity key (x-only) and mailbox address, as put in offers. */
  identityKey: Uint8Array;
  address: string;
  /** The hub's channel secret key (used in every channel). */
  channelKey: Uint8Array;
  /** Fee the hub charges: `base + amount·ppm/1e6` sats. */
  fee: { base: number; ppm: number };
  /** Safety margin in blocks of the timelock rule. */
  safetyMargin: number;
  /** Largest PTLC timeout delta (blocks) the hub grants a payee. */
  maxTimeoutDelta: number;
  /**
   * Extra blocks added to the timeout the payee asked for (default 2), so that
   * a block found while the PTLC_ADD is in flight does not make the payee
   * (or a router) refuse it. Counted in the timelock rule.
   */
  timeoutSlack?: number;
}

/** Persisted state of a {@link Hub}. */
export interface HubJson {
  peers: Record<string, { channel: ChannelJson; peerKey: string; peerAddress: string }>;
  payments: Record<string, HubPayment>;
  /** Mode 2 requests the hub co-signed. */
  requests?: Record<string, HubRequest>;
}

/** The hub role engine. Pure: the runtime persists {@link Hub.toJSON} after every step. */
export class Hub {
  readonly peers: Map<string, HubPeer>;
  readonly payments: Map<string, HubPayment>;

  private readonly signer: Signer;

  constructor(
    readonly config: HubConfig,
    peers: HubPeer[],
    private readonly nonces: NonceStore,
    payments: Record<string, HubPayment> = {},
    requests: Record<string, HubRequest> = {},
  ) {
    this.requests = new Map(Object.entries(requests));
    this.signer = { channelKey: config.channelKey, nonces };
    this.peers = channelMap(peers, getPublicKey(config.channelKey), 'hub');
    this.payments = new Map(Object.entries(payments));
  }

  /** Mode 2 requests, by request id (hex). */
  readonly requests: Map<string, HubRequest>;

  /** The fee the hub asks for `amount`. */
  feeFor(amount: number): number {
    return this.config.fee.base + Math.floor((amount * this.config.fee.ppm) / 1_000_000);
  }

  /**
   * Handles one message. A message that breaks a rule is answered with a
   * REJECT to its sender and changes nothing; duplicates change nothing.
   */
  async handle(inc: Incoming, ctx: StepContext): Promise<Step> {
    const m = inc.message;
    const before = structuredClone(this.toJSON());
    try {
      switch (m.type) {
        case PaymentType.UPDATE_PROPOSE:
          return await this.onPropose(inc.from, m, ctx);
        case PaymentType.INVOICE:
          return await this.onInvoice(inc.from, m, ctx);
        case PaymentType.PTLC_ACCEPT:
          return await this.onPtlcAccept(inc.from, m);
        case PaymentType.PTLC_FULFILL:
          return await this.onFulfill(inc.from, m);
        case PaymentType.PTLC_SETTLE_ACK:
          return this.onSettleAck(inc.from, m);
        case PaymentType.CANCEL_PROPOSE:
          return await this.onCancel(inc.from, m);
        case PaymentType.CANCEL_COMMIT:
          return this.onCancelCommit(inc.from, m);
        case PaymentType.PTLC_FAIL:
          return this.onPtlcFail(inc.from, m);
        case PaymentType.PTLC_REMOVE:
          return await this.onRemove(inc.from, m);
        case PaymentType.M2_PREPARE:
        case PaymentType.PTLC_ADD:
        case PaymentType.PTLC_COMMIT:
        case PaymentType.PTLC_SETTLE:
        case PaymentType.M2_ACK:
          return await this.onMode2(inc.from, m, ctx);
        default:
          return ignored(m.type, 'not a message for the hub');
      }
    } catch (e) {
      this.restore(before); // a refused message changes nothing (but the high-water mark)
      // Our own fault (a full disk): not the peer's; no answer, the message is handled again later.
      if (isLocalFault(e) || !isLnMailboxError(e)) throw e;
      noteRefusedProposal(m, inc.from, (id) => this.peers.get(bytesToHex(id)));
      const ref = 'offerId' in m ? m.offerId : 'requestId' in m ? m.requestId : 'channelId' in m ? m.channelId : new Uint8Array(32);
      // Answer peers only: replying to an address named inside a stranger's message
      // would let anyone use the hub to send mail to third parties.
      const peer = this.peerByKey(inc.from);
      const s = step();
      // A refused PTLC_ADD is answered with PTLC_FAIL so the offerer drops the proposed state.
      const answer = m.type === PaymentType.PTLC_ADD
        ? { type: PaymentType.PTLC_FAIL, channelId: m.channelId, offerId: m.offerId, reason: `${e.code}: ${e.message}`.slice(0, 300) } as const
        : rejectMessage(m.type, ref, e.code, e.message);
      if (peer) s.send.push({ to: peer, message: answer });
      s.events.push({ kind: 'rejected', offerId: bytesToHex(ref), code: e.code, message: e.message });
      return s;
    }
  }

  private peerByKey(key: Uint8Array): string | undefined {
    for (const p of this.peers.values()) if (equalBytes(p.peerKey, key)) return p.peerAddress;
    return undefined;
  }

  /** The channel `id` whose peer is `from`. */
  private peer(id: Uint8Array, from: Uint8Array): HubPeer {
    const p = this.peers.get(bytesToHex(id));
    if (!p) reject('unknown channel');
    if (!equalBytes(p.peerKey, from)) reject('message does not come from the channel peer');
    return p;
  }

  private async onPropose(from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.UPDATE_PROPOSE>, ctx: StepContext): Promise<Step> {
    const id = bytesToHex(m.offerId);
    if (this.payments.has(id)) return ignored(m.type, 'duplicate proposal');
    const { channel: ch } = this.peer(m.channelId, from);
    if (ch.me !== 1) reject('the hub is party 1 of a payer channel');
    ch.requireOpen();
    if (!(m.expiry > ctx.now)) reject('offer already expired');
    if (m.fee < this.feeFor(m.amount)) reject(`fee ${m.fee} below the hub's fee ${this.feeFor(m.amount)}`);
    const proposed = decodeChannelState(m.state);
    const expected = transfer(ch.enforceable.state, 0, m.amount + m.fee, proposed.n);
    if (!sameState(proposed, expected)) reject('proposed state does not move exactly amount + fee to the hub', ErrorCode.CHANNEL_INVARIANT);
    // A new proposal overwrites a pending one only if that one was never extended.
    const prior = this.pendingOn(bytesToHex(m.channelId));
    if (prior && prior.status !== 'pending') reject('a PTLC is already extended for the pending state');
    // Any other pending state (a mode 2 PTLC being negotiated) is never overwritten.
    if (ch.pending && !(prior && prior.n === ch.pending.state.n)) reject('the channel is busy');
    ch.acceptProposal(proposed, m.settleSig, m.updateNonce);
    const settleSig = ch.signSettlement(this.config.channelKey);
    const R = await ch.commitUpdateNonce(this.nonces, this.config.channelKey);
    if (prior) prior.status = 'cancelled';
    // SPEC 6.6: T = R_A + e·P_A from public data; the point S will pay for.
    const point = ch.updatePoint(0);
    this.payments.set(id, {
      offerId: id, payerChannel: bytesToHex(m.channelId), n: proposed.n, amount: m.amount, fee: m.fee, expiry: m.expiry,
      point: bytesToHex(point), payerNonce: bytesToHex(m.updateNonce), status: 'pending',
    });
    const s = step();
    s.send.push({
      to: this.peers.get(bytesToHex(m.channelId))!.peerAddress,
      message: { type: PaymentType.UPDATE_ACCEPT, channelId: m.channelId, n: proposed.n, updateNonce: R, settleSig },
    });
    s.events.push({ kind: 'proposed', offerId: id });
    return s;
  }

  private pendingOn(channelHex: string): HubPayment | undefined {
    for (const p of this.payments.values())
      if (p.payerChannel === channelHex && (p.status === 'pending' || p.status === 'extended' || p.status === 'committed')) return p;
    return undefined;
  }

  private async onInvoice(from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.INVOICE>, ctx: StepContext): Promise<Step> {
    if (!verifyInvoice(m)) reject('invoice signature does not verify', ErrorCode.INVALID_SIGNATURE);
    if (!equalBytes(from, m.payeeKey)) reject('invoice must be sent by its signer');
    const id = bytesToHex(m.offerId);
    const p = this.payments.get(id);
    if (!p) reject('unknown offer');
    if (p.status !== 'pending') {
      if (p.status === 'cancelled') reject('the offer was cancelled: its state is superseded');
      return ignored(m.type, 'invoice already handled');
    }
    const payer = this.peers.get(p.payerChannel)!.channel;
    // Pay only for T of the latest pending state, before expiry.
    if (!payer.pending || payer.pending.state.n !== p.n) reject('the offer is not for the latest pending state');
    if (bytesToHex(m.point) !== p.point) reject('invoice point differs from the recorded payment point');
    if (m.amount !== p.amount) reject('invoice amount differs from the offer');
    if (!(ctx.now < p.expiry)) reject('offer expired');
    if (!(ctx.now < m.expiry)) reject('invoice expired');
    const payee = this.peer(m.payeeChannel, from);
    if (payee.channel.me !== 0) reject('the hub is party 0 of a payee channel');
    if (m.timeoutDelta > this.config.maxTimeoutDelta) reject(`timeout delta ${m.timeoutDelta} above the hub's maximum`);
    // Nothing new over a channel with an update on chain: the payer could settle an old state
    // before we learn t (payer side), or the PTLC could not be enforced (payee side).
    payer.requireOpen();
    payee.channel.requireOpen();
    const timeout = ctx.height + m.timeoutDelta + (this.config.timeoutSlack ?? DEFAULT_TIMEOUT_SLACK);
    checkPtlcTimelock(timeout, ctx.height, payer.params.csvDelay, this.config.safetyMargin, payer.closing?.height);
    if (payee.channel.pending) reject('the payee channel is busy');
    // Decorrelation: the PTLC is locked to T + r·G with a tweak only S and its peer know.
    const tweak = randomTweak(randomBytes(32));
    const add = await extendPtlc(payee.channel, this.signer, { id: m.offerId, amount: m.amount, point: m.point, timeout }, tweak);
    p.status = 'extended';
    p.tweak = bytesToHex(tweak);
    p.payeeChannel = bytesToHex(m.payeeChannel);
    p.receipt = bytesToHex(m.receipt);
    p.ptlcState = payee.channel.topN;
    const s = step();
    s.send.push({ to: payee.peerAddress, message: add });
    s.events.push({ kind: 'ptlc_extended', offerId: id, timeout });
    return s;
  }

  private async onPtlcAccept(from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.PTLC_ACCEPT>): Promise<Step> {
    const { channel: ch, peerAddress } = this.peer(m.channelId, from);
    const p = this.byPtlc(bytesToHex(m.channelId), m.n, 'extended');
    if (!p || !ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no extended PTLC for that state');
    const commit = await commitPtlc(ch, this.signer, m);
    p.status = 'committed';
    const s = step();
    s.send.push({ to: peerAddress, message: commit });
    s.events.push({ kind: 'ptlc_committed', offerId: p.offerId });
    return s;
  }

  private byPtlc(channelHex: string, n: number, status: HubStatus): HubPayment | undefined {
    for (const p of this.payments.values()) if (p.payeeChannel === channelHex && p.ptlcState === n && p.status === status) return p;
    return undefined;
  }

  private async onFulfill(from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>): Promise<Step> {
    const { channel: sb, peerAddress } = this.peer(m.channelId, from);
    const id = bytesToHex(m.offerId);
    const p = this.payments.get(id);
    if (!p || p.status !== 'committed' || p.payeeChannel !== bytesToHex(m.channelId)) return ignored(m.type, 'no committed PTLC for that offer');
    const tweak = hexToBytes(p.tweak ?? '00'.repeat(32), 32);
    checkFulfil(sb, m, tweakPoint(hexToBytes(p.point, 33), tweak));
    const t = untweakSecret(m.secret, tweak); // = s_A
    // 1. Complete the payer's update n: its signature is (R_A, t).
    const payer = this.peers.get(p.payerChannel)!;
    const as = payer.channel;
    const sigA = new Uint8Array(65);
    sigA.set(hexToBytes(p.payerNonce, 32), 0);
    sigA.set(t, 32);
    sigA[64] = UPDATE_HASH_TYPE;
    as.receiveUpdateSig(sigA, 0); // verified against the real sighash before we sign
    // 2. Move the payee channel on: the PTLC becomes the payee's balance. This verifies the
    // payee's settlement signature, so the message is whole before we sign anything.
    const settle = await settlePtlc(sb, this.signer, m);
    const ourSigN = await as.signUpdate(this.nonces, this.config.channelKey); // promotes state n
    p.status = 'bought';
    p.secret = bytesToHex(t);
    p.hubUpdateSig = bytesToHex(ourSigN);
    const s = step();
    s.send.push({ to: peerAddress, message: settle });
    // 3. Tell the payer: the payee's sealed receipt, t, and our update signature.
    s.send.push(this.completion(p, payer.peerAddress));
    s.events.push({ kind: 'signature_bought', offerId: id, n: p.n });
    return s;
  }

  /** The COMPLETION of a bought payment: the payee's sealed receipt, t, and our update signature. */
  private completion(p: HubPayment, to: string): Step['send'][number] {
    return {
      to,
      // The payer may stay away long: ask the relay to keep this as long as it allows.
      ttlSeconds: COMPLETION_TTL_SECONDS,
      message: {
        type: PaymentType.COMPLETION, channelId: hexToBytes(p.payerChannel, 32), n: p.n, offerId: hexToBytes(p.offerId, 32),
        secret: hexToBytes(p.secret!, 32), updateSig: hexToBytes(p.hubUpdateSig!), invoice: hexToBytes(p.receipt!),
      },
    };
  }

  private onSettleAck(from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.PTLC_SETTLE_ACK>): Step {
    const { channel: ch } = this.peer(m.channelId, from);
    if (!ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no pending state for that ack');
    ch.receiveUpdateSig(m.updateSig);
    const p = [...this.payments.values()].find((x) => x.status === 'bought' && x.payeeChannel === bytesToHex(m.channelId));
    if (p) p.status = 'settled';
    const s = step();
    if (p) s.events.push({ kind: 'paid', offerId: p.offerId, amount: p.amount });
    return s;
  }

  private async onCancel(from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.CANCEL_PROPOSE>): Promise<Step> {
    const { channel: ch, peerAddress } = this.peer(m.channelId, from);
    const next = decodeChannelState(m.state);
    const id = bytesToHex(m.offerId);
    const p = this.payments.get(id);
    if (!p) reject('unknown offer');
    if (p.payerChannel !== bytesToHex(m.channelId)) reject('the offer belongs to another channel');
    if (p.status === 'cancelled') return ignored(m.type, 'already cancelled');
    // The payment completed but the payer asks to cancel: it never got the COMPLETION (lost,
    // or its TTL ran out). Send it again; the payer completes instead of cancelling.
    if ((p.status === 'bought' || p.status === 'settled') && p.hubUpdateSig) {
      ch.noteRefusedProposal(next, m.settleSig); // the payer released a settlement for that number
      const s = step();
      s.send.push(this.completion(p, peerAddress));
      return s;
    }
    // Until the PTLC is extended, A and S may overwrite state n; after, never.
    if (p.status !== 'pending') reject('the PTLC is already extended to the payee; the payment cannot be cancelled');
    const e = ch.enforceable.state;
    const expected = { n: next.n, balances: [e.balances[0], e.balances[1]] as [number, number], ptlcs: e.ptlcs };
    if (!sameState(next, expected)) reject('cancellation state must restore the last enforceable balances', ErrorCode.CHANNEL_INVARIANT);
    if (!ch.pending || ch.pending.state.n !== p.n) reject('the pending state is not the offer\'s');
    ch.acceptProposal(next, m.settleSig, m.updateNonce);
    const settleSig = ch.signSettlement(this.config.channelKey);
    const R = await ch.commitUpdateNonce(this.nonces, this.config.channelKey);
    const updateSig = await ch.signUpdate(this.nonces, this.config.channelKey);
    p.status = 'cancelled';
    const s = step();
    s.send.push({ to: peerAddress, message: { type: PaymentType.CANCEL_ACCEPT, channelId: m.channelId, n: next.n, updateNonce: R, settleSig, updateSig } });
    s.events.push({ kind: 'cancelled', offerId: id });
    return s;
  }

  private onCancelCommit(from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.CANCEL_COMMIT>): Step {
    const { channel: ch } = this.peer(m.channelId, from);
    if (!ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no pending cancellation');
    ch.receiveUpdateSig(m.updateSig);
    return step();
  }

  private onPtlcFail(from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.PTLC_FAIL>): Step {
    const { channel: ch } = this.peer(m.channelId, from);
    const p = this.payments.get(bytesToHex(m.offerId));
    // Only the payee, on the channel the PTLC was extended over, can fail it.
    if (!p || p.status !== 'extended' || p.payeeChannel !== bytesToHex(m.channelId)) return ignored(m.type, 'no extended PTLC to fail on that channel');
    // The payee refused the PTLC before co-signing: state m was never enforceable; drop it.
    // Its number stays used: a later state of this channel takes a greater one.
    if (ch.pending && ch.pending.state.n === p.ptlcState) ch.abandonPending();
    p.status = 'pending';
    delete p.ptlcState;
    const s = step();
    s.events.push({ kind: 'rejected', offerId: p.offerId, code: ErrorCode.PAYMENT_REJECTED, message: m.reason });
    return s;
  }

  /**
   * The receiver gives a committed PTLC back (it cannot be paid on: the next
   * hop refused it). We co-sign the state that returns the amount to us, and
   * the payment is back where it was before the invoice: the payer may cancel.
   */
  private async onRemove(from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.PTLC_REMOVE>): Promise<Step> {
    const { channel: ch, peerAddress } = this.peer(m.channelId, from);
    const id = bytesToHex(m.offerId);
    const p = this.payments.get(id);
    if (!p || p.status !== 'committed' || p.payeeChannel !== bytesToHex(m.channelId)) return ignored(m.type, 'no committed PTLC for that offer on that channel');
    checkRemove(ch, m);
    const settle = await settlePtlc(ch, this.signer, m);
    p.status = 'pending';
    delete p.ptlcState;
    delete p.tweak;
    delete p.payeeChannel;
    delete p.receipt;
    const s = step();
    s.send.push({ to: peerAddress, message: settle });
    s.events.push({ kind: 'rejected', offerId: id, code: ErrorCode.PAYMENT_REJECTED, message: `the PTLC was given back: ${m.reason}`.slice(0, 500) });
    return s;
  }

  /** Mode 2 (the payee pre-signs, SPEC 6.14): the hub's side, in mode2.ts. */
  private onMode2(from: Uint8Array, m: Incoming['message'], ctx: StepContext): Promise<Step> {
    return hubMode2(
      { peer: (id, f) => this.peer(id, f), peers: this.peers, requests: this.requests, signer: this.signer, feeFor: (a) => this.feeFor(a), safetyMargin: this.config.safetyMargin },
      from, m, ctx,
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
    for (const [id, p] of this.peers) peers[id] = { channel: p.channel.toJSON(), peerKey: bytesToHex(p.peerKey), peerAddress: p.peerAddress };
    return { peers, payments: Object.fromEntries(this.payments), requests: Object.fromEntries(this.requests) };
  }

  /** Restores a hub from {@link Hub.toJSON}. */
  static fromJSON(config: HubConfig, j: HubJson, nonces: NonceStore): Hub {
    const peers = Object.values(j.peers).map((p) => ({
      channel: Channel.fromJSON(p.channel), peerKey: hexToBytes(p.peerKey, 32), peerAddress: p.peerAddress,
    }));
    return new Hub(config, peers, nonces, j.payments, j.requests ?? {});
  }
}
