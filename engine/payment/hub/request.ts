/**
 * The hub's (S's) part of the request flow: it co-signs the payee's state
 * (step 1) and sells its own update signature to the payer through a PTLC
 * (step 3), then takes the payee's acknowledgement (step 4). The Hub engine
 * (hub.ts) hands every request-flow message to {@link hubRequestStep}.
 *
 * The request flow (SPEC 6.14), where the payee pre-signs:
 *   1. B and S co-sign S–B settlement n in B's favour (REQUEST_PREPARE /
 *      REQUEST_PREPARED); S commits the nonce R_S of its update n signature.
 *   2. B signs update n, seals it for the payer A with everything A needs
 *      (REQUEST), and goes offline.
 *   3. A buys S's update signature with a PTLC to S over the A–S channel,
 *      locked to T_S = R_S + e·P_S (A computes it itself). Claiming it reveals
 *      s_S, which completes B's update n; A keeps the completed update for B,
 *      acting as its watchtower, and sends S's signature to B (REQUEST_COMPLETE).
 *   4. B returns, completes state n and acknowledges to S (REQUEST_ACK).
 * @module
 */
import { bytesToHex, hexToBytes } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { decodeChannelState, PaymentType, type PaymentMessage, type PaymentMessageOf } from '../../../protocol/payment.js';
import { tweakSecret } from '../../../crypto/tweak.js';
import type { Channel } from '../../channel/channel.js';
import { sameState, transfer } from '../../channel/state.js';
import { acceptPtlc, ackSettle, fulfillPtlc, type Signer } from '../ptlc-exchange.js';
import { hubFee, type FeePolicy } from '../fee.js';
import type { PeerChannel } from '../peers.js';
import { reject } from '../refusal.js';
import { COMPLETION_TTL_SECONDS, ignored, step, type ArchivedPayment, type Step, type StepContext } from '../types.js';

/** A pre-signed request as the hub tracks it. Byte fields are hex. */
export interface HubRequest {
  requestId: string;
  payeeChannel: string;
  n: number;
  amount: number;
  expiry: number;
  /** T_S: the point of the hub's own update n signature. */
  point: string;
  /**
   * Progress of the payer's PTLC over the A–S channel; or *cancelled*: the
   * payee's cancellation reached us first, and we will never sign update n.
   */
  status: 'prepared' | 'accepted' | 'sold' | 'settled' | 'cancelled';
  /** Our update n signature once sold (hex), sent again if the payee cancels a request it was paid for. */
  hubUpdateSig?: string;
  /** True once the payee acknowledged (its update n signature): S–B state n is complete on both sides. */
  acked?: boolean;
  /** The payer's tweak of its PTLC to us: we reveal s_S + tweak. */
  tweak?: string;
  payerChannel?: string;
}

/** S: co-signs settlement n in the payee's favour and commits its update nonce (REQUEST_PREPARED). */
async function hubOnPrepare(
  h: HubRequestContext,
  ch: Channel,
  m: PaymentMessageOf<typeof PaymentType.REQUEST_PREPARE>,
  ctx: StepContext,
): Promise<PaymentMessageOf<typeof PaymentType.REQUEST_PREPARED> | undefined> {
  const { signer: me, requests } = h;
  const id = bytesToHex(m.requestId);
  if (requests.has(id) || h.finished.has(id)) return undefined;
  // An id names one payment in one flow: a payee that names its request after an offer it was
  // sent (in flight or finished) would take that offer's CANCEL_PROPOSE into the request flow.
  if (h.isOfferId(id)) reject('the id already names an offer at this hub');
  if (ch.me !== 0) reject('the hub is party 0 of a payee channel');
  ch.requireOpen();
  if (!(m.expiry > ctx.now)) reject('request already expired');
  if (ch.pending) reject('the payee channel is busy');
  const next = decodeChannelState(m.state);
  if (!sameState(next, transfer(ch.enforceable.state, 0, m.amount, next.n)))
    reject('proposed state does not move exactly the amount to the payee', ErrorCode.CHANNEL_INVARIANT);
  ch.acceptProposal(next, m.settleSig, m.updateNonce);
  const settleSig = ch.signSettlement(me.channelKey);
  const updateNonce = await ch.commitUpdateNonce(me.nonces, me.channelKey);
  requests.set(id, {
    requestId: id,
    payeeChannel: bytesToHex(m.channelId),
    n: next.n,
    amount: m.amount,
    expiry: m.expiry,
    point: bytesToHex(ch.updatePoint(0)),
    status: 'prepared',
  });
  return { type: PaymentType.REQUEST_PREPARED, channelId: m.channelId, n: next.n, requestId: m.requestId, updateNonce, settleSig };
}

