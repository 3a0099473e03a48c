/**
 * The payer's (A's) part of the request flow: it checks a payee's request,
 * buys the hub's update signature with a PTLC (step 3) and, as the payee's
 * watchtower, keeps the completed update and sends it on. The Payer engine
 * (payer.ts) dispatches to these functions over its state.
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
import { decodeMailboxAddress } from '../../../protocol/address.js';
import { bytesToHex, equalBytes, hexToBytes } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { PaymentType, type PaymentMessageOf } from '../../../protocol/payment.js';
import { signaturePoint, verify } from '../../../crypto/bip340.js';
import { randomTweak, tweakPoint, untweakSecret } from '../../../crypto/tweak.js';
import type { Channel } from '../../channel/channel.js';
import { CHANNEL_UPDATE_HASH_TYPE } from '../../channel/onchain.js';
import { checkFulfill, commitPtlc, extendPtlc, settlePtlc, type Signer } from '../ptlc-exchange.js';
import { reject } from '../refusal.js';
import { COMPLETION_TTL_SECONDS, ignored, step, type Step, type StepContext } from '../types.js';
import type { PayerConfig } from './config.js';

/** Blocks beyond the A–S CSV delay that the payer gives its PTLC to the hub. */
export const REQUEST_TIMEOUT_EXTRA = 24;

/** A payee's pre-signed request as the payer keeps it (and, once bought, as its watchtower record). */
export interface ReceivedRequest {
  requestId: string;
  payeeKey: string;
  payeeAddress: string;
  amount: number;
  fee?: number;
  expiry: number;
  memo: string;
  channelId: string;
  n: number;
  updateSighash: string;
  hubChannelKey: string;
  hubNonce: string;
  payeeChannelKey: string;
  payeeUpdateSig: string;
  point: string;
  /** received → paying → committed → bought → completed; or *void*: the payee cancelled it (SPEC 6.14, cancellation). */
  status: 'received' | 'paying' | 'committed' | 'bought' | 'completed' | 'void';
  /** The payee's void arrived while we were paying: if the hub refuses our PTLC, the request is *void*. */
  voided?: boolean;
  /** S's update n signature for the payee's channel, once bought: with `payeeUpdateSig` the complete update. */
  hubUpdateSig?: string;
  /** Our tweak r of the PTLC to the hub (locked to T_S + r·G); the hub reveals s_S + r. */
  tweak?: string;
}

/** What the payer's request-flow steps need of the payer engine. */
export interface PayerRequestContext {
  /** The payer's configuration: its hub's key (a request must name it) and mailbox address. */
  config: PayerConfig;
  /** The A–S channel. */
  channel: Channel;
  signer: Signer;
  /** Requests received, by request id (hex). */
  requests: Map<string, ReceivedRequest>;
  /**
   * Finished requests moved out of `requests` (see {@link receivedRequestFinished}),
   * by id, with their expiry (ms): a REQUEST naming one is a duplicate.
   */
  finishedRequests: Map<string, { expiry: number }>;
}

/**
 * True when nothing about received request `r` can change any more and no
 * one needs its record: only a *void* one (its payee cancelled it, and no
 * PTLC of ours for it is pending: the hub refused it or we never paid). A
 * request we bought is kept: its record is the payee's complete update, which
 * this payer watches on chain for it (SPEC 6.18).
 */
export function receivedRequestFinished(r: ReceivedRequest): boolean {
  return r.status === 'void';
}

