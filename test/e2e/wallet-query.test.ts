/**
 * The wallet query API against real runtimes and a real relay: balances
 * (settled apart from in flight) through a payment, channels, payments and
 * a payment's history with bytes as hex (the live `completed` event's receipt
 * equal to the stored one), and message type names in events.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hexToBytes } from '../../base/bytes.js';
import { hubFee } from '../../engine/payment/fee.js';
import { verifyReceipt } from '../../protocol/receipt.js';
import { spawnRelay, makeE2E, until, HUB_FEE, type RelayProc } from './world.js';

const t = suite('e2e/wallet-query');
const AMOUNT = 30_000;
const FEE = hubFee(AMOUNT, HUB_FEE);
let relay: RelayProc;

t.before(async () => {
  relay = await spawnRelay();
});
t.after(async () => {
  await relay.kill();
});

const has = (list: { kind: string }[], kind: string) => list.some((e) => e.kind === kind);

t('balances, channels, payments and history through one payment; no engine internals needed', async () => {
  const w = await makeE2E({ A: [relay.url], S: [relay.url], B: [relay.url] });
  const S = await w.open.S();
  const A = await w.open.A();
  const names: string[] = [];
  A.on('sent', (e) => names.push(e.name));

  assert.equal(A.balances(), { settled: 600_000, inFlight: { outgoing: 0, incoming: 0 } });
  const [ch] = A.channels();
  assert.is(A.channels().length, 1);
  assert.is(ch!.channelId, Buffer.from(w.asParams.channelId).toString('hex'));
  assert.is(ch!.capacity, 1_000_000);
  assert.is(ch!.me, 0);
  assert.is(ch!.remote, 399_000);
  assert.equal(S.balances(), { settled: 399_000 + 700_000, inFlight: { outgoing: 0, incoming: 0 } });

  const offerId = await A.payOffline(w.addr.B, AMOUNT);
  await until(() => has(w.events.A, 'offered'), 'offered');
  // In flight: the amount and fee leave the settled balance until the payment completes or is cancelled.
  assert.equal(A.balances(), { settled: 600_000 - AMOUNT - FEE, inFlight: { outgoing: AMOUNT + FEE, incoming: 0 } });
  assert.ok(names.includes('UPDATE_PROPOSE') && names.includes('OFFER'), `named types: ${names.join(',')}`);

  const B = await w.open.B();
  await until(() => has(w.events.B, 'paid'), 'B paid');
  await until(() => has(w.events.A, 'completed'), 'A completed');
  assert.equal(A.balances(), { settled: 600_000 - AMOUNT - FEE, inFlight: { outgoing: 0, incoming: 0 } });
  assert.equal(B.balances(), { settled: 299_000 + AMOUNT, inFlight: { outgoing: 0, incoming: 0 } });
  // The hub settles the S–B PTLC after it bought the signature: A may see `completed` first.
  await until(() => S.balances().inFlight.outgoing === 0 && S.balances().inFlight.incoming === 0, 'the hub has nothing in flight');
  assert.is(S.balances().settled, 399_000 + AMOUNT + FEE + 700_000 - AMOUNT);

  const d = await A.getPayment(offerId);
  assert.ok(d);
  assert.is(d!.payment.status, 'completed');
  const kinds = d!.history.map((h) => h.event.kind);
  assert.equal(kinds, ['proposed', 'offered', 'completed']);
  // One representation of bytes: the live event's receipt, the history's and the stored payment's are
  // the same object, field for field, hex.
  const live = w.events.A.find((e) => e.kind === 'completed' && e.offerId === offerId);
  assert.ok(live?.kind === 'completed');
  const stored = d!.payment.receipt!;
  assert.equal(Object.keys(live.receipt).sort(), ['n', 'receipt', 'secret']);
  assert.equal(live.receipt, stored);
  assert.equal(A.payments().find((p) => p.offerId === offerId)!.receipt, stored);
  const logged = d!.history[2]!.event;
  assert.ok(logged.kind === 'completed');
  assert.equal(logged.receipt, stored);
  assert.type(live.receipt.receipt, 'string');
  assert.ok(/^[0-9a-f]{64}$/.test(live.receipt.secret));
  assert.ok(verifyReceipt(hexToBytes(live.receipt.receipt), w.addr.B), 'the hex receipt verifies');
  assert.ok(d!.history.every((h, i) => i === 0 || h.at >= d!.history[i - 1]!.at));
  const bd = await B.getPayment(offerId);
  assert.is(bd!.payment.status, 'paid');
  assert.ok(bd!.history.some((h) => h.event.kind === 'paid'));
  assert.is(await A.getPayment('00'.repeat(32)), undefined);
  assert.equal(
    B.payments().map((p) => [p.offerId, p.amount, p.status]),
    [[offerId, AMOUNT, 'paid']],
  );
  await Promise.all([A.close(), B.close(), S.close()]);
});

t('hub, payer, payee: a finished payment leaves their state but not their queries, before and after a restart', async () => {
  const w = await makeE2E({ A: [relay.url], S: [relay.url], B: [relay.url] });
  let S = await w.open.S();
  let A = await w.open.A();
  let B = await w.open.B();
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    ids.push(await A.payOffline(w.addr.B, AMOUNT));
    await until(() => w.events.A.some((e) => e.kind === 'completed' && e.offerId === ids[i]), `payment ${i} completed`);
    await until(() => S.payments().find((p) => p.offerId === ids[i])?.status === 'settled', `payment ${i} settled at the hub`);
  }
  // The second proposal took the payer past the first payment's state: the first left the hub's state.
  assert.not.ok(S.engine.payments.has(ids[0]!));
  assert.not.ok(JSON.stringify(S.engine.toJSON().payments).includes(ids[0]!));
  const listed = S.payments().map((p) => [p.offerId, p.amount, p.status]);
  assert.equal(listed, [
    [ids[0], AMOUNT, 'settled'],
    [ids[1], AMOUNT, 'settled'],
  ]);
  const before = await S.getPayment(ids[0]!);
  assert.is(before?.payment.status, 'settled');
  assert.ok(before!.history.some((h) => h.event.kind === 'paid'));
  await S.close();
  S = await w.open.S();
  assert.not.ok(S.engine.payments.has(ids[0]!));
  assert.equal(
    S.payments().map((p) => [p.offerId, p.amount, p.status]),
    listed,
  );
  assert.equal(await S.getPayment(ids[0]!), before);
  // The payer and the payee: the first payment left their state when the second started.
  await until(() => B.payments().find((p) => p.offerId === ids[1])?.status === 'paid', 'payment 1 paid at the payee');
  assert.not.ok(A.engine.payments.has(ids[0]!));
  assert.not.ok(B.engine.payments.has(ids[0]!));
  const paidA = A.payments().map((p) => [p.offerId, p.status, p.receipt?.receipt]);
  assert.equal(
    paidA.map(([id, status]) => [id, status]),
    ids.map((id) => [id, 'completed']),
  );
  assert.equal(
    B.payments().map((p) => [p.offerId, p.amount, p.status]),
    ids.map((id) => [id, AMOUNT, 'paid']),
  );
  const firstA = await A.getPayment(ids[0]!);
  assert.ok(firstA!.payment.receipt && verifyReceipt(hexToBytes(firstA!.payment.receipt.receipt), w.addr.B));
  await Promise.all([A.close(), B.close()]);
  A = await w.open.A();
  B = await w.open.B();
  assert.equal(
    A.payments().map((p) => [p.offerId, p.status, p.receipt?.receipt]),
    paidA,
  );
  assert.equal(await A.getPayment(ids[0]!), firstA);
  assert.is((await B.getPayment(ids[0]!))?.payment.status, 'paid');
  await Promise.all([A.close(), B.close(), S.close()]);
});

t.run();
