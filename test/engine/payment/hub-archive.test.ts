/**
 * A finished hub payment leaves the hub's state (the step's `archive`), so
 * the hub's per-step work is bounded by payments in flight. Attacker side:
 * every message of a finished payment, delivered again (a relay's
 * duplicate, a replay), changes nothing and pays nothing twice, while the
 * hub remembers the offer id (`finished`), after it forgot it, and after a
 * restart from its saved JSON.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PaymentType, type PaymentMessage } from '../../../protocol/payment.js';
import { FINISHED_GRACE_MS, Hub, type HubJson } from '../../../engine/payment/hub/hub.js';
import type { Step } from '../../../engine/payment/types.js';
import { hex, hubAS, hubPayment, makeWorld, post, run, startPayment, type World } from './fixture.js';

const t = suite('payment/hub-archive');

const hubJson = (w: World) => JSON.stringify(w.hub.toJSON());

/** The hub restarted from its saved JSON (as the runtime stores it). */
function restart(w: World): void {
  const saved = JSON.parse(hubJson(w)) as HubJson;
  w.hub = Hub.fromJSON(w.hub.config, saved, w.S.nonces);
}

/** The messages `from` sent to the hub about offer `id`, as logged. */
function sentToHub(w: World, id: string): { from: 'A' | 'B'; message: PaymentMessage }[] {
  return w.log.flatMap((l) =>
    l.to === 'S' && l.from !== 'S' && 'offerId' in l.message && hex(l.message.offerId) === id ? [{ from: l.from, message: l.message }] : [],
  );
}

/** Delivers `message` again to the hub from `from`; returns the step. Nothing is posted. */
function replay(w: World, from: 'A' | 'B', message: PaymentMessage): Promise<Step> {
  return w.hub.handle({ from: w[from].idPk, message }, w.ctx);
}

const paying = new Set<number>([PaymentType.UPDATE_ACCEPT, PaymentType.PTLC_ADD, PaymentType.COMPLETION, PaymentType.PTLC_SETTLE]);

/** The messages the payer and the payee sent to the hub from log entry `start` to `end`. */
function sentToHubIn(w: World, start: number, end: number): { from: 'A' | 'B'; message: PaymentMessage }[] {
  return w.log.slice(start, end).flatMap((l) => (l.to === 'S' && l.from !== 'S' ? [{ from: l.from, message: l.message }] : []));
}

/** Replays every message of offer `id` (or `msgs`) to the hub: none changes its state or pays anything. */
async function replayAll(w: World, id: string, label: string, quiet: boolean, msgs = sentToHub(w, id)): Promise<number> {
  for (const { from, message } of msgs) {
    const before = hubJson(w);
    const s = await replay(w, from, message);
    const what = `${label}: ${message.type}`;
    assert.is(hubJson(w), before, `${what} changed the hub`);
    assert.not.ok(
      s.send.some((o) => paying.has(o.message.type)),
      `${what} made the hub accept, pay or complete again`,
    );
    assert.is(s.archive, undefined, `${what} archived something`);
    // While the hub remembers the id, a duplicate proposal (or a cancellation) gets no answer at all.
    if (quiet && (message.type === PaymentType.UPDATE_PROPOSE || message.type === PaymentType.CANCEL_PROPOSE))
      assert.equal(s.send, [], `${what} was answered`);
  }
  return msgs.length;
}

t('a settled payment leaves the hub state once the payer went past it; a cancelled one at once', async () => {
  const w = await makeWorld();
  const first = await startPayment(w, 10_000);
  await run(w);
  // Settled, but the payer has not gone past state n: a lost COMPLETION could still be asked for.
  assert.is(w.hub.payments.get(first)?.status, 'settled');
  const second = await startPayment(w, 10_000);
  await run(w, ['A', 'S']);
  assert.is(w.hub.payments.get(first), undefined);
  assert.is(w.archive.get(first)?.status, 'settled');
  assert.ok(w.hub.finished.has(first), 'the id is remembered while the payer is not past it');
  post(w, 'A', await w.payer.cancel(second));
  await run(w, ['A', 'S']);
  assert.is(w.payer.payments.get(second)!.status, 'cancelled');
  assert.is(w.hub.payments.size, 0);
  assert.is(w.archive.get(second)?.status, 'cancelled');
  await run(w);
  assert.is(w.hub.finished.size, 0, 'the payer co-signed the cancellation: both ids forgotten');
});