/** A: checks a request: through our own hub, unexpired, with B's update signature valid; computes T_S itself. */
export function payerOnRequest(
  a: PayerRequestContext,
  from: Uint8Array,
  m: PaymentMessageOf<typeof PaymentType.REQUEST>,
  ctx: StepContext,
): Step {
  const id = bytesToHex(m.requestId);
  // A request that finished left `requests`; its id is remembered until the request expired
  // (it is refused as expired below from then on), so a replayed REQUEST is never new again.
  if (a.requests.has(id) || a.finishedRequests.has(id)) return ignored(m.type, 'duplicate request');
  if (!equalBytes(m.hub, a.config.hubKey)) return ignored(m.type, 'request through a hub we have no channel with');
  // The completion goes to payeeAddress: it must be the sender's own mailbox.
  let payeeMailbox: Uint8Array;
  try {
    payeeMailbox = decodeMailboxAddress(m.payeeAddress).publicKey;
  } catch {
    return ignored(m.type, 'request names an invalid payee address');
  }
  if (!equalBytes(payeeMailbox, from)) return ignored(m.type, "request's payee address is not the sender's mailbox");
  if (!(m.expiry > ctx.now)) return ignored(m.type, 'request expired');
  if (m.payeeUpdateSig[64] !== CHANNEL_UPDATE_HASH_TYPE || !verify(m.payeeUpdateSig.subarray(0, 64), m.updateSighash, m.payeeChannelKey))
    return ignored(m.type, "payee's update signature does not verify");
  const point = signaturePoint(m.hubNonce, m.hubChannelKey, m.updateSighash);
  a.requests.set(id, {
    requestId: id,
    payeeKey: bytesToHex(from),
    payeeAddress: m.payeeAddress,
    amount: m.amount,
    expiry: m.expiry,
    memo: m.memo,
    channelId: bytesToHex(m.channelId),
    n: m.n,
    updateSighash: bytesToHex(m.updateSighash),
    hubChannelKey: bytesToHex(m.hubChannelKey),
    hubNonce: bytesToHex(m.hubNonce),
    payeeChannelKey: bytesToHex(m.payeeChannelKey),
    payeeUpdateSig: bytesToHex(m.payeeUpdateSig),
    point: bytesToHex(point),
    status: 'received',
  });
  const s = step();
  s.events.push({ kind: 'request_received', offerId: id, amount: m.amount, payee: bytesToHex(from) });
  return s;
}

/** A: pays a received request: a PTLC of amount + fee to the hub, locked to T_S. */
async function payerPayRequest(
  a: PayerRequestContext,
  r: ReceivedRequest,
  fee: number,
  ctx: StepContext,
): Promise<PaymentMessageOf<typeof PaymentType.PTLC_ADD>> {
  if (r.status !== 'received') reject('request is not payable');
  if (!(r.expiry > ctx.now)) reject('request expired');
  const ch = a.channel;
  const tweak = randomTweak(randomBytes(32));
  const add = await extendPtlc(
    ch,
    a.signer,
    {
      id: hexToBytes(r.requestId, 32),
      amount: r.amount + fee,
      point: hexToBytes(r.point, 33),
      timeout: ctx.height + ch.params.csvDelay + REQUEST_TIMEOUT_EXTRA,
    },
    tweak,
  );
  r.status = 'paying';
  r.fee = fee;
  r.tweak = bytesToHex(tweak);
  return add;
}

/** A: the hub accepted the PTLC; commit it. */
async function payerOnAccept(a: PayerRequestContext, r: ReceivedRequest, m: PaymentMessageOf<typeof PaymentType.PTLC_ACCEPT>) {
  const commit = await commitPtlc(a.channel, a.signer, m);
  r.status = 'committed';
  return commit;
}

/**
 * A: the hub revealed s_S. A checks it against T_S and that it completes the
 * hub's update n signature, settles the A–S state, and keeps S's signature
 * for the payee (its watchtower record: with the payee's own signature it is
 * the complete update n), to be sent to the payee.
 */
async function payerOnFulfill(
  a: PayerRequestContext,
  r: ReceivedRequest,
  m: PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>,
): Promise<{ settle: PaymentMessageOf<typeof PaymentType.PTLC_SETTLE>; complete: PaymentMessageOf<typeof PaymentType.REQUEST_COMPLETE> }> {
  const tweak = hexToBytes(r.tweak ?? '00'.repeat(32), 32);
  checkFulfill(a.channel, m, tweakPoint(hexToBytes(r.point, 33), tweak));
  const hubUpdateSig = new Uint8Array(65);
  hubUpdateSig.set(hexToBytes(r.hubNonce, 32), 0);
  hubUpdateSig.set(untweakSecret(m.secret, tweak), 32);
  hubUpdateSig[64] = CHANNEL_UPDATE_HASH_TYPE;
  if (!verify(hubUpdateSig.subarray(0, 64), hexToBytes(r.updateSighash, 32), hexToBytes(r.hubChannelKey, 32)))
    reject("the revealed secret does not complete the hub's update signature", ErrorCode.INVALID_SIGNATURE);
  const settle = await settlePtlc(a.channel, a.signer, m);
  r.status = 'bought';
  r.hubUpdateSig = bytesToHex(hubUpdateSig);
  return {
    settle,
    complete: { type: PaymentType.REQUEST_COMPLETE, requestId: m.offerId, channelId: hexToBytes(r.channelId, 32), n: r.n, hubUpdateSig },
  };
}

