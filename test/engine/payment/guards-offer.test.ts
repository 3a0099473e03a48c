/**
 * Offer-flow guards, attacked from the outside: each test crafts the message a
 * dishonest party (or a delaying relay) would send, so that every earlier
 * check passes (invoices are signed again with the payee's identity key,
 * forged states carry valid signatures) and only the guard under test stands
 * in the way. Each asserts the refusal and that nothing changed.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from '@noble/hashes/utils.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { bytesToHex, hexToBytes } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { decodeChannelState, encodeChannelState, PaymentType, type PaymentMessageOf } from '../../../protocol/payment.js';
import { buildClaimTx, completeClaimSignature, signClaim, ptlcOutput } from '../../../engine/bitcoin/index.js';
import { openChannelPair } from '../../../engine/channel/open.js';
import { addPtlc, transfer } from '../../../engine/channel/state.js';
import { ptlcOf, ptlcSecretKey, signSettlement } from '../../../engine/channel/onchain.js';
import { adaptorPoint } from '../../../crypto/adaptor.js';
import { getPublicKey, sign } from '../../../crypto/bip340.js';
import { attestationMessage, receiptPoint } from '../../../protocol/receipt.js';
import { tweakSecret } from '../../../crypto/tweak.js';
import { Payer } from '../../../engine/payment/payer/payer.js';
import { ChainModel, at, outpointOf, rejects } from '../bitcoin/chain-model.js';
import { rejectsCode } from '../../helpers.js';
import {
  channelParams,
  deliverOne,
  forgeState,
  hubChannels,
  inject,
  makeWorld,
  party,
  payeeReceiptSecret,
  prepareRequest,
  resignInvoice,
  run,
  snapshot,
  startPayment,
  take,
  until,
  type World,
  stateOf,
} from './fixture.js';
import { hubFee } from '../../../engine/payment/fee.js';

const t = suite('payment/guards-offer');
const AMOUNT = 50_000;
type Invoice = PaymentMessageOf<typeof PaymentType.INVOICE>;

/** The last event: a refusal with `code` whose message matches `re`. */
function refused(w: World, re: RegExp, code: string = ErrorCode.PAYMENT_REJECTED): void {
  const e = w.events.at(-1);
  assert.ok(e && e.kind === 'rejected', `expected a refusal, got ${JSON.stringify(e)}`);
  assert.match(e.message, re);
  assert.is(e.code, code);
}

/**
 * Drops the REJECTs queued for `to`. A test that forges a message in a role's
 * name gets the refusal addressed to that role's engine, which never sent the
 * forgery: an engine that answers refusals (the payee proposes a refused
 * fulfillment again) would act on it.
 */
function dropRejectsTo(w: World, to: 'A' | 'S' | 'B'): void {
  w.queue.splice(0, w.queue.length, ...w.queue.filter((q) => !(q.out.to === w[to].address && q.out.message.type === PaymentType.REJECT)));
}

/** The last event: the message was ignored for a reason matching `re`. */
function ignoredFor(w: World, re: RegExp): void {
  const e = w.events.at(-1);
  assert.ok(e && e.kind === 'ignored', `expected the message to be ignored, got ${JSON.stringify(e)}`);
  assert.match(e.reason, re);
}

const queued = (w: World, type: number) => w.queue.some((q) => q.out.message.type === type);

/** The hub extended nothing to the payee: no PTLC_ADD, the S–B channel untouched, the payment still pending. */
function hubPaidNothing(w: World, offerId: string): void {
  assert.not.ok(queued(w, PaymentType.PTLC_ADD), 'no PTLC offered to the payee');
  assert.is(hubChannels(w).sb.pending, undefined, 'no S–B state being negotiated');
  assert.equal(hubChannels(w).sb.enforceable.state.balances, [700_000, 299_000]);
  assert.is(w.hub.payments.get(offerId)!.status, 'pending');
}

/** A payment up to the payee's INVOICE, taken out of the queue before the hub reads it. */
async function invoiceInFlight(w: World, over: { expiry?: number } = {}): Promise<{ offerId: string; inv: Invoice }> {
  const offerId = await startPayment(w, AMOUNT, over);
  const inv = take<Invoice>(w, await until(w, PaymentType.INVOICE));
  return { offerId, inv };
}

/**
 * The hub was not damaged by the refused invoice: the payee drops the hub's REJECT
 * and sends its genuine invoice, and the payment completes for exactly the amount.
 */
async function honestInvoiceCompletes(w: World, offerId: string, inv: Invoice): Promise<void> {
  take(w, w.queue.find((q) => q.out.message.type === PaymentType.REJECT && q.out.to === w.B.address)!);
  await inject(w, 'B', 'S', inv);
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
  assert.equal(w.payee.channel.enforceable.state.balances, [700_000 - AMOUNT, 299_000 + AMOUNT]);
}

// ---------------------------------------------------------------------------
// The hub's invoice checks (hub.ts onInvoice)

