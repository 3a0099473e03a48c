/**
 * Messages must be bound to the channel and party they belong to, and every
 * message that can overtake another must leave a way forward:
 * - a PTLC_FAIL (or any channel message) naming a channel other than the
 *   payment's is refused or ignored and changes nothing;
 * - an OFFER_VOID that overtakes the hub's PTLC_ADD makes the payee answer
 *   PTLC_FAIL, so the hub and then the payer can free their channels;
 * - a lost COMPLETION is re-sent when the payer, having heard nothing, cancels.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex, hexToBytes } from '../../../base/bytes.js';
import { PaymentType, encodeChannelState, type PaymentMessage } from '../../../protocol/payment.js';
import { Channel } from '../../../engine/channel/channel.js';
import { resolvePtlc, transfer } from '../../../engine/channel/state.js';
import { openChannelPair } from '../../../engine/channel/open.js';
import { Hub } from '../../../engine/payment/hub/hub.js';
import { Payer } from '../../../engine/payment/payer/payer.js';
import { removePtlc } from '../../../engine/payment/ptlc-exchange.js';
import {
  channelParams,
  deliverOne,
  handleQueued,
  hopWorld,
  hubAS,
  hubSB,
  jsonDiff,
  makeWorld,
  post,
  recipient,
  run,
  startPayment,
  stateOf,
  type World,
  ticketFor,
  hubPayment,
  hubRequest,
} from './fixture.js';
import { hubFee } from '../../../engine/payment/fee.js';

const t = suite('payment/attacks-binding');

const snapshot = (w: World) => JSON.parse(JSON.stringify(w.hub.toJSON())) as unknown;

/**
 * Hands `message` from `from` straight to the hub and asserts that the hub's
 * state did not change — except that a channel's `seenN` may rise: a refused
 * proposal with the channel peer's valid settlement signature burns its number, by design.
 */
async function hubUnchanged(w: World, from: 'A' | 'B', message: PaymentMessage, label: string) {
  const before = snapshot(w);
  try {
    await w.hub.handle({ from: w[from].idPk, message }, w.ctx);
  } catch {
    // a refusal by throwing is fine too
  }
  const diff = jsonDiff(before, snapshot(w)).filter((d) => {
    const m = /\.channel\.seenN: (absent|\d+) → (\d+)$/.exec(d);
    return !(m && (m[1] === 'absent' || Number(m[2]) > Number(m[1])));
  });
  assert.equal(diff, [], `${label}: the hub's state changed`);
}

t("a payer's PTLC_FAIL naming its own channel, after the hub extended the PTLC to the payee, changes nothing", async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, 50_000);
  await run(w, ['A', 'S']);
  await run(w, ['B']); // invoice
  await run(w, ['S']); // the PTLC to B is extended: S–B state 1 pending, A–S state 1 pending
  assert.is(hubPayment(w, offerId)!.status, 'extended');
  // Today: the hub drops its A–S pending state (the numbers line up), and ignores B's PTLC_ACCEPT.
  await hubUnchanged(
    w,
    'A',
    { type: PaymentType.PTLC_FAIL, channelId: w.asParams.channelId, offerId: hexToBytes(offerId, 32), reason: 'x' },
    'PTLC_FAIL on A–S',
  );
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
  assert.is(w.payee.payments.get(offerId)!.status, 'paid');
  assert.is(hubSB(w).pending, undefined);
  assert.is(w.payee.channel.pending, undefined);
  assert.equal(hubAS(w).enforceable.state, w.payer.channel.enforceable.state);
});

/** The other channel of the hub and its peer: messages re-addressed to it. */
function swapped(w: World, m: PaymentMessage): { from: 'A' | 'B'; message: PaymentMessage } | undefined {
  if (!('channelId' in m)) return undefined;
  const onAS = bytesToHex(m.channelId) === bytesToHex(w.asParams.channelId);
  return { from: onAS ? 'B' : 'A', message: { ...m, channelId: onAS ? w.sbParams.channelId : w.asParams.channelId } as PaymentMessage };
}

