/**
 * The hub's (S's) part of the offer flow (SPEC 6.8), where the payer
 * pre-signs: S co-signs the payer's state n, whose update comes pre-signed
 * to the payee's receipt point T_B (verified at once, SPEC 6.16), attests
 * the offer for the payee, then buys s_B (the payee's receipt signature's s,
 * which completes the payer's update) with a PTLC locked to T_B + r·G. The
 * Hub engine (hub.ts) dispatches to these functions over its state.
 *
 * Safety rules enforced here (each has an adversarial test):
 * - S accepts a proposal only with a pre-signature that verifies for T_B;
 * - S pays only for T_B of the latest pending state of the payer's channel,
 *   only before the offer's (and the invoice's) expiry, and only once;
 * - S refuses an invoice whose PTLC timeout plus the safety margin would not
 *   be below the payer channel's settlement CSV delay;
 * - S refuses to cancel once the PTLC is extended, and refuses invoices for a
 *   cancelled (superseded) state;
 * - the revealed t is checked (t·G = T) and completes A's update signature,
 *   which is verified against the real sighash before S signs its own.
 * @module
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { bytesToHex, equalBytes, hexToBytes } from '../../../base/bytes.js';
import { ErrorCode, isLnMailboxError } from '../../../base/errors.js';
import { PaymentType, decodeChannelState, verifyInvoice, type PaymentMessageOf } from '../../../protocol/payment.js';
import { randomTweak, tweakPoint, untweakSecret } from '../../../crypto/tweak.js';
import { adaptorAdapt, adaptorPoint } from '../../../crypto/adaptor.js';
import { sign } from '../../../crypto/bip340.js';
import { attestationMessage } from '../../../protocol/receipt.js';
import { checkPtlcTimelock, sameState, transfer } from '../../channel/state.js';
import { CHANNEL_UPDATE_HASH_TYPE } from '../../channel/onchain.js';
import { hubFee } from '../fee.js';
import type { PeerChannel } from '../peers.js';
import { checkFulfillState, checkRemove, commitPtlc, extendPtlc, settlePtlc, type Signer } from '../ptlc-exchange.js';
import { reject } from '../refusal.js';
import { COMPLETION_TTL_SECONDS, ignored, step, type ArchivedPayment, type Step, type StepContext } from '../types.js';
import { DEFAULT_TIMEOUT_SLACK, type HubConfig } from './config.js';

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
  /** The receipt point T_B the payer's update pre-signature is encrypted to (SPEC 6.16). */
  point: string;
  /** The payer's adaptor pre-signature of update n, encrypted to T_B. */
  presig: string;
  status: HubStatus;
  payeeChannel?: string;
  /** The tweak r of the PTLC to the payee (locked to T + r·G); the payee reveals t + r. */
  tweak?: string;
  ptlcState?: number;
  secret?: string;
  /** Our update signature completing the payer's state n, once bought: re-sent if the COMPLETION is lost. */
  hubUpdateSig?: string;
}

/**
 * What the hub remembers of a finished offer (see {@link hubArchive}) while
 * a message of it could still do harm or confuse its payer.
 */
export interface FinishedOffer {
  /** The offer's expiry (ms). */
  expiry: number;
  /** The payer channel (hex). */
  channel: string;
  /** The payer channel's highest state number when the offer finished. */
  n: number;
}

/** What the hub's offer-flow steps need of the hub engine. */
export interface HubOfferContext {
  config: HubConfig;
  peers: Map<string, PeerChannel>;
  payments: Map<string, HubPayment>;
  /**
   * Offers finished and moved out of `payments` (see {@link hubArchive}), by
   * offer id: their UPDATE_PROPOSE and CANCEL_PROPOSE are ignored, an INVOICE refused.
   */
  finished: Map<string, FinishedOffer>;
  /**
   * Whether `id` (hex) names a request the hub knows, in flight or finished
   * and still remembered: an UPDATE_PROPOSE under that id is refused, since
   * an id names one payment in one flow.
   */
  isRequestId(id: string): boolean;
  signer: Signer;
  /** The channel `id` whose peer is `from` (PAYMENT_REJECTED otherwise). */
  peer(id: Uint8Array, from: Uint8Array): PeerChannel;
}

