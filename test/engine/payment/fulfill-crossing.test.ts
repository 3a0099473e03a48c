/**
 * Two payers pay one payee at the same time. The payee's PTLC_FULFILL for
 * the first payment and the hub's PTLC_ADD for the second take the same
 * state number of S–B, and each side refuses the other's proposal. The
 * hub refuses the fulfillment (REJECT) and the payee refuses the PTLC
 * (PTLC_FAIL). The payee must then propose its fulfillment again, above
 * both numbers. Otherwise it waits on its refused state for good, every
 * later PTLC is refused as "busy", and S–B can only be closed on chain.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex, hexToBytes } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { openChannelPair } from '../../../engine/channel/open.js';
import { hubFee } from '../../../engine/payment/fee.js';
import { MAX_FULFILL_REFUSALS } from '../../../engine/payment/payee/offer.js';
import { Payer } from '../../../engine/payment/payer/payer.js';
import { rejectMessage } from '../../../engine/payment/refusal.js';
import type { Step } from '../../../engine/payment/types.js';
import { PaymentType, decodePayment, encodePayment, type PaymentMessage } from '../../../protocol/payment.js';
import {
  channelParams,
  handleQueued,
  hubPayment,
  hubSB,
  makeWorld,
  party,
  post,
  run,
  startPayment,
  ticketFor,
  until,
  type World,
} from './fixture.js';
import { rejectsCode } from '../../helpers.js';

const t = suite('payment/fulfill-crossing');

const wire = (m: PaymentMessage) => decodePayment(m.type, encodePayment(m));

/** The hub's REJECT of the payee's PTLC_FULFILL of payment `x`, handed to the payee. */
const hubRefusesFulfillment = (w: World, x: string): Promise<Step> =>
  w.payee.handle(
    { from: w.S.idPk, message: wire(rejectMessage(PaymentType.PTLC_FULFILL, hexToBytes(x, 32), ErrorCode.PAYMENT_REJECTED, 'no')) },
    w.ctx,
  );

/** A second payer with its own channel at the hub; its messages are handled here, the others by the fixture. */
async function secondPayer(w: World) {
  const A2 = party('http://127.0.0.1:1');
  const params = channelParams(A2.chPk, w.S.chPk, { csvDelay: 288 });
  const [mine, hubs] = await openChannelPair(params, [600_000, 399_000], A2.chSk, w.S.chSk, A2.nonces, w.S.nonces);
  w.hub.peers.set(bytesToHex(params.channelId), { channel: hubs, peerKey: A2.idPk, peerAddress: A2.address });
  const payer = new Payer({ identityKey: A2.idSk, hubKey: w.S.idPk, hubAddress: w.S.address, channelKey: A2.chSk }, mine, A2.nonces);
  /** Hands A2's outgoing messages to the hub or the payee at once, and queues their answers. */
  const send = async (s: Step) => {
    for (const o of s.send) {
      const to = o.to === w.B.address ? 'B' : 'S';
      post(w, to, await (to === 'B' ? w.payee : w.hub).handle({ from: A2.idPk, message: wire(o.message) }, w.ctx));
    }
  };
  /** Delivers what waits for A2. */
  const drain = async () => {
    for (let i = w.queue.findIndex((q) => q.out.to === A2.address); i >= 0; i = w.queue.findIndex((q) => q.out.to === A2.address)) {
      const [q] = w.queue.splice(i, 1);
      await send(await payer.handle({ from: w.S.idPk, message: wire(q!.out.message) }, w.ctx));
    }
  };
  const pay = async (amount: number) => {
    const { offerId, step } = await payer.pay(
      {
        payee: { publicKey: w.B.idPk, address: w.B.address },
        ticket: await ticketFor(w.payee),
        amount,
        fee: hubFee(amount, w.hub.config.fee),
        expiry: w.ctx.now + 3_600_000,
      },
      w.ctx,
    );
    await send(step);
    return offerId;
  };
  return { A2, payer, pay, drain };
}

/** Delivers one queued message of `type` from `from` (the fixture's routing), posting the answer. */
async function deliver(w: World, type: number, to: 'S' | 'B'): Promise<Step> {
  const i = w.queue.findIndex((q) => q.out.message.type === type && q.out.to === w[to].address);
  assert.ok(i >= 0, `a ${type} for ${to} is queued`);
  const r = await handleQueued(w, i);
  if (r.error !== undefined) throw r.error;
  post(w, r.to, r.step!);
  return r.step!;
}

/** Runs everything to rest: the fixture's roles and the second payer. */
async function settle(w: World, a2: Awaited<ReturnType<typeof secondPayer>>): Promise<void> {
  for (let round = 0; round < 50; round++) {
    await a2.drain();
    await run(w, ['A', 'S', 'B']).catch((e: unknown) => {
      if (!/unknown address/.test((e as Error).message)) throw e;
    });
    if (!w.queue.some((q) => q.out.to === a2.A2.address)) {
      if (w.queue.every((q) => q.out.to === a2.A2.address)) return;
    }
  }
  throw new Error('did not settle');
}