/**
 * Runs an honest flow; before every message the hub receives, a peer sends
 * (1) a PTLC_FAIL naming its own channel for every payment and request id in
 * play that does not belong to that channel, and (2) the genuine message
 * re-addressed to the other channel, from that channel's peer. None may change
 * the hub's state; the honest flow then completes.
 */
async function sweep(w: World, ids: () => string[], online: ('A' | 'S' | 'B')[] = ['A', 'S', 'B']) {
  for (let i = 0; i < 500; i++) {
    const at = w.queue.findIndex((x) => online.includes(recipient(w, x)));
    if (at < 0) return;
    const q = w.queue[at]!;
    if (recipient(w, q) === 'S') {
      for (const id of ids()) {
        const p = hubPayment(w, id);
        const r = hubRequest(w, id);
        // The payer's channel is never the channel of the hub's PTLC to the payee; the payee's
        // channel is never the one a request's PTLC from the payer comes over.
        if (p)
          await hubUnchanged(
            w,
            'A',
            { type: PaymentType.PTLC_FAIL, channelId: w.asParams.channelId, offerId: hexToBytes(id, 32), reason: 'x' },
            `step ${i}: PTLC_FAIL(A–S, ${p.status})`,
          );
        if (r)
          await hubUnchanged(
            w,
            'B',
            { type: PaymentType.PTLC_FAIL, channelId: w.sbParams.channelId, offerId: hexToBytes(id, 32), reason: 'x' },
            `step ${i}: PTLC_FAIL(S–B, ${r.status})`,
          );
      }
      const s = swapped(w, q.out.message);
      if (s) await hubUnchanged(w, s.from, s.message, `step ${i}: message type ${q.out.message.type} re-addressed`);
    }
    const r = await handleQueued(w, at);
    if (r.error !== undefined) throw r.error;
    post(w, r.to, r.step!);
  }
}

t("offer: no message naming a channel other than its payment's changes the hub; the payment completes", async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, 50_000);
  await sweep(w, () => [offerId]);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
  assert.is(w.payee.payments.get(offerId)!.status, 'paid');
  assert.equal(w.payee.channel.enforceable.state.balances, [650_000, 349_000]);
  // A cancelled payment: CANCEL_PROPOSE / CANCEL_COMMIT re-addressed to S–B by the payee change nothing either.
  const cancelled = await startPayment(w, 1_000);
  await sweep(w, () => [cancelled, offerId], ['A', 'S']); // B offline: the offer waits
  post(w, 'A', await w.payer.cancel(cancelled));
  await sweep(w, () => [cancelled, offerId]);
  assert.is(w.payer.payments.get(cancelled)!.status, 'cancelled');
  assert.is(hubPayment(w, cancelled)!.status, 'cancelled');
  assert.equal(w.payer.channel.enforceable.state, hubAS(w).enforceable.state);
});

t("request: no message naming a channel other than its request's changes the hub; the request is paid", async () => {
  const w = await makeWorld();
  const amount = 30_000;
  const { requestId, step } = await w.payee.request(
    { payer: { publicKey: w.A.idPk, address: w.A.address }, amount, expiry: w.ctx.now + 3_600_000 },
    w.ctx,
  );
  post(w, 'B', step);
  await sweep(w, () => [requestId]);
  post(w, 'A', await w.payer.payRequest(requestId, hubFee(amount, w.hub.config.fee), w.ctx));
  await sweep(w, () => [requestId]);
  assert.is(w.payer.requests.get(requestId)!.status, 'completed');
  assert.is(w.payee.requests.get(requestId)!.status, 'paid');
  assert.equal(w.payee.channel.enforceable.state.balances, [670_000, 329_000]);
});

