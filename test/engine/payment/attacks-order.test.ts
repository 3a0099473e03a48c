/**
 * Cross-relay reordering around a cancellation. The payer's messages to the
 * hub, and the hub's answers to the payer, may arrive in any order (each
 * party may read them through a different relay). For every order of the
 * in-flight offer-flow messages between A and S around a cancellation
 * (UPDATE_ACCEPT, REJECT of the proposal, REJECT of the cancel,
 * CANCEL_ACCEPT, COMPLETION), the payment must end consistent: A's and S's
 * views of A–S agree on the enforceable state, nothing is left pending on
 * either side, the payment ends completed / cancelled (or failed when the hub
 * refused the proposal) at A consistently with S, and a next payment completes.
 *
 * The cases are enumerated exhaustively; they run one after the other on one
 * world (each case must leave it clean for the next).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PaymentType } from '../../../protocol/payment.js';
import { handleQueued, hubAS, hubPayment, hubSB, makeWorld, post, recipient, run, startPayment, typeName, type World } from './fixture.js';
import { prng } from '../../helpers.js';

const t = suite('payment/attacks-order');

/** All permutations of `xs`. */
function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

/** Delivers the first queued message matching `pred`; false when none. */
async function deliverWhere(w: World, pred: (q: World['queue'][number]) => boolean): Promise<boolean> {
  const i = w.queue.findIndex(pred);
  if (i < 0) return false;
  const r = await handleQueued(w, i);
  if (r.error !== undefined) throw r.error;
  post(w, r.to, r.step!);
  return true;
}

/** Delivers the messages now queued for A in the order `perm` (indices into them). */
async function deliverToA(w: World, perm: number[]) {
  const inFlight = w.queue.filter((q) => recipient(w, q) === 'A');
  assert.is(inFlight.length, perm.length, 'messages in flight to A');
  for (const k of perm) {
    const i = w.queue.indexOf(inFlight[k]!);
    const r = await handleQueued(w, i);
    if (r.error !== undefined) throw r.error;
    post(w, r.to, r.step!);
  }
}

const names = (w: World, to: 'A' | 'S') =>
  w.queue
    .filter((q) => recipient(w, q) === to)
    .map((q) => (q.out.message.type === PaymentType.REJECT ? `REJECT(${typeName(q.out.message.refType)})` : typeName(q.out.message.type)));

/** The end state every order must reach; then a next payment must complete. */
async function assertConsistent(w: World, offerId: string, label: string) {
  await run(w); // everyone online until nothing is left in flight
  const a = w.payer.payments.get(offerId)!.status;
  const s = hubPayment(w, offerId)?.status;
  assert.ok(['completed', 'cancelled', 'failed'].includes(a), `${label}: the payment is stuck at A as '${a}' (S: '${s}')`);
  if (a === 'completed') assert.ok(s === 'settled' || s === 'bought', `${label}: A completed, S says '${s}'`);
  if (a === 'cancelled') assert.is(s, 'cancelled', `${label}: A cancelled, S says '${s}'`);
  if (a === 'failed') assert.ok(s === undefined || s === 'cancelled', `${label}: A failed, S says '${s}'`);
  assert.is(w.payer.channel.pending?.state.n, undefined, `${label}: A–S pending at A`);
  assert.is(hubAS(w).pending?.state.n, undefined, `${label}: A–S pending at S`);
  assert.is(hubSB(w).pending?.state.n, undefined, `${label}: S–B pending at S`);
  assert.is(w.payee.channel.pending?.state.n, undefined, `${label}: S–B pending at B`);
  assert.equal(w.payer.channel.enforceable.state, hubAS(w).enforceable.state, `${label}: A and S disagree on A–S`);
  const next = await startPayment(w, 1_000);
  await run(w);
  assert.is(w.payer.payments.get(next)!.status, 'completed', `${label}: the next payment did not complete`);
}

