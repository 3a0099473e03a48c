/**
 * A finished request (SPEC 6.14, the payee pre-signs) leaves the hub's
 * state (the step's `archive`), as finished offers do. Attacker side: every
 * message of a finished request, delivered again, changes nothing and signs
 * or pays nothing twice, while the hub remembers the request id
 * (`finishedRequests`), after it forgot it, and after a restart from its
 * saved JSON.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PaymentType, type PaymentMessage } from '../../../protocol/payment.js';
import { FINISHED_REQUEST_GRACE_MS, Hub, type HubJson } from '../../../engine/payment/hub/hub.js';
import { hubFee } from '../../../engine/payment/fee.js';
import type { Step } from '../../../engine/payment/types.js';
import { deliverOne, hubAS, hubRequest, hubSB, makeWorld, post, prepareRequest, run, startPayment, type World } from './fixture.js';

const t = suite('payment/hub-request-archive');

const hubJson = (w: World) => JSON.stringify(w.hub.toJSON());

function restart(w: World): void {
  const saved = JSON.parse(hubJson(w)) as HubJson;
  w.hub = Hub.fromJSON(w.hub.config, saved, w.S.nonces);
}

/** What the hub sends when it co-signs, sells or pays something. */
const signing = new Set<number>([
  PaymentType.REQUEST_PREPARED,
  PaymentType.PTLC_ACCEPT,
  PaymentType.PTLC_FULFILL,
  PaymentType.REQUEST_COMPLETE,
  PaymentType.PTLC_SETTLE_ACK,
  PaymentType.CANCEL_ACCEPT,
]);

/** Messages the hub must not even answer while it remembers the request. */
const quietTypes = new Set<number>([PaymentType.REQUEST_PREPARE, PaymentType.PTLC_ADD, PaymentType.CANCEL_PROPOSE]);

function sentToHubIn(w: World, start: number, end: number): { from: 'A' | 'B'; message: PaymentMessage }[] {
  return w.log.slice(start, end).flatMap((l) => (l.to === 'S' && l.from !== 'S' ? [{ from: l.from, message: l.message }] : []));
}

function replay(w: World, from: 'A' | 'B', message: PaymentMessage): Promise<Step> {
  return w.hub.handle({ from: w[from].idPk, message }, w.ctx);
}

/** Replays `msgs` to the hub: none changes its state, signs or pays anything, or archives anything. */
async function replayAll(w: World, msgs: { from: 'A' | 'B'; message: PaymentMessage }[], label: string, quiet: boolean): Promise<void> {
  for (const { from, message } of msgs) {
    const before = hubJson(w);
    const s = await replay(w, from, message);
    const what = `${label}: ${message.type}`;
    assert.is(hubJson(w), before, `${what} changed the hub`);
    assert.not.ok(
      s.send.some((o) => signing.has(o.message.type)),
      `${what} made the hub sign or pay again`,
    );
    assert.is(s.archive, undefined, `${what} archived something`);
    if (quiet && quietTypes.has(message.type)) assert.equal(s.send, [], `${what} was answered`);
  }
}

const fee = (w: World, amount: number) => hubFee(amount, w.hub.config.fee);

/** A request of `amount` prepared, paid by A, acknowledged by B. Returns its id. */
async function paidRequest(w: World, amount: number): Promise<string> {
  const id = await prepareRequest(w, amount);
  await run(w, ['B', 'S']);
  await run(w, ['A', 'S']);
  post(w, 'A', await w.payer.payRequest(id, fee(w, amount), w.ctx));
  await run(w);
  return id;
}