/**
 * S: the payer offers a PTLC for T_S. S accepts only for a prepared, unexpired
 * request, for the amount plus its fee, and with a timeout beyond the A–S CSV
 * delay plus the safety margin: after S reveals s_S it must be able to claim on chain.
 */
async function hubOnPtlcAdd(
  h: HubRequestContext,
  ch: Channel,
  m: PaymentMessageOf<typeof PaymentType.PTLC_ADD>,
  ctx: StepContext,
): Promise<PaymentMessageOf<typeof PaymentType.PTLC_ACCEPT>> {
  const { signer: me, requests, fee, safetyMargin } = h;
  const r = requests.get(bytesToHex(m.offerId));
  if (r?.status !== 'prepared') reject('no prepared request for that PTLC');
  if (!(ctx.now < r.expiry)) reject('request expired');
  // On a closing A–S channel we could not claim the PTLC in time after revealing s_S.
  ch.requireOpen();
  const accept = await acceptPtlc(ch, me, m, {
    amount: r.amount + hubFee(r.amount, fee),
    point: hexToBytes(r.point, 33),
    minTimeout: ctx.height + ch.params.csvDelay + safetyMargin + 1,
  });
  r.status = 'accepted';
  r.payerChannel = bytesToHex(m.channelId);
  r.tweak = bytesToHex(m.tweak);
  return accept;
}

/** S: the payer's PTLC is enforceable by S; S signs its update n for the payee and reveals s_S to claim. */
async function hubOnPtlcCommit(
  h: HubRequestContext,
  asCh: Channel,
  sbCh: Channel,
  r: HubRequest,
  m: PaymentMessageOf<typeof PaymentType.PTLC_COMMIT>,
): Promise<{
  fulfill: PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>;
  complete: PaymentMessageOf<typeof PaymentType.REQUEST_COMPLETE>;
}> {
  const me = h.signer;
  asCh.receiveUpdateSig(m.updateSig);
  const hubUpdateSig = await sbCh.signUpdate(me.nonces, me.channelKey);
  const fulfill = await fulfillPtlc(
    asCh,
    me,
    hexToBytes(r.requestId, 32),
    tweakSecret(hubUpdateSig.subarray(32, 64), hexToBytes(r.tweak!, 32)),
  );
  r.status = 'sold';
  r.hubUpdateSig = bytesToHex(hubUpdateSig);
  return {
    fulfill,
    complete: {
      type: PaymentType.REQUEST_COMPLETE,
      requestId: hexToBytes(r.requestId, 32),
      channelId: hexToBytes(r.payeeChannel, 32),
      n: r.n,
      hubUpdateSig,
    },
  };
}

/** S: the payer settled the A–S state without the PTLC; acknowledge it. */
async function hubOnPtlcSettle(
  h: HubRequestContext,
  ch: Channel,
  r: HubRequest,
  m: PaymentMessageOf<typeof PaymentType.PTLC_SETTLE>,
): Promise<PaymentMessageOf<typeof PaymentType.PTLC_SETTLE_ACK>> {
  const ack = await ackSettle(ch, h.signer, m);
  r.status = 'settled';
  return ack;
}

/** The REQUEST_COMPLETE that gives the payee our update n signature. */
function completeMessage(r: HubRequest, hubUpdateSig: Uint8Array): PaymentMessageOf<typeof PaymentType.REQUEST_COMPLETE> {
  return {
    type: PaymentType.REQUEST_COMPLETE,
    requestId: hexToBytes(r.requestId, 32),
    channelId: hexToBytes(r.payeeChannel, 32),
    n: r.n,
    hubUpdateSig,
  };
}