t('S refuses a payee invoice re-pointed at a secret the payee knows, though it is validly signed', async () => {
  const w = await makeWorld();
  const { offerId, inv } = await invoiceInFlight(w);
  // With T' = t'·G for a t' it chose, B could claim the PTLC without ever revealing s_B.
  const forged = resignInvoice(inv, w.B.idSk, { point: adaptorPoint(new Uint8Array(32).fill(7)) });
  const before = snapshot(w);
  await inject(w, 'B', 'S', forged);
  refused(w, /invoice point differs from the recorded payment point/);
  assert.is(snapshot(w), before, 'the refused invoice changed nothing');
  hubPaidNothing(w, offerId);
  await honestInvoiceCompletes(w, offerId, inv);
});

t('S refuses a payee invoice asking for more than the offer, though it is validly signed', async () => {
  const w = await makeWorld();
  const { offerId, inv } = await invoiceInFlight(w);
  const forged = resignInvoice(inv, w.B.idSk, { amount: AMOUNT * 2 });
  const before = snapshot(w);
  await inject(w, 'B', 'S', forged);
  refused(w, /invoice amount differs from the offer/);
  assert.is(snapshot(w), before);
  hubPaidNothing(w, offerId);
  await honestInvoiceCompletes(w, offerId, inv);
});

t('S refuses an invoice whose payee channel is one where S is the payee (a channel of another payer of the hub)', async () => {
  const w = await makeWorld();
  const X = party('http://127.0.0.1:1');
  const xs = channelParams(X.chPk, w.S.chPk, { csvDelay: 288 });
  const [, sX] = await openChannelPair(xs, [600_000, 399_000], X.chSk, w.S.chSk, X.nonces, w.S.nonces);
  w.hub.peers.set(bytesToHex(xs.channelId), { channel: sX, peerKey: X.idPk, peerAddress: X.address });
  const { offerId, inv } = await invoiceInFlight(w);
  // X, another payer of the hub, invoices A's offer in its own name over its payer channel.
  const forged = resignInvoice(inv, X.idSk, { payeeKey: X.idPk, payeeChannel: xs.channelId, payeeAddress: X.address });
  const before = snapshot(w);
  const out = await w.hub.handle({ from: X.idPk, message: forged }, w.ctx);
  const e = out.events[0];
  assert.ok(e && e.kind === 'rejected', JSON.stringify(out.events));
  assert.match(e.message, /the hub is party 0 of a payee channel/);
  assert.not.ok(out.send.some((o) => o.message.type === PaymentType.PTLC_ADD));
  assert.is(sX.pending, undefined, 'no PTLC over the payer channel');
  assert.is(snapshot(w), before);
  hubPaidNothing(w, offerId);
});