t('cancelled while proposed: every order of PROPOSE/CANCEL at S and of the answers at A ends consistent', async () => {
  const w = await makeWorld();
  for (const refused of [false, true]) {
    for (const hubOrder of [
      [PaymentType.UPDATE_PROPOSE, PaymentType.CANCEL_PROPOSE],
      [PaymentType.CANCEL_PROPOSE, PaymentType.UPDATE_PROPOSE],
    ]) {
      for (const perm of permutations([0, 1])) {
        const offerId = await startPayment(w, 2_000, refused ? { fee: 0 } : {});
        post(w, 'A', await w.payer.cancel(offerId)); // A cancels before hearing from S
        for (const type of hubOrder) assert.ok(await deliverWhere(w, (q) => recipient(w, q) === 'S' && q.out.message.type === type));
        const label = `${refused ? 'hub refuses the fee; ' : ''}S reads ${hubOrder.map(typeName).join(', ')}; A reads [${perm.map((k) => names(w, 'A')[k]).join(', ')}]`;
        await deliverToA(w, perm);
        await assertConsistent(w, offerId, label);
      }
    }
  }
});

t(
  "cancelled while offered: the cancel and the payee's purchase race at S, the answers race at A; every order ends consistent",
  async () => {
    const w = await makeWorld();
    // (a) S reads the cancel first: CANCEL_ACCEPT; the payee's late invoice is refused.
    {
      const offerId = await startPayment(w, 2_000);
      await run(w, ['A', 'S']);
      post(w, 'A', await w.payer.cancel(offerId));
      assert.ok(await deliverWhere(w, (q) => q.out.message.type === PaymentType.CANCEL_PROPOSE));
      await deliverToA(w, [0]);
      await assertConsistent(w, offerId, 'cancel accepted');
    }
    // (b) the payee sells s_B first (S completes A's update with it): S refuses the cancel; A reads COMPLETION and the REJECT in either order.
    for (const perm of permutations([0, 1])) {
      const offerId = await startPayment(w, 2_000);
      await run(w, ['A', 'S']);
      post(w, 'A', await w.payer.cancel(offerId));
      while (await deliverWhere(w, (q) => recipient(w, q) !== 'A' && q.out.message.type !== PaymentType.CANCEL_PROPOSE));
      assert.ok(await deliverWhere(w, (q) => q.out.message.type === PaymentType.CANCEL_PROPOSE));
      const label = `payee paid first; A reads [${perm.map((k) => names(w, 'A')[k]).join(', ')}]`;
      await deliverToA(w, perm);
      await assertConsistent(w, offerId, label);
    }
    // (c) the payee invoices, S extends the PTLC, then reads the cancel (refused); the payee is slow to fulfill.
    for (const perm of permutations([0, 1])) {
      const offerId = await startPayment(w, 2_000);
      await run(w, ['A', 'S']);
      post(w, 'A', await w.payer.cancel(offerId));
      await run(w, ['B']); // invoice
      assert.ok(await deliverWhere(w, (q) => q.out.message.type === PaymentType.INVOICE));
      assert.ok(await deliverWhere(w, (q) => q.out.message.type === PaymentType.CANCEL_PROPOSE));
      while (await deliverWhere(w, (q) => recipient(w, q) !== 'A'));
      const label = `PTLC extended before the cancel; A reads [${perm.map((k) => names(w, 'A')[k]).join(', ')}]`;
      await deliverToA(w, perm);
      await assertConsistent(w, offerId, label);
    }
  },
);

t(
  'seeded shuffles: any message in flight may be delivered next, the payer cancels at a random moment; every run ends consistent',
  async () => {
    const w = await makeWorld();
    for (let seed = 1; seed <= 10; seed++) {
      const rand = prng(seed);
      const offerId = await startPayment(w, 2_000);
      const cancelAfter = Math.floor(rand() * 3); // early: the cancel races the proposal and its answers
      const order: string[] = [];
      for (let i = 0; i < 200 && w.queue.length; i++) {
        if (i === cancelAfter && ['proposed', 'offered'].includes(w.payer.payments.get(offerId)!.status)) {
          post(w, 'A', await w.payer.cancel(offerId));
          order.push('cancel()');
        }
        const j = Math.floor(rand() * w.queue.length);
        order.push(`${recipient(w, w.queue[j]!)}:${typeName(w.queue[j]!.out.message.type)}`);
        const r = await handleQueued(w, j);
        if (r.error !== undefined) throw new Error(`seed ${seed} [${order.join(' ')}]: ${String(r.error)}`);
        post(w, r.to, r.step!);
      }
      await assertConsistent(w, offerId, `seed ${seed} [${order.join(' ')}]`);
    }
  },
);

t.run();