/**
 * S: the payer proposes state n moving amount + fee to us (UPDATE_PROPOSE). We co-sign the
 * settlement, commit our update nonce, verify the payer's update pre-signature for T_B (SPEC 6.16) and record T_B, the point we pay for.
 */
export async function hubOnPropose(
  h: HubOfferContext,
  from: Uint8Array,
  m: PaymentMessageOf<typeof PaymentType.UPDATE_PROPOSE>,
  ctx: StepContext,
): Promise<Step> {
  const id = bytesToHex(m.offerId);
  if (h.payments.has(id) || h.finished.has(id)) return ignored(m.type, 'duplicate proposal');
  // An id names one payment in one flow: an offer named after a request (in flight or finished)
  // would take that request's id, its messages and its archived record.
  if (h.isRequestId(id)) reject('the id already names a request at this hub');
  const { channel: ch } = h.peer(m.channelId, from);
  if (ch.me !== 1) reject('the hub is party 1 of a payer channel');
  ch.requireOpen();
  if (!(m.expiry > ctx.now)) reject('offer already expired');
  const fee = hubFee(m.amount, h.config.fee);
  if (m.fee < fee) reject(`fee ${m.fee} below the hub's fee ${fee}`);
  const proposed = decodeChannelState(m.state);
  const expected = transfer(ch.enforceable.state, 0, m.amount + m.fee, proposed.n);
  if (!sameState(proposed, expected)) reject('proposed state does not move exactly amount + fee to the hub', ErrorCode.CHANNEL_INVARIANT);
  // A new proposal overwrites a pending one only if that one was never extended.
  const prior = pendingOn(h, bytesToHex(m.channelId));
  if (prior && prior.status !== 'pending') reject('a PTLC is already extended for the pending state');
  // Any other pending state (a request's PTLC being negotiated) is never overwritten.
  if (ch.pending && !(prior && prior.n === ch.pending.state.n)) reject('the channel is busy');
  // SPEC 6.16: the payer's update n comes pre-signed, encrypted to the receipt point T_B; its
  // nonce x(R') is the payer's committed update nonce. Verified now, while the payer is online.
  ch.acceptProposal(proposed, m.settleSig, m.updatePresig.subarray(1, 33), () => ch.verifyUpdatePresig(m.updatePresig, m.receiptPoint, 0));
  const settleSig = ch.signSettlement(h.config.channelKey);
  const R = await ch.commitUpdateNonce(h.signer.nonces, h.config.channelKey);
  if (prior) prior.status = 'cancelled';
  const point = m.receiptPoint;
  // The attestation the payee checks before it burns a ticket: we hold this offer's pre-signed state.
  const attestation = sign(attestationMessage(m.offerId, point, m.amount, m.expiry), h.config.identityKey);
  h.payments.set(id, {
    offerId: id,
    payerChannel: bytesToHex(m.channelId),
    n: proposed.n,
    amount: m.amount,
    fee: m.fee,
    expiry: m.expiry,
    point: bytesToHex(point),
    presig: bytesToHex(m.updatePresig),
    status: 'pending',
  });
  const s = step();
  s.send.push({
    to: h.peers.get(bytesToHex(m.channelId))!.peerAddress,
    message: { type: PaymentType.UPDATE_ACCEPT, channelId: m.channelId, n: proposed.n, updateNonce: R, settleSig, attestation },
  });
  s.events.push({ kind: 'proposed', offerId: id });
  return s;
}

