/**
 * A storage failure must never strand a state. Each party's nonce store is
 * wrapped (fixture `faultyStore`) so that the k-th call of any of its methods
 * throws STORE_UNAVAILABLE ('disk full'), either instead of the call
 * ('before') or after it went through ('after': e.g. the nonce is burned but
 * the caller sees a failure). For every step of one role, the step is tried
 * with the fault at call k = 1, 2, … in turn; a failed step's output is
 * dropped (a runtime does not answer its own storage failure, it retries)
 * and the same message is redelivered, until a delivery makes fewer than k
 * calls. The payment must then complete with the right balances at every
 * party, and no nonce may have signed two different messages.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode, isLnMailboxError } from '../../../base/errors.js';
import type { Step } from '../../../engine/payment/types.js';
import {
  handleQueued,
  hubAS,
  hubSB,
  makeWorld,
  post,
  prepareRequest,
  recipient,
  reusedNonces,
  run,
  typeName,
  type World,
  ticketFor,
  hubPayment,
  hubRequest,
} from './fixture.js';
import { hubFee } from '../../../engine/payment/fee.js';

const t = suite('payment/attacks-store');
type Role = 'A' | 'S' | 'B';
type When = 'before' | 'after';

const describe = (e: unknown) => (isLnMailboxError(e) ? `${e.code}: ${e.message}` : String(e));

/** Faults injected so far (role, step, k) and how often a fault fired. */
interface Trace {
  fired: number;
  steps: string[];
}

/** Calls `fn` (an API call of `role` such as pay()) with the fault at call k = 1, 2, … until it succeeds unfaulted. */
async function faultyCall(w: World, role: Role, when: When, tr: Trace, label: string, fn: () => Promise<Step>): Promise<void> {
  for (let k = 1; k < 50; k++) {
    w[role].faults.arm(k, when);
    try {
      const s = await fn();
      w[role].faults.disarm();
      post(w, role, s);
      return;
    } catch (e) {
      const fired = w[role].faults.fired;
      w[role].faults.disarm();
      if (!fired) throw new Error(`${label} (retry after a ${when} fault at call ${k - 1}): ${describe(e)}`);
      tr.fired++;
      tr.steps.push(`${role} ${label} k=${k}`);
    }
  }
  throw new Error(`${label}: never succeeded`);
}

/** Delivers the queue in FIFO order; every message for `role` is first delivered with a store fault at call 1, 2, … */
async function runWithFaults(w: World, role: Role, when: When, tr: Trace): Promise<void> {
  for (let i = 0; i < 1000 && w.queue.length; i++) {
    if (recipient(w, w.queue[0]!) !== role) {
      const r = await handleQueued(w, 0);
      if (r.error !== undefined) throw r.error;
      post(w, r.to, r.step!);
      continue;
    }
    for (let k = 1; ; k++) {
      if (k > 50) throw new Error('a step never succeeded');
      w[role].faults.arm(k, when);
      const r = await handleQueued(w, 0);
      const fired = w[role].faults.fired;
      w[role].faults.disarm();
      const label = `${role} handling ${typeName(r.item.out.message.type)}`;
      const storeFailed =
        (r.error !== undefined && isLnMailboxError(r.error) && r.error.code === ErrorCode.STORE_UNAVAILABLE) ||
        (r.step?.events.some((e) => e.kind === 'rejected' && e.code === ErrorCode.STORE_UNAVAILABLE) ?? false);
      if (fired && storeFailed) {
        tr.fired++;
        tr.steps.push(`${label} k=${k}`);
        w.queue.unshift(r.item); // redeliver the same message
        continue;
      }
      if (r.error !== undefined) throw new Error(`${label}, after ${k - 1} ${when} faults: ${describe(r.error)}`);
      const refused = r.step!.events.find((e) => e.kind === 'rejected');
      if (refused && refused.kind === 'rejected')
        throw new Error(`${label}, after ${k - 1} ${when} faults: refused with ${refused.code}: ${refused.message}`);
      post(w, r.to, r.step!);
      break;
    }
  }
}

/** Every signature released or held, for the nonce-reuse check. */
const everything = (w: World) => ({
  msgs: w.log.map((l) => l.message),
  records: [w.payer.toJSON(), w.hub.toJSON(), w.payee.toJSON()],
});

/**
 * The end state of a payment of `amount` (+ `fee` to the hub): both channels
 * moved by exactly that, both sides of each agree, nothing left pending, and
 * no nonce signed two different messages.
 */
