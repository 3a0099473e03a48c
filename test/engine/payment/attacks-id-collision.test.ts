/**
 * Attacks on the hub's ids: an id names one payment in one flow. The hub
 * routes a `CANCEL_PROPOSE` by its id, to the request flow (SPEC 6.14) when
 * it names a request, else to the offer flow (SPEC 6.8). A payee who learns
 * an offer's id from its `OFFER`, and a payer who learns a request's id
 * from its `REQUEST`, could name a payment of the other flow after it:
 * - B prepares a request named after A's offer: A's cancellation of the
 *   offer would go to the request flow and be refused ("the request belongs
 *   to another channel"), leaving A's state pending and `pay()` refused for as
 *   long as B keeps its request, with a unilateral close as A's only way out;
 * - A proposes an offer named after a request, in flight or finished: the
 *   hub would hold two payments under one id, and the offer's cancellation
 *   would go to the request flow.
 * Expected: the hub refuses the second use of an id with a typed refusal
 * that changes nothing in its state (but the refused proposal's number, which
 * its settlement signature marks as seen, by design), and the victim's payment goes on.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hexToBytes } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { PaymentType, type PaymentMessage } from '../../../protocol/payment.js';
import { hubFee } from '../../../engine/payment/fee.js';
import type { Step } from '../../../engine/payment/types.js';
import {
  hubAS,
  hubPayment,
  hubRequest,
  hubSB,
  makeWorld,
  post,
  prepareRequest,
  run,
  startPayment,
  stateOf,
  take,
  ticketFor,
  until,
  type World,
} from './fixture.js';

const t = suite('payment/attacks-id-collision');

const AMOUNT = 30_000;

/**
 * Hands `message` from `from` straight to the hub and asserts that the hub
 * refused it with PAYMENT_REJECTED and a reason matching `re`, answered the
 * sender with a REJECT of that message and nothing else, and that its state
 * is exactly as before (see {@link stateOf}). Returns the hub's step.
 */
async function refusedUnchanged(w: World, from: 'A' | 'B', message: PaymentMessage, re: RegExp): Promise<Step> {
  const before = stateOf(w.hub);
  const s = await w.hub.handle({ from: w[from].idPk, message }, w.ctx);
  const e = s.events[0];
  assert.ok(e?.kind === 'rejected', `expected a refusal, got ${JSON.stringify(s.events)}`);
  assert.is(e.code, ErrorCode.PAYMENT_REJECTED);
  assert.match(e.message, re);
  assert.is(s.send.length, 1, 'the hub answers with one REJECT only');
  const answer = s.send[0]!;
  assert.is(answer.to, w[from].address);
  assert.ok(answer.message.type === PaymentType.REJECT && answer.message.refType === message.type, JSON.stringify(answer.message));
  assert.is(stateOf(w.hub), before, 'nothing changed at S');
  return s;
}

/** B's REQUEST_PREPARE of a request named `id` (B's own engine makes it; B knows the id from an OFFER). */
async function prepareNamed(w: World, id: string): Promise<PaymentMessage> {
  const { step } = await w.payee.request(
    { payer: { publicKey: w.A.idPk, address: w.A.address }, amount: 1_000, expiry: w.ctx.now + 86_400_000, requestId: hexToBytes(id, 32) },
    w.ctx,
  );
  const prepare = step.send.find((o) => o.message.type === PaymentType.REQUEST_PREPARE);
  assert.ok(prepare, 'B made a REQUEST_PREPARE');
  return prepare.message;
}

/** A's UPDATE_PROPOSE of an offer named `id` (A's own engine makes it; A knows the id from a REQUEST). */
async function proposeNamed(w: World, id: string): Promise<PaymentMessage> {
  const { step } = await w.payer.pay(
    {
      payee: { publicKey: w.B.idPk, address: w.B.address },
      ticket: await ticketFor(w.payee),
      amount: 10_000,
      fee: hubFee(10_000, w.hub.config.fee),
      expiry: w.ctx.now + 3_600_000,
      offerId: hexToBytes(id, 32),
    },
    w.ctx,
  );
  const propose = step.send.find((o) => o.message.type === PaymentType.UPDATE_PROPOSE);
  assert.ok(propose, 'A made an UPDATE_PROPOSE');
  return propose.message;
}

/** A can start a new payment, and the hub co-signs it. */
async function payerPaysAgain(w: World): Promise<void> {
  const next = await startPayment(w, 5_000);
  await until(w, PaymentType.OFFER, ['A', 'S']);
  assert.is(w.hub.payments.get(next)?.status, 'pending', 'the hub took the next payment');
  assert.is(hubAS(w).pending?.state.n, w.payer.channel.pending?.state.n);
}

