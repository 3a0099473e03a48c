/**
 * Attacks on state-number reuse. Eltoo's update sighash depends only on the
 * state number, so a settlement signature released for number n spends any
 * update n ever signed later. An attacker who keeps a settlement of a
 * refused / failed negotiation (REJECT, PTLC_FAIL, refused REQUEST_PREPARE) and
 * gets the victim to sign another state with the same number could settle
 * that update with the version of its choice.
 *
 * Each test plays the attacker with what it legitimately holds: it runs the
 * victim's message through its own engine, keeps both settlement signatures,
 * then drops the pending state and the payment record as a refusing party
 * does (`abandonPending`: whatever the channel remembers of the numbers it
 * saw stays) and refuses; then it lets the victim go on. Expected:
 * the victim never signs another state numbered n (numbers are monotonic per
 * channel), and on the chain model the harvested settlement spends none of
 * the victim's later updates, while the victim's latest state settles with
 * the right balances.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex, hexToBytes } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { decodeChannelState, PaymentType, type PaymentMessage } from '../../../protocol/payment.js';
import type { Channel, StateRecord } from '../../../engine/channel/channel.js';
import { sameState } from '../../../engine/channel/state.js';
import { rejectMessage } from '../../../engine/payment/refusal.js';
import { assertHarvestDead, settleOnChain } from './chain.js';
import { deliverOne, hopWorld, hubAS, hubSB, makeWorld, post, run, startPayment, type HopWorld, type World, ticketFor } from './fixture.js';
import { hubFee } from '../../../engine/payment/fee.js';

const t = suite('payment/attacks-reuse');

/** Queues `message` as sent by `from` (a message the attacker crafts). */
const send = (w: World, from: 'A' | 'S' | 'B', to: 'A' | 'S' | 'B', message: PaymentMessage) =>
  post(w, from, { send: [{ to: w[to].address, message }], retract: [], events: [] });

/** Drops every queued message sent by `from`. */
const dropFrom = (w: World, from: 'A' | 'S' | 'B') => {
  for (let i = w.queue.length - 1; i >= 0; i--) if (w.queue[i]!.from === from) w.queue.splice(i, 1);
};

/** Records every distinct enforceable record of `ch` (the states the victim fully signed). */
function tracker(ch: () => Channel) {
  const seen = new Map<string, StateRecord>();
  const track = () => {
    const r = ch().enforceable;
    seen.set(JSON.stringify(ch().toJSON().enforceable), structuredClone(r));
  };
  track();
  return { track, records: () => [...seen.values()] };
}

/** Delivers like `run`, recording the victim's enforceable records after every step. */
async function runTracked(w: World, tr: ReturnType<typeof tracker>, online: ('A' | 'S' | 'B')[] = ['A', 'S', 'B']) {
  for (let i = 0; i < 1000; i++) {
    if (!(await deliverOne(w, (to) => online.includes(to)))) return;
    tr.track();
  }
  throw new Error('message loop did not settle');
}

/** States numbered `n` of channel `channelId` carried by `msgs` that differ from `harvested`. */
function otherStatesNumbered(msgs: PaymentMessage[], channelId: Uint8Array, harvested: StateRecord): string[] {
  const id = bytesToHex(channelId);
  const out: string[] = [];
  for (const m of msgs) {
    if (!('state' in m) || !('channelId' in m) || bytesToHex(m.channelId) !== id) continue;
    const s = decodeChannelState(m.state);
    if (s.n === harvested.state.n && !sameState(s, harvested.state)) out.push(`type ${m.type}: ${JSON.stringify(s.balances)}`);
  }
  return out;
}

