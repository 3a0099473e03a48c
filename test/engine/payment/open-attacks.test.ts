/**
 * Attacks on a channel open (SPEC 6.17) the other open suites left
 * untested, each from the attacker's side and each found unexercised by a
 * guard mutation run: a hostile hub that answers an OPEN under a channel key
 * its signed terms do not name; a hub (or its driver) that funds an open the
 * wallet funds, funds before state 0 is signed, or funds the same open
 * twice; a wallet that gives up an open whose coins are already out, or
 * opens a second channel; a wallet state restored into the wrong role. Each
 * is refused with its code and changes nothing: no signature, no funding
 * order, no lost open record, no channel installed.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8 } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { getPublicKey } from '../../../crypto/bip340.js';
import { MemoryNonceStore } from '../../../crypto/nonce.js';
import { PaymentType, type PaymentMessage, type PaymentMessageOf } from '../../../protocol/payment.js';
import { fundedTx, fundingPsbt } from '../../../client/wallet/open-driver.js';
import type { BitcoinTx } from '../../../engine/bitcoin/transaction.js';
import { Channel } from '../../../engine/channel/channel.js';
import { deriveChannelId, fundingScript, openingChannel, openParams, parties } from '../../../engine/payment/open/common.js';
import { Payer, type PayerJson } from '../../../engine/payment/payer/payer.js';
import { rejectsCode } from '../../helpers.js';
import { openWorld, POLICY, type OpenWorld, type Role, payeeFunded } from './open-fixture.js';

const t = suite('engine/payment/open-attacks');
let w: OpenWorld;
t.after.each(async () => w?.close());

const rand = (n = 32) => new Uint8Array(randomBytes(n));
const json = (x: { toJSON(): unknown }) => JSON.stringify(x.toJSON());
const sentOf = (w: OpenWorld, from: Role, type: number) => w.sent.filter((m) => m.from === from && m.message.type === type);

/** A funding transaction built and signed by `role`'s wallet that pays the funding output of `params` (not broadcast). */
async function fundingTxFor(w: OpenWorld, role: Role, ch: Channel): Promise<{ tx: BitcoinTx; vout: number }> {
  const order = { amount: ch.params.funding.amount, script: fundingScript(ch.params) };
  const psbt = await w.wallets[role].fundPsbt(fundingPsbt(order), { feeRate: 1, change: true });
  return fundedTx(psbt, order);
}

/** The payer opens (it funds) up to state 0 signed on both sides; returns the channel id (hex). */
async function payerSigned(w: OpenWorld): Promise<string> {
  const r = await w.payer.openChannel(
    { amount: 1_000_000, csvDelay: 288, payout: await w.wallets.A.payoutScript(), replyTo: w.keys.A.address },
    w.ctx(),
  );
  w.commit('A', r.step);
  await w.deliverAll();
  assert.is(w.payer.slot.state.open!.status, 'signed');
  return w.payer.slot.state.open!.channel!.params.channelId as unknown as string;
}

/** The payee asks the hub to fund, delivered up to the hub's OPEN_ACCEPT (not yet delivered). */
async function payeeAccepted(w: OpenWorld): Promise<string> {
  const r = await w.payee.openChannel(
    { amount: 800_000, csvDelay: 24, payout: await w.wallets.B.payoutScript(), replyTo: w.keys.B.address },
    w.ctx(),
  );
  w.commit('B', r.step);
  while (w.queue[0]?.message.type !== PaymentType.OPEN_ACCEPT) await w.deliverOne();
  const o = [...w.hub.opens.values()].find((x) => x.peerKey === bytesToHex(w.keys.B.idPub));
  assert.is(o!.status, 'accepted');
  return o!.channelId;
}