t('a paid request leaves the hub state once settled and acknowledged; replays change nothing', async () => {
  const w = await makeWorld();
  const start = w.log.length;
  const id = await prepareRequest(w, 20_000);
  await run(w, ['B', 'S']);
  await run(w, ['A', 'S']);
  post(w, 'A', await w.payer.payRequest(id, fee(w, 20_000), w.ctx));
  await run(w, ['A', 'S']); // A settled with S; B is offline: not acknowledged yet
  assert.is(w.hub.requests.get(id)?.status, 'settled');
  assert.not.ok(w.archive.has(id), 'kept until the payee acknowledges: it may still ask for the completion');
  await run(w);
  assert.is(w.payee.requests.get(id)!.status, 'paid');
  assert.is(w.hub.requests.size, 0);
  assert.is(hubRequest(w, id)!.status, 'settled');
  assert.is((w.archive.get(id) as unknown as { offerId: string }).offerId, id, 'the archived record carries its id');
  // Both channels already hold the states that finished it (numbers never reused): its id is not even kept.
  assert.not.ok(w.hub.finishedRequests.has(id));
  const msgs = sentToHubIn(w, start, w.log.length);
  const kinds = msgs.map((m) => m.message.type);
  for (const k of [
    PaymentType.REQUEST_PREPARE,
    PaymentType.PTLC_ADD,
    PaymentType.PTLC_COMMIT,
    PaymentType.PTLC_SETTLE,
    PaymentType.REQUEST_ACK,
  ])
    assert.ok(kinds.includes(k), `message ${k} of the request logged`);
  const as = hubAS(w).enforceable.state.balances.slice();
  const sb = hubSB(w).enforceable.state.balances.slice();
  await replayAll(w, msgs, 'forgotten', false);
  restart(w);
  await replayAll(w, msgs, 'forgotten, restarted', false);
  // A second request goes through, and the first one's messages are still refused after it.
  const second = await paidRequest(w, 5_000);
  assert.is(w.payee.requests.get(second)!.status, 'paid');
  await replayAll(w, msgs, 'after the next', false);
  // Nothing was paid twice: each channel moved by exactly the second request.
  assert.equal(hubAS(w).enforceable.state.balances, [as[0]! - 5_000 - fee(w, 5_000), as[1]! + 5_000 + fee(w, 5_000)]);
  assert.equal(hubSB(w).enforceable.state.balances, [sb[0]! - 5_000, sb[1]! + 5_000]);
  assert.equal(w.payer.channel.enforceable.state, hubAS(w).enforceable.state);
  assert.equal(w.payee.channel.enforceable.state, hubSB(w).enforceable.state);
});

t('a paid request finished while the payer channel has a newer state pending: its id is kept, its replays ignored', async () => {
  const w = await makeWorld();
  const start = w.log.length;
  const id = await prepareRequest(w, 20_000);
  await run(w, ['B', 'S']);
  await run(w, ['A', 'S']);
  post(w, 'A', await w.payer.payRequest(id, fee(w, 20_000), w.ctx));
  await run(w, ['A', 'S']); // A settled with S; B is offline
  const offer = await startPayment(w, 3_000);
  await run(w, ['A', 'S']); // A–S has the offer's state pending
  await run(w, ['B']);
  while (!w.archive.has(id)) assert.ok(await deliverOne(w, (to) => to === 'S'), 'the request finished');
  assert.ok(w.hub.finishedRequests.has(id), 'kept: the payer channel has not gone past the state pending at the end');
  // The request's messages (the offer's own, UPDATE_PROPOSE and INVOICE, are not replayed here).
  const own = sentToHubIn(w, start, w.log.length).filter(
    (m) => m.message.type !== PaymentType.UPDATE_PROPOSE && m.message.type !== PaymentType.INVOICE,
  );
  assert.ok(own.some((m) => m.message.type === PaymentType.PTLC_ADD));
  await replayAll(w, own, 'remembered', true);
  restart(w);
  assert.ok(w.hub.finishedRequests.has(id));
  await replayAll(w, own, 'remembered, restarted', true);
  await run(w);
  assert.is(w.payer.payments.get(offer)!.status, 'completed');
  assert.not.ok(w.hub.finishedRequests.has(id), 'forgotten once the payer channel went past');
  await replayAll(w, own, 'forgotten', false);
  assert.equal(w.payer.channel.enforceable.state, hubAS(w).enforceable.state);
  assert.equal(w.payee.channel.enforceable.state, hubSB(w).enforceable.state);
  assert.equal(w.payee.channel.enforceable.state.balances, [700_000 - 20_000 - 3_000, 299_000 + 20_000 + 3_000]);
});