t("router: another payee's PTLC_FAIL naming its own channel does not fail the PTLC extended to the payee", async () => {
  const w = await hopWorld();
  const { offerId, step } = await w.engines.A.pay(
    {
      payee: { publicKey: w.parties.B.idPk, address: w.parties.B.address },
      ticket: await ticketFor(w.engines.B),
      amount: 40_000,
      fee: hubFee(40_000, w.engines.S.config.fee),
      expiry: w.ctx.now + 3_600_000,
    },
    w.ctx,
  );
  w.post('A', step);
  for (let i = 0; i < 100 && w.queue.length; i++) {
    if (w.queue[0]!.to === 'B' && w.queue[0]!.message.type === PaymentType.PTLC_ADD) break;
    const q = w.queue.shift()!;
    await w.deliver(q.from, q.to, q.message);
  }
  assert.is(w.routerPayment(offerId)!.status, 'extended');
  const before = JSON.parse(JSON.stringify(w.engines.P.toJSON())) as unknown;
  // C, another payee of P, names its own channel and B's offer. Today: P marks the payment failed
  // and then ignores B's PTLC_ACCEPT; P–B stays pending on both ends.
  await w.deliver('C', 'P', { type: PaymentType.PTLC_FAIL, channelId: w.pc.channelId, offerId: hexToBytes(offerId, 32), reason: 'x' });
  assert.equal(jsonDiff(before, JSON.parse(JSON.stringify(w.engines.P.toJSON()))), [], "the router's state changed");
  await w.run();
  assert.is(w.engines.A.payments.get(offerId)!.status, 'completed');
  assert.is(w.engines.B.payments.get(offerId)!.status, 'paid');
  assert.is(w.engines.B.channel.pending, undefined);
});

t('router: a payee that refuses the PTLC does not lock the path: P gives the upstream PTLC back, S frees it, A cancels', async () => {
  const w = await hopWorld();
  const { offerId, step } = await w.engines.A.pay(
    {
      payee: { publicKey: w.parties.B.idPk, address: w.parties.B.address },
      ticket: await ticketFor(w.engines.B),
      amount: 40_000,
      fee: hubFee(40_000, w.engines.S.config.fee),
      expiry: w.ctx.now + 3_600_000,
    },
    w.ctx,
  );
  w.post('A', step);
  await w.run((q) => q.to === 'B' && q.message.type === PaymentType.PTLC_ADD);
  assert.is(w.engines.S.payments.get(offerId)!.status, 'committed', 'S–P carries the committed PTLC');
  // B voids the offer meanwhile (its payer changed its mind): B refuses P's PTLC with PTLC_FAIL.
  w.engines.B.payments.get(offerId)!.status = 'void';
  await w.run();
  const removed = w.seen.S.find((m) => m.type === PaymentType.PTLC_REMOVE);
  assert.ok(removed, 'P gave the PTLC back with PTLC_REMOVE');
  assert.is(w.routerPayment(offerId)!.status, 'failed');
  assert.is(w.engines.S.payments.get(offerId)!.status, 'pending', "S's payment is back before the invoice");
  const sp = w.engines.S.peers.get(bytesToHex(w.sp.channelId))!.channel;
  const ps = w.engines.P.upstream.channel;
  assert.equal(sp.enforceable.state.ptlcs, [], 'no PTLC left on S–P');
  assert.equal(sp.enforceable.state, ps.enforceable.state);
  assert.equal(sp.enforceable.state.balances, [700_000, 299_000], "S's funds are back");
  assert.is(sp.pending, undefined);
  // A, who heard nothing, cancels: the hub accepts, both sides free.
  w.post('A', await w.engines.A.cancel(offerId));
  await w.run();
  assert.is(w.engines.A.payments.get(offerId)!.status, 'cancelled');
  const as = w.engines.S.peers.get(bytesToHex(w.as.channelId))!.channel;
  assert.equal(as.enforceable.state, w.engines.A.channel.enforceable.state);
  assert.equal(as.enforceable.state.balances, [600_000, 399_000]);
});