t('a hostile hub answers the OPEN under a channel key its terms do not name: refused, the wallet signs nothing', async () => {
  w = await openWorld('attack-accept-key');
  const r = await w.payer.openChannel(
    { amount: 1_000_000, csvDelay: 288, payout: await w.wallets.A.payoutScript(), replyTo: w.keys.A.address },
    w.ctx(),
  );
  w.commit('A', r.step);
  await w.deliverOne(); // TERMS_REQUEST
  await w.deliverOne(); // TERMS → OPEN queued
  const open = w.queue[0]!.message as PaymentMessageOf<typeof PaymentType.OPEN>;
  await w.deliverOne(); // OPEN → OPEN_ACCEPT queued
  const genuine = w.queue.shift()!.message as PaymentMessageOf<typeof PaymentType.OPEN_ACCEPT>;

  // The hub swaps in a channel key of its own choosing (say, one whose secret it may lose, or one that
  // ties the channel to other terms), and makes everything else consistent with it: the channel id
  // derives from both contributions, its settlement signature and nonce are valid under that key.
  const rogue = sha256(utf8('ln-mailbox/test/open-attacks/rogue-channel-key'));
  const roguePub = getPublicKey(rogue);
  const hubNonce = rand();
  const channelId = deriveChannelId(open.channelKey, roguePub, open.openId, hubNonce);
  const ch = openingChannel(
    openParams({
      channelId,
      amount: open.amount,
      csvDelay: open.csvDelay,
      hubFunds: false,
      openerKey: open.channelKey,
      hubKey: roguePub,
      openerPayout: open.payout,
      hubPayout: genuine.payout,
      terms: w.terms,
    }),
    parties(false).hub,
  );
  const settleSig = ch.signSettlement(rogue);
  const updateNonce = await ch.commitUpdateNonce(new MemoryNonceStore(), rogue);
  const forged = { ...genuine, hubNonce, channelId, channelKey: roguePub, settleSig, updateNonce };

  const before = json(w.payer);
  await rejectsCode(w.payer.handle({ from: w.keys.S.idPub, message: forged }, w.ctx()), ErrorCode.OPEN_REFUSED);
  assert.is(json(w.payer), before, 'the open is untouched');
  assert.is(w.payer.slot.state.open!.status, 'requested');
  assert.is(w.payer.slot.state.open!.channel, undefined, 'no channel built on the rogue key');
  assert.is(sentOf(w, 'A', PaymentType.OPEN_SIGN).length, 0, 'no signature of ours under the rogue key');

  // The genuine acceptance still goes through.
  w.commit('A', await w.payer.handle({ from: w.keys.S.idPub, message: genuine }, w.ctx()));
  assert.is(w.payer.slot.state.open!.status, 'signing');
  assert.equal(w.payer.slot.state.open!.channel!.params.keys[1], bytesToHex(w.keys.S.chPub));
});

t('the hub refuses to fund an open its opener funds: no double funding, the payer’s own funding goes on', async () => {
  w = await openWorld('attack-hub-funds-payer');
  const channelId = await payerSigned(w);
  const hubOpen = JSON.stringify(w.hub.opens.get(channelId));
  // A driver bug (or a confused operator) hands the hub a transaction funding the payer's channel.
  const { tx, vout } = await fundingTxFor(w, 'S', Channel.fromJSON(w.hub.opens.get(channelId)!.channel));
  await rejectsCode(w.hub.noteFunded(channelId, tx, vout), ErrorCode.FUNDING_INVALID);
  assert.is(JSON.stringify(w.hub.opens.get(channelId)), hubOpen, 'the open is untouched');
  assert.equal(w.hub.fundingChecks(), [], 'no hub transaction to (re)broadcast');
  assert.equal(w.hub.fundingOrders(w.clock.now), []);
  assert.is(sentOf(w, 'S', PaymentType.FUNDING).length, 0, 'no FUNDING to the payer');

  // The payer funds its channel as agreed, and the hub takes that outpoint.
  await w.chainPass('A');
  await w.deliverAll();
  const o = w.hub.opens.get(channelId)!;
  assert.is(o.status, 'funded');
  assert.is(o.fundingTx, undefined);
  assert.equal(o.channel.params.funding, w.payer.slot.state.open!.channel!.params.funding);
});

