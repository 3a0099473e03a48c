import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { schnorr } from '@noble/curves/secp256k1.js';
import {
  PaymentType,
  PaymentSchemas,
  encodePayment,
  decodePayment,
  invoiceSigHash,
  verifyInvoice,
  encodeChannelState,
  decodeChannelState,
  ErrorCode,
  type PaymentMessage,
  type FieldKind,
} from '../../protocol/index.js';
import { throwsCode } from '../helpers.js';

const t = suite('protocol/payment');

function sample(kind: FieldKind, i: number): unknown {
  switch (kind) {
    case 'u8':
      return i % 256;
    case 'u16':
      return 1000 + i;
    case 'u32':
      return 100000 + i;
    case 'u64':
      return 2 ** 40 + i;
    case 'b32':
      return new Uint8Array(32).fill(i);
    case 'b33':
      return new Uint8Array(33).fill(i + 1);
    case 'b64':
      return new Uint8Array(64).fill(i + 2);
    case 'b65':
      return new Uint8Array(65).fill(i + 3);
    case 'bytes':
      return new Uint8Array([1, 2, 3, i]);
    case 'str':
      return `field ${i} ✓`;
  }
}

function sampleMessage(type: PaymentType): PaymentMessage {
  const m: Record<string, unknown> = { type };
  PaymentSchemas[type].forEach(([name, kind], i) => (m[name] = sample(kind, i)));
  return m as PaymentMessage;
}

t('every message type round-trips, and each truncation or extension is rejected', () => {
  for (const type of Object.values(PaymentType)) {
    const msg = sampleMessage(type);
    const body = encodePayment(msg);
    assert.equal(decodePayment(type, body), msg);
    for (let cut = 0; cut < body.length; cut++)
      throwsCode(() => decodePayment(type, body.subarray(0, cut)), ErrorCode.PAYMENT_BAD_MESSAGE, `type ${type} cut ${cut}`);
    const longer = new Uint8Array(body.length + 1);
    longer.set(body);
    throwsCode(() => decodePayment(type, longer), ErrorCode.PAYMENT_BAD_MESSAGE);
  }
});

t('unknown type, unknown version and ill-typed fields are rejected', () => {
  const body = encodePayment(sampleMessage(PaymentType.REJECT));
  throwsCode(() => decodePayment(0x7777, body), ErrorCode.PAYMENT_BAD_MESSAGE);
  const v2 = body.slice();
  v2[0] = 2;
  throwsCode(() => decodePayment(PaymentType.REJECT, v2), ErrorCode.PAYMENT_BAD_MESSAGE);
  const bad = { ...sampleMessage(PaymentType.OFFER_VOID), offerId: new Uint8Array(31) } as PaymentMessage;
  throwsCode(() => encodePayment(bad), ErrorCode.PAYMENT_BAD_MESSAGE);
  const neg = { ...sampleMessage(PaymentType.UPDATE_ACCEPT), n: -1 } as PaymentMessage;
  throwsCode(() => encodePayment(neg), ErrorCode.PAYMENT_BAD_MESSAGE);
  // invalid UTF-8 in a string field
  const s = encodePayment({ type: PaymentType.OFFER_VOID, offerId: new Uint8Array(32), reason: 'ab' });
  s[s.length - 1] = 0xff;
  throwsCode(() => decodePayment(PaymentType.OFFER_VOID, s), ErrorCode.PAYMENT_BAD_MESSAGE);
});

t('invoice signature binds every field', () => {
  const sk = schnorr.utils.randomSecretKey();
  const inv = {
    offerId: new Uint8Array(32).fill(1),
    point: new Uint8Array(33).fill(2),
    amount: 5000,
    expiry: 1_700_000_000_000,
    payeeChannel: new Uint8Array(32).fill(3),
    payeeAddress: 'lnmb1…',
    timeoutDelta: 40,
    payeeKey: schnorr.getPublicKey(sk),
  };
  const signed = { ...inv, signature: schnorr.sign(invoiceSigHash(inv), sk) };
  assert.ok(verifyInvoice(signed));
  assert.not.ok(verifyInvoice({ ...signed, amount: 5001 }));
  assert.not.ok(verifyInvoice({ ...signed, point: new Uint8Array(33).fill(9) }));
  assert.not.ok(verifyInvoice({ ...signed, payeeKey: new Uint8Array(32) }));
  assert.not.ok(verifyInvoice({ ...signed, timeoutDelta: 41 }));
});

t('channel state codec', () => {
  const s = {
    n: 7,
    balances: [1000, 2000] as [number, number],
    ptlcs: [{ id: new Uint8Array(32).fill(5), offerer: 1 as const, amount: 300, point: new Uint8Array(33).fill(2), timeout: 800_100 }],
  };
  assert.equal(decodeChannelState(encodeChannelState(s)), s);
  const e = encodeChannelState(s);
  throwsCode(() => decodeChannelState(e.subarray(0, e.length - 1)), ErrorCode.PAYMENT_BAD_MESSAGE);
  const badOfferer = e.slice();
  badOfferer[4 + 8 + 8 + 2 + 32] = 2;
  throwsCode(() => decodeChannelState(badOfferer), ErrorCode.PAYMENT_BAD_MESSAGE);
});

t.run();
