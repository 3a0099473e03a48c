/**
 * The privacy hop S→P→B₂ (SPEC 6.13) through the role runtimes and a real
 * relay: A pays B₂, whose partner is the router P, through its hub S while
 * B₂ is offline. Checked through the API: balances of every channel in both
 * views, the events of each role, A's receipt signed by B₂, and that nothing
 * the hub stores names B₂.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex, hexToBytes } from '../../base/bytes.js';
import { encodeMailboxAddress } from '../../protocol/address.js';
import { decodeReceipt, verifyReceipt } from '../../protocol/receipt.js';
import { LevelKv } from '../../client/mailbox/kv.js';
import { KvNonceStore } from '../../client/wallet/nonce-store.js';
import { HubNode, PayeeNode, PayerNode, RouterNode } from '../../client/wallet/roles.js';
import type { Channel } from '../../engine/channel/channel.js';
import { openChannelPair } from '../../engine/channel/open.js';
import { hubFee } from '../../engine/payment/fee.js';
import type { PaymentEvent } from '../../engine/payment/types.js';
import { HUB_FEE, chain, client, keys, params, spawnRelay, until, type RelayProc } from './world.js';

const t = suite('e2e/routed-payment');
const AMOUNT = 40_000;
let relay: RelayProc;

t.before(async () => {
  relay = await spawnRelay();
});
t.after(async () => {
  await relay.kill();
});

const balances = (c: Channel) => c.enforceable.state.balances;

/** The four roles of the hop over the relay, each with its own store; B₂ is opened by `openPayee`. */
async function hop() {
  const A = keys(),
    S = keys(),
    P = keys(),
    B2 = keys();
  const addr = (k: typeof A) => encodeMailboxAddress({ publicKey: k.idPk, relays: [relay.url] });
  const as = params(A.chPk, S.chPk, 288),
    sp = params(S.chPk, P.chPk, 24),
    pb = params(P.chPk, B2.chPk, 12);
  const kv = { A: new LevelKv(A.dir), S: new LevelKv(S.dir), P: new LevelKv(P.dir), B2: new LevelKv(B2.dir) };
  const n = (k: LevelKv) => new KvNonceStore(k);
  const [asA, asS] = await openChannelPair(as, [600_000, 399_000], A.chSk, S.chSk, n(kv.A), n(kv.S));
  const [spS, spP] = await openChannelPair(sp, [700_000, 299_000], S.chSk, P.chSk, n(kv.S), n(kv.P));
  const [pbP, pbB] = await openChannelPair(pb, [800_000, 199_000], P.chSk, B2.chSk, n(kv.P), n(kv.B2));
  const events: Record<'A' | 'S' | 'P' | 'B2', PaymentEvent[]> = { A: [], S: [], P: [], B2: [] };
  const base = (k: typeof A, store: LevelKv) => ({ identityKey: k.idSk, relays: [relay.url], kv: store, chain, client });

  const hub = await HubNode.open({
    ...base(S, kv.S),
    config: { channelKey: S.chSk, fee: HUB_FEE, safetyMargin: 6, maxTimeoutDelta: 100 },
    peers: [
      { channel: asS, peerKey: A.idPk, peerAddress: addr(A) },
      { channel: spS, peerKey: P.idPk, peerAddress: addr(P) },
    ],
  });
  const router = await RouterNode.open({
    ...base(P, kv.P),
    config: { address: addr(P), channelKey: P.chSk, cltvDelta: 30 },
    upstream: { channel: spP, peerKey: S.idPk, peerAddress: addr(S) },
    downstream: [{ channel: pbP, peerKey: B2.idPk, peerAddress: addr(B2) }],
  });
  const payer = await PayerNode.open({
    ...base(A, kv.A),
    config: { hubKey: S.idPk, hubAddress: addr(S), channelKey: A.chSk },
    channel: asA,
    hubFee: HUB_FEE,
  });
  hub.on('payment', (e) => events.S.push(e));
  router.on('payment', (e) => events.P.push(e));
  payer.on('payment', (e) => events.A.push(e));

  const openPayee = async () => {
    const payee = await PayeeNode.open({
      ...base(B2, kv.B2),
      config: {
        address: addr(B2),
        channelKey: B2.chSk,
        hubKey: P.idPk,
        hubAddress: addr(P),
        routedHubs: [S.idPk],
        timeoutDelta: 20,
        invoiceTtlMs: 3_600_000,
      },
      channel: pbB,
    });
    payee.on('payment', (e) => events.B2.push(e));
    return payee;
  };
  // B₂ was online once and published its receipt tickets on its relay (SPEC 6.16), where A reads them.
  const early = await openPayee();
  await early.publishTickets(4);
  await early.close();
  return { A, S, P, B2, addr, as, sp, pb, kv, asS, spS, events, hub, router, payer, openPayee };
}

