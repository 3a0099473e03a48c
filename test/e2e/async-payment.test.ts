import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PaymentType } from '../../protocol/payment.js';
import { ErrorCode } from '../../base/errors.js';
import { rejectsCode } from '../helpers.js';
import { spawnRelay, makeE2E, until, HUB_FEE, type RelayProc } from './world.js';
import { ChainModel } from '../engine/bitcoin/chain-model.js';
import { enforceLatestOverOld } from '../engine/payment/chain.js';
import { hubFee } from '../../engine/payment/fee.js';

const t = suite('e2e/async-payment');
const AMOUNT = 50_000;
const FEE = hubFee(AMOUNT, HUB_FEE);
let relay: RelayProc;

t.before(async () => {
  relay = await spawnRelay();
});
t.after(async () => {
  await relay.kill();
});

const has = (list: { kind: string }[], kind: string) => list.some((e) => e.kind === kind);

t('B offline while A pays, A offline while B sells; relay restarted and B killed mid-flow; all sides consistent', async () => {
  const w = await makeE2E({ A: [relay.url], S: [relay.url], B: [relay.url] });
  const S = await w.open.S();
  const sAS = [...S.engine.peers.values()].find((p) => p.channel.me === 1)!.channel;
  const state0 = structuredClone(sAS.enforceable); // what A could publish later
  let A = await w.open.A();
  const sent: number[] = [];
  A.on('sent', (e) => sent.push(e.type));
  const offerId = await A.payOffline(w.addr.B, AMOUNT, { memo: 'coffee' });
  await until(() => sent.includes(PaymentType.OFFER), 'the offer to be posted to B');
  await A.close(); // A goes offline; B has never been online

  // The relay process is restarted (graceful stop, same data dir and port): the offer survives.
  await relay.kill('SIGKILL');
  relay = await spawnRelay(relay.dir, relay.port);

  // B comes online, is pushed the offer, invoices; we stop B right after its first step.
  let B = await w.open.B();
  await until(() => has(w.events.B, 'invoiced'), 'B to invoice');
  await B.close();
  await until(() => has(w.events.S, 'ptlc_extended'), 'S to extend the PTLC');
  // B restarts from its store and finishes selling s_B.
  B = await w.open.B();
  await until(() => has(w.events.B, 'paid'), 'B to be paid');
  await until(() => has(w.events.S, 'paid'), 'S to settle with B');
  assert.is(B.engine.payments.get(offerId)!.status, 'paid');
  assert.equal(B.engine.channel.enforceable.state.balances, [700_000 - AMOUNT, 299_000 + AMOUNT]);

  // S holds A–S state 1 fully signed: it bought s_B and completed A's update with it, and it can enforce it on chain over state 0.
  assert.is(sAS.enforceable.state.n, 1);
  assert.ok(sAS.enforceable.updateSigs.every((x) => x !== null));
  assert.equal(sAS.enforceable.state.balances, [600_000 - AMOUNT - FEE, 399_000 + AMOUNT + FEE]);
  enforceLatestOverOld(new ChainModel(), w.asParams, state0, sAS.enforceable);

  // A comes back and receives the completion.
  A = await w.open.A();
  await until(() => has(w.events.A, 'completed'), 'A to receive the completion');
  assert.is(A.engine.payments.get(offerId)!.status, 'completed');
  assert.equal(A.engine.channel.enforceable.state, sAS.enforceable.state);
  const receipt = w.events.A.find((e) => e.kind === 'completed');
  assert.ok(receipt && receipt.kind === 'completed' && receipt.receipt.n === 1);
  // Each role processed every message once: one offer at B, one paid event per side.
  assert.is(w.events.B.filter((e) => e.kind === 'offer_received').length, 1);
  assert.is(w.events.B.filter((e) => e.kind === 'paid').length, 1);
  await Promise.all([A.close(), B.close(), S.close()]);
});

t('two relays in the payee address, one down: the payment completes and nothing is processed twice', async () => {
  const second = await spawnRelay();
  const deadPort = second.port;
  await second.kill();
  const dead = `http://127.0.0.1:${deadPort}`;
  const w = await makeE2E({ A: [relay.url], S: [relay.url], B: [relay.url, dead] });
  const S = await w.open.S();
  const A = await w.open.A();
  const B = await w.open.B();
  const offerId = await A.payOffline(w.addr.B, AMOUNT);
  await until(() => has(w.events.A, 'completed'), 'the payment to complete');
  assert.is(B.engine.payments.get(offerId)!.status, 'paid');
  assert.is(w.events.B.filter((e) => e.kind === 'offer_received').length, 1);
  await Promise.all([A.close(), B.close(), S.close()]);
});

