/**
 * The privacy hop S→P→B: the payee's channel is with a router P, not with the
 * hub. Each hop's PTLC is locked to its own point (T_B plus that hop's tweak),
 * neither of them T_B; B sells s_B, the secret behind T_B, through P, and S
 * completes A's update with it: A's receipt is B's signature (R_B, s_B).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex, hexToBytes } from '../../../base/bytes.js';
import { decodeChannelState, encodePayment, PaymentType, type PaymentMessage } from '../../../protocol/payment.js';
import { hopPay as pay, hopWorld } from './fixture.js';
import { decodeReceipt, verifyReceipt } from '../../../protocol/receipt.js';
import { hubFee } from '../../../engine/payment/fee.js';

const t = suite('payment/router');
const AMOUNT = 40_000;

/** The point of the PTLC for `offerId` in the first PTLC_ADD a party received. */
function hopPoint(seen: PaymentMessage[], offerId: string): Uint8Array {
  const add = seen.find((m) => m.type === PaymentType.PTLC_ADD && bytesToHex(m.offerId) === offerId);
  assert.ok(add && add.type === PaymentType.PTLC_ADD);
  return decodeChannelState(add.state).ptlcs.find((x) => bytesToHex(x.id) === offerId)!.point;
}

t('A pays B through S and a router P: decorrelated points, a receipt from B that A verifies, every channel consistent', async () => {
  const w = await hopWorld();
  const fee = hubFee(AMOUNT, w.engines.S.config.fee);
  const offerId = await pay(w, AMOUNT);
  await w.run();
  assert.is(w.engines.A.payments.get(offerId)!.status, 'completed');
  assert.is(w.engines.B.payments.get(offerId)!.status, 'paid');
  assert.is(w.routerPayment(offerId)!.status, 'settled');
  assert.is(w.engines.S.payments.get(offerId)!.status, 'settled');
  // Balances: A paid amount + fee to S; S paid amount to P; P paid amount to B.
  assert.equal(w.engines.A.channel.enforceable.state.balances, [600_000 - AMOUNT - fee, 399_000 + AMOUNT + fee]);
  assert.equal(w.engines.P.upstream.channel.enforceable.state.balances, [700_000 - AMOUNT, 299_000 + AMOUNT]);
  assert.equal(w.engines.B.channel.enforceable.state.balances, [800_000 - AMOUNT, 199_000 + AMOUNT]);
  // What S saw: invoices from P only, never B's key in the clear.
  const invoicesAtS = w.seen.S.filter((m) => m.type === PaymentType.INVOICE);
  assert.is(invoicesAtS.length, 1);
  const inv = invoicesAtS[0]!;
  assert.ok(inv.type === PaymentType.INVOICE && bytesToHex(inv.payeeKey) === bytesToHex(w.parties.P.idPk));
  const bKey = bytesToHex(w.parties.B.idPk);
  for (const m of w.seen.S) assert.not.ok(bytesToHex(encodePayment(m)).includes(bKey), `S saw B's key in message ${m.type}`);
  // What P saw: never A's identity key.
  const aKey = bytesToHex(w.parties.A.idPk);
  for (const m of w.seen.P) assert.not.ok(bytesToHex(encodePayment(m)).includes(aKey), `P saw A's key in message ${m.type}`);
  // Decorrelation: the two hops are locked to different points, neither of them T.
  const T = w.engines.A.payments.get(offerId)!.point!;
  const upPoint = bytesToHex(hopPoint(w.seen.P, offerId));
  const downPoint = bytesToHex(hopPoint(w.seen.B, offerId));
  assert.ok(upPoint !== downPoint && upPoint !== T && downPoint !== T, 'every hop sees its own point');
  // Timelocks: P's outgoing PTLC times out cltvDelta before its incoming one.
  const ext = w.events.P.find((e) => e.kind === 'ptlc_extended');
  const extS = w.events.S.find((e) => e.kind === 'ptlc_extended');
  assert.ok(ext && extS && ext.kind === 'ptlc_extended' && extS.kind === 'ptlc_extended');
  assert.is(extS.timeout - ext.timeout, 30);
  // A's receipt is B's signature over the payment, under B's receipt key (SPEC 6.16).
  const done = w.events.A.find((e) => e.kind === 'completed');
  assert.ok(done && done.kind === 'completed');
  assert.ok(verifyReceipt(hexToBytes(done.receipt.receipt), w.parties.B.address), "the receipt verifies against B's address");
  assert.is(bytesToHex(decodeReceipt(hexToBytes(done.receipt.receipt)).payee), bKey);
});

t('a completion with a wrong t or a forged hub signature is refused and changes nothing', async () => {
  const w = await hopWorld();
  const offerId = await pay(w, AMOUNT);
  const origHandle = w.engines.A.handle.bind(w.engines.A);
  const refused: string[] = [];
  w.engines.A.handle = async (inc, ctx) => {
    const m = inc.message;
    if (m.type === PaymentType.COMPLETION) {
      const badSig = m.updateSig.slice();
      badSig[40]! ^= 1;
      for (const forged of [
        { ...m, secret: new Uint8Array(32).fill(3) },
        { ...m, updateSig: badSig },
      ]) {
        try {
          await origHandle({ ...inc, message: forged }, ctx);
        } catch (e) {
          refused.push((e as Error).message);
        }
        assert.is(w.engines.A.payments.get(offerId)!.status, 'offered');
      }
    }
    return origHandle(inc, ctx);
  };
  await w.run();
  assert.is(refused.length, 2);
  assert.is(w.engines.A.payments.get(offerId)!.status, 'completed', 'the genuine completion is then accepted');
});

t.run();
