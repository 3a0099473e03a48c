/**
 * The router's guard, attacked from the payee's side: a fulfilment whose
 * secret does not open the router's downstream point. Without the check the
 * router would pay the payee downstream and then fail to claim upstream.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex } from '../../protocol/bytes.js';
import { ErrorCode } from '../../protocol/errors.js';
import { PaymentType, type PaymentMessageOf } from '../../protocol/payment.js';
import { hopPay, hopWorld } from './fixture.js';

const t = suite('payment/guards-router');
const AMOUNT = 40_000;

t('P refuses a fulfilment whose secret does not match its downstream point (state and signature valid) and pays nothing', async () => {
  const w = await hopWorld();
  const offerId = await hopPay(w, AMOUNT);
  await w.run((q) => q.message.type === PaymentType.PTLC_FULFILL && q.to === 'P');
  const q = w.queue.shift()!;
  assert.is(q.message.type, PaymentType.PTLC_FULFILL);
  const genuine = q.message as PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>;
  const forged = { ...genuine, secret: new Uint8Array(32).fill(11) };
  const down = [...w.engines.P.downstream.values()][0]!.channel;
  const before = JSON.stringify(w.engines.P.toJSON());
  w.post('P', await w.engines.P.handle({ from: w.parties.B.idPk, message: forged }, w.ctx));
  const e = w.events.P.at(-1);
  assert.ok(e && e.kind === 'rejected', JSON.stringify(e));
  assert.is(e.code, ErrorCode.INVALID_SIGNATURE);
  assert.match(e.message, /secret does not match the payment point/);
  assert.is(JSON.stringify(w.engines.P.toJSON()), before, 'the refused fulfilment changed nothing');
  assert.is(w.engines.P.payments.get(offerId)!.status, 'committed');
  assert.ok(down.enforceable.state.ptlcs.some((x) => bytesToHex(x.id) === offerId), 'the PTLC to B is still open');
  assert.equal(down.enforceable.state.balances, [800_000 - AMOUNT, 199_000], 'B was not paid');
  assert.not.ok(w.queue.some((x) => x.message.type === PaymentType.PTLC_SETTLE), 'P settled nothing downstream');
  assert.not.ok(w.queue.some((x) => x.message.type === PaymentType.PTLC_FULFILL), 'P revealed nothing upstream');
  // The genuine fulfilment then completes every hop.
  w.queue.push({ ...q, message: genuine });
  await w.run();
  assert.is(w.engines.A.payments.get(offerId)!.status, 'completed');
  assert.is(w.engines.P.payments.get(offerId)!.status, 'settled');
  assert.equal(w.engines.B.channel.enforceable.state.balances, [800_000 - AMOUNT, 199_000 + AMOUNT]);
});

t.run();
