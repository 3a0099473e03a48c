import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PaymentType, type PaymentMessageOf } from '../../../protocol/payment.js';
import { ErrorCode, LnMailboxError } from '../../../base/errors.js';
import { bindTicketNonce, signWithCommittedNonce, ticketNonceId } from '../../../crypto/nonce.js';
import { hexToBytes } from '../../../base/bytes.js';
import { receiptSecretKey } from '../../../protocol/receipt.js';
import {
  makeWorld,
  post,
  run,
  deliverOne,
  kinds,
  hex,
  type World,
  stateOf,
  until,
  take,
  inject,
  resignInvoice,
  ticketFor,
  hubPayment,
} from './fixture.js';
import { rejectsCode } from '../../helpers.js';
import { hubFee } from '../../../engine/payment/fee.js';

const t = suite('payment/offer');
const AMOUNT = 50_000;

async function startPayment(w: World, over: { expiry?: number } = {}) {
  const { offerId, step } = await w.payer.pay(
    {
      payee: { publicKey: w.B.idPk, address: w.B.address },
      ticket: await ticketFor(w.payee),
      amount: AMOUNT,
      fee: hubFee(AMOUNT, w.hub.config.fee),
      expiry: over.expiry ?? w.ctx.now + 3_600_000,
      memo: 'coffee',
    },
    w.ctx,
  );
  post(w, 'A', step);
  return offerId;
}

const types = (w: World) => w.log.map((l) => `${l.from}>${l.to}:${l.message.type}`);

t('happy path: A pays while B is offline, A goes offline, B comes online and sells s_B, A returns', async () => {
  const w = await makeWorld();
  const fee = hubFee(AMOUNT, w.hub.config.fee);
  const offerId = await startPayment(w);
  await run(w, ['A', 'S']); // B offline: the offer waits in B's mailbox
  assert.is(w.payer.payments.get(offerId)!.status, 'offered');
  assert.ok(
    w.queue.some((q) => q.out.message.type === PaymentType.OFFER),
    'offer queued for B',
  );
  // S holds state n half-signed: no update signature of A yet.
  const sA = w.hub.peers.get(hex(w.asParams.channelId))!.channel;
  assert.is(sA.pending!.updateSigs[0], null);
  await run(w, ['S', 'B']); // A offline; B online
  assert.is(w.payee.payments.get(offerId)!.status, 'paid');
  assert.is(hubPayment(w, offerId)!.status, 'settled');
  // S's view of A–S state n is enforceable with A's completed signature.
  assert.is(sA.pending, undefined);
  assert.is(sA.enforceable.state.n, 1);
  assert.equal(sA.enforceable.state.balances, [600_000 - AMOUNT - fee, 399_000 + AMOUNT + fee]);
  await run(w); // A comes back: receives the completion
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
  assert.equal(w.payer.channel.enforceable.state, sA.enforceable.state);
  // S–B moved on: B got the amount.
  assert.equal(w.payee.channel.enforceable.state.balances, [700_000 - AMOUNT, 299_000 + AMOUNT]);
  assert.equal(w.payee.channel.enforceable.state.ptlcs, []);
  assert.equal(w.hub.peers.get(hex(w.sbParams.channelId))!.channel.enforceable.state, w.payee.channel.enforceable.state);
  const receipt = w.events.find((e) => e.kind === 'completed');
  assert.ok(receipt && receipt.kind === 'completed' && receipt.receipt.n === 1);
  assert.equal(
    types(w).filter((x) => x.startsWith('A>B')),
    [`A>B:${PaymentType.OFFER}`],
  );
});

t('replayed and duplicated messages change nothing', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w);
  // Deliver every message twice.
  for (let i = 0; i < 200; i++) {
    const next = w.queue[0];
    if (!next) break;
    w.queue.push({ ...next });
    await deliverOne(w);
    await deliverOne(w, () => true);
  }
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
  assert.is(w.payee.payments.get(offerId)!.status, 'paid');
  assert.ok(kinds(w).includes('ignored'));
  assert.is(w.events.filter((e) => e.kind === 'paid').length, 2, 'one paid event at B, one at S');
});

