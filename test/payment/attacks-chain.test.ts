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
import { bytesToHex } from '../../protocol/bytes.js';
import { PaymentType } from '../../protocol/payment.js';
import { buildSettlementTx, fundingOutput } from '../../src/bitcoin/eltoo.js';
import { Channel } from '../../src/channel/channel.js';
import { openChannelPair } from '../../src/channel/open.js';
import { eltooParams, settlementSpec } from '../../src/channel/txs.js';
import { Hub } from '../../src/payment/hub.js';
import { ChainModel } from '../bitcoin/chain-model.js';
import { at, out0, publishUpdate, settleOnChain, sigs } from './chain.js';
import { channelParams, hubAS, hubSB, makeWorld, party, post, run, startPayment, type World, stateOf } from './fixture.js';

const t = suite('payment/attacks-chain');

const sentPtlcAdd = (w: World) => w.log.some((l) => l.message.type === PaymentType.PTLC_ADD) || w.queue.some((q) => q.out.message.type === PaymentType.PTLC_ADD);

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
  // Today: S extends a PTLC timing out at h0 + 154; B withholds its fulfil and claims on chain at
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

t('the payee answers PTLC_FAIL to a PTLC_ADD on a closing channel; the hub frees S–B', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, 50_000);
  await run(w, ['A', 'S']);
  await run(w, ['B']); // invoice
  w.payee.channel.noteUpdateOnChain(w.ctx.height);
  await run(w, ['S']); // PTLC_ADD
  await run(w, ['B']);
  assert.ok(w.queue.some((q) => q.out.message.type === PaymentType.PTLC_FAIL), 'B answers PTLC_FAIL');
  assert.is(w.payee.channel.pending, undefined);
  await run(w, ['S']);
  assert.is(hubSB(w).pending, undefined);
  assert.is(w.hub.payments.get(offerId)!.status, 'pending');
});

t('mode 2: the hub refuses M2_PREPARE on a closing payee channel and a PTLC_ADD on a closing payer channel', async () => {
  const amount = 30_000;
  const request = async (w: World) => {
    const { requestId, step } = await w.payee.request({ payer: { publicKey: w.A.idPk, address: w.A.address }, amount, expiry: w.ctx.now + 3_600_000 }, w.ctx);
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
    post(w, 'A', await w.payer.payRequest(requestId, w.hub.feeFor(amount), w.ctx));
    await run(w, ['A', 'S']);
    assert.ok(w.log.some((l) => l.message.type === PaymentType.PTLC_FAIL), 'S answers PTLC_FAIL');
    assert.not.ok(w.log.some((l) => l.message.type === PaymentType.PTLC_FULFILL), 'S never sells s_S');
    assert.is(w.hub.requests.get(requestId)!.status, 'prepared');
    assert.is(hubAS(w).pending, undefined);
    assert.is(w.payer.channel.pending, undefined);
  }
});

t('two channels with the same base keys and parameters do not accept each other\'s update and settlement', async () => {
  const relay = 'http://127.0.0.1:1';
  const A = party(relay), S = party(relay);
  // Same base keys, same CSV, fees and funding amount; only the channel id and funding txid differ.
  const p1 = channelParams(A.chPk, S.chPk, { csvDelay: 144 });
  const p2 = channelParams(A.chPk, S.chPk, { csvDelay: 144 });
  const [a1] = await openChannelPair(p1, [900_000, 99_000], A.chSk, S.chSk, A.nonces, S.nonces); // A owns 900,000 here
  const [a2] = await openChannelPair(p2, [99_000, 900_000], A.chSk, S.chSk, A.nonces, S.nonces); // and 99,000 here
  // Control: channel 1's state settles on channel 1's funding.
  assert.equal(settleOnChain(a1.params, a1.enforceable), [900_000, 99_000]);
  // A publishes channel 1's fully signed update and settlement on channel 2's funding output.
  const chain = new ChainModel();
  const f2 = fundingOutput(eltooParams(a2.params));
  const funding2 = chain.fund({ amount: f2.amount, script: f2.scriptPubKey }, at(100));
  let taken: number | undefined;
  try {
    const u = publishUpdate(chain, a1.params, a1.enforceable, { kind: 'funding', outpoint: funding2 }, 101);
    const st = buildSettlementTx(eltooParams(a1.params), settlementSpec(a1.params, a1.enforceable.state), out0(u), sigs(a1.enforceable, 'settleSigs'));
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
  const notOurs = Channel.fromJSON({ ...j, params: { ...j.params, channelId: bytesToHex(randomBytes(32)), funding: { ...j.params.funding, txid: bytesToHex(randomBytes(32)) }, keys: [j.params.keys[0], j.params.keys[0]] } });
  assert.throws(() => new Hub(w.hub.config, peers(notOurs), w.S.nonces), /not the hub's channel key/);
  // A different channel (new id, new funding) with the same keys is fine: its state keys differ.
  const fine = Channel.fromJSON({ ...j, params: { ...j.params, channelId: bytesToHex(randomBytes(32)), funding: { ...j.params.funding, txid: bytesToHex(randomBytes(32)) } } });
  assert.is.not(bytesToHex(fine.stateKey(0)), bytesToHex(hubAS(w).stateKey(0)));
  new Hub(w.hub.config, peers(fine), w.S.nonces);
});

t.run();