function pendingOn(h: HubOfferContext, channelHex: string): HubPayment | undefined {
  for (const p of h.payments.values())
    if (p.payerChannel === channelHex && (p.status === 'pending' || p.status === 'extended' || p.status === 'committed')) return p;
  return undefined;
}

/**
 * S: the payee's invoice for an offer. We extend a PTLC locked to T + r·G to the payee only for
 * T of the payer's latest pending state, before expiry, once, and within the timelock rule.
 */
export async function hubOnInvoice(
  h: HubOfferContext,
  from: Uint8Array,
  m: PaymentMessageOf<typeof PaymentType.INVOICE>,
  ctx: StepContext,
): Promise<Step> {
  if (!verifyInvoice(m)) reject('invoice signature does not verify', ErrorCode.INVALID_SIGNATURE);
  if (!equalBytes(from, m.payeeKey)) reject('invoice must be sent by its signer');
  const id = bytesToHex(m.offerId);
  const p = h.payments.get(id);
  // A finished offer left `payments` (see hubArchive): refused like an unknown one.
  if (!p) reject('unknown offer, or finished (paid, or cancelled: its state superseded)');
  if (p.status !== 'pending') {
    if (p.status === 'cancelled') reject('the offer was cancelled: its state is superseded');
    return ignored(m.type, 'invoice already handled');
  }
  const payer = h.peers.get(p.payerChannel)!.channel;
  // Pay only for T of the latest pending state, before expiry.
  if (!payer.pending || payer.pending.state.n !== p.n) reject('the offer is not for the latest pending state');
  if (bytesToHex(m.point) !== p.point) reject('invoice point differs from the recorded payment point');
  if (m.amount !== p.amount) reject('invoice amount differs from the offer');
  if (!(ctx.now < p.expiry)) reject('offer expired');
  if (!(ctx.now < m.expiry)) reject('invoice expired');
  const payee = h.peer(m.payeeChannel, from);
  if (payee.channel.me !== 0) reject('the hub is party 0 of a payee channel');
  if (m.timeoutDelta > h.config.maxTimeoutDelta) reject(`timeout delta ${m.timeoutDelta} above the hub's maximum`);
  // Nothing new over a channel with an update on chain: the payer could settle an old state
  // before we learn t (payer side), or the PTLC could not be enforced (payee side).
  payer.requireOpen();
  payee.channel.requireOpen();
  const timeout = ctx.height + m.timeoutDelta + (h.config.timeoutSlack ?? DEFAULT_TIMEOUT_SLACK);
  checkPtlcTimelock(timeout, ctx.height, payer.params.csvDelay, h.config.safetyMargin, payer.closing?.height);
  if (payee.channel.pending) reject('the payee channel is busy');
  // Decorrelation: the PTLC is locked to T + r·G with a tweak only S and its peer know.
  const tweak = randomTweak(randomBytes(32));
  const add = await extendPtlc(payee.channel, h.signer, { id: m.offerId, amount: m.amount, point: m.point, timeout }, tweak);
  p.status = 'extended';
  p.tweak = bytesToHex(tweak);
  p.payeeChannel = bytesToHex(m.payeeChannel);
  p.ptlcState = payee.channel.topN;
  const s = step();
  s.send.push({ to: payee.peerAddress, message: add });
  s.events.push({ kind: 'ptlc_extended', offerId: id, timeout });
  return s;
}

