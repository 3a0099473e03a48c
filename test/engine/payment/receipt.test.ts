/**
 * Proof of payment (SPEC 6.16), engine level: the payer ends with the payee's
 * BIP340 signature over the payment, which exists only if the payee revealed
 * it against an enforceable PTLC. A verifies it; A and S together cannot make
 * one for a payment that never happened; the payee's tickets are burned
 * exactly once, across restarts and store faults; two payers racing for one
 * ticket end cleanly; and on chain, the hub learns `s_B` from the payee's
 * claim and completes the payer's update, from which the payer learns it too.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex, hexToBytes } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { rejectsCode } from '../../helpers.js';
import { adaptorAdapt, adaptorExtract, adaptorPoint } from '../../../crypto/adaptor.js';
import { getPublicKey, sign } from '../../../crypto/bip340.js';
import { bindTicketNonce, signWithCommittedNonce, ticketNonceId } from '../../../crypto/nonce.js';
import { untweakSecret } from '../../../crypto/tweak.js';
import { PaymentType, decodePayment, encodePayment, type PaymentMessage, type PaymentMessageOf } from '../../../protocol/payment.js';
import {
  MAX_TICKETS,
  decodeReceipt,
  encodeReceipt,
  openTicketBatch,
  receiptMessage,
  receiptSecretKey,
  verifyReceipt,
} from '../../../protocol/receipt.js';
import { buildSettlementTx, fundingOutput } from '../../../engine/bitcoin/eltoo.js';
import { buildClaimTx, completeClaimSignature, extractPtlcSecret, signClaim } from '../../../engine/bitcoin/ptlc-output.js';
import { txid } from '../../../engine/bitcoin/transaction.js';
import { openChannelPair } from '../../../engine/channel/open.js';
import { CHANNEL_UPDATE_HASH_TYPE, eltooTerms, ptlcOf, ptlcSecretKey, settlementSpec } from '../../../engine/channel/onchain.js';
import { Hub } from '../../../engine/payment/hub/hub.js';
import { Payee } from '../../../engine/payment/payee/payee.js';
import { Payer } from '../../../engine/payment/payer/payer.js';
import { hubFee } from '../../../engine/payment/fee.js';
import type { Step } from '../../../engine/payment/types.js';
import { ChainModel } from '../bitcoin/chain-model.js';
import { at, out0, publishUpdate, sigs } from './chain.js';
import {
  channelParams,
  makeWorld,
  party,
  post,
  reusedNonces,
  run,
  startPayment,
  stateOf,
  take,
  ticketFor,
  until,
  type Party,
  type World,
} from './fixture.js';

const t = suite('payment/receipt');
const AMOUNT = 50_000;

/** Every 32-byte scalar and key an attacker holding `records` and `msgs` knows (hex), for forgery attempts. */
function knownScalars(...values: unknown[]): Uint8Array[] {
  const out = new Map<string, Uint8Array>();
  const visit = (v: unknown): void => {
    if (v instanceof Uint8Array) {
      for (let i = 0; i + 32 <= v.length; i++) out.set(bytesToHex(v.subarray(i, i + 32)), v.slice(i, i + 32));
      return;
    }
    if (typeof v === 'string' && /^[0-9a-f]{64,}$/.test(v) && v.length % 2 === 0) return visit(hexToBytes(v));
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') Object.values(v).forEach(visit);
  };
  values.forEach(visit);
  return [...out.values()];
}