t('B burns no ticket and issues no invoice for an offer its hub did not attest', async () => {
  const w = await makeWorld();
  await startPayment(w);
  await run(w, ['A', 'S']);
  const offer = w.queue.find((q) => q.out.message.type === PaymentType.OFFER)!;
  const m = offer.out.message as { attestation: Uint8Array };
  m.attestation = m.attestation.slice();
  m.attestation[40]! ^= 1;
  const tickets = w.payee.tickets.length;
  await run(w, ['S', 'B']);
  assert.not.ok(
    w.log.some((l) => l.message.type === PaymentType.INVOICE),
    'no invoice sent',
  );
  assert.ok(w.events.some((e) => e.kind === 'ignored' && /not attested by its hub/.test(e.reason)));
  assert.is(w.payee.tickets.length, tickets, 'the ticket is still unused');
});

t('S refuses an invoice for a wrong T, after expiry, or breaking the timelock rule', async () => {
  // wrong T: B re-points its invoice at a secret it knows and signs it again, as an attacker
  // would send it (bypassing B's own engine, which only invoices the receipt point T_B = s_B·G): the
  // invoice is validly signed, so only the hub's point check stands between B and a PTLC
  // it could claim without revealing s_B.
  {
    const w = await makeWorld();
    const offerId = await startPayment(w);
    await run(w, ['A', 'S']);
    const inv = take<PaymentMessageOf<typeof PaymentType.INVOICE>>(w, await until(w, PaymentType.INVOICE, ['B']));
    const { adaptorPoint } = await import('../../../crypto/adaptor.js');
    await inject(w, 'B', 'S', resignInvoice(inv, w.B.idSk, { point: adaptorPoint(new Uint8Array(32).fill(7)) }));
    assert.is(hubPayment(w, offerId)!.status, 'pending');
    assert.ok(
      w.events.some((e) => e.kind === 'rejected' && /invoice point differs from the recorded payment point/.test(e.message)),
      'the hub refused the point',
    );
    assert.not.ok(
      w.log.some((l) => l.message.type === PaymentType.PTLC_ADD),
      'no PTLC for the forged point',
    );
  }
  // expiry
  {
    const w = await makeWorld();
    const offerId = await startPayment(w, { expiry: 1_700_000_000_000 + 60_000 });
    await run(w, ['A', 'S']);
    w.ctx.now += 30_000;
    await deliverOne(w, (to) => to === 'B'); // B invoices before expiry
    w.ctx.now += 60_000; // but S only reads it after the offer expired
    await run(w, ['S', 'B']);
    assert.is(hubPayment(w, offerId)!.status, 'pending');
    assert.ok(w.events.some((e) => e.kind === 'rejected' && /expired/.test(e.message)));
    assert.is(w.payee.payments.get(offerId)!.status, 'failed');
  }
  // timelock rule: payee asks for a PTLC delta that, plus the margin, reaches the A–S CSV delay
  {
    const w = await makeWorld({ asCsv: 44, payeeDelta: 40 }); // 40 + 6 >= 44
    const offerId = await startPayment(w);
    await run(w);
    assert.is(hubPayment(w, offerId)!.status, 'pending');
    assert.ok(w.events.some((e) => e.kind === 'rejected' && e.code === ErrorCode.CHANNEL_INVARIANT && /CSV/.test(e.message)));
    assert.not.ok(w.log.some((l) => l.message.type === PaymentType.PTLC_ADD));
  }
});

t('S cannot complete update n without paying B: a wrong t is refused and S never holds A signature', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w);
  await run(w, ['A', 'S']);
  await run(w, ['B']); // offer → invoice
  await run(w, ['S']); // PTLC_ADD
  await run(w, ['B']); // PTLC_ACCEPT
  await run(w, ['S']); // PTLC_COMMIT
  await run(w, ['B']); // PTLC_FULFILL queued for S
  const f = w.queue.find((q) => q.out.message.type === PaymentType.PTLC_FULFILL)!.out.message as { secret: Uint8Array };
  const good = f.secret;
  f.secret = new Uint8Array(32).fill(9);
  await deliverOne(w, (to) => to === 'S');
  const sA = w.hub.peers.get(hex(w.asParams.channelId))!.channel;
  assert.is(sA.pending!.updateSigs[0], null, 'no A signature without the right t');
  assert.is(hubPayment(w, offerId)!.status, 'committed');
  // The honest fulfill then completes it.
  w.queue.push({ from: 'B', out: { to: w.S.address, message: { ...(f as object), secret: good } as never } });
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
});