t('router: a busy payee channel does not lock the path either: P keeps the commitment and gives the PTLC back', async () => {
  const w = await hopWorld();
  const { offerId, step } = await w.engines.A.pay(
    {
      payee: { publicKey: w.parties.B.idPk, address: w.parties.B.address },
      ticket: await ticketFor(w.engines.B),
      amount: 40_000,
      fee: hubFee(40_000, w.engines.S.config.fee),
      expiry: w.ctx.now + 3_600_000,
    },
    w.ctx,
  );
  w.post('A', step);
  await w.run((q) => q.to === 'P' && q.message.type === PaymentType.PTLC_COMMIT);
  // Another state is being negotiated on P–B when S's commitment arrives: P cannot extend.
  const pb = w.engines.P.downstream.get(bytesToHex(w.pb.channelId))!.channel;
  pb.propose(transfer(pb.enforceable.state, 0, 1_000, pb.topN + 1));
  await w.run();
  assert.ok(
    w.seen.S.some((m) => m.type === PaymentType.PTLC_REMOVE),
    'P gave the PTLC back',
  );
  assert.not.ok(
    w.seen.B.some((m) => m.type === PaymentType.PTLC_ADD),
    'nothing went to B',
  );
  const sp = w.engines.S.peers.get(bytesToHex(w.sp.channelId))!.channel;
  assert.equal(sp.enforceable.state, w.engines.P.upstream.channel.enforceable.state, 'S and P agree on S–P');
  assert.equal(sp.enforceable.state.balances, [700_000, 299_000]);
  assert.is(w.engines.S.payments.get(offerId)!.status, 'pending');
  w.post('A', await w.engines.A.cancel(offerId));
  await w.run();
  assert.is(w.engines.A.payments.get(offerId)!.status, 'cancelled');
});

t('a payee cannot take back a PTLC the hub already bought: a PTLC_REMOVE after the fulfillment is ignored', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, 50_000);
  await run(w, ['A', 'S']);
  for (const who of ['B', 'S', 'B', 'S', 'B', 'S'] as const) await run(w, [who]); // … → S took the fulfillment: PTLC_SETTLE to B queued
  assert.is(hubPayment(w, offerId)!.status, 'bought');
  // B, instead of acknowledging, proposes the state that gives the (still enforceable) PTLC back to S,
  // validly signed: were S to take it, its payment would go back to pending after S had paid.
  const j = w.payee.channel.toJSON();
  const copy = Channel.fromJSON({ ...j, pending: undefined, overwritten: undefined });
  const removal = await removePtlc(copy, { channelKey: w.B.chSk, nonces: w.B.nonces }, hexToBytes(offerId, 32), 'changed my mind');
  const before = stateOf(w.hub);
  const step = await w.hub.handle({ from: w.B.idPk, message: removal }, w.ctx);
  assert.equal(step.send, [], 'S answers nothing');
  assert.is(stateOf(w.hub), before, 'nothing changed at S');
  await run(w);
  assert.is(hubPayment(w, offerId)!.status, 'settled');
  assert.is(w.payee.payments.get(offerId)!.status, 'paid');
});