t('30 sequential payments: the hub state JSON stays flat', async () => {
  const w = await makeWorld();
  const sizes: number[] = [];
  for (let i = 0; i < 30; i++) {
    const id = await startPayment(w, 1_000 + i);
    await run(w);
    assert.is(w.payer.payments.get(id)!.status, 'completed');
    assert.ok(w.hub.payments.size <= 1, `payment ${i}: ${w.hub.payments.size} payments in the hub state`);
    assert.ok(w.hub.finished.size <= 1, `payment ${i}: ${w.hub.finished.size} finished ids in the hub state`);
    sizes.push(hubJson(w).length);
  }
  assert.is(w.archive.size, 29);
  // Numbers grow by a digit at most: the size does not grow with the payments.
  assert.ok(sizes[29]! - sizes[2]! < 64, `hub state ${sizes[2]} → ${sizes[29]} bytes over 27 payments`);
});

t('replays of every message of a settled payment change nothing, remembered, forgotten, and after a restart', async () => {
  const w = await makeWorld();
  const start = w.log.length;
  const first = await startPayment(w, 20_000);
  await run(w, ['A', 'S']);
  await run(w, ['B']);
  for (const who of ['S', 'B', 'S', 'B', 'S'] as const) await run(w, [who]); // PTLC_FULFILL at S: COMPLETION out
  await run(w, ['S', 'B']);
  assert.is(hubPayment(w, first)!.status, 'settled');
  const lost = w.queue.findIndex((q) => q.out.message.type === PaymentType.COMPLETION);
  w.queue.splice(lost, 1); // the relay lost it: the payer asks again by cancelling
  post(w, 'A', await w.payer.cancel(first));
  await run(w);
  assert.is(w.payer.payments.get(first)!.status, 'completed');
  // Every message the payer and the payee sent the hub for that payment, channel steps included.
  const msgs = sentToHubIn(w, start, w.log.length);
  const kinds = msgs.map((m) => m.message.type);
  for (const k of [
    PaymentType.UPDATE_PROPOSE,
    PaymentType.INVOICE,
    PaymentType.PTLC_ACCEPT,
    PaymentType.PTLC_FULFILL,
    PaymentType.PTLC_SETTLE_ACK,
    PaymentType.CANCEL_PROPOSE,
  ])
    assert.ok(kinds.includes(k), `message ${k} of the payment logged`);
  // The next payment's proposal takes the payer past state n: the first leaves the state, its id is remembered.
  const second = await startPayment(w, 5_000);
  await run(w, ['A', 'S']);
  assert.ok(w.hub.finished.has(first));
  const payeeBalance = hubAS(w).enforceable.state.balances.slice();
  assert.ok((await replayAll(w, first, 'remembered', true, msgs)) >= 6);
  restart(w);
  assert.ok(w.hub.finished.has(first));
  await replayAll(w, first, 'remembered, restarted', true, msgs);
  await run(w);
  assert.is(w.payer.payments.get(second)!.status, 'completed');
  assert.is(w.payee.payments.get(second)!.status, 'paid');
  // The payer co-signed a later state: the id is forgotten; the messages are refused by the channel's numbers.
  assert.not.ok(w.hub.finished.has(first));
  await replayAll(w, first, 'forgotten', false, msgs);
  restart(w);
  await replayAll(w, first, 'forgotten, restarted', false, msgs);
  assert.not.equal(hubAS(w).enforceable.state.balances, payeeBalance, 'the second payment moved the payer channel');
  // Nothing was paid twice: the payer channel moved by exactly the two payments.
  const third = await startPayment(w, 1_000);
  await run(w);
  assert.is(w.payer.payments.get(third)!.status, 'completed');
  assert.equal(w.payer.channel.enforceable.state, hubAS(w).enforceable.state);
});

