/**
 * The payer's receipt when the hub's COMPLETION never reaches it: the payer
 * goes offline at `offered`, the payee is paid, and the hub closes the payer
 * channel alone, putting the payer's update n, completed with s_B, on chain.
 * The payer comes back with no way to its mailbox (its relay is gone for it)
 * and only its chain source: its watchtower reads update n, and the payer
 * takes s_B from its own signature there. It ends with a receipt that anyone
 * can check against the payee's address.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hexToBytes } from '../../base/bytes.js';
import { verifyReceipt } from '../../protocol/receipt.js';
import { LevelKv } from '../../client/mailbox/kv.js';
import { HubNode, PayeeNode, PayerNode } from '../../client/wallet/roles.js';
import type { PaymentEvent } from '../../engine/payment/types.js';
import { HUB_FEE, client, until } from './world.js';
import { startChainWorld } from './chain-world.js';
import { TERMS } from './open-world.js';

const t = suite('e2e/receipt-from-chain');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t('the hub closes alone after buying s_B; the payer, cut off from its mailbox, takes its receipt from the chain', async () => {
  const cw = await startChainWorld();
  const { relay, model, source, wallet, A, S, B, addr, hubConfig } = cw;
  const chainOpts = { chain: source(), chainPollMs: 100, retryMs: 200, openPollMs: 150 };
  const hub = await HubNode.open({
    identityKey: S.idSk,
    relays: [relay.url],
    kv: new LevelKv(S.dir, { sync: false }),
    client,
    ...chainOpts,
    fundingWallet: wallet(5_000_000),
    terms: TERMS,
    config: { channelKey: S.chSk, fee: HUB_FEE, safetyMargin: 6, maxTimeoutDelta: 100 },
  });
  const payee = await PayeeNode.open({
    identityKey: B.idSk,
    relays: [relay.url],
    kv: new LevelKv(B.dir, { sync: false }),
    client,
    ...chainOpts,
    fundingWallet: wallet(0),
    config: { ...hubConfig(B), address: addr(B), timeoutDelta: 40, invoiceTtlMs: 3_600_000 },
  });
  const payerWallet = wallet(3_000_000);
  const payerOptions = (relays: string[]) => ({
    identityKey: A.idSk,
    relays,
    kv: new LevelKv(A.dir, { sync: false }),
    ownsStore: true,
    client,
    ...chainOpts,
    fundingWallet: payerWallet,
    config: hubConfig(A),
  });
  const payer = await PayerNode.open(payerOptions([relay.url]));
  const miner = setInterval(() => model.mine(1), 100);
  let back: PayerNode | undefined;
  try {
    await payer.openChannel({ amount: 1_000_000 });
    await payee.openChannel({ amount: 800_000 });
    await Promise.all([payer.channelReady(), payee.channelReady()]);
    await until(() => hub.channels().length === 2, 'the hub to count both channels ready', 20_000);
    clearInterval(miner); // a PTLC timeout of 40 blocks must not run out under the miner
    const asId = payer.channel!.params.channelId;
    await payee.publishTickets(4);

    // The payer pays and goes offline at `offered`.
    const offered = new Promise<void>((resolve) => payer.on('payment', (e: PaymentEvent) => e.kind === 'offered' && resolve()));
    const offerId = await payer.payOffline(addr(B), 40_000);
    await offered;
    await payer.close();

    // The payee is paid; the hub has bought s_B and completed the payer's update n.
    await until(() => payee.payments().some((p) => p.offerId === offerId && p.status === 'paid'), 'the payee to be paid', 30_000);
    const hubView = hub.engine.peers.get(Buffer.from(asId).toString('hex'))!.channel;
    await until(() => hubView.pending === undefined && hubView.enforceable.state.n > 0, 'the hub to hold the completed state', 10_000);
    const n = hubView.enforceable.state.n;

    // The hub closes the payer channel alone: update n goes on chain.
    await hub.closeChannel(Buffer.from(asId).toString('hex'), { cooperative: false });
    for (let i = 0; i < 3; i++) {
      await sleep(150);
      model.mine(1);
    }

    // The payer comes back through a relay that is not there: no COMPLETION can reach it.
    back = await PayerNode.open(payerOptions(['http://127.0.0.1:9']));
    back.on('error', () => undefined); // the dead relay, reported over and over
    // The tower starts with the role, so it may take the receipt before `open` returns: read the
    // payer's records, not only its live events.
    const completed = () => back!.payments().find((x) => x.offerId === offerId && x.status === 'completed');
    for (let i = 0; i < 100 && !completed(); i++) {
      model.mine(1);
      await sleep(100);
    }
    const p = completed();
    assert.ok(p, `the payer completed from the chain: ${JSON.stringify(back.payments().map((x) => x.status))}`);
    const history = (await back.getPayment(offerId))!.history.map((h) => h.event);
    const done = history.find((e) => e.kind === 'completed');
    assert.ok(done && done.kind === 'completed', `its history records the completion: ${history.map((e) => e.kind).join(',')}`);
    assert.ok(verifyReceipt(hexToBytes(done.receipt.receipt), addr(B)), 'a receipt a third party can check');
    assert.equal(p!.receipt, done.receipt);
    assert.is(p!.receipt!.n, n);
  } finally {
    clearInterval(miner);
    for (const x of [back, payer, payee, hub]) await x?.close().catch(() => undefined);
    await cw.close();
  }
});

t.run();