t('A verifies the receipt: the payee signed this payment under its receipt key, checkable from its address alone', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  await run(w);
  const p = w.payer.payments.get(offerId)!;
  assert.is(p.status, 'completed');
  const receipt = hexToBytes(p.receipt!.receipt);
  assert.ok(verifyReceipt(receipt, w.B.address), 'anyone with B’s address verifies it');
  const r = decodeReceipt(receipt);
  assert.is(bytesToHex(r.offerId), offerId);
  assert.is(r.amount, AMOUNT);
  assert.is(bytesToHex(r.payer), bytesToHex(w.A.idPk));
  assert.is(bytesToHex(r.payee), bytesToHex(w.B.idPk));
  assert.is(bytesToHex(r.signature.subarray(0, 32)), p.ticket, 'its nonce is the ticket A chose');
  const done = w.events.find((e) => e.kind === 'completed');
  // One shape: the event's receipt is the stored one, field for field (hex).
  assert.ok(done?.kind === 'completed');
  assert.equal(done.receipt, p.receipt);
  assert.ok(/^[0-9a-f]+$/.test(done.receipt.receipt) && /^[0-9a-f]{64}$/.test(done.receipt.secret));
  // B saw neither A's channel key, its state key nor the update sighash: the offer carries none.
  const offer = w.log.find((l) => l.message.type === PaymentType.OFFER)!.message;
  const offerHex = bytesToHex(encodePayment(offer));
  for (const secretish of [w.payer.channel.stateKey(0), w.payer.channel.params.keys[0]!, getPublicKey(w.A.chSk)])
    assert.not.ok(offerHex.includes(bytesToHex(secretish)), "the offer names none of A's channel keys");
  assert.not.ok(w.log.some((l) => l.to === 'B' && l.message.type === PaymentType.OFFER && 'payerSig' in l.message));
});

t(
  'A and S together cannot make a receipt for a payment B never took: every value they hold fails, and B signs nothing for them',
  async () => {
    const w = await makeWorld();
    const offerId = await startPayment(w, AMOUNT);
    // A and S run their part; the offer sits in B's mailbox and B never comes online.
    await run(w, ['A', 'S']);
    const p = w.payer.payments.get(offerId)!;
    assert.is(p.status, 'offered');
    const fields = { offerId: hexToBytes(offerId, 32), amount: AMOUNT, payer: w.A.idPk, payee: w.B.idPk, expiry: p.expiry };
    const m = receiptMessage(fields);
    const ticket = hexToBytes(p.ticket!, 32);
    // Everything A and S know: both engines' state, every message so far (the offer included),
    // their identity and channel secret keys, and B's published keys.
    const known = knownScalars(w.payer.toJSON(), w.hub.toJSON(), w.log, w.queue, [w.A.idSk, w.A.chSk, w.S.idSk, w.S.chSk], [m]);
    assert.ok(known.length > 100, 'a broad search');
    const tries = (s: Uint8Array) => verifyReceipt({ ...fields, signature: new Uint8Array([...ticket, ...s]) }, w.B.address);
    for (const s of known) assert.not.ok(tries(s), 'a scalar A and S hold is not s_B');
    // Adapting A's pre-signature with anything they know does not complete it either.
    const presig = hexToBytes(p.presig!, 65);
    for (const s of known.slice(0, 50)) {
      let sig: Uint8Array;
      try {
        sig = adaptorAdapt(presig, s);
      } catch {
        continue;
      }
      assert.not.ok(tries(sig.subarray(32, 64)));
    }
    // Their own signatures over m, under their own keys or B's identity key's public data, are no receipt.
    for (const sk of [w.A.idSk, w.S.idSk, w.A.chSk, w.S.chSk])
      assert.not.ok(verifyReceipt({ ...fields, signature: sign(m, sk) }, w.B.address));
    // Nor can they get B to sign another message with the ticket of this offer later on (it is bound
    // once B takes the offer): B's ticket signs its own offer's m and nothing else.
    await run(w, ['B']);
    const id = ticketNonceId(ticket);
    await bindTicketNonce(w.B.nonces, id, receiptSecretKey(w.B.idSk), m);
    const forged = receiptMessage({ ...fields, amount: AMOUNT * 100 });
    await assertCode(bindTicketNonce(w.B.nonces, id, receiptSecretKey(w.B.idSk), forged), ErrorCode.NONCE_REUSE);
    await assertCode(signWithCommittedNonce(w.B.nonces, id, receiptSecretKey(w.B.idSk), forged), ErrorCode.NONCE_REUSE);
    // A receipt of another, real payment does not verify for this one.
    await run(w);
    const real = decodeReceipt(hexToBytes(w.payer.payments.get(offerId)!.receipt!.receipt));
    assert.not.ok(verifyReceipt({ ...real, amount: AMOUNT * 100 }, w.B.address));
  },
);

