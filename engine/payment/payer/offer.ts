/**
 * The payer's (A's) part of the offer flow (SPEC 6.8), where the payer
 * pre-signs: A pre-signs a channel state with its hub, encrypted to the
 * payee's receipt point, and leaves an offer, sealed, in the payee's mailbox.
 * The Payer engine (payer.ts) dispatches to these functions over its state.
 *
 * Flow: `pay()` with a ticket R_B of the payee → UPDATE_PROPOSE to the hub
 * (A's settlement signature and its update n pre-signed to the receipt point
 * T_B, SPEC 6.16) → UPDATE_ACCEPT (the hub's settlement signature, nonce and
 * attestation) → A sends the OFFER (amount, receipt fields, ticket,
 * attestation) to the payee → … → COMPLETION from the hub: s_B, which
 * completes A's update and is the payee's receipt signature, and the hub's
 * update signature, all verified before the state is accepted.
 * Cancellation: `cancel()` → CANCEL_PROPOSE (state n+1 restoring the balances)
 * → CANCEL_ACCEPT → CANCEL_COMMIT, then OFFER_VOID to the payee and the offer
 * envelope is retracted. A payee's refusal of the offer (its ticket was used)
 * cancels at once.
 *
 * Safety rules enforced here (each has an adversarial test):
 * - one payment in flight per channel, none over a closing channel;
 * - the offer leaves only once A holds both settlement signatures and the
 *   hub's attestation; nothing of A's channel goes to the payee;
 * - a COMPLETION is taken only if its secret is the discrete log of T_B,
 *   completes A's pre-signature, and the hub's update signature completes
 *   state n; the receipt is then the payee's valid signature;
 * - mail from the hub may arrive in any order: a REJECT is decided by its
 *   refType and the payment's status, and an accept that overtakes a
 *   cancellation is remembered (SPEC 6.15, reordered mail).
 * @module
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { bytesToHex, equalBytes, hexToBytes } from '../../../base/bytes.js';
import { ErrorCode, isLnMailboxError } from '../../../base/errors.js';
import { PaymentType, encodeChannelState, type PaymentMessageOf } from '../../../protocol/payment.js';
import { adaptorAdapt, adaptorExtract } from '../../../crypto/adaptor.js';
import { verify } from '../../../crypto/bip340.js';
import { attestationMessage, encodeReceipt, receiptPoint, verifyReceipt, type ReceiptFields } from '../../../protocol/receipt.js';
import { CHANNEL_UPDATE_HASH_TYPE } from '../../channel/onchain.js';
import type { Channel } from '../../channel/channel.js';
import { transfer } from '../../channel/state.js';
import type { Signer } from '../ptlc-exchange.js';
import { reject } from '../refusal.js';
import { ignored, step, type Receipt, type Step, type StepContext } from '../types.js';
import type { PayerConfig } from './config.js';

/** Status of an outgoing payment. */
export type PayerStatus = 'proposed' | 'offered' | 'completed' | 'cancelling' | 'cancelled' | 'failed';

/** One outgoing payment as the payer persists it. Byte fields are hex. */
export interface PayerPayment {
  offerId: string;
  payeeAddress: string;
  payeeKey: string;
  amount: number;
  fee: number;
  expiry: number;
  memo: string;
  n: number;
  status: PayerStatus;
  /** The receipt point T_B the update pre-signature is encrypted to (SPEC 6.16). */
  point?: string;
  /** The payee's ticket R_B (x-only) the receipt will carry. */
  ticket?: string;
  /** Our adaptor pre-signature of update n, encrypted to T_B. */
  presig?: string;
  retractionSecret: string;
  /** While cancelling: the status the cancellation started from (restored if the hub refuses it). */
  cancelFrom?: 'proposed' | 'offered';
  /** The hub accepted state n (UPDATE_ACCEPT) while our cancellation of a proposed payment was in flight. */
  hubAccepted?: boolean;
  /** The payer asked to cancel, the hub did not know the offer yet (reordered mail): cancel again once it does. */
  cancelWanted?: boolean;
  /** The receipt, once completed (hex, the `completed` event's shape). */
  receipt?: Receipt;
}

