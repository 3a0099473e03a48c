/**
 * Request-flow guards, attacked from the outside: a payee proposing more than it
 * asks for, a payer's PTLC read after the request expired, a payee trying to
 * displace a state the hub is paying for, and a stranger's completion.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from '@noble/hashes/utils.js';
import { bytesToHex, hexToBytes } from '../../../base/bytes.js';
import { openChannelPair } from '../../../engine/channel/open.js';
import { Hub } from '../../../engine/payment/hub/hub.js';
import { extendPtlc } from '../../../engine/payment/ptlc-exchange.js';
import { ErrorCode } from '../../../base/errors.js';
import { PaymentType } from '../../../protocol/payment.js';
import { transfer } from '../../../engine/channel/state.js';
import { rejectsCode } from '../../helpers.js';
import {
  deliverOne,
  forgeState,
  hubChannels,
  inject,
  makeWorld,
  channelParams,
  party,
  post,
  prepareRequest,
  roleAt,
  run,
  snapshot,
  startPayment,
  take,
  until,
  type World,
  stateOf,
  hubPayment,
} from './fixture.js';
import { hubFee } from '../../../engine/payment/fee.js';

const t = suite('payment/guards-request');
const AMOUNT = 30_000;

const queued = (w: World, type: number) => w.queue.some((q) => q.out.message.type === type);

t('S refuses a prepared state that moves more to the payee than the amount it asks for', async () => {
  const w = await makeWorld();
  // B asks for AMOUNT but its state moves twice that from S to B.
  const forged = await forgeState(w.payee.channel, w.B, (c) => transfer(c.enforceable.state, 0, 2 * AMOUNT, c.topN + 1));
  const before = snapshot(w);
  await inject(w, 'B', 'S', {
    type: PaymentType.REQUEST_PREPARE,
    channelId: w.sbParams.channelId,
    state: forged.encoded,
    requestId: randomBytes(32),
    amount: AMOUNT,
    expiry: w.ctx.now + 3_600_000,
    updateNonce: forged.updateNonce,
    settleSig: forged.settleSig,
  });
  const e = w.events.at(-1);
  assert.ok(e && e.kind === 'rejected', JSON.stringify(e));
  assert.is(e.code, ErrorCode.CHANNEL_INVARIANT);
  assert.match(e.message, /does not move exactly the amount to the payee/);
  assert.is(snapshot(w), before);
  assert.is(w.hub.requests.size, 0);
  assert.is(hubChannels(w).sb.pending, undefined, 'S co-signed no settlement');
  assert.not.ok(queued(w, PaymentType.REQUEST_PREPARED));
});

t("S refuses the payer's PTLC when it reads it after the request expired", async () => {
  const w = await makeWorld();
  const requestId = await prepareRequest(w, AMOUNT, { expiry: w.ctx.now + 60_000 });
  await run(w, ['B', 'S']);
  await run(w, ['A']);
  post(w, 'A', await w.payer.payRequest(requestId, hubFee(AMOUNT, w.hub.config.fee), w.ctx)); // in time…
  w.ctx.now += 60_000; // …but the hub reads it at the expiry
  const before = stateOf(w.hub);
  await run(w, ['S']);
  const fail = w.queue.find((q) => q.out.message.type === PaymentType.PTLC_FAIL);
  assert.ok(fail, 'S answers PTLC_FAIL');
  assert.match((fail.out.message as { reason: string }).reason, /request expired/);
  assert.is(stateOf(w.hub), before, 'S accepted nothing');
  assert.is(w.hub.requests.get(requestId)!.status, 'prepared');
  assert.is(hubChannels(w).as.pending, undefined);
  assert.not.ok(queued(w, PaymentType.PTLC_ACCEPT));
  await run(w, ['A']);
  assert.is(w.payer.channel.pending, undefined, 'A dropped the refused state');
  assert.equal(w.payer.channel.enforceable.state.balances, [600_000, 399_000]);
});

t('S refuses a PTLC for a request it never prepared, and a request over a channel where it is not the payee side', async () => {
  const w = await makeWorld();
  const requestId = await prepareRequest(w, AMOUNT);
  await run(w, ['B', 'S']);
  await run(w, ['A']);
  // A pays, but names a request id the hub does not know.
  const add = await w.payer.payRequest(requestId, hubFee(AMOUNT, w.hub.config.fee), w.ctx);
  const msg = add.send[0]!.message as Extract<(typeof add.send)[0]['message'], { type: typeof PaymentType.PTLC_ADD }>;
  const before = stateOf(w.hub);
  const out = await w.hub.handle({ from: w.A.idPk, message: { ...msg, offerId: randomBytes(32) } }, w.ctx);
  const fail = out.send.find((o) => o.message.type === PaymentType.PTLC_FAIL);
  assert.ok(fail && /no prepared request for that PTLC/.test((fail.message as { reason: string }).reason), JSON.stringify(out.events));
  assert.is(stateOf(w.hub), before);
  // A asks the hub to prepare a "request" over the A–S channel, where the hub is party 1.
  w.payer.channel.abandonPending();
  const forged = await forgeState(w.payer.channel, w.A, (c) => transfer(c.enforceable.state, 0, AMOUNT, c.topN + 1));
  const out2 = await w.hub.handle(
    {
      from: w.A.idPk,
      message: {
        type: PaymentType.REQUEST_PREPARE,
        channelId: w.asParams.channelId,
        state: forged.encoded,
        requestId: randomBytes(32),
        amount: AMOUNT,
        expiry: w.ctx.now + 3_600_000,
        updateNonce: forged.updateNonce,
        settleSig: forged.settleSig,
      },
    },
    w.ctx,
  );
  const e = out2.events[0];
  assert.ok(e?.kind === 'rejected' && /the hub is party 0 of a payee channel/.test(e.message), JSON.stringify(out2.events));
  assert.is(stateOf(w.hub), before);
});

t('a PTLC_FAIL for a request A is not paying changes nothing at A (received, or unknown)', async () => {
  const w = await makeWorld();
  const requestId = await prepareRequest(w, AMOUNT);
  await run(w, ['B', 'S']);
  await run(w, ['A']);
  assert.is(w.payer.requests.get(requestId)?.status, 'received');
  const before = stateOf(w.payer);
  // The hub (or anyone replaying its mail) fails a PTLC A never offered: A must not drop a
  // state or reset the request, and must not crash on an id it does not know.
  for (const offerId of [hexToBytes(requestId, 32), randomBytes(32)]) {
    const out = await w.payer.handle(
      { from: w.S.idPk, message: { type: PaymentType.PTLC_FAIL, channelId: w.asParams.channelId, offerId, reason: 'no' } },
      w.ctx,
    );
    assert.equal(out.send, []);
    assert.ok(
      out.events.some((e) => e.kind === 'ignored'),
      JSON.stringify(out.events),
    );
    assert.is(stateOf(w.payer), before);
  }
});

t('S refuses a request it reads exactly at its expiry', async () => {
  const w = await makeWorld();
  const requestId = await prepareRequest(w, AMOUNT, { expiry: w.ctx.now + 10_000 });
  w.ctx.now += 10_000;
  await run(w, ['S']);
  assert.is(w.hub.requests.size, 0);
  assert.is(hubChannels(w).sb.pending, undefined);
  assert.ok(w.events.some((e) => e.kind === 'rejected' && /request already expired/.test(e.message)));
  assert.ok(w.payee.requests.has(requestId));
});

t("the payee's and the payer's request API: no request while busy or expiring now, no purchase twice or at the expiry", async () => {
  const w = await makeWorld();
  await rejectsCode(prepareRequest(w, AMOUNT, { expiry: w.ctx.now }), ErrorCode.PAYMENT_REJECTED);
  assert.is(w.payee.channel.pending, undefined);
  const requestId = await prepareRequest(w, AMOUNT, { expiry: w.ctx.now + 60_000 });
  const pending = JSON.stringify(w.payee.channel.toJSON());
  await rejectsCode(prepareRequest(w, AMOUNT), ErrorCode.PAYMENT_REJECTED);
  assert.is(JSON.stringify(w.payee.channel.toJSON()), pending, 'the first request state is not overwritten');
  await run(w, ['B', 'S']);
  await run(w, ['A']);
  post(w, 'A', await w.payer.payRequest(requestId, hubFee(AMOUNT, w.hub.config.fee), w.ctx));
  await rejectsCode(w.payer.payRequest(requestId, hubFee(AMOUNT, w.hub.config.fee), w.ctx), ErrorCode.PAYMENT_REJECTED);
  // At the expiry A no longer pays.
  const w2 = await makeWorld();
  const r2 = await prepareRequest(w2, AMOUNT, { expiry: w2.ctx.now + 60_000 });
  await run(w2, ['B', 'S']);
  await run(w2, ['A']);
  w2.ctx.now += 60_000;
  await rejectsCode(w2.payer.payRequest(r2, hubFee(AMOUNT, w2.hub.config.fee), w2.ctx), ErrorCode.PAYMENT_REJECTED);
  assert.is(w2.payer.channel.pending, undefined);
});

t('A ignores a request through another hub, one whose payee address is not its sender, and one read at its expiry', async () => {
  const w = await makeWorld();
  const requestId = await prepareRequest(w, AMOUNT, { expiry: w.ctx.now + 60_000 });
  const q = await until(w, PaymentType.REQUEST, ['B', 'S']);
  const genuine = take<Extract<typeof q.out.message, { type: typeof PaymentType.REQUEST }>>(w, q);
  const stranger = party('http://127.0.0.1:1');
  for (const [forged, from, why] of [
    [{ ...genuine, hub: stranger.idPk }, 'B', /request through a hub we have no channel with/],
    [{ ...genuine, payeeAddress: stranger.address }, 'B', /payee address is not the sender's mailbox/],
    [{ ...genuine, payeeAddress: 'lnmb1-not-an-address' }, 'B', /invalid payee address/],
  ] as const) {
    await inject(w, from, 'A', forged);
    const e = w.events.at(-1);
    assert.ok(e?.kind === 'ignored' && why.test(e.reason), JSON.stringify(e));
    assert.is(w.payer.requests.size, 0);
  }
  w.ctx.now += 60_000;
  await inject(w, 'B', 'A', genuine);
  const e = w.events.at(-1);
  assert.ok(e?.kind === 'ignored' && /request expired/.test(e.reason), JSON.stringify(e));
  assert.not.ok(w.payer.requests.has(requestId));
});

t('a payee cannot displace the state of a PTLC the hub extended to it with a request proposal', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, 50_000);
  await until(w, PaymentType.PTLC_ADD); // S–B state 1 with S's PTLC is pending at S
  const { sb } = hubChannels(w);
  assert.is(sb.pending!.state.n, 1);
  // B proposes state 2 moving AMOUNT to itself, to overwrite state 1 at the hub.
  const forged = await forgeState(w.payee.channel, w.B, (c) => transfer(c.enforceable.state, 0, AMOUNT, 2));
  const before = snapshot(w);
  await inject(w, 'B', 'S', {
    type: PaymentType.REQUEST_PREPARE,
    channelId: w.sbParams.channelId,
    state: forged.encoded,
    requestId: randomBytes(32),
    amount: AMOUNT,
    expiry: w.ctx.now + 3_600_000,
    updateNonce: forged.updateNonce,
    settleSig: forged.settleSig,
  });
  const e = w.events.at(-1);
  assert.ok(e && e.kind === 'rejected', JSON.stringify(e));
  assert.match(e.message, /the payee channel is busy/);
  assert.is(snapshot(w), before);
  assert.is(sb.pending!.state.n, 1, 'the PTLC state is still the one being negotiated');
  assert.is(sb.pending!.state.ptlcs.length, 1);
  assert.is(w.hub.requests.size, 0);
  assert.not.ok(queued(w, PaymentType.REQUEST_PREPARED));
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
  assert.equal(w.payee.channel.enforceable.state.balances, [700_000 - 50_000, 299_000 + 50_000]);
});

t('a payer cannot overwrite its PTLC to the hub (a request purchase S accepted) with an offer proposal', async () => {
  const w = await makeWorld();
  const requestId = await prepareRequest(w, AMOUNT);
  await run(w, ['B', 'S']);
  await run(w, ['A']);
  post(w, 'A', await w.payer.payRequest(requestId, hubFee(AMOUNT, w.hub.config.fee), w.ctx));
  await until(w, PaymentType.PTLC_ACCEPT, ['S']); // S co-signed A–S state 1 with A's PTLC
  const { as } = hubChannels(w);
  assert.is(as.pending!.state.ptlcs.length, 1);
  const fee = hubFee(10_000, w.hub.config.fee);
  const forged = await forgeState(w.payer.channel, w.A, (c) => transfer(c.enforceable.state, 0, 10_000 + fee, c.topN + 1));
  const before = snapshot(w);
  await inject(w, 'A', 'S', {
    type: PaymentType.UPDATE_PROPOSE,
    channelId: w.asParams.channelId,
    state: forged.encoded,
    offerId: randomBytes(32),
    amount: 10_000,
    fee,
    expiry: w.ctx.now + 3_600_000,
    receiptPoint: forged.receiptPoint,
    updatePresig: forged.updatePresig,
    settleSig: forged.settleSig,
  });
  const e = w.events.at(-1);
  assert.ok(e && e.kind === 'rejected', JSON.stringify(e));
  assert.match(e.message, /the channel is busy/);
  assert.is(snapshot(w), before);
  assert.is(as.pending!.state.n, 1, 'the PTLC state is not displaced');
  assert.is(w.hub.payments.size, 0);
  assert.not.ok(queued(w, PaymentType.UPDATE_ACCEPT));
  await run(w);
  assert.is(w.payer.requests.get(requestId)!.status, 'completed');
  assert.is(w.payee.requests.get(requestId)!.status, 'paid');
});

t('B ignores a completion from a stranger (neither its payer nor its hub) and sends nothing on its behalf', async () => {
  const w = await makeWorld();
  const requestId = await prepareRequest(w, AMOUNT);
  await run(w, ['B', 'S']);
  assert.is(w.payee.requests.get(requestId)!.status, 'requested');
  const stranger = party('http://127.0.0.1:1');
  // A signature that uses the hub's committed nonce (public in the request) but a made-up s.
  const hubSig = new Uint8Array(65);
  hubSig.set(w.payee.channel.pending!.updateNonces[0]!, 0);
  hubSig.set(new Uint8Array(32).fill(5), 32);
  hubSig[64] = 0x41;
  const before = stateOf(w.payee);
  const s = await w.payee.handle(
    {
      from: stranger.idPk,
      message: {
        type: PaymentType.REQUEST_COMPLETE,
        requestId: hexToBytes(requestId, 32),
        channelId: w.sbParams.channelId,
        n: 1,
        hubUpdateSig: hubSig,
      },
    },
    w.ctx,
  );
  assert.equal(s.send, [], "no message to the hub on a stranger's behalf");
  assert.ok(s.events[0]?.kind === 'ignored' && /neither the payer nor the hub/.test(s.events[0].reason), JSON.stringify(s.events));
  assert.is(stateOf(w.payee), before);
  assert.is(w.payee.requests.get(requestId)!.status, 'requested');
});

/**
 * Delivers every queued message, each replayed once right after (except those `skip` names):
 * the replay must be ignored, unanswered, changing nothing.
 */
