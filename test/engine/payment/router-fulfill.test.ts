/**
 * The router keeps a secret it learned downstream and claims its upstream
 * PTLC with it (SPEC 6.13), whatever the upstream channel is doing at that
 * moment. Attacked from the hub's side (it keeps S–P busy when the payee
 * fulfills, or refuses the fulfillment because its own proposal crossed it)
 * and from the payee's (its PTLC_FULFILL crosses the router's own proposal on
 * P–B, or it claims on chain): in none of these may the router pay the payee
 * and lose the amount to the hub's refund at the timeout.
 */
import { suite } from 'uvu';
import { towerWrites } from '../../../client/wallet/watchtower.js';
import * as assert from 'uvu/assert';
import { bytesToHex, hexToBytes } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { adaptorPoint } from '../../../crypto/adaptor.js';
import { PaymentType, decodeChannelState, type PaymentMessage, type PaymentMessageOf } from '../../../protocol/payment.js';
import { buildSettlementTx, fundingOutput } from '../../../engine/bitcoin/eltoo.js';
import { buildClaimTx, completeClaimSignature, extractPtlcSecret, signClaim } from '../../../engine/bitcoin/ptlc-output.js';
import { txid } from '../../../engine/bitcoin/transaction.js';
import { resolvePtlc } from '../../../engine/channel/state.js';
import { eltooTerms, ptlcOf, ptlcSecretKey, settlementSpec } from '../../../engine/channel/onchain.js';
import { fulfillPtlc } from '../../../engine/payment/ptlc-exchange.js';
import { Router } from '../../../engine/payment/router.js';
import { ChainModel } from '../bitcoin/chain-model.js';
import { at, out0, publishUpdate, sigs } from './chain.js';
import { forgeState, hopPay, hopSecondPayer, hopWorld, stateOf, type HopRole, type HopWorld } from './fixture.js';

const t = suite('payment/router-fulfill');
const AMOUNT = 40_000;
const SECOND = 30_000;

type A2 = Awaited<ReturnType<typeof hopSecondPayer>>;

/** Delivers queued messages in order (A2's too), except those `skip` holds, until the next deliverable one matches `stop` (left queued). */
async function runUntil(
  w: HopWorld,
  a2: A2,
  stop: (q: HopWorld['queue'][number]) => boolean,
  skip: (q: HopWorld['queue'][number]) => boolean = () => false,
) {
  for (let i = 0; i < 300; i++) {
    await a2.toA2();
    const j = w.queue.findIndex((q) => q.to !== undefined && !skip(q));
    if (j < 0 || stop(w.queue[j]!)) return;
    const [q] = w.queue.splice(j, 1);
    await w.deliver(q!.from, q!.to, q!.message);
  }
  throw new Error('message loop did not settle');
}

/** Runs everything, A2 included, until nothing is left. */
async function runAll(w: HopWorld, a2: A2) {
  for (let i = 0; i < 10; i++) {
    await a2.toA2();
    await w.run();
  }
  await a2.toA2();
  assert.equal(
    w.queue.map((q) => `${q.from}->${q.to}:${q.message.type}`),
    [],
  );
}

/** Takes the first queued message matching `f` out of the queue. */
function takeQueued(w: HopWorld, f: (q: HopWorld['queue'][number]) => boolean): HopWorld['queue'][number] {
  const i = w.queue.findIndex(f);
  assert.ok(i >= 0, 'the message is queued');
  return w.queue.splice(i, 1)[0]!;
}

const isMsg = (from: HopRole, to: HopRole, type: number) => (q: HopWorld['queue'][number]) =>
  q.from === from && q.to === to && q.message.type === type;

/**
 * Payment X (A → B through P) run until B's PTLC_FULFILL is on its way to P,
 * where it is held: the world, X's id and the held message.
 */
async function heldFulfillment() {
  const w = await hopWorld();
  const x = await hopPay(w, AMOUNT);
  await w.run((q) => q.to === 'P' && q.message.type === PaymentType.PTLC_FULFILL);
  const held = takeQueued(w, isMsg('B', 'P', PaymentType.PTLC_FULFILL));
  return { w, x, held, fulfill: held.message as PaymentMessageOf<typeof PaymentType.PTLC_FULFILL> };
}