t('a duplicate proposal of a cancelled offer, reaching the hub before the payer hears of the cancellation, is ignored', async () => {
  for (const restarted of [false, true]) {
    const w = await makeWorld();
    const id = await startPayment(w, 10_000);
    await run(w, ['A', 'S']);
    post(w, 'A', await w.payer.cancel(id));
    await run(w, ['S']); // S cancels (and archives); CANCEL_ACCEPT waits for A
    assert.is(w.hub.payments.get(id), undefined);
    assert.ok(w.hub.finished.has(id));
    if (restarted) restart(w);
    const propose = sentToHub(w, id).find((m) => m.message.type === PaymentType.UPDATE_PROPOSE)!;
    const before = hubJson(w);
    const s = await replay(w, 'A', propose.message);
    // A refusal here would reach the payer while it is cancelling and undo its cancellation.
    assert.equal(s.send, [], 'the duplicate was answered');
    assert.is(hubJson(w), before);
    post(w, 'S', s);
    await run(w);
    assert.is(w.payer.payments.get(id)!.status, 'cancelled');
    assert.equal(w.payer.channel.enforceable.state, hubAS(w).enforceable.state);
    assert.equal(w.payer.channel.enforceable.state.balances, [600_000, 399_000]);
  }
});

t('an id the payer never went past is forgotten an hour after the offer expired; its replays are refused as expired', async () => {
  const w = await makeWorld();
  const id = await startPayment(w, 10_000, { expiry: w.ctx.now + 60_000 });
  await run(w, ['A', 'S']);
  post(w, 'A', await w.payer.cancel(id));
  await run(w, ['S']); // the CANCEL_ACCEPT never reaches A: the channel stays where it is
  assert.ok(w.hub.finished.has(id));
  w.ctx = { ...w.ctx, now: w.ctx.now + 60_000 + FINISHED_GRACE_MS };
  await replayAll(w, id, 'at the end of the grace', true);
  assert.ok(w.hub.finished.has(id), 'kept until the grace is over');
  w.ctx = { ...w.ctx, now: w.ctx.now + 1 };
  const propose = sentToHub(w, id).find((m) => m.message.type === PaymentType.UPDATE_PROPOSE)!;
  const s = await replay(w, 'A', propose.message);
  assert.is(w.hub.finished.size, 0);
  const before = hubJson(w);
  await replayAll(w, id, 'forgotten', false);
  assert.is(hubJson(w), before);
  assert.ok(s.events.some((e) => e.kind === 'ignored'));
});

t('a state saved with finished payments inside `payments` loads; they leave it at the next step', async () => {
  const w = await makeWorld();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    ids.push(await startPayment(w, 3_000));
    await run(w);
  }
  // The state as a hub saved it before finished payments were archived: all of them in `payments`, no `finished`.
  const saved = JSON.parse(hubJson(w)) as HubJson;
  for (const id of ids) saved.payments[id] = structuredClone(hubPayment(w, id)!);
  delete saved.finished;
  w.hub = Hub.fromJSON(w.hub.config, JSON.parse(JSON.stringify(saved)) as HubJson, w.S.nonces);
  assert.is(w.hub.payments.size, 3);
  w.archive.clear();
  const next = await startPayment(w, 3_000);
  await run(w, ['A', 'S']);
  assert.equal([...w.archive.keys()].sort(), ids.slice().sort(), 'the old finished payments were archived at the next step');
  assert.equal([...w.hub.payments.keys()], [next]);
  for (const id of ids) await replayAll(w, id, 'migrated', false);
  await run(w);
  assert.is(w.payer.payments.get(next)!.status, 'completed');
});

t.run();
