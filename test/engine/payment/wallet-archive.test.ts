/**
 * Finished payments and requests leave the payer's and the payee's state
 * (the step's `archive`) when the next one starts, so their per-step work is
 * bounded by the payments in flight, not by their history. Attacker side:
 * every message of a finished flow, delivered again (a relay's duplicate, a
 * replay), changes nothing and pays or signs nothing twice, while the ids are
 * remembered, after they are forgotten, and after a restart from saved JSON.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PaymentType, type PaymentMessage } from '../../../protocol/payment.js';
import { Payee, type PayeeJson } from '../../../engine/payment/payee/payee.js';
import { Payer, type PayerJson } from '../../../engine/payment/payer/payer.js';
import { hubFee } from '../../../engine/payment/fee.js';
import { WALLET_FINISHED_GRACE_MS, type Step } from '../../../engine/payment/types.js';
import { hex, makeWorld, post, prepareRequest, run, startPayment, type World } from './fixture.js';

const t = suite('payment/wallet-archive');

const json = (e: { toJSON(): unknown }) => JSON.stringify(e.toJSON());

/** The payer and the payee restarted from their saved JSON (as the runtime stores it). */
function restart(w: World): void {
  w.payer = Payer.fromJSON(w.payer.config, JSON.parse(json(w.payer)) as PayerJson, w.A.nonces);
  w.payee = Payee.fromJSON(w.payee.config, JSON.parse(json(w.payee)) as PayeeJson, w.B.nonces);
}

/** The messages delivered to `to` from log entry `start` to `end`. */
function sentTo(w: World, to: 'A' | 'B', start: number, end: number): { from: 'A' | 'S' | 'B'; message: PaymentMessage }[] {
  return w.log.slice(start, end).flatMap((l) => (l.to === to ? [{ from: l.from, message: l.message }] : []));
}

/** What the payer or the payee must never send again for a finished flow: an invoice, an accept, a secret, an ack. */
const signing = new Set<number>([
  PaymentType.UPDATE_PROPOSE,
  PaymentType.INVOICE,
  PaymentType.PTLC_ADD,
  PaymentType.PTLC_ACCEPT,
  PaymentType.PTLC_COMMIT,
  PaymentType.PTLC_FULFILL,
  PaymentType.PTLC_SETTLE,
  PaymentType.PTLC_SETTLE_ACK,
  PaymentType.CANCEL_COMMIT,
  PaymentType.REQUEST_ACK,
  PaymentType.REQUEST_COMPLETE,
]);

/**
 * Delivers `msgs` again to the role `to`: none changes its state, archives
 * anything or makes it sign or pay again. When `quiet`, none is answered at all.
 */
async function replayAll(
  w: World,
  to: 'A' | 'B',
  msgs: { from: 'A' | 'S' | 'B'; message: PaymentMessage }[],
  label: string,
  quiet: boolean,
): Promise<void> {
  const engine = to === 'A' ? w.payer : w.payee;
  for (const { from, message } of msgs) {
    const before = json(engine);
    let s: Step | undefined;
    try {
      s = await engine.handle({ from: w[from].idPk, message }, w.ctx);
    } catch {
      // Refused unanswered (the payer answers no refusal, the payee no refused OFFER).
    }
    const what = `${label}: ${to} ← ${message.type}`;
    assert.is(json(engine), before, `${what} changed the state`);
    assert.is(s?.archive, undefined, `${what} archived something`);
    assert.not.ok(
      s?.send.some((o) => signing.has(o.message.type)),
      `${what} made it sign or pay again`,
    );
    assert.not.ok(
      s?.events.some((e) => e.kind !== 'ignored' && e.kind !== 'rejected'),
      `${what} reported progress`,
    );
    if (quiet) assert.equal(s?.send ?? [], [], `${what} was answered`);
  }
}

t('a finished offer leaves the payer and the payee at the next start, and is archived whole', async () => {
  const w = await makeWorld();
  const first = await startPayment(w, 10_000);
  await run(w);
  assert.is(w.payer.payments.get(first)!.status, 'completed', 'kept until the next payment starts');
  assert.is(w.payee.payments.get(first)!.status, 'paid');
  const second = await startPayment(w, 10_000);
  assert.is(w.payer.payments.get(first), undefined);
  const rec = w.walletArchive.A.get(first) as { status: string; receipt?: { receipt: string } };
  assert.is(rec.status, 'completed');
  assert.ok(rec.receipt?.receipt, 'the archived record keeps the receipt');
  await run(w);
  assert.is(w.payee.payments.get(first), undefined);
  assert.is((w.walletArchive.B.get(first) as { status: string }).status, 'paid');
  assert.ok(w.payee.finished.get(first)?.paid, 'the id is remembered, as paid');
  // A cancelled offer leaves too.
  const third = await startPayment(w, 10_000);
  await run(w, ['A', 'S']);
  post(w, 'A', await w.payer.cancel(third));
  await run(w);
  assert.is(w.payer.payments.get(third)!.status, 'cancelled');
  // Voided by its payer, or failed (the hub refused the invoice of a cancelled offer first): finished.
  assert.ok(['void', 'failed'].includes(w.payee.payments.get(third)!.status));
  await startPayment(w, 10_000);
  await run(w);
  assert.is((w.walletArchive.A.get(third) as { status: string }).status, 'cancelled');
  assert.ok(['void', 'failed'].includes((w.walletArchive.B.get(third) as { status: string }).status));
  assert.ok(w.payee.finished.has(third) && !w.payee.finished.get(third)!.paid);
  assert.ok(!w.payer.payments.has(second) && !w.payee.payments.has(second));
});

