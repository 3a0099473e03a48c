/**
 * The payee's (B's) part of the offer flow (SPEC 6.8), where the payer
 * pre-signs: when B comes online it is pushed the payer's offer; it checks
 * the hub's attestation, burns the offer's ticket for the receipt message m
 * (SPEC 6.16) BEFORE issuing any invoice, invoices the hub for the receipt
 * point T_B, and sells its receipt signature's s_B for a PTLC locked to
 * T_B + r·G, revealing it only once it holds a fully signed channel state
 * containing the PTLC and the hub's adaptor pre-signature for the claim (so
 * it could claim on chain). The Payee engine (payee.ts) dispatches to these
 * functions over its state.
 *
 * Safety rules enforced here (each has an adversarial test):
 * - no ticket burned for an offer its hub did not attest, nor for a payer
 *   that already holds `maxOpenOffersPerPayer` burned, unpaid, live offers
 *   (REJECT `RATE_LIMITED`), no invoice before
 *   the ticket is burned, and a ticket burned for one message only (a second
 *   offer naming it is refused with REJECT to the hub);
 * - only the offer's sender may void it, and only before it is being paid;
 * - a PTLC_ADD it will not take is refused (answered with PTLC_FAIL), never
 *   left unanswered (SPEC 6.15, void overtakes the PTLC);
 * - the PTLC's timeout leaves room for the on-chain claim (CSV delay), and
 *   s_B + r is revealed only once the state with the PTLC is enforceable.
 * @module
 */
import { bytesToHex, equalBytes, hexToBytes } from '../../../base/bytes.js';
import { ErrorCode, isLnMailboxError } from '../../../base/errors.js';
import { PaymentType, invoiceSigHash, type InvoiceFields, type PaymentMessageOf } from '../../../protocol/payment.js';
import { attestationMessage, receiptKey, receiptMessage } from '../../../protocol/receipt.js';
import { bindTicketNonce, signWithCommittedNonce, ticketNonceId } from '../../../crypto/nonce.js';
import { tweakSecret } from '../../../crypto/tweak.js';
import { sign, signaturePoint, verify } from '../../../crypto/bip340.js';
import type { Channel } from '../../channel/channel.js';
import { ackSettle, acceptPtlc, fulfillPtlc, type Signer } from '../ptlc-exchange.js';
import { hubRefused, reject } from '../refusal.js';
import { ignored, step, type Step, type StepContext } from '../types.js';
import { DEFAULT_MAX_OPEN_OFFERS_PER_PAYER, type PayeeConfig } from './config.js';

/** Status of an incoming payment. */
export type PayeeStatus = 'invoiced' | 'accepted' | 'fulfilling' | 'paid' | 'void' | 'failed';

/** One incoming payment as the payee persists it. Byte fields are hex. */
export interface PayeePayment {
  offerId: string;
  amount: number;
  expiry: number;
  /** The receipt point T_B = R_B + e·P_R: the PTLC pays for its discrete log s_B (SPEC 6.16). */
  point: string;
  /** The ticket R_B (x-only) burned for this offer. */
  ticket: string;
  /** The receipt message m the ticket is bound to. */
  receiptMessage: string;
  memo: string;
  status: PayeeStatus;
  ptlcState?: number;
  claimPresig?: string;
  /** The hub's tweak r: the PTLC is locked to T + r·G and fulfilled with t + r. */
  tweak?: string;
  /** The state number of our PTLC_FULFILL in flight (*fulfilling*). */
  fulfillState?: number;
  /** Fulfillments the hub refused so far (a proposal of its own crossed ours). */
  fulfillRefusals?: number;
  /** Identity key (hex) of whoever sent the offer: only it may void the offer. */
  payerIdentity: string;
}

/**
 * What the payee remembers of a finished offer it moved out of its state
 * (see {@link payeePaymentFinished}) while a message of it could still start
 * it again: its expiry (ms) and whether it was paid.
 */
export interface FinishedPayeeOffer {
  expiry: number;
  /** Paid: a duplicate PTLC_ADD is ignored (taken already); else refused (void or failed). */
  paid?: true;
}

/**
 * True when nothing about incoming payment `p` can change any more: paid
 * (the settlement acknowledged, the PTLC gone from the channel), void (its
 * payer voided it before any PTLC: one coming later is refused) or failed
 * (its ticket was refused, or the hub refused the invoice). No handler moves
 * such a payment again and no lost-message resend needs it (SPEC 6.15: a
 * late PTLC_ADD is refused with PTLC_FAIL whether the record is here or
 * not). What a replay could do is start it anew: an OFFER naming its id
 * would be invoiced again. Hence the guard {@link PayeeOfferContext.finished}.
 */
export function payeePaymentFinished(p: PayeePayment): boolean {
  return p.status === 'paid' || p.status === 'void' || p.status === 'failed';
}

