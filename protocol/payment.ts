/**
 * Payment messages of the asynchronous A/S/B protocol (SPEC 6, `spec/payment.md`): the
 * offer flow (the payer pre-signs) and the request flow (the payee pre-signs, SPEC 6.14).
 *
 * Each message travels as the body of a sealed envelope (SPEC 4) whose
 * inner `type` is the message's {@link PaymentType}. The body is
 * `version(u8)=0x01 ‖ fields`, fields encoded by `codec.ts` in schema order.
 * The envelope's inner signature already authenticates the sender; the
 * invoice additionally carries the payee's own signature because a router
 * forwards its terms (SPEC 6.7). Receipts are in `receipt.ts`.
 * @module
 */
import { taggedHash, verify } from '../crypto/bip340.js';
import { decodeSchema, encodeSchema, type Decoded, type Schema } from './codec.js';
import { concatBytes } from '../base/bytes.js';
import { ErrorCode, fail } from '../base/errors.js';

/** Version byte at the start of every payment message body. */
export const PAYMENT_VERSION = 0x01;

/** Inner-message type numbers of payment messages (range 0x0001–0x00ff). */
export const PaymentType = {
  UPDATE_PROPOSE: 0x0001,
  UPDATE_ACCEPT: 0x0002,
  OFFER: 0x0003,
  INVOICE: 0x0004,
  PTLC_ADD: 0x0005,
  PTLC_ACCEPT: 0x0006,
  PTLC_COMMIT: 0x0007,
  PTLC_FULFILL: 0x0008,
  PTLC_SETTLE: 0x0009,
  PTLC_SETTLE_ACK: 0x000a,
  PTLC_FAIL: 0x000b,
  COMPLETION: 0x000c,
  CANCEL_PROPOSE: 0x000d,
  CANCEL_ACCEPT: 0x000e,
  CANCEL_COMMIT: 0x000f,
  OFFER_VOID: 0x0010,
  REJECT: 0x0011,
  // The request flow: the payee pre-signs (SPEC 6.14).
  REQUEST_PREPARE: 0x0012,
  REQUEST_PREPARED: 0x0013,
  REQUEST: 0x0014,
  REQUEST_COMPLETE: 0x0015,
  REQUEST_ACK: 0x0016,
  // The receiver of a committed PTLC gives it back to the offerer (SPEC 6.7).
  PTLC_REMOVE: 0x0017,
  // Opening a channel (SPEC 6.17).
  TERMS_REQUEST: 0x0030,
  TERMS: 0x0031,
  OPEN: 0x0032,
  OPEN_ACCEPT: 0x0033,
  OPEN_SIGN: 0x0034,
  OPEN_SIGNED: 0x0035,
  FUNDING: 0x0036,
  OPEN_CANCEL: 0x0037,
  // Closing a channel cooperatively (SPEC 6.18).
  CLOSE_PROPOSE: 0x0040,
  CLOSE_ACCEPT: 0x0041,
  // The payee tells the payer of a request what it needs to watch the payee's channel (SPEC 6.18).
  TOWER_TERMS: 0x0042,
} as const;
/** A payment message type number. */
export type PaymentType = (typeof PaymentType)[keyof typeof PaymentType];