t('cancellation before the PTLC: overwrite state n, void the offer, late invoice refused', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w);
  await run(w, ['A', 'S']);
  post(w, 'A', await w.payer.cancel(offerId));
  await run(w, ['A', 'S']);
  assert.is(w.payer.payments.get(offerId)!.status, 'cancelled');
  assert.is(hubPayment(w, offerId)!.status, 'cancelled');
  assert.ok(w.retracted.includes(`offer:${offerId}`));
  assert.is(w.payer.channel.enforceable.state.n, 2);
  assert.equal(w.payer.channel.enforceable.state.balances, [600_000, 399_000]);
  // B comes online: it gets the offer (if the retraction raced) and the void; a late invoice is refused by S.
  // (Here the offer still sits in B's mailbox: the in-process world does not model retraction.)
  await run(w, ['B']);
  assert.ok(
    w.queue.some((q) => q.out.message.type === PaymentType.INVOICE),
    'B invoiced the stale offer',
  );
  await run(w);
  assert.ok(w.events.some((e) => e.kind === 'rejected' && /cancelled|superseded/.test(e.message)));
  assert.not.ok(
    w.log.some((l) => l.message.type === PaymentType.PTLC_ADD),
    'S never pays for a superseded state',
  );
});

t('cancellation after the PTLC is extended is refused and the payment completes', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w);
  await run(w, ['A', 'S']);
  await run(w, ['B']);
  await run(w, ['S']); // PTLC extended
  post(w, 'A', await w.payer.cancel(offerId));
  await run(w);
  assert.ok(w.events.some((e) => e.kind === 'rejected' && /already extended/.test(e.message)));
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
  assert.is(w.payee.payments.get(offerId)!.status, 'paid');
});

t("a burned ticket signs one message only: the offer's receipt message, always with the same signature", async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w);
  await run(w, ['A', 'S', 'B']);
  // B burned its ticket for this offer's receipt message m: it can sign nothing else, nor be bound again.
  const p = w.payee.payments.get(offerId)!;
  const id = ticketNonceId(hexToBytes(p.ticket, 32));
  const sk = receiptSecretKey(w.B.idSk);
  await rejectsCode(signWithCommittedNonce(w.B.nonces, id, sk, new Uint8Array(32)), ErrorCode.NONCE_REUSE);
  await rejectsCode(bindTicketNonce(w.B.nonces, id, sk, new Uint8Array(32)), ErrorCode.NONCE_REUSE);
  await run(w);
  assert.is(w.payee.payments.get(offerId)!.status, 'paid');
  const receipt = w.payer.payments.get(offerId)!.receipt!;
  const again = await signWithCommittedNonce(w.B.nonces, id, sk, hexToBytes(p.receiptMessage, 32));
  assert.is(hex(again.subarray(32, 64)), receipt.secret, 'the spent ticket answers with the same signature');
  assert.is(hex(again.subarray(0, 32)), p.ticket);
});

t('only one payment in flight; messages from strangers are refused', async () => {
  const w = await makeWorld();
  await startPayment(w);
  await rejectsCode(startPayment(w), ErrorCode.PAYMENT_REJECTED);
  await rejectsCode(
    w.payer.handle({ from: w.B.idPk, message: { type: PaymentType.OFFER_VOID, offerId: new Uint8Array(32), reason: '' } }, w.ctx),
    ErrorCode.PAYMENT_REJECTED,
  );
});

t('after a refused cancellation the payment completes and the next payment works', async () => {
  const w = await makeWorld();
  const first = await startPayment(w);
  await run(w, ['A', 'S']);
  await run(w, ['B']);
  await run(w, ['S']); // PTLC extended
  post(w, 'A', await w.payer.cancel(first));
  await run(w);
  assert.is(w.payer.payments.get(first)!.status, 'completed');
  const second = await startPayment(w);
  await run(w);
  assert.is(w.payer.payments.get(second)!.status, 'completed');
  // State 2 was the refused cancellation: A released a settlement signature for it, so the
  // number is never signed again; the next payment is state 3.
  assert.is(w.payer.channel.enforceable.state.n, 3, 'state numbers are never reused');
  assert.is(w.hub.peers.get(hex(w.asParams.channelId))!.channel.enforceable.state.n, 3);
});

t('a proposal the hub refuses frees the channel', async () => {
  const w = await makeWorld();
  const { offerId, step } = await w.payer.pay(
    {
      payee: { publicKey: w.B.idPk, address: w.B.address },
      ticket: await ticketFor(w.payee),
      amount: AMOUNT,
      fee: 0,
      expiry: w.ctx.now + 3_600_000,
    },
    w.ctx,
  );
  post(w, 'A', step);
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'failed');
  assert.is(w.payer.channel.pending, undefined);
  const next = await startPayment(w);
  await run(w);
  assert.is(w.payer.payments.get(next)!.status, 'completed');
});