/** What the payee's offer-flow steps need of the payee engine. */
export interface PayeeOfferContext {
  config: PayeeConfig;
  /** The S–B channel (the payee is party 1). */
  channel: Channel;
  payments: Map<string, PayeePayment>;
  /**
   * Offers finished and moved out of `payments`, by id, until their expiry
   * (plus a grace) has passed: an OFFER naming one is a duplicate, and a
   * PTLC_ADD for a paid one is ignored as taken. Past the expiry an OFFER is
   * refused as expired anyway (its expiry is bound by the hub's attestation
   * and by the receipt message its ticket is burned for).
   */
  finished: Map<string, FinishedPayeeOffer>;
  signer: Signer;
  /** The payee's identity public key (x-only), put in invoices as `payeeKey`. */
  identityPub: Uint8Array;
  /** The payee's receipt secret key (derived from its identity key, SPEC 6.16). */
  receiptSecret: Uint8Array;
  /** Tickets issued and not yet burned (x-only R_B, hex). */
  tickets: string[];
}

/**
 * B on OFFER (SPEC 6.9, 6.16; any sender): a new offer through a hub we can reach, unexpired,
 * attested by that hub for the receipt point T_B of our ticket and the receipt message m
 * (naming the offer's sender as payer). Only then does B burn the ticket: one write binding
 * R_B to m for good, before anything is signed with it. A ticket already bound to another
 * message, or one we never issued, is refused with REJECT to our partner (the hub passes it
 * to the payer, who cancels); every other failure is ignored.
 */
export async function payeeOnOffer(
  b: PayeeOfferContext,
  from: Uint8Array,
  m: PaymentMessageOf<typeof PaymentType.OFFER>,
  ctx: StepContext,
): Promise<Step> {
  const id = bytesToHex(m.offerId);
  if (b.payments.has(id) || b.finished.has(id)) return ignored(m.type, 'duplicate offer');
  const reachable = equalBytes(m.hub, b.config.hubKey) || (b.config.routedHubs ?? []).some((k) => equalBytes(k, m.hub));
  if (!reachable) return ignored(m.type, 'offer through a hub we cannot reach');
  if (!(m.expiry > ctx.now)) return ignored(m.type, 'offer expired');
  const msg = receiptMessage({ offerId: m.offerId, amount: m.amount, payer: from, payee: b.identityPub, expiry: m.expiry });
  let point: Uint8Array;
  try {
    point = signaturePoint(m.ticket, receiptKey(b.identityPub), msg);
  } catch {
    return ignored(m.type, 'ticket is not a valid nonce point');
  }
  // Safety rule: a ticket is burned only for an offer its hub vouches for (it holds the
  // payer's pre-signed state for this point), so a stranger cannot exhaust our tickets.
  if (!verify(m.attestation, attestationMessage(m.offerId, point, m.amount, m.expiry), m.hub))
    return ignored(m.type, 'offer not attested by its hub');
  const record = (status: PayeeStatus): void => {
    b.payments.set(id, {
      offerId: id,
      amount: m.amount,
      expiry: m.expiry,
      point: bytesToHex(point),
      ticket: bytesToHex(m.ticket),
      receiptMessage: bytesToHex(msg),
      memo: m.memo,
      status,
      payerIdentity: bytesToHex(from),
    });
  };
  // Safety rule: a payer who abandons attested offers (the hub cancels a pending offer when
  // its payer proposes the next) makes us burn one ticket each; bound what one payer holds.
  const payer = bytesToHex(from);
  const open = [...b.payments.values()].filter(
    (p) =>
      p.payerIdentity === payer && p.expiry > ctx.now && (p.status === 'invoiced' || p.status === 'accepted' || p.status === 'fulfilling'),
  ).length;
  if (open >= (b.config.maxOpenOffersPerPayer ?? DEFAULT_MAX_OPEN_OFFERS_PER_PAYER)) {
    const s = step();
    const why = `${open} offers of this payer are still open`;
    s.send.push({
      to: b.config.hubAddress,
      message: { type: PaymentType.REJECT, refType: PaymentType.OFFER, ref: m.offerId, code: ErrorCode.RATE_LIMITED, message: why },
    });
    s.events.push({ kind: 'rejected', offerId: id, code: ErrorCode.RATE_LIMITED, message: why });
    return s;
  }
  // The burn: R_B is bound to m in the nonce store before anything is signed with it.
  try {
    await bindTicketNonce(b.signer.nonces, ticketNonceId(m.ticket), b.receiptSecret, msg);
  } catch (e) {
    if (!isLnMailboxError(e) || (e.code !== ErrorCode.NONCE_REUSE && e.code !== ErrorCode.NONCE_UNKNOWN)) throw e;
    record('failed');
    const s = step();
    const why = e.code === ErrorCode.NONCE_REUSE ? 'the ticket was already used' : 'not a ticket of ours';
    s.send.push({
      to: b.config.hubAddress,
      message: { type: PaymentType.REJECT, refType: PaymentType.OFFER, ref: m.offerId, code: e.code, message: why },
    });
    s.events.push({ kind: 'rejected', offerId: id, code: e.code, message: why });
    return s;
  }
  const burned = bytesToHex(m.ticket);
  const at = b.tickets.indexOf(burned);
  if (at >= 0) b.tickets.splice(at, 1);
  const fields: InvoiceFields = {
    offerId: m.offerId,
    point,
    amount: m.amount,
    expiry: Math.min(m.expiry, ctx.now + b.config.invoiceTtlMs),
    payeeChannel: b.channel.params.channelId,
    payeeAddress: b.config.address,
    timeoutDelta: b.config.timeoutDelta,
    payeeKey: b.identityPub,
  };
  const signature = sign(invoiceSigHash(fields), b.config.identityKey);
  record('invoiced');
  const s = step();
  s.send.push({ to: b.config.hubAddress, message: { type: PaymentType.INVOICE, ...fields, signature } });
  s.events.push({ kind: 'offer_received', offerId: id, amount: m.amount }, { kind: 'invoiced', offerId: id });
  return s;
}

