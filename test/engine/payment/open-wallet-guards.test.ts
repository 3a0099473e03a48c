/**
 * The wallet's own refusals around an open (SPEC 6.17), each found unexercised
 * by a mutation run: a second open while one is in progress, a cancel with no
 * open, and a cancel once the channel is funded (its coins are out: only a
 * close gets them back). Each is refused with OPEN_REFUSED and changes nothing.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../../base/errors.js';
import { rejectsCode } from '../../helpers.js';
import { openWorld, type OpenWorld } from './open-fixture.js';

const t = suite('engine/payment/open-wallet-guards');
let w: OpenWorld;
t.after.each(async () => w?.close());

t('a second open while one is in progress, and a cancel with no open, are refused and change nothing', async () => {
  w = await openWorld('guards');
  await rejectsCode(w.payer.cancelOpen('nothing to cancel'), ErrorCode.OPEN_REFUSED);
  const order = { amount: 1_000_000, csvDelay: 288, payout: await w.wallets.A.payoutScript(), replyTo: w.keys.A.address };
  const r = await w.payer.openChannel(order, w.ctx());
  w.commit('A', r.step);
  const before = JSON.stringify(w.payer.toJSON());
  await rejectsCode(w.payer.openChannel(order, w.ctx()), ErrorCode.OPEN_REFUSED);
  assert.is(JSON.stringify(w.payer.toJSON()), before, 'the open in progress is untouched');
  // The first open can still be given up.
  const c = await w.payer.cancelOpen('changed my mind');
  w.commit('A', c);
  assert.is(w.payer.slot.state.open, undefined);
});

t.run();
