/**
 * The request flow (SPEC 6.14, "the payee pre-signs"): B and S co-sign settlement n
 * in B's favour, B signs update n and leaves it for A; A later buys S's
 * signature on update n with a PTLC to S locked to s_S·G, completing B's
 * state; A keeps it for B (watchtower) and B collects it when it returns.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeChannelState, PaymentType, type PaymentMessage } from '../../../protocol/payment.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { Channel } from '../../../engine/channel/channel.js';
import { addPtlc } from '../../../engine/channel/state.js';
import { presignPtlcClaim } from '../../../engine/channel/onchain.js';
import { adaptorPoint } from '../../../crypto/adaptor.js';
import { ErrorCode } from '../../../base/errors.js';
import { ChainModel } from '../bitcoin/chain-model.js';
import { enforceLatestOverOld } from './chain.js';
import { makeWorld, post, run, deliverOne, hex, type World, ticketFor, hubRequest } from './fixture.js';
import { rejectsCode } from '../../helpers.js';
import { hexToBytes } from '../../../base/bytes.js';
import { extendPtlc } from '../../../engine/payment/ptlc-exchange.js';
import { hubFee } from '../../../engine/payment/fee.js';

const t = suite('payment/request');
const AMOUNT = 30_000;

async function prepare(w: World, over: { expiry?: number } = {}) {
  const { requestId, step } = await w.payee.request(
    { payer: { publicKey: w.A.idPk, address: w.A.address }, amount: AMOUNT, expiry: over.expiry ?? w.ctx.now + 3_600_000, memo: 'rent' },
    w.ctx,
  );
  post(w, 'B', step);
  return requestId;
}

t('B pre-signs and goes offline; A buys the hub signature later; B returns to a completed state', async () => {
  const w = await makeWorld();
  const fee = hubFee(AMOUNT, w.hub.config.fee);
  const sbHub = w.hub.peers.get(hex(w.sbParams.channelId))!.channel;
  const asHub = w.hub.peers.get(hex(w.asParams.channelId))!.channel;
  const oldSB = structuredClone(sbHub.enforceable);
  const requestId = await prepare(w);
  await run(w, ['B', 'S']); // PREPARE ↔ PREPARED; B sends the request to A's mailbox and goes offline
  assert.is(w.payee.requests.get(requestId)!.status, 'requested');
  assert.is(sbHub.pending!.updateSigs[0], null, 'S has not signed update n yet');
  await run(w, ['A', 'S']); // A reads the request
  assert.ok(w.events.some((e) => e.kind === 'request_received' && e.offerId === requestId));
  post(w, 'A', await w.payer.payRequest(requestId, fee, w.ctx));
  await run(w, ['A', 'S']); // PTLC A→S locked to T_S; S reveals s_S to claim
  const r = w.payer.requests.get(requestId)!;
  assert.is(r.status, 'completed');
  assert.ok(r.hubUpdateSig, 'A holds the complete update n for B (watchtower)');
  assert.equal(asHub.enforceable.state.balances, [600_000 - AMOUNT - fee, 399_000 + AMOUNT + fee]);
  assert.equal(w.payer.channel.enforceable.state, asHub.enforceable.state);
  // B comes back: S's signature arrives (from A and from S); state n is B's.
  await run(w, ['B', 'S']);
  assert.is(w.payee.requests.get(requestId)!.status, 'paid');
  assert.equal(w.payee.channel.enforceable.state.balances, [700_000 - AMOUNT, 299_000 + AMOUNT]);
  assert.equal(sbHub.enforceable.state, w.payee.channel.enforceable.state);
  assert.is(hubRequest(w, requestId)!.status, 'settled');
  assert.is(hubRequest(w, requestId)!.acked, true);
  assert.is(w.events.filter((e) => e.kind === 'paid').length, 2, 'one paid event at B and one at S');
  // B's state n is enforceable on chain over the old state (S's signature is real).
  enforceLatestOverOld(new ChainModel(), w.sbParams, oldSB, w.payee.channel.enforceable);
});

t("A watchtower copy: the update A keeps completes B's state even if S never sends it", async () => {
  const w = await makeWorld();
  const requestId = await prepare(w);
  await run(w, ['B', 'S']);
  await run(w, ['A', 'S']);
  post(w, 'A', await w.payer.payRequest(requestId, hubFee(AMOUNT, w.hub.config.fee), w.ctx));
  await run(w, ['A', 'S']);
  // Drop S's own copy of REQUEST_COMPLETE: only A's reaches B.
  const fromS = w.queue.findIndex((q) => q.from === 'S' && q.out.message.type === PaymentType.REQUEST_COMPLETE);
  assert.ok(fromS >= 0);
  w.queue.splice(fromS, 1);
  await run(w);
  assert.is(w.payee.requests.get(requestId)!.status, 'paid');
});

t('S refuses a PTLC for an unknown or expired request, too small, or that times out within its CSV delay', async () => {
  const w = await makeWorld();
  const requestId = await prepare(w, { expiry: w.ctx.now + 60_000 });
  await run(w, ['B', 'S']);
  await run(w, ['A']);
  // Too small: A pays without the hub's fee.
  post(w, 'A', await w.payer.payRequest(requestId, 0, w.ctx));
  await run(w, ['A', 'S']);
  assert.ok(
    w.log.some((l) => l.message.type === PaymentType.PTLC_FAIL),
    'S refuses with PTLC_FAIL',
  );
  assert.is(hubRequest(w, requestId)!.status, 'prepared');
  assert.not.ok(
    w.log.some((l) => l.message.type === PaymentType.PTLC_FULFILL),
    'S never reveals s_S for less',
  );
  assert.is(w.payer.requests.get(requestId)!.status, 'received', 'A dropped the refused state');
  assert.is(w.payer.channel.pending, undefined);
  // A timeout inside the A–S CSV delay: S could not claim on chain after revealing s_S.
  const r = w.payer.requests.get(requestId)!;
  const short = await extendPtlc(
    w.payer.channel,
    { channelKey: w.A.chSk, nonces: w.A.nonces },
    {
      id: hexToBytes(requestId, 32),
      amount: AMOUNT + hubFee(AMOUNT, w.hub.config.fee),
      point: hexToBytes(r.point, 33),
      timeout: w.ctx.height + w.asParams.csvDelay,
    },
    new Uint8Array(32),
  );
  w.queue.push({ from: 'A', out: { to: w.S.address, message: short } });
  const fails = w.log.filter((l) => l.message.type === PaymentType.PTLC_FAIL).length;
  await run(w, ['S']);
  assert.is(w.log.filter((l) => l.message.type === PaymentType.PTLC_FAIL).length, fails, 'nothing delivered to A yet');
  assert.ok(
    w.queue.some(
      (q) => q.out.message.type === PaymentType.PTLC_FAIL && /too little time/.test((q.out.message as { reason: string }).reason),
    ),
  );
  assert.is(hubRequest(w, requestId)!.status, 'prepared');
  w.payer.channel.abandonPending();
  // Expired.
  w.ctx.now += 120_000;
  await rejectsCode(w.payer.payRequest(requestId, hubFee(AMOUNT, w.hub.config.fee), w.ctx), ErrorCode.PAYMENT_REJECTED);
});

t('A refuses a forged request, and a hub secret that does not complete the signature', async () => {
  const w = await makeWorld();
  await prepare(w);
  await run(w, ['B', 'S']);
  const q = w.queue.find((x) => x.out.message.type === PaymentType.REQUEST)!;
  const genuine = q.out.message;
  const forged = { ...genuine, payeeUpdateSig: (genuine as { payeeUpdateSig: Uint8Array }).payeeUpdateSig.slice() } as typeof genuine & {
    payeeUpdateSig: Uint8Array;
  };
  forged.payeeUpdateSig[10]! ^= 1;
  q.out.message = forged;
  await run(w, ['A']);
  assert.is(w.payer.requests.size, 0, 'a request whose payee signature fails is ignored');
  assert.ok(w.events.some((e) => e.kind === 'ignored' && /does not verify/.test(e.reason)));
  // The genuine request, then a PTLC_FULFILL whose secret is not s_S.
  w.queue.push({ from: 'B', out: { to: w.A.address, message: genuine } });
  await run(w, ['A']);
  const requestId = [...w.payer.requests.keys()][0]!;
  post(w, 'A', await w.payer.payRequest(requestId, hubFee(AMOUNT, w.hub.config.fee), w.ctx));
  for (let i = 0; i < 20 && !w.queue.some((x) => x.out.message.type === PaymentType.PTLC_FULFILL); i++)
    await deliverOne(w, (to) => to !== 'B');
  const f = w.queue.find((x) => x.out.message.type === PaymentType.PTLC_FULFILL)!;
  const good = f.out.message;
  f.out.message = { ...good, secret: new Uint8Array(32).fill(5) } as typeof good;
  let refused = '';
  try {
    await deliverOne(w, (to) => to === 'A');
  } catch (e) {
    refused = (e as { code?: string }).code ?? String(e);
  }
  assert.is(refused, ErrorCode.INVALID_SIGNATURE);
  assert.is(w.payer.requests.get(requestId)!.status, 'committed', 'nothing changed');
  w.queue.push({ from: 'S', out: { to: w.A.address, message: good } });
  await run(w);
  assert.is(w.payer.requests.get(requestId)!.status, 'completed');
  assert.is(w.payee.requests.get(requestId)!.status, 'paid');
});

t('replayed request-flow messages change nothing', async () => {
  const w = await makeWorld();
  const requestId = await prepare(w);
  for (let i = 0; i < 300; i++) {
    const next = w.queue[0];
    if (!next) break;
    if (next.out.message.type === PaymentType.REQUEST && !w.payer.requests.has(requestId)) {
      await deliverOne(w);
      post(w, 'A', await w.payer.payRequest(requestId, hubFee(AMOUNT, w.hub.config.fee), w.ctx));
      continue;
    }
    w.queue.push({ ...next });
    await deliverOne(w);
  }
  await run(w);
  assert.is(w.payee.requests.get(requestId)!.status, 'paid');
  assert.is(w.payer.requests.get(requestId)!.status, 'completed');
  assert.equal(w.payee.channel.enforceable.state.balances, [700_000 - AMOUNT, 299_000 + AMOUNT]);
});

t('a PTLC_ADD never displaces a pending state: a payer cannot wipe a payment the hub already extended', async () => {
  const w = await makeWorld();
  const fee = hubFee(AMOUNT, w.hub.config.fee);
  const { offerId, step } = await w.payer.pay(
    {
      payee: { publicKey: w.B.idPk, address: w.B.address },
      ticket: await ticketFor(w.payee),
      amount: AMOUNT,
      fee,
      expiry: w.ctx.now + 3_600_000,
    },
    w.ctx,
  );
  post(w, 'A', step);
  await run(w, ['A', 'S']);
  await run(w, ['B']);
  await run(w, ['S']); // the hub extended its PTLC to B for A–S state 1
  assert.is(w.hub.payments.get(offerId)!.status, 'extended');
  // A colluding payee has a request prepared at the hub (B could prepare one once its PTLC state is
  // committed); A pays it in state 2, from a copy of its channel, to wipe pending state 1.
  const point = adaptorPoint(randomBytes(32));
  const id = randomBytes(32);
  w.hub.requests.set(hex(id), {
    requestId: hex(id),
    payeeChannel: hex(w.sbParams.channelId),
    n: 9,
    amount: 10_000,
    expiry: w.ctx.now + 60_000,
    point: hex(point),
    status: 'prepared',
  });
  const copy = Channel.fromJSON(JSON.parse(JSON.stringify(w.payer.channel.toJSON())));
  const next = addPtlc(
    copy.enforceable.state,
    { id, offerer: 0, amount: 10_000 + hubFee(10_000, w.hub.config.fee), point, timeout: w.ctx.height + 400 },
    2,
  );
  copy.propose(next);
  const forged: PaymentMessage = {
    type: PaymentType.PTLC_ADD,
    channelId: w.asParams.channelId,
    state: encodeChannelState(next),
    offerId: id,
    tweak: new Uint8Array(32),
    updateNonce: await copy.commitUpdateNonce(w.A.nonces, w.A.chSk),
    settleSig: copy.signSettlement(w.A.chSk),
    claimPresig: presignPtlcClaim(w.asParams, next, id, w.A.chSk),
  };
  const out = await w.hub.handle({ from: w.A.idPk, message: forged }, w.ctx);
  const fail = out.send.find((o) => o.message.type === PaymentType.PTLC_FAIL);
  assert.ok(fail && /busy/.test((fail.message as { reason: string }).reason), 'refused because state 1 is pending');
  const hubAS = w.hub.peers.get(hex(w.asParams.channelId))!.channel;
  assert.is(hubAS.pending!.state.n, 1, 'state 1 is still the pending state');
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
  assert.is(hubAS.enforceable.state.n, 1);
});

t('a request the hub refuses frees the payee channel', async () => {
  const w = await makeWorld();
  const requestId = await prepare(w, { expiry: w.ctx.now + 10_000 });
  w.ctx.now += 20_000; // the hub reads it after the expiry
  await run(w, ['B', 'S']);
  assert.not.ok(w.payee.requests.has(requestId));
  assert.is(w.payee.channel.pending, undefined);
  assert.is(w.hub.peers.get(hex(w.sbParams.channelId))!.channel.pending, undefined);
  const again = await prepare(w);
  await run(w, ['B', 'S']);
  assert.is(w.payee.requests.get(again)!.status, 'requested');
});

t("after refusing the payee's proposal the hub's next proposal skips its number (no collision, no failed payment)", async () => {
  const w = await makeWorld();
  await prepare(w, { expiry: w.ctx.now + 10_000 });
  w.ctx.now += 20_000;
  await run(w, ['B', 'S']); // S refuses S–B state 1: B released its settlement for 1
  const sb = w.hub.peers.get(hex(w.sbParams.channelId))!.channel;
  assert.is(sb.highN, 0, 'the hub signed nothing for 1');
  assert.is(sb.topN, 1, 'but it will not propose 1 itself');
  // An offer from A to B: the hub's PTLC_ADD is S–B state 2, which B takes at once.
  post(
    w,
    'A',
    (
      await w.payer.pay(
        {
          payee: { publicKey: w.B.idPk, address: w.B.address },
          ticket: await ticketFor(w.payee),
          amount: AMOUNT,
          fee: hubFee(AMOUNT, w.hub.config.fee),
          expiry: w.ctx.now + 3_600_000,
        },
        w.ctx,
      )
    ).step,
  );
  await run(w);
  assert.not.ok(
    w.log.some((l) => l.message.type === PaymentType.PTLC_FAIL),
    'no PTLC_FAIL',
  );
  assert.is(w.payee.channel.enforceable.state.n, 3, 'PTLC state 2, fulfilled as 3');
  assert.is(sb.enforceable.state.n, 3);
});

t.run();