/**
 * S on CANCEL_PROPOSE from a payee (SPEC 6.14, cancellation). S decides,
 * atomically, between the payee's cancellation and the payer's payment:
 * whichever reaches it first wins. While the request is *prepared* (no
 * payer's PTLC taken), S co-signs state n+1 (the last enforceable balances),
 * which supersedes n, and marks the request *cancelled*: from then on it
 * refuses every PTLC for it and never signs update n. Once the payer's PTLC
 * is taken it refuses; once sold, it sends the payee its signature again.
 */
async function hubOnRequestCancel(
  h: HubRequestContext,
  peer: PeerChannel,
  m: PaymentMessageOf<typeof PaymentType.CANCEL_PROPOSE>,
): Promise<Step> {
  const ch = peer.channel;
  const next = decodeChannelState(m.state);
  const r = h.requests.get(bytesToHex(m.offerId));
  // A finished request left `requests` (see hubArchiveRequests): the payee already holds its outcome.
  if (!r && h.finished.has(bytesToHex(m.offerId))) return ignored(m.type, 'the request is finished');
  if (!r) reject('unknown request');
  // Only the payee, over the request's own channel, may cancel it.
  if (r.payeeChannel !== bytesToHex(m.channelId)) reject('the request belongs to another channel');
  if (r.status === 'cancelled') return ignored(m.type, 'request already cancelled');
  const s = step();
  // The payer paid first and we sold our signature: the payee is paid, not cancelled.
  if ((r.status === 'sold' || r.status === 'settled') && r.hubUpdateSig) {
    ch.noteRefusedProposal(next, m.settleSig); // the payee released a settlement for that number
    s.send.push({ to: peer.peerAddress, ttlSeconds: COMPLETION_TTL_SECONDS, message: completeMessage(r, hexToBytes(r.hubUpdateSig, 65)) });
    return s;
  }
  if (r.status !== 'prepared') reject("the payer's PTLC for the request was taken first: it cannot be cancelled");
  const e = ch.enforceable.state;
  const expected = { n: next.n, balances: [e.balances[0], e.balances[1]] as [number, number], ptlcs: e.ptlcs };
  if (!sameState(next, expected)) reject('cancellation state must restore the last enforceable balances', ErrorCode.CHANNEL_INVARIANT);
  if (ch.pending?.state.n !== r.n) reject("the pending state is not the request's");
  ch.acceptProposal(next, m.settleSig, m.updateNonce);
  const settleSig = ch.signSettlement(h.signer.channelKey);
  const updateNonce = await ch.commitUpdateNonce(h.signer.nonces, h.signer.channelKey);
  const updateSig = await ch.signUpdate(h.signer.nonces, h.signer.channelKey);
  r.status = 'cancelled';
  s.send.push({
    to: peer.peerAddress,
    message: { type: PaymentType.CANCEL_ACCEPT, channelId: m.channelId, n: next.n, updateNonce, settleSig, updateSig },
  });
  s.events.push({ kind: 'cancelled', offerId: r.requestId });
  return s;
}

/** What the hub's request-flow step needs from the hub engine. */
export interface HubRequestContext {
  /** The channel `id` whose peer is `from` (PAYMENT_REJECTED otherwise). */
  peer(id: Uint8Array, from: Uint8Array): PeerChannel;
  peers: Map<string, PeerChannel>;
  requests: Map<string, HubRequest>;
  /**
   * Requests finished and moved out of `requests` (see {@link hubArchiveRequests}),
   * by request id: their REQUEST_PREPARE and CANCEL_PROPOSE are ignored, and so is
   * a PTLC_ADD over the payer channel whose PTLC the hub took for it.
   */
  finished: Map<string, FinishedRequest>;
  /**
   * Whether `id` (hex) names an offer the hub knows, in flight or finished
   * and still remembered: a REQUEST_PREPARE under that id is refused, since
   * an id names one payment in one flow.
   */
  isOfferId(id: string): boolean;
  signer: Signer;
  /** The hub's fee policy: the payer's PTLC must carry the amount plus this fee. */
  fee: FeePolicy;
  safetyMargin: number;
}