t('S cannot complete the payer’s update, nor hand A a receipt, without buying s_B: a made-up COMPLETION is refused', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  await run(w, ['A', 'S']);
  const p = w.payer.payments.get(offerId)!;
  // S completes the payer's pre-signature with a scalar of its own: the result is no signature.
  const fake = sign(new Uint8Array(32).fill(1), w.S.chSk).subarray(32, 64);
  const sigA = new Uint8Array([...adaptorAdapt(hexToBytes(p.presig!, 65), fake), CHANNEL_UPDATE_HASH_TYPE]);
  const hubView = w.hub.peers.get(bytesToHex(w.asParams.channelId))!.channel;
  assert.throws(() => hubView.receiveUpdateSig(sigA, 0), /does not verify/);
  const before = JSON.stringify(w.payer.toJSON());
  const step = await w.payer
    .handle(
      {
        from: w.S.idPk,
        message: {
          type: PaymentType.COMPLETION,
          channelId: w.asParams.channelId,
          n: p.n,
          offerId: hexToBytes(offerId, 32),
          secret: fake,
          updateSig: new Uint8Array(65),
        },
      },
      w.ctx,
    )
    .catch((e: { code?: string }) => e.code);
  assert.is(step, ErrorCode.PAYMENT_REJECTED);
  assert.is(JSON.stringify(w.payer.toJSON()), before, 'A took nothing');
});

async function assertCode(p: Promise<unknown>, code: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.is((e as { code?: string }).code, code);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

t('an offer whose ticket is not a point on the curve is ignored with its reason, not a crash; the genuine offer is paid', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  await run(w, ['A', 'S']);
  const q = await until(w, PaymentType.OFFER, ['A', 'S']);
  const offer = q.out.message as PaymentMessageOf<typeof PaymentType.OFFER>;
  const before = JSON.stringify(w.payee.toJSON());
  // x = p − 1 has no point on secp256k1 (and 0xff…ff is above the field).
  for (const ticket of [hexToBytes('ff'.repeat(32)), hexToBytes(`${'ff'.repeat(27)}fffffc2e`)]) {
    const s = await w.payee.handle({ from: w.S.idPk, message: { ...offer, ticket } }, w.ctx);
    assert.equal(s.send, [], 'nothing answered');
    assert.ok(
      s.events.some((e) => e.kind === 'ignored' && /not a valid nonce point/.test(e.reason)),
      JSON.stringify(s.events),
    );
  }
  assert.is(JSON.stringify(w.payee.toJSON()), before, 'no ticket burned, nothing recorded');
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
});

t('issueTickets takes a whole target of 1 to MAX_TICKETS: anything else is INVALID_RANGE and commits nothing', async () => {
  const w = await makeWorld();
  const before = JSON.stringify(w.payee.toJSON());
  for (const target of [0, -1, 1.5, Number.NaN, MAX_TICKETS + 1])
    await rejectsCode(w.payee.issueTickets(target, w.ctx.now), ErrorCode.INVALID_RANGE, `target ${target}`);
  assert.is(JSON.stringify(w.payee.toJSON()), before, 'no ticket was added');
  const batch = openTicketBatch(await w.payee.issueTickets(MAX_TICKETS, w.ctx.now), w.B.address);
  assert.is(batch.tickets.length, MAX_TICKETS, 'the largest batch is allowed');
});

t('tickets survive a restart and are never reused: a burned ticket is refused after the payee restarts from its store', async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  await run(w);
  const used = w.payer.payments.get(offerId)!.ticket!;
  const batch = await w.payee.issueTickets(4, w.ctx.now);
  // Restart: a new engine from the persisted state and the same nonce store.
  const saved = JSON.parse(JSON.stringify(w.payee.toJSON()));
  w.payee = new Payee(w.payee.config, w.payee.channel, w.B.nonces, saved.payments, saved.requests, saved.tickets);
  assert.equal(w.payee.tickets, saved.tickets);
  assert.not.ok(w.payee.tickets.includes(used), 'the burned ticket is not offered again');
  assert.is(bytesToHex(await w.payee.issueTickets(4, w.ctx.now)).slice(0, 66), bytesToHex(batch).slice(0, 66));
  // A second payment naming the burned ticket (a stale batch at a relay) is refused by the store.
  const { offerId: second, step } = await w.payer.pay(
    {
      payee: { publicKey: w.B.idPk, address: w.B.address },
      ticket: hexToBytes(used, 32),
      amount: 1_000,
      fee: hubFee(1_000, w.hub.config.fee),
      expiry: w.ctx.now + 3_600_000,
    },
    w.ctx,
  );
  post(w, 'A', step);
  await run(w);
  assert.is(w.payee.payments.get(second)!.status, 'failed');
  assert.ok(w.events.some((e) => e.kind === 'rejected' && e.offerId === second && e.code === ErrorCode.NONCE_REUSE));
  assert.is(w.payer.payments.get(second)!.status, 'cancelled', 'the payer cancels: its funds come back');
  assert.is(w.payer.channel.pending, undefined);
  assert.equal(reusedNonces(w.log.map((l) => l.message)), [], 'no nonce signed two messages');
});