const channelOf = (w: HopWorld, role: 'S' | 'P', params: { channelId: Uint8Array }) =>
  role === 'S'
    ? w.engines.S.peers.get(bytesToHex(params.channelId))!.channel
    : w.engines.P.downstream.get(bytesToHex(params.channelId))!.channel;

/** The S–P PTLC of `offerId` as P holds it (enforceable), if any. */
const upstreamPtlc = (w: HopWorld, offerId: string) =>
  w.engines.P.upstream.channel.enforceable.state.ptlcs.find((x) => bytesToHex(x.id) === offerId);

/** P's secret for payment `offerId` opens the point of S's PTLC to P. */
function assertHoldsUpstreamSecret(w: HopWorld, offerId: string): void {
  const p = w.routerPayment(offerId)!;
  assert.ok(p.secret, 'P kept the upstream secret');
  const x = upstreamPtlc(w, offerId);
  assert.ok(x, "S's PTLC to P is still there to claim");
  assert.is(bytesToHex(adaptorPoint(hexToBytes(p.secret, 32))), bytesToHex(x.point), 'the kept secret opens the S–P PTLC');
}

/** Both views of every channel agree, nothing is pending or in flight, and P's funds add up to what it started with. */
function assertAllSettled(w: HopWorld, paid: { B: number; C: number }): void {
  const sp = channelOf(w, 'S', w.sp);
  const up = w.engines.P.upstream.channel;
  assert.equal(sp.enforceable.state, up.enforceable.state, 'S and P agree on S–P');
  assert.equal(w.engines.B.channel.enforceable.state, channelOf(w, 'P', w.pb).enforceable.state, 'P and B agree on P–B');
  for (const c of [sp, up, w.engines.B.channel, channelOf(w, 'P', w.pb), channelOf(w, 'P', w.pc)]) {
    assert.is(c.pending, undefined);
    assert.equal(c.enforceable.state.ptlcs, []);
  }
  const total = paid.B + paid.C;
  assert.equal(up.enforceable.state.balances, [700_000 - total, 299_000 + total], 'S paid P for both payments');
  assert.equal(channelOf(w, 'P', w.pb).enforceable.state.balances, [800_000 - paid.B, 199_000 + paid.B], 'P paid B');
  assert.equal(channelOf(w, 'P', w.pc).enforceable.state.balances, [800_000 - paid.C, 199_000 + paid.C], 'P paid C');
  const pTotal =
    up.enforceable.state.balances[1] +
    channelOf(w, 'P', w.pb).enforceable.state.balances[0] +
    channelOf(w, 'P', w.pc).enforceable.state.balances[0];
  assert.is(pTotal, 299_000 + 800_000 + 800_000, 'the router lost nothing');
}

