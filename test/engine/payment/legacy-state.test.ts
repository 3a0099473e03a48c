/**
 * A hub restored from a state saved before finished payments left it (an
 * older layout: a cancelled offer or request still listed with its status,
 * no `finished` entry). Until the first step archives them, the hub must
 * still treat them as finished: a late invoice for a cancelled offer is
 * refused (the payee must not be paid for a superseded state), and a
 * cancellation delivered twice is ignored, not answered with a refusal that
 * would make the peer drop the state both sides signed.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex } from '../../../base/bytes.js';
import { Hub, type HubJson } from '../../../engine/payment/hub/hub.js';
import type { Step } from '../../../engine/payment/types.js';
import { PaymentType, type PaymentMessage } from '../../../protocol/payment.js';
import { hubRequest, makeWorld, post, prepareRequest, run, startPayment, take, until, type World } from './fixture.js';

const t = suite('payment/legacy-state');
const AMOUNT = 30_000;

/** The hub as an older version saved it: `id` (finished and archived in `step`) still listed, with no `finished` entry. */
function legacyHub(w: World, step: Step, id: string, list: 'payments' | 'requests'): Hub {
  const record = step.archive?.find((a) => a.id === id)?.record;
  assert.ok(record, 'the step archived the finished payment');
  const j = JSON.parse(JSON.stringify(w.hub.toJSON())) as HubJson;
  const { offerId: _id, ...rest } = record as unknown as Record<string, unknown>;
  (j[list] as Record<string, unknown>)[id] = list === 'payments' ? record : rest;
  if (list === 'payments') delete j.finished?.[id];
  else delete j.finishedRequests?.[id];
  return Hub.fromJSON(w.hub.config, j, w.S.nonces);
}

const handled = (s: Step) => ({
  sent: s.send.map((o) => o.message.type),
  events: s.events.map((e) => e.kind),
});

t('a cancelled offer still listed: a late invoice is refused, a replayed cancellation is ignored', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  await run(w, ['A', 'S']);
  // B answers with its invoice, which is held back; A cancels meanwhile.
  await run(w, ['B']);
  const invoice = take<PaymentMessage>(w, await until(w, PaymentType.INVOICE, ['B']));
  post(w, 'A', await w.payer.cancel(offerId));
  const cancel = take<PaymentMessage>(w, await until(w, PaymentType.CANCEL_PROPOSE, ['A']));
  const cancelled = await w.hub.handle({ from: w.A.idPk, message: cancel }, w.ctx);
  assert.ok(cancelled.events.some((e) => e.kind === 'cancelled'));
  assert.is(w.hub.payments.get(offerId), undefined, 'archived at once');

  const hub = legacyHub(w, cancelled, offerId, 'payments');
  assert.is(hub.payments.get(offerId)?.status, 'cancelled', 'listed as an older version saved it');
  const late = await hub.handle({ from: w.B.idPk, message: invoice }, w.ctx);
  assert.ok(
    late.events.some((e) => e.kind === 'rejected' && /cancelled/.test(e.message)),
    `the invoice for a superseded state is refused: ${JSON.stringify(late.events)}`,
  );
  assert.not.ok(
    late.send.some((o) => o.message.type === PaymentType.PTLC_ADD),
    'nothing is extended to the payee',
  );

  const hub2 = legacyHub(w, cancelled, offerId, 'payments');
  const again = await hub2.handle({ from: w.A.idPk, message: cancel }, w.ctx);
  assert.equal(handled(again).sent, [], `a replayed cancellation is not answered: ${JSON.stringify(handled(again))}`);
  assert.not.ok(again.events.some((e) => e.kind === 'rejected'));
  const as = (h: Hub) => h.peers.get(bytesToHex(w.asParams.channelId))!.channel;
  assert.equal(as(hub2).enforceable.state, as(w.hub).enforceable.state, 'the cancellation state stands');
});

t('a cancelled request still listed: a replayed cancellation is ignored', async () => {
  const w = await makeWorld();
  const id = await prepareRequest(w, AMOUNT);
  await run(w, ['B', 'S']);
  post(w, 'B', await w.payee.cancelRequest(id));
  const cancel = take<PaymentMessage>(w, await until(w, PaymentType.CANCEL_PROPOSE, ['B']));
  const cancelled = await w.hub.handle({ from: w.B.idPk, message: cancel }, w.ctx);
  assert.ok(cancelled.events.some((e) => e.kind === 'cancelled'));
  assert.is(hubRequest(w, id), undefined, 'archived at once');

  const hub = legacyHub(w, cancelled, id, 'requests');
  assert.is(hub.requests.get(id)?.status, 'cancelled', 'listed as an older version saved it');
  const again = await hub.handle({ from: w.B.idPk, message: cancel }, w.ctx);
  assert.equal(handled(again).sent, [], `a replayed cancellation is not answered: ${JSON.stringify(handled(again))}`);
  assert.not.ok(again.events.some((e) => e.kind === 'rejected'));
});

t.run();