t('a ticket burned by a step that was never committed is not published again: the nonce store decides', async () => {
  const w = await makeWorld();
  await w.payee.issueTickets(3, w.ctx.now);
  const [first] = w.payee.tickets;
  // The burn of an offer whose step then failed for good (say it was replayed after its expiry):
  // the store holds the ticket bound, the engine's list still names it.
  await bindTicketNonce(w.B.nonces, ticketNonceId(hexToBytes(first!, 32)), receiptSecretKey(w.B.idSk), new Uint8Array(32).fill(7));
  assert.ok(w.payee.tickets.includes(first!));
  const batch = await w.payee.issueTickets(3, w.ctx.now);
  assert.not.ok(w.payee.tickets.includes(first!), 'the bound ticket left the list');
  assert.is(w.payee.tickets.length, 3, 'topped up with a fresh one');
  assert.not.ok(bytesToHex(batch).includes(first!), 'and it is not in the published batch');
});

for (const when of ['before', 'after'] as const) {
  t(`tickets with the payee's store failing ${when} every write: issued distinct, burned once, the payment completes`, async () => {
    const w = await makeWorld();
    // Issuing under faults: each failed call leaves the engine as it was; the retry issues anew.
    let fired = 0;
    for (let k = 1; ; k++) {
      w.B.faults.arm(k, when);
      try {
        await w.payee.issueTickets(3, w.ctx.now);
        w.B.faults.disarm();
        break;
      } catch (e) {
        const f = w.B.faults.fired;
        w.B.faults.disarm();
        if (!f) throw e;
        fired++;
        assert.is(w.payee.tickets.length, 0, 'a failed issue leaves no ticket behind');
      }
    }
    assert.ok(fired > 0);
    assert.is(new Set(w.payee.tickets).size, 3);
    const ticket = hexToBytes(w.payee.tickets[0]!, 32);
    const { offerId, step } = await w.payer.pay(
      {
        payee: { publicKey: w.B.idPk, address: w.B.address },
        ticket,
        amount: AMOUNT,
        fee: hubFee(AMOUNT, w.hub.config.fee),
        expiry: w.ctx.now + 3_600_000,
      },
      w.ctx,
    );
    post(w, 'A', step);
    const offer = take<Extract<PaymentMessage, { type: 3 }>>(w, await until(w, PaymentType.OFFER, ['A', 'S']));
    // The burn under faults: B's offer step fails at each write in turn and is replayed.
    for (let k = 1; ; k++) {
      const before = JSON.stringify(w.payee.toJSON());
      w.B.faults.arm(k, when);
      let s: Step;
      try {
        s = await w.payee.handle({ from: w.A.idPk, message: decodePayment(offer.type, encodePayment(offer)) }, w.ctx);
      } catch (e) {
        const f = w.B.faults.fired;
        w.B.faults.disarm();
        if (!f) throw e;
        assert.is(JSON.stringify(w.payee.toJSON()), before, 'a failed step changes nothing in the engine');
        continue;
      }
      w.B.faults.disarm();
      post(w, 'B', s);
      break;
    }
    await run(w);
    assert.is(w.payer.payments.get(offerId)!.status, 'completed');
    assert.ok(verifyReceipt(hexToBytes(w.payer.payments.get(offerId)!.receipt!.receipt), w.B.address));
    assert.equal(reusedNonces(w.log.map((l) => l.message)), []);
    // The ticket is bound to that payment's m for good: another message is refused.
    await assertCode(
      bindTicketNonce(w.B.nonces, ticketNonceId(ticket), receiptSecretKey(w.B.idSk), new Uint8Array(32)),
      ErrorCode.NONCE_REUSE,
    );
  });
}