t('cancellation: A and S overwrite the pending state, the offer envelope is retracted, B never invoices', async () => {
  const w = await makeE2E({ A: [relay.url], S: [relay.url], B: [relay.url] });
  const S = await w.open.S();
  const A = await w.open.A();
  let offerEnvelope = '';
  A.on('sent', (e) => {
    if (e.type === PaymentType.OFFER) offerEnvelope = e.id;
  });
  const offerId = await A.payOffline(w.addr.B, AMOUNT);
  await until(() => offerEnvelope !== '', 'the offer to be posted');
  assert.is(await A.client.status(relay.url, offerEnvelope), 'queued');
  await A.cancel(offerId);
  await until(() => has(w.events.A, 'cancelled'), 'the cancellation');
  // `cancelled` fires only once the retraction was accepted: the envelope is gone already.
  assert.is(await A.client.status(relay.url, offerEnvelope), 'retracted');
  const B = await w.open.B();
  await until(() => w.events.B.some((e) => e.kind === 'ignored'), 'B to read the void'); // the void of an offer it never saw
  assert.not.ok(has(w.events.B, 'invoiced'), 'B never saw the offer');
  assert.not.ok(has(w.events.S, 'ptlc_extended'), 'S never pays for a superseded state');
  assert.is(A.engine.channel.enforceable.state.n, 2);
  assert.equal(A.engine.channel.enforceable.state.balances, [600_000, 399_000]);
  assert.equal(
    S.engine.peers.get(Buffer.from(w.asParams.channelId).toString('hex'))!.channel.enforceable.state,
    A.engine.channel.enforceable.state,
  );
  await Promise.all([A.close(), B.close(), S.close()]);
});

t('request: B pre-signs and goes offline; A pays the request later; B returns to a completed state', async () => {
  const w = await makeE2E({ A: [relay.url], S: [relay.url], B: [relay.url] });
  const S = await w.open.S();
  let B = await w.open.B();
  const requestId = await B.requestPayment(w.addr.A, 20_000, { memo: 'invoice 42' });
  await until(() => has(w.events.B, 'request_sent'), 'B to send the pre-signed request');
  await new Promise((r) => setTimeout(r, 200)); // the request post lands
  await B.close(); // B goes offline
  const A = await w.open.A();
  await until(() => w.events.A.some((e) => e.kind === 'request_received' && e.offerId === requestId), 'A to receive the request');
  await A.payRequest(requestId);
  await until(() => has(w.events.A, 'request_paid'), 'A to buy the hub signature');
  const kept = A.engine.requests.get(requestId)!;
  assert.ok(kept.hubUpdateSig && kept.payeeUpdateSig, 'A keeps the complete update for B');
  // B's TOWER_TERMS reached A: A's watchtower would watch the S–B channel for B (SPEC 6.18).
  const watches = await (A as unknown as { towerForeign(): Promise<{ id: string; n: number }[]> }).towerForeign();
  assert.equal(
    watches.map((x) => [x.id, x.n]),
    [[requestId, kept.n]],
  );
  await A.close();
  B = await w.open.B(); // B returns
  await until(() => has(w.events.B, 'paid'), 'B to complete state n');
  await until(() => has(w.events.S, 'paid'), "S to receive B's acknowledgement");
  assert.equal(B.engine.channel.enforceable.state.balances, [700_000 - 20_000, 299_000 + 20_000]);
  await Promise.all([B.close(), S.close()]);
});

t('a request that expires unpaid while the payee is online is cancelled by the payee on its own, freeing its channel', async () => {
  const w = await makeE2E({ A: [relay.url], S: [relay.url], B: [relay.url] });
  const S = await w.open.S();
  const B = await w.open.B({ requestSweepMs: 100 });
  const requestId = await B.requestPayment(w.addr.A, 20_000, { expiresInMs: 1_000 });
  await until(() => has(w.events.B, 'cancelled'), 'the payee to cancel the expired request by itself', 20_000);
  const sb = S.engine.peers.get(Buffer.from(w.sbParams.channelId).toString('hex'))!.channel;
  await until(() => sb.pending === undefined, "S to take B's commitment");
  assert.is(S.payments().find((p) => p.offerId === requestId)?.status, 'cancelled');
  assert.is(B.engine.channel.pending, undefined, "B's channel is free");
  assert.equal(B.engine.channel.enforceable.state.balances, [700_000, 299_000]);
  await Promise.all([B.close(), S.close()]);
});

