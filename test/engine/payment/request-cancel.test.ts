/**
 * Cancelling a request (SPEC 6.14, cancellation): the payee and the hub
 * overwrite the request's state n with n+1 (the last enforceable balances);
 * the hub decides, atomically, between the cancellation and the payer's
 * PTLC, first come first served, and never sells its update n signature once
 * the cancellation won. Attacked from every side: a payer paying a cancelled
 * request, a stranger or another peer cancelling someone else's request, a
 * stranger voiding it at the payer.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hexToBytes } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { PaymentType, type PaymentMessageOf } from '../../../protocol/payment.js';
import { hubFee } from '../../../engine/payment/fee.js';
import { transfer } from '../../../engine/channel/state.js';
import { rejectsCode } from '../../helpers.js';
import {
  deliverOne,
  forgeState,
  hubAS,
  hubSB,
  inject,
  makeWorld,
  party,
  post,
  prepareRequest,
  run,
  startPayment,
  stateOf,
  take,
  until,
  type World,
  hubRequest,
} from './fixture.js';

const t = suite('payment/request-cancel');
const AMOUNT = 30_000;
const fee = (w: World) => hubFee(AMOUNT, w.hub.config.fee);

/** B prepares a request and sends it; A reads it. */
async function requested(w: World): Promise<string> {
  const id = await prepareRequest(w, AMOUNT);
  await run(w, ['B', 'S']);
  await run(w, ['A']);
  assert.is(w.payer.requests.get(id)!.status, 'received');
  return id;
}

t('B cancels an unpaid request: S–B moves to n+1 with the old balances, A is told, and the channel is free again', async () => {
  const w = await makeWorld();
  const id = await requested(w);
  const sb = hubSB(w);
  assert.is(sb.pending!.state.n, 1);
  post(w, 'B', await w.payee.cancelRequest(id));
  assert.is(w.payee.requests.get(id)!.status, 'cancelling');
  await run(w, ['B', 'S']);
  assert.is(w.payee.requests.get(id)!.status, 'cancelled');
  assert.is(hubRequest(w, id)!.status, 'cancelled');
  assert.equal(sb.enforceable.state, w.payee.channel.enforceable.state, 'S and B agree on S–B');
  assert.is(sb.enforceable.state.n, 2, 'n+1 supersedes the request state n');
  assert.equal(sb.enforceable.state.balances, [700_000, 299_000], 'nothing moved');
  assert.is(sb.pending, undefined);
  assert.is(w.payee.channel.pending, undefined);
  assert.ok(w.retracted.includes(`request:${id}`), 'the request envelope is retracted');
  assert.not.ok(
    w.log.some((m) => m.message.type === PaymentType.REQUEST_COMPLETE),
    'S never signed update n',
  );
  // A learns it: the request is void and cannot be paid.
  await run(w, ['A']);
  assert.is(w.payer.requests.get(id)!.status, 'void');
  await rejectsCode(w.payer.payRequest(id, fee(w), w.ctx), ErrorCode.PAYMENT_REJECTED);
  // The channel is free: the next request is prepared and paid.
  const next = await requested(w);
  post(w, 'A', await w.payer.payRequest(next, fee(w), w.ctx));
  await run(w);
  assert.is(w.payee.requests.get(next)!.status, 'paid');
  assert.equal(w.payee.channel.enforceable.state.balances, [700_000 - AMOUNT, 299_000 + AMOUNT]);
  assert.equal(sb.enforceable.state, w.payee.channel.enforceable.state);
});