t("the hub passes a payee's refusal of an offer to the payer only from a payee peer, and only for a pending offer", async () => {
  const w = await makeWorld();
  const offerId = await startPayment(w, AMOUNT);
  await run(w, ['A', 'S']);
  const reject = (from: Uint8Array, refType: number = PaymentType.OFFER) =>
    w.hub.handle(
      {
        from,
        message: {
          type: PaymentType.REJECT,
          refType,
          ref: hexToBytes(offerId, 32),
          code: ErrorCode.NONCE_REUSE,
          message: 'used',
        },
      },
      w.ctx,
    );
  // The payer itself (a peer, but of a payer channel) and a stranger: nothing is passed on.
  for (const from of [w.A.idPk, party('http://127.0.0.1:1').idPk]) {
    const s = await reject(from);
    assert.is(s.send.length, 0);
  }
  // The payee refusing something else under the offer's id (a PTLC, an invoice): not a refused offer.
  for (const refType of [PaymentType.PTLC_ADD, PaymentType.INVOICE, PaymentType.REJECT]) {
    const s = await reject(w.B.idPk, refType);
    assert.is(s.send.length, 0, `a refusal of message type ${refType} is not passed on`);
  }
  assert.is(w.payer.payments.get(offerId)!.status, 'offered');
  // The payee: passed on to the payer, which cancels at once; its funds come back.
  const s = await reject(w.B.idPk);
  assert.is(s.send.length, 1);
  assert.is(s.send[0]!.to, w.A.address);
  post(w, 'S', s);
  await run(w, ['A', 'S']);
  assert.is(w.payer.payments.get(offerId)!.status, 'cancelled');
  assert.equal(w.payer.channel.enforceable.state.balances, [600_000, 399_000]);
  // Once the offer is no longer pending, a refusal changes nothing.
  assert.is((await reject(w.B.idPk)).send.length, 0);
});

/** The world plus a second payer A2 with its own channel to the hub. */
async function withSecondPayer(w: World): Promise<{ A2: Party; payer2: Payer }> {
  const A2 = party('http://127.0.0.1:1');
  const params = channelParams(A2.chPk, w.S.chPk, { csvDelay: 288 });
  const [a2, s2] = await openChannelPair(params, [600_000, 399_000], A2.chSk, w.S.chSk, A2.nonces, w.S.nonces);
  const peers = [...w.hub.peers.values()];
  w.hub = new Hub(w.hub.config, [...peers, { channel: s2, peerKey: A2.idPk, peerAddress: A2.address }], w.S.nonces);
  return { A2, payer2: new Payer({ identityKey: A2.idSk, hubKey: w.S.idPk, hubAddress: w.S.address, channelKey: A2.chSk }, a2, A2.nonces) };
}

t('two payers racing for one ticket: the first is paid, the second is refused and cancelled, nothing leaks', async () => {
  const w = await makeWorld();
  const { A2, payer2 } = await withSecondPayer(w);
  const ticket = await ticketFor(w.payee);
  const order = (payee: World['B']) => ({
    payee: { publicKey: payee.idPk, address: payee.address },
    ticket,
    amount: AMOUNT,
    fee: hubFee(AMOUNT, w.hub.config.fee),
    expiry: w.ctx.now + 3_600_000,
  });
  const first = await w.payer.pay(order(w.B), w.ctx);
  const second = await payer2.pay(order(w.B), w.ctx);
  // A tiny router over the four engines (A, A2, S, B), through the wire codec.
  const nodes = [
    { key: w.A.idPk, address: w.A.address, engine: w.payer },
    { key: A2.idPk, address: A2.address, engine: payer2 },
    { key: w.S.idPk, address: w.S.address, engine: w.hub },
    { key: w.B.idPk, address: w.B.address, engine: w.payee },
  ];
  const queue: { from: Uint8Array; to: string; message: PaymentMessage }[] = [];
  const messages: PaymentMessage[] = [];
  const events: Step['events'] = [];
  const push = (from: Uint8Array, s: Step) => {
    for (const o of s.send) queue.push({ from, to: o.to, message: o.message });
    events.push(...s.events);
  };
  push(w.A.idPk, first.step);
  push(A2.idPk, second.step);
  for (let i = 0; queue.length && i < 500; i++) {
    const q = queue.shift()!;
    const node = nodes.find((n) => n.address === q.to)!;
    const message = decodePayment(q.message.type, encodePayment(q.message));
    messages.push(message);
    push(node.key, await node.engine.handle({ from: q.from, message }, w.ctx));
  }
  assert.is(queue.length, 0);
  assert.is(w.payer.payments.get(first.offerId)!.status, 'completed');
  assert.ok(verifyReceipt(hexToBytes(w.payer.payments.get(first.offerId)!.receipt!.receipt), w.B.address));
  // The second payer: refused by B (ticket used), told by S, cancelled; its balances are back.
  assert.is(w.payee.payments.get(second.offerId)!.status, 'failed');
  assert.ok(events.some((e) => e.kind === 'rejected' && e.offerId === second.offerId && e.code === ErrorCode.NONCE_REUSE));
  assert.is(payer2.payments.get(second.offerId)!.status, 'cancelled');
  assert.is(payer2.channel.pending, undefined);
  assert.equal(payer2.channel.enforceable.state.balances, [600_000, 399_000]);
  assert.is(payer2.payments.get(second.offerId)!.receipt, undefined);
  assert.not.ok(
    messages.some((m) => m.type === PaymentType.INVOICE && bytesToHex(m.offerId) === second.offerId),
    'no invoice for it',
  );
  // B's ticket signed exactly one message; no nonce anywhere signed two.
  assert.equal(reusedNonces(messages), []);
  const fulfills = messages.filter((m) => m.type === PaymentType.PTLC_FULFILL);
  assert.is(fulfills.length, 1);
});