/** S: the payee co-signed the state with our PTLC; we commit it (PTLC_COMMIT). */
export async function hubOnPtlcAccept(
  h: HubOfferContext,
  from: Uint8Array,
  m: PaymentMessageOf<typeof PaymentType.PTLC_ACCEPT>,
): Promise<Step> {
  const { channel: ch, peerAddress } = h.peer(m.channelId, from);
  const p = byPtlc(h, bytesToHex(m.channelId), m.n, 'extended');
  if (!p || !ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no extended PTLC for that state');
  const commit = await commitPtlc(ch, h.signer, m);
  p.status = 'committed';
  const s = step();
  s.send.push({ to: peerAddress, message: commit });
  s.events.push({ kind: 'ptlc_committed', offerId: p.offerId });
  return s;
}

function byPtlc(h: HubOfferContext, channelHex: string, n: number, status: HubStatus): HubPayment | undefined {
  for (const p of h.payments.values()) if (p.payeeChannel === channelHex && p.ptlcState === n && p.status === status) return p;
  return undefined;
}

/**
 * S: the payee revealed t + r. We check it against T + r·G, complete the payer's update n with
 * t (verified against its sighash before we sign ours), settle the PTLC, and tell the payer.
 */
export async function hubOnFulfill(
  h: HubOfferContext,
  from: Uint8Array,
  m: PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>,
): Promise<Step> {
  const { channel: sb, peerAddress } = h.peer(m.channelId, from);
  const id = bytesToHex(m.offerId);
  const p = h.payments.get(id);
  if (p?.status !== 'committed' || p.payeeChannel !== bytesToHex(m.channelId)) return ignored(m.type, 'no committed PTLC for that offer');
  const tweak = hexToBytes(p.tweak ?? '00'.repeat(32), 32);
  const t = untweakSecret(m.secret, tweak); // = s_B, the payee's receipt signature's s, if the secret is right
  // 1. The secret is checked by what it buys: the payer's update n, its pre-signature (verified
  // against T_B when the payer proposed) adapted with t, verified against the real sighash.
  // That signature verifies exactly when t·G = T_B, i.e. (t + r)·G = T_B + r·G, the point
  // of the PTLC: one verification, which we make anyway, instead of a separate t·G. The
  // step is all or nothing: if a check below fails, the signature taken here is dropped.
  if (!takePayerUpdateSig(h, p, t)) reject('secret does not match the payment point', ErrorCode.INVALID_SIGNATURE);
  checkFulfillState(sb, m);
  // 2. Move the payee channel on: the PTLC becomes the payee's balance. Settling verifies the
  // payee's settlement signature, so the message is whole before we sign anything.
  const settle = await settlePtlc(sb, h.signer, m);
  const s = await buyPayerUpdate(h, p, t, true);
  s.send.unshift({ to: peerAddress, message: settle });
  return s;
}

/**
 * Completes the payer's update n of payment `p` with `t` (its pre-signature
 * adapted) and takes it if it verifies against the real sighash. False, with
 * nothing taken, when it does not: `t` is not the secret of the payment point.
 */
function takePayerUpdateSig(h: HubOfferContext, p: HubPayment, t: Uint8Array): boolean {
  const as = h.peers.get(p.payerChannel)!.channel;
  try {
    const sigA = new Uint8Array(65);
    sigA.set(adaptorAdapt(hexToBytes(p.presig, 65), t), 0); // INVALID_SECRET_KEY for t = 0
    sigA[64] = CHANNEL_UPDATE_HASH_TYPE;
    as.receiveUpdateSig(sigA, 0); // verified against the real sighash before we sign
  } catch (e) {
    if (isLnMailboxError(e) && (e.code === ErrorCode.INVALID_SIGNATURE || e.code === ErrorCode.INVALID_SECRET_KEY)) return false;
    throw e;
  }
  return true;
}

/**
 * S holds `s_B` of a committed payment: completes the payer's update n with
 * it (the pre-signature adapted, checked against the real sighash; already
 * taken when `taken`), signs its own update n, and tells the payer
 * (COMPLETION). The payment is bought.
 */
async function buyPayerUpdate(h: HubOfferContext, p: HubPayment, t: Uint8Array, taken = false): Promise<Step> {
  const payer = h.peers.get(p.payerChannel)!;
  const as = payer.channel;
  if (!taken && !takePayerUpdateSig(h, p, t)) reject('secret does not match the payment point', ErrorCode.INVALID_SIGNATURE);
  const ourSigN = await as.signUpdate(h.signer.nonces, h.config.channelKey); // promotes state n
  p.status = 'bought';
  p.secret = bytesToHex(t);
  p.hubUpdateSig = bytesToHex(ourSigN);
  const s = step();
  // Tell the payer: s_B (its receipt, and the completion of its update) and our update signature.
  s.send.push(completion(p, payer.peerAddress));
  s.events.push({ kind: 'signature_bought', offerId: p.offerId, n: p.n });
  return s;
}

/**
 * S: the payee claimed the PTLC of a committed payment on chain, revealing
 * `s_B + r` in the claim's witness (the watchtower read it, SPEC 6.18). S
 * completes the payer's update n with `s_B`, exactly as on `PTLC_FULFILL`,
 * and sends the payer its COMPLETION: the S–B channel is settled on chain,
 * so there is no state m+1 to sign. Anything that does not match (no
 * committed payment with that PTLC on that channel, a secret for another
 * point) changes nothing.
 */
export async function hubOnChainSecret(h: HubOfferContext, channelId: string, ptlcId: string, secret: Uint8Array): Promise<Step> {
  const p = h.payments.get(ptlcId);
  if (p?.status !== 'committed' || p.payeeChannel !== channelId) return step();
  const tweak = hexToBytes(p.tweak ?? '00'.repeat(32), 32);
  if (!equalBytes(adaptorPoint(secret), tweakPoint(hexToBytes(p.point, 33), tweak))) return step();
  return buyPayerUpdate(h, p, untweakSecret(secret, tweak)); // s_B
}

/** The COMPLETION of a bought payment: s_B and our update signature. */
function completion(p: HubPayment, to: string): Step['send'][number] {
  return {
    to,
    // The payer may stay away long: ask the relay to keep this as long as it allows.
    ttlSeconds: COMPLETION_TTL_SECONDS,
    message: {
      type: PaymentType.COMPLETION,
      channelId: hexToBytes(p.payerChannel, 32),
      n: p.n,
      offerId: hexToBytes(p.offerId, 32),
      secret: hexToBytes(p.secret!, 32),
      updateSig: hexToBytes(p.hubUpdateSig!),
    },
  };
}

/** S: the payee acknowledged the settlement of the PTLC: the payment is settled. */
export function hubOnSettleAck(h: HubOfferContext, from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.PTLC_SETTLE_ACK>): Step {
  const { channel: ch } = h.peer(m.channelId, from);
  if (!ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no pending state for that ack');
  ch.receiveUpdateSig(m.updateSig);
  const p = [...h.payments.values()].find((x) => x.status === 'bought' && x.payeeChannel === bytesToHex(m.channelId));
  if (p) p.status = 'settled';
  const s = step();
  if (p) s.events.push({ kind: 'paid', offerId: p.offerId, amount: p.amount });
  return s;
}

/**
 * S: the payer cancels an offer (CANCEL_PROPOSE). Allowed only until the PTLC is extended; a
 * payment already bought gets its COMPLETION again instead.
 */
export async function hubOnCancel(
  h: HubOfferContext,
  from: Uint8Array,
  m: PaymentMessageOf<typeof PaymentType.CANCEL_PROPOSE>,
): Promise<Step> {
  const { channel: ch, peerAddress } = h.peer(m.channelId, from);
  const next = decodeChannelState(m.state);
  const id = bytesToHex(m.offerId);
  const p = h.payments.get(id);
  if (!p && h.finished.has(id)) {
    ch.noteRefusedProposal(next, m.settleSig); // as for a bought one: the payer released a settlement for that number
    return ignored(m.type, 'the offer is finished');
  }
  if (!p) reject('unknown offer');
  if (p.payerChannel !== bytesToHex(m.channelId)) reject('the offer belongs to another channel');
  if (p.status === 'cancelled') return ignored(m.type, 'already cancelled');
  // The payment completed but the payer asks to cancel: it never got the COMPLETION (lost,
  // or its TTL ran out). Send it again; the payer completes instead of cancelling.
  if ((p.status === 'bought' || p.status === 'settled') && p.hubUpdateSig) {
    ch.noteRefusedProposal(next, m.settleSig); // the payer released a settlement for that number
    const s = step();
    s.send.push(completion(p, peerAddress));
    return s;
  }
  // Until the PTLC is extended, A and S may overwrite state n; after, never.
  if (p.status !== 'pending') reject('the PTLC is already extended to the payee; the payment cannot be cancelled');
  const e = ch.enforceable.state;
  const expected = { n: next.n, balances: [e.balances[0], e.balances[1]] as [number, number], ptlcs: e.ptlcs };
  if (!sameState(next, expected)) reject('cancellation state must restore the last enforceable balances', ErrorCode.CHANNEL_INVARIANT);
  if (!ch.pending || ch.pending.state.n !== p.n) reject("the pending state is not the offer's");
  ch.acceptProposal(next, m.settleSig, m.updateNonce);
  const settleSig = ch.signSettlement(h.config.channelKey);
  const R = await ch.commitUpdateNonce(h.signer.nonces, h.config.channelKey);
  const updateSig = await ch.signUpdate(h.signer.nonces, h.config.channelKey);
  p.status = 'cancelled';
  const s = step();
  s.send.push({
    to: peerAddress,
    message: { type: PaymentType.CANCEL_ACCEPT, channelId: m.channelId, n: next.n, updateNonce: R, settleSig, updateSig },
  });
  s.events.push({ kind: 'cancelled', offerId: id });
  return s;
}

/** S: the payer's update signature of the cancellation state. */
export function hubOnCancelCommit(h: HubOfferContext, from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.CANCEL_COMMIT>): Step {
  const { channel: ch } = h.peer(m.channelId, from);
  if (!ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no pending cancellation');
  ch.receiveUpdateSig(m.updateSig);
  return step();
}

/** S: the payee refused our PTLC before co-signing it: drop that state; the offer is pending again. */
export function hubOnPtlcFail(h: HubOfferContext, from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.PTLC_FAIL>): Step {
  const { channel: ch } = h.peer(m.channelId, from);
  const p = h.payments.get(bytesToHex(m.offerId));
  // Only the payee, on the channel the PTLC was extended over, can fail it.
  if (p?.status !== 'extended' || p.payeeChannel !== bytesToHex(m.channelId))
    return ignored(m.type, 'no extended PTLC to fail on that channel');
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
export async function hubOnRemove(
  h: HubOfferContext,
  from: Uint8Array,
  m: PaymentMessageOf<typeof PaymentType.PTLC_REMOVE>,
): Promise<Step> {
  const { channel: ch, peerAddress } = h.peer(m.channelId, from);
  const id = bytesToHex(m.offerId);
  const p = h.payments.get(id);
  if (p?.status !== 'committed' || p.payeeChannel !== bytesToHex(m.channelId))
    return ignored(m.type, 'no committed PTLC for that offer on that channel');
  checkRemove(ch, m);
  const settle = await settlePtlc(ch, h.signer, m);
  p.status = 'pending';
  delete p.ptlcState;
  delete p.tweak;
  delete p.payeeChannel;
  const s = step();
  s.send.push({ to: peerAddress, message: settle });
  s.events.push({
    kind: 'rejected',
    offerId: id,
    code: ErrorCode.PAYMENT_REJECTED,
    message: `the PTLC was given back: ${m.reason}`.slice(0, 500),
  });
  return s;
}

/**
 * S: a REJECT from a payee of an offer it refused (its ticket was already used,
 * SPEC 6.16). Taken only from the peer of a payee channel, for a pending offer;
 * the refusal is passed on to the payer, who cancels.
 */
export function hubOnPayeeReject(h: HubOfferContext, from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.REJECT>): Step {
  if (m.refType !== PaymentType.OFFER) return ignored(m.type, 'not a refused offer');
  const p = h.payments.get(bytesToHex(m.ref));
  if (p?.status !== 'pending') return ignored(m.type, 'no pending offer for that refusal');
  const fromPayee = [...h.peers.values()].some((x) => x.channel.me === 0 && equalBytes(x.peerKey, from));
  if (!fromPayee) return ignored(m.type, 'refusal not from a payee of ours');
  const s = step();
  s.send.push({
    to: h.peers.get(p.payerChannel)!.peerAddress,
    ttlSeconds: COMPLETION_TTL_SECONDS,
    message: { ...m, message: m.message.slice(0, 500) },
  });
  s.events.push({ kind: 'rejected', offerId: p.offerId, code: m.code, message: m.message });
  return s;
}

/**
 * How long (ms) past its expiry a finished offer's id is still remembered
 * in {@link HubOfferContext.finished}. Past its expiry, every message that
 * could start the payment again (UPDATE_PROPOSE, then INVOICE) is refused
 * anyway; the grace only covers the hub's clock stepping back.
 */
export const FINISHED_GRACE_MS = 60 * 60 * 1000;

/**
 * True when nothing about payment `p` can change any more, in either
 * channel: it was cancelled (before any PTLC was extended: a cancelled
 * offer never has one), or the payee acknowledged the PTLC's settlement and
 * the payer holds the COMPLETION. The payer shows it holds it by going past
 * state n: a later state of the payer channel proposed from state n's
 * balances, pending or enforceable. Until then a CANCEL_PROPOSE may still
 * ask for the COMPLETION again. A payment bought whose payee claimed on
 * chain stays `bought` and is kept.
 */
function isFinished(h: HubOfferContext, p: HubPayment): boolean {
  if (p.status === 'cancelled') return true;
  if (p.status !== 'settled') return false;
  const payer = h.peers.get(p.payerChannel)?.channel;
  if (!payer) return false;
  return payer.enforceable.state.n > p.n || (payer.pending !== undefined && payer.pending.state.n > p.n);
}

/**
 * Whether a finished offer's id can be forgotten at time `now` (ms): when
 * it is more than {@link FINISHED_GRACE_MS} past its expiry, or when the
 * payer co-signed a state of its channel at least as high as any the
 * channel had when the offer finished (the cancellation's state, or a later
 * payment's). In both cases every message of the offer is refused anyway
 * (expired; or its state number is used: numbers are never reused), and a
 * payer that went that far holds the outcome (COMPLETION or CANCEL_ACCEPT):
 * the refusal of a late duplicate of its proposal cannot undo it.
 */
function forgettable(h: HubOfferContext, f: FinishedOffer, now: number): boolean {
  if (now > f.expiry + FINISHED_GRACE_MS) return true;
  const payer = h.peers.get(f.channel)?.channel;
  return payer !== undefined && payer.enforceable.state.n >= f.n;
}

/**
 * Moves every finished payment (see {@link isFinished}) out of `payments`
 * into `finished`, and forgets the finished offers that are
 * {@link forgettable} at time `now` (ms). Returns the records moved, for
 * the runtime to store. The work is bounded by the payments in flight plus
 * about one finished offer per payer channel.
 */
export function hubArchive(h: HubOfferContext, now: number): ArchivedPayment[] {
  const out: ArchivedPayment[] = [];
  for (const [id, p] of h.payments) {
    if (!isFinished(h, p)) continue;
    h.payments.delete(id);
    const payer = h.peers.get(p.payerChannel)!.channel;
    h.finished.set(id, { expiry: p.expiry, channel: p.payerChannel, n: Math.max(payer.highN, p.n) });
    out.push({ id, record: p });
  }
  for (const [id, f] of h.finished) if (forgettable(h, f, now)) h.finished.delete(id);
  return out;
}
