/**
 * The two sides of one PTLC over a channel, shared by the Hub (offerer to
 * its payee), the Payee (receiver) and the Router (receiver upstream,
 * offerer downstream). Each function runs one protocol step on a
 * {@link Channel} and returns the message fields to send; the engines keep
 * the payment bookkeeping. SPEC section 6.7.
 *
 * Offerer:  extend → PTLC_ADD;  PTLC_ACCEPT → commit → PTLC_COMMIT;
 *           PTLC_FULFILL → settle → PTLC_SETTLE;  PTLC_SETTLE_ACK → done.
 * Receiver: PTLC_ADD → accept → PTLC_ACCEPT;  PTLC_COMMIT → fulfill with t → PTLC_FULFILL;
 *           PTLC_SETTLE → ack → PTLC_SETTLE_ACK.
 * @module
 */
import { equalBytes } from '../../base/bytes.js';
import { ErrorCode } from '../../base/errors.js';
import { decodeChannelState, encodeChannelState, PaymentType, type PaymentMessageOf } from '../../protocol/payment.js';
import type { NonceStore } from '../../crypto/nonce.js';
import { adaptorPoint } from '../../crypto/adaptor.js';
import { tweakPoint } from '../../crypto/tweak.js';
import type { Channel } from '../channel/channel.js';
import { addPtlc, resolvePtlc, sameState } from '../channel/state.js';
import { presignPtlcClaim, verifyPtlcClaimPresig } from '../channel/onchain.js';
import { reject } from './refusal.js';

/** A party's signing capability in one channel. */
export interface Signer {
  channelKey: Uint8Array;
  nonces: NonceStore;
}

/**
 * Offerer: proposes the state adding the PTLC and pre-signs its claim. The
 * PTLC is locked to `point + tweak·G` (payment-point decorrelation: each hop
 * sees its own point); the receiver reveals `t + tweak`, and the offerer, who
 * chose `tweak`, recovers `t` with {@link untweakSecret}.
 */
export async function extendPtlc(
  ch: Channel,
  me: Signer,
  x: { id: Uint8Array; amount: number; point: Uint8Array; timeout: number },
  tweak: Uint8Array,
): Promise<PaymentMessageOf<typeof PaymentType.PTLC_ADD>> {
  if (ch.pending) reject('the channel is busy');
  const next = addPtlc(ch.enforceable.state, { ...x, point: tweakPoint(x.point, tweak), offerer: ch.me }, ch.topN + 1);
  ch.propose(next);
  const settleSig = ch.signSettlement(me.channelKey);
  const updateNonce = await ch.commitUpdateNonce(me.nonces, me.channelKey);
  // The receiver claims the PTLC output with its own signature and this one, completed by t.
  const claimPresig = presignPtlcClaim(ch.params, next, x.id, me.channelKey);
  return {
    type: PaymentType.PTLC_ADD,
    channelId: ch.params.channelId,
    state: encodeChannelState(next),
    offerId: x.id,
    tweak,
    updateNonce,
    settleSig,
    claimPresig,
  };
}

/** Offerer: the receiver co-signed state m; we sign its update: state m is enforceable by both. */
export async function commitPtlc(
  ch: Channel,
  me: Signer,
  m: PaymentMessageOf<typeof PaymentType.PTLC_ACCEPT>,
): Promise<PaymentMessageOf<typeof PaymentType.PTLC_COMMIT>> {
  ch.receiveSettlementSig(m.settleSig);
  ch.receiveUpdateNonce(m.updateNonce);
  const updateSig = await ch.signUpdate(me.nonces, me.channelKey);
  ch.receiveUpdateSig(m.updateSig);
  return { type: PaymentType.PTLC_COMMIT, channelId: m.channelId, n: m.n, updateSig };
}

/**
 * Offerer: the state a PTLC_FULFILL or PTLC_REMOVE proposes must be exactly
 * the last enforceable state with the PTLC resolved (`outcome`). The
 * receiver's settlement signature is verified by {@link settlePtlc}, before
 * we sign anything; the engine step is all or nothing.
 */