t('a hub that keeps a refused UPDATE_PROPOSE cannot settle it against a later payment of the offline payer', async () => {
  const w = await makeWorld();
  const first = await startPayment(w, 50_000);
  // S runs A's proposal (50,000 + fee) through its engine, keeps both settlement signatures, rolls back and refuses.
  await deliverOne(w, (to) => to === 'S');
  const harvested = structuredClone(hubAS(w).pending!);
  assert.ok(harvested.settleSigs[0] && harvested.settleSigs[1]);
  hubAS(w).abandonPending();
  w.hub.payments.delete(first);
  dropFrom(w, 'S');
  send(w, 'S', 'A', rejectMessage(PaymentType.UPDATE_PROPOSE, hexToBytes(first, 32), ErrorCode.PAYMENT_REJECTED, 'try again later'));
  await run(w, ['A']);
  assert.is(w.payer.payments.get(first)!.status, 'failed');
  assert.is(w.payer.channel.pending, undefined);
  // A pays 1,000 instead; the payment completes normally.
  const tr = tracker(() => w.payer.channel);
  const second = await startPayment(w, 1_000);
  await runTracked(w, tr);
  assert.is(w.payer.payments.get(second)!.status, 'completed');
  const latest = w.payer.channel.enforceable;
  // Today: S publishes update 1 with the 50,000 settlement: A loses 49,049.
  assertHarvestDead(w.payer.channel.params, harvested, tr.records());
  assert.ok(w.payer.payments.get(second)!.n > harvested.state.n, 'the new proposal used a fresh, greater state number');
  assert.equal(
    otherStatesNumbered(
      w.log.map((l) => l.message),
      w.asParams.channelId,
      harvested,
    ),
    [],
  );
  assert.equal(settleOnChain(w.payer.channel.params, latest), [600_000 - 1_011, 399_000 + 1_011]);
  assert.equal(hubAS(w).enforceable.state, latest.state);
});

t("payee and payer colluding: a PTLC_FAIL after harvesting the hub's settlement cannot be settled against a later PTLC", async () => {
  const w = await makeWorld();
  const first = await startPayment(w, 50_000);
  await run(w, ['A', 'S']);
  await run(w, ['B']); // invoice
  await run(w, ['S']); // PTLC_ADD for S–B state n (50,000)
  // B runs the PTLC_ADD through its engine (both settlement signatures of state n), rolls back and answers PTLC_FAIL.
  const invoiced = structuredClone(w.payee.payments.get(first)!);
  await deliverOne(w, (to) => to === 'B');
  const harvested = structuredClone(w.payee.channel.pending!);
  assert.ok(harvested.settleSigs[0] && harvested.settleSigs[1] && harvested.state.ptlcs.length === 1);
  w.payee.channel.abandonPending();
  w.payee.payments.set(first, invoiced);
  dropFrom(w, 'B');
  send(w, 'B', 'S', { type: PaymentType.PTLC_FAIL, channelId: w.sbParams.channelId, offerId: hexToBytes(first, 32), reason: 'busy' });
  await run(w, ['S']);
  assert.is(w.hub.payments.get(first)!.status, 'pending');
  // A cancels, then pays B 1,000: S extends a new PTLC over S–B.
  post(w, 'A', await w.payer.cancel(first));
  await run(w, ['A', 'S']);
  assert.is(w.payer.payments.get(first)!.status, 'cancelled');
  const tr = tracker(() => hubSB(w));
  const second = await startPayment(w, 1_000);
  await runTracked(w, tr, ['A', 'S']);
  for (const who of ['B', 'S', 'B', 'S', 'B'] as const) await runTracked(w, tr, [who]); // void + offer → invoice → ADD → ACCEPT → COMMIT → fulfill
  assert.ok(
    w.queue.some((q) => q.out.message.type === PaymentType.PTLC_FULFILL),
    'B holds its fulfill',
  );
  assert.is(hubSB(w).enforceable.state.ptlcs.length, 1, 'S–B state with the 1,000 PTLC is fully signed');
  // Today: B publishes that update with the harvested settlement and claims the 50,000 PTLC: S loses 50,000.
  assertHarvestDead(hubSB(w).params, harvested, tr.records());
  assert.ok(hubSB(w).enforceable.state.n > harvested.state.n, 'S proposed a fresh, greater state number');
  await runTracked(w, tr);
  assert.is(w.payer.payments.get(second)!.status, 'completed');
  assertHarvestDead(hubSB(w).params, harvested, tr.records());
  assert.equal(
    otherStatesNumbered(
      w.log.map((l) => l.message),
      w.sbParams.channelId,
      harvested,
    ),
    [],
  );
  assert.equal(settleOnChain(hubSB(w).params, hubSB(w).enforceable), [700_000 - 1_000, 299_000 + 1_000]);
});