t('replays of every message of a paid offer, to payer and payee: remembered, after a restart, forgotten', async () => {
  const w = await makeWorld();
  const start = w.log.length;
  const first = await startPayment(w, 20_000);
  await run(w);
  const end = w.log.length;
  const toA = sentTo(w, 'A', start, end);
  const toB = sentTo(w, 'B', start, end);
  assert.ok(toA.some((m) => m.message.type === PaymentType.COMPLETION));
  for (const k of [PaymentType.OFFER, PaymentType.PTLC_ADD, PaymentType.PTLC_COMMIT, PaymentType.PTLC_SETTLE])
    assert.ok(
      toB.some((m) => m.message.type === k),
      `message ${k} logged`,
    );
  const second = await startPayment(w, 5_000);
  await run(w);
  assert.is(w.payee.payments.get(second)!.status, 'paid');
  assert.ok(w.payee.finished.has(first) && !w.payee.payments.has(first) && !w.payer.payments.has(first));
  const balances = w.payee.channel.enforceable.state.balances.slice();
  await replayAll(w, 'A', toA, 'remembered', true);
  await replayAll(w, 'B', toB, 'remembered', true);
  restart(w);
  assert.ok(w.payee.finished.has(first));
  await replayAll(w, 'A', toA, 'restarted', true);
  await replayAll(w, 'B', toB, 'restarted', true);
  // Past the offer's expiry plus the grace, the next start forgets the id: an OFFER is refused as
  // expired, a PTLC_ADD refused (answered with PTLC_FAIL, which takes and pays nothing).
  w.ctx = { ...w.ctx, now: w.ctx.now + 3_600_000 + WALLET_FINISHED_GRACE_MS + 1 };
  await startPayment(w, 5_000);
  await run(w);
  assert.not.ok(w.payee.finished.has(first), 'forgotten past its expiry');
  await replayAll(w, 'A', toA, 'forgotten', true);
  await replayAll(w, 'B', toB, 'forgotten', false);
  restart(w);
  await replayAll(w, 'B', toB, 'forgotten, restarted', false);
  assert.equal(w.payee.channel.enforceable.state.balances[1] - balances[1]!, 5_000, 'the payee was paid for the third payment only');
});

t('replays of every message of a voided offer: the payee invoices nothing again', async () => {
  const w = await makeWorld();
  const start = w.log.length;
  const id = await startPayment(w, 7_000);
  await run(w, ['A', 'S']);
  post(w, 'A', await w.payer.cancel(id));
  await run(w);
  assert.ok(['void', 'failed'].includes(w.payee.payments.get(id)!.status));
  const toA = sentTo(w, 'A', start, w.log.length);
  const toB = sentTo(w, 'B', start, w.log.length);
  assert.ok(toB.some((m) => m.message.type === PaymentType.OFFER));
  await startPayment(w, 1_000);
  await run(w);
  assert.ok(w.payee.finished.has(id) && !w.payee.payments.has(id));
  await replayAll(w, 'A', toA, 'void, remembered', true);
  await replayAll(w, 'B', toB, 'void, remembered', true);
  restart(w);
  await replayAll(w, 'B', toB, 'void, restarted', true);
});