/** B on OFFER_VOID (SPEC 6.9): only from the offer's sender, and only while the payment is invoiced. */
export function payeeOnVoid(b: PayeeOfferContext, from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.OFFER_VOID>): Step {
  const p = b.payments.get(bytesToHex(m.offerId));
  // Only the offer's sender may void it, and only before it is being paid; the hub decides the rest.
  if (p?.status !== 'invoiced') return ignored(m.type, 'nothing to void');
  if (p.payerIdentity !== bytesToHex(from)) return ignored(m.type, 'void from someone other than the payer');
  p.status = 'void';
  const s = step();
  s.events.push({ kind: 'voided', offerId: p.offerId });
  return s;
}

/**
 * B on PTLC_ADD (SPEC 6.9): takes the hub's PTLC for an invoiced offer over an open channel, with
 * a timeout that leaves room for the on-chain claim (SPEC 6.12). Any PTLC it will not take is
 * refused (the engine answers PTLC_FAIL), so the hub's proposed state is never left pending
 * (SPEC 6.15, void overtakes the PTLC); only a duplicate of one already taken is ignored.
 */
export async function payeeOnPtlcAdd(
  b: PayeeOfferContext,
  m: PaymentMessageOf<typeof PaymentType.PTLC_ADD>,
  ctx: StepContext,
): Promise<Step> {
  const id = bytesToHex(m.offerId);
  const p = b.payments.get(id);
  // A duplicate of a PTLC we took changes nothing. Any other PTLC we will not take is
  // refused with PTLC_FAIL (by the caller), so the hub can drop its proposed state:
  // ignoring it (e.g. for an offer its payer voided meanwhile) would leave the hub's side
  // of our channel pending for good, and the payer unable to cancel.
  if (p && (p.status === 'accepted' || p.status === 'fulfilling' || p.status === 'paid')) return ignored(m.type, 'PTLC already taken');
  if (!p && b.finished.get(id)?.paid) return ignored(m.type, 'PTLC already taken (the offer is paid)');
  if (p?.status !== 'invoiced')
    reject(!p ? 'no invoiced offer for that PTLC' : p.status === 'void' ? 'the offer was voided by its payer' : `the offer is ${p.status}`);
  b.channel.requireOpen();
  // To claim on chain B must publish update m and wait the CSV delay before settlement m
  // confirms; a timeout inside that window would let the offerer refund first.
  const minTimeout = ctx.height + Math.max(b.config.timeoutDelta, b.channel.params.csvDelay + 1);
  const accept = await acceptPtlc(b.channel, b.signer, m, { amount: p.amount, point: hexToBytes(p.point, 33), minTimeout });
  p.status = 'accepted';
  p.ptlcState = accept.n;
  p.claimPresig = bytesToHex(m.claimPresig);
  p.tweak = bytesToHex(m.tweak);
  const s = step();
  s.send.push({ to: b.config.hubAddress, message: accept });
  return s;
}

/**
 * B on PTLC_COMMIT (SPEC 6.9): for our channel and an accepted PTLC of pending state m only.
 * Once the hub's update signature makes state m enforceable by us, B reveals t + r
 * (PTLC_FULFILL): never earlier.
 */