t('a payer paying a cancelled request: the hub refuses the PTLC and sells nothing; A gets its channel back', async () => {
  const w = await makeWorld();
  const id = await requested(w);
  post(w, 'B', await w.payee.cancelRequest(id));
  await run(w, ['B', 'S']);
  assert.is(hubRequest(w, id)!.status, 'cancelled');
  // A has not read the void yet (or ignores it) and pays.
  const voidMsg = await until(w, PaymentType.OFFER_VOID, []);
  take(w, voidMsg);
  post(w, 'A', await w.payer.payRequest(id, fee(w), w.ctx));
  const sbBefore = stateOf({ toJSON: () => hubSB(w).toJSON() });
  await run(w, ['A', 'S']);
  const failed = w.log.find((m) => m.message.type === PaymentType.PTLC_FAIL);
  assert.ok(failed, 'S answered the PTLC with PTLC_FAIL');
  assert.not.ok(
    w.log.some((m) => m.message.type === PaymentType.PTLC_FULFILL || m.message.type === PaymentType.REQUEST_COMPLETE),
    'S revealed nothing',
  );
  assert.is(hubRequest(w, id)!.status, 'cancelled');
  assert.is(stateOf({ toJSON: () => hubSB(w).toJSON() }), sbBefore, 'S–B is untouched at S');
  assert.is(w.payer.channel.pending, undefined, "A dropped its PTLC's state");
  assert.is(hubAS(w).pending, undefined);
  assert.equal(w.payer.channel.enforceable.state.balances, [600_000, 399_000], 'A paid nothing');
  // Then the void arrives: the request is void for good.
  await inject(w, 'B', 'A', voidMsg.out.message);
  assert.is(w.payer.requests.get(id)!.status, 'void');
});

t("the payer's PTLC reached the hub first: the cancellation is refused, B resumes state n and is paid", async () => {
  const w = await makeWorld();
  const id = await requested(w);
  post(w, 'A', await w.payer.payRequest(id, fee(w), w.ctx));
  // S takes A's PTLC (accepted), then B's cancellation arrives.
  await until(w, PaymentType.PTLC_ACCEPT, ['S']);
  assert.is(hubRequest(w, id)!.status, 'accepted');
  post(w, 'B', await w.payee.cancelRequest(id));
  await run(w, ['S']);
  const refused = w.log.find((m) => m.message.type === PaymentType.CANCEL_PROPOSE);
  assert.ok(refused);
  assert.ok(
    w.queue.some((q) => q.out.message.type === PaymentType.REJECT && q.out.message.refType === PaymentType.CANCEL_PROPOSE),
    'S refused the cancellation',
  );
  await run(w, ['B']);
  // B resumed state n; the payment then completes, whichever copy of the completion comes first.
  await run(w);
  assert.is(w.payee.requests.get(id)!.status, 'paid');
  assert.is(w.payer.requests.get(id)!.status, 'completed');
  assert.equal(w.payee.channel.enforceable.state.balances, [700_000 - AMOUNT, 299_000 + AMOUNT]);
  assert.equal(hubSB(w).enforceable.state, w.payee.channel.enforceable.state);
  assert.is(hubSB(w).pending, undefined);
});

t(
  'B cancels a request the hub already sold (the completion was still on its way): S sends the completion again and B is paid',
  async () => {
    const w = await makeWorld();
    const id = await requested(w);
    post(w, 'A', await w.payer.payRequest(id, fee(w), w.ctx));
    await run(w, ['A', 'S']);
    assert.is(hubRequest(w, id)!.status, 'settled');
    // Every completion for B is lost; B cancels.
    w.queue = w.queue.filter((q) => q.out.message.type !== PaymentType.REQUEST_COMPLETE);
    post(w, 'B', await w.payee.cancelRequest(id));
    await run(w, ['S']);
    assert.ok(w.queue.some((q) => q.out.message.type === PaymentType.REQUEST_COMPLETE && q.from === 'S'));
    await run(w);
    assert.is(w.payee.requests.get(id)!.status, 'paid');
    assert.equal(w.payee.channel.enforceable.state.balances, [700_000 - AMOUNT, 299_000 + AMOUNT]);
    assert.equal(hubSB(w).enforceable.state, w.payee.channel.enforceable.state);
    assert.is(hubRequest(w, id)!.acked, true);
  },
);