t('A pays B₂ through S and the router P while B₂ is offline: balances, events, receipt; S never learns B₂', async () => {
  const { B2, addr, sp, pb, kv, asS, spS, events, hub, router, payer, openPayee } = await hop();
  const offerId = await payer.payOffline(addr(B2), AMOUNT, { memo: 'routed' });
  await until(() => events.A.some((e) => e.kind === 'offered'), 'the offer to be posted to B₂');
  // B₂ comes online only now, to an offer waiting in its mailbox.
  const payee = await openPayee();
  await until(() => events.A.some((e) => e.kind === 'completed'), 'A to complete');
  await until(() => events.B2.some((e) => e.kind === 'paid') && events.P.some((e) => e.kind === 'paid'), 'B₂ and P to settle');
  await until(() => hub.engine.payments.get(offerId)?.status === 'settled', 'S to settle with P');

  // Balances: A paid amount + fee, S kept the fee, P passed the amount on, B₂ received it; both views agree.
  const fee = hubFee(AMOUNT, HUB_FEE);
  assert.equal(balances(payer.engine.channel), [600_000 - AMOUNT - fee, 399_000 + AMOUNT + fee]);
  assert.equal(balances(asS), balances(payer.engine.channel));
  assert.equal(balances(spS), [700_000 - AMOUNT, 299_000 + AMOUNT]);
  assert.equal(balances(router.engine.upstream.channel), balances(spS));
  assert.equal(balances(router.engine.downstream.get(bytesToHex(pb.channelId))!.channel), [800_000 - AMOUNT, 199_000 + AMOUNT]);
  assert.equal(balances(payee.engine.channel), [800_000 - AMOUNT, 199_000 + AMOUNT]);
  for (const c of [asS, spS, payer.engine.channel, payee.engine.channel]) assert.is(c.pending, undefined, 'nothing left pending');

  // A's receipt: B₂'s signature over this payment under its receipt key, checked from its address alone.
  const done = events.A.find((e) => e.kind === 'completed');
  assert.ok(
    done && done.kind === 'completed' && verifyReceipt(hexToBytes(done.receipt.receipt), addr(B2)),
    'A holds a receipt that verifies',
  );
  const inv = decodeReceipt(hexToBytes(done.receipt.receipt));
  assert.is(bytesToHex(inv.payee), bytesToHex(B2.idPk));
  assert.is(bytesToHex(inv.offerId), offerId);
  assert.is(inv.amount, AMOUNT);

  // S dealt with P only: its invoice came from P, and nothing it stores names B₂.
  assert.is(hub.engine.payments.get(offerId)!.payeeChannel, bytesToHex(sp.channelId));
  const stored = JSON.stringify(hub.engine.toJSON());
  for (const key of [B2.idPk, B2.chPk]) assert.not.ok(stored.includes(bytesToHex(key)), "S's state names B₂");
  assert.not.ok(stored.includes(addr(B2)), "S's state holds B₂'s address");

  await Promise.all([payer.close(), payee.close(), router.close(), hub.close()]);
  await Promise.all(Object.values(kv).map((k) => k.close()));
});

t("B₂ refuses the PTLC (its channel with P is closing): P fails the hub's PTLC back off chain, S frees it, A cancels", async () => {
  const { B2, addr, pb, kv, asS, spS, events, hub, router, payer, openPayee } = await hop();
  const offerId = await payer.payOffline(addr(B2), AMOUNT);
  await until(() => events.A.some((e) => e.kind === 'offered'), 'the offer to be posted to B₂');
  const payee = await openPayee();
  // As soon as B₂ has invoiced, its chain watcher reports an update of P–B on chain: B₂ will
  // refuse P's PTLC_ADD with PTLC_FAIL (nothing new over a closing channel).
  const pbId = bytesToHex(pb.channelId);
  let closing: Promise<void> | undefined;
  payee.on('payment', (e) => {
    if (e.kind === 'invoiced' && !closing) closing = payee.noteUpdateOnChain(pbId, payee.ctx().height);
  });
  await until(() => closing !== undefined, 'B₂ to invoice');
  await closing;
  await until(() => router.payments().find((p) => p.offerId === offerId)?.status === 'failed', 'P to give the PTLC back');
  await until(() => hub.engine.payments.get(offerId)?.status === 'pending', "S's payment to be back before the invoice");
  await until(() => spS.pending === undefined, "S to take P's acknowledgement of the removal");
  assert.ok(
    events.P.some((e) => e.kind === 'rejected' && e.offerId === offerId),
    'P reported the failure',
  );
  assert.equal(balances(spS), [700_000, 299_000], "S's funds are back");
  assert.equal(spS.enforceable.state.ptlcs, [], 'no PTLC left on S–P');
  assert.equal(router.engine.upstream.channel.enforceable.state, spS.enforceable.state, 'S and P agree on S–P');
  assert.is(spS.pending, undefined);
  assert.is(router.engine.downstream.get(pbId)!.channel.pending, undefined, 'P dropped its P–B state');
  // A, who heard nothing, cancels; its channel is free and nothing moved.
  await payer.cancel(offerId);
  await until(() => events.A.some((e) => e.kind === 'cancelled'), 'A to cancel');
  await until(() => asS.pending === undefined, "S to take A's commitment");
  assert.equal(balances(payer.engine.channel), [600_000, 399_000]);
  assert.equal(asS.enforceable.state, payer.engine.channel.enforceable.state);
  await Promise.all([payer.close(), payee.close(), router.close(), hub.close()]);
  await Promise.all(Object.values(kv).map((k) => k.close()));
});

t.run();