t("attacker B names a request after A's offer: the hub refuses it, and A's cancellation and next payment go through", async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, 10_000);
  // The OFFER is on its way to B: from it, B learns the offer id.
  const offer = take<PaymentMessage>(w, await until(w, PaymentType.OFFER, ['A', 'S']));
  assert.ok(offer.type === PaymentType.OFFER && offer.offerId.length === 32);
  assert.is(w.hub.payments.get(offerId)?.status, 'pending');
  const prepare = await prepareNamed(w, offerId);
  await refusedUnchanged(w, 'B', prepare, /names an offer/);
  assert.not.ok(w.hub.requests.has(offerId), 'no request under the offer id');
  assert.is(hubSB(w).pending, undefined, 'S–B has no pending state at S');
  // A cancels: the hub takes it as the offer's cancellation.
  post(w, 'A', await w.payer.cancel(offerId));
  await run(w, ['A', 'S']);
  assert.is(w.payer.payments.get(offerId)?.status, 'cancelled');
  assert.is(w.payer.channel.pending, undefined, "A's channel is free");
  assert.is(hubPayment(w, offerId)?.status, 'cancelled');
  assert.equal(w.payer.channel.enforceable.state, hubAS(w).enforceable.state);
  await payerPaysAgain(w);
});

t("attacker A names an offer after B's request in flight: the hub refuses it, and the request is still paid", async () => {
  const w = await makeWorld();
  const requestId = await prepareRequest(w, AMOUNT);
  await run(w, ['B', 'S']); // PREPARE ↔ PREPARED; the REQUEST waits in A's mailbox
  assert.is(w.hub.requests.get(requestId)?.status, 'prepared');
  const propose = await proposeNamed(w, requestId);
  const s = await refusedUnchanged(w, 'A', propose, /names a request/);
  assert.not.ok(w.hub.payments.has(requestId), 'no offer under the request id');
  assert.is(hubAS(w).pending, undefined, 'A–S has no pending state at S');
  // A takes the refusal (it drops its proposal), reads the request and pays it.
  post(w, 'S', s);
  await run(w, ['A', 'S']);
  assert.is(w.payer.channel.pending, undefined);
  post(w, 'A', await w.payer.payRequest(requestId, hubFee(AMOUNT, w.hub.config.fee), w.ctx));
  await run(w);
  assert.is(w.payee.requests.get(requestId)?.status, 'paid');
  assert.is(hubRequest(w, requestId)?.status, 'settled');
  assert.equal(w.payee.channel.enforceable.state, hubSB(w).enforceable.state);
});

t('attacker A names an offer after a finished request: the hub refuses it while it remembers the request', async () => {
  const w = await makeWorld();
  const requestId = await prepareRequest(w, AMOUNT);
  await run(w, ['B', 'S']);
  post(w, 'B', await w.payee.cancelRequest(requestId));
  // S co-signs the cancellation; its CANCEL_ACCEPT is still on its way to B.
  await until(w, PaymentType.CANCEL_ACCEPT, ['S']);
  assert.ok(w.hub.finishedRequests.has(requestId), 'the cancelled request is finished and remembered');
  assert.not.ok(w.hub.requests.has(requestId));
  const propose = await proposeNamed(w, requestId);
  const s = await refusedUnchanged(w, 'A', propose, /names a request/);
  assert.not.ok(w.hub.payments.has(requestId), 'no offer under the request id');
  post(w, 'S', s);
  await run(w, ['A', 'S']);
  assert.is(w.payer.channel.pending, undefined);
  await payerPaysAgain(w);
});

t("attacker B names a request after A's finished offer: the hub refuses it, and A's cancellation completes", async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, 10_000);
  take(w, await until(w, PaymentType.OFFER, ['A', 'S'])); // B learns the id
  post(w, 'A', await w.payer.cancel(offerId));
  // S co-signs the cancellation; its CANCEL_ACCEPT is still on its way to A.
  const accept = await until(w, PaymentType.CANCEL_ACCEPT, ['S']);
  assert.ok(accept);
  assert.ok(w.hub.finished.has(offerId), 'the cancelled offer is finished and remembered');
  assert.not.ok(w.hub.payments.has(offerId));
  const prepare = await prepareNamed(w, offerId);
  await refusedUnchanged(w, 'B', prepare, /names an offer/);
  assert.not.ok(w.hub.requests.has(offerId), 'no request under the offer id');
  // A copy of A's CANCEL_PROPOSE delivered again is still the offer's: ignored, not refused.
  const cancel = [...w.log].reverse().find((l) => l.message.type === PaymentType.CANCEL_PROPOSE)!.message;
  const again = await w.hub.handle({ from: w.A.idPk, message: cancel }, w.ctx);
  assert.equal(
    again.events.map((e) => e.kind),
    ['ignored'],
    `a replayed cancellation is ignored: ${JSON.stringify(again.events)}`,
  );
  assert.is(again.send.length, 0);
  // A's cancellation completes.
  await run(w, ['A', 'S']);
  assert.is(w.payer.payments.get(offerId)?.status, 'cancelled');
  assert.is(w.payer.channel.pending, undefined);
  assert.equal(w.payer.channel.enforceable.state, hubAS(w).enforceable.state);
  await payerPaysAgain(w);
});

t.run();
