/**
 * Interleavings: a relay keeps each sender→recipient pair in order, but mail
 * from different senders interleaves arbitrarily. Every seeded schedule that
 * keeps per-pair FIFO order must end in the same consistent result, for
 * the offer and the request flows, with duplicates injected.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodePayment, encodePayment } from '../../../protocol/payment.js';
import { makeWorld, post, hex, type World, ticketFor, hubRequest } from './fixture.js';
import { hubFee } from '../../../engine/payment/fee.js';
import { prng } from '../../helpers.js';

const t = suite('payment/schedule');
const SEEDS = 8;

const roleOf = (w: World, a: string) => (a === w.A.address ? 'A' : a === w.S.address ? 'S' : 'B') as 'A' | 'S' | 'B';

/** Delivers queued messages in a random order that keeps each (from, to) pair FIFO; sometimes twice. */
async function runShuffled(w: World, rand: () => number): Promise<void> {
  for (let i = 0; i < 2000 && w.queue.length; i++) {
    const heads = w.queue.filter(
      (q, idx) => w.queue.findIndex((o) => o.from === q.from && roleOf(w, o.out.to) === roleOf(w, q.out.to)) === idx,
    );
    const pick = heads[Math.floor(rand() * heads.length)]!;
    w.queue.splice(w.queue.indexOf(pick), 1);
    const to = roleOf(w, pick.out.to);
    const copies = rand() < 0.15 ? 2 : 1; // at-least-once delivery
    for (let c = 0; c < copies; c++) {
      const msg = decodePayment(pick.out.message.type, encodePayment(pick.out.message));
      w.log.push({ from: pick.from, to, message: msg });
      const engine = to === 'A' ? w.payer : to === 'S' ? w.hub : w.payee;
      post(w, to, await engine.handle({ from: w[pick.from].idPk, message: msg }, w.ctx));
    }
  }
  assert.is(w.queue.length, 0, 'the schedule settles');
}

t('an offer completes identically under every seeded interleaving', async () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    const w = await makeWorld();
    const fee = hubFee(40_000, w.hub.config.fee);
    const { offerId, step } = await w.payer.pay(
      {
        payee: { publicKey: w.B.idPk, address: w.B.address },
        ticket: await ticketFor(w.payee),
        amount: 40_000,
        fee,
        expiry: w.ctx.now + 3_600_000,
      },
      w.ctx,
    );
    post(w, 'A', step);
    await runShuffled(w, prng(seed));
    assert.is(w.payer.payments.get(offerId)!.status, 'completed', `seed ${seed}`);
    assert.is(w.payee.payments.get(offerId)!.status, 'paid', `seed ${seed}`);
    assert.is(w.hub.payments.get(offerId)!.status, 'settled', `seed ${seed}`);
    const hubAS = w.hub.peers.get(hex(w.asParams.channelId))!.channel;
    const hubSB = w.hub.peers.get(hex(w.sbParams.channelId))!.channel;
    assert.equal(w.payer.channel.enforceable.state, hubAS.enforceable.state, `seed ${seed}`);
    assert.equal(w.payee.channel.enforceable.state, hubSB.enforceable.state, `seed ${seed}`);
    assert.equal(w.payee.channel.enforceable.state.balances, [700_000 - 40_000, 299_000 + 40_000]);
    for (const ch of [w.payer.channel, w.payee.channel, hubAS, hubSB])
      assert.is(ch.pending, undefined, `seed ${seed}: nothing left pending`);
  }
});

t('a request completes identically under every seeded interleaving', async () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    const w = await makeWorld();
    const rand = prng(1000 + seed);
    const { requestId, step } = await w.payee.request(
      { payer: { publicKey: w.A.idPk, address: w.A.address }, amount: 25_000, expiry: w.ctx.now + 3_600_000 },
      w.ctx,
    );
    post(w, 'B', step);
    await runShuffled(w, rand);
    post(w, 'A', await w.payer.payRequest(requestId, hubFee(25_000, w.hub.config.fee), w.ctx));
    await runShuffled(w, rand);
    assert.is(w.payer.requests.get(requestId)!.status, 'completed', `seed ${seed}`);
    assert.is(w.payee.requests.get(requestId)!.status, 'paid', `seed ${seed}`);
    const r = hubRequest(w, requestId)!;
    assert.ok(r.status === 'settled' && r.acked, `seed ${seed}: hub ${r.status} acked=${r.acked}`);
    const hubSB = w.hub.peers.get(hex(w.sbParams.channelId))!.channel;
    assert.equal(w.payee.channel.enforceable.state, hubSB.enforceable.state, `seed ${seed}`);
    for (const ch of [w.payer.channel, w.payee.channel, hubSB]) assert.is(ch.pending, undefined, `seed ${seed}: nothing left pending`);
  }
});

t.run();