t("S refuses a PTLC timeout delta above its maximum even when the payer channel's CSV delay would allow it", async () => {
  const w = await makeWorld(); // hub maximum 100 blocks; A–S CSV 288: 150 + slack 2 + margin 6 < 288
  const { offerId, inv } = await invoiceInFlight(w);
  const forged = resignInvoice(inv, w.B.idSk, { timeoutDelta: 150 });
  const before = snapshot(w);
  await inject(w, 'B', 'S', forged);
  refused(w, /timeout delta 150 above the hub's maximum/);
  assert.is(snapshot(w), before);
  hubPaidNothing(w, offerId);
  await honestInvoiceCompletes(w, offerId, inv);
});

t("the timelock rule at its boundary: a PTLC whose time plus the margin reaches the payer channel's CSV delay is refused", async () => {
  // The payee asks 40 blocks; S adds a slack of 2 and counts a margin of 6: 48 must stay below A–S's CSV.
  const w = await makeWorld({ asCsv: 48, payeeDelta: 40 });
  const offerId = await startPayment(w, AMOUNT);
  await run(w);
  assert.ok(w.events.some((e) => e.kind === 'rejected' && e.code === ErrorCode.CHANNEL_INVARIANT && /CSV/.test(e.message)));
  assert.is(w.hub.payments.get(offerId)!.status, 'pending');
  const ok = await makeWorld({ asCsv: 49, payeeDelta: 40 });
  const second = await startPayment(ok, AMOUNT);
  await run(ok);
  assert.is(ok.payer.payments.get(second)!.status, 'completed');
});

t("a payee asking exactly the hub's maximum timeout delta is served", async () => {
  const w = await makeWorld({ payeeDelta: 100, hubMaxDelta: 100 });
  const offerId = await startPayment(w, AMOUNT);
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
});

t('S refuses an invoice whose fields were changed after the payee signed it', async () => {
  const w = await makeWorld();
  const { offerId, inv } = await invoiceInFlight(w);
  const before = snapshot(w);
  await inject(w, 'B', 'S', { ...inv, timeoutDelta: 90 }); // within every limit, but not what was signed
  refused(w, /invoice signature does not verify/, ErrorCode.INVALID_SIGNATURE);
  assert.is(snapshot(w), before);
  hubPaidNothing(w, offerId);
  await honestInvoiceCompletes(w, offerId, inv);
});

t('S refuses an invoice for an offer it never co-signed, and ignores a replayed invoice', async () => {
  const w = await makeWorld();
  const { offerId, inv } = await invoiceInFlight(w);
  const before = snapshot(w);
  await inject(w, 'B', 'S', resignInvoice(inv, w.B.idSk, { offerId: randomBytes(32) }));
  refused(w, /unknown offer/);
  assert.is(snapshot(w), before);
  hubPaidNothing(w, offerId);
  await honestInvoiceCompletes(w, offerId, inv);
  // The same invoice once more, after it was paid: nothing is sent, nothing changes.
  const done = snapshot(w);
  await inject(w, 'B', 'S', inv);
  ignoredFor(w, /invoice already handled/);
  assert.is(w.queue.length, 0);
  assert.is(snapshot(w), done);
});

t('S refuses an invoice its sender did not sign: the payee forwards one signed by a stranger for its own channel', async () => {
  const w = await makeWorld();
  const { offerId, inv } = await invoiceInFlight(w);
  const stranger = party('http://127.0.0.1:1');
  const forged = resignInvoice(inv, stranger.idSk, { payeeKey: stranger.idPk });
  const before = snapshot(w);
  await inject(w, 'B', 'S', forged);
  refused(w, /invoice must be sent by its signer/);
  assert.is(snapshot(w), before);
  hubPaidNothing(w, offerId);
  await honestInvoiceCompletes(w, offerId, inv);
});

t("S refuses an invoice after the offer's expiry even when the payee stretched the invoice's own expiry", async () => {
  const w = await makeWorld();
  const { offerId, inv } = await invoiceInFlight(w, { expiry: w.ctx.now + 60_000 });
  assert.is(inv.expiry, w.ctx.now + 60_000, 'an honest invoice never outlives the offer');
  const forged = resignInvoice(inv, w.B.idSk, { expiry: w.ctx.now + 3_600_000 });
  w.ctx.now = inv.expiry; // the offer expires at this very time; the forged invoice has not
  const before = snapshot(w);
  await inject(w, 'B', 'S', forged);
  refused(w, /offer expired/);
  assert.is(snapshot(w), before);
  hubPaidNothing(w, offerId);
});

t('S refuses an invoice past its own expiry while the offer is still open (a stale invoice delivered late)', async () => {
  const w = await makeWorld();
  const { offerId, inv } = await invoiceInFlight(w, { expiry: w.ctx.now + 7_200_000 });
  assert.is(inv.expiry, w.ctx.now + 3_600_000, "the payee's invoice lives one hour, the offer two");
  w.ctx.now = inv.expiry; // the invoice expires at this very time; the offer one hour later
  const before = snapshot(w);
  await inject(w, 'B', 'S', inv);
  refused(w, /invoice expired/);
  assert.is(snapshot(w), before);
  hubPaidNothing(w, offerId);
});

t('S refuses an invoice while the payee channel is busy with a request state, which stays pending', async () => {
  const w = await makeWorld();
  const { offerId, inv } = await invoiceInFlight(w);
  const requestId = await prepareRequest(w, 30_000);
  await run(w, ['B', 'S']); // S co-signed the payee's request state 1: it is pending on S–B
  assert.is(hubChannels(w).sb.pending?.state.n, 1);
  const before = snapshot(w);
  await inject(w, 'B', 'S', inv);
  refused(w, /busy/);
  assert.is(snapshot(w), before);
  assert.not.ok(queued(w, PaymentType.PTLC_ADD));
  assert.equal(hubChannels(w).sb.pending!.state.balances, [700_000 - 30_000, 299_000 + 30_000], 'the request state is not displaced');
  assert.is(w.hub.requests.get(requestId)!.status, 'prepared');
  assert.is(w.hub.payments.get(offerId)!.status, 'pending');
});

// ---------------------------------------------------------------------------
// The hub's proposal checks (hub.ts onPropose)

t('S refuses a proposal it reads at or after the offer expiry', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT, { expiry: w.ctx.now + 60_000 });
  w.ctx.now += 60_000; // the relay delivers it exactly at the expiry
  const before = stateOf(w.hub);
  await deliverOne(w, (to) => to === 'S');
  refused(w, /offer already expired/);
  assert.is(stateOf(w.hub), before);
  assert.not.ok(w.hub.payments.has(offerId));
  assert.is(hubChannels(w).as.pending, undefined);
  assert.not.ok(queued(w, PaymentType.UPDATE_ACCEPT));
});

t('a proposal the relay delivers twice is ignored the second time: S answers nothing and changes nothing', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  const propose = w.queue[0]!.out.message;
  await deliverOne(w, (to) => to === 'S');
  assert.is(w.hub.payments.get(offerId)!.status, 'pending');
  const before = snapshot(w),
    queuedBefore = w.queue.length;
  await inject(w, 'A', 'S', propose);
  ignoredFor(w, /duplicate proposal/);
  assert.is(snapshot(w), before);
  assert.is(w.queue.length, queuedBefore, 'no REJECT that could make A drop its state');
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
});