t('the cancellation reached the hub first while A was paying: A drops its PTLC and the request is void', async () => {
  const w = await makeWorld();
  const id = await requested(w);
  post(w, 'A', await w.payer.payRequest(id, fee(w), w.ctx));
  const add = await until(w, PaymentType.PTLC_ADD, []);
  take(w, add);
  post(w, 'B', await w.payee.cancelRequest(id));
  await run(w, ['B', 'S']);
  assert.is(hubRequest(w, id)!.status, 'cancelled');
  // The void reaches A while it is paying, then the hub refuses the PTLC.
  await run(w, ['A']);
  assert.is(w.payer.requests.get(id)!.status, 'paying');
  w.queue.push(add);
  await run(w);
  assert.is(w.payer.requests.get(id)!.status, 'void');
  assert.is(w.payer.channel.pending, undefined);
  assert.equal(w.payer.channel.enforceable.state, hubAS(w).enforceable.state);
});

t(
  "nobody but the payee cancels a request: another peer of the hub naming it over its own channel, a stranger, B's channel from A",
  async () => {
    const w = await makeWorld();
    // A has a payment pending on A–S under number 1, the same number as B's request state on S–B.
    await startPayment(w, 10_000);
    await run(w, ['A', 'S']);
    const id = await prepareRequest(w, AMOUNT);
    await run(w, ['B', 'S']);
    assert.is(hubAS(w).pending!.state.n, hubSB(w).pending!.state.n);
    const forged = await forgeState(w.payer.channel, w.A, (c) => {
      const e = c.enforceable.state;
      return { n: c.topN + 1, balances: [e.balances[0], e.balances[1]], ptlcs: e.ptlcs };
    });
    const cancel = (channelId: Uint8Array): PaymentMessageOf<typeof PaymentType.CANCEL_PROPOSE> => ({
      type: PaymentType.CANCEL_PROPOSE,
      channelId,
      offerId: hexToBytes(id, 32),
      state: forged.encoded,
      updateNonce: forged.updateNonce,
      settleSig: forged.settleSig,
    });
    const before = stateOf(w.hub);
    // A names B's request over its own A–S channel (whose pending number matches).
    const s1 = await w.hub.handle({ from: w.A.idPk, message: cancel(w.asParams.channelId) }, w.ctx);
    const e1 = s1.events[0];
    assert.ok(e1?.kind === 'rejected' && /belongs to another channel/.test(e1.message), JSON.stringify(s1.events));
    // A names B's channel; a stranger names either.
    const stranger = party('http://127.0.0.1:1');
    for (const [from, ch] of [
      [w.A.idPk, w.sbParams.channelId],
      [stranger.idPk, w.sbParams.channelId],
      [stranger.idPk, w.asParams.channelId],
    ] as const) {
      const s = await w.hub.handle({ from, message: cancel(ch) }, w.ctx);
      assert.ok(s.events[0]?.kind === 'rejected', JSON.stringify(s.events));
      assert.not.ok(
        s.send.some((o) => o.message.type === PaymentType.CANCEL_ACCEPT),
        'S co-signed no cancellation',
      );
    }
    assert.is(stateOf(w.hub), before, 'nothing changed at the hub');
    assert.is(hubRequest(w, id)!.status, 'prepared');
    // B's request still works: A reads it and, once its offer is done, could pay it.
    await run(w, ['A']);
    assert.is(w.payer.requests.get(id)!.status, 'received');
  },
);

t("a payee's cancellation must restore the balances: a cancel that moves the hub's money to the payee is refused", async () => {
  const w = await makeWorld();
  const id = await requested(w);
  const sb = hubSB(w);
  assert.is(sb.pending!.state.n, 1);
  // B "cancels" its request with state 2 paying itself 10 000 of the hub's balance, signed like a genuine cancel.
  const forged = await forgeState(w.payee.channel, w.B, (c) => transfer(c.enforceable.state, 0, 10_000, c.topN + 1));
  const before = stateOf(w.hub);
  const s = await w.hub.handle(
    {
      from: w.B.idPk,
      message: {
        type: PaymentType.CANCEL_PROPOSE,
        channelId: w.sbParams.channelId,
        offerId: hexToBytes(id, 32),
        state: forged.encoded,
        updateNonce: forged.updateNonce,
        settleSig: forged.settleSig,
      },
    },
    w.ctx,
  );
  const e = s.events[0];
  assert.ok(e?.kind === 'rejected' && /restore the last enforceable balances/.test(e.message), JSON.stringify(s.events));
  assert.not.ok(
    s.send.some((o) => o.message.type === PaymentType.CANCEL_ACCEPT),
    'S signed no update of that state',
  );
  assert.is(stateOf(w.hub), before, 'nothing changed at the hub');
  assert.is(hubRequest(w, id)!.status, 'prepared');
  assert.equal(sb.enforceable.state.balances, [700_000, 299_000]);
  assert.is(sb.pending!.state.n, 1, 'the request state is still the pending one');
});

