/**
 * Inputs of a channel open (SPEC 6.17) that a guard mutation run found
 * unexercised, each from the attacker's side: a committed update nonce that
 * is not a point (from a hostile hub in OPEN_ACCEPT, from a hostile wallet
 * in OPEN_SIGN), terms handed to the wallet that its hub never signed or
 * that have expired, and an empty payout script.
 * Each is refused with its code before anything is signed, and changes
 * nothing.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../../base/errors.js';
import { signTerms } from '../../../protocol/terms.js';
import { PaymentType, type PaymentMessageOf } from '../../../protocol/payment.js';
import { rejectsCode } from '../../helpers.js';
import { openWorld, type OpenWorld } from './open-fixture.js';

const t = suite('engine/payment/open-inputs');
let w: OpenWorld;
t.after.each(async () => w?.close());

const json = (x: { toJSON(): unknown }) => JSON.stringify(x.toJSON());
/** 32 bytes that are no x coordinate (above the field prime). */
const NOT_A_POINT = new Uint8Array(32).fill(0xff);
const order = async (w: OpenWorld) => ({
  amount: 1_000_000,
  csvDelay: 288,
  payout: await w.wallets.A.payoutScript(),
  replyTo: w.keys.A.address,
});

t('a hostile hub commits an update nonce that is not a point in its OPEN_ACCEPT: refused, the wallet signs nothing', async () => {
  w = await openWorld('inputs-accept-nonce');
  w.commit('A', (await w.payer.openChannel(await order(w), w.ctx())).step);
  while (w.queue[0]?.message.type !== PaymentType.OPEN_ACCEPT) await w.deliverOne();
  const genuine = w.queue.shift()!.message as PaymentMessageOf<typeof PaymentType.OPEN_ACCEPT>;
  const before = json(w.payer);
  await rejectsCode(
    w.payer.handle({ from: w.keys.S.idPub, message: { ...genuine, updateNonce: NOT_A_POINT } }, w.ctx()),
    ErrorCode.OPEN_REFUSED,
    'updateNonce is not a valid x-only public key',
  );
  assert.is(json(w.payer), before, 'the open is untouched');
  assert.not.ok(
    w.sent.some((m) => m.from === 'A' && m.message.type === PaymentType.OPEN_SIGN),
    'no signature of ours',
  );
  w.commit('A', await w.payer.handle({ from: w.keys.S.idPub, message: genuine }, w.ctx()));
  assert.is(w.payer.slot.state.open!.status, 'signing', 'the genuine acceptance goes through');
});

t('a hostile wallet commits an update nonce that is not a point in its OPEN_SIGN: refused, the hub signs nothing', async () => {
  w = await openWorld('inputs-sign-nonce');
  w.commit('A', (await w.payer.openChannel(await order(w), w.ctx())).step);
  while (w.queue[0]?.message.type !== PaymentType.OPEN_SIGN) await w.deliverOne();
  const genuine = w.queue.shift()!.message as PaymentMessageOf<typeof PaymentType.OPEN_SIGN>;
  const before = json(w.hub);
  const s = await w.hub.handle({ from: w.keys.A.idPub, message: { ...genuine, updateNonce: NOT_A_POINT } }, w.ctx());
  const answer = s.send[0]?.message as PaymentMessageOf<typeof PaymentType.REJECT> | undefined;
  assert.is(answer?.type, PaymentType.REJECT, 'the hub answers with a refusal');
  assert.is(answer!.code, ErrorCode.OPEN_REFUSED);
  assert.match(answer!.message, /updateNonce is not a valid x-only public key/);
  assert.is(json(w.hub), before, 'the hub changed nothing');
  assert.not.ok(
    w.sent.some((m) => m.from === 'S' && m.message.type === PaymentType.OPEN_SIGNED),
    'no signature of the hub',
  );
});

t(
  'the wallet takes only its hub’s unexpired terms, and a payout script that can be spent to: anything else is refused before any message',
  async () => {
    w = await openWorld('inputs-terms');
    const base = await order(w);
    const before = json(w.payer);
    const forged = signTerms({ ...w.terms, hubKey: w.keys.A.idPub, feePpm: 0 }, w.keys.A.id); // not the hub's
    await rejectsCode(
      w.payer.openChannel({ ...base, terms: forged }, w.ctx()),
      ErrorCode.INVALID_SIGNATURE,
      'terms: not the terms of this hub',
    );
    const expired = signTerms({ ...w.terms, issued: w.ctx().now - 2_000, expiry: w.ctx().now - 1_000 }, w.keys.S.id);
    await rejectsCode(w.payer.openChannel({ ...base, terms: expired }, w.ctx()), ErrorCode.PAYMENT_BAD_MESSAGE, 'terms: expired');
    await rejectsCode(w.payer.openChannel({ ...base, payout: new Uint8Array(0) }, w.ctx()), ErrorCode.INVALID_LENGTH);
    assert.is(json(w.payer), before, 'no open was started');
    assert.is(w.payer.slot.state.open, undefined);
    // The hub's genuine, current terms open.
    w.commit('A', (await w.payer.openChannel({ ...base, terms: w.termsDoc }, w.ctx())).step);
    assert.ok(w.payer.slot.state.open);
  },
);

t.run();
