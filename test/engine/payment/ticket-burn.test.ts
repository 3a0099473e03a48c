/**
 * Ticket burning by a payer who abandons attested offers (SPEC 6.16,
 * receiver rules): the hub attests each offer its payer proposes and
 * cancels the previous pending one when the payer proposes the next, so a
 * payer can hand the payee one attested offer after another, each making it
 * burn a ticket, none ever paid. The payee holds at most
 * `maxOpenOffersPerPayer` burned, unpaid, live offers per payer and refuses
 * the next with REJECT `RATE_LIMITED` before burning its ticket.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { bytesToHex } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { signaturePoint, sign } from '../../../crypto/bip340.js';
import { isFreeTicket, ticketNonceId } from '../../../crypto/nonce.js';
import { PaymentType, type PaymentMessage } from '../../../protocol/payment.js';
import { attestationMessage, receiptKey, receiptMessage } from '../../../protocol/receipt.js';
import { inject, makeWorld, ticketFor, type World } from './fixture.js';

const t = suite('payment/ticket-burn');

/** An offer from A to B for a fresh ticket of B, attested by the hub as it attests every proposal it holds. */
async function attestedOffer(w: World): Promise<{ offerId: Uint8Array; ticket: Uint8Array; message: PaymentMessage }> {
  const offerId = new Uint8Array(randomBytes(32));
  const ticket = await ticketFor(w.payee);
  const amount = 1_000;
  const expiry = w.ctx.now + 3_600_000;
  const m = receiptMessage({ offerId, amount, payer: w.A.idPk, payee: w.B.idPk, expiry });
  const point = signaturePoint(ticket, receiptKey(w.B.idPk), m);
  const attestation = sign(attestationMessage(offerId, point, amount, expiry), w.S.idSk);
  return {
    offerId,
    ticket,
    message: { type: PaymentType.OFFER, offerId, hub: w.S.idPk, hubAddress: w.S.address, amount, expiry, ticket, attestation, memo: '' },
  };
}

t('a payer abandoning attested offers makes the payee burn at most maxOpenOffersPerPayer tickets; a void frees a slot', async () => {
  const w = await makeWorld();
  const offers: Awaited<ReturnType<typeof attestedOffer>>[] = [];
  for (let i = 0; i < 4; i++) offers.push(await attestedOffer(w));
  for (const o of offers.slice(0, 3)) await inject(w, 'A', 'B', o.message);
  const status = (o: { offerId: Uint8Array }) => w.payee.payments.get(bytesToHex(o.offerId))?.status;
  assert.equal(offers.slice(0, 3).map(status), ['invoiced', 'invoiced', undefined]);
  assert.ok(
    w.events.some((e) => e.kind === 'rejected' && e.offerId === bytesToHex(offers[2]!.offerId) && e.code === ErrorCode.RATE_LIMITED),
  );
  assert.ok(
    w.queue.some((q) => q.out.message.type === PaymentType.REJECT && q.out.message.code === ErrorCode.RATE_LIMITED),
    'the hub is told (it passes the REJECT to the payer)',
  );
  assert.ok(await isFreeTicket(w.B.nonces, ticketNonceId(offers[2]!.ticket)), 'the refused offer burned no ticket');
  // The payer voids one of its open offers: one more may come in.
  await inject(w, 'A', 'B', { type: PaymentType.OFFER_VOID, offerId: offers[0]!.offerId, reason: 'changed my mind' });
  assert.is(status(offers[0]!), 'void');
  await inject(w, 'A', 'B', offers[3]!.message);
  assert.is(status(offers[3]!), 'invoiced');
  assert.not.ok(await isFreeTicket(w.B.nonces, ticketNonceId(offers[3]!.ticket)));
});

t.run();