t('nobody but the payee voids a request at the payer', async () => {
  const w = await makeWorld();
  const id = await requested(w);
  const stranger = party('http://127.0.0.1:1');
  const voidMsg = { type: PaymentType.OFFER_VOID, offerId: hexToBytes(id, 32), reason: 'cancelled by payee' } as const;
  for (const from of [stranger.idPk, w.S.idPk])
    await rejectsCode(w.payer.handle({ from, message: voidMsg }, w.ctx), ErrorCode.PAYMENT_REJECTED);
  assert.is(w.payer.requests.get(id)!.status, 'received');
  // The genuine payee's void is taken.
  post(w, 'A', await w.payer.handle({ from: w.B.idPk, message: voidMsg }, w.ctx));
  assert.is(w.payer.requests.get(id)!.status, 'void');
});

t('an expired request: the hub will not pay it, B lists and cancels it, and a late completion changes nothing at B', async () => {
  const w = await makeWorld();
  const id = await requested(w);
  assert.equal(w.payee.expiredRequests(w.ctx.now), []);
  w.ctx.now += 3_600_000; // the request's expiry
  assert.equal(w.payee.expiredRequests(w.ctx.now), [id]);
  await rejectsCode(w.payer.payRequest(id, fee(w), w.ctx), ErrorCode.PAYMENT_REJECTED);
  post(w, 'B', await w.payee.cancelRequest(id));
  await run(w);
  assert.is(w.payee.requests.get(id)!.status, 'cancelled');
  assert.equal(w.payee.expiredRequests(w.ctx.now), []);
  assert.is(w.payer.requests.get(id)!.status, 'void');
  // A completion for a cancelled request (whoever made it) is ignored by B.
  const before = stateOf(w.payee);
  const s = await w.payee.handle(
    {
      from: w.S.idPk,
      message: {
        type: PaymentType.REQUEST_COMPLETE,
        requestId: hexToBytes(id, 32),
        channelId: w.sbParams.channelId,
        n: 1,
        hubUpdateSig: new Uint8Array(65),
      },
    },
    w.ctx,
  );
  assert.ok(s.events[0]?.kind === 'ignored');
  assert.is(stateOf(w.payee), before);
  // Cancelling twice, or a request never sent, is refused locally.
  await rejectsCode(w.payee.cancelRequest(id), ErrorCode.PAYMENT_REJECTED);
  await rejectsCode(w.payee.cancelRequest('00'.repeat(32)), ErrorCode.PAYMENT_REJECTED);
});

t('every message of a cancellation replayed right after its delivery is ignored: no answer, no change', async () => {
  const w = await makeWorld();
  const id = await requested(w);
  post(w, 'B', await w.payee.cancelRequest(id));
  const engines = { A: w.payer, S: w.hub, B: w.payee };
  const all = () => JSON.stringify([w.payer.toJSON(), w.hub.toJSON(), w.payee.toJSON()]);
  for (let i = 0; i < 20 && w.queue.length; i++) {
    const q = w.queue[0]!;
    const to = (['A', 'S', 'B'] as const).find((r) => w[r].address === q.out.to)!;
    await deliverOne(w, (r) => r === to); // exactly q: the first message queued for `to`
    const before = all();
    const s = await engines[to].handle({ from: w[q.from].idPk, message: q.out.message }, w.ctx);
    assert.ok(s.events[0]?.kind === 'ignored', `${q.out.message.type} to ${to}: ${JSON.stringify(s.events)}`);
    assert.is(s.send.length, 0);
    assert.is(all(), before);
  }
  assert.is(w.payee.requests.get(id)!.status, 'cancelled');
});

t.run();