t(
  'attacker S keeps S–P busy when B fulfills: P keeps the secret (also across a restart) and claims upstream once S–P is free',
  async () => {
    const w = await hopWorld();
    const a2 = await hopSecondPayer(w, 'C');
    // Payment X: A → B, P's PTLC_ADD to B held for now.
    const x = await hopPay(w, AMOUNT);
    await w.run((q) => q.to === 'B' && q.message.type === PaymentType.PTLC_ADD);
    // Payment Y: A2 → C. S proposes its PTLC_ADD to P and P accepts: S–P is pending at P (S's turn).
    const y = await a2.pay(SECOND);
    await runUntil(w, a2, isMsg('P', 'S', PaymentType.PTLC_ACCEPT), (q) => q.to === 'B');
    const heldAccept = takeQueued(w, isMsg('P', 'S', PaymentType.PTLC_ACCEPT));
    assert.ok(w.engines.P.upstream.channel.pending, 'S–P is pending at P');
    // Now only P–B runs: B accepts, P commits, B fulfills X while S–P is still pending.
    await runUntil(
      w,
      a2,
      () => false,
      (q) => !((q.from === 'P' && q.to === 'B') || (q.from === 'B' && q.to === 'P')),
    );
    const p = w.routerPayment(x)!;
    assert.is(p.status, 'fulfilled', 'P settled with B and owes the fulfillment upstream');
    assertHoldsUpstreamSecret(w, x);
    assert.ok(
      w.seen.B.some((m) => m.type === PaymentType.PTLC_SETTLE),
      'B was paid off chain',
    );
    assert.not.ok(
      w.queue.some((q) => q.message.type === PaymentType.PTLC_FULFILL && q.to === 'S'),
      'nothing can be fulfilled while S–P is pending',
    );
    assert.ok(w.engines.P.upstream.channel.pending, 'S–P is still pending');
    // P restarts from its stored state: the owed fulfillment and its secret survive.
    const stored = JSON.parse(JSON.stringify(w.engines.P.toJSON()));
    const restarted = Router.fromJSON(w.engines.P.config, stored, w.parties.P.nonces);
    assert.equal(restarted.payments.get(x), w.engines.P.payments.get(x));
    assert.is(stateOf(restarted), stateOf(w.engines.P));
    w.engines.P = restarted;
    // S lets S–P go on at last (its PTLC_COMMIT): the step that frees S–P sends X's PTLC_FULFILL.
    w.queue.push(heldAccept);
    await runUntil(w, a2, isMsg('P', 'S', PaymentType.PTLC_FULFILL));
    const fulfill = w.queue.find(isMsg('P', 'S', PaymentType.PTLC_FULFILL))!.message as PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>;
    assert.is(bytesToHex(fulfill.offerId), x);
    assert.is(w.routerPayment(x)!.status, 'fulfilling');
    await runAll(w, a2);
    assert.is(w.routerPayment(x)!.status, 'settled');
    assert.is(w.routerPayment(y)!.status, 'settled');
    assert.is(w.engines.A.payments.get(x)!.status, 'completed', 'A got its receipt');
    assert.is(a2.payer.payments.get(y)!.status, 'completed');
    assertAllSettled(w, { B: AMOUNT, C: SECOND });
  },
);