function assertMoneyMoved(w: World, amount: number, fee: number, ctx: string) {
  assert.equal(w.payer.channel.enforceable.state.balances, [600_000 - amount - fee, 399_000 + amount + fee], ctx);
  assert.equal(hubAS(w).enforceable.state, w.payer.channel.enforceable.state, ctx);
  assert.equal(w.payee.channel.enforceable.state.balances, [700_000 - amount, 299_000 + amount], ctx);
  assert.equal(hubSB(w).enforceable.state, w.payee.channel.enforceable.state, ctx);
  for (const ch of [w.payer.channel, hubAS(w), hubSB(w), w.payee.channel]) assert.is(ch.pending, undefined, ctx);
  const { msgs, records } = everything(w);
  assert.equal(reusedNonces(msgs, records), [], `${ctx}: a nonce signed two different messages`);
}

async function offerFlow(role: Role, when: When, callFaults = false) {
  const w = await makeWorld();
  const tr: Trace = { fired: 0, steps: [] };
  const amount = 50_000;
  const fee = hubFee(amount, w.hub.config.fee);
  const offerId = new Uint8Array(32).fill(0x11);
  const pay = async () =>
    (
      await w.payer.pay(
        {
          payee: { publicKey: w.B.idPk, address: w.B.address },
          ticket: await ticketFor(w.payee),
          amount,
          fee,
          expiry: w.ctx.now + 3_600_000,
          offerId,
        },
        w.ctx,
      )
    ).step;
  if (callFaults) {
    await faultyCall(w, 'A', when, tr, 'pay()', pay);
    await run(w);
  } else {
    post(w, 'A', await pay());
    await runWithFaults(w, role, when, tr);
  }
  const id = '11'.repeat(32);
  const ctx = `${role}, ${when} faults [${tr.steps.join('; ')}]`;
  // A's offer flow writes nothing to its nonce store (its update is pre-signed to the receipt
  // point, SPEC 6.16); B's burns the ticket there; S's commits and signs.
  if (role === 'A') assert.is(tr.fired, 0, `${ctx}: A's offer steps touch no nonce store`);
  else assert.ok(tr.fired > 0, `${ctx}: no fault fired`);
  assert.is(w.payer.payments.get(id)?.status, 'completed', ctx);
  assert.is(hubPayment(w, id)?.status, 'settled', ctx);
  assert.is(w.payee.payments.get(id)?.status, 'paid', ctx);
  assertMoneyMoved(w, amount, fee, ctx);
}

async function requestFlow(role: Role, when: When, callFaults = false) {
  const w = await makeWorld();
  const tr: Trace = { fired: 0, steps: [] };
  const amount = 30_000;
  const fee = hubFee(amount, w.hub.config.fee);
  const requestId = new Uint8Array(32).fill(0x22);
  const id = '22'.repeat(32);
  const request = async () =>
    (
      await w.payee.request(
        { payer: { publicKey: w.A.idPk, address: w.A.address }, amount, expiry: w.ctx.now + 3_600_000, requestId },
        w.ctx,
      )
    ).step;
  if (callFaults && role === 'B') await faultyCall(w, 'B', when, tr, 'request()', request);
  else post(w, 'B', await request());
  if (callFaults) await run(w);
  else await runWithFaults(w, role, when, tr);
  assert.is(w.payer.requests.get(id)?.status, 'received');
  const payRequest = () => w.payer.payRequest(id, fee, w.ctx);
  if (callFaults && role === 'A') await faultyCall(w, 'A', when, tr, 'payRequest()', payRequest);
  else post(w, 'A', await payRequest());
  if (callFaults) await run(w);
  else await runWithFaults(w, role, when, tr);
  const ctx = `${role}, ${when} faults [${tr.steps.join('; ')}]`;
  assert.ok(tr.fired > 0, `${ctx}: no fault fired`);
  assert.is(w.payer.requests.get(id)?.status, 'completed', ctx);
  assert.is(hubRequest(w, id)?.status, 'settled', ctx);
  assert.is(hubRequest(w, id)?.acked, true, ctx);
  assert.is(w.payee.requests.get(id)?.status, 'paid', ctx);
  assertMoneyMoved(w, amount, fee, ctx);
}

for (const role of ['S', 'B', 'A'] as const) {
  for (const when of ['before', 'after'] as const) {
    t(`offer: store failures (${when} the write) at every call of every step of ${role}; the payment completes`, () =>
      offerFlow(role, when),
    );
  }
}
for (const role of ['S', 'B', 'A'] as const) {
  for (const when of ['before', 'after'] as const) {
    t(`request: store failures (${when} the write) at every call of every step of ${role}; the request is paid`, () =>
      requestFlow(role, when),
    );
  }
}