t('S refuses a payer proposal over a payee channel: the payee cannot make S propose paying it', async () => {
  const w = await makeWorld();
  // B sends an UPDATE_PROPOSE over S–B moving amount + fee from S (party 0) to itself.
  const fee = hubFee(AMOUNT, w.hub.config.fee);
  const forged = await forgeState(w.payee.channel, w.B, (c) => transfer(c.enforceable.state, 0, AMOUNT + fee, c.topN + 1));
  const before = stateOf(w.hub);
  await inject(w, 'B', 'S', {
    type: PaymentType.UPDATE_PROPOSE,
    channelId: w.sbParams.channelId,
    state: forged.encoded,
    offerId: randomBytes(32),
    amount: AMOUNT,
    fee,
    expiry: w.ctx.now + 3_600_000,
    receiptPoint: forged.receiptPoint,
    updatePresig: forged.updatePresig,
    settleSig: forged.settleSig,
  });
  refused(w, /the hub is party 1 of a payer channel/);
  assert.is(stateOf(w.hub), before);
  assert.is(hubChannels(w).sb.pending, undefined, 'S co-signed nothing');
  assert.not.ok(queued(w, PaymentType.UPDATE_ACCEPT));
});

t('a PTLC_FAIL for an offer the hub never extended is ignored and changes nothing', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  await run(w, ['A', 'S']); // offered, nothing extended yet
  const before = snapshot(w);
  for (const id of [randomBytes(32), hexToBytes(offerId, 32)]) {
    await inject(w, 'B', 'S', { type: PaymentType.PTLC_FAIL, channelId: w.sbParams.channelId, offerId: id, reason: 'no' });
    ignoredFor(w, /no extended PTLC to fail/);
    assert.is(snapshot(w), before);
  }
});

t('a message naming a channel its sender is not the peer of, or an unknown channel, is refused', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  await until(w, PaymentType.PTLC_ADD); // S extended its PTLC to B for A–S state 1
  const before = snapshot(w);
  // B (a peer of the hub, not of the A–S channel) fails "A's" PTLC: it would make S drop A–S state 1.
  await inject(w, 'B', 'S', {
    type: PaymentType.PTLC_FAIL,
    channelId: w.asParams.channelId,
    offerId: hexToBytes(offerId, 32),
    reason: 'no',
  });
  refused(w, /message does not come from the channel peer/);
  assert.is(snapshot(w), before);
  await inject(w, 'A', 'S', { type: PaymentType.PTLC_FAIL, channelId: randomBytes(32), offerId: hexToBytes(offerId, 32), reason: 'no' });
  refused(w, /unknown channel/);
  assert.is(snapshot(w), before);
  assert.is(hubChannels(w).as.pending!.state.n, 1);
  assert.is(w.hub.payments.get(offerId)!.status, 'extended');
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
});

t("S refuses a proposal whose fee is one sat below the hub's fee (the state matches the declared fee)", async () => {
  const w = await makeWorld();
  const fee = hubFee(AMOUNT, w.hub.config.fee) - 1;
  const offerId = await startPayment(w, AMOUNT, { fee });
  const msg = take(w, w.queue.find((q) => q.out.message.type === PaymentType.UPDATE_PROPOSE)!);
  const before = stateOf(w.hub);
  await inject(w, 'A', 'S', msg);
  refused(w, /fee \d+ below the hub's fee/);
  assert.is(stateOf(w.hub), before);
  assert.not.ok(w.hub.payments.has(offerId));
  assert.is(hubChannels(w).as.pending, undefined, 'S co-signed nothing');
  assert.not.ok(queued(w, PaymentType.UPDATE_ACCEPT));
});

t('S refuses a proposal that declares amount + fee but whose state moves less to the hub', async () => {
  const w = await makeWorld();
  const fee = hubFee(AMOUNT, w.hub.config.fee);
  const forged = await forgeState(w.payer.channel, w.A, (c) => transfer(c.enforceable.state, 0, AMOUNT + fee - 1_000, c.topN + 1));
  const offerId = randomBytes(32);
  const before = stateOf(w.hub);
  await inject(w, 'A', 'S', {
    type: PaymentType.UPDATE_PROPOSE,
    channelId: w.asParams.channelId,
    state: forged.encoded,
    offerId,
    amount: AMOUNT,
    fee,
    expiry: w.ctx.now + 3_600_000,
    receiptPoint: forged.receiptPoint,
    updatePresig: forged.updatePresig,
    settleSig: forged.settleSig,
  });
  refused(w, /does not move exactly amount \+ fee/, ErrorCode.CHANNEL_INVARIANT);
  assert.is(stateOf(w.hub), before);
  assert.is(w.hub.payments.size, 0);
  assert.is(hubChannels(w).as.pending, undefined);
  assert.not.ok(queued(w, PaymentType.UPDATE_ACCEPT));
});

/**
 * The payer's update pre-signature is what the hub buys: paying the payee reveals s_B, and only a
 * pre-signature encrypted to exactly the receipt point completes, with s_B, into the payer's update
 * signature. One that does not verify would leave the hub having paid with nothing to enforce.
 */
for (const [what, spoil] of [
  [
    'whose update pre-signature is spoiled in its s part',
    (m: PaymentMessageOf<typeof PaymentType.UPDATE_PROPOSE>) => {
      const updatePresig = m.updatePresig.slice();
      updatePresig[updatePresig.length - 1]! ^= 1;
      return { ...m, updatePresig };
    },
  ],
  [
    'whose update pre-signature is encrypted to another point than the receipt point it declares',
    (m: PaymentMessageOf<typeof PaymentType.UPDATE_PROPOSE>) => ({
      ...m,
      receiptPoint: secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true),
    }),
  ],
] as const) {
  t(`S refuses a proposal ${what}: it co-signs nothing and buys nothing`, async () => {
    const w = await makeWorld();
    const offerId = await startPayment(w, AMOUNT);
    const msg = take<PaymentMessageOf<typeof PaymentType.UPDATE_PROPOSE>>(
      w,
      w.queue.find((q) => q.out.message.type === PaymentType.UPDATE_PROPOSE)!,
    );
    const before = stateOf(w.hub);
    await inject(w, 'A', 'S', spoil(msg));
    refused(w, /update pre-signature .* does not verify/, ErrorCode.INVALID_ADAPTOR_SIGNATURE);
    assert.is(stateOf(w.hub), before);
    assert.not.ok(w.hub.payments.has(offerId));
    assert.is(hubChannels(w).as.pending, undefined, 'S co-signed nothing');
    assert.not.ok(queued(w, PaymentType.UPDATE_ACCEPT));
  });
}