function checkResolved(ch: Channel, m: { state: Uint8Array; offerId: Uint8Array }, outcome: 'fulfill' | 'fail', what: string): void {
  const next = decodeChannelState(m.state);
  if (!sameState(next, resolvePtlc(ch.enforceable.state, m.offerId, outcome, next.n))) reject(what, ErrorCode.CHANNEL_INVARIANT);
}

/**
 * Offerer: checks the revealed t against the point (`t·G = T`) and that the
 * proposed state pays exactly the PTLC to the receiver. Throws before any state changes.
 */
export function checkFulfill(ch: Channel, m: PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>, point: Uint8Array): void {
  if (!equalBytes(adaptorPoint(m.secret), point)) reject('secret does not match the payment point', ErrorCode.INVALID_SIGNATURE);
  checkFulfillState(ch, m);
}

/**
 * Offerer: {@link checkFulfill} without the check of the secret, for an
 * offerer that checks it otherwise before it settles: the hub completes the
 * payer's pre-signature (verified against the payment point) with it and
 * verifies the result, which holds exactly when the secret matches the point.
 */
export function checkFulfillState(ch: Channel, m: PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>): void {
  checkResolved(ch, m, 'fulfill', 'fulfilled state does not pay exactly the PTLC to the receiver');
}

/** Offerer: checks that a PTLC_REMOVE proposes exactly the state that gives the PTLC's amount back to us. */
export function checkRemove(ch: Channel, m: PaymentMessageOf<typeof PaymentType.PTLC_REMOVE>): void {
  checkResolved(ch, m, 'fail', 'removal state does not give exactly the PTLC back to the offerer');
}

/**
 * Offerer (after {@link checkFulfill} or {@link checkRemove}): verifies the
 * receiver's settlement signature and co-signs the state without the PTLC.
 */
export async function settlePtlc(
  ch: Channel,
  me: Signer,
  m: PaymentMessageOf<typeof PaymentType.PTLC_FULFILL> | PaymentMessageOf<typeof PaymentType.PTLC_REMOVE>,
): Promise<PaymentMessageOf<typeof PaymentType.PTLC_SETTLE>> {
  const next = decodeChannelState(m.state);
  ch.acceptProposal(next, m.settleSig, m.updateNonce);
  const settleSig = ch.signSettlement(me.channelKey);
  const updateNonce = await ch.commitUpdateNonce(me.nonces, me.channelKey);
  const updateSig = await ch.signUpdate(me.nonces, me.channelKey);
  return { type: PaymentType.PTLC_SETTLE, channelId: m.channelId, n: next.n, updateNonce, settleSig, updateSig };
}

/**
 * Receiver: checks that the proposed state adds exactly the expected PTLC
 * (locked to the expected point plus the offerer's `tweak`) with enough time
 * to claim it on chain, and that the claim pre-signature is valid; then
 * co-signs state m (settlement and update). On any failure the pending state
 * is dropped and the error is thrown (the caller answers PTLC_FAIL). The
 * receiver later fulfills with `tweakSecret(t, m.tweak)`.
 */