t('a cancelled request leaves at once; its replays are ignored; a first PTLC for it is still refused', async () => {
  for (const restarted of [false, true]) {
    const w = await makeWorld();
    const start = w.log.length;
    const id = await prepareRequest(w, 10_000);
    await run(w, ['B', 'S']);
    await run(w, ['A']); // A received the request
    post(w, 'B', await w.payee.cancelRequest(id));
    await run(w, ['S']); // S cancels (and archives); CANCEL_ACCEPT waits for B
    assert.is(w.hub.requests.get(id), undefined);
    assert.is(hubRequest(w, id)!.status, 'cancelled');
    assert.ok(w.hub.finishedRequests.has(id));
    if (restarted) restart(w);
    await replayAll(w, sentToHubIn(w, start, w.log.length), `cancelled${restarted ? ', restarted' : ''}`, true);
    // The payer, not told yet, pays it: the hub refuses (PTLC_FAIL), so the payer drops its state.
    post(w, 'A', await w.payer.payRequest(id, fee(w, 10_000), w.ctx));
    await run(w, ['A', 'S']);
    assert.ok(w.log.some((m) => m.message.type === PaymentType.PTLC_FAIL));
    assert.is(w.payer.channel.pending, undefined);
    assert.equal(w.payer.channel.enforceable.state.balances, [600_000, 399_000], 'A paid nothing');
    await run(w);
    assert.is(w.payee.requests.get(id)!.status, 'cancelled');
    assert.equal(w.payee.channel.enforceable.state, hubSB(w).enforceable.state);
    assert.equal(w.payee.channel.enforceable.state.balances, [700_000, 299_000]);
    assert.is(w.hub.finishedRequests.size, 0, 'the payee co-signed the cancellation: the id is forgotten');
  }
});

t('an id whose channels never went past it is forgotten an hour after the request expired', async () => {
  const w = await makeWorld();
  const start = w.log.length;
  const id = await prepareRequest(w, 10_000, { expiry: w.ctx.now + 60_000 });
  await run(w, ['B', 'S']);
  post(w, 'B', await w.payee.cancelRequest(id));
  await run(w, ['S']); // the CANCEL_ACCEPT never reaches B
  const msgs = sentToHubIn(w, start, w.log.length);
  w.ctx = { ...w.ctx, now: w.ctx.now + 60_000 + FINISHED_REQUEST_GRACE_MS };
  await replayAll(w, msgs, 'at the end of the grace', true);
  assert.ok(w.hub.finishedRequests.has(id), 'kept until the grace is over');
  w.ctx = { ...w.ctx, now: w.ctx.now + 1 };
  await replay(w, 'B', msgs[0]!.message);
  assert.is(w.hub.finishedRequests.size, 0);
  await replayAll(w, msgs, 'forgotten', false);
});

t('30 sequential requests: the hub state JSON stays flat', async () => {
  const w = await makeWorld();
  const sizes: number[] = [];
  for (let i = 0; i < 30; i++) {
    const id = await paidRequest(w, 1_000 + i);
    assert.is(w.payee.requests.get(id)!.status, 'paid');
    assert.is(w.hub.requests.size, 0);
    assert.ok(w.hub.finishedRequests.size <= 1, `request ${i}: ${w.hub.finishedRequests.size} finished ids`);
    sizes.push(hubJson(w).length);
  }
  assert.is(w.archive.size, 30);
  assert.ok(sizes[29]! - sizes[2]! < 64, `hub state ${sizes[2]} → ${sizes[29]} bytes over 27 requests`);
});

t('a state saved with finished requests inside `requests` loads; they leave it at the next step', async () => {
  const w = await makeWorld();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push(await paidRequest(w, 2_000));
  const saved = JSON.parse(hubJson(w)) as HubJson;
  saved.requests = {};
  for (const id of ids) {
    const { offerId: _, ...r } = structuredClone(w.archive.get(id)!) as unknown as { offerId: string } & NonNullable<
      HubJson['requests']
    >[string];
    saved.requests[id] = r;
  }
  delete saved.finishedRequests;
  w.hub = Hub.fromJSON(w.hub.config, JSON.parse(JSON.stringify(saved)) as HubJson, w.S.nonces);
  assert.is(w.hub.requests.size, 3);
  w.archive.clear();
  const next = await paidRequest(w, 2_000);
  assert.equal([...w.archive.keys()].sort(), [...ids, next].sort());
  assert.is(w.hub.requests.size, 0);
  assert.is(w.payee.requests.get(next)!.status, 'paid');
});

t.run();