/** Field schemas, in wire order. SPEC 6 lists the same tables. */
export const PaymentSchemas = {
  [PaymentType.UPDATE_PROPOSE]: [
    ['channelId', 'b32'],
    ['state', 'bytes'],
    ['offerId', 'b32'],
    ['amount', 'u64'],
    ['fee', 'u64'],
    ['expiry', 'u64'],
    ['receiptPoint', 'b33'],
    ['updatePresig', 'b65'],
    ['settleSig', 'b65'],
  ],
  [PaymentType.UPDATE_ACCEPT]: [
    ['channelId', 'b32'],
    ['n', 'u32'],
    ['updateNonce', 'b32'],
    ['settleSig', 'b65'],
    ['attestation', 'b64'],
  ],
  [PaymentType.OFFER]: [
    ['offerId', 'b32'],
    ['hub', 'b32'],
    ['hubAddress', 'str'],
    ['amount', 'u64'],
    ['expiry', 'u64'],
    ['ticket', 'b32'],
    ['attestation', 'b64'],
    ['memo', 'str'],
  ],
  [PaymentType.INVOICE]: [
    ['offerId', 'b32'],
    ['point', 'b33'],
    ['amount', 'u64'],
    ['expiry', 'u64'],
    ['payeeChannel', 'b32'],
    ['payeeAddress', 'str'],
    ['timeoutDelta', 'u32'],
    ['payeeKey', 'b32'],
    ['signature', 'b64'],
  ],
  [PaymentType.PTLC_ADD]: [
    ['channelId', 'b32'],
    ['state', 'bytes'],
    ['offerId', 'b32'],
    ['tweak', 'b32'],
    ['updateNonce', 'b32'],
    ['settleSig', 'b65'],
    ['claimPresig', 'b65'],
  ],
  [PaymentType.PTLC_ACCEPT]: [
    ['channelId', 'b32'],
    ['n', 'u32'],
    ['updateNonce', 'b32'],
    ['settleSig', 'b65'],
    ['updateSig', 'b65'],
  ],
  [PaymentType.PTLC_COMMIT]: [
    ['channelId', 'b32'],
    ['n', 'u32'],
    ['updateSig', 'b65'],
  ],
  [PaymentType.PTLC_FULFILL]: [
    ['channelId', 'b32'],
    ['offerId', 'b32'],
    ['secret', 'b32'],
    ['state', 'bytes'],
    ['updateNonce', 'b32'],
    ['settleSig', 'b65'],
  ],
  [PaymentType.PTLC_SETTLE]: [
    ['channelId', 'b32'],
    ['n', 'u32'],
    ['updateNonce', 'b32'],
    ['settleSig', 'b65'],
    ['updateSig', 'b65'],
  ],
  [PaymentType.PTLC_SETTLE_ACK]: [
    ['channelId', 'b32'],
    ['n', 'u32'],
    ['updateSig', 'b65'],
  ],
  [PaymentType.PTLC_FAIL]: [
    ['channelId', 'b32'],
    ['offerId', 'b32'],
    ['reason', 'str'],
  ],
  [PaymentType.COMPLETION]: [
    ['channelId', 'b32'],
    ['n', 'u32'],
    ['offerId', 'b32'],
    ['secret', 'b32'],
    ['updateSig', 'b65'],
  ],
  [PaymentType.CANCEL_PROPOSE]: [
    ['channelId', 'b32'],
    ['offerId', 'b32'],
    ['state', 'bytes'],
    ['updateNonce', 'b32'],
    ['settleSig', 'b65'],
  ],
  [PaymentType.CANCEL_ACCEPT]: [
    ['channelId', 'b32'],
    ['n', 'u32'],
    ['updateNonce', 'b32'],
    ['settleSig', 'b65'],
    ['updateSig', 'b65'],
  ],
  [PaymentType.CANCEL_COMMIT]: [
    ['channelId', 'b32'],
    ['n', 'u32'],
    ['updateSig', 'b65'],
  ],
  [PaymentType.OFFER_VOID]: [
    ['offerId', 'b32'],
    ['reason', 'str'],
  ],
  [PaymentType.REJECT]: [
    ['refType', 'u16'],
    ['ref', 'b32'],
    ['code', 'str'],
    ['message', 'str'],
  ],
  [PaymentType.REQUEST_PREPARE]: [
    ['channelId', 'b32'],
    ['state', 'bytes'],
    ['requestId', 'b32'],
    ['amount', 'u64'],
    ['expiry', 'u64'],
    ['updateNonce', 'b32'],
    ['settleSig', 'b65'],
  ],
  [PaymentType.REQUEST_PREPARED]: [
    ['channelId', 'b32'],
    ['n', 'u32'],
    ['requestId', 'b32'],
    ['updateNonce', 'b32'],
    ['settleSig', 'b65'],
  ],
  [PaymentType.REQUEST]: [
    ['requestId', 'b32'],
    ['hub', 'b32'],
    ['hubAddress', 'str'],
    ['payeeAddress', 'str'],
    ['amount', 'u64'],
    ['expiry', 'u64'],
    ['channelId', 'b32'],
    ['n', 'u32'],
    ['updateSighash', 'b32'],
    ['hubChannelKey', 'b32'],
    ['hubNonce', 'b32'],
    ['payeeChannelKey', 'b32'],
    ['payeeUpdateSig', 'b65'],
    ['memo', 'str'],
  ],
  [PaymentType.REQUEST_COMPLETE]: [
    ['requestId', 'b32'],
    ['channelId', 'b32'],
    ['n', 'u32'],
    ['hubUpdateSig', 'b65'],
  ],
  [PaymentType.REQUEST_ACK]: [
    ['channelId', 'b32'],
    ['n', 'u32'],
    ['updateSig', 'b65'],
  ],
  [PaymentType.PTLC_REMOVE]: [
    ['channelId', 'b32'],
    ['offerId', 'b32'],
    ['state', 'bytes'],
    ['updateNonce', 'b32'],
    ['settleSig', 'b65'],
    ['reason', 'str'],
  ],
  [PaymentType.TERMS_REQUEST]: [['replyTo', 'str']],
  [PaymentType.TERMS]: [['terms', 'bytes']],
  [PaymentType.OPEN]: [
    ['openId', 'b32'],
    ['termsId', 'b32'],
    ['replyTo', 'str'],
    ['hubFunds', 'u8'],
    ['amount', 'u64'],
    ['csvDelay', 'u32'],
    ['channelKey', 'b32'],
    ['payout', 'bytes'],
  ],
  [PaymentType.OPEN_ACCEPT]: [
    ['openId', 'b32'],
    ['hubNonce', 'b32'],
    ['channelId', 'b32'],
    ['channelKey', 'b32'],
    ['payout', 'bytes'],
    ['updateNonce', 'b32'],
    ['settleSig', 'b65'],
  ],
  [PaymentType.OPEN_SIGN]: [
    ['channelId', 'b32'],
    ['updateNonce', 'b32'],
    ['settleSig', 'b65'],
    ['updateSig', 'b65'],
  ],
  [PaymentType.OPEN_SIGNED]: [
    ['channelId', 'b32'],
    ['updateSig', 'b65'],
  ],
  [PaymentType.FUNDING]: [
    ['channelId', 'b32'],
    ['txid', 'b32'],
    ['vout', 'u32'],
  ],
  [PaymentType.OPEN_CANCEL]: [
    ['openId', 'b32'],
    ['reason', 'str'],
  ],
  [PaymentType.CLOSE_PROPOSE]: [
    ['channelId', 'b32'],
    ['n', 'u32'],
    ['closeSig', 'b65'],
  ],
  [PaymentType.CLOSE_ACCEPT]: [
    ['channelId', 'b32'],
    ['n', 'u32'],
    ['closeSig', 'b65'],
  ],
  [PaymentType.TOWER_TERMS]: [
    ['requestId', 'b32'],
    ['channelId', 'b32'],
    ['fundingTxid', 'b32'],
    ['fundingVout', 'u32'],
    ['fundingAmount', 'u64'],
    ['updateFee', 'u64'],
    ['csvDelay', 'u32'],
  ],
} as const satisfies Record<PaymentType, Schema>;