t('a voided request leaves the payer at the next start; a replayed REQUEST is never new again', async () => {
  const w = await makeWorld();
  const start = w.log.length;
  const id = await prepareRequest(w, 30_000);
  await run(w, ['B', 'S']);
  await run(w, ['A']);
  assert.is(w.payer.requests.get(id)!.status, 'received');
  post(w, 'B', await w.payee.cancelRequest(id));
  await run(w);
  assert.is(w.payer.requests.get(id)!.status, 'void');
  assert.is(w.payee.requests.get(id)!.status, 'cancelled');
  const toA = sentTo(w, 'A', start, w.log.length);
  assert.ok(toA.some((m) => m.message.type === PaymentType.REQUEST));
  await startPayment(w, 1_000);
  await run(w);
  assert.is(w.payer.requests.get(id), undefined);
  assert.ok(w.payer.finishedRequests.has(id));
  assert.is((w.walletArchive.A.get(id) as { status: string }).status, 'void');
  await replayAll(w, 'A', toA, 'request, remembered', true);
  restart(w);
  await replayAll(w, 'A', toA, 'request, restarted', true);
  // The payee's cancelled request leaves at its next request.
  const next = await prepareRequest(w, 1_000);
  assert.is(w.payee.requests.get(id), undefined);
  assert.is((w.walletArchive.B.get(id) as { status: string }).status, 'cancelled');
  await run(w);
  // Past its expiry plus the grace, the payer forgets the id: the REQUEST is refused as expired.
  w.ctx = { ...w.ctx, now: w.ctx.now + 3_600_000 + WALLET_FINISHED_GRACE_MS + 1 };
  post(w, 'B', await w.payee.cancelRequest(next));
  await run(w);
  await startPayment(w, 1_000, { expiry: w.ctx.now + 3_600_000 });
  await run(w);
  assert.not.ok(w.payer.finishedRequests.has(id), 'forgotten past its expiry');
  await replayAll(w, 'A', toA, 'request, forgotten', true);
});

t('a bought request stays with the payer (its watchtower record); the payee archives it once paid', async () => {
  const w = await makeWorld();
  const id = await prepareRequest(w, 30_000);
  await run(w, ['B', 'S']);
  await run(w, ['A', 'S']);
  post(w, 'A', await w.payer.payRequest(id, hubFee(30_000, w.hub.config.fee), w.ctx));
  await run(w);
  assert.is(w.payee.requests.get(id)!.status, 'paid');
  await prepareRequest(w, 1_000);
  assert.is(w.payee.requests.get(id), undefined);
  assert.is((w.walletArchive.B.get(id) as { status: string }).status, 'paid');
  await run(w);
  await startPayment(w, 1_000);
  await run(w);
  assert.ok(w.payer.requests.get(id)?.hubUpdateSig, 'the complete update is still watched for the payee');
});

t('a state saved before archiving (finished records inside) loads, and is migrated at the next start', async () => {
  const w = await makeWorld();
  const first = await startPayment(w, 3_000);
  await run(w);
  const a = JSON.parse(json(w.payer)) as PayerJson;
  const b = JSON.parse(json(w.payee)) as PayeeJson;
  delete a.finishedRequests;
  delete b.finished;
  w.payer = Payer.fromJSON(w.payer.config, a, w.A.nonces);
  w.payee = Payee.fromJSON(w.payee.config, b, w.B.nonces);
  assert.is(w.payer.payments.get(first)!.status, 'completed');
  assert.is(w.payee.payments.get(first)!.status, 'paid');
  await startPayment(w, 3_000);
  await run(w);
  assert.is((w.walletArchive.A.get(first) as { status: string }).status, 'completed');
  assert.is((w.walletArchive.B.get(first) as { status: string }).status, 'paid');
  assert.ok(w.payee.finished.get(first)?.paid);
});

t('30 sequential payments: the payer and payee state JSON stays flat', async () => {
  const w = await makeWorld();
  const sizes: { a: number; b: number }[] = [];
  for (let i = 0; i < 30; i++) {
    const id = await startPayment(w, 1_000 + i);
    await run(w);
    assert.is(w.payer.payments.get(id)!.status, 'completed');
    assert.ok(w.payer.payments.size <= 1, `payment ${i}: ${w.payer.payments.size} payments in the payer state`);
    assert.ok(w.payee.payments.size <= 1, `payment ${i}: ${w.payee.payments.size} payments in the payee state`);
    sizes.push({ a: json(w.payer).length, b: json(w.payee).length });
  }
  assert.is(w.walletArchive.A.size, 29);
  assert.is(w.walletArchive.B.size, 29);
  // The payee remembers the ids of offers until they expire (an hour here): 8 bytes a payment
  // or so beyond the in-flight record. Numbers grow by a digit at most.
  assert.ok(sizes[29]!.a - sizes[2]!.a < 64, `payer state ${sizes[2]!.a} → ${sizes[29]!.a} bytes over 27 payments`);
  assert.ok(sizes[29]!.b - sizes[2]!.b < 27 * 110, `payee state ${sizes[2]!.b} → ${sizes[29]!.b} bytes over 27 payments`);
  // Past the expiry of those offers, the next start forgets their ids: flat again.
  w.ctx = { ...w.ctx, now: w.ctx.now + 3_600_000 + WALLET_FINISHED_GRACE_MS + 1 };
  await startPayment(w, 1_000);
  await run(w);
  assert.ok(w.payee.finished.size <= 1, `${w.payee.finished.size} finished ids left`);
  assert.ok(json(w.payee).length - sizes[2]!.b < 200, `payee state ${sizes[2]!.b} → ${json(w.payee).length} bytes`);
  void hex;
});

t.run();