t('attacker B claims on chain: P reads t + r₂ from the claim and claims its PTLC from S with it', async () => {
  // B reveals t + r₂ only on chain: its PTLC_FULFILL never reaches P.
  const { w, x, fulfill } = await heldFulfillment();
  assert.is(w.routerPayment(x)!.status, 'committed');
  const add = w.seen.B.find((m) => m.type === PaymentType.PTLC_ADD) as PaymentMessageOf<typeof PaymentType.PTLC_ADD>;
  // B publishes the P–B state with its PTLC, settles it and claims the PTLC with its secret.
  const withPtlc = structuredClone(w.engines.B.channel.enforceable);
  assert.is(withPtlc.state.ptlcs.length, 1);
  const chain = new ChainModel();
  const terms = eltooTerms(w.pb);
  const f = fundingOutput(terms);
  const coin = chain.fund({ amount: f.amount, script: f.scriptPubKey }, at(100));
  const u = publishUpdate(chain, w.pb, withPtlc, { kind: 'funding', outpoint: coin }, 101);
  const settle = buildSettlementTx(terms, settlementSpec(w.pb, withPtlc.state), out0(u), sigs(withPtlc, 'settleSigs'));
  chain.submit(settle.tx, at(101 + w.pb.csvDelay));
  const { spec, sweep } = ptlcOf(w.pb, withPtlc.state, hexToBytes(x, 32));
  const claim = buildClaimTx(
    spec,
    sweep,
    { txid: txid(settle.tx), vout: settle.ptlcVouts[0]! },
    {
      payer: completeClaimSignature(add.claimPresig, fulfill.secret),
      payee: signClaim(spec, sweep, ptlcSecretKey(w.pb, w.parties.B.chSk)),
    },
  );
  chain.submit(claim, at(102 + w.pb.csvDelay));
  // P's watchtower reads the secret from the claim with P's own pre-signature.
  const onChain = extractPtlcSecret(spec, claim, add.claimPresig);
  const pb = bytesToHex(w.pb.channelId);
  // A secret for another point, or named on another channel, changes nothing.
  const before = stateOf(w.engines.P);
  for (const [ch, sec] of [
    [pb, new Uint8Array(32).fill(3)],
    [pb, new Uint8Array(32)],
    [bytesToHex(w.pc.channelId), onChain],
    [bytesToHex(w.sp.channelId), onChain],
  ] as const) {
    const nothing = await w.engines.P.noteSecretOnChain(ch, x, sec);
    assert.equal(nothing.send, []);
    assert.is(stateOf(w.engines.P), before, 'a secret that matches nothing changes nothing');
  }
  const s = await w.engines.P.noteSecretOnChain(pb, x, onChain);
  // The watchtower learns the upstream secret with this step, whatever becomes of the PTLC_FULFILL.
  const told = (s.secrets ?? []).find((k) => bytesToHex(k.channelId) === bytesToHex(w.sp.channelId) && bytesToHex(k.ptlcId) === x);
  assert.ok(told, 'the step hands the S–P secret to the watchtower');
  assert.is(bytesToHex(told.secret), w.routerPayment(x)!.secret);
  assert.ok(
    towerWrites(s).some((o) => o.key.includes(`${bytesToHex(w.sp.channelId)}/${x}/secret/`)),
    'stored for the S–P channel',
  );
  assert.is(w.routerPayment(x)!.status, 'fulfilling');
  assert.ok(w.routerPayment(x)!.downOpen, 'the downstream PTLC was not settled off chain');
  const up = s.send.find((o) => o.message.type === PaymentType.PTLC_FULFILL);
  assert.ok(up, 'P claims its upstream PTLC at once');
  assert.is(up.to, w.parties.S.address);
  const upSecret = (up.message as PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>).secret;
  assert.is(bytesToHex(adaptorPoint(upSecret)), bytesToHex(upstreamPtlc(w, x)!.point), 'with the secret of the S–P point');
  // The same secret again changes nothing.
  const again = stateOf(w.engines.P);
  assert.equal((await w.engines.P.noteSecretOnChain(pb, x, onChain)).send, []);
  assert.is(stateOf(w.engines.P), again);
  w.post('P', s);
  await w.run(['A', 'S', 'P']);
  assert.is(w.routerPayment(x)!.status, 'settled');
  assert.is(w.engines.A.payments.get(x)!.status, 'completed', 'A got its receipt');
  const upState = w.engines.P.upstream.channel.enforceable.state;
  assert.equal(upState.balances, [700_000 - AMOUNT, 299_000 + AMOUNT], 'S paid P the amount B took on chain');
  assert.equal(upState.ptlcs, []);
});

t('attacker B: its PTLC_FULFILL crosses P’s own PTLC_ADD on P–B; P keeps the secret and claims upstream at once', async () => {
  const { w, x, held: heldFulfill } = await heldFulfillment();
  const a2 = await hopSecondPayer(w, 'B');
  // Payment Y: A2 → B, until P's PTLC_ADD for Y is on its way to B: P–B is pending at P (P's own proposal).
  const y = await a2.pay(SECOND);
  await runUntil(w, a2, isMsg('P', 'B', PaymentType.PTLC_ADD));
  const pb = channelOf(w, 'P', w.pb);
  assert.ok(pb.pending, 'P–B is pending at P');
  // B's PTLC_FULFILL for X arrives now: the two proposals of P–B cross.
  await w.deliver(heldFulfill.from, heldFulfill.to, heldFulfill.message);
  // B gets the usual refusal of its crossing proposal, and (the attacker) never proposes again.
  takeQueued(w, isMsg('P', 'B', PaymentType.REJECT));
  assert.ok(pb.pending, "P's own proposal is still pending");
  assertHoldsUpstreamSecret(w, x);
  assert.ok(w.routerPayment(x)!.downOpen);
  // S–P is free: the claim goes upstream in the same step.
  assert.is(w.routerPayment(x)!.status, 'fulfilling');
  assert.ok(w.queue.some(isMsg('P', 'S', PaymentType.PTLC_FULFILL)), 'P claims its upstream PTLC at once');
  // B's side: it refuses P's PTLC_ADD (its own proposal is pending), P fails Y back; S settles X with P.
  await runAll(w, a2);
  assert.is(w.routerPayment(x)!.status, 'settled');
  assert.is(w.engines.A.payments.get(x)!.status, 'completed', 'A got its receipt');
  assert.equal(w.engines.P.upstream.channel.enforceable.state.balances, [700_000 - AMOUNT, 299_000 + AMOUNT], 'S paid P for X');
  assert.is(w.routerPayment(y)!.status, 'failed', 'Y was refused by the busy payee and given back');
  assert.is(
    bytesToHex(channelOf(w, 'P', w.pb).enforceable.state.ptlcs[0]!.id),
    x,
    'X is still in P–B: B, who knows its secret, claims it on chain or proposes again',
  );
});