type Schemas = typeof PaymentSchemas;
/** The decoded fields of payment message type `T`. */
export type PaymentFields<T extends PaymentType> = Decoded<Schemas[T]>;
/** A decoded payment message: its type plus its fields. */
export type PaymentMessage = { [T in PaymentType]: { type: T } & PaymentFields<T> }[PaymentType];
/** The decoded payment message of type `T`. */
export type PaymentMessageOf<T extends PaymentType> = Extract<PaymentMessage, { type: T }>;

/** True when `type` is a known payment message type. */
export function isPaymentType(type: number): type is PaymentType {
  return Object.hasOwn(PaymentSchemas, type);
}

/** Encodes a payment message body: `0x01 ‖ fields`. */
export function encodePayment(msg: PaymentMessage): Uint8Array {
  if (!isPaymentType(msg.type)) fail(ErrorCode.PAYMENT_BAD_MESSAGE, `unknown payment message type ${msg.type}`);
  const body = encodeSchema(PaymentSchemas[msg.type] as Schema, msg as never);
  return concatBytes(new Uint8Array([PAYMENT_VERSION]), body);
}

/**
 * Decodes and validates a payment message body of inner type `type`.
 * @throws LnMailboxError PAYMENT_BAD_MESSAGE on unknown type/version, truncation, trailing bytes
 */