t('the hub funds a payee’s channel neither before state 0 is signed nor twice', async () => {
  w = await openWorld('attack-hub-funds-twice');
  const channelId = await payeeAccepted(w);
  const early = await fundingTxFor(w, 'S', Channel.fromJSON(w.hub.opens.get(channelId)!.channel));
  const accepted = JSON.stringify(w.hub.opens.get(channelId));
  // Before state 0 is signed, a funding transaction would lock the hub's coins with no way back.
  await rejectsCode(w.hub.noteFunded(channelId, early.tx, early.vout), ErrorCode.FUNDING_INVALID);
  assert.is(JSON.stringify(w.hub.opens.get(channelId)), accepted, 'the open is untouched');
  assert.is(sentOf(w, 'S', PaymentType.FUNDING).length, 0);

  await w.deliverAll();
  await w.chainPass('S'); // the hub funds, once
  await w.deliverAll();
  const funded = JSON.stringify(w.hub.opens.get(channelId));
  assert.is(w.hub.opens.get(channelId)!.status, 'funded');
  assert.is(sentOf(w, 'S', PaymentType.FUNDING).length, 1);
  // A second transaction (a driver that restarted and built another one) is refused: one channel, one funding.
  w.model.fundScript(w.wallets.S.scriptPubKey, 5_000_000); // coins for another transaction
  w.model.mine(1);
  const again = await fundingTxFor(w, 'S', Channel.fromJSON(w.hub.opens.get(channelId)!.channel));
  await rejectsCode(w.hub.noteFunded(channelId, again.tx, again.vout), ErrorCode.FUNDING_INVALID);
  assert.is(JSON.stringify(w.hub.opens.get(channelId)), funded, 'the first funding stands');
  assert.is(sentOf(w, 'S', PaymentType.FUNDING).length, 1, 'no second FUNDING');
  // And a channel id the hub has no open for is refused too.
  await rejectsCode(w.hub.noteFunded('00'.repeat(32), again.tx, again.vout), ErrorCode.FUNDING_INVALID);
});

t('the hub records a funding transaction of its own only at the output that pays the channel', async () => {
  w = await openWorld('attack-hub-note-funded-output');
  const channelId = await payeeAccepted(w);
  await w.deliverAll(); // state 0 signed on both sides
  const { tx, vout } = await fundingTxFor(w, 'S', Channel.fromJSON(w.hub.opens.get(channelId)!.channel));
  assert.ok(tx.outputs.length > 1, 'the transaction has a change output');
  const before = JSON.stringify(w.hub.opens.get(channelId));
  // A driver or wallet bug naming the change output: the channel would watch an output that is not its own.
  await rejectsCode(w.hub.noteFunded(channelId, tx, vout === 0 ? 1 : 0), ErrorCode.FUNDING_INVALID);
  assert.is(JSON.stringify(w.hub.opens.get(channelId)), before, 'nothing recorded');
  assert.is(sentOf(w, 'S', PaymentType.FUNDING).length, 0, 'the payee is told of nothing');
  w.commit('S', await w.hub.noteFunded(channelId, tx, vout));
  assert.is(w.hub.opens.get(channelId)!.status, 'funded', 'the channel’s own output is recorded');
});

