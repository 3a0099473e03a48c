/**
 * The router's guard, attacked from the payee's side: a fulfillment whose
 * secret does not open the router's downstream point. Without the check the
 * router would pay the payee downstream and then fail to claim upstream.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex, hexToBytes } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { invoiceSigHash, PaymentType, type PaymentMessageOf } from '../../../protocol/payment.js';
import { Router } from '../../../engine/payment/router.js';
import { openChannelPair } from '../../../engine/channel/open.js';
import { channelParams, hopPay, hopWorld, party, stateOf } from './fixture.js';

const t = suite('payment/guards-router');
const AMOUNT = 40_000;

t('P refuses a fulfillment whose secret does not match its downstream point (state and signature valid) and pays nothing', async () => {
  const w = await hopWorld();
  const offerId = await hopPay(w, AMOUNT);
  await w.run((q) => q.message.type === PaymentType.PTLC_FULFILL && q.to === 'P');
  const q = w.queue.shift()!;
  assert.is(q.message.type, PaymentType.PTLC_FULFILL);
  const genuine = q.message as PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>;
  const forged = { ...genuine, secret: new Uint8Array(32).fill(11) };
  const down = [...w.engines.P.downstream.values()][0]!.channel;
  const before = stateOf(w.engines.P);
  w.post('P', await w.engines.P.handle({ from: w.parties.B.idPk, message: forged }, w.ctx));
  const e = w.events.P.at(-1);
  assert.ok(e && e.kind === 'rejected', JSON.stringify(e));
  assert.is(e.code, ErrorCode.INVALID_SIGNATURE);
  assert.match(e.message, /secret does not match the payment point/);
  assert.is(stateOf(w.engines.P), before, 'the refused fulfillment changed nothing');
  assert.is(w.routerPayment(offerId)!.status, 'committed');
  assert.ok(
    down.enforceable.state.ptlcs.some((x) => bytesToHex(x.id) === offerId),
    'the PTLC to B is still open',
  );
  assert.equal(down.enforceable.state.balances, [800_000 - AMOUNT, 199_000], 'B was not paid');
  assert.not.ok(
    w.queue.some((x) => x.message.type === PaymentType.PTLC_SETTLE),
    'P settled nothing downstream',
  );
  assert.not.ok(
    w.queue.some((x) => x.message.type === PaymentType.PTLC_FULFILL),
    'P revealed nothing upstream',
  );
  // The genuine fulfillment then completes every hop. (P's REJECT answers the forgery, which
  // B's engine never sent: B would take it for a refusal of its own fulfillment and propose again.)
  w.queue.splice(0, w.queue.length, ...w.queue.filter((x) => !(x.to === 'B' && x.message.type === PaymentType.REJECT)));
  w.queue.push({ ...q, message: genuine });
  await w.run();
  assert.is(w.engines.A.payments.get(offerId)!.status, 'completed');
  assert.is(w.routerPayment(offerId)!.status, 'settled');
  assert.equal(w.engines.B.channel.enforceable.state.balances, [800_000 - AMOUNT, 199_000 + AMOUNT]);
});

t(
  "P refuses an invoice changed after the payee signed it, one its sender did not sign, and strangers' messages about B's channel",
  async () => {
    const w = await hopWorld();
    const offerId = await hopPay(w, AMOUNT);
    await w.run((q) => q.message.type === PaymentType.INVOICE && q.to === 'P');
    const q = w.queue.shift()!;
    const inv = q.message as PaymentMessageOf<typeof PaymentType.INVOICE>;
    const P = w.engines.P;
    const before = JSON.stringify(P.toJSON());
    const stranger = party('http://127.0.0.1:1');
    const { signature: _s, type: _t, ...fields } = { ...inv, payeeKey: stranger.idPk };
    for (const [from, message, why] of [
      [w.parties.B.idPk, { ...inv, amount: AMOUNT * 2 }, /invoice signature does not verify/],
      [
        w.parties.B.idPk,
        { ...inv, payeeKey: stranger.idPk, signature: schnorr.sign(invoiceSigHash(fields), stranger.idSk) },
        /invoice must be sent by its signer/,
      ],
    ] as const) {
      const s = await P.handle({ from, message }, w.ctx);
      const e = s.events[0];
      assert.ok(e?.kind === 'rejected' && why.test(e.message), JSON.stringify(s.events));
      assert.not.ok(
        s.send.some((o) => o.message.type === PaymentType.INVOICE),
        'P forwarded nothing to the hub',
      );
      assert.is(JSON.stringify(P.toJSON()), before);
    }
    // The genuine invoice goes on; once P extended its PTLC to B, a stranger's PTLC_FAIL naming B's channel is refused.
    w.queue.unshift(q);
    await w.run((x) => x.message.type === PaymentType.PTLC_ADD && x.to === 'B');
    const extended = JSON.stringify(P.toJSON());
    const s = await P.handle(
      {
        from: stranger.idPk,
        message: { type: PaymentType.PTLC_FAIL, channelId: w.pb.channelId, offerId: hexToBytes(offerId, 32), reason: 'no' },
      },
      w.ctx,
    );
    const e = s.events[0];
    assert.ok(e?.kind === 'rejected' && /does not come from the peer of that channel/.test(e.message), JSON.stringify(s.events));
    assert.is(JSON.stringify(P.toJSON()), extended);
    // B's own PTLC_FAIL for an offer P never extended to it changes nothing.
    const f = await P.handle(
      {
        from: w.parties.B.idPk,
        message: { type: PaymentType.PTLC_FAIL, channelId: w.pb.channelId, offerId: randomBytes(32), reason: 'no' },
      },
      w.ctx,
    );
    assert.ok(f.events[0]?.kind === 'ignored', JSON.stringify(f.events));
    assert.is(JSON.stringify(P.toJSON()), extended);
    // A hub REJECT for an offer P never forwarded changes nothing.
    const r = await P.handle(
      {
        from: w.parties.S.idPk,
        message: { type: PaymentType.REJECT, refType: PaymentType.INVOICE, ref: randomBytes(32), code: 'X', message: '' },
      },
      w.ctx,
    );
    assert.ok(r.events[0]?.kind === 'ignored');
    assert.is(JSON.stringify(P.toJSON()), extended);
    await w.run();
    assert.is(w.engines.A.payments.get(offerId)!.status, 'completed');
    // A router refuses to be built the wrong way round.
    assert.throws(() => new Router(P.config, [...P.downstream.values()][0]!, [], w.parties.P.nonces), /party 1/);
    assert.throws(() => new Router(P.config, P.upstream, [P.upstream], w.parties.P.nonces), /party 0/);
  },
);

t('P refuses an invoice at the very moment it expires, and forwards it a millisecond before', async () => {
  const w = await hopWorld();
  await hopPay(w, AMOUNT);
  await w.run((q) => q.message.type === PaymentType.INVOICE && q.to === 'P');
  const inv = w.queue[0]!.message as PaymentMessageOf<typeof PaymentType.INVOICE>;
  const P = w.engines.P;
  const before = JSON.stringify(P.toJSON());
  const now = w.ctx.now;
  const late = await P.handle({ from: w.parties.B.idPk, message: inv }, { ...w.ctx, now: inv.expiry });
  const e = late.events[0];
  assert.ok(e?.kind === 'rejected' && /invoice expired/.test(e.message), JSON.stringify(late.events));
  assert.is(JSON.stringify(P.toJSON()), before, 'nothing recorded');
  const inTime = await P.handle({ from: w.parties.B.idPk, message: inv }, { ...w.ctx, now: inv.expiry - 1 });
  assert.ok(
    inTime.send.some((o) => o.message.type === PaymentType.INVOICE),
    'forwarded to the hub',
  );
  assert.is(w.ctx.now, now);
});

t('every message of a routed payment replayed right after its delivery is ignored: no answer, no change', async () => {
  const w = await hopWorld();
  const offerId = await hopPay(w, AMOUNT);
  const state = () => JSON.stringify(Object.values(w.engines).map((e) => e.toJSON()));
  for (let i = 0; i < 300 && w.queue.length; i++) {
    const q = w.queue[0]!;
    await w.run((x) => x !== q); // delivers exactly q
    const before = state(),
      queuedBefore = w.queue.length;
    w.post(q.to, await w.engines[q.to].handle({ from: w.parties[q.from].idPk, message: q.message }, w.ctx));
    const what = `replayed message ${q.message.type} to ${q.to}`;
    const e = w.events[q.to].at(-1);
    assert.ok(e?.kind === 'ignored', `${what}: ${JSON.stringify(e)}`);
    assert.is(w.queue.length, queuedBefore, `${what} was answered`);
    assert.is(state(), before, `${what} changed something`);
  }
  assert.is(w.engines.A.payments.get(offerId)!.status, 'completed');
  assert.is(w.engines.B.payments.get(offerId)!.status, 'paid');
});

t("another payee of P cannot fail B's PTLC by naming B's offer in a PTLC_FAIL over its own channel", async () => {
  const w = await hopWorld();
  // A second payee C behind P.
  const C = party('http://127.0.0.1:1');
  const P = w.parties.P;
  const pc = channelParams(P.chPk, C.chPk, { csvDelay: 12 });
  const [pC] = await openChannelPair(pc, [800_000, 199_000], P.chSk, C.chSk, P.nonces, C.nonces);
  w.engines.P.downstream.set(bytesToHex(pc.channelId), { channel: pC, peerKey: C.idPk, peerAddress: C.address });
  const offerId = await hopPay(w, AMOUNT);
  await w.run((q) => q.message.type === PaymentType.PTLC_ADD && q.to === 'B'); // P extended its PTLC to B
  const before = stateOf(w.engines.P);
  // PTLC_FAIL carries no signature; C names its own channel (so the sender check passes) and B's offer.
  await w.engines.P.handle(
    { from: C.idPk, message: { type: PaymentType.PTLC_FAIL, channelId: pc.channelId, offerId: hexToBytes(offerId, 32), reason: 'no' } },
    w.ctx,
  );
  assert.is(w.routerPayment(offerId)!.status, 'extended', "B's PTLC is still extended");
  assert.is(stateOf(w.engines.P), before);
  await w.run();
  assert.is(w.engines.A.payments.get(offerId)!.status, 'completed');
});

t.run();