/** The payer's order to `Payer.pay`: whom to pay, how much, the hub's fee and the offer's expiry. */
export interface PaymentOrder {
  /** The payee's decoded mailbox address: its key and address string. */
  payee: { publicKey: Uint8Array; address: string };
  amount: number;
  fee: number;
  /** Offer expiry, ms since the epoch. */
  expiry: number;
  memo?: string;
  /** A ticket R_B (x-only, 32 bytes) from the payee's published batch (SPEC 6.16), unused as far as the payer knows. */
  ticket: Uint8Array;
  /** Fixed offer id and randomness, for deterministic tests only. */
  offerId?: Uint8Array;
}

/** What the payer's offer-flow steps need of the payer engine. */
export interface PayerOfferContext {
  config: PayerConfig;
  /** The A–S channel (the payer is party 0). */
  channel: Channel;
  payments: Map<string, PayerPayment>;
  signer: Signer;
  /** The payer's identity public key (x-only): the payer named in the receipt message. */
  identityPub: Uint8Array;
}

/**
 * A: starts a payment (SPEC 6.8 step 1): proposes state n moving amount + fee to the hub, with
 * our settlement signature and committed update nonce R_A. Refused while the channel has a
 * pending state (one payment in flight per channel) or is closing (SPEC 6.12).
 */
export async function payerPay(a: PayerOfferContext, req: PaymentOrder, ctx: StepContext): Promise<{ offerId: string; step: Step }> {
  a.channel.requireOpen();
  if (a.channel.pending) reject('a payment is already in flight on this channel');
  if (!(req.expiry > ctx.now)) reject('offer expiry must be in the future');
  const ch = a.channel;
  const n = ch.topN + 1;
  const next = transfer(ch.enforceable.state, 0, req.amount + req.fee, n);
  ch.propose(next);
  const settleSig = ch.signSettlement(a.config.channelKey);
  const offerId = req.offerId ?? randomBytes(32);
  const id = bytesToHex(offerId);
  // SPEC 6.16: the receipt point T_B of the payee's future receipt signature, from its
  // ticket; our update n is pre-signed encrypted to it and goes to the hub, never to the payee.
  const fields = { offerId, amount: req.amount, payer: a.identityPub, payee: req.payee.publicKey, expiry: req.expiry };
  const point = receiptPoint(req.ticket, req.payee.publicKey, fields);
  const presig = ch.presignUpdate(a.config.channelKey, point);
  a.payments.set(id, {
    offerId: id,
    payeeAddress: req.payee.address,
    payeeKey: bytesToHex(req.payee.publicKey),
    amount: req.amount,
    fee: req.fee,
    expiry: req.expiry,
    memo: req.memo ?? '',
    n,
    status: 'proposed',
    point: bytesToHex(point),
    ticket: bytesToHex(req.ticket),
    presig: bytesToHex(presig),
    retractionSecret: bytesToHex(randomBytes(32)),
  });
  const s = step();
  s.send.push({
    to: a.config.hubAddress,
    message: {
      type: PaymentType.UPDATE_PROPOSE,
      channelId: ch.params.channelId,
      state: encodeChannelState(next),
      offerId,
      amount: req.amount,
      fee: req.fee,
      expiry: req.expiry,
      receiptPoint: point,
      updatePresig: presig,
      settleSig,
    },
  });
  s.events.push({ kind: 'proposed', offerId: id });
  return { offerId: id, step: s };
}

/**
 * A: cancels a proposed or offered payment (SPEC 6.8, cancellation): proposes a state under a
 * new number with the balances and PTLCs of the last enforceable state (CANCEL_PROPOSE). The
 * number is above our high-water mark, never one a refused state used (SPEC 6.5).
 */
export async function payerCancel(a: PayerOfferContext, offerIdHex: string): Promise<Step> {
  const p = a.payments.get(offerIdHex);
  if (!p || (p.status !== 'offered' && p.status !== 'proposed')) reject('no cancellable payment with that id');
  const ch = a.channel;
  p.cancelFrom = p.status;
  delete p.cancelWanted;
  const e = ch.enforceable.state;
  const next = { n: ch.topN + 1, balances: [e.balances[0], e.balances[1]] as [number, number], ptlcs: e.ptlcs };
  ch.propose(next);
  const settleSig = ch.signSettlement(a.config.channelKey);
  const R = await ch.commitUpdateNonce(a.signer.nonces, a.config.channelKey);
  p.status = 'cancelling';
  const s = step();
  s.send.push({
    to: a.config.hubAddress,
    message: {
      type: PaymentType.CANCEL_PROPOSE,
      channelId: ch.params.channelId,
      offerId: hexToBytes(p.offerId),
      state: encodeChannelState(next),
      updateNonce: R,
      settleSig,
    },
  });
  s.events.push({ kind: 'cancelling', offerId: p.offerId });
  return s;
}