t('a payer cannot overwrite a state whose PTLC the hub already extended with a new proposal', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  await until(w, PaymentType.PTLC_ADD); // S extended its PTLC to B for A–S state 1
  assert.is(w.hub.payments.get(offerId)!.status, 'extended');
  // A proposes state 2 (a small payment to someone else) to displace state 1 at the hub.
  const small = 10_000,
    fee = hubFee(small, w.hub.config.fee);
  const forged = await forgeState(w.payer.channel, w.A, (c) => transfer(c.enforceable.state, 0, small + fee, c.topN + 1));
  assert.is(forged.state.n, 2);
  const before = stateOf(w.hub);
  await inject(w, 'A', 'S', {
    type: PaymentType.UPDATE_PROPOSE,
    channelId: w.asParams.channelId,
    state: forged.encoded,
    offerId: randomBytes(32),
    amount: small,
    fee,
    expiry: w.ctx.now + 3_600_000,
    receiptPoint: forged.receiptPoint,
    updatePresig: forged.updatePresig,
    settleSig: forged.settleSig,
  });
  refused(w, /a PTLC is already extended for the pending state/);
  assert.is(stateOf(w.hub), before);
  assert.is(hubChannels(w).as.pending!.state.n, 1, 'state 1 is still the one S pays for');
  assert.is(w.hub.payments.get(offerId)!.status, 'extended');
  assert.not.ok(queued(w, PaymentType.UPDATE_ACCEPT));
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed', 'S, having paid B, gets state 1');
  assert.is(hubChannels(w).as.enforceable.state.n, 1);
});

t("a payer's cancellation must restore the balances: a cancel that moves the hub's money to the payer is refused", async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  await run(w, ['A', 'S']); // offered; B offline
  // A "cancels" with state 2 paying itself 10 000 of the hub's balance, signed like a genuine cancel.
  const forged = await forgeState(w.payer.channel, w.A, (c) => transfer(c.enforceable.state, 1, 10_000, c.topN + 1));
  const before = snapshot(w);
  await inject(w, 'A', 'S', {
    type: PaymentType.CANCEL_PROPOSE,
    channelId: w.asParams.channelId,
    offerId: hexToBytes(offerId, 32),
    state: forged.encoded,
    updateNonce: forged.updateNonce,
    settleSig: forged.settleSig,
  });
  refused(w, /cancellation state must restore the last enforceable balances/, ErrorCode.CHANNEL_INVARIANT);
  assert.is(snapshot(w), before);
  assert.not.ok(queued(w, PaymentType.CANCEL_ACCEPT), 'S signed no update of that state');
  assert.is(hubChannels(w).as.pending!.state.n, 1);
  assert.equal(hubChannels(w).as.enforceable.state.balances, [600_000, 399_000]);
  assert.is(w.hub.payments.get(offerId)!.status, 'pending');
  // A cancellation for an offer the hub never saw is refused too.
  await inject(w, 'A', 'S', {
    type: PaymentType.CANCEL_PROPOSE,
    channelId: w.asParams.channelId,
    offerId: randomBytes(32),
    state: forged.encoded,
    updateNonce: forged.updateNonce,
    settleSig: forged.settleSig,
  });
  refused(w, /unknown offer/);
  assert.is(snapshot(w), before);
});

// ---------------------------------------------------------------------------
// The offerer's check of the fulfillment (ptlc-exchange.ts checkFulfill)

t("the payee's fulfillment cannot propose a state paying it more than the PTLC, even signed and with the right secret", async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  const f = take<PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>>(w, await until(w, PaymentType.PTLC_FULFILL));
  const honest = decodeChannelState(f.state);
  const greedy = { ...honest, balances: [honest.balances[0] - 5_000, honest.balances[1] + 5_000] as [number, number] };
  const forged = { ...f, state: encodeChannelState(greedy), settleSig: signSettlement(w.sbParams, greedy, w.B.chSk) };
  const before = snapshot(w);
  await inject(w, 'B', 'S', forged);
  refused(w, /fulfilled state does not pay exactly the PTLC to the receiver/, ErrorCode.CHANNEL_INVARIANT);
  assert.is(snapshot(w), before);
  assert.is(w.hub.payments.get(offerId)!.status, 'committed');
  assert.is(hubChannels(w).as.pending!.updateSigs[0], null, "S did not take A's signature");
  assert.not.ok(queued(w, PaymentType.PTLC_SETTLE), 'S co-signed nothing');
  dropRejectsTo(w, 'B'); // it answers the forgery, which B's engine never sent
  await inject(w, 'B', 'S', f);
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
  assert.equal(w.payee.channel.enforceable.state.balances, [700_000 - AMOUNT, 299_000 + AMOUNT], 'B got exactly the PTLC');
});