/** S: one request-flow message (REQUEST_PREPARE, REQUEST_ACK, or a PTLC step of a request). */
export async function hubRequestStep(h: HubRequestContext, from: Uint8Array, m: PaymentMessage, ctx: StepContext): Promise<Step> {
  if (!('channelId' in m)) return ignored(m.type, 'not a channel message');
  const peer = h.peer(m.channelId, from);
  const ch = peer.channel;
  const s = step();
  switch (m.type) {
    case PaymentType.REQUEST_PREPARE: {
      const prepared = await hubOnPrepare(h, ch, m, ctx);
      if (!prepared) return ignored(m.type, 'duplicate request');
      s.send.push({ to: peer.peerAddress, message: prepared });
      return s;
    }
    case PaymentType.PTLC_ADD: {
      if (ch.me !== 1) reject('PTLCs to the hub come over a payer channel');
      // A duplicate of a PTLC we took (mail can be delivered twice) changes nothing: answering
      // it with PTLC_FAIL would make the payer drop the state we co-signed.
      const taken = h.requests.get(bytesToHex(m.offerId));
      if (taken && taken.status !== 'prepared' && taken.payerChannel === bytesToHex(m.channelId))
        return ignored(m.type, 'PTLC already taken');
      // Likewise for a PTLC we took for a request since finished (see hubArchiveRequests). A first
      // PTLC for a finished (cancelled) request is refused below: the payer must drop its state.
      if (!taken && h.finished.get(bytesToHex(m.offerId))?.payerChannel === bytesToHex(m.channelId))
        return ignored(m.type, 'PTLC already taken, and the request is finished');
      s.send.push({ to: peer.peerAddress, message: await hubOnPtlcAdd(h, ch, m, ctx) });
      return s;
    }
    case PaymentType.PTLC_COMMIT: {
      const r = [...h.requests.values()].find((x) => x.status === 'accepted' && x.payerChannel === bytesToHex(m.channelId));
      if (!r || !ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no accepted request PTLC for that state');
      const payee = h.peers.get(r.payeeChannel)!;
      const { fulfill, complete } = await hubOnPtlcCommit(h, ch, payee.channel, r, m);
      s.send.push({ to: peer.peerAddress, message: fulfill });
      // The payer will hand the payee this signature too (it is its watchtower); send it directly as well.
      s.send.push({ to: payee.peerAddress, ttlSeconds: COMPLETION_TTL_SECONDS, message: complete });
      s.events.push({ kind: 'signature_sold', offerId: r.requestId, n: r.n });
      return s;
    }
    case PaymentType.PTLC_SETTLE: {
      const r = [...h.requests.values()].find((x) => x.status === 'sold' && x.payerChannel === bytesToHex(m.channelId));
      if (!r || !ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no sold request for that settlement');
      s.send.push({ to: peer.peerAddress, message: await hubOnPtlcSettle(h, ch, r, m) });
      return s;
    }
    case PaymentType.CANCEL_PROPOSE:
      return await hubOnRequestCancel(h, peer, m);
    case PaymentType.REQUEST_ACK: {
      // Independent of the A–S PTLC's progress: B may acknowledge before A settles with S.
      const r = [...h.requests.values()].find((x) => x.payeeChannel === bytesToHex(m.channelId) && x.n === m.n && !x.acked);
      if (!r || !ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no request awaiting that acknowledgement');
      ch.receiveUpdateSig(m.updateSig); // the payee's update n: both sides hold state n
      r.acked = true;
      s.events.push({ kind: 'paid', offerId: r.requestId, amount: r.amount });
      return s;
    }
    default:
      return ignored(m.type, 'not a request-flow message');
  }
}

/**
 * What the hub remembers of a finished request (see {@link hubArchiveRequests})
 * while a message of it could still start something or confuse a party.
 */
export interface FinishedRequest {
  /** The request's expiry (ms). */
  expiry: number;
  /** The payee channel (hex). */
  channel: string;
  /** The payee channel's highest state number when the request finished. */
  n: number;
  /** The payer channel (hex), if the payer's PTLC was taken. */
  payerChannel?: string;
  /** The payer channel's highest state number when the request finished. */
  payerN?: number;
}

/**
 * How long (ms) past its expiry a finished request's id is still remembered
 * in {@link HubRequestContext.finished}. Past its expiry, every message that
 * could start the request again (REQUEST_PREPARE, PTLC_ADD) is refused
 * anyway; the grace only covers the hub's clock stepping back.
 */
export const FINISHED_REQUEST_GRACE_MS = 60 * 60 * 1000;

/**
 * True when nothing about request `r` can change any more, in either
 * channel: the payee's cancellation won (*cancelled*: the hub co-signed
 * state n+1 and will never sign update n; a later CANCEL_PROPOSE was
 * ignored already, a PTLC_ADD refused); or the payer settled the A–S state
 * without the PTLC (*settled*, acknowledged) and the payee acknowledged
 * state n (`acked`). Until the payee acknowledged, its CANCEL_PROPOSE (it
 * never got our signature, SPEC 6.15) must still get the REQUEST_COMPLETE
 * again, so a settled request not acknowledged is kept. A request sold
 * whose payer closed with the PTLC on chain stays *sold* and is kept.
 */
function isFinishedRequest(r: HubRequest): boolean {
  return r.status === 'cancelled' || (r.status === 'settled' && r.acked === true);
}

/**
 * Whether a finished request's id can be forgotten at time `now` (ms): more
 * than {@link FINISHED_REQUEST_GRACE_MS} past its expiry (REQUEST_PREPARE
 * and PTLC_ADD are refused past it), or once both its channels co-signed
 * states at least as high as any they had when it finished: a replayed
 * REQUEST_PREPARE or CANCEL_PROPOSE carries a state number of the payee
 * channel, a PTLC_ADD one of the payer channel, and numbers are never
 * reused, so each is refused by the channel; and each party then holds the
 * outcome, which a refusal of a late duplicate cannot undo.
 */
function forgettableRequest(h: HubRequestContext, f: FinishedRequest, now: number): boolean {
  if (now > f.expiry + FINISHED_REQUEST_GRACE_MS) return true;
  const payee = h.peers.get(f.channel)?.channel;
  if (payee === undefined || payee.enforceable.state.n < f.n) return false;
  if (f.payerChannel === undefined) return true;
  const payer = h.peers.get(f.payerChannel)?.channel;
  return payer !== undefined && payer.enforceable.state.n >= (f.payerN ?? 0);
}

/**
 * Moves every finished request (see {@link isFinishedRequest}) out of
 * `requests` into `finished`, and forgets the finished ones that are
 * {@link forgettableRequest} at time `now` (ms). Returns the records moved
 * (with an `offerId`, the request id, as the runtime lists payments), for the
 * runtime to store. The work is bounded by the requests in flight plus the
 * finished ones still remembered.
 */
export function hubArchiveRequests(h: HubRequestContext, now: number): ArchivedPayment[] {
  const out: ArchivedPayment[] = [];
  for (const [id, r] of h.requests) {
    if (!isFinishedRequest(r)) continue;
    h.requests.delete(id);
    const payee = h.peers.get(r.payeeChannel)?.channel;
    const payer = r.payerChannel === undefined ? undefined : h.peers.get(r.payerChannel)?.channel;
    h.finished.set(id, {
      expiry: r.expiry,
      channel: r.payeeChannel,
      n: Math.max(payee?.highN ?? 0, r.n),
      ...(r.payerChannel !== undefined ? { payerChannel: r.payerChannel, payerN: payer?.highN ?? 0 } : {}),
    });
    out.push({ id, record: { offerId: id, ...r } });
  }
  for (const [id, f] of h.finished) if (forgettableRequest(h, f, now)) h.finished.delete(id);
  return out;
}