t('a funded open cannot be cancelled (its coins are out), and a wallet with a channel cannot open another', async () => {
  w = await openWorld('attack-cancel-funded');
  const channelId = await payerSigned(w);
  await w.chainPass('A'); // the payer funds and publishes
  await w.deliverAll();
  const open = w.payer.slot.state.open!;
  assert.is(open.status, 'funded');
  const before = json(w.payer);
  const checks = w.payer.fundingChecks();
  assert.is(checks.length, 1);
  // Forgetting the open would drop the only copy of the signed state 0 that spends the funding output.
  await rejectsCode(w.payer.cancelOpen('changed my mind'), ErrorCode.OPEN_REFUSED);
  assert.is(json(w.payer), before, 'the open record, with its signed state 0, is kept');
  assert.equal(w.payer.fundingChecks(), checks, 'the funding is still watched');
  assert.is(sentOf(w, 'A', PaymentType.OPEN_CANCEL).length, 0, 'the hub is not told to forget it');
  assert.is(w.hub.opens.get(channelId)!.status, 'funded');

  // The same for the payee, whose hub funded.
  await payeeFunded(w);
  assert.is(w.payee.slot.state.open!.status, 'funded');
  const payee = json(w.payee);
  await rejectsCode(w.payee.cancelOpen('changed my mind'), ErrorCode.OPEN_REFUSED);
  assert.is(json(w.payee), payee);
  assert.is(sentOf(w, 'B', PaymentType.OPEN_CANCEL).length, 0);

  // Both channels become ready.
  w.model.mine(POLICY.minConf);
  await w.chainPass('A', 'S', 'B');
  assert.ok(w.payer.slot.current);
  assert.ok(w.payee.slot.current);

  // With its channel, the payer cannot start a second open (one channel per role).
  const payer = json(w.payer);
  const sent = w.sent.length;
  await rejectsCode(
    w.payer.openChannel({ amount: 500_000, payout: await w.wallets.A.payoutScript(), replyTo: w.keys.A.address }, w.ctx()),
    ErrorCode.OPEN_REFUSED,
  );
  assert.is(json(w.payer), payer, 'no open recorded');
  assert.is(w.payer.slot.state.open, undefined);
  assert.is(w.sent.length, sent, 'nothing sent to the hub');
  assert.equal(w.payer.fundingOrders(w.clock.now), []);
});

t('a wallet state restored into the wrong role: the payer takes no party-1 channel, neither from an open nor as its channel', async () => {
  w = await openWorld('attack-wrong-party');
  await payeeFunded(w);
  const payeeOpen = w.payee.toJSON();
  assert.is(payeeOpen.open!.status, 'funded');
  const channelId = payeeOpen.open!.channel!.params.channelId as unknown as string;
  w.model.mine(POLICY.minConf);

  // A payer restored from the payee's saved open (a store mix-up, or a crafted backup): the hub funded
  // that channel and the payee is its party 1. Installing it would make the payer sign as the wrong party.
  const config = { identityKey: w.keys.A.id, hubKey: w.keys.S.idPub, hubAddress: w.keys.S.address, channelKey: w.keys.A.ch };
  const saved: PayerJson = { open: payeeOpen.open!, ...(payeeOpen.terms ? { terms: payeeOpen.terms } : {}), payments: {} };
  const payer = Payer.fromJSON(config, saved, new MemoryNonceStore());
  const before = json(payer);
  const found = await w.chain.getTx(payer.fundingChecks()[0]!.txid);
  assert.ok(found?.height, 'the funding transaction is confirmed');
  await rejectsCode(payer.noteFundingTx(channelId, { tx: found!.tx, height: found!.height }, w.ctx()), ErrorCode.OPEN_REFUSED);
  assert.is(payer.slot.current, undefined, 'no channel installed');
  assert.is(json(payer), before, 'the open is untouched');

  // The payee itself takes its channel; that channel restored as a payer's is refused outright.
  await w.chainPass('S', 'B');
  const channel = w.payee.slot.current!;
  assert.is(channel.me, 1);
  assert.throws(
    () => Payer.fromJSON(config, { channel: channel.toJSON(), payments: {} }, new MemoryNonceStore()),
    (e: unknown) => (e as { code?: string }).code === ErrorCode.INVALID_RANGE,
  );
});

const ignoredIn = (s: { events: { kind: string }[] }) => s.events.filter((e) => e.kind === 'ignored').length;

/** The payee asks the hub to fund; the hub funds; its FUNDING stays queued for the payee. Returns it. */
async function payeeFundingQueued(w: OpenWorld): Promise<PaymentMessageOf<typeof PaymentType.FUNDING>> {
  await payeeAccepted(w);
  await w.deliverAll();
  await w.chainPass('S');
  const i = w.queue.findIndex((m) => m.message.type === PaymentType.FUNDING);
  assert.ok(i >= 0, 'the hub funded');
  return w.queue.splice(i, 1)[0]!.message as PaymentMessageOf<typeof PaymentType.FUNDING>;
}