t("request: a hub that answers PTLC_FAIL to the payer's PTLC cannot settle it against the payer's later state", async () => {
  const w = await makeWorld();
  const amount = 30_000;
  const fee = hubFee(amount, w.hub.config.fee);
  const { requestId, step } = await w.payee.request(
    { payer: { publicKey: w.A.idPk, address: w.A.address }, amount, expiry: w.ctx.now + 3_600_000 },
    w.ctx,
  );
  post(w, 'B', step);
  await run(w, ['B', 'S']);
  await run(w, ['A']);
  post(w, 'A', await w.payer.payRequest(requestId, fee, w.ctx));
  // S runs A's PTLC_ADD (A–S state n) through its engine, keeps both settlement signatures, rolls back, fails it.
  const prepared = structuredClone(w.hub.requests.get(requestId)!);
  await deliverOne(w, (to) => to === 'S');
  const harvested = structuredClone(hubAS(w).pending!);
  assert.ok(harvested.settleSigs[0] && harvested.settleSigs[1]);
  hubAS(w).abandonPending();
  w.hub.requests.set(requestId, prepared);
  dropFrom(w, 'S');
  send(w, 'S', 'A', { type: PaymentType.PTLC_FAIL, channelId: w.asParams.channelId, offerId: hexToBytes(requestId, 32), reason: 'later' });
  await run(w, ['A']);
  assert.is(w.payer.requests.get(requestId)!.status, 'received');
  // A pays the request again; it completes.
  const tr = tracker(() => w.payer.channel);
  post(w, 'A', await w.payer.payRequest(requestId, fee, w.ctx));
  await runTracked(w, tr);
  assert.is(w.payer.requests.get(requestId)!.status, 'completed');
  assertHarvestDead(w.payer.channel.params, harvested, tr.records());
  assert.equal(
    otherStatesNumbered(
      w.log.map((l) => l.message),
      w.asParams.channelId,
      harvested,
    ),
    [],
  );
  assert.equal(settleOnChain(w.payer.channel.params, w.payer.channel.enforceable), [600_000 - amount - fee, 399_000 + amount + fee]);
});

t("request: a hub that refuses REQUEST_PREPARE cannot settle the payee's proposal against a later PTLC to the payee", async () => {
  const w = await makeWorld();
  const { requestId, step } = await w.payee.request(
    { payer: { publicKey: w.A.idPk, address: w.A.address }, amount: 30_000, expiry: w.ctx.now + 3_600_000 },
    w.ctx,
  );
  post(w, 'B', step);
  // S runs B's REQUEST_PREPARE (S–B state n: B +30,000) through its engine, keeps both settlement signatures, refuses.
  await deliverOne(w, (to) => to === 'S');
  const harvested = structuredClone(hubSB(w).pending!);
  assert.ok(harvested.settleSigs[0] && harvested.settleSigs[1]);
  hubSB(w).abandonPending();
  w.hub.requests.delete(requestId);
  dropFrom(w, 'S');
  send(w, 'S', 'B', rejectMessage(PaymentType.REQUEST_PREPARE, hexToBytes(requestId, 32), ErrorCode.PAYMENT_REJECTED, 'no'));
  await run(w, ['B']);
  assert.is(w.payee.channel.pending, undefined);
  // A pays B 50,000 by an offer: S–B carries a 50,000 PTLC; B reveals t once that state is enforceable.
  const tr = tracker(() => w.payee.channel);
  const offerId = await startPayment(w, 50_000);
  await runTracked(w, tr);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
  // Today: S withholds PTLC_SETTLE, publishes update n (the PTLC) with the harvested settlement
  // (B +30,000 only) and collects 50,060 from A with t: B loses 20,000.
  assertHarvestDead(w.payee.channel.params, harvested, tr.records());
  assert.equal(
    otherStatesNumbered(
      w.log.map((l) => l.message),
      w.sbParams.channelId,
      harvested,
    ),
    [],
  );
  assert.equal(settleOnChain(w.payee.channel.params, w.payee.channel.enforceable), [700_000 - 50_000, 299_000 + 50_000]);
});