t('the hub refuses a PTLC_REMOVE that takes more than the PTLC back, and one for a PTLC not committed on that channel', async () => {
  const w = await hopWorld();
  const { offerId, step } = await w.engines.A.pay(
    {
      payee: { publicKey: w.parties.B.idPk, address: w.parties.B.address },
      ticket: await ticketFor(w.engines.B),
      amount: 40_000,
      fee: hubFee(40_000, w.engines.S.config.fee),
      expiry: w.ctx.now + 3_600_000,
    },
    w.ctx,
  );
  w.post('A', step);
  await w.run((q) => q.to === 'B' && q.message.type === PaymentType.PTLC_ADD);
  const sp = w.engines.S.peers.get(bytesToHex(w.sp.channelId))!.channel;
  const before = stateOf(w.engines.S);
  // P proposes a "removal" that also moves 10,000 of S's balance to P, validly signed by P.
  const copy = Channel.fromJSON(JSON.parse(JSON.stringify(w.engines.P.upstream.channel.toJSON())));
  const id = hexToBytes(offerId, 32);
  const honest = resolvePtlc(copy.enforceable.state, id, 'fail', copy.topN + 1);
  const greedy = { ...honest, balances: [honest.balances[0] - 10_000, honest.balances[1] + 10_000] as [number, number] };
  copy.propose(greedy);
  const settleSig = copy.signSettlement(w.parties.P.chSk);
  const updateNonce = await copy.commitUpdateNonce(w.parties.P.nonces, w.parties.P.chSk);
  const greedyMsg = {
    type: PaymentType.PTLC_REMOVE,
    channelId: w.sp.channelId,
    offerId: id,
    state: encodeChannelState(greedy),
    updateNonce,
    settleSig,
    reason: 'x',
  } as const;
  await w.deliver('P', 'S', greedyMsg);
  assert.ok(w.events.S.some((e) => e.kind === 'rejected' && /exactly the PTLC back/.test(e.message)));
  assert.is(stateOf(w.engines.S), before, 'nothing changed at S');
  assert.is(sp.pending, undefined);
  // The same offer named over A's channel, by A: not the PTLC's channel.
  await w.deliver('A', 'S', { ...greedyMsg, channelId: w.as.channelId });
  assert.is(stateOf(w.engines.S), before);
  assert.is(w.engines.S.payments.get(offerId)!.status, 'committed');
});

t('an OFFER_VOID that overtakes the PTLC_ADD: the payee answers PTLC_FAIL, the hub frees S–B and the payer can cancel', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, 50_000);
  await run(w, ['A', 'S']);
  await run(w, ['B']); // invoice queued for S
  // The payer's OFFER_VOID reaches B before S's PTLC_ADD does.
  post(w, 'A', {
    send: [{ to: w.B.address, message: { type: PaymentType.OFFER_VOID, offerId: hexToBytes(offerId, 32), reason: 'changed my mind' } }],
    retract: [],
    events: [],
  });
  await deliverOne(w, (to) => to === 'B');
  assert.is(w.payee.payments.get(offerId)!.status, 'void');
  await run(w, ['S']); // PTLC_ADD queued for B
  await run(w, ['B']);
  // Today: B ignores it silently; S–B stays pending at S forever.
  assert.ok(
    w.queue.some((q) => q.out.message.type === PaymentType.PTLC_FAIL),
    'B answers the PTLC_ADD with PTLC_FAIL',
  );
  await run(w, ['S']);
  assert.is(hubSB(w).pending, undefined, 'S dropped its S–B pending state');
  assert.is(hubPayment(w, offerId)!.status, 'pending');
  post(w, 'A', await w.payer.cancel(offerId));
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'cancelled');
  assert.is(hubPayment(w, offerId)!.status, 'cancelled');
  assert.is(w.payer.channel.pending, undefined);
  assert.is(hubAS(w).pending, undefined);
  assert.equal(w.payer.channel.enforceable.state.balances, [600_000, 399_000]);
  const next = await startPayment(w, 1_000);
  await run(w);
  assert.is(w.payer.payments.get(next)!.status, 'completed');
  assert.is(w.payee.payments.get(next)!.status, 'paid');
});

