/**
 * The router gives an upstream PTLC back when its downstream fails (SPEC
 * 6.13), also when the upstream channel is busy at that moment, and also
 * when the hub refuses the first removal because its own proposal crossed
 * it. Attacked from the payee's side: a payee that refuses the PTLC while
 * another payment is being negotiated upstream must not leave the hub's
 * funds, and the payer's pending state, locked until the PTLC times out.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex } from '../../../base/bytes.js';
import { PaymentType } from '../../../protocol/payment.js';
import { hopPay, hopSecondPayer, hopWorld, type HopWorld } from './fixture.js';

const t = suite('payment/router-failback');
const AMOUNT = 40_000;

/**
 * Delivers queued messages in order, skipping those for B (its mailbox is
 * held) and for A2, until the first deliverable one matches `stop` (left queued).
 */
async function runWithoutB(w: HopWorld, a2: Awaited<ReturnType<typeof hopSecondPayer>>, stop: (q: HopWorld['queue'][number]) => boolean) {
  for (let i = 0; i < 200; i++) {
    await a2.toA2();
    const j = w.queue.findIndex((q) => q.to !== 'B' && q.to !== undefined);
    if (j < 0 || stop(w.queue[j]!)) return;
    const [q] = w.queue.splice(j, 1);
    await w.deliver(q!.from, q!.to, q!.message);
  }
  throw new Error('message loop did not settle');
}

const hasPtlc = (w: HopWorld, offerId: string) =>
  w.engines.S.peers.get(bytesToHex(w.sp.channelId))!.channel.enforceable.state.ptlcs.some((x) => bytesToHex(x.id) === offerId);

t('a payee refusing while the upstream channel is busy: P gives the PTLC back as soon as the other negotiation ends', async () => {
  const w = await hopWorld();
  const a2 = await hopSecondPayer(w);
  // Payment 1: A → B, extended by P; B's mailbox is held.
  const first = await hopPay(w, AMOUNT);
  await w.run((q) => q.to === 'B' && q.message.type === PaymentType.PTLC_ADD);
  assert.is(w.routerPayment(first)!.status, 'extended');
  // Payment 2: A2 → C. Stop when P has accepted S's PTLC_ADD: the S–P channel is pending at P.
  const second = await a2.pay(30_000);
  await runWithoutB(w, a2, (q) => q.to === 'S' && q.message.type === PaymentType.PTLC_ACCEPT);
  assert.ok(w.engines.P.upstream.channel.pending, 'the S–P channel is being negotiated (payment 2)');
  // B refuses payment 1 now (its payer voided it meanwhile): PTLC_FAIL reaches P while S–P is busy.
  w.engines.B.payments.get(first)!.status = 'void';
  await w.run((q) => q.to !== 'B');
  const fail = w.queue.findIndex((q) => q.to === 'P' && q.message.type === PaymentType.PTLC_FAIL);
  assert.ok(fail >= 0);
  const [q] = w.queue.splice(fail, 1);
  await w.deliver(q!.from, q!.to, q!.message);
  assert.is(w.routerPayment(first)!.status, 'failing', 'the removal is owed, not given up');
  assert.not.ok(
    w.queue.some((x) => x.message.type === PaymentType.PTLC_REMOVE),
    'nothing can be removed while S–P is pending',
  );
  // Everything runs: payment 2 goes on, and the step that frees S–P gives payment 1's PTLC back.
  for (let i = 0; i < 10; i++) {
    await a2.toA2();
    await w.run();
  }
  assert.ok(
    w.seen.S.some((m) => m.type === PaymentType.PTLC_REMOVE),
    'P gave the PTLC back',
  );
  assert.is(w.routerPayment(first)!.status, 'failed');
  assert.not.ok(hasPtlc(w, first), "S's funds are not held by payment 1's PTLC");
  assert.is(w.engines.S.payments.get(first)!.status, 'pending', "S's payment is back before the invoice");
  const sp = w.engines.S.peers.get(bytesToHex(w.sp.channelId))!.channel;
  assert.equal(sp.enforceable.state, w.engines.P.upstream.channel.enforceable.state, 'S and P agree on S–P');
  assert.is(sp.pending, undefined);
  assert.is(a2.payer.payments.get(second)!.status, 'completed', 'payment 2 completed');
  // A cancels payment 1: its channel is free again.
  w.post('A', await w.engines.A.cancel(first));
  await w.run();
  assert.is(w.engines.A.payments.get(first)!.status, 'cancelled');
  assert.is(w.engines.A.channel.pending, undefined);
});

