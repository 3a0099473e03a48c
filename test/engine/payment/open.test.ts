/**
 * Channel opens between the pure engines (SPEC 6.17): the payer funds its
 * channel, the hub funds the payee's; state 0 is co-signed before any
 * funding transaction exists; the channels become usable after the terms'
 * confirmations, checked through each side's own chain source; a payment
 * runs over them. Each refusal of the open protocol is tested from the
 * attacker's side: a coded refusal, nothing changed, no coins at risk.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { PaymentType, type PaymentMessageOf } from '../../../protocol/payment.js';
import { verifyTerms } from '../../../protocol/terms.js';
import { capacity } from '../../../engine/channel/state.js';
import { defaultCsvDelay } from '../../../engine/payment/open/wallet-open.js';
import { rejectsCode } from '../../helpers.js';
import { ticketFor } from './fixture.js';
import { openWorld, POLICY, type OpenWorld, payeeFunded } from './open-fixture.js';

const t = suite('engine/payment/open');
let w: OpenWorld;
t.after.each(async () => w?.close());

const refusals = (w: OpenWorld, role: 'A' | 'S' | 'B') => w.events[role].filter((e) => e.kind === 'rejected');

/** Runs a payer open (it funds `amount`) up to the point where state 0 is signed on both sides. */
async function payerSigned(w: OpenWorld, amount = 1_000_000, csvDelay = 288): Promise<void> {
  const r = await w.payer.openChannel({ amount, csvDelay, payout: await w.wallets.A.payoutScript(), replyTo: w.keys.A.address }, w.ctx());
  w.commit('A', r.step);
  await w.deliverAll();
}

t('without a csvDelay, a payer’s channel outlasts the PTLC timeouts the hub grants; a payee’s takes the smallest delay', async () => {
  assert.is(defaultCsvDelay(POLICY, false), 2 * POLICY.maxTimeoutDelta);
  assert.is(defaultCsvDelay(POLICY, true), POLICY.csvMin);
  assert.is(defaultCsvDelay({ ...POLICY, csvMax: 150 }, false), 150, 'within the terms’ bounds');
  assert.is(defaultCsvDelay({ ...POLICY, maxTimeoutDelta: 3 }, false), POLICY.csvMin);
  w = await openWorld('default-csv');
  const r = await w.payer.openChannel({ amount: 1_000_000, payout: await w.wallets.A.payoutScript(), replyTo: w.keys.A.address }, w.ctx());
  w.commit('A', r.step);
  await w.deliverAll();
  const open = w.sent.find((m) => m.message.type === PaymentType.OPEN)!.message as { csvDelay: number };
  assert.is(open.csvDelay, 2 * POLICY.maxTimeoutDelta, 'the OPEN names the default');
  assert.is(w.payer.slot.state.open!.order.csvDelay, 2 * POLICY.maxTimeoutDelta, 'fixed in the stored order');
  assert.is(w.payer.slot.state.open!.status, 'signed', 'the open goes on under it');
  const rb = await w.payee.openChannel({ amount: 800_000, payout: await w.wallets.B.payoutScript(), replyTo: w.keys.B.address }, w.ctx());
  w.commit('B', rb.step);
  await w.deliverAll();
  const opens = w.sent.filter((m) => m.message.type === PaymentType.OPEN).map((m) => (m.message as { csvDelay: number }).csvDelay);
  assert.equal(opens, [2 * POLICY.maxTimeoutDelta, POLICY.csvMin]);
});