t('a hostile hub’s REJECT once the payer funded does not make the payer forget its funded open', async () => {
  w = await openWorld('attack-reject-funded');
  const channelId = await payerSigned(w);
  await w.chainPass('A');
  await w.deliverAll();
  assert.is(w.payer.slot.state.open!.status, 'funded');
  const before = json(w.payer);
  const reject: PaymentMessageOf<typeof PaymentType.REJECT> = {
    type: PaymentType.REJECT,
    refType: PaymentType.FUNDING,
    ref: Uint8Array.from(Buffer.from(channelId, 'hex')),
    code: ErrorCode.FUNDING_INVALID,
    message: 'go away',
  };
  // The payer's coins are in the funding output: only the signed state 0 it holds gets them back.
  const s = await w.payer.handle({ from: w.keys.S.idPub, message: reject }, w.ctx());
  assert.is(ignoredIn(s), 1);
  assert.not.ok(s.events.some((e) => e.kind === 'open_aborted'));
  assert.is(json(w.payer), before, 'the funded open is kept');
  w.model.mine(POLICY.minConf);
  await w.chainPass('A');
  assert.ok(w.payer.slot.current, 'the channel becomes the payer’s once confirmed');
});

t('the wallet records only its own funding, once, for the output it names', async () => {
  w = await openWorld('attack-wallet-note-funded');
  const channelId = await payerSigned(w);
  const ch = Channel.fromJSON(w.payer.slot.state.open!.channel!);
  const { tx, vout } = await fundingTxFor(w, 'A', ch);
  const before = json(w.payer);
  // A driver bug naming another output of the transaction (its change): the channel would watch an output it does not own.
  await rejectsCode(w.payer.noteFunded(channelId, tx, vout === 0 ? 1 : 0), ErrorCode.FUNDING_INVALID);
  // A transaction for another channel id.
  await rejectsCode(w.payer.noteFunded('00'.repeat(32), tx, vout), ErrorCode.FUNDING_INVALID);
  assert.is(json(w.payer), before, 'nothing recorded');
  assert.is(sentOf(w, 'A', PaymentType.FUNDING).length, 0, 'the hub is told of nothing');

  // The payee never funds: the hub does. A wallet that did would lock its coins in the hub's channel.
  const payeeId = await payeeAccepted(w);
  await w.deliverAll();
  assert.is(w.payee.slot.state.open!.status, 'signed');
  const forPayee = await fundingTxFor(w, 'A', Channel.fromJSON(w.payee.slot.state.open!.channel!));
  const payee = json(w.payee);
  await rejectsCode(w.payee.noteFunded(payeeId, forPayee.tx, forPayee.vout), ErrorCode.FUNDING_INVALID);
  assert.is(json(w.payee), payee);
  assert.is(sentOf(w, 'B', PaymentType.FUNDING).length, 0);

  // The payer funds once; a second transaction for the same open is refused.
  await w.chainPass('A');
  const funded = json(w.payer);
  assert.is(w.payer.slot.state.open!.status, 'funded');
  w.model.fundScript(w.wallets.A.scriptPubKey, 2_000_000);
  w.model.mine(1);
  const again = await fundingTxFor(w, 'A', ch);
  await rejectsCode(w.payer.noteFunded(channelId, again.tx, again.vout), ErrorCode.FUNDING_INVALID);
  assert.is(json(w.payer), funded, 'the first funding stands');
  assert.is(sentOf(w, 'A', PaymentType.FUNDING).length, 1);
});

t('a hostile hub names an output of its funding transaction that is not the channel’s: the payee takes no channel', async () => {
  w = await openWorld('attack-hub-wrong-vout');
  const genuine = await payeeFundingQueued(w);
  // The hub's change output: the payee's state 0 would spend an output the hub can spend alone.
  const forged = { ...genuine, vout: genuine.vout === 0 ? 1 : 0 };
  w.commit('S', { send: [{ to: w.keys.B.address, message: forged }], retract: [], events: [] });
  await w.deliverAll();
  assert.is(w.payee.slot.state.open!.status, 'funded');
  w.model.mine(POLICY.minConf);
  await w.chainPass('B');
  assert.is(w.payee.slot.current, undefined, 'no channel on an output that does not fund it');
  assert.is(w.payee.slot.state.open, undefined, 'the open ends');
  const reject = w.sent.find((m) => m.from === 'B' && m.message.type === PaymentType.REJECT)!.message as PaymentMessageOf<
    typeof PaymentType.REJECT
  >;
  assert.is(reject.code, ErrorCode.FUNDING_INVALID, 'the hub is told');
});

