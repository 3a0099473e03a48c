/**
 * The payee's (B's) part of the request flow: steps 1, 2 and 4 below. The
 * Payee engine (payee.ts) dispatches to these functions over its state.
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
import { randomBytes } from '@noble/hashes/utils.js';
import { bytesToHex, equalBytes, hexToBytes } from '../../../base/bytes.js';
import { encodeChannelState, PaymentType, type PaymentMessageOf } from '../../../protocol/payment.js';
import type { Channel } from '../../channel/channel.js';
import { transfer } from '../../channel/state.js';
import type { Signer } from '../ptlc-exchange.js';
import { reject } from '../refusal.js';
import { ignored, step, type Step, type StepContext } from '../types.js';
import type { PayeeConfig } from './config.js';

/** A payment request the payee pre-signed. Byte fields are hex. */
export interface PayeeRequest {
  requestId: string;
  payerAddress: string;
  payerKey: string;
  amount: number;
  expiry: number;
  memo: string;
  n: number;
  /**
   * preparing → requested → paid; or requested → cancelling → cancelled (the
   * hub co-signed the cancellation state), back to requested if the hub
   * refuses (the payer's PTLC reached it first).
   */
  status: 'preparing' | 'requested' | 'cancelling' | 'cancelled' | 'paid';
  /** The number of the cancellation state (SPEC 6.14, cancellation), while *cancelling* and after. */
  cancelN?: number;
  /** Secret whose hash lets the payee retract the REQUEST envelope from the payer's relays (hex). */
  retractionSecret?: string;
}

/**
 * True when nothing about request `r` can change any more: paid (the hub's
 * update signature taken, state n ours, REQUEST_ACK sent) or cancelled (the
 * cancellation state co-signed and committed, the payer told). No handler
 * moves such a request again, and an unknown request id is ignored, never
 * taken as new (the payee's requests are created only by its own
 * `request`), so the record leaves the state with no replay guard.
 */
export function payeeRequestFinished(r: PayeeRequest): boolean {
  return r.status === 'paid' || r.status === 'cancelled';
}

/** What the payee's request-flow steps need of the payee engine. */
export interface PayeeRequestContext {
  /** The payee's configuration: its hub's key and mailbox address, and its own address (put in the REQUEST). */
  config: PayeeConfig;
  /** The S–B channel (the payee is party 1). */
  channel: Channel;
  signer: Signer;
  /** Requests this payee pre-signed, by request id (hex). */
  requests: Map<string, PayeeRequest>;
}

/** B: proposes S–B state n moving `amount` from S to B (REQUEST_PREPARE). */
export async function payeeRequest(
  b: PayeeRequestContext,
  req: { requestId: Uint8Array; payer: { publicKey: Uint8Array; address: string }; amount: number; expiry: number; memo?: string },
  ctx: StepContext,
): Promise<Step> {
  const ch = b.channel;
  const me = b.signer;
  if (ch.pending) reject('a payment is already in flight on this channel');
  ch.requireOpen();
  if (!(req.expiry > ctx.now)) reject('request expiry must be in the future');
  const next = transfer(ch.enforceable.state, ch.peer, req.amount, ch.topN + 1);
  ch.propose(next);
  const settleSig = ch.signSettlement(me.channelKey);
  const updateNonce = await ch.commitUpdateNonce(me.nonces, me.channelKey);
  const id = bytesToHex(req.requestId);
  b.requests.set(id, {
    requestId: id,
    payerAddress: req.payer.address,
    payerKey: bytesToHex(req.payer.publicKey),
    amount: req.amount,
    expiry: req.expiry,
    memo: req.memo ?? '',
    n: next.n,
    status: 'preparing',
  });
  const s = step();
  s.send.push({
    to: b.config.hubAddress,
    message: {
      type: PaymentType.REQUEST_PREPARE,
      channelId: ch.params.channelId,
      state: encodeChannelState(next),
      requestId: req.requestId,
      amount: req.amount,
      expiry: req.expiry,
      updateNonce,
      settleSig,
    },
  });
  return s;
}