t('the payer opens and funds, the hub funds the payee: both channels usable after the terms’ confirmations', async () => {
  w = await openWorld('happy');
  await payerSigned(w);
  // TERMS_REQUEST → TERMS → OPEN → OPEN_ACCEPT → OPEN_SIGN → OPEN_SIGNED: nothing funded yet, state 0 complete on both sides.
  assert.equal(
    w.sent.map((m) => m.message.type),
    [
      PaymentType.TERMS_REQUEST,
      PaymentType.TERMS,
      PaymentType.OPEN,
      PaymentType.OPEN_ACCEPT,
      PaymentType.OPEN_SIGN,
      PaymentType.OPEN_SIGNED,
    ],
  );
  const open = w.payer.slot.state.open!;
  assert.is(open.status, 'signed');
  assert.is(w.model.mempool().length, 0, 'no funding transaction before state 0 is signed');
  const [hubOpen] = [...w.hub.opens.values()];
  assert.is(hubOpen!.status, 'signed');
  assert.equal(hubOpen!.channel.enforceable.updateSigs, open.channel!.enforceable.updateSigs, 'the same state 0, fully signed');

  // Funding: the payer's wallet funds the PSBT; the hub learns the outpoint and checks it on chain.
  await w.chainPass('A');
  await w.deliverAll();
  assert.is(w.model.mempool().length, 1, 'the funding transaction is published');
  assert.is(w.hub.opens.get(hubOpen!.channelId)!.status, 'funded');
  await w.chainPass('A', 'S');
  assert.is(w.payer.slot.current, undefined, 'not usable unconfirmed');
  w.model.mine(POLICY.minConf - 1);
  await w.chainPass('A', 'S');
  assert.is(w.payer.slot.current, undefined, `not usable below ${POLICY.minConf} confirmations`);
  w.model.mine(1);
  await w.chainPass('A', 'S');
  const a = w.payer.channel;
  assert.is(a.me, 0);
  assert.is(w.hub.peers.get(bytesToHex(a.params.channelId))!.channel.me, 1);
  assert.equal(a.enforceable.state.balances, [capacity(a.params), 0], 'everything to the funder');
  assert.equal(a.params.payout![0], await w.wallets.A.payoutScript(), 'the payer’s coins go where its wallet chose');
  assert.ok(w.model.isUnspent({ txid: a.params.funding.txid!, vout: a.params.funding.vout! }), 'the funding output is on chain');

  // The payee asks the hub to fund.
  await payeeFunded(w);
  w.model.mine(POLICY.minConf);
  await w.chainPass('S', 'B');
  const b = w.payee.channel;
  assert.is(b.me, 1);
  assert.equal(b.enforceable.state.balances, [capacity(b.params), 0], 'the hub’s balance: what it can pay in');
  assert.is(w.hub.peers.size, 2);
  assert.equal(w.events.S.filter((e) => e.kind === 'channel_ready').length, 2);
  assert.is(refusals(w, 'S').length + refusals(w, 'A').length + refusals(w, 'B').length, 0);

  // The payer reads the hub's fee from the terms it fetched.
  const terms = w.payer.slot.terms(w.clock.now)!;
  assert.equal([terms.feeBase, terms.feePpm], [POLICY.feeBase, POLICY.feePpm]);

  // A payment over the new channels: A proposes, the hub accepts.
  const ticket = await ticketFor(w.payee);
  const pay = await w.payer.pay(
    { payee: { publicKey: w.keys.B.idPub, address: w.keys.B.address }, amount: 10_000, fee: 20, expiry: w.clock.now + 3_600_000, ticket },
    w.ctx(),
  );
  w.commit('A', pay.step);
  await w.deliverAll();
  assert.ok(
    w.events.A.some((e) => e.kind === 'offered'),
    'the payer’s offer is out over the opened channel',
  );
});