t(
  'the payee’s fulfillment crosses the hub’s PTLC_ADD of a second payment: the payee proposes it again above both, and S–B takes payments again',
  async () => {
    const w = await makeWorld();
    const a2 = await secondPayer(w);
    // Payment X from A: run until the hub commits X's PTLC to the payee.
    const x = await startPayment(w, 20_000);
    await until(w, PaymentType.PTLC_COMMIT);
    // The payee takes the commit and proposes its fulfillment (state k) …
    await deliver(w, PaymentType.PTLC_COMMIT, 'B');
    const sb = hubSB(w);
    const k = sb.enforceable.state.n + 1;
    assert.is(w.payee.channels()[0]!.pending?.state.n, k, 'the payee’s fulfillment proposes state k');
    // … while the second payer's payment Y reaches the hub and the payee, is invoiced, and the hub adds its PTLC as state k too.
    const y = await a2.pay(10_000);
    await a2.drain(); // the hub accepts, and the second payer offers Y to the payee
    await deliver(w, PaymentType.INVOICE, 'S');
    assert.is(sb.pending?.state.n, k, 'the hub’s PTLC_ADD of Y proposes the same state k');
    // The two proposals cross: each side refuses the other's.
    const refused = await deliver(w, PaymentType.PTLC_FULFILL, 'S');
    assert.equal(
      refused.send.map((o) => o.message.type),
      [PaymentType.REJECT],
      'the hub refuses the fulfillment',
    );
    const busy = await deliver(w, PaymentType.PTLC_ADD, 'B');
    assert.equal(
      busy.send.map((o) => o.message.type),
      [PaymentType.PTLC_FAIL],
      'the payee refuses the PTLC',
    );
    // The payee, told of the refusal, proposes its fulfillment again under a greater number.
    const again = await deliver(w, PaymentType.REJECT, 'B');
    assert.equal(
      again.send.map((o) => o.message.type),
      [PaymentType.PTLC_FULFILL],
      'the payee fulfills again',
    );
    assert.ok(w.payee.channels()[0]!.pending!.state.n > k, 'under a number above both');
    await settle(w, a2);
    assert.is(hubPayment(w, x)?.status, 'settled', 'X is paid');
    assert.ok(
      w.events.some((e) => e.kind === 'paid' && 'offerId' in e && e.offerId === x && 'amount' in e),
      'the payee was paid for X',
    );
    assert.is(sb.pending, undefined, 'S–B is free at the hub');
    assert.is(w.payee.channels()[0]!.pending, undefined, 'S–B is free at the payee');
    assert.not.equal(hubPayment(w, y)?.status, 'settled', 'Y, refused by the payee, did not go through');
    // S–B takes payments again.
    const z = await startPayment(w, 5_000);
    await run(w);
    assert.is(hubPayment(w, z)?.status, 'settled', 'a later payment goes through S–B');
  },
);

t(
  'a hub that refuses every fulfillment gets a bounded number of them; the PTLC stays the payee’s, with its secret, to claim on chain',
  async () => {
    const w = await makeWorld();
    const x = await startPayment(w, 20_000);
    await until(w, PaymentType.PTLC_COMMIT);
    await deliver(w, PaymentType.PTLC_COMMIT, 'B');
    let proposals = 1;
    for (let i = 0; i < MAX_FULFILL_REFUSALS + 3; i++) {
      const f = w.queue.findIndex((q) => q.out.message.type === PaymentType.PTLC_FULFILL);
      if (f < 0) break;
      w.queue.splice(f, 1);
      const s = await hubRefusesFulfillment(w, x);
      post(w, 'B', s);
      proposals += s.send.filter((o) => o.message.type === PaymentType.PTLC_FULFILL).length;
    }
    assert.is(proposals, 1 + MAX_FULFILL_REFUSALS, 'one proposal, then one per refusal up to the bound');
    // A refusal when no fulfillment of ours is in flight (past the bound) is ignored and changes nothing.
    const before = JSON.stringify(w.payee.toJSON());
    const late = await hubRefusesFulfillment(w, x);
    assert.equal(
      late.events.map((e) => e.kind),
      ['ignored'],
    );
    assert.is(JSON.stringify(w.payee.toJSON()), before, 'the payee is as it was');
    const ch = w.payee.channels()[0]!;
    assert.is(ch.pending, undefined, 'no state left pending');
    assert.ok(
      ch.enforceable.state.ptlcs.some((p) => bytesToHex(p.id) === x),
      'the committed PTLC is still in the payee’s enforceable state',
    );
  },
);

t(
  'the payer proposes nothing while a request’s PTLC is committed on its channel: the hub’s fulfillment comes first, then the payer pays',
  async () => {
    const w = await makeWorld();
    const amount = 30_000;
    const { requestId, step } = await w.payee.request(
      { payer: { publicKey: w.A.idPk, address: w.A.address }, amount, expiry: w.ctx.now + 3_600_000, memo: 'rent' },
      w.ctx,
    );
    post(w, 'B', step);
    await run(w, ['B', 'S']);
    await run(w, ['A', 'S']);
    post(w, 'A', await w.payer.payRequest(requestId, hubFee(amount, w.hub.config.fee), w.ctx));
    // The hub answers the PTLC_COMMIT with its PTLC_FULFILL, under the channel's next number.
    await until(w, PaymentType.PTLC_FULFILL, ['A', 'S']);
    assert.is(w.payer.requests.get(requestId)!.status, 'committed');
    const before = JSON.stringify(w.payer.toJSON());
    // A proposal now would take the same number as the fulfillment in flight: refused, nothing changes.
    await rejectsCode(() => startPayment(w, 5_000), ErrorCode.PAYMENT_REJECTED, 'an offer');
    assert.is(JSON.stringify(w.payer.toJSON()), before, 'the payer is as it was');
    await run(w, ['A', 'S']);
    assert.is(w.payer.requests.get(requestId)!.status, 'completed');
    const z = await startPayment(w, 5_000);
    await run(w);
    assert.is(hubPayment(w, z)?.status, 'settled', 'the payer pays once the fulfillment is settled');
  },
);

t.run();