export async function acceptPtlc(
  ch: Channel,
  me: Signer,
  m: PaymentMessageOf<typeof PaymentType.PTLC_ADD>,
  expect: { amount: number; point: Uint8Array; minTimeout: number },
): Promise<PaymentMessageOf<typeof PaymentType.PTLC_ACCEPT>> {
  if (!equalBytes(m.channelId, ch.params.channelId)) reject('PTLC on an unknown channel');
  const next = decodeChannelState(m.state);
  const added = next.ptlcs.find((x) => equalBytes(x.id, m.offerId));
  if (!added) reject('state does not contain the PTLC');
  if (added.timeout < expect.minTimeout) reject('PTLC timeout leaves too little time to claim');
  const point = tweakPoint(expect.point, m.tweak);
  const expected = addPtlc(
    ch.enforceable.state,
    { id: m.offerId, offerer: ch.peer, amount: expect.amount, point, timeout: added.timeout },
    next.n,
  );
  if (!sameState(next, expected)) reject('state does not add exactly the expected PTLC', ErrorCode.CHANNEL_INVARIANT);
  // A PTLC never displaces a state being negotiated (e.g. a payment the hub already extended).
  if (ch.pending) reject('the channel is busy');
  // All or nothing: on failure nothing stays pending, and we answer PTLC_FAIL.
  ch.acceptProposal(next, m.settleSig, m.updateNonce, () => {
    if (!verifyPtlcClaimPresig(ch.params, next, m.offerId, m.claimPresig))
      reject("the offerer's claim pre-signature does not verify", ErrorCode.INVALID_ADAPTOR_SIGNATURE);
  });
  const settleSig = ch.signSettlement(me.channelKey);
  const updateNonce = await ch.commitUpdateNonce(me.nonces, me.channelKey);
  const updateSig = await ch.signUpdate(me.nonces, me.channelKey);
  return { type: PaymentType.PTLC_ACCEPT, channelId: m.channelId, n: next.n, updateNonce, settleSig, updateSig };
}

/**
 * Receiver: once the offerer's update signature made state m (with the PTLC)
 * enforceable by us (`ch.receiveUpdateSig` of its PTLC_COMMIT), revealing t is
 * safe: proposes the state that pays the PTLC to us and reveals t.
 */
export async function fulfillPtlc(
  ch: Channel,
  me: Signer,
  id: Uint8Array,
  secret: Uint8Array,
): Promise<PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>> {
  if (ch.pending) reject('state m is not yet enforceable: no fulfillment before PTLC_COMMIT');
  return { type: PaymentType.PTLC_FULFILL, offerId: id, secret, ...(await proposeResolved(ch, me, id, 'fulfill')) };
}

/**
 * Receiver: gives a committed PTLC back to the offerer (it cannot be paid
 * on, e.g. the next hop refused it): proposes the state that returns the
 * amount to the offerer. The offerer answers PTLC_SETTLE, as for a fulfillment.
 */
export async function removePtlc(
  ch: Channel,
  me: Signer,
  id: Uint8Array,
  reason: string,
): Promise<PaymentMessageOf<typeof PaymentType.PTLC_REMOVE>> {
  if (ch.pending) reject('the channel is busy: the PTLC cannot be removed now');
  return { type: PaymentType.PTLC_REMOVE, offerId: id, reason: reason.slice(0, 300), ...(await proposeResolved(ch, me, id, 'fail')) };
}

/** Receiver: proposes the state with PTLC `id` resolved, signs its settlement and commits our update nonce. */
async function proposeResolved(ch: Channel, me: Signer, id: Uint8Array, outcome: 'fulfill' | 'fail') {
  const next = resolvePtlc(ch.enforceable.state, id, outcome, ch.topN + 1);
  ch.propose(next);
  const settleSig = ch.signSettlement(me.channelKey);
  const updateNonce = await ch.commitUpdateNonce(me.nonces, me.channelKey);
  return { channelId: ch.params.channelId, state: encodeChannelState(next), updateNonce, settleSig };
}

/** Receiver: co-signs the update of the settled state; both hold it fully signed. */
export async function ackSettle(
  ch: Channel,
  me: Signer,
  m: PaymentMessageOf<typeof PaymentType.PTLC_SETTLE>,
): Promise<PaymentMessageOf<typeof PaymentType.PTLC_SETTLE_ACK>> {
  ch.receiveSettlementSig(m.settleSig);
  ch.receiveUpdateNonce(m.updateNonce);
  const updateSig = await ch.signUpdate(me.nonces, me.channelKey);
  ch.receiveUpdateSig(m.updateSig);
  return { type: PaymentType.PTLC_SETTLE_ACK, channelId: m.channelId, n: m.n, updateSig };
}