t(
  'B proposes its fulfillment again after a crossing: P settles the downstream PTLC it still owes, the upstream claim untouched',
  async () => {
    const { w, x, held: heldFulfill } = await heldFulfillment();
    const a2 = await hopSecondPayer(w, 'B');
    const secret = (heldFulfill.message as PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>).secret;
    const y = await a2.pay(SECOND);
    await runUntil(w, a2, isMsg('P', 'B', PaymentType.PTLC_ADD));
    await w.deliver(heldFulfill.from, heldFulfill.to, heldFulfill.message);
    // B does not see P's refusal yet. P's claim upstream is in flight (held at S); B refuses Y, P drops its P–B proposal.
    takeQueued(w, isMsg('P', 'B', PaymentType.REJECT));
    await runUntil(
      w,
      a2,
      () => false,
      (q) => q.to === 'S',
    );
    assert.is(w.routerPayment(x)!.status, 'fulfilling');
    assert.is(channelOf(w, 'P', w.pb).pending, undefined);
    // B drops its refused proposal and proposes the fulfillment again, under a greater number.
    const bCh = w.engines.B.channel;
    bCh.abandonPending();
    const again = await fulfillPtlc(bCh, { channelKey: w.parties.B.chSk, nonces: w.parties.B.nonces }, hexToBytes(x, 32), secret);
    await w.deliver('B', 'P', again);
    assert.ok(w.queue.some(isMsg('P', 'B', PaymentType.PTLC_SETTLE)), 'P settles with B');
    assert.is(w.routerPayment(x)!.status, 'fulfilling', 'the upstream claim goes on');
    assert.not.ok(w.routerPayment(x)!.downOpen);
    // The same proposal once more is ignored: the downstream PTLC is settled.
    const before = stateOf(w.engines.P);
    await w.deliver('B', 'P', again);
    assert.is(stateOf(w.engines.P), before);
    await runAll(w, a2);
    assert.is(w.routerPayment(x)!.status, 'settled');
    assert.is(w.engines.B.payments.get(x)!.status, 'paid', 'B was paid off chain');
    assert.is(w.engines.A.payments.get(x)!.status, 'completed');
    assert.is(w.routerPayment(y)!.status, 'failed');
    assertAllSettled(w, { B: AMOUNT, C: 0 });
  },
);

