/**
 * The wallet's own bound on a hub's channel fees (SPEC 6.17): the terms are
 * the hub's, and a hostile hub could set fees that make every close burn the
 * funder's coins. The wallet refuses terms whose `updateFee + settlementFee
 * + ptlcFee` exceed `maxFeeShare` of the amount (default 2%), before any
 * OPEN leaves.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../../base/errors.js';
import { PaymentType } from '../../../protocol/payment.js';
import { rejectsCode } from '../../helpers.js';
import { openWorld, type OpenWorld } from './open-fixture.js';

const t = suite('engine/payment/open-fees');
let w: OpenWorld;
t.after.each(async () => w?.close());

t('a hub whose terms take more than the wallet’s fee share is refused before any OPEN; a wider share accepts them', async () => {
  w = await openWorld('greedy', { updateFee: 5_000 });
  const order = { amount: 200_000, csvDelay: 288, payout: await w.wallets.A.payoutScript(), replyTo: w.keys.A.address };
  const r = await w.payer.openChannel(order, w.ctx());
  w.commit('A', r.step);
  await w.deliverAll();
  // TERMS_REQUEST → TERMS, then the wallet gives the open up: 5 800 sats of fees are 2.9% of 200 000.
  assert.equal(
    w.sent.map((m) => m.message.type),
    [PaymentType.TERMS_REQUEST, PaymentType.TERMS],
  );
  assert.is(w.payer.slot.state.open, undefined);
  // With the terms known, the order is refused at once (OPEN_REFUSED).
  await rejectsCode(w.payer.openChannel(order, w.ctx()), ErrorCode.OPEN_REFUSED);
  assert.is(w.payer.slot.state.open, undefined);
  // The bound is inclusive: 5 800 sats are exactly 2% of 290 000, and one sat less of amount is over it.
  await rejectsCode(w.payer.openChannel({ ...order, amount: 289_999 }, w.ctx()), ErrorCode.OPEN_REFUSED);
  const edge = await w.payer.openChannel({ ...order, amount: 290_000 }, w.ctx());
  assert.is(edge.step.send[0]!.message.type, PaymentType.OPEN);
  await w.payer.cancelOpen('only the bound was checked');
  // A wallet that accepts 3% opens.
  const ok = await w.payer.openChannel({ ...order, maxFeeShare: 0.03 }, w.ctx());
  assert.is(ok.step.send[0]!.message.type, PaymentType.OPEN);
});

t.run();