t('a replayed OPEN is answered again with the same acceptance; the same open id with other contents is refused', async () => {
  w = await openWorld('replay');
  const r = await w.payer.openChannel({ amount: 1_000_000, payout: await w.wallets.A.payoutScript(), replyTo: w.keys.A.address }, w.ctx());
  w.commit('A', r.step);
  await w.deliverOne(); // TERMS_REQUEST
  await w.deliverOne(); // TERMS → OPEN queued
  const open = w.queue[0]!.message as PaymentMessageOf<typeof PaymentType.OPEN>;
  await w.deliverOne(); // OPEN → OPEN_ACCEPT
  const accept1 = w.queue[0]!.message;
  w.commit('A', { send: [{ to: w.keys.S.address, message: open }], retract: [], events: [] });
  await w.deliverOne((m) => m.to === 'S');
  const accept2 = w.queue.filter((m) => m.message.type === PaymentType.OPEN_ACCEPT)[1]!.message;
  assert.equal(accept2, accept1, 'the same answer');
  assert.is(w.hub.opens.size, 1);
  const forged = { ...open, amount: open.amount + 1 };
  w.commit('A', { send: [{ to: w.keys.S.address, message: forged }], retract: [], events: [] });
  const s = await w.deliverOne((m) => m.to === 'S');
  assert.is((s.send[0]!.message as PaymentMessageOf<typeof PaymentType.REJECT>).code, ErrorCode.OPEN_REFUSED);
  assert.is([...w.hub.opens.values()][0]!.channel.params.funding.amount, open.amount, 'the first open stands');
});

async function refusedOpen(
  w: OpenWorld,
  change: Partial<PaymentMessageOf<typeof PaymentType.OPEN>>,
  code: string = ErrorCode.OPEN_REFUSED,
) {
  const r = await w.payer.openChannel({ amount: 1_000_000, payout: await w.wallets.A.payoutScript(), replyTo: w.keys.A.address }, w.ctx());
  w.commit('A', r.step);
  await w.deliverOne();
  await w.deliverOne();
  const open = w.queue.shift()!.message as PaymentMessageOf<typeof PaymentType.OPEN>;
  w.commit('A', { send: [{ to: w.keys.S.address, message: { ...open, ...change } }], retract: [], events: [] });
  const s = await w.deliverOne((m) => m.to === 'S');
  assert.is(w.hub.opens.size, 0, 'the hub keeps nothing');
  return { s, code };
}

t(
  'OPEN outside the terms is refused with OPEN_REFUSED: CSV delay, capacity, amounts that do not cover the fees, hub funding, stale terms, a bad key',
  async () => {
    const cases: [string, Partial<PaymentMessageOf<typeof PaymentType.OPEN>>][] = [
      ['CSV below the terms', { csvDelay: POLICY.csvMin - 1 }],
      ['CSV above the terms', { csvDelay: POLICY.csvMax + 1 }],
      ['capacity above the maximum', { amount: POLICY.maxCapacity + 1 }],
      ['capacity below the minimum', { amount: POLICY.minCapacity - 1 }],
      ['the hub asked to fund more than it funds', { hubFunds: 1, amount: POLICY.maxHubFunded + 1 }],
      ['other terms', { termsId: new Uint8Array(32).fill(7) }],
      ['a channel key that is not a point', { channelKey: new Uint8Array(32).fill(0xff) }],
      ['the hub’s own channel key', {}],
      ['an empty payout script', { payout: new Uint8Array(0) }],
    ];
    for (const [name, change] of cases) {
      w = await openWorld(`bad-open-${name}`);
      const ch = name === 'the hub’s own channel key' ? { channelKey: w.keys.S.chPub } : change;
      const { s } = await refusedOpen(w, ch);
      const rej = s.send[0]?.message as PaymentMessageOf<typeof PaymentType.REJECT> | undefined;
      assert.is(rej?.type, PaymentType.REJECT, name);
      assert.is(rej?.code, ErrorCode.OPEN_REFUSED, name);
      await w.close();
    }
  },
);

