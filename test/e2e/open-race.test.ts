/**
 * Each side of a channel counts the funding's confirmations on its own chain
 * source, so the wallet can see its channel ready before the hub's next poll
 * does, and pay at once. The hub must not refuse that payment as one on an
 * unknown channel: a message on a channel that is still opening at the hub
 * makes it look at the chain first. Here the hub's own open poll is an hour,
 * so the only way it learns of the payer channel's confirmations is that
 * look; the payer pays the moment it sees its channel ready.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LevelKv } from '../../client/mailbox/kv.js';
import { HubNode, PayeeNode, PayerNode } from '../../client/wallet/roles.js';
import type { PaymentEvent } from '../../engine/payment/types.js';
import { HUB_FEE, client, until } from './world.js';
import { startChainWorld } from './chain-world.js';
import { TERMS } from './open-world.js';

const t = suite('e2e/open-race');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t(
  'the payer pays the moment it sees its channel confirmed; the hub, which had not polled yet, looks at the chain and accepts',
  async () => {
    const cw = await startChainWorld();
    const { relay, model, source, wallet, A, S, B, addr, hubConfig } = cw;
    const wake = { chainPollMs: 100, retryMs: 200 };
    const hub = await HubNode.open({
      identityKey: S.idSk,
      relays: [relay.url],
      kv: new LevelKv(S.dir),
      client,
      chain: source(),
      ...wake,
      openPollMs: 3_600_000, // the hub never polls its opens on its own during this test
      fundingWallet: wallet(5_000_000),
      terms: TERMS,
      config: { channelKey: S.chSk, fee: HUB_FEE, safetyMargin: 6, maxTimeoutDelta: 100 },
    });
    const payee = await PayeeNode.open({
      identityKey: B.idSk,
      relays: [relay.url],
      kv: new LevelKv(B.dir),
      client,
      chain: source(),
      ...wake,
      openPollMs: 150,
      fundingWallet: wallet(0),
      config: { ...hubConfig(B), address: addr(B), timeoutDelta: 40, invoiceTtlMs: 3_600_000 },
    });
    const payer = await PayerNode.open({
      identityKey: A.idSk,
      relays: [relay.url],
      kv: new LevelKv(A.dir),
      client,
      chain: source(),
      ...wake,
      openPollMs: 150,
      fundingWallet: wallet(3_000_000),
      config: hubConfig(A),
    });
    const events: PaymentEvent[] = [];
    payer.on('payment', (e: PaymentEvent) => events.push(e));
    try {
      // The payee's channel, funded by the hub: here the hub's open pass is run by hand.
      await payee.openChannel({ amount: 800_000 });
      let payeeReady = false;
      void payee.channelReady().then(() => (payeeReady = true));
      for (let i = 0; i < 200 && !(payeeReady && hub.channels().length === 1); i++) {
        model.mine(1);
        await sleep(100);
        await hub.syncOpens();
      }
      assert.ok(payeeReady, 'the payee channel is ready');
      assert.is(hub.channels().length, 1, 'the hub counted the payee channel’s confirmations');

      // The payer's channel, funded by the payer: blocks are mined until the payer sees it ready.
      await payer.openChannel({ amount: 1_000_000 });
      let payerReady = false;
      void payer.channelReady().then(() => (payerReady = true));
      for (let i = 0; i < 200 && !payerReady; i++) {
        model.mine(1);
        await sleep(100);
      }
      assert.ok(payerReady, 'the payer channel is ready at the payer');
      assert.is(hub.channels().length, 1, 'the hub has not counted the payer channel’s confirmations yet');

      await payee.publishTickets(4);
      const offerId = await payer.payOffline(addr(B), 40_000);
      await until(
        () => events.some((e) => e.kind === 'completed' || e.kind === 'rejected'),
        'the payment to complete or be refused',
        30_000,
      );
      const rejected = events.find((e) => e.kind === 'rejected');
      assert.not.ok(rejected, `refused: ${JSON.stringify(rejected)}`);
      assert.ok(events.some((e) => e.kind === 'completed' && e.offerId === offerId));
      assert.is(hub.channels().length, 2, 'the hub took the payer channel when the payment reached it');
    } finally {
      for (const n of [payer, payee, hub]) await n.close();
      await cw.close();
    }
  },
);

t.run();