t('the hub refuses a removal that crossed its own proposal: P drops it, proposes again above both numbers, S frees the PTLC', async () => {
  const w = await hopWorld();
  const a2 = await hopSecondPayer(w);
  const first = await hopPay(w, AMOUNT);
  await w.run((q) => q.to === 'B' && q.message.type === PaymentType.PTLC_ADD);
  assert.is(w.routerPayment(first)!.status, 'extended');
  // Payment 2: S proposes its PTLC_ADD to P, held in P's mailbox.
  const second = await a2.pay(30_000);
  await runWithoutB(w, a2, (q) => q.to === 'P' && q.message.type === PaymentType.PTLC_ADD);
  const addIdx = w.queue.findIndex((q) => q.to === 'P' && q.message.type === PaymentType.PTLC_ADD);
  assert.ok(addIdx >= 0);
  const [heldAdd] = w.queue.splice(addIdx, 1);
  // B refuses payment 1: P's PTLC_REMOVE crosses S's PTLC_ADD, with the same state number.
  w.engines.B.payments.get(first)!.status = 'void';
  await w.run((q) => q.to === 'P' && q.message.type === PaymentType.REJECT);
  const reject = w.queue.find((q) => q.to === 'P' && q.message.type === PaymentType.REJECT);
  assert.ok(reject, 'S refused the crossing removal');
  assert.ok(reject.message.type === PaymentType.REJECT && reject.message.refType === PaymentType.PTLC_REMOVE);
  // P takes the refusal, drops its removal state and proposes the removal again at once.
  await w.run((q) => q.message.type === PaymentType.PTLC_REMOVE && q.to === 'S');
  assert.is(w.routerPayment(first)!.status, 'removing');
  assert.is(w.routerPayment(first)!.removeAttempts, 1);
  // A REJECT of a removal whose number is not the pending state's (not the one in flight) changes nothing.
  const inFlight = w.routerPayment(first)!;
  w.engines.P.payments.set(first, { ...inFlight, removeN: inFlight.removeN! + 1 });
  const before = JSON.stringify(w.engines.P.toJSON());
  await w.deliver('S', 'P', reject.message);
  assert.is(JSON.stringify(w.engines.P.toJSON()), before, 'a refusal of no removal in flight is ignored');
  w.engines.P.payments.set(first, inFlight);
  // Then S's held PTLC_ADD arrives (P is busy: PTLC_FAIL), and everything runs.
  w.queue.push(heldAdd!);
  for (let i = 0; i < 10; i++) {
    await a2.toA2();
    await w.run();
  }
  assert.is(w.routerPayment(first)!.status, 'failed');
  assert.not.ok(hasPtlc(w, first), "S's funds are not held by payment 1's PTLC");
  assert.is(w.engines.S.payments.get(first)!.status, 'pending');
  const sp = w.engines.S.peers.get(bytesToHex(w.sp.channelId))!.channel;
  assert.equal(sp.enforceable.state, w.engines.P.upstream.channel.enforceable.state, 'S and P agree on S–P');
  assert.is(sp.pending, undefined);
  assert.is(w.engines.P.upstream.channel.pending, undefined, 'P is not stuck with a refused removal');
  // Payment 2 was refused by the busy router and is pending again at S: A2 can cancel it.
  assert.is(w.engines.S.payments.get(second)!.status, 'pending');
  await a2.toA2();
  await a2.send(await a2.payer.cancel(second));
  await a2.toA2();
  await w.run();
  assert.is(a2.payer.payments.get(second)!.status, 'cancelled');
});

t.run();
