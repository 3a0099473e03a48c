/**
 * Proof of payment (SPEC 6.16): the payee's receipt key, the receipt message
 * `m`, the receipt point `T_B`, the receipt itself (a BIP340 signature of the
 * payee's receipt key over `m`), the payee's published batch of one-time
 * receipt nonces ("tickets"), and the hub's attestation that it holds the
 * payer's pre-signed state for an offer.
 *
 * Everything here is pure and needs no state of the package: a third party
 * checks a receipt with {@link verifyReceipt} from the receipt and the payee's
 * mailbox address alone.
 * @module
 */
import { abytes, concatBytes, equalBytes } from '../base/bytes.js';
import { ErrorCode, fail } from '../base/errors.js';
import {
  getPublicKey,
  parsePublicKey,
  sign,
  signaturePoint,
  taggedHash,
  tweakXOnlyPublicKey,
  tweakXOnlySecretKey,
  verify,
} from '../crypto/bip340.js';
import { decodeMailboxAddress } from './address.js';

/** Tag of the receipt message hash `m` (SPEC 6.16). */
export const RECEIPT_TAG = 'ln-mailbox/v1/receipt';
/** Tag of the receipt key tweak (SPEC 6.16). */
export const RECEIPT_KEY_TAG = 'ln-mailbox/v1/receipt-key';
/** Tag of the ticket batch signature (SPEC 6.16). */
export const TICKETS_TAG = 'ln-mailbox/v1/receipt-tickets';
/** Tag of the hub's offer attestation (SPEC 6.16). */
export const ATTESTATION_TAG = 'ln-mailbox/v1/offer-attestation';
/** Name of the relay record holding a payee's ticket batch. */
export const TICKETS_RECORD = 'receipt-tickets';
/** Most tickets one batch may carry (the record stays under the relay's 16 KiB limit). */
export const MAX_TICKETS = 256;
/** Length of an encoded receipt. */
export const RECEIPT_LENGTH = 177;

const u64 = (v: number): Uint8Array => {
  if (!Number.isSafeInteger(v) || v < 0) fail(ErrorCode.INVALID_RANGE, 'u64 out of range');
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v));
  return b;
};
const readU64 = (b: Uint8Array, at: number): number => {
  const v = new DataView(b.buffer, b.byteOffset + at, 8).getBigUint64(0);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(ErrorCode.RECEIPT_INVALID, 'u64 above 2^53 - 1');
  return Number(v);
};

/** The fields a receipt signs: which payment, how much, who paid whom, until when. */
export interface ReceiptFields {
  /** The payment's 32-byte offer id. */
  offerId: Uint8Array;
  /** Satoshis the payee receives. */
  amount: number;
  /** The payer's identity key (x-only, 32 bytes): the sender of the offer. */
  payer: Uint8Array;
  /** The payee's identity key (x-only, 32 bytes): the key of its mailbox address. */
  payee: Uint8Array;
  /** The offer's expiry, ms since the epoch. */
  expiry: number;
}

/** A receipt: the fields and the payee's BIP340 signature `R_B.x ‖ s_B` over {@link receiptMessage} under its receipt key. */
export interface PaymentReceipt extends ReceiptFields {
  /** 64-byte BIP340 signature. */
  signature: Uint8Array;
}

function fieldBytes(f: ReceiptFields): Uint8Array {
  return concatBytes(
    abytes(f.offerId, 32, 'offerId'),
    u64(f.amount),
    abytes(f.payer, 32, 'payer'),
    abytes(f.payee, 32, 'payee'),
    u64(f.expiry),
  );
}

/** `m = taggedHash("ln-mailbox/v1/receipt", offerId ‖ amount ‖ payer ‖ payee ‖ expiry)`: the 32-byte message a receipt signs. */
export function receiptMessage(f: ReceiptFields): Uint8Array {
  return taggedHash(RECEIPT_TAG, fieldBytes(f));
}

function receiptTweak(identity: Uint8Array): Uint8Array {
  return taggedHash(RECEIPT_KEY_TAG, abytes(identity, 32, 'identity key'));
}

/**
 * The payee's receipt key `P_R = lift_x(P_id) + int(taggedHash("ln-mailbox/v1/receipt-key", P_id.x))·G`
 * (x-only), derived from its identity key `P_id` (the key of its mailbox address), so anyone
 * holding the address can compute it.
 */
export function receiptKey(identity: Uint8Array): Uint8Array {
  return tweakXOnlyPublicKey(identity, receiptTweak(identity), { reduce: true }).xonly;
}

/** The secret of {@link receiptKey} from the payee's identity secret key. */
export function receiptSecretKey(identitySecret: Uint8Array): Uint8Array {
  return tweakXOnlySecretKey(identitySecret, receiptTweak(getPublicKey(identitySecret)), { reduce: true });
}

/**
 * The receipt point `T_B = lift_x(R_B) + e·P_R` (33-byte compressed) with
 * `e` the BIP340 challenge of `R_B`, `P_R` and `m`: the point whose secret is
 * `s_B`, the `s` half of the receipt signature. It is what the hub pays for.
 */
export function receiptPoint(ticket: Uint8Array, payee: Uint8Array, f: ReceiptFields): Uint8Array {
  return signaturePoint(abytes(ticket, 32, 'ticket'), receiptKey(payee), receiptMessage(f));
}

/** Encodes a receipt: `0x01 ‖ offerId ‖ amount ‖ payer ‖ payee ‖ expiry ‖ signature` (177 bytes). */
export function encodeReceipt(r: PaymentReceipt): Uint8Array {
  return concatBytes(new Uint8Array([1]), fieldBytes(r), abytes(r.signature, 64, 'signature'));
}