/** Delivers the hop world's queue in FIFO order until `stop` matches the head (not delivered); tracks after each step. */
async function hopUntil(w: HopWorld, stop: (q: HopWorld['queue'][number]) => boolean, track: () => void) {
  for (let i = 0; i < 500 && w.queue.length; i++) {
    if (stop(w.queue[0]!)) return;
    const q = w.queue.shift()!;
    await w.deliver(q.from, q.to, q.message);
    track();
  }
}

t("router hop: a router that answers PTLC_FAIL after harvesting the hub's settlement cannot settle it against a later PTLC", async () => {
  const w = await hopWorld();
  const payB = async (amount: number) => {
    const { offerId, step } = await w.engines.A.pay(
      {
        payee: { publicKey: w.parties.B.idPk, address: w.parties.B.address },
        ticket: await ticketFor(w.engines.B),
        amount,
        fee: hubFee(amount, w.engines.S.config.fee),
        expiry: w.ctx.now + 3_600_000,
      },
      w.ctx,
    );
    w.post('A', step);
    return offerId;
  };
  const sp = () => w.engines.S.peers.get(bytesToHex(w.sp.channelId))!.channel;
  const first = await payB(40_000);
  await hopUntil(
    w,
    (q) => q.to === 'P' && q.message.type === PaymentType.PTLC_ADD,
    () => {},
  );
  // P runs S's PTLC_ADD (S–P state n) through its engine, keeps both settlement signatures, rolls back, fails it.
  const forwarded = structuredClone(w.engines.P.payments.get(first)!);
  const add = w.queue.shift()!;
  await w.deliver(add.from, add.to, add.message);
  const harvested = structuredClone(w.engines.P.upstream.channel.pending!);
  assert.ok(harvested.settleSigs[0] && harvested.settleSigs[1]);
  w.engines.P.upstream.channel.abandonPending();
  w.engines.P.payments.set(first, forwarded);
  for (let i = w.queue.length - 1; i >= 0; i--) if (w.queue[i]!.from === 'P') w.queue.splice(i, 1);
  await w.deliver('P', 'S', { type: PaymentType.PTLC_FAIL, channelId: w.sp.channelId, offerId: hexToBytes(first, 32), reason: 'no' });
  assert.is(w.engines.S.payments.get(first)!.status, 'pending');
  w.post('A', await w.engines.A.cancel(first));
  await w.run();
  assert.is(w.engines.A.payments.get(first)!.status, 'cancelled');
  const seen = new Map<string, StateRecord>();
  const track = () => seen.set(JSON.stringify(sp().toJSON().enforceable), structuredClone(sp().enforceable));
  const second = await payB(1_000);
  await hopUntil(w, () => false, track);
  assert.is(w.engines.A.payments.get(second)!.status, 'completed');
  // Today: P publishes S–P update n (the 1,000 PTLC) with the harvested settlement and claims 40,000 from S.
  assertHarvestDead(sp().params, harvested, [...seen.values()]);
  const all = (Object.values(w.seen) as PaymentMessage[][]).flat();
  assert.equal(otherStatesNumbered(all, w.sp.channelId, harvested), []);
  assert.equal(settleOnChain(sp().params, sp().enforceable), [700_000 - 1_000, 299_000 + 1_000]);
});

t.run();