t(
  'B proposes its fulfillment again only after P’s upstream claim has settled: P still settles the downstream PTLC, and only then forgets the payment',
  async () => {
    const { w, x, held: heldFulfill } = await heldFulfillment();
    const a2 = await hopSecondPayer(w, 'B');
    const secret = (heldFulfill.message as PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>).secret;
    await a2.pay(SECOND);
    await runUntil(w, a2, isMsg('P', 'B', PaymentType.PTLC_ADD));
    await w.deliver(heldFulfill.from, heldFulfill.to, heldFulfill.message);
    takeQueued(w, isMsg('P', 'B', PaymentType.REJECT));
    // Everything but B runs: P's upstream claim settles with S before B answers anything.
    await runUntil(
      w,
      a2,
      () => false,
      (q) => q.to === 'B',
    );
    assert.is(w.routerPayment(x)!.status, 'settled', 'P was paid upstream');
    assert.ok(w.routerPayment(x)!.downOpen, 'the downstream PTLC is still open');
    assert.ok(w.engines.P.payments.has(x), 'so the payment is not archived');
    // B refuses Y (its channel is busy) and proposes its fulfillment again, under a greater number.
    await runUntil(w, a2, () => false);
    const bCh = w.engines.B.channel;
    bCh.abandonPending();
    const again = await fulfillPtlc(bCh, { channelKey: w.parties.B.chSk, nonces: w.parties.B.nonces }, hexToBytes(x, 32), secret);
    await w.deliver('B', 'P', again);
    assert.ok(w.queue.some(isMsg('P', 'B', PaymentType.PTLC_SETTLE)), 'P settles with B');
    await runAll(w, a2);
    assert.is(w.engines.B.payments.get(x)!.status, 'paid', 'B was paid off chain');
    assert.not.ok(w.engines.P.payments.has(x), 'the payment is archived once both sides are settled');
    assertAllSettled(w, { B: AMOUNT, C: 0 });
  },
);

t(
  'attacker B sends its secret with a state that takes more than the PTLC: P pays nothing more, keeps the secret and claims upstream',
  async () => {
    const { w, x, held: genuine, fulfill: m } = await heldFulfillment();
    // The right secret, and a state (validly signed by B) that also moves 10 000 of P's balance to B.
    const forged = await forgeState(w.engines.B.channel, w.parties.B, (c) => {
      const next = resolvePtlc(c.enforceable.state, hexToBytes(x, 32), 'fulfill', c.topN + 1);
      return { ...next, balances: [next.balances[0] - 10_000, next.balances[1] + 10_000] };
    });
    const pb = channelOf(w, 'P', w.pb);
    const downBefore = structuredClone(pb.enforceable.state);
    await w.deliver('B', 'P', { ...m, state: forged.encoded, settleSig: forged.settleSig, updateNonce: forged.updateNonce });
    const refusal = w.queue.find(isMsg('P', 'B', PaymentType.REJECT))?.message;
    assert.ok(refusal?.type === PaymentType.REJECT && refusal.code === ErrorCode.CHANNEL_INVARIANT, 'B gets a refusal');
    assert.equal(pb.enforceable.state, downBefore, 'P–B is as it was');
    assert.is(pb.pending, undefined);
    assert.not.ok(w.queue.some(isMsg('P', 'B', PaymentType.PTLC_SETTLE)), 'P settled nothing downstream');
    assertHoldsUpstreamSecret(w, x);
    assert.is(w.routerPayment(x)!.status, 'fulfilling', 'the claim upstream goes at once');
    // B's genuine proposal is still taken.
    w.queue.splice(w.queue.findIndex(isMsg('P', 'B', PaymentType.REJECT)), 1);
    w.queue.push(genuine);
    await w.run();
    assert.is(w.routerPayment(x)!.status, 'settled');
    assert.is(w.engines.B.payments.get(x)!.status, 'paid');
    assert.is(w.engines.A.payments.get(x)!.status, 'completed');
    assert.equal(pb.enforceable.state.balances, [800_000 - AMOUNT, 199_000 + AMOUNT], 'B got exactly the amount');
    assert.equal(w.engines.P.upstream.channel.enforceable.state.balances, [700_000 - AMOUNT, 299_000 + AMOUNT]);
  },
);