export function decodePayment(type: number, body: Uint8Array): PaymentMessage {
  if (!isPaymentType(type)) fail(ErrorCode.PAYMENT_BAD_MESSAGE, `unknown payment message type ${type}`);
  if (!(body instanceof Uint8Array) || body.length < 1) fail(ErrorCode.PAYMENT_BAD_MESSAGE, 'empty payment message');
  if (body[0] !== PAYMENT_VERSION) fail(ErrorCode.PAYMENT_BAD_MESSAGE, `unknown payment message version ${body[0]}`);
  const fields = decodeSchema(PaymentSchemas[type] as Schema, body.subarray(1));
  return { type, ...fields } as PaymentMessage;
}

// ---------------------------------------------------------------------------
// Invoice signature

/** BIP340 tagged-hash tag of the payee's invoice signature. */
export const INVOICE_TAG = 'ln-mailbox/v1/invoice';

/** The invoice fields that the payee signs (everything but the signature). */
export type InvoiceFields = Omit<PaymentFields<typeof PaymentType.INVOICE>, 'signature'>;

/** `taggedHash(INVOICE_TAG, encoding of every invoice field except the signature)`. */
export function invoiceSigHash(inv: InvoiceFields): Uint8Array {
  const schema = PaymentSchemas[PaymentType.INVOICE].filter(([n]) => n !== 'signature') as Schema;
  return taggedHash(INVOICE_TAG, encodeSchema(schema, inv as never));
}

/** True when the invoice's signature is the payee key's BIP340 signature over {@link invoiceSigHash}. */
export function verifyInvoice(inv: PaymentFields<typeof PaymentType.INVOICE>): boolean {
  try {
    return verify(inv.signature, invoiceSigHash(inv), inv.payeeKey);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// Channel state on the wire

/** A pending PTLC inside a channel state. */
export interface WirePtlc {
  /** Payment identifier (the offer id). */
  id: Uint8Array;
  /** 0 when party 0 offers (pays) it, 1 when party 1 does. */
  offerer: 0 | 1;
  /** Amount in satoshis. */
  amount: number;
  /** Payment point T, 33-byte compressed. */
  point: Uint8Array;
  /** Absolute block height after which the offerer may refund. */
  timeout: number;
}

/** A channel state as proposed on the wire: number, balances (sats) and pending PTLCs. */
export interface WireChannelState {
  n: number;
  balances: [number, number];
  ptlcs: WirePtlc[];
}

const STATE_HEAD = [
  ['n', 'u32'],
  ['balance0', 'u64'],
  ['balance1', 'u64'],
  ['ptlcs', 'bytes'],
] as const;
const PTLC_REC = [
  ['id', 'b32'],
  ['offerer', 'u8'],
  ['amount', 'u64'],
  ['point', 'b33'],
  ['timeout', 'u32'],
] as const;
const PTLC_LEN = 32 + 1 + 8 + 33 + 4;

/** Encodes a channel state: `n(u32) ‖ balance0(u64) ‖ balance1(u64) ‖ u16 len ‖ ptlc records (78 bytes each)`. */
export function encodeChannelState(s: WireChannelState): Uint8Array {
  const recs = s.ptlcs.map((p) => encodeSchema(PTLC_REC, { ...p, offerer: p.offerer }));
  return encodeSchema(STATE_HEAD, {
    n: s.n,
    balance0: s.balances[0],
    balance1: s.balances[1],
    ptlcs: concatBytes(...recs),
  });
}

/** Decodes a channel state; rejects malformed PTLC records. */
export function decodeChannelState(b: Uint8Array): WireChannelState {
  const h = decodeSchema(STATE_HEAD, b);
  if (h.ptlcs.length % PTLC_LEN !== 0) fail(ErrorCode.PAYMENT_BAD_MESSAGE, 'ptlcs: bad record length');
  const ptlcs: WirePtlc[] = [];
  for (let i = 0; i < h.ptlcs.length; i += PTLC_LEN) {
    const r = decodeSchema(PTLC_REC, h.ptlcs.subarray(i, i + PTLC_LEN));
    if (r.offerer !== 0 && r.offerer !== 1) fail(ErrorCode.PAYMENT_BAD_MESSAGE, 'ptlc offerer must be 0 or 1');
    ptlcs.push({ ...r, offerer: r.offerer });
  }
  return { n: h.n, balances: [h.balance0, h.balance1], ptlcs };
}