/** B: the hub co-signed settlement n; B signs update n and sends the request, sealed, to the payer. */
export async function payeeOnPrepared(
  b: PayeeRequestContext,
  m: PaymentMessageOf<typeof PaymentType.REQUEST_PREPARED>,
  ctx: StepContext,
): Promise<Step> {
  const ch = b.channel;
  const r = b.requests.get(bytesToHex(m.requestId));
  if (r?.status !== 'preparing' || !ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no request being prepared');
  if (!equalBytes(m.channelId, ch.params.channelId)) return ignored(m.type, 'prepared state for another channel');
  ch.receiveSettlementSig(m.settleSig);
  ch.receiveUpdateNonce(m.updateNonce);
  // Both settlement signatures are held: B may sign update n.
  const payeeUpdateSig = await ch.signUpdate(b.signer.nonces, b.signer.channelKey);
  r.status = 'requested';
  r.retractionSecret = bytesToHex(randomBytes(32));
  const s = step();
  s.send.push({
    to: r.payerAddress,
    tag: `request:${r.requestId}`,
    retractionSecret: hexToBytes(r.retractionSecret, 32),
    ttlSeconds: Math.max(60, Math.ceil((r.expiry - ctx.now) / 1000)),
    message: {
      type: PaymentType.REQUEST,
      requestId: m.requestId,
      hub: b.config.hubKey,
      hubAddress: b.config.hubAddress,
      payeeAddress: b.config.address,
      amount: r.amount,
      expiry: r.expiry,
      channelId: ch.params.channelId,
      n: m.n,
      updateSighash: ch.updateSighash(),
      hubChannelKey: ch.stateKey(0),
      hubNonce: m.updateNonce,
      payeeChannelKey: ch.stateKey(1),
      payeeUpdateSig,
      memo: r.memo,
    },
  });
  s.events.push({ kind: 'request_sent', offerId: r.requestId, amount: r.amount });
  return s;
}

/** B: S's update signature arrived (from the payer or the hub): state n is B's; acknowledge to S. */
export function payeeOnComplete(b: PayeeRequestContext, from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.REQUEST_COMPLETE>): Step {
  const ch = b.channel;
  const r = b.requests.get(bytesToHex(m.requestId));
  // A request being cancelled still completes: the payer's PTLC reached the hub first, and
  // the hub refuses the cancellation (or answers it with this completion again).
  const open = r?.status === 'requested' ? r.n : r?.status === 'cancelling' ? r.cancelN : undefined;
  if (!r || open === undefined || m.n !== r.n || ch.pending?.state.n !== open)
    return ignored(m.type, 'no open request for that completion');
  if (bytesToHex(from) !== r.payerKey && !equalBytes(from, b.config.hubKey))
    return ignored(m.type, 'completion from neither the payer nor the hub');
  if (!equalBytes(m.channelId, ch.params.channelId)) return ignored(m.type, 'completion for another channel');
  // Drop our cancellation state (never co-signed by the hub; its number stays used) and resume n.
  if (r.status === 'cancelling') ch.restoreOverwritten(r.n);
  const ours = ch.pending.updateSigs[ch.me]!;
  ch.receiveUpdateSig(m.hubUpdateSig, ch.peer); // verified against the sighash; promotes state n
  r.status = 'paid';
  const s = step();
  s.send.push({
    to: b.config.hubAddress,
    message: { type: PaymentType.REQUEST_ACK, channelId: ch.params.channelId, n: m.n, updateSig: ours },
  });
  s.events.push({ kind: 'paid', offerId: r.requestId, amount: r.amount });
  return s;
}

/**
 * B on REJECT of a request's proposal (SPEC 6.14): the hub refused our REQUEST_PREPARE, so the
 * request and its pending S–B state are dropped (the number stays used, SPEC 6.5). Returns
 * undefined when `m` does not refer to a request being prepared.
 */
export function payeeOnRequestReject(b: PayeeRequestContext, m: PaymentMessageOf<typeof PaymentType.REJECT>): Step | undefined {
  const req = b.requests.get(bytesToHex(m.ref));
  if (req?.status === 'cancelling' && m.refType === PaymentType.CANCEL_PROPOSE) return payeeOnCancelRefused(b, req, m);
  if (req?.status !== 'preparing') return undefined;
  const s = step();
  // The hub refused our request's proposal: drop the state so the channel is free again.
  if (b.channel.pending?.state.n === req.n) b.channel.abandonPending();
  b.requests.delete(req.requestId);
  s.events.push({ kind: 'rejected', offerId: req.requestId, code: m.code, message: m.message });
  return s;
}

/**
 * B cancels a request it sent (SPEC 6.14, cancellation): proposes to the hub
 * state n+1 with the balances and PTLCs of the last enforceable state, which
 * supersedes state n, and signs its settlement. The hub decides: it accepts
 * only while no payer's PTLC for the request has reached it.
 */
export async function payeeCancelRequest(b: PayeeRequestContext, requestId: string): Promise<Step> {
  const r = b.requests.get(requestId);
  if (r?.status !== 'requested') reject('no cancellable request with that id');
  const ch = b.channel;
  if (ch.pending?.state.n !== r.n) reject("the pending state is not the request's");
  const e = ch.enforceable.state;
  const next = { n: ch.topN + 1, balances: [e.balances[0], e.balances[1]] as [number, number], ptlcs: e.ptlcs };
  ch.propose(next);
  const settleSig = ch.signSettlement(b.signer.channelKey);
  const updateNonce = await ch.commitUpdateNonce(b.signer.nonces, b.signer.channelKey);
  r.status = 'cancelling';
  r.cancelN = next.n;
  const s = step();
  s.send.push({
    to: b.config.hubAddress,
    message: {
      type: PaymentType.CANCEL_PROPOSE,
      channelId: ch.params.channelId,
      offerId: hexToBytes(r.requestId, 32),
      state: encodeChannelState(next),
      updateNonce,
      settleSig,
    },
  });
  s.events.push({ kind: 'cancelling', offerId: r.requestId });
  return s;
}

/**
 * B on CANCEL_ACCEPT (from its hub): the hub co-signed the cancellation
 * state n+1 and will never sell its update n signature. B signs update n+1
 * (n+1 is enforceable: state n can never be), commits it to the hub, tells
 * the payer the request is void and retracts the request envelope.
 */
export async function payeeOnCancelAccept(b: PayeeRequestContext, m: PaymentMessageOf<typeof PaymentType.CANCEL_ACCEPT>): Promise<Step> {
  const ch = b.channel;
  const r = [...b.requests.values()].find((x) => x.status === 'cancelling' && x.cancelN === m.n);
  if (!r || ch.pending?.state.n !== m.n || !equalBytes(m.channelId, ch.params.channelId))
    return ignored(m.type, 'no request cancellation in flight');
  ch.receiveSettlementSig(m.settleSig);
  ch.receiveUpdateNonce(m.updateNonce);
  const updateSig = await ch.signUpdate(b.signer.nonces, b.signer.channelKey);
  ch.receiveUpdateSig(m.updateSig, ch.peer);
  r.status = 'cancelled';
  const s = step();
  s.send.push({ to: b.config.hubAddress, message: { type: PaymentType.CANCEL_COMMIT, channelId: m.channelId, n: m.n, updateSig } });
  s.send.push({
    to: r.payerAddress,
    message: { type: PaymentType.OFFER_VOID, offerId: hexToBytes(r.requestId, 32), reason: 'cancelled by payee' },
  });
  s.retract.push(`request:${r.requestId}`);
  s.events.push({ kind: 'cancelled', offerId: r.requestId });
  return s;
}

/**
 * B on REJECT of its cancellation: the hub had already taken the payer's
 * PTLC for the request (first of pay or cancel wins, at the hub). B drops
 * the cancellation state (its number stays used) and resumes state n, which
 * the hub's REQUEST_COMPLETE will complete.
 */
function payeeOnCancelRefused(b: PayeeRequestContext, r: PayeeRequest, m: PaymentMessageOf<typeof PaymentType.REJECT>): Step {
  if (b.channel.pending?.state.n === r.cancelN) b.channel.restoreOverwritten(r.n);
  r.status = 'requested';
  const s = step();
  s.events.push({ kind: 'rejected', offerId: r.requestId, code: m.code, message: m.message });
  return s;
}

/** Requests past their expiry that are still open (no payer paid in time): cancelling frees the channel. */
export function expiredRequests(b: Pick<PayeeRequestContext, 'requests'>, now: number): string[] {
  return [...b.requests.values()].filter((r) => r.status === 'requested' && r.expiry <= now).map((r) => r.requestId);
}