export async function payeeOnPtlcCommit(b: PayeeOfferContext, m: PaymentMessageOf<typeof PaymentType.PTLC_COMMIT>): Promise<Step> {
  const p = [...b.payments.values()].find((x) => x.status === 'accepted' && x.ptlcState === m.n);
  const ch = b.channel;
  if (!p || !ch.pending || ch.pending.state.n !== m.n || !equalBytes(m.channelId, ch.params.channelId))
    return ignored(m.type, 'no accepted PTLC for that state');
  // State m (with the PTLC) becomes enforceable by us: signing the receipt and revealing
  // s_B + r is safe. The ticket is bound to m (burned at the offer): it signs m and nothing
  // else, and signing again (a replayed step) gives the same signature.
  ch.receiveUpdateSig(m.updateSig);
  const s = step();
  s.send.push({ to: b.config.hubAddress, message: await proposeFulfill(b, p) });
  s.events.push({ kind: 'ptlc_committed', offerId: p.offerId });
  return s;
}

/**
 * Signs the receipt (the ticket's nonce is bound to its message: signing
 * again gives the same signature) and proposes the state that pays the PTLC
 * to us, revealing t + r: *fulfilling*.
 */
async function proposeFulfill(b: PayeeOfferContext, p: PayeePayment): Promise<PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>> {
  const receipt = await signWithCommittedNonce(
    b.signer.nonces,
    ticketNonceId(hexToBytes(p.ticket, 32)),
    b.receiptSecret,
    hexToBytes(p.receiptMessage, 32),
  );
  const secret = tweakSecret(receipt.subarray(32, 64), hexToBytes(p.tweak ?? '00'.repeat(32), 32));
  const fulfill = await fulfillPtlc(b.channel, b.signer, hexToBytes(p.offerId, 32), secret);
  p.status = 'fulfilling';
  p.fulfillState = b.channel.pending!.state.n;
  return fulfill;
}

/**
 * How many refusals of our fulfillment the payee answers with a new one. A
 * refusal comes when the hub's own proposal crossed ours (both took the
 * same number): proposing again, above both, settles it. Past this many,
 * the hub is refusing on purpose, and the PTLC stays ours to claim on chain
 * with the secret.
 */
export const MAX_FULFILL_REFUSALS = 8;

/**
 * B on REJECT of its PTLC_FULFILL: the hub refused the state, typically
 * because its own proposal (a PTLC_ADD of another payment) took the same
 * number at the same time. B drops its proposal (its number is never used
 * again) and proposes the fulfillment again under a greater number. Without
 * this both sides would wait for each other, and the channel would take no
 * state again.
 */
async function payeeOnFulfillRefused(b: PayeeOfferContext, p: PayeePayment, m: PaymentMessageOf<typeof PaymentType.REJECT>): Promise<Step> {
  const ch = b.channel;
  if (!ch.pending || ch.pending.state.n !== p.fulfillState) return ignored(m.type, 'no fulfillment in flight for that payment');
  ch.abandonPending();
  p.fulfillRefusals = (p.fulfillRefusals ?? 0) + 1;
  const s = step();
  s.events.push(hubRefused(p.offerId, 'fulfillment', m));
  if (p.fulfillRefusals > MAX_FULFILL_REFUSALS) {
    delete p.fulfillState;
    return s;
  }
  s.send.push({ to: b.config.hubAddress, message: await proposeFulfill(b, p) });
  return s;
}

/** B on PTLC_SETTLE (SPEC 6.9): for our channel, a fulfilling payment and pending state m+1 only; B acknowledges: paid. */
export async function payeeOnSettle(b: PayeeOfferContext, m: PaymentMessageOf<typeof PaymentType.PTLC_SETTLE>): Promise<Step> {
  const p = [...b.payments.values()].find((x) => x.status === 'fulfilling');
  const ch = b.channel;
  if (!p || !ch.pending || ch.pending.state.n !== m.n || !equalBytes(m.channelId, ch.params.channelId))
    return ignored(m.type, 'no fulfillment in flight');
  const ack = await ackSettle(ch, b.signer, m);
  p.status = 'paid';
  const s = step();
  s.send.push({ to: b.config.hubAddress, message: ack });
  s.events.push({ kind: 'paid', offerId: p.offerId, amount: p.amount });
  return s;
}

/**
 * B on REJECT (SPEC 6.8, 6.9): of an invoice, an invoiced payment fails; of
 * our PTLC_FULFILL, we propose it again (see {@link payeeOnFulfillRefused});
 * anything else is ignored.
 */
export async function payeeOnReject(b: PayeeOfferContext, m: PaymentMessageOf<typeof PaymentType.REJECT>): Promise<Step> {
  const s = step();
  const p = b.payments.get(bytesToHex(m.ref));
  if (p?.status === 'fulfilling' && m.refType === PaymentType.PTLC_FULFILL) return payeeOnFulfillRefused(b, p, m);
  if (p?.status !== 'invoiced') return ignored(m.type, 'reject for nothing pending');
  p.status = 'failed';
  s.events.push({ kind: 'rejected', offerId: p.offerId, code: m.code, message: m.message });
  return s;
}