t('amounts that do not add up: fees above the amount refused by the hub; the wallet refuses to open outside the terms', async () => {
  w = await openWorld('fees', { minCapacity: 500 });
  const { s } = await refusedOpen(w, { amount: 900 });
  assert.is((s.send[0]!.message as PaymentMessageOf<typeof PaymentType.REJECT>).code, ErrorCode.OPEN_REFUSED);
  // A wallet holding the terms checks its own order first.
  w.payer.slot.state.open = undefined;
  await rejectsCode(
    w.payer.openChannel({ amount: POLICY.maxCapacity + 1, payout: await w.wallets.A.payoutScript(), replyTo: w.keys.A.address }, w.ctx()),
    ErrorCode.OPEN_REFUSED,
  );
  assert.is(w.payer.slot.state.open, undefined);
});

t('OPEN naming another mailbox for the answer is refused without an answer (the hub mails nobody else)', async () => {
  w = await openWorld('replyto');
  const { s } = await refusedOpen(w, { replyTo: w.keys.B.address });
  assert.equal(s.send, [], 'no answer');
});

t(
  'policy: a second open while one is pending, and an open from a peer that has a channel, are refused; an unfunded open expires and frees the slot',
  async () => {
    w = await openWorld('policy');
    await payerSigned(w);
    const other = { ...(w.sent.find((m) => m.message.type === PaymentType.OPEN)!.message as PaymentMessageOf<typeof PaymentType.OPEN>) };
    other.openId = new Uint8Array(32).fill(9);
    w.commit('A', { send: [{ to: w.keys.S.address, message: other }], retract: [], events: [] });
    let s = await w.deliverOne();
    assert.is((s.send[0]!.message as PaymentMessageOf<typeof PaymentType.REJECT>).code, ErrorCode.OPEN_REFUSED, 'max pending opens');
    // The open is never funded: the hub forgets it after its timeout.
    w.clock.now += POLICY.openTimeout * 1000;
    w.commit('S', await w.hub.expireOpens(w.ctx()));
    assert.is(w.hub.opens.size, 0, 'forgotten');
    assert.ok(w.events.S.some((e) => e.kind === 'open_aborted'));
    // The payer gave it up too (too late to fund): it tells the hub.
    w.commit('A', await w.payer.expireOpens(w.ctx()));
    assert.is(w.payer.slot.state.open, undefined);
    assert.equal(await w.payer.fundingOrders(w.clock.now), [], 'nothing to fund');
    await w.deliverAll();
    // The slot is free: a new open goes through, and once ready a third is refused (the peer has a channel).
    await payerSigned(w);
    await w.chainPass('A');
    await w.deliverAll();
    w.model.mine(POLICY.minConf);
    await w.chainPass('A', 'S');
    assert.ok(w.payer.slot.current, 'the new open completed');
    w.commit('A', {
      send: [{ to: w.keys.S.address, message: { ...other, openId: new Uint8Array(32).fill(10) } }],
      retract: [],
      events: [],
    });
    s = await w.deliverOne();
    assert.is((s.send[0]!.message as PaymentMessageOf<typeof PaymentType.REJECT>).code, ErrorCode.OPEN_REFUSED, 'one channel per key');
  },
);

t(
  'forged acceptance: a channel key other than the terms’, a channel id not derived from both contributions, a bad settlement signature',
  async () => {
    for (const bad of ['key', 'id', 'sig'] as const) {
      w = await openWorld(`accept-${bad}`);
      const r = await w.payer.openChannel(
        { amount: 1_000_000, payout: await w.wallets.A.payoutScript(), replyTo: w.keys.A.address },
        w.ctx(),
      );
      w.commit('A', r.step);
      await w.deliverOne();
      await w.deliverOne();
      await w.deliverOne(); // OPEN → OPEN_ACCEPT
      const acc = w.queue.shift()!.message as PaymentMessageOf<typeof PaymentType.OPEN_ACCEPT>;
      const forged = { ...acc };
      if (bad === 'key') forged.channelKey = w.keys.B.chPub;
      if (bad === 'id') forged.channelId = new Uint8Array(32).fill(1);
      if (bad === 'sig') forged.settleSig = Uint8Array.from(acc.settleSig, (x, i) => (i === 10 ? x ^ 1 : x));
      await rejectsCode(
        w.payer.handle({ from: w.keys.S.idPub, message: forged }, w.ctx()).then((s) => {
          throw new Error(`answered ${JSON.stringify(s.events)}`);
        }),
        bad === 'sig' ? ErrorCode.INVALID_SIGNATURE : ErrorCode.OPEN_REFUSED,
      );
      assert.is(w.payer.slot.state.open!.status, 'requested', `${bad}: nothing signed`);
      assert.is(w.payer.slot.state.open!.channel, undefined);
      // The genuine acceptance still goes through.
      w.commit('S', { send: [{ to: w.keys.A.address, message: acc }], retract: [], events: [] });
      await w.deliverAll();
      assert.is(w.payer.slot.state.open!.status, 'signed', `${bad}: the genuine open completes`);
      await w.close();
    }
  },
);

