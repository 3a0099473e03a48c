/**
 * A finished routed payment leaves the router's state (the step's
 * `archive`), so the router's per-step work is bounded by payments in
 * flight. Attacker side: every message of a finished payment delivered to
 * the router again (by the hub or the payee) changes nothing and forwards,
 * extends or pays nothing twice, while the router remembers the offer id,
 * after it forgot it, and after a restart from its saved JSON.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PaymentType, type PaymentMessage } from '../../../protocol/payment.js';
import { MAX_REMOVE_ATTEMPTS, Router, ROUTER_FINISHED_GRACE_MS, type RouterJson } from '../../../engine/payment/router.js';
import { bytesToHex, hexToBytes } from '../../../base/bytes.js';
import { hopPay, hopWorld, type HopWorld } from './fixture.js';

const t = suite('payment/router-archive');

const routerJson = (w: HopWorld) => JSON.stringify(w.engines.P.toJSON());

function restart(w: HopWorld): void {
  const saved = JSON.parse(routerJson(w)) as RouterJson;
  w.engines.P = Router.fromJSON(w.engines.P.config, saved, w.parties.P.nonces);
}

/** What the router sends when it forwards, extends, signs or pays something. */
const acting = new Set<number>([
  PaymentType.INVOICE,
  PaymentType.PTLC_ACCEPT,
  PaymentType.PTLC_ADD,
  PaymentType.PTLC_COMMIT,
  PaymentType.PTLC_FULFILL,
  PaymentType.PTLC_SETTLE,
  PaymentType.PTLC_SETTLE_ACK,
  PaymentType.PTLC_REMOVE,
]);

/** Message types the hub sends the router; the others come from the payee. */
const fromHub = new Set<number>([PaymentType.PTLC_ADD, PaymentType.PTLC_COMMIT, PaymentType.PTLC_SETTLE, PaymentType.REJECT]);

/** Replays `msgs` (as delivered to P) to the router: none changes its state, acts, or archives anything. */
async function replayAll(w: HopWorld, msgs: PaymentMessage[], label: string, quiet: boolean): Promise<void> {
  for (const message of msgs) {
    const before = routerJson(w);
    const from = fromHub.has(message.type) ? w.parties.S : w.parties.B;
    const s = await w.engines.P.handle({ from: from.idPk, message }, w.ctx);
    const what = `${label}: ${message.type}`;
    assert.is(routerJson(w), before, `${what} changed the router`);
    assert.not.ok(
      s.send.some((o) => acting.has(o.message.type)),
      `${what} made the router act again`,
    );
    assert.is(s.archive, undefined, `${what} archived something`);
    if (quiet && message.type === PaymentType.INVOICE) assert.equal(s.send, [], `${what} was answered`);
  }
}

const balances = (w: HopWorld) => ({
  up: w.engines.P.upstream.channel.enforceable.state.balances.slice(),
  down: [...w.engines.P.downstream.values()].map((d) => d.channel.enforceable.state.balances.slice()),
});

t('a settled routed payment leaves the router state; replays change nothing, remembered, forgotten, after a restart', async () => {
  const w = await hopWorld();
  const start = w.seen.P.length;
  const id = await hopPay(w, 20_000);
  await w.run();
  assert.is(w.engines.A.payments.get(id)!.status, 'completed');
  assert.is(w.routerPayment(id)!.status, 'settled');
  assert.is(w.engines.P.payments.size, 0);
  assert.ok(w.archive.P.has(id));
  assert.ok(w.engines.P.finished.has(id));
  const msgs = w.seen.P.slice(start);
  const kinds = msgs.map((m) => m.type);
  for (const k of [
    PaymentType.INVOICE,
    PaymentType.PTLC_ADD,
    PaymentType.PTLC_COMMIT,
    PaymentType.PTLC_ACCEPT,
    PaymentType.PTLC_FULFILL,
    PaymentType.PTLC_SETTLE,
    PaymentType.PTLC_SETTLE_ACK,
  ])
    assert.ok(kinds.includes(k), `message ${k} of the payment delivered to P`);
  const paid = balances(w);
  await replayAll(w, msgs, 'remembered', true);
  restart(w);
  assert.ok(w.engines.P.finished.has(id));
  await replayAll(w, msgs, 'remembered, restarted', true);
  // Past the invoice's expiry and the grace: the id is forgotten, the invoice refused as expired.
  const invoice = msgs.find((m) => m.type === PaymentType.INVOICE)!;
  w.ctx.now = (invoice as { expiry: number }).expiry + ROUTER_FINISHED_GRACE_MS;
  await replayAll(w, msgs, 'at the end of the grace', true);
  assert.ok(w.engines.P.finished.has(id), 'kept until the grace is over');
  w.ctx.now += 1;
  await w.engines.P.handle({ from: w.parties.S.idPk, message: msgs.find((m) => m.type === PaymentType.PTLC_SETTLE)! }, w.ctx);
  assert.is(w.engines.P.finished.size, 0);
  await replayAll(w, msgs, 'forgotten', false);
  restart(w);
  await replayAll(w, msgs, 'forgotten, restarted', false);
  assert.equal(balances(w), paid, 'nothing moved');
  // The router still routes.
  const next = await hopPay(w, 5_000);
  await w.run();
  assert.is(w.engines.A.payments.get(next)!.status, 'completed');
  assert.is(w.engines.P.payments.size, 0);
});