t(
  "the payee's fulfillment with a secret that does not match the PTLC's point is refused: S settles nothing and takes nothing",
  async () => {
    const w = await makeWorld();
    const offerId = await startPayment(w, AMOUNT);
    const f = take<PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>>(w, await until(w, PaymentType.PTLC_FULFILL));
    const r = hexToBytes(w.hub.payments.get(offerId)!.tweak!, 32);
    const wrong = f.secret.slice();
    wrong[31]! ^= 1;
    // A secret off by one bit, and the hub's own tweak r (t + r = r: t = 0), with a valid state and signature.
    for (const secret of [wrong, r]) {
      const before = snapshot(w);
      await inject(w, 'B', 'S', { ...f, secret });
      refused(w, /secret does not match the payment point/, ErrorCode.INVALID_SIGNATURE);
      assert.is(snapshot(w), before);
      assert.is(w.hub.payments.get(offerId)!.status, 'committed');
      assert.is(hubChannels(w).as.pending!.updateSigs[0], null, "S did not take A's signature");
      assert.not.ok(queued(w, PaymentType.PTLC_SETTLE), 'S co-signed nothing');
      assert.not.ok(queued(w, PaymentType.COMPLETION), 'S told the payer nothing');
    }
    await inject(w, 'B', 'S', f);
    await run(w);
    assert.is(w.payer.payments.get(offerId)!.status, 'completed');
  },
);

t('the payer refuses a completion whose secret does not match the receipt point: its update n stays uncompleted', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  const c = take<PaymentMessageOf<typeof PaymentType.COMPLETION>>(w, await until(w, PaymentType.COMPLETION));
  const wrong = c.secret.slice();
  wrong[31]! ^= 1;
  const before = stateOf(w.payer);
  await rejectsCode(
    inject(w, 'S', 'A', { ...c, secret: wrong }),
    ErrorCode.PAYMENT_REJECTED,
    'revealed secret does not match the receipt point',
  );
  assert.is(stateOf(w.payer), before, 'A took nothing');
  assert.is(w.payer.payments.get(offerId)!.status, 'offered');
  await inject(w, 'S', 'A', c);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
});

// ---------------------------------------------------------------------------
// The payee's checks (ptlc-exchange.ts acceptPtlc, payee.ts onOffer)

t('B refuses a PTLC whose claim pre-signature does not complete: on chain it could not claim with t', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  const add = take<PaymentMessageOf<typeof PaymentType.PTLC_ADD>>(w, await until(w, PaymentType.PTLC_ADD));
  const presig = add.claimPresig.slice();
  presig[presig.length - 1]! ^= 1; // S's pre-signature, spoiled in its s' part
  const forged = { ...add, claimPresig: presig };
  const before = stateOf(w.payee);
  await inject(w, 'S', 'B', forged);
  refused(w, /claim pre-signature does not verify/, ErrorCode.INVALID_ADAPTOR_SIGNATURE);
  assert.is(stateOf(w.payee), before, 'B co-signed nothing and reveals nothing');
  assert.is(w.payee.channel.pending, undefined);
  assert.is(w.payee.payments.get(offerId)!.status, 'invoiced');
  assert.not.ok(queued(w, PaymentType.PTLC_ACCEPT));
  assert.ok(queued(w, PaymentType.PTLC_FAIL), 'B answers PTLC_FAIL so S drops the state');

  // Why: with the state on chain, B's claim needs S's signature, which is the pre-signature completed by
  // B's t + r. The genuine one completes into a valid claim; the spoiled one into a signature the chain refuses.
  const state = decodeChannelState(add.state);
  const { spec, sweep } = ptlcOf(w.sbParams, state, hexToBytes(offerId, 32));
  const chain = new ChainModel();
  const coin = chain.fund({ amount: ptlcOutput(spec).amount, script: ptlcOutput(spec).scriptPubKey }, at(800_001));
  const secret = tweakSecret(await payeeReceiptSecret(w, offerId), add.tweak);
  const payee = signClaim(spec, sweep, ptlcSecretKey(w.sbParams, w.B.chSk));
  const claim = buildClaimTx(spec, sweep, coin, { payer: completeClaimSignature(add.claimPresig, secret), payee });
  const [payeeSig, , ...leaf] = claim.inputs[0]!.witness;
  const spoiled = { ...claim, inputs: [{ ...claim.inputs[0]!, witness: [payeeSig!, completeClaimSignature(presig, secret), ...leaf] }] };
  rejects(() => chain.submit(spoiled, at(800_002)), 'signature', 'the spoiled pre-signature never completes into a claim');
  chain.submit(claim, at(800_002));
  assert.is(chain.coin(outpointOf(claim))?.amount, BigInt(spec.amount - sweep.fee));
  // S reads the PTLC_FAIL and drops the state: neither side holds a PTLC the payee cannot claim.
  await run(w, ['S']);
  assert.is(hubChannels(w).sb.pending, undefined);
  assert.is(w.hub.payments.get(offerId)!.status, 'pending');
});