t(
  'OPEN_SIGN with an update signature not by the opener’s key, FUNDING before state 0 is signed, and an OPEN_SIGN for an unknown channel: refused',
  async () => {
    w = await openWorld('sign');
    const r = await w.payer.openChannel(
      { amount: 1_000_000, payout: await w.wallets.A.payoutScript(), replyTo: w.keys.A.address },
      w.ctx(),
    );
    w.commit('A', r.step);
    for (let i = 0; i < 4; i++) await w.deliverOne(); // up to OPEN_SIGN queued
    const sign = w.queue.shift()!.message as PaymentMessageOf<typeof PaymentType.OPEN_SIGN>;
    const hubOpen = () => [...w.hub.opens.values()][0]!;
    const inject = async (m: PaymentMessageOf<typeof PaymentType.OPEN_SIGN> | PaymentMessageOf<typeof PaymentType.FUNDING>) => {
      w.commit('A', { send: [{ to: w.keys.S.address, message: m }], retract: [], events: [] });
      const answer = (await w.deliverOne((x) => x.to === 'S')).send[0]!.message as PaymentMessageOf<typeof PaymentType.REJECT>;
      w.queue.length = 0; // the answers are not delivered to the payer here
      return answer;
    };
    // Reordered: FUNDING before OPEN_SIGN.
    const funding = { type: PaymentType.FUNDING, channelId: sign.channelId, txid: new Uint8Array(32).fill(3), vout: 0 } as const;
    assert.is((await inject(funding)).code, ErrorCode.FUNDING_INVALID);
    assert.is(hubOpen().channel.params.funding.txid, undefined);
    const badSig = { ...sign, updateSig: Uint8Array.from(sign.updateSig, (x, i) => (i === 40 ? x ^ 1 : x)) };
    assert.is((await inject(badSig)).code, ErrorCode.INVALID_SIGNATURE);
    assert.is(hubOpen().status, 'accepted', 'nothing signed by the hub');
    assert.is((await inject({ ...sign, channelId: new Uint8Array(32).fill(4) })).code, ErrorCode.OPEN_REFUSED);
    assert.is((await inject(sign)).type, PaymentType.OPEN_SIGNED, 'the genuine OPEN_SIGN completes state 0');
    // Replayed: answered again with the same signature.
    const again = await inject(sign);
    assert.is(again.type, PaymentType.OPEN_SIGNED);
  },
);