t('a hub cannot move a funded open to another outpoint with a second FUNDING', async () => {
  w = await openWorld('attack-hub-refund');
  const genuine = await payeeFundingQueued(w);
  w.commit('S', { send: [{ to: w.keys.B.address, message: genuine }], retract: [], events: [] });
  await w.deliverAll();
  assert.is(w.payee.slot.state.open!.status, 'funded');
  const before = json(w.payee);
  const other = { ...genuine, txid: rand() };
  const s = await w.payee.handle({ from: w.keys.S.idPub, message: other }, w.ctx());
  assert.is(ignoredIn(s), 1);
  assert.is(s.send.length, 0);
  assert.is(json(w.payee), before, 'the first outpoint stands');
  // The same FUNDING again (a redelivery) changes nothing either.
  assert.is(ignoredIn(await w.payee.handle({ from: w.keys.S.idPub, message: genuine }, w.ctx())), 1);
  assert.is(json(w.payee), before);
  w.model.mine(POLICY.minConf);
  await w.chainPass('S', 'B');
  assert.ok(w.payee.slot.current, 'the channel on the genuine outpoint becomes ready');
});

t('replayed and stray open messages are ignored on both sides and change nothing', async () => {
  w = await openWorld('attack-replays');
  const channelId = await payerSigned(w);
  const last = (type: number) => w.sent.filter((m) => m.message.type === type).at(-1)!.message;
  const toHub = (message: PaymentMessage) => w.hub.handle({ from: w.keys.A.idPub, message }, w.ctx());
  const toPayer = (message: PaymentMessage) => w.payer.handle({ from: w.keys.S.idPub, message }, w.ctx());
  const hub = json(w.hub);
  const payer = json(w.payer);

  // The hub: the OPEN again once state 0 is signed; an OPEN_SIGN with another signature.
  let s = await toHub(last(PaymentType.OPEN));
  assert.equal([ignoredIn(s), s.send.length], [1, 0], 'no second acceptance once signed');
  const sign = last(PaymentType.OPEN_SIGN) as PaymentMessageOf<typeof PaymentType.OPEN_SIGN>;
  s = await toHub({ ...sign, updateSig: rand(64) });
  assert.equal([ignoredIn(s), s.send.length], [1, 0], 'a forged OPEN_SIGN is not answered');
  s = await toHub(sign);
  assert.equal(
    s.send.map((m) => m.message),
    [last(PaymentType.OPEN_SIGNED)],
    'the same OPEN_SIGN again gets the same OPEN_SIGNED',
  );
  assert.is(json(w.hub), hub);

  // The payer: the OPEN_ACCEPT and OPEN_SIGNED again, a FUNDING for a channel it has no open for.
  for (const m of [
    last(PaymentType.OPEN_ACCEPT),
    last(PaymentType.OPEN_SIGNED),
    { type: PaymentType.FUNDING, channelId: rand(), txid: rand(), vout: 0 } as PaymentMessage,
  ]) {
    s = await toPayer(m);
    assert.equal([ignoredIn(s), s.send.length], [1, 0], `type ${m.type}`);
  }
  assert.is(json(w.payer), payer);
  assert.is(w.payer.slot.state.open!.status, 'signed');

  // The payer's FUNDING again once the hub has it: no refusal, nothing changed.
  await w.chainPass('A');
  await w.deliverAll();
  assert.is(w.hub.opens.get(channelId)!.status, 'funded');
  const funded = json(w.hub);
  s = await toHub(last(PaymentType.FUNDING));
  assert.equal([ignoredIn(s), s.send.length], [1, 0], 'a redelivered FUNDING is not refused');
  assert.is(json(w.hub), funded);
});

t.run();