async function deliverReplayingEach(
  w: World,
  after: () => Promise<void> = async () => {},
  skip: (type: number, to: string) => boolean = () => false,
): Promise<void> {
  for (let i = 0; i < 300 && w.queue.length; i++) {
    const q = w.queue[0]!;
    await deliverOne(w);
    const to = roleAt(w, q.out.to);
    if (!skip(q.out.message.type, to)) {
      const before = snapshot(w),
        queuedBefore = w.queue.length;
      await inject(w, q.from, to, q.out.message);
      const what = `replayed message ${q.out.message.type} to ${to}`;
      const e = w.events.at(-1);
      assert.ok(e?.kind === 'ignored', `${what}: ${JSON.stringify(e)}`);
      assert.is(w.queue.length, queuedBefore, `${what} was answered`);
      assert.is(snapshot(w), before, `${what} changed something`);
    }
    await after();
  }
}

/** A pays B's request once A has received it. */
const payWhenReceived = (w: World, requestId: string) => async () => {
  if (w.payer.requests.get(requestId)?.status === 'received' && !w.payer.channel.pending)
    post(w, 'A', await w.payer.payRequest(requestId, hubFee(AMOUNT, w.hub.config.fee), w.ctx));
};

t('every message replayed right after its delivery is ignored: no answer, no change (an offer, a cancellation, a request)', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, 50_000);
  await deliverReplayingEach(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
  assert.is(w.payee.payments.get(offerId)!.status, 'paid');
  // A cancelled payment: the offer waits for B, who stays offline; A cancels it.
  const cancelled = await startPayment(w, 10_000);
  await deliverReplayingEach(w, async () => {
    const offer = w.queue.find((q) => q.out.message.type === PaymentType.OFFER);
    if (offer) {
      take(w, offer);
      post(w, 'A', await w.payer.cancel(cancelled));
    }
  });
  assert.is(w.payer.payments.get(cancelled)!.status, 'cancelled');
  assert.is(hubPayment(w, cancelled)!.status, 'cancelled');
  const requestId = await prepareRequest(w, AMOUNT);
  // A replayed PTLC_ADD to the hub is ignored (a duplicate of a PTLC it took).
  await deliverReplayingEach(w, payWhenReceived(w, requestId), (type, to) => type === PaymentType.PTLC_ADD && to === 'S');
  assert.is(w.payer.requests.get(requestId)!.status, 'completed');
  assert.is(w.payee.requests.get(requestId)!.status, 'paid');
});