t('a payment failed while its upstream PTLC is still in the channel (the hub would not take it back) is kept', async () => {
  const w = await hopWorld();
  const id = await hopPay(w, 20_000);
  await w.run((q) => q.to === 'B' && q.message.type === PaymentType.PTLC_ADD);
  assert.is(w.routerPayment(id)!.status, 'extended');
  // The payee refuses; P owes the upstream PTLC back, and the hub refuses every removal.
  await w.deliver('B', 'P', { type: PaymentType.PTLC_FAIL, channelId: w.pb.channelId, offerId: hexToBytes(id, 32), reason: 'no' });
  for (let i = 0; i < MAX_REMOVE_ATTEMPTS; i++) {
    const j = w.queue.findIndex((q) => q.to === 'S' && q.message.type === PaymentType.PTLC_REMOVE);
    assert.ok(j >= 0, `removal ${i} proposed`);
    w.queue.splice(j, 1);
    await w.deliver('S', 'P', {
      type: PaymentType.REJECT,
      refType: PaymentType.PTLC_REMOVE,
      ref: hexToBytes(id, 32),
      code: 'PAYMENT_REJECTED',
      message: 'no',
    });
  }
  assert.is(w.engines.P.payments.get(id)?.status, 'failed', 'given up, and kept in the state');
  assert.ok(
    w.engines.P.upstream.channel.enforceable.state.ptlcs.some((x) => bytesToHex(x.id) === id),
    'the upstream PTLC is still there',
  );
  assert.not.ok(w.archive.P.has(id));
});

t('30 sequential routed payments: the router state JSON stays flat', async () => {
  const w = await hopWorld();
  const sizes: number[] = [];
  for (let i = 0; i < 30; i++) {
    const id = await hopPay(w, 1_000 + i);
    await w.run();
    assert.is(w.engines.A.payments.get(id)!.status, 'completed');
    assert.is(w.engines.P.payments.size, 0, `payment ${i}: payments left in the router state`);
    // Invoice ids stay until their invoice expires (an hour here): advance the clock past it between payments.
    w.ctx.now += 3_600_000 + ROUTER_FINISHED_GRACE_MS + 1;
    sizes.push(routerJson(w).length);
  }
  assert.is(w.archive.P.size, 30);
  assert.ok(w.engines.P.finished.size <= 1, `${w.engines.P.finished.size} finished ids`);
  assert.ok(sizes[29]! - sizes[2]! < 64, `router state ${sizes[2]} → ${sizes[29]} bytes over 27 payments`);
});

t('a state saved with finished payments inside `payments` loads; they leave it at the next step', async () => {
  const w = await hopWorld();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    ids.push(await hopPay(w, 2_000));
    await w.run();
  }
  // As a router saved it before finished payments were archived: all in `payments`, no expiry, no `finished`.
  const saved = JSON.parse(routerJson(w)) as RouterJson;
  for (const id of ids) {
    const { expiry: _, ...old } = structuredClone(w.routerPayment(id)!);
    saved.payments[id] = old;
  }
  delete saved.finished;
  w.engines.P = Router.fromJSON(w.engines.P.config, JSON.parse(JSON.stringify(saved)) as RouterJson, w.parties.P.nonces);
  assert.is(w.engines.P.payments.size, 3);
  w.archive.P.clear();
  const next = await hopPay(w, 2_000);
  await w.run();
  assert.equal([...w.archive.P.keys()].sort(), [...ids, next].sort());
  assert.is(w.engines.P.payments.size, 0);
  // A legacy id (no expiry known) is kept longer, so its invoice replayed is still ignored.
  for (const id of ids) assert.ok(w.engines.P.finished.has(id));
  const invoices = w.seen.P.filter((m) => m.type === PaymentType.INVOICE);
  await replayAll(w, invoices, 'migrated', true);
});

t.run();