t('B refuses a PTLC whose timeout is inside its channel CSV delay; the hub can try again later', async () => {
  const w = await makeWorld({ payeeDelta: 20 }); // 20 < S–B CSV 24: B must refuse whatever S offers
  const offerId = await startPayment(w);
  await run(w);
  assert.ok(w.log.some((l) => l.message.type === PaymentType.PTLC_FAIL));
  assert.is(hubPayment(w, offerId)!.status, 'pending');
  assert.is(w.payee.channel.pending, undefined);
  assert.is(w.hub.peers.get(hex(w.sbParams.channelId))!.channel.pending, undefined);
});

t('an offer that expires before the payee shows up is found and cancelled by the payer', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, { expiry: w.ctx.now + 60_000 });
  await run(w, ['A', 'S']);
  assert.equal(w.payer.expiredOffers(w.ctx.now), []);
  w.ctx.now += 61_000;
  assert.equal(w.payer.expiredOffers(w.ctx.now), [offerId]);
  post(w, 'A', await w.payer.cancel(offerId));
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'cancelled');
  assert.is(w.payer.channel.pending, undefined);
  assert.equal(w.payer.expiredOffers(w.ctx.now), []);
});

t('a step that fails half-way leaves the engine exactly as before (the store fails while S extends the PTLC)', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w);
  await run(w, ['A', 'S']);
  await run(w, ['B']); // the invoice is queued for S
  const before = stateOf(w.hub);
  const put = w.S.nonces.put.bind(w.S.nonces);
  w.S.nonces.put = async () => {
    throw new LnMailboxError(ErrorCode.STORE_UNAVAILABLE, 'disk full');
  };
  const invoice = w.queue.find((q) => q.out.message.type === PaymentType.INVOICE)!;
  // S proposes S–B state 1, then cannot commit its nonce: its own fault, so no REJECT goes to
  // B (the invoice is fine); the message stays unacknowledged for a later try.
  await rejectsCode(
    deliverOne(w, (to) => to === 'S'),
    ErrorCode.STORE_UNAVAILABLE,
  );
  w.S.nonces.put = put;
  assert.not.ok(w.queue.some((q) => q.out.message.type === PaymentType.REJECT || q.out.message.type === PaymentType.PTLC_ADD));
  assert.is(stateOf(w.hub), before, 'no half-made PTLC state, payment still pending');
  assert.is(hubPayment(w, offerId)!.status, 'pending');
  w.queue.unshift(invoice); // redelivered once the disk has room again
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
});

t("a completion that overtakes the payer's own cancellation completes the payment", async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w);
  await run(w, ['A', 'S']);
  await run(w, ['B', 'S']); // B sells s_B; the COMPLETION waits in A's mailbox
  assert.ok(w.queue.some((q) => q.out.message.type === PaymentType.COMPLETION));
  post(w, 'A', await w.payer.cancel(offerId)); // A wakes up and cancels before reading its mail
  await deliverOne(w, (to) => to === 'A'); // the completion arrives first
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
  await run(w); // S refuses the cancellation: nothing changes
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
  assert.is(w.payer.channel.enforceable.state.n, 1);
  assert.is(w.payer.channel.pending, undefined);
  const next = await startPayment(w);
  await run(w);
  assert.is(w.payer.payments.get(next)!.status, 'completed');
});

t('a fulfill with the right secret but a bad settlement signature changes nothing; the good one then completes', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w);
  await run(w, ['A', 'S']);
  for (const who of ['B', 'S', 'B', 'S', 'B'] as const) await run(w, [who]); // up to B's PTLC_FULFILL
  const q = w.queue.find((x) => x.out.message.type === PaymentType.PTLC_FULFILL)!;
  const good = q.out.message as { settleSig: Uint8Array };
  const bad = { ...good, settleSig: good.settleSig.slice() };
  bad.settleSig[5]! ^= 1;
  q.out.message = bad as never;
  const before = stateOf(w.hub);
  await deliverOne(w, (to) => to === 'S');
  assert.is(stateOf(w.hub), before, 'the hub did not act on the secret');
  // The hub's REJECT answers the tampered copy, which B's engine never sent: B would take it
  // for a refusal of its own fulfillment and propose it again.
  w.queue.splice(0, w.queue.length, ...w.queue.filter((x) => !(x.out.to === w.B.address && x.out.message.type === PaymentType.REJECT)));
  w.queue.push({ from: 'B', out: { to: w.S.address, message: good as never } });
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
  assert.is(w.payee.payments.get(offerId)!.status, 'paid');
});

t.run();
