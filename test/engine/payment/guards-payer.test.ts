/**
 * Payer-side guards, attacked from the outside: a payee or a stranger
 * speaking for the hub, and a hub claiming the payer's PTLC of a request
 * purchase (SPEC 6.14) with a secret that does not buy anything or with a
 * state that takes more than the PTLC. Each asserts the refusal and that
 * the payer changed nothing.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from '@noble/hashes/utils.js';
import { bytesToHex } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { PaymentType, type PaymentMessageOf } from '../../../protocol/payment.js';
import { resolvePtlc, transfer } from '../../../engine/channel/state.js';
import { hubFee } from '../../../engine/payment/fee.js';
import { Payer } from '../../../engine/payment/payer/payer.js';
import { MemoryNonceStore } from '../../../crypto/nonce.js';
import { rejectsCode } from '../../helpers.js';
import {
  forgeState,
  hubChannels,
  inject,
  makeWorld,
  party,
  post,
  prepareRequest,
  run,
  startPayment,
  stateOf,
  take,
  until,
  type World,
} from './fixture.js';

const t = suite('payment/guards-payer');
const AMOUNT = 30_000;
type Fulfill = PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>;

t(
  'the payer takes messages about its channel from its hub only: a REJECT of its proposal sent by the payee or a stranger changes nothing',
  async () => {
    const w = await makeWorld();
    const offerId = await startPayment(w, AMOUNT);
    const status = w.payer.payments.get(offerId)!.status;
    const before = stateOf(w.payer);
    const stranger = party('http://127.0.0.1:1');
    for (const from of [w.B.idPk, stranger.idPk]) {
      const message = {
        type: PaymentType.REJECT,
        refType: PaymentType.UPDATE_PROPOSE,
        ref: Uint8Array.from(Buffer.from(offerId, 'hex')),
        code: ErrorCode.PAYMENT_REJECTED,
        message: 'no',
      } as const;
      await rejectsCode(w.payer.handle({ from, message }, w.ctx), ErrorCode.PAYMENT_REJECTED, 'message must come from the hub');
      assert.is(stateOf(w.payer), before, `a REJECT from ${bytesToHex(from).slice(0, 8)} changed the payer`);
      assert.is(w.payer.payments.get(offerId)!.status, status);
    }
  },
);

t(
  "the payer refuses its hub's accept whose attestation does not verify: no offer goes to the payee, and the genuine accept still works",
  async () => {
    const w = await makeWorld();
    const offerId = await startPayment(w, AMOUNT);
    const accept = take<PaymentMessageOf<typeof PaymentType.UPDATE_ACCEPT>>(w, await until(w, PaymentType.UPDATE_ACCEPT, ['S']));
    const before = stateOf(w.payer);
    const spoiled = accept.attestation.slice();
    spoiled[10]! ^= 1;
    // Spoiled, or a genuine signature by the hub over another offer's fields (here: a random message).
    for (const attestation of [spoiled, randomBytes(64)]) {
      const s = await w.payer
        .handle({ from: w.S.idPk, message: { ...accept, attestation } }, w.ctx)
        .catch((e: { code?: string }) => e.code);
      assert.is(s, ErrorCode.INVALID_SIGNATURE, 'refused with INVALID_SIGNATURE');
      assert.is(stateOf(w.payer), before, 'the payer changed nothing and sent no offer');
      assert.is(w.payer.payments.get(offerId)!.status, 'proposed');
    }
    await inject(w, 'S', 'A', accept);
    assert.is(w.payer.payments.get(offerId)!.status, 'offered');
    await run(w);
    assert.is(w.payer.payments.get(offerId)!.status, 'completed');
  },
);

t('a payer with no channel yet ignores a genuine request (it could not pay it); with its channel it takes it', async () => {
  const w = await makeWorld();
  const requestId = await prepareRequest(w, AMOUNT);
  await run(w, ['B', 'S']);
  const request = take<PaymentMessageOf<typeof PaymentType.REQUEST>>(w, await until(w, PaymentType.REQUEST, ['B', 'S']));
  const opening = new Payer(
    { identityKey: w.A.idSk, hubKey: w.S.idPk, hubAddress: w.S.address, channelKey: w.A.chSk },
    undefined,
    new MemoryNonceStore(),
  );
  const before = JSON.stringify(opening.toJSON());
  const s = await opening.handle({ from: w.B.idPk, message: request }, w.ctx);
  assert.ok(
    s.events.some((e) => e.kind === 'ignored' && /no channel yet/.test(e.reason)),
    JSON.stringify(s.events),
  );
  assert.is(JSON.stringify(opening.toJSON()), before, 'nothing recorded');
  await inject(w, 'B', 'A', request);
  assert.is(w.payer.requests.get(requestId)!.status, 'received');
});

/** A request purchase up to the hub's PTLC_FULFILL to the payer, taken out of the queue before the payer reads it. */
async function fulfillInFlight(w: World): Promise<Fulfill> {
  const requestId = await prepareRequest(w, AMOUNT);
  await run(w, ['B', 'S']);
  await run(w, ['A']);
  post(w, 'A', await w.payer.payRequest(requestId, hubFee(AMOUNT, w.hub.config.fee), w.ctx));
  return take<Fulfill>(w, await until(w, PaymentType.PTLC_FULFILL, ['A', 'S']));
}

t('the payer refuses a PTLC_FULFILL of its request purchase whose secret does not match the payment point: its PTLC stays', async () => {
  const w = await makeWorld();
  const m = await fulfillInFlight(w);
  assert.is(w.payer.channel.enforceable.state.ptlcs.length, 1, 'the PTLC is committed');
  const before = stateOf(w.payer);
  await rejectsCode(
    inject(w, 'S', 'A', { ...m, secret: randomBytes(32) }),
    ErrorCode.INVALID_SIGNATURE,
    'secret does not match the payment point',
  );
  assert.is(stateOf(w.payer), before, 'nothing changed');
  assert.is(w.payer.channel.enforceable.state.ptlcs.length, 1, 'the PTLC is still there');
  assert.not.ok(
    w.queue.some((q) => q.out.message.type === PaymentType.PTLC_SETTLE && q.from === 'A'),
    'the payer settled nothing',
  );
});

t('the payer refuses a PTLC_FULFILL with the right secret whose state takes more than the PTLC, even signed by the hub', async () => {
  const w = await makeWorld();
  const m = await fulfillInFlight(w);
  const as = hubChannels(w).as;
  const forged = await forgeState(as, w.S, (c) => {
    const paid = resolvePtlc(c.enforceable.state, m.offerId, 'fulfill', c.topN + 1);
    return transfer(paid, 0, 1_000, paid.n); // 1,000 sats more from the payer to the hub
  });
  const before = stateOf(w.payer);
  await rejectsCode(
    inject(w, 'S', 'A', { ...m, state: forged.encoded, settleSig: forged.settleSig, updateNonce: forged.updateNonce }),
    ErrorCode.CHANNEL_INVARIANT,
    'fulfilled state does not pay exactly the PTLC',
  );
  assert.is(stateOf(w.payer), before, 'nothing changed');
  // The genuine fulfilment still settles.
  await inject(w, 'S', 'A', m);
  await run(w);
  assert.is(w.payer.channel.enforceable.state.ptlcs.length, 0);
});

t.run();
