/**
 * The payer's check of the receipt a COMPLETION carries (SPEC 6.8): the
 * payee's own signed invoice for exactly this offer, sealed by the payee for
 * the payer alone, so the hub (or a router) can pass it on but not forge or
 * read it.
 * @module
 */
import { bytesToHex } from '../../../base/bytes.js';
import { PaymentType, decodePayment, envelopeFromReceipt, verifyInvoice } from '../../../protocol/payment.js';
import { open } from '../../../protocol/seal.js';
import { reject } from '../refusal.js';

/** What the receipt must match: the payment as the payer recorded it (hex fields). */
export interface ReceiptExpectation {
  offerId: string;
  payeeKey: string;
  amount: number;
  point?: string;
}

/**
 * Opens `sealed` with the payer's identity key and checks it holds the
 * payee's valid invoice for payment `p`; returns the encoded INVOICE body.
 * Throws PAYMENT_REJECTED with the reason otherwise.
 */
export function checkReceipt(sealed: Uint8Array, p: ReceiptExpectation, identityKey: Uint8Array, identityPub: Uint8Array): Uint8Array {
  let opened: ReturnType<typeof open>;
  try {
    opened = open(envelopeFromReceipt(sealed, identityPub), identityKey);
  } catch (e) {
    return reject(`no receipt we can open (${(e as Error).message})`);
  }
  if (opened.type !== PaymentType.INVOICE || bytesToHex(opened.sender) !== p.payeeKey) reject('receipt is not sealed by the payee we paid');
  const inv = decodePayment(PaymentType.INVOICE, opened.body);
  if (inv.type !== PaymentType.INVOICE || !verifyInvoice(inv) || inv.receipt.length !== 0) reject('receipt holds an invalid invoice');
  if (bytesToHex(inv.offerId) !== p.offerId || inv.amount !== p.amount || bytesToHex(inv.point) !== p.point)
    reject('receipt invoice does not match the offer');
  if (bytesToHex(inv.payeeKey) !== p.payeeKey) reject('receipt invoice is not signed by the payee we paid');
  return opened.body;
}