t(
  'a funding transaction that does not pay the agreed output: the hub aborts the open with FUNDING_INVALID and keeps no channel',
  async () => {
    w = await openWorld('bad-funding');
    await payerSigned(w);
    const [o] = [...w.hub.opens.values()];
    // The payer's wallet funds a transaction paying the channel script one sat short.
    const order = w.payer.fundingOrders(w.clock.now)[0]!;
    const { fundingPsbt, fundedTx } = await import('../../../client/wallet/open-driver.js');
    const short = await w.wallets.A.fundPsbt(fundingPsbt({ ...order, amount: order.amount - 1 }), { feeRate: 2, change: true });
    const { tx, vout } = fundedTx(short, { ...order, amount: order.amount - 1 });
    await rejectsCode(w.payer.noteFunded(order.channelId, tx, vout), ErrorCode.FUNDING_INVALID);
    await w.chain.broadcast(tx);
    w.model.mine(POLICY.minConf);
    const { txid } = await import('../../../engine/bitcoin/transaction.js');
    w.commit('A', {
      send: [
        {
          to: w.keys.S.address,
          message: {
            type: PaymentType.FUNDING,
            channelId: order.channelId.length ? Uint8Array.from(Buffer.from(order.channelId, 'hex')) : new Uint8Array(32),
            txid: txid(tx),
            vout,
          },
        },
      ],
      retract: [],
      events: [],
    });
    await w.deliverAll();
    await w.chainPass('S');
    assert.is(w.hub.opens.size, 0, 'the open is gone');
    assert.is(w.hub.peers.size, 0, 'no channel');
    assert.ok(
      w.sent.some(
        (m) =>
          m.from === 'S' && m.message.type === PaymentType.REJECT && (m.message as { code: string }).code === ErrorCode.FUNDING_INVALID,
      ),
    );
    assert.ok(o);
  },
);

t(
  'an open the hub never answers expires at the wallet (the hub told), and the wallet can open again; the hub funds nothing before state 0 is signed',
  async () => {
    w = await openWorld('no-answer');
    const payout = await w.wallets.B.payoutScript();
    const r = await w.payee.openChannel({ amount: 500_000, csvDelay: 24, payout, replyTo: w.keys.B.address }, w.ctx());
    w.commit('B', r.step);
    await w.deliverOne(); // TERMS_REQUEST
    await w.deliverOne(); // TERMS → OPEN queued
    await w.deliverOne(); // OPEN → OPEN_ACCEPT queued, never delivered
    assert.equal(w.hub.fundingOrders(w.clock.now), [], 'the hub funds nothing before the opener signed state 0');
    w.queue.length = 0;
    w.commit('B', await w.payee.expireOpens(w.ctx()));
    assert.ok(w.payee.slot.state.open, 'not before the timeout');
    w.clock.now += POLICY.openTimeout * 1000;
    w.commit('B', await w.payee.expireOpens(w.ctx()));
    assert.is(w.payee.slot.state.open, undefined, 'aborted');
    assert.ok(w.events.B.some((e) => e.kind === 'open_aborted'));
    assert.is(w.queue[0]!.message.type, PaymentType.OPEN_CANCEL, 'the hub is told');
    await w.deliverAll();
    assert.is(w.hub.opens.size, 0, 'the hub freed the slot');
    const again = await w.payee.openChannel({ amount: 500_000, csvDelay: 24, payout, replyTo: w.keys.B.address }, w.ctx());
    w.commit('B', again.step);
    await w.deliverAll();
    assert.is(w.payee.slot.state.open!.status, 'signed', 'a new open goes through');
    assert.is(w.hub.fundingOrders(w.clock.now).length, 1, 'the hub funds once state 0 is signed');
  },
);

t('the hub’s terms: signed by its identity key, refused under another key or altered', async () => {
  w = await openWorld('terms');
  const t0 = verifyTerms(w.termsDoc, w.keys.S.idPub, w.clock.now);
  assert.is(t0.csvMax, POLICY.csvMax);
  const { throwsCode } = await import('../../helpers.js');
  throwsCode(() => verifyTerms(w.termsDoc, w.keys.A.idPub), ErrorCode.INVALID_SIGNATURE);
  const altered = w.termsDoc.slice();
  altered[96]! ^= 1; // the fee (ppm): still a well-formed document
  throwsCode(() => verifyTerms(altered, w.keys.S.idPub), ErrorCode.INVALID_SIGNATURE);
  throwsCode(() => verifyTerms(w.termsDoc, w.keys.S.idPub, w.terms.expiry), ErrorCode.PAYMENT_BAD_MESSAGE);
});

t.run();
