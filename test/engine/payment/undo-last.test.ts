/**
 * `undoLast`: a runtime whose write of a step failed puts the engine back
 * exactly as it was before that step, so that memory never runs ahead of
 * the store. The same message is then handled again, as it is when the
 * relay delivers it again, and the payment goes on. An undo is possible only
 * for the last call, and only until its result is stored (`keepLast`).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PaymentType, decodePayment, encodePayment, type PaymentMessage } from '../../../protocol/payment.js';
import { hubPayment, makeWorld, post, run, startPayment, until } from './fixture.js';

const t = suite('payment/undo-last');

const wire = (m: PaymentMessage) => decodePayment(m.type, encodePayment(m));
const whole = (e: { toJSON(): unknown }) => JSON.stringify(e.toJSON());

t('the hub’s handling of a proposal is undone exactly, and the same proposal handled again goes on to a settled payment', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, 20_000);
  const q = w.queue.splice(
    w.queue.findIndex((x) => x.out.message.type === PaymentType.UPDATE_PROPOSE),
    1,
  )[0]!;
  const before = whole(w.hub);
  const first = await w.hub.handle({ from: w.A.idPk, message: wire(q.out.message) }, w.ctx);
  assert.ok(first.send.length > 0, 'the hub answers the proposal');
  assert.is.not(whole(w.hub), before, 'the step changed the hub');
  // Its write failed: the runtime undoes it.
  assert.ok(w.hub.undoLast(), 'the last call can be undone');
  assert.is(whole(w.hub), before, 'the hub is exactly as before the step');
  assert.not.ok(w.hub.undoLast(), 'only once');
  // Delivered again, the proposal is handled again (not ignored as a duplicate).
  const again = await w.hub.handle({ from: w.A.idPk, message: wire(q.out.message) }, w.ctx);
  assert.equal(
    again.send.map((o) => [o.to, o.message.type]),
    first.send.map((o) => [o.to, o.message.type]),
    'the same answers as the first time',
  );
  w.hub.keepLast();
  assert.not.ok(w.hub.undoLast(), 'a stored step is never undone');
  post(w, 'S', again);
  await run(w);
  assert.is(hubPayment(w, offerId)?.status, 'settled');
});

t('a local call (the payer’s pay) is undone exactly: no payment, the channel free, and the payer pays again', async () => {
  const w = await makeWorld();
  const before = whole(w.payer);
  await startPayment(w, 20_000);
  assert.ok(w.payer.channels()[0]!.pending, 'the payment is pending on the channel');
  assert.ok(w.payer.undoLast());
  assert.is(whole(w.payer), before, 'the payer is exactly as before');
  assert.is(w.payer.channels()[0]!.pending, undefined, 'the channel is free');
  assert.is(w.payer.payments.size, 0);
  w.queue.length = 0; // what the undone call would have sent was never stored, so never sent
  const offerId = await startPayment(w, 20_000);
  await run(w);
  assert.is(hubPayment(w, offerId)?.status, 'settled');
});

t('a refused message leaves nothing to undo: the undo of its answer changes nothing', async () => {
  const w = await makeWorld();
  await startPayment(w, 20_000);
  const q = await until(w, PaymentType.UPDATE_PROPOSE);
  w.queue.splice(w.queue.indexOf(q), 1);
  // A stranger replays the proposal: refused and answered, the hub already back as it was.
  const before = whole(w.hub);
  const answer = await w.hub.handle({ from: w.B.idPk, message: wire(q.out.message) }, w.ctx);
  assert.equal(
    answer.send.map((o) => o.message.type),
    [PaymentType.REJECT],
  );
  assert.ok(w.hub.undoLast(), 'the answer’s write may fail: there is nothing to put back');
  assert.is(whole(w.hub), before);
});

t.run();