t('a lost COMPLETION: the payer cancels, the hub re-sends the completion and the payer completes (hub bought or settled)', async () => {
  for (const hubStatus of ['settled', 'bought'] as const) {
    const w = await makeWorld();
    const fee = hubFee(50_000, w.hub.config.fee);
    const offerId = await startPayment(w, 50_000);
    await run(w, ['A', 'S']);
    await run(w, ['B']); // invoice
    for (const who of ['S', 'B', 'S', 'B', 'S'] as const) await run(w, [who]); // … → PTLC_FULFILL at S: COMPLETION and PTLC_SETTLE out
    if (hubStatus === 'settled') await run(w, ['S', 'B']);
    assert.is(hubPayment(w, offerId)!.status, hubStatus);
    const lost = w.queue.findIndex((q) => q.out.message.type === PaymentType.COMPLETION);
    assert.ok(lost >= 0);
    w.queue.splice(lost, 1); // the relay lost it
    post(w, 'A', await w.payer.cancel(offerId));
    await run(w, ['A', 'S']);
    // Without the re-send, S refused the cancellation ("already extended") and A's state 1 stayed pending forever.
    assert.is(w.payer.payments.get(offerId)!.status, 'completed', `hub ${hubStatus}`);
    // A released a settlement for its cancellation number: neither side proposes that number again.
    assert.ok(hubAS(w).topN >= w.payer.channel.topN, 'the hub skips the number of the cancellation it did not take');
    await run(w);
    assert.is(w.payer.channel.pending, undefined);
    assert.equal(w.payer.channel.enforceable.state.balances, [600_000 - 50_000 - fee, 399_000 + 50_000 + fee]);
    assert.equal(w.payer.channel.enforceable.state, hubAS(w).enforceable.state);
    const next = await startPayment(w, 1_000);
    await run(w);
    assert.is(w.payer.payments.get(next)!.status, 'completed');
    assert.equal(w.payer.channel.enforceable.state, hubAS(w).enforceable.state);
  }
});

t('a payer with two channels cannot cancel an offer of one over the other', async () => {
  const w = await makeWorld();
  // A second A–S channel, same parties; the hub holds both.
  const as2 = channelParams(w.A.chPk, w.S.chPk, { csvDelay: 288 });
  const [a2, s2] = await openChannelPair(as2, [600_000, 399_000], w.A.chSk, w.S.chSk, w.A.nonces, w.S.nonces);
  w.hub = new Hub(
    w.hub.config,
    [
      { channel: hubAS(w), peerKey: w.A.idPk, peerAddress: w.A.address },
      { channel: s2, peerKey: w.A.idPk, peerAddress: w.A.address },
      { channel: hubSB(w), peerKey: w.B.idPk, peerAddress: w.B.address },
    ],
    w.S.nonces,
  );
  const payer2 = new Payer(w.payer.config, a2, w.A.nonces);
  const offerId = await startPayment(w, 50_000); // on channel 1
  await run(w, ['S']); // S accepts A–S(1) state 1
  // A proposes state 1 on channel 2 too, then cancels channel 1's offer over channel 2 (same numbers).
  post(
    w,
    'A',
    (
      await payer2.pay(
        {
          payee: { publicKey: w.B.idPk, address: w.B.address },
          ticket: await ticketFor(w.payee),
          amount: 1_000,
          fee: hubFee(1_000, w.hub.config.fee),
          expiry: w.ctx.now + 3_600_000,
        },
        w.ctx,
      )
    ).step,
  );
  await run(w, ['S']);
  const cancel = await payer2.cancel([...payer2.payments.keys()][0]!);
  const m = cancel.send[0]!.message as PaymentMessage & { offerId: Uint8Array };
  const before = stateOf(s2);
  const step = await w.hub.handle({ from: w.A.idPk, message: { ...m, offerId: hexToBytes(offerId, 32) } as PaymentMessage }, w.ctx);
  assert.ok(step.events.some((e) => e.kind === 'rejected' && /another channel/.test(e.message)));
  assert.is(hubPayment(w, offerId)!.status, 'pending', "channel 1's offer is not cancelled");
  assert.is(stateOf(s2), before, 'channel 2 did not move');
});

t('a late or stray REJECT for a payment with nothing in flight changes nothing at the payer and reports nothing', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, 50_000);
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
  const before = stateOf(w.payer);
  for (const refType of [PaymentType.UPDATE_PROPOSE, PaymentType.CANCEL_PROPOSE]) {
    const step = await w.payer.handle(
      {
        from: w.S.idPk,
        message: { type: PaymentType.REJECT, refType, ref: hexToBytes(offerId, 32), code: 'PAYMENT_REJECTED', message: 'late' },
      },
      w.ctx,
    );
    assert.equal(
      step.events.map((e) => e.kind),
      ['ignored'],
    );
  }
  assert.is(stateOf(w.payer), before);
});

t.run();