// The API calls that start a payment commit a nonce too: a failed call must leave the engine as
// before, so that the same call can be retried (today the proposed state stays pending).
for (const when of ['before', 'after'] as const) {
  t(`offer: pay() retried after store failures (${when} the write) at each call`, () => offerFlow('A', when, true));
  t(`request: request() retried after store failures (${when} the write) at each call`, () => requestFlow('B', when, true));
  t(`request: payRequest() retried after store failures (${when} the write) at each call`, () => requestFlow('A', when, true));
  t(`offer: cancel() retried after store failures (${when} the write) at each call`, async () => {
    const w = await makeWorld();
    const tr: Trace = { fired: 0, steps: [] };
    const { offerId, step } = await w.payer.pay(
      {
        payee: { publicKey: w.B.idPk, address: w.B.address },
        ticket: await ticketFor(w.payee),
        amount: 50_000,
        fee: hubFee(50_000, w.hub.config.fee),
        expiry: w.ctx.now + 3_600_000,
      },
      w.ctx,
    );
    post(w, 'A', step);
    await run(w, ['A', 'S']);
    await faultyCall(w, 'A', when, tr, 'cancel()', () => w.payer.cancel(offerId));
    await run(w, ['A', 'S']);
    assert.ok(tr.fired > 0);
    assert.is(w.payer.payments.get(offerId)!.status, 'cancelled');
    assert.is(hubPayment(w, offerId)!.status, 'cancelled');
    assert.equal(w.payer.channel.enforceable.state, hubAS(w).enforceable.state);
    assert.equal(w.payer.channel.enforceable.state.balances, [600_000, 399_000]);
    assert.is(w.payer.channel.pending, undefined);
    assert.is(hubAS(w).pending, undefined);
  });
  t(`offer: cancel() retried after store failures (${when} the write), then refused (PTLC extended): the payment completes`, async () => {
    const w = await makeWorld();
    const tr: Trace = { fired: 0, steps: [] };
    const { offerId, step } = await w.payer.pay(
      {
        payee: { publicKey: w.B.idPk, address: w.B.address },
        ticket: await ticketFor(w.payee),
        amount: 50_000,
        fee: hubFee(50_000, w.hub.config.fee),
        expiry: w.ctx.now + 3_600_000,
      },
      w.ctx,
    );
    post(w, 'A', step);
    await run(w, ['A', 'S']);
    await run(w, ['B']);
    await run(w, ['S']); // PTLC extended: the hub will refuse the cancellation
    await faultyCall(w, 'A', when, tr, 'cancel()', () => w.payer.cancel(offerId));
    await run(w);
    assert.ok(tr.fired > 0);
    assert.is(w.payer.payments.get(offerId)!.status, 'completed');
    assert.is(w.payee.payments.get(offerId)!.status, 'paid');
    assert.equal(w.payer.channel.enforceable.state, hubAS(w).enforceable.state);
    assert.is(w.payer.channel.pending, undefined);
  });
  for (const role of ['B', 'S'] as const)
    t(`request: cancelRequest() and its cancellation, with store failures (${when} the write) at every call of ${role}`, async () => {
      const w = await makeWorld();
      const tr: Trace = { fired: 0, steps: [] };
      const id = await prepareRequest(w, 30_000);
      await run(w);
      if (role === 'B') await faultyCall(w, 'B', when, tr, 'cancelRequest()', () => w.payee.cancelRequest(id));
      else post(w, 'B', await w.payee.cancelRequest(id));
      await runWithFaults(w, role, when, tr);
      const ctx = `${role}, ${when} faults [${tr.steps.join('; ')}]`;
      assert.ok(tr.fired > 0, `${ctx}: no fault fired`);
      assert.is(w.payee.requests.get(id)!.status, 'cancelled', ctx);
      assert.is(hubRequest(w, id)!.status, 'cancelled', ctx);
      assert.is(w.payer.requests.get(id)!.status, 'void', ctx);
      assert.equal(hubSB(w).enforceable.state, w.payee.channel.enforceable.state, ctx);
      assert.equal(w.payee.channel.enforceable.state.balances, [700_000, 299_000], ctx);
      assert.is(hubSB(w).pending, undefined, ctx);
      assert.is(w.payee.channel.pending, undefined, ctx);
      const { msgs, records } = everything(w);
      assert.equal(reusedNonces(msgs, records), [], `${ctx}: a nonce signed two different messages`);
    });
}

t.run();