t('request cancelled at its expiry: B and S overwrite state n, the request envelope is retracted, the channel is free', async () => {
  const w = await makeE2E({ A: [relay.url], S: [relay.url], B: [relay.url] });
  const S = await w.open.S();
  const B = await w.open.B();
  let requestEnvelope = '';
  let voidEnvelope = '';
  B.on('sent', (e) => {
    if (e.type === PaymentType.REQUEST) requestEnvelope = e.id;
    if (e.type === PaymentType.OFFER_VOID) voidEnvelope = e.id;
  });
  const requestId = await B.requestPayment(w.addr.A, 20_000, { expiresInMs: 1_000 });
  await until(() => requestEnvelope !== '', 'the request to be posted');
  assert.equal(await B.cancelExpiredRequests(), [], 'nothing has expired yet');
  await until(() => B.engine.expiredRequests(B.ctx().now).length > 0, 'the request to expire');
  assert.equal(await B.cancelExpiredRequests(), [requestId]);
  await until(() => has(w.events.B, 'cancelled'), 'the cancellation');
  let status = '';
  await until(() => {
    void B.client.status(relay.url, requestEnvelope).then(
      (s) => (status = s),
      () => undefined,
    );
    return status === 'retracted';
  }, 'the request envelope to be retracted');
  const sb = S.engine.peers.get(Buffer.from(w.sbParams.channelId).toString('hex'))!.channel;
  await until(() => sb.pending === undefined, "S to take B's commitment");
  // Finished, the request left the hub's state: the runtime lists it from its archive.
  assert.is(S.payments().find((p) => p.offerId === requestId)?.status, 'cancelled');
  assert.not.ok(S.engine.requests.has(requestId));
  assert.equal(sb.enforceable.state, B.engine.channel.enforceable.state);
  assert.equal(B.engine.channel.enforceable.state.balances, [700_000, 299_000]);
  assert.is(B.engine.channel.pending, undefined, "B's channel is free");
  // A, online later, never sees the request; the void of a request it never saw is dropped.
  await until(() => voidEnvelope !== '', 'the void to be posted');
  const A = await w.open.A();
  let voidStatus = '';
  await until(() => {
    void A.client.status(relay.url, voidEnvelope).then(
      (s) => (voidStatus = s),
      () => undefined,
    );
    return voidStatus === 'acknowledged';
  }, 'A to read (and drop) the void');
  assert.is(A.engine.requests.size, 0, 'A never saw the retracted request');
  // The channel takes the next request.
  await B.requestPayment(w.addr.A, 10_000);
  await until(() => w.events.B.filter((e) => e.kind === 'request_sent').length === 2, 'the next request');
  await Promise.all([A.close(), B.close(), S.close()]);
});

t('an update on chain, reported by the chain watcher: the hub persists it and takes no new payment over that channel', async () => {
  const w = await makeE2E({ A: [relay.url], S: [relay.url], B: [relay.url] });
  const asId = Buffer.from(w.asParams.channelId).toString('hex');
  let S = await w.open.S();
  const h = S.ctx().height;
  await S.noteUpdateOnChain(asId, h - 3);
  await rejectsCode(S.noteUpdateOnChain('00'.repeat(32), h), ErrorCode.INVALID_RANGE);
  await S.close();
  S = await w.open.S(); // restored from its store: still closing
  assert.equal(S.engine.peers.get(asId)!.channel.closing, { height: h - 3 });
  const A = await w.open.A();
  const offerId = await A.payOffline(w.addr.B, AMOUNT);
  await until(() => w.events.A.some((e) => e.kind === 'rejected' && e.offerId === offerId), 'the hub to refuse the payment');
  assert.is(A.engine.payments.get(offerId)!.status, 'failed');
  assert.is(A.engine.channel.pending, undefined, "the payer's channel is free");
  assert.not.ok(has(w.events.S, 'proposed'));
  await Promise.all([A.close(), S.close()]);
});

t.run();