/** A: pays the received request `requestId` (a PTLC of amount + `fee` to the hub, locked to T_S). */
export async function payerRequestPay(a: PayerRequestContext, requestId: string, fee: number, ctx: StepContext): Promise<Step> {
  const r = a.requests.get(requestId);
  if (!r) reject('unknown request');
  const add = await payerPayRequest(a, r, fee, ctx);
  const s = step();
  s.send.push({ to: a.config.hubAddress, message: add });
  return s;
}

/** A: the hub refused our PTLC for a request: drop the proposed state; the request can be paid again. */
export function payerRequestFail(a: PayerRequestContext, m: PaymentMessageOf<typeof PaymentType.PTLC_FAIL>): Step {
  const r = a.requests.get(bytesToHex(m.offerId));
  if (r?.status !== 'paying' || !equalBytes(m.channelId, a.channel.params.channelId)) return ignored(m.type, 'no request being paid');
  a.channel.abandonPending();
  // Refused after the payee voided the request (the hub took its cancellation first): void for good.
  r.status = r.voided ? 'void' : 'received';
  const s = step();
  s.events.push({ kind: 'rejected', offerId: r.requestId, code: ErrorCode.PAYMENT_REJECTED, message: m.reason });
  return s;
}

/** A: the hub's answer to a step of our PTLC for a request (PTLC_ACCEPT, PTLC_FULFILL, PTLC_SETTLE_ACK). */
export async function payerRequestPtlc(
  a: PayerRequestContext,
  m:
    | PaymentMessageOf<typeof PaymentType.PTLC_ACCEPT>
    | PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>
    | PaymentMessageOf<typeof PaymentType.PTLC_SETTLE_ACK>,
): Promise<Step> {
  const ch = a.channel;
  const want = { [PaymentType.PTLC_ACCEPT]: 'paying', [PaymentType.PTLC_FULFILL]: 'committed', [PaymentType.PTLC_SETTLE_ACK]: 'bought' }[
    m.type
  ];
  const r = [...a.requests.values()].find((x) => x.status === want && ('offerId' in m ? x.requestId === bytesToHex(m.offerId) : true));
  if (!r || !equalBytes(m.channelId, ch.params.channelId)) return ignored(m.type, 'no request in that step');
  const s = step();
  if (m.type === PaymentType.PTLC_ACCEPT) {
    if (!ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no pending state for that accept');
    s.send.push({ to: a.config.hubAddress, message: await payerOnAccept(a, r, m) });
  } else if (m.type === PaymentType.PTLC_FULFILL) {
    const { settle, complete } = await payerOnFulfill(a, r, m);
    s.send.push({ to: a.config.hubAddress, message: settle });
    // The payee's state n is now complete; give it S's signature (we keep a copy as its watchtower).
    s.send.push({ to: r.payeeAddress, ttlSeconds: COMPLETION_TTL_SECONDS, message: complete });
    s.events.push({ kind: 'request_paid', offerId: r.requestId, amount: r.amount });
  } else {
    if (!ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no pending state for that ack');
    ch.receiveUpdateSig(m.updateSig);
    r.status = 'completed';
  }
  return s;
}

/**
 * A on OFFER_VOID from a payee for one of its requests (SPEC 6.14,
 * cancellation): the payee cancelled it. Only that request's payee can void
 * it. A received request becomes *void* and can no longer be paid; one we
 * are paying is left to the hub, which decides (first of pay or cancel wins):
 * if it refuses our PTLC, the request is void.
 */
export function payerOnRequestVoid(a: PayerRequestContext, from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.OFFER_VOID>): Step {
  const r = a.requests.get(bytesToHex(m.offerId));
  // Refused (and, as every message the payer refuses, dropped unanswered): a void for no
  // request of ours, or from someone other than that request's payee.
  if (!r) reject('void for no request of ours');
  if (r.payeeKey !== bytesToHex(from)) reject("void from someone other than the request's payee");
  const s = step();
  if (r.status === 'received') {
    r.status = 'void';
    s.events.push({ kind: 'voided', offerId: r.requestId });
  } else if (r.status === 'paying') {
    r.voided = true;
  } else {
    return ignored(m.type, 'void for a request already paid or void');
  }
  return s;
}