t('B refuses, with PTLC_FAIL, a PTLC whose tweak is not below the curve order', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  const add = take<PaymentMessageOf<typeof PaymentType.PTLC_ADD>>(w, await until(w, PaymentType.PTLC_ADD));
  // r + n names the same point offset as r, but is not a canonical scalar.
  const tweak = numberToBytesBE((bytesToNumberBE(add.tweak) % 2n ** 128n) + secp256k1.Point.Fn.ORDER, 32);
  const before = stateOf(w.payee);
  await inject(w, 'S', 'B', { ...add, tweak });
  refused(w, /tweak: not below the curve order/, ErrorCode.INVALID_RANGE);
  assert.is(stateOf(w.payee), before);
  assert.ok(queued(w, PaymentType.PTLC_FAIL));
  assert.is(w.payee.payments.get(offerId)!.status, 'invoiced');
});

t('B refuses a PTLC_ADD naming another channel, and one whose state does not hold the PTLC of its offer', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  const add = take<PaymentMessageOf<typeof PaymentType.PTLC_ADD>>(w, await until(w, PaymentType.PTLC_ADD));
  const before = stateOf(w.payee);
  await inject(w, 'S', 'B', { ...add, channelId: randomBytes(32) });
  refused(w, /PTLC on an unknown channel/);
  assert.is(stateOf(w.payee), before);
  // S's state 2 (signed by S) holds a PTLC under another id, paying B nothing for this offer.
  const ptlc = decodeChannelState(add.state).ptlcs[0]!;
  const forged = await forgeState(hubChannels(w).sb, w.S, (c) =>
    addPtlc(c.enforceable.state, { ...ptlc, id: randomBytes(32) }, c.topN + 1),
  );
  await inject(w, 'S', 'B', { ...add, state: forged.encoded, settleSig: forged.settleSig, updateNonce: forged.updateNonce });
  refused(w, /state does not contain the PTLC/);
  assert.is(stateOf(w.payee), before);
  assert.is(w.payee.payments.get(offerId)!.status, 'invoiced');
  assert.not.ok(queued(w, PaymentType.PTLC_ACCEPT));
});

t('B issues no invoice for an offer that reaches it after its expiry', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT, { expiry: w.ctx.now + 60_000 });
  const offer = take(w, await until(w, PaymentType.OFFER, ['A', 'S']));
  w.ctx.now += 60_000; // the relay held it, or B was away: it arrives at the expiry
  await inject(w, 'A', 'B', offer);
  ignoredFor(w, /offer expired/);
  assert.not.ok(w.payee.payments.has(offerId));
  assert.not.ok(queued(w, PaymentType.INVOICE), 'no invoice for an expired offer');
});

t('B burns no ticket for an offer whose terms differ from what its hub attested (another amount)', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  const offer = take<PaymentMessageOf<typeof PaymentType.OFFER>>(w, await until(w, PaymentType.OFFER, ['A', 'S']));
  // A asks B for a receipt of a larger amount than the state S holds: the receipt point differs
  // from the one S attested (and pays for), so B must not burn its ticket for it.
  const tickets = [...w.payee.tickets];
  await inject(w, 'A', 'B', { ...offer, amount: AMOUNT * 10 });
  ignoredFor(w, /not attested by its hub/);
  assert.not.ok(w.payee.payments.has(offerId));
  assert.equal(w.payee.tickets, tickets, 'the ticket is still unused');
  assert.not.ok(queued(w, PaymentType.INVOICE));
});

t('B refuses an offer naming a ticket it never issued: REJECT to its hub, no invoice', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  const offer = take<PaymentMessageOf<typeof PaymentType.OFFER>>(w, await until(w, PaymentType.OFFER, ['A', 'S']));
  // S attests a receipt point built on a ticket B never published (S colludes with A, or A guessed).
  const ticket = getPublicKey(randomBytes(32));
  const fields = { offerId: offer.offerId, amount: offer.amount, payer: w.A.idPk, payee: w.B.idPk, expiry: offer.expiry };
  const point = receiptPoint(ticket, w.B.idPk, fields);
  const attestation = sign(attestationMessage(offer.offerId, point, offer.amount, offer.expiry), w.S.idSk);
  await inject(w, 'A', 'B', { ...offer, ticket, attestation });
  assert.is(w.payee.payments.get(offerId)?.status, 'failed');
  const rej = w.queue.find((q) => q.out.message.type === PaymentType.REJECT)?.out.message;
  assert.ok(rej?.type === PaymentType.REJECT && rej.code === ErrorCode.NONCE_UNKNOWN && rej.refType === PaymentType.OFFER);
  assert.not.ok(queued(w, PaymentType.INVOICE));
});

