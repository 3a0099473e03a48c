/**
 * Attacks that involve the chain:
 * - the timelock rule must take an update already seen on chain into account
 *   (`channel.noteUpdateOnChain(height)` / `channel.closing`): a payer that
 *   publishes an update starts the CSV clock, and a PTLC extended later on the
 *   strength of that channel could outlive it;
 * - two channels with the same base keys and parameters must not accept each
 *   other's update and settlement transactions (per-channel derived keys).
 *
 * These use the chain-aware channel API (`noteUpdateOnChain`, `closing`) and
 * per-channel keys (`params.keys` of an opened channel are derived from the
 * base keys and the channel id).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from '@noble/hashes/utils.js';
import { bytesToHex } from '../../../base/bytes.js';
import { PaymentType } from '../../../protocol/payment.js';
import { buildSettlementTx, fundingOutput } from '../../../engine/bitcoin/eltoo.js';
import { Channel } from '../../../engine/channel/channel.js';
import { openChannelPair } from '../../../engine/channel/open.js';
import { eltooTerms, settlementSpec } from '../../../engine/channel/onchain.js';
import { Hub } from '../../../engine/payment/hub/hub.js';
import { ChainModel } from '../bitcoin/chain-model.js';
import { at, out0, publishUpdate, settleOnChain, sigs } from './chain.js';
import {
  channelParams,
  hopPay,
  hopWorld,
  hubAS,
  hubSB,
  makeWorld,
  party,
  post,
  run,
  startPayment,
  type World,
  stateOf,
  hubRequest,
} from './fixture.js';
import { ErrorCode } from '../../../base/errors.js';
import { rejectsCode } from '../../helpers.js';
import { hubFee } from '../../../engine/payment/fee.js';

const t = suite('payment/attacks-chain');

const sentPtlcAdd = (w: World) =>
  w.log.some((l) => l.message.type === PaymentType.PTLC_ADD) || w.queue.some((q) => q.out.message.type === PaymentType.PTLC_ADD);

t('the hub extends no PTLC on the strength of a payer channel whose update is on chain (B invoices 110 blocks later)', async () => {
  // A–S CSV 144, B asks 42 blocks, margin 6: 42 + 2 + 6 < 144 passes the rule that ignores the chain.
  const w = await makeWorld({ asCsv: 144, payeeDelta: 42 });
  const offerId = await startPayment(w, 50_000);
  await run(w, ['A', 'S']);
  const h0 = w.ctx.height;
  // A publishes A–S update 0 at h0; S's chain watcher reports it. A settles state 0 at h0 + 144.
  hubAS(w).noteUpdateOnChain(h0);
  assert.equal(hubAS(w).closing, { height: h0 });
  w.ctx.height = h0 + 110;
  await run(w, ['B']); // B invoices at h0 + 110
  await run(w, ['S']);
  // Today: S extends a PTLC timing out at h0 + 154; B withholds its fulfill and claims on chain at
  // h0 + 145, after A settled state 0: S can no longer publish update 1 and loses the amount.
  assert.not.ok(sentPtlcAdd(w), 'no PTLC extended');
  assert.is(w.hub.payments.get(offerId)!.status, 'pending');
  assert.ok(w.events.some((e) => e.kind === 'rejected' && e.offerId === offerId));
});

t('the hub refuses invoices at every height once the payer channel is closing (also long after it settled)', async () => {
  for (const later of [0, 1, 110, 200]) {
    const w = await makeWorld({ asCsv: 144, payeeDelta: 42 });
    const offerId = await startPayment(w, 50_000);
    await run(w, ['A', 'S']);
    hubAS(w).noteUpdateOnChain(w.ctx.height);
    w.ctx.height += later;
    await run(w);
    assert.not.ok(sentPtlcAdd(w), `no PTLC extended ${later} blocks after the update was seen`);
    assert.is(w.hub.payments.get(offerId)!.status, 'pending');
    assert.is(w.payee.channel.pending, undefined);
    assert.is(hubSB(w).pending, undefined);
  }
});

t('noteUpdateOnChain keeps the lowest height and is persisted', async () => {
  const w = await makeWorld();
  const ch = hubAS(w);
  assert.is(ch.closing, undefined);
  ch.noteUpdateOnChain(800_105);
  assert.equal(ch.closing, { height: 800_105 });
  ch.noteUpdateOnChain(800_100);
  ch.noteUpdateOnChain(800_109);
  assert.equal(ch.closing, { height: 800_100 });
  assert.equal(Channel.fromJSON(JSON.parse(JSON.stringify(ch.toJSON()))).closing, { height: 800_100 });
  const hub = Hub.fromJSON(w.hub.config, JSON.parse(stateOf(w.hub)), w.S.nonces);
  assert.equal(hub.peers.get(bytesToHex(w.asParams.channelId))!.channel.closing, { height: 800_100 });
});

t("the engines' noteUpdateOnChain: an unknown channel is refused and changes nothing; a known one starts closing", async () => {
  const w = await makeWorld();
  const before = stateOf(w.hub);
  // A watcher that reports some other channel must not close one of ours (nor throw an untyped error).
  await rejectsCode(w.hub.noteUpdateOnChain(bytesToHex(randomBytes(32)), 800_100), ErrorCode.INVALID_RANGE);
  assert.is(stateOf(w.hub), before);
  await w.hub.noteUpdateOnChain(bytesToHex(w.asParams.channelId), 800_100);
  assert.equal(hubAS(w).closing, { height: 800_100 });
});

t('the payee answers PTLC_FAIL to a PTLC_ADD on a closing channel; the hub frees S–B', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, 50_000);
  await run(w, ['A', 'S']);
  await run(w, ['B']); // invoice
  w.payee.channel.noteUpdateOnChain(w.ctx.height);
  await run(w, ['S']); // PTLC_ADD
  await run(w, ['B']);
  assert.ok(
    w.queue.some((q) => q.out.message.type === PaymentType.PTLC_FAIL),
    'B answers PTLC_FAIL',
  );
  assert.is(w.payee.channel.pending, undefined);
  await run(w, ['S']);
  assert.is(hubSB(w).pending, undefined);
  assert.is(w.hub.payments.get(offerId)!.status, 'pending');
});

t('request: the hub refuses REQUEST_PREPARE on a closing payee channel and a PTLC_ADD on a closing payer channel', async () => {
  const amount = 30_000;
  const request = async (w: World) => {
    const { requestId, step } = await w.payee.request(
      { payer: { publicKey: w.A.idPk, address: w.A.address }, amount, expiry: w.ctx.now + 3_600_000 },
      w.ctx,
    );
    post(w, 'B', step);
    return requestId;
  };
  {
    const w = await makeWorld();
    hubSB(w).noteUpdateOnChain(w.ctx.height);
    const requestId = await request(w);
    await run(w, ['B', 'S']);
    assert.not.ok(w.hub.requests.has(requestId), 'no request prepared');
    assert.is(hubSB(w).pending, undefined);
    assert.is(w.payee.channel.pending, undefined, 'B dropped its proposal on the REJECT');
  }
  {
    const w = await makeWorld();
    const requestId = await request(w);
    await run(w, ['B', 'S']);
    await run(w, ['A']);
    hubAS(w).noteUpdateOnChain(w.ctx.height);
    post(w, 'A', await w.payer.payRequest(requestId, hubFee(amount, w.hub.config.fee), w.ctx));
    await run(w, ['A', 'S']);
    assert.ok(
      w.log.some((l) => l.message.type === PaymentType.PTLC_FAIL),
      'S answers PTLC_FAIL',
    );
    assert.not.ok(
      w.log.some((l) => l.message.type === PaymentType.PTLC_FULFILL),
      'S never sells s_S',
    );
    assert.is(hubRequest(w, requestId)!.status, 'prepared');
    assert.is(hubAS(w).pending, undefined);
    assert.is(w.payer.channel.pending, undefined);
  }
});

t('nothing new starts over a closing channel: payer, payee and hub each refuse on their own side', async () => {
  // The payer's and the payee's own calls.
  const w1 = await makeWorld();
  w1.payer.channel.noteUpdateOnChain(w1.ctx.height);
  w1.payee.channel.noteUpdateOnChain(w1.ctx.height);
  await rejectsCode(startPayment(w1, 10_000), ErrorCode.PAYMENT_REJECTED);
  await rejectsCode(
    w1.payee.request({ payer: { publicKey: w1.A.idPk, address: w1.A.address }, amount: 1_000, expiry: w1.ctx.now + 60_000 }, w1.ctx),
    ErrorCode.PAYMENT_REJECTED,
  );
  assert.is(w1.payer.channel.pending, undefined);
  assert.is(w1.payee.channel.pending, undefined);
  // The hub, told the payer channel is closing, refuses the proposal (the payer's watcher lags).
  const w2 = await makeWorld();
  hubAS(w2).noteUpdateOnChain(w2.ctx.height);
  const offer2 = await startPayment(w2, 10_000);
  await run(w2);
  assert.is(w2.payer.payments.get(offer2)!.status, 'failed');
  assert.not.ok(w2.hub.payments.has(offer2));
  // The hub, told the payee channel is closing, refuses the invoice: no PTLC over it.
  const w3 = await makeWorld();
  hubSB(w3).noteUpdateOnChain(w3.ctx.height);
  const offer3 = await startPayment(w3, 10_000);
  await run(w3);
  assert.not.ok(sentPtlcAdd(w3));
  assert.is(w3.hub.payments.get(offer3)!.status, 'pending');
  assert.is(hubSB(w3).pending, undefined);
});

t('router: nothing new over a closing channel, upstream or downstream', async () => {
  const pay = async (w: Awaited<ReturnType<typeof hopWorld>>) => hopPay(w, 20_000);
  // P–B closing: P refuses B's invoice.  S–P closing at P: same.
  for (const side of ['down', 'up'] as const) {
    const w = await hopWorld();
    (side === 'down' ? w.engines.P.downstream.get(bytesToHex(w.pb.channelId))!.channel : w.engines.P.upstream.channel).noteUpdateOnChain(
      w.ctx.height,
    );
    const offerId = await pay(w);
    await w.run();
    assert.not.ok(
      w.seen.S.some((m) => m.type === PaymentType.INVOICE),
      `${side}: P forwarded no invoice`,
    );
    assert.not.ok(w.engines.P.payments.has(offerId), side);
  }
  // S–P closing once P forwarded the invoice: P answers S's PTLC_ADD with PTLC_FAIL.
  {
    const w = await hopWorld();
    const offerId = await pay(w);
    await w.run((q) => q.to === 'P' && q.message.type === PaymentType.PTLC_ADD);
    w.engines.P.upstream.channel.noteUpdateOnChain(w.ctx.height);
    await w.run();
    assert.ok(w.seen.S.some((m) => m.type === PaymentType.PTLC_FAIL));
    assert.is(w.engines.S.payments.get(offerId)!.status, 'pending');
  }
  // P–B closing once S's PTLC is committed: P extends nothing and gives it back.
  {
    const w = await hopWorld();
    const offerId = await pay(w);
    await w.run((q) => q.to === 'P' && q.message.type === PaymentType.PTLC_COMMIT);
    w.engines.P.downstream.get(bytesToHex(w.pb.channelId))!.channel.noteUpdateOnChain(w.ctx.height);
    await w.run();
    assert.not.ok(w.seen.B.some((m) => m.type === PaymentType.PTLC_ADD));
    assert.ok(w.seen.S.some((m) => m.type === PaymentType.PTLC_REMOVE));
    assert.is(w.engines.S.payments.get(offerId)!.status, 'pending');
  }
});

t("a refused proposal that carries the peer's valid settlement marks its number at the payee and at the router", async () => {
  // Payee: the offer is void, B refuses S's PTLC_ADD (S–B state 1, validly signed by S).
  const w = await makeWorld();
  const offerId = await startPayment(w, 10_000);
  await run(w, ['A', 'S']);
  await run(w, ['B']);
  w.payee.payments.get(offerId)!.status = 'void';
  await run(w, ['S', 'B']);
  assert.ok(w.log.some((l) => l.message.type === PaymentType.PTLC_FAIL));
  assert.is(w.payee.channel.seenN, 1, 'B will not propose S–B state 1: S released a settlement for it');
  // Router: the hub's PTLC_ADD times out too early for P, which refuses it.
  const h = await hopWorld();
  await hopPay(h, 20_000);
  await h.run((q) => q.to === 'P' && q.message.type === PaymentType.PTLC_ADD);
  h.ctx.height += 1_000; // P reads it much later: the timeout no longer leaves it time
  await h.run();
  assert.ok(h.seen.S.some((m) => m.type === PaymentType.PTLC_FAIL));
  assert.is(h.engines.P.upstream.channel.seenN, 1);
});

t("two channels with the same base keys and parameters do not accept each other's update and settlement", async () => {
  const relay = 'http://127.0.0.1:1';
  const A = party(relay),
    S = party(relay);
  // Same base keys, same CSV, fees and funding amount; only the channel id and funding txid differ.
  const p1 = channelParams(A.chPk, S.chPk, { csvDelay: 144 });
  const p2 = channelParams(A.chPk, S.chPk, { csvDelay: 144 });
  const [a1] = await openChannelPair(p1, [900_000, 99_000], A.chSk, S.chSk, A.nonces, S.nonces); // A owns 900,000 here
  const [a2] = await openChannelPair(p2, [99_000, 900_000], A.chSk, S.chSk, A.nonces, S.nonces); // and 99,000 here
  // Control: channel 1's state settles on channel 1's funding.
  assert.equal(settleOnChain(a1.params, a1.enforceable), [900_000, 99_000]);
  // A publishes channel 1's fully signed update and settlement on channel 2's funding output.
  const chain = new ChainModel();
  const f2 = fundingOutput(eltooTerms(a2.params));
  const funding2 = chain.fund({ amount: f2.amount, script: f2.scriptPubKey }, at(100));
  let taken: number | undefined;
  try {
    const u = publishUpdate(chain, a1.params, a1.enforceable, { kind: 'funding', outpoint: funding2 }, 101);
    const st = buildSettlementTx(
      eltooTerms(a1.params),
      settlementSpec(a1.params, a1.enforceable.state),
      out0(u),
      sigs(a1.enforceable, 'settleSigs'),
    );
    chain.submit(st.tx, at(101 + 144));
    taken = Number(st.tx.outputs[0]!.amount);
  } catch {
    // refused: the witness does not verify against channel 2's output
  }
  assert.is(taken, undefined, `A took ${taken} out of channel 2, where it owned 99,000`);
  assert.ok(chain.isUnspent(funding2), "channel 2's funding is untouched");
  assert.equal(a1.params.keys, a2.params.keys, 'the same channel keys');
  assert.is.not(bytesToHex(a1.stateKey(0)), bytesToHex(a2.stateKey(0)), 'but per-channel state keys differ');
  assert.is.not(bytesToHex(a1.stateKey(1)), bytesToHex(a2.stateKey(1)));
  // Channel 2's own state still settles right.
  assert.equal(settleOnChain(a2.params, a2.enforceable), [99_000, 900_000]);
});

t('the hub refuses two channels that share their state keys or funding, and a channel that is not its own', async () => {
  const w = await makeWorld();
  const j = hubAS(w).toJSON();
  const peers = (copy: Channel) => [
    { channel: hubAS(w), peerKey: w.A.idPk, peerAddress: w.A.address },
    { channel: copy, peerKey: w.B.idPk, peerAddress: w.B.address },
  ];
  // State keys are derived from the channel id: the only way to share them is to share the id.
  const sameId = Channel.fromJSON({ ...j, params: { ...j.params, funding: { ...j.params.funding, txid: bytesToHex(randomBytes(32)) } } });
  assert.equal(sameId.stateKey(0), hubAS(w).stateKey(0));
  assert.throws(() => new Hub(w.hub.config, peers(sameId), w.S.nonces), /channel id/);
  // Another id on the same funding outpoint.
  const sameFunding = Channel.fromJSON({ ...j, params: { ...j.params, channelId: bytesToHex(randomBytes(32)) } });
  assert.throws(() => new Hub(w.hub.config, peers(sameFunding), w.S.nonces), /funding/);
  // A channel in which the hub's key is not the hub's channel key.
  const notOurs = Channel.fromJSON({
    ...j,
    params: {
      ...j.params,
      channelId: bytesToHex(randomBytes(32)),
      funding: { ...j.params.funding, txid: bytesToHex(randomBytes(32)) },
      keys: [j.params.keys[0], j.params.keys[0]],
    },
  });
  assert.throws(() => new Hub(w.hub.config, peers(notOurs), w.S.nonces), /not the hub's channel key/);
  // A different channel (new id, new funding) with the same keys is fine: its state keys differ.
  const fine = Channel.fromJSON({
    ...j,
    params: { ...j.params, channelId: bytesToHex(randomBytes(32)), funding: { ...j.params.funding, txid: bytesToHex(randomBytes(32)) } },
  });
  assert.is.not(bytesToHex(fine.stateKey(0)), bytesToHex(hubAS(w).stateKey(0)));
  new Hub(w.hub.config, peers(fine), w.S.nonces);
});

t.run();