/**
 * True when nothing about outgoing payment `p` can change any more: it
 * completed (the COMPLETION was taken: state n is fully signed, the receipt
 * held), was cancelled (CANCEL_ACCEPT taken, CANCEL_COMMIT sent), or failed
 * (the hub refused the proposal, state n dropped). No later message moves
 * such a payment: every handler here acts only on a proposed, offered or
 * cancelling one, and an unknown offer id is ignored, never taken as new
 * (a payer's records are created only by its own `pay`). So the record can
 * leave the state without any replay guard.
 */
export function payerPaymentFinished(p: PayerPayment): boolean {
  return p.status === 'completed' || p.status === 'cancelled' || p.status === 'failed';
}

/** The payment of state `n` in status `status`, if any. */
function byState(a: PayerOfferContext, n: number, status: PayerStatus): PayerPayment | undefined {
  for (const p of a.payments.values()) if (p.n === n && p.status === status) return p;
  return undefined;
}

/**
 * A on UPDATE_ACCEPT (SPEC 6.9): only for our A–S channel and a proposed payment of state n.
 * With the hub's attestation checked and both settlement signatures held, A seals the OFFER for
 * the payee alone, retractable and living until the offer expires.
 * An accept that overtook our cancellation is remembered (SPEC 6.15, reordered mail).
 */
export async function payerOnUpdateAccept(
  a: PayerOfferContext,
  m: PaymentMessageOf<typeof PaymentType.UPDATE_ACCEPT>,
  ctx: StepContext,
): Promise<Step> {
  if (!equalBytes(m.channelId, a.channel.params.channelId)) return ignored(m.type, 'accept for another channel');
  // Our cancellation of a proposed payment overtook the hub's accept (mail over several
  // relays is not ordered). Remember it: if the hub refuses the cancellation because it
  // had not seen the offer yet, we cancel again.
  const late = byState(a, m.n, 'cancelling');
  if (late && late.cancelFrom === 'proposed') {
    late.hubAccepted = true;
    return ignored(m.type, 'accept of a payment being cancelled');
  }
  const p = byState(a, m.n, 'proposed');
  if (!p) return ignored(m.type, 'no proposed payment for that state');
  // The payer asked to cancel before the hub knew the offer: cancel now that it does.
  if (p.cancelWanted) return payerCancel(a, p.offerId);
  const ch = a.channel;
  // The hub's attestation that it holds our pre-signed state for this offer and receipt
  // point: the payee burns its ticket only for an offer its hub vouches for (SPEC 6.16).
  const point = hexToBytes(p.point!, 33);
  if (!verify(m.attestation, attestationMessage(hexToBytes(p.offerId, 32), point, p.amount, p.expiry), a.config.hubKey))
    reject("the hub's attestation does not verify", ErrorCode.INVALID_SIGNATURE);
  ch.receiveSettlementSig(m.settleSig);
  ch.receiveUpdateNonce(m.updateNonce);
  p.status = 'offered';
  const s = step();
  // The offer carries only what the payee needs: amount, the receipt fields, the ticket used
  // and the hub's attestation; not our channel key, sighash or signature (SPEC 6.16).
  s.send.push({
    to: p.payeeAddress,
    tag: `offer:${p.offerId}`,
    retractionSecret: hexToBytes(p.retractionSecret),
    ttlSeconds: Math.max(60, Math.ceil((p.expiry - ctx.now) / 1000)),
    message: {
      type: PaymentType.OFFER,
      offerId: hexToBytes(p.offerId),
      hub: a.config.hubKey,
      hubAddress: a.config.hubAddress,
      amount: p.amount,
      expiry: p.expiry,
      ticket: hexToBytes(p.ticket!, 32),
      attestation: m.attestation,
      memo: p.memo,
    },
  });
  s.events.push({ kind: 'offered', offerId: p.offerId });
  return s;
}

/**
 * A on COMPLETION (SPEC 6.9): the hub bought s_B. Taken only for an offered payment of state n
 * on our channel (or one whose cancellation it overtook: SPEC 6.15, lost COMPLETION), and only
 * if s_B completes our pre-signature (so s_B·G = T_B) and the hub's update signature completes
 * state n. Then (R_B, s_B) is the payee's receipt signature over m: it is kept with the payment.
 */