/** Decodes {@link encodeReceipt}; RECEIPT_INVALID for anything else. */
export function decodeReceipt(b: Uint8Array): PaymentReceipt {
  abytes(b, undefined, 'receipt');
  if (b.length !== RECEIPT_LENGTH || b[0] !== 1) fail(ErrorCode.RECEIPT_INVALID, 'not an encoded v1 receipt');
  return {
    offerId: b.slice(1, 33),
    amount: readU64(b, 33),
    payer: b.slice(41, 73),
    payee: b.slice(73, 105),
    expiry: readU64(b, 105),
    signature: b.slice(113, 177),
  };
}

/**
 * Verifies a receipt (decoded, or encoded bytes) against the payee's mailbox
 * address: the receipt names the address's key as payee, and its signature
 * verifies under the receipt key derived from that key. True means the payee
 * signed this payment's receipt message, which it does only once paid
 * (SPEC 6.16). Pure: needs no wallet, store or network. Returns false for any
 * receipt that does not verify; throws only for an address that does not decode.
 */
export function verifyReceipt(receipt: PaymentReceipt | Uint8Array, payeeAddress: string): boolean {
  const payee = decodeMailboxAddress(payeeAddress).publicKey;
  let r: PaymentReceipt;
  try {
    r = receipt instanceof Uint8Array ? decodeReceipt(receipt) : receipt;
    if (!equalBytes(r.payee, payee)) return false;
    return verify(r.signature, receiptMessage(r), receiptKey(payee));
  } catch {
    return false;
  }
}

/** A payee's batch of one-time receipt nonces, signed by its receipt key. */
export interface TicketBatch {
  /** The payee's receipt key (x-only). */
  receiptKey: Uint8Array;
  /** When the batch was issued (ms): a newer batch replaces an older one. */
  issued: number;
  /** The x-only nonce points `R_B` (32 bytes each), each for one receipt. */
  tickets: Uint8Array[];
  /** BIP340 signature by the receipt key over `taggedHash("ln-mailbox/v1/receipt-tickets", body)`. */
  signature: Uint8Array;
}

function batchBody(receiptKeyX: Uint8Array, issued: number, tickets: Uint8Array[]): Uint8Array {
  if (tickets.length === 0 || tickets.length > MAX_TICKETS) fail(ErrorCode.INVALID_RANGE, `a ticket batch holds 1..${MAX_TICKETS} tickets`);
  const count = new Uint8Array([tickets.length >> 8, tickets.length & 0xff]);
  return concatBytes(
    new Uint8Array([1]),
    abytes(receiptKeyX, 32, 'receipt key'),
    u64(issued),
    count,
    ...tickets.map((t) => abytes(t, 32, 'ticket')),
  );
}

/** Signs and encodes a ticket batch with the payee's identity secret key (the receipt key is derived from it). */
export function signTicketBatch(identitySecret: Uint8Array, issued: number, tickets: Uint8Array[]): Uint8Array {
  const sk = receiptSecretKey(identitySecret);
  const body = batchBody(getPublicKey(sk), issued, tickets);
  return concatBytes(body, sign(taggedHash(TICKETS_TAG, body), sk));
}

/**
 * Decodes a ticket batch and verifies it against the payee's mailbox address
 * (the receipt key derived from the address key, its signature, valid nonce
 * points). RECEIPT_INVALID for a batch that fails any check.
 */
export function openTicketBatch(bytes: Uint8Array, payeeAddress: string): TicketBatch {
  abytes(bytes, undefined, 'ticket batch');
  const key = receiptKey(decodeMailboxAddress(payeeAddress).publicKey);
  if (bytes.length < 1 + 32 + 8 + 2 + 32 + 64 || bytes[0] !== 1) fail(ErrorCode.RECEIPT_INVALID, 'not a v1 ticket batch');
  const count = (bytes[41]! << 8) | bytes[42]!;
  if (count === 0 || count > MAX_TICKETS || bytes.length !== 43 + count * 32 + 64)
    fail(ErrorCode.RECEIPT_INVALID, 'ticket batch has a bad length');
  const body = bytes.subarray(0, bytes.length - 64);
  const signature = bytes.slice(bytes.length - 64);
  if (!equalBytes(bytes.subarray(1, 33), key)) fail(ErrorCode.RECEIPT_INVALID, "ticket batch is not under the payee's receipt key");
  if (!verify(signature, taggedHash(TICKETS_TAG, body), key)) fail(ErrorCode.RECEIPT_INVALID, 'ticket batch signature does not verify');
  const tickets: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const t = bytes.slice(43 + i * 32, 75 + i * 32);
    try {
      parsePublicKey(t, 'ticket');
    } catch {
      fail(ErrorCode.RECEIPT_INVALID, 'ticket is not a valid nonce point');
    }
    tickets.push(t);
  }
  return { receiptKey: key, issued: readU64(bytes, 33), tickets, signature };
}

/** The message the hub's offer attestation signs: `taggedHash("ln-mailbox/v1/offer-attestation", offerId ‖ point ‖ amount ‖ expiry)`. */
export function attestationMessage(offerId: Uint8Array, point: Uint8Array, amount: number, expiry: number): Uint8Array {
  return taggedHash(ATTESTATION_TAG, abytes(offerId, 32, 'offerId'), abytes(point, 33, 'point'), u64(amount), u64(expiry));
}