t('a duplicated PTLC_ADD is ignored by the hub, not answered with a PTLC_FAIL that makes the payer drop its state', async () => {
  const w = await makeWorld();
  const requestId = await prepareRequest(w, AMOUNT);
  await run(w, ['B', 'S']);
  await run(w, ['A']);
  post(w, 'A', await w.payer.payRequest(requestId, hubFee(AMOUNT, w.hub.config.fee), w.ctx));
  const add = w.queue[0]!.out.message;
  await deliverOne(w, (to) => to === 'S'); // S accepts: PTLC_ACCEPT queued for A
  await inject(w, 'A', 'S', add); // the relay delivers the PTLC_ADD a second time
  // Mailboxes do not promise order: were the duplicate answered with PTLC_FAIL and that overtook
  // the PTLC_ACCEPT, the payer would drop the state the hub keeps, and the request would be wedged.
  w.queue.reverse();
  await run(w);
  assert.is(w.payer.requests.get(requestId)!.status, 'completed', 'the payer dropped the state the hub accepted');
  assert.is(w.payee.requests.get(requestId)!.status, 'paid');
});

t(
  'a second payee cannot pay a request over its own channel, where the hub is party 0: only payer channels carry PTLCs to the hub',
  async () => {
    const w = await makeWorld();
    // A second payee C with an idle channel at the hub.
    const C = party('http://127.0.0.1:1');
    const scParams = channelParams(w.S.chPk, C.chPk, { csvDelay: 24 });
    const [sViewC, cView] = await openChannelPair(scParams, [700_000, 299_000], w.S.chSk, C.chSk, w.S.nonces, C.nonces);
    const hub = w.hub;
    w.hub = new Hub(
      hub.config,
      [...hub.peers.values(), { channel: sViewC, peerKey: C.idPk, peerAddress: C.address }].map((p) => ({
        channel: p.channel,
        peerKey: p.peerKey,
        peerAddress: p.peerAddress,
      })),
      w.S.nonces,
    );
    const requestId = await prepareRequest(w, AMOUNT);
    await run(w, ['B', 'S']);
    const r = w.hub.requests.get(requestId)!;
    assert.is(r.status, 'prepared');
    // C locks a PTLC for B's request on the S–C channel, from its own balance, exactly as the hub would expect from a payer.
    const add = await extendPtlc(
      cView,
      { channelKey: C.chSk, nonces: C.nonces },
      {
        id: hexToBytes(requestId, 32),
        amount: AMOUNT + hubFee(AMOUNT, w.hub.config.fee),
        point: hexToBytes(r.point, 33),
        timeout: w.ctx.height + 500,
      },
      randomBytes(32),
    );
    const before = stateOf(w.hub);
    const out = await w.hub.handle({ from: C.idPk, message: add }, w.ctx);
    assert.not.ok(
      out.send.some((o) => o.message.type === PaymentType.PTLC_ACCEPT),
      'the hub co-signed a PTLC to itself over a payee channel',
    );
    assert.ok(
      out.events.some((e) => e.kind === 'rejected' && /payer channel/.test(e.message)),
      JSON.stringify(out.events),
    );
    assert.is(stateOf(w.hub), before);
    assert.is(w.hub.requests.get(requestId)!.status, 'prepared');
    assert.is(w.hub.peers.get(bytesToHex(scParams.channelId))!.channel.pending, undefined);
  },
);

t.run();