export function payerOnCompletion(a: PayerOfferContext, m: PaymentMessageOf<typeof PaymentType.COMPLETION>): Step {
  const id = bytesToHex(m.offerId);
  const p = a.payments.get(id);
  if (!equalBytes(m.channelId, a.channel.params.channelId)) return ignored(m.type, 'completion for another channel');
  if (!p || (p.status !== 'offered' && p.status !== 'cancelling') || p.n !== m.n)
    return ignored(m.type, 'no offered payment for that completion');
  // Only an offered payment can complete (the payee signs m only for an offer it received).
  if (p.status === 'cancelling' && p.cancelFrom === 'proposed') return ignored(m.type, 'completion of a payment never offered');
  // A completion can overtake our own cancellation (the hub had already bought s_B and will
  // refuse the cancel): the payment completed, so resume state n and take it.
  if (p.status === 'cancelling') a.channel.restoreOverwritten(p.n);
  // The channel part first: the secret must be the discrete log of T_B (so the hub did buy
  // the payee's receipt signature), complete our pre-signature of update n, and the hub's
  // update signature must complete state n. These decide the channel state.
  // Our pre-signature is encrypted to T_B, so completed with the secret it verifies exactly
  // when secret·G = T_B: that verification is the check of the secret (no separate t·G).
  const ch = a.channel;
  ch.requirePending(m.n);
  const mine = new Uint8Array(65);
  mine.set(adaptorAdapt(hexToBytes(p.presig!, 65), m.secret), 0);
  mine[64] = CHANNEL_UPDATE_HASH_TYPE;
  try {
    ch.receiveUpdateSig(mine, 0);
  } catch (e) {
    if (isLnMailboxError(e) && e.code === ErrorCode.INVALID_SIGNATURE) reject('revealed secret does not match the receipt point');
    throw e;
  }
  ch.receiveUpdateSig(m.updateSig, 1);
  p.status = 'completed';
  // The receipt: the payee's BIP340 signature (R_B, s_B) over m under its receipt key.
  const fields: ReceiptFields = {
    offerId: hexToBytes(p.offerId, 32),
    amount: p.amount,
    payer: a.identityPub,
    payee: hexToBytes(p.payeeKey, 32),
    expiry: p.expiry,
  };
  const signature = new Uint8Array(64);
  signature.set(hexToBytes(p.ticket!, 32), 0);
  signature.set(m.secret, 32);
  const encoded = encodeReceipt({ ...fields, signature });
  // s_B·G = T_B = R_B + e·P_R: the receipt verifies; checked all the same (a bug guard).
  if (!verifyReceipt(encoded, p.payeeAddress)) reject('receipt does not verify', ErrorCode.RECEIPT_INVALID);
  const receipt: Receipt = { receipt: bytesToHex(encoded), secret: bytesToHex(m.secret), n: m.n };
  p.receipt = receipt;
  const s = step();
  // A copy: wallet code that changes the event changes nothing stored.
  s.events.push({ kind: 'completed', offerId: id, receipt: { ...receipt } });
  return s;
}

/**
 * A finds update n of its channel on chain (SPEC 6.16, 6.18), put there by
 * the hub, whose completion never reached A: A's own signature in it is its
 * pre-signature completed with s_B, so s_B is their difference. It is then
 * taken exactly as a COMPLETION carrying s_B and the hub's signature from the
 * same witness would be (every check of {@link payerOnCompletion} applies).
 * Signatures that are not the completion of an offered payment's
 * pre-signature change nothing.
 */
export function payerOnUpdateSigsOnChain(
  a: PayerOfferContext,
  channelId: string,
  n: number,
  sigs: readonly [Uint8Array, Uint8Array],
): Step {
  if (channelId !== bytesToHex(a.channel.params.channelId)) return step();
  const [id, p] = [...a.payments].find(([, x]) => x.n === n && (x.status === 'offered' || x.status === 'cancelling')) ?? [];
  if (id === undefined || p === undefined || p.presig === undefined || p.point === undefined) return step();
  const [mine, hubs] = sigs;
  if (mine.length !== 65 || hubs.length !== 65) return step();
  let secret: Uint8Array;
  try {
    secret = adaptorExtract(mine.subarray(0, 64), hexToBytes(p.presig, 65), hexToBytes(p.point, 33));
  } catch {
    return step(); // not our pre-signature completed: nothing to learn
  }
  return payerOnCompletion(a, {
    type: PaymentType.COMPLETION,
    channelId: a.channel.params.channelId,
    n,
    offerId: hexToBytes(id, 32),
    secret,
    updateSig: hubs,
  });
}