t('attacker S refuses P’s fulfillment that crossed its own PTLC_ADD: P proposes it again above both numbers and is paid', async () => {
  const { w, x, held: heldFulfill } = await heldFulfillment();
  const a2 = await hopSecondPayer(w, 'C');
  // S proposes Y's PTLC_ADD to P, held in P's mailbox.
  const y = await a2.pay(SECOND);
  await runUntil(w, a2, isMsg('S', 'P', PaymentType.PTLC_ADD));
  const heldAdd = takeQueued(w, isMsg('S', 'P', PaymentType.PTLC_ADD));
  // B fulfills X: P's PTLC_FULFILL goes to S and crosses S's PTLC_ADD (same number).
  await w.deliver(heldFulfill.from, heldFulfill.to, heldFulfill.message);
  const stateN = (q: HopWorld['queue'][number] | undefined) =>
    q?.message.type === PaymentType.PTLC_FULFILL ? decodeChannelState(q.message.state).n : -1;
  const first = stateN(w.queue.find(isMsg('P', 'S', PaymentType.PTLC_FULFILL)));
  await runUntil(w, a2, isMsg('S', 'P', PaymentType.REJECT), (q) => q.to === 'B');
  const reject = w.queue.find(isMsg('S', 'P', PaymentType.REJECT))!.message;
  assert.ok(reject.type === PaymentType.REJECT && reject.refType === PaymentType.PTLC_FULFILL, 'S refused the crossing fulfillment');
  // P takes the refusal and proposes again at once, under a greater number.
  await runUntil(w, a2, isMsg('P', 'S', PaymentType.PTLC_FULFILL), (q) => q.to === 'B');
  assert.is(w.routerPayment(x)!.status, 'fulfilling');
  const second = stateN(w.queue.find(isMsg('P', 'S', PaymentType.PTLC_FULFILL)));
  assert.ok(first > 0 && second > first, 'proposed again under a greater number');
  assert.is(w.routerPayment(x)!.fulfillN, second);
  assertHoldsUpstreamSecret(w, x);
  // S's held PTLC_ADD reaches the busy P (PTLC_FAIL), and everything runs.
  w.queue.push(heldAdd);
  await runAll(w, a2);
  assert.is(w.routerPayment(x)!.status, 'settled');
  assert.is(w.engines.A.payments.get(x)!.status, 'completed');
  assert.is(w.engines.S.payments.get(y)!.status, 'pending', 'Y was refused by the busy router');
  assertAllSettled(w, { B: AMOUNT, C: 0 });
});

t('a REJECT for a fulfillment P is not making, or for a record saved before the secret was kept, changes nothing', async () => {
  const w = await hopWorld();
  const x = await hopPay(w, AMOUNT);
  await w.run((q) => q.to === 'S' && q.message.type === PaymentType.PTLC_FULFILL);
  const p = w.engines.P.payments.get(x)!;
  assert.is(p.status, 'fulfilling');
  const reject: PaymentMessage = {
    type: PaymentType.REJECT,
    refType: PaymentType.PTLC_FULFILL,
    ref: hexToBytes(x, 32),
    code: 'PAYMENT_REJECTED',
    message: 'no',
  };
  // A record as saved before the secret was kept: P cannot propose again, so it keeps its fulfillment.
  const legacy = structuredClone(p);
  delete legacy.secret;
  delete legacy.fulfillN;
  w.engines.P.payments.set(x, legacy);
  let before = stateOf(w.engines.P);
  await w.deliver('S', 'P', reject);
  assert.is(stateOf(w.engines.P), before);
  // A REJECT naming another state number than the fulfillment in flight.
  w.engines.P.payments.set(x, { ...p, fulfillN: p.fulfillN! + 1 });
  before = stateOf(w.engines.P);
  await w.deliver('S', 'P', reject);
  assert.is(stateOf(w.engines.P), before);
  w.engines.P.payments.set(x, p);
  await w.run();
  assert.is(w.routerPayment(x)!.status, 'settled');
});

t('an owed fulfillment whose PTLC is not in S–P never blocks the router', async () => {
  const w = await hopWorld();
  const ghost = bytesToHex(new Uint8Array(32).fill(7));
  w.engines.P.payments.set(ghost, {
    offerId: ghost,
    amount: 1_000,
    point: bytesToHex(adaptorPoint(new Uint8Array(32).fill(1))),
    downChannel: bytesToHex(w.pb.channelId),
    downDelta: 20,
    status: 'fulfilled',
    secret: bytesToHex(new Uint8Array(32).fill(2)),
  });
  const x = await hopPay(w, AMOUNT);
  await w.run();
  assert.is(w.routerPayment(x)!.status, 'settled');
  assert.is(w.engines.A.payments.get(x)!.status, 'completed');
  assert.is(w.engines.P.payments.get(ghost)!.status, 'fulfilled');
});

t.run();
