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
import { bytesToHex, equalBytes } from '../../../base/bytes.js';
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
  status: 'preparing' | 'requested' | 'paid';
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
  const s = step();
  s.send.push({
    to: r.payerAddress,
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
  if (r?.status !== 'requested' || !ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no open request for that completion');
  if (bytesToHex(from) !== r.payerKey && !equalBytes(from, b.config.hubKey))
    return ignored(m.type, 'completion from neither the payer nor the hub');
  if (!equalBytes(m.channelId, ch.params.channelId)) return ignored(m.type, 'completion for another channel');
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
  if (req?.status !== 'preparing') return undefined;
  const s = step();
  // The hub refused our request's proposal: drop the state so the channel is free again.
  if (b.channel.pending?.state.n === req.n) b.channel.abandonPending();
  b.requests.delete(req.requestId);
  s.events.push({ kind: 'rejected', offerId: req.requestId, code: m.code, message: m.message });
  return s;
}