/**
 * A on CANCEL_ACCEPT (SPEC 6.9): for our channel, a cancelling payment and pending state n
 * only. A signs update n+1 (CANCEL_COMMIT), voids the offer at the payee (OFFER_VOID) and
 * retracts its envelope: state n can never be enforced afterwards.
 */
export async function payerOnCancelAccept(a: PayerOfferContext, m: PaymentMessageOf<typeof PaymentType.CANCEL_ACCEPT>): Promise<Step> {
  const p = [...a.payments.values()].find((x) => x.status === 'cancelling');
  const ch = a.channel;
  if (!p || !ch.pending || ch.pending.state.n !== m.n || !equalBytes(m.channelId, ch.params.channelId))
    return ignored(m.type, 'no cancellation in flight');
  ch.receiveSettlementSig(m.settleSig);
  ch.receiveUpdateNonce(m.updateNonce);
  const sig = await ch.signUpdate(a.signer.nonces, a.config.channelKey);
  ch.receiveUpdateSig(m.updateSig, 1);
  p.status = 'cancelled';
  const s = step();
  s.send.push({
    to: a.config.hubAddress,
    message: { type: PaymentType.CANCEL_COMMIT, channelId: ch.params.channelId, n: m.n, updateSig: sig },
  });
  s.send.push({
    to: p.payeeAddress,
    message: { type: PaymentType.OFFER_VOID, offerId: hexToBytes(p.offerId), reason: 'cancelled by payer' },
  });
  s.retract.push(`offer:${p.offerId}`);
  s.events.push({ kind: 'cancelled', offerId: p.offerId });
  return s;
}

/**
 * A on REJECT of our proposal or of our cancellation (SPEC 6.8, REJECT). Mail may arrive in
 * any order, so every combination is defined:
 * - the proposal refused (fee, expiry, state): the payment fails and the
 *   channel drops state n, and our cancellation state too if one is in flight;
 * - the cancellation refused while the payment was offered: the hub already
 *   extended the PTLC, the payment goes on (state n resumes);
 * - the cancellation refused while the payment was only proposed: the hub
 *   had not seen the proposal yet. State n resumes, and we cancel again as
 *   soon as the hub has accepted it (at once if its accept already came).
 * The numbers of dropped states are never used again (SPEC 6.15, settlement harvest).
 */
export async function payerOnReject(a: PayerOfferContext, m: PaymentMessageOf<typeof PaymentType.REJECT>): Promise<Step> {
  const id = bytesToHex(m.ref);
  const p = a.payments.get(id);
  const s = step();
  if (!p) return ignored(m.type, 'reject for an unknown payment');
  const ch = a.channel;
  if (m.refType === PaymentType.UPDATE_PROPOSE && (p.status === 'proposed' || (p.status === 'cancelling' && p.cancelFrom === 'proposed'))) {
    if (p.status === 'cancelling' && ch.overwritten?.state.n === p.n) ch.abandonPending(); // our cancellation state
    if (ch.pending?.state.n === p.n) ch.abandonPending(); // state n
    p.status = 'failed';
  } else if (m.refType === PaymentType.OFFER && p.status === 'offered') {
    // The payee refused the offer (its ticket was used by another payment, SPEC 6.16): the
    // hub passed the refusal on. Nothing was extended, so cancel at once: the funds come back.
    s.events.push({ kind: 'rejected', offerId: id, code: m.code, message: m.message });
    const again = await payerCancel(a, p.offerId);
    return { send: again.send, retract: again.retract, events: [...s.events, ...again.events] };
  } else if (m.refType === PaymentType.CANCEL_PROPOSE && p.status === 'cancelling') {
    ch.restoreOverwritten(p.n);
    if (p.cancelFrom === 'proposed') {
      p.status = 'proposed';
      if (p.hubAccepted) {
        s.events.push({ kind: 'rejected', offerId: id, code: m.code, message: m.message });
        const again = await payerCancel(a, p.offerId);
        return { send: again.send, retract: again.retract, events: [...s.events, ...again.events] };
      }
      p.cancelWanted = true;
    } else {
      p.status = 'offered';
    }
  } else {
    return ignored(m.type, 'reject for nothing in flight');
  }
  s.events.push({ kind: 'rejected', offerId: id, code: m.code, message: m.message });
  return s;
}