t('B ignores REJECT and OFFER_VOID from strangers: unsigned messages cannot fail or void its payment', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  await until(w, PaymentType.INVOICE); // B invoiced; its payment is open
  const stranger = party('http://127.0.0.1:1');
  const ref = hexToBytes(offerId, 32);
  const before = stateOf(w.payee);
  for (const message of [
    { type: PaymentType.REJECT, refType: PaymentType.INVOICE, ref, code: ErrorCode.PAYMENT_REJECTED, message: 'no' },
    { type: PaymentType.OFFER_VOID, offerId: ref, reason: 'cancelled by payer' },
  ] as const) {
    const s = await w.payee.handle({ from: stranger.idPk, message }, w.ctx);
    assert.equal(s.send, []);
    assert.ok(s.events[0]?.kind === 'ignored', JSON.stringify(s.events));
    assert.is(stateOf(w.payee), before, `a stranger's ${message.type} changed B's payment`);
  }
  // The hub's REJECT for something B never invoiced changes nothing either.
  const s = await w.payee.handle(
    { from: w.S.idPk, message: { type: PaymentType.REJECT, refType: PaymentType.INVOICE, ref: randomBytes(32), code: 'X', message: '' } },
    w.ctx,
  );
  assert.ok(s.events[0]?.kind === 'ignored');
  assert.is(stateOf(w.payee), before);
  await run(w);
  assert.is(w.payee.payments.get(offerId)!.status, 'paid');
});

t('B issues no invoice for an offer through a hub it cannot reach', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  const offer = take<PaymentMessageOf<typeof PaymentType.OFFER>>(w, await until(w, PaymentType.OFFER, ['A', 'S']));
  await inject(w, 'A', 'B', { ...offer, hub: party('http://127.0.0.1:1').idPk });
  ignoredFor(w, /offer through a hub we cannot reach/);
  assert.not.ok(w.payee.payments.has(offerId));
  assert.not.ok(queued(w, PaymentType.INVOICE));
});

t("A's hub cannot make A's engine act on a REJECT for a payment A never made", async () => {
  const w = await makeWorld();
  const before = stateOf(w.payer);
  const s = await w.payer.handle(
    { from: w.S.idPk, message: { type: PaymentType.REJECT, refType: 0, ref: randomBytes(32), code: 'X', message: '' } },
    w.ctx,
  );
  assert.ok(s.events[0]?.kind === 'ignored');
  assert.is(stateOf(w.payer), before);
});

t(
  "the payer's API refuses what would displace its channel state: an offer expiring now, a cancel of nothing, a request it does not have, a second purchase",
  async () => {
    const w = await makeWorld();
    await rejectsCode(startPayment(w, AMOUNT, { expiry: w.ctx.now }), ErrorCode.PAYMENT_REJECTED);
    assert.is(w.payer.channel.pending, undefined);
    await rejectsCode(w.payer.cancel('00'.repeat(32)), ErrorCode.PAYMENT_REJECTED);
    await rejectsCode(w.payer.payRequest('00'.repeat(32), 0, w.ctx), ErrorCode.PAYMENT_REJECTED);
    // An offer is in flight: paying a request now would overwrite its state.
    const offerId = await startPayment(w, AMOUNT);
    await run(w, ['A', 'S']);
    const requestId = await prepareRequest(w, 20_000);
    await run(w, ['B', 'S']);
    await run(w, ['A']);
    assert.ok(w.payer.requests.has(requestId));
    const pending = JSON.stringify(w.payer.channel.toJSON());
    await rejectsCode(w.payer.payRequest(requestId, hubFee(20_000, w.hub.config.fee), w.ctx), ErrorCode.PAYMENT_REJECTED);
    assert.is(JSON.stringify(w.payer.channel.toJSON()), pending, 'the offer state is still pending');
    assert.is(w.payer.requests.get(requestId)!.status, 'received');
    assert.is(w.payer.payments.get(offerId)!.status, 'offered');
    assert.throws(() => new Payer(w.payer.config, hubChannels(w).as, w.A.nonces), /party 0/);
  },
);

t("a PTLC timing out exactly at the payee's minimum is accepted", async () => {
  const w = await makeWorld({ payeeDelta: 23 }); // S–B CSV 24: B needs height + 25; S offers height + 23 + slack 2
  const offerId = await startPayment(w, AMOUNT);
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
});

t("the payer cannot fail the hub's PTLC to the payee by sending PTLC_FAIL over its own channel", async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  await until(w, PaymentType.PTLC_ADD); // S extended its PTLC to B for A–S state 1
  const before = snapshot(w);
  // PTLC_FAIL carries no signature; A names its own channel (so the sender check passes) and the offer.
  await inject(w, 'A', 'S', {
    type: PaymentType.PTLC_FAIL,
    channelId: w.asParams.channelId,
    offerId: hexToBytes(offerId, 32),
    reason: 'no',
  });
  assert.is(w.hub.payments.get(offerId)!.status, 'extended', 'the PTLC to B is still extended');
  assert.is(hubChannels(w).as.pending?.state.n, 1, "S still holds A–S state 1, the state it is buying A's signature for");
  assert.is(snapshot(w), before);
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
  assert.is(w.payee.payments.get(offerId)!.status, 'paid');
});

t.run();