t(
  'on chain: B claims its PTLC with s_B + r; S extracts s_B, completes A’s update and enforces it; A reads s_B from that update',
  async () => {
    const w = await makeWorld();
    const hubView = w.hub.peers.get(bytesToHex(w.asParams.channelId))!.channel;
    const offerId = await startPayment(w, AMOUNT);
    // B reveals s_B + r in its PTLC_FULFILL, which never reaches S (lost): B goes on chain instead.
    const q = await until(w, PaymentType.PTLC_FULFILL);
    const fulfill = take<Extract<PaymentMessage, { type: 8 }>>(w, q);
    const withPtlc = structuredClone(w.payee.channel.enforceable);
    assert.is(withPtlc.state.ptlcs.length, 1);
    const add = w.log.find((l) => l.message.type === PaymentType.PTLC_ADD)!.message as Extract<PaymentMessage, { type: 5 }>;
    const chain = new ChainModel();
    const sb = eltooTerms(w.sbParams);
    const fsb = fundingOutput(sb);
    const coin = chain.fund({ amount: fsb.amount, script: fsb.scriptPubKey }, at(100));
    const um = publishUpdate(chain, w.sbParams, withPtlc, { kind: 'funding', outpoint: coin }, 101);
    const sm = buildSettlementTx(sb, settlementSpec(w.sbParams, withPtlc.state), out0(um), sigs(withPtlc, 'settleSigs'));
    chain.submit(sm.tx, at(101 + w.sbParams.csvDelay));
    const { spec, sweep } = ptlcOf(w.sbParams, withPtlc.state, hexToBytes(offerId, 32));
    const claim = buildClaimTx(
      spec,
      sweep,
      { txid: txid(sm.tx), vout: sm.ptlcVouts[0]! },
      {
        payer: completeClaimSignature(add.claimPresig, fulfill.secret),
        payee: signClaim(spec, sweep, ptlcSecretKey(w.sbParams, w.B.chSk)),
      },
    );
    chain.submit(claim, at(102 + w.sbParams.csvDelay));
    // S's watchtower reads s_B + r from the claim with S's own pre-signature and hands it to the engine.
    const hp = w.hub.payments.get(offerId)!;
    const onChain = extractPtlcSecret(spec, claim, add.claimPresig);
    const sbHex = bytesToHex(w.sbParams.channelId);
    const before = stateOf(w.hub);
    // Attacker's side: a secret for another point, or named on another channel, changes nothing.
    for (const [ch, sec] of [
      [sbHex, new Uint8Array(32).fill(3)],
      [bytesToHex(w.asParams.channelId), onChain],
    ] as const) {
      const nothing = await w.hub.noteSecretOnChain(ch, offerId, sec);
      assert.equal(nothing.send, []);
      assert.is(stateOf(w.hub), before, 'a secret that matches nothing changes nothing');
    }
    const bought = await w.hub.noteSecretOnChain(sbHex, offerId, onChain);
    assert.is(w.hub.payments.get(offerId)!.status, 'bought');
    const sB = untweakSecret(onChain, hexToBytes(hp.tweak!, 32));
    assert.is(bytesToHex(adaptorPoint(sB)), hp.point, 's_B·G = T_B');
    // S completed A's update n with s_B (checked against the sighash) and signed its own: state n is S's to enforce.
    assert.is(hubView.pending, undefined);
    const completion = bought.send.find((o) => o.message.type === PaymentType.COMPLETION);
    assert.ok(completion, 'S sends A its completion');
    assert.is(bytesToHex((completion.message as Extract<PaymentMessage, { type: 12 }>).secret), bytesToHex(sB));
    const stateN = hubView.enforceable;
    assert.is(stateN.state.n, w.payer.payments.get(offerId)!.n);
    const fas = fundingOutput(eltooTerms(w.asParams));
    const asCoin = chain.fund({ amount: fas.amount, script: fas.scriptPubKey }, at(200));
    const un = publishUpdate(chain, w.asParams, stateN, { kind: 'funding', outpoint: asCoin }, 201);
    const settle = buildSettlementTx(
      eltooTerms(w.asParams),
      settlementSpec(w.asParams, stateN.state),
      out0(un),
      sigs(stateN, 'settleSigs'),
    );
    chain.submit(settle.tx, at(201 + w.asParams.csvDelay));
    // A, offline all along, finds its update n on chain: its signature there, against its pre-signature, gives s_B.
    const p = w.payer.payments.get(offerId)!;
    const witnessA = un.inputs[0]!.witness[1]!.subarray(0, 64);
    const fromChain = adaptorExtract(witnessA, hexToBytes(p.presig!, 65), hexToBytes(p.point!, 33));
    assert.is(bytesToHex(fromChain), bytesToHex(sB));
    const receipt = encodeReceipt({
      offerId: hexToBytes(offerId, 32),
      amount: AMOUNT,
      payer: w.A.idPk,
      payee: w.B.idPk,
      expiry: p.expiry,
      signature: new Uint8Array([...hexToBytes(p.ticket!, 32), ...fromChain]),
    });
    assert.ok(verifyReceipt(receipt, w.B.address), 'A holds B’s receipt from the chain alone');

    // The payer's engine does the same with what its watchtower reads (the completion never came).
    const asHex = bytesToHex(w.asParams.channelId);
    const witnessSigs: [Uint8Array, Uint8Array] = [un.inputs[0]!.witness[1]!, un.inputs[0]!.witness[0]!];
    const payerBefore = stateOf(w.payer);
    // Attacker's side: signatures of another state, swapped, spoiled, or named on another channel change nothing.
    const spoiled = witnessSigs[0].slice();
    spoiled[40]! ^= 1;
    for (const [ch, n, sigs] of [
      [asHex, p.n + 1, witnessSigs],
      [asHex, p.n, [witnessSigs[1], witnessSigs[0]]],
      [bytesToHex(w.sbParams.channelId), p.n, witnessSigs],
      [asHex, p.n, [spoiled, witnessSigs[1]]],
    ] as const) {
      const nothing = await w.payer.noteUpdateSigsOnChain(ch, n, sigs);
      assert.equal(nothing.events, []);
      assert.is(stateOf(w.payer), payerBefore, 'signatures that complete nothing change nothing');
    }
    // The hub's half spoiled: s_B is right, but state n would not be fully signed: refused, nothing taken.
    const hubSpoiled = witnessSigs[1].slice();
    hubSpoiled[40]! ^= 1;
    await rejectsCode(() => w.payer.noteUpdateSigsOnChain(asHex, p.n, [witnessSigs[0], hubSpoiled]), ErrorCode.INVALID_SIGNATURE);
    assert.is(stateOf(w.payer), payerBefore, 'refused, and nothing changed');
    const done = await w.payer.noteUpdateSigsOnChain(asHex, p.n, witnessSigs);
    const ev = done.events.find((e) => e.kind === 'completed');
    assert.ok(ev && ev.kind === 'completed', 'the payer completes from the chain');
    assert.is(ev.receipt.receipt, bytesToHex(receipt));
    assert.is(w.payer.payments.get(offerId)!.status, 'completed');
    assert.is(w.payer.channel.enforceable.state.n, p.n, 'state n is fully signed at the payer too');
  },
);

t.run();
