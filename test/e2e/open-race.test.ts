/**
 * Each side of a channel counts the funding's confirmations on its own chain
 * source, so the wallet can see its channel ready before the hub's next poll
 * does, and pay at once. The hub must not refuse that payment as one on an
 * unknown channel: a message on a channel that is still opening at the hub
 * makes it look at the chain first, whether the message names the channel
 * as `channelId` or, as an invoice does, as `payeeChannel`. Here the hub's
 * own open poll is an hour, so the only way it learns of the late channel's
 * confirmations is that look.
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

/**
 * Opens both channels, the `late` one last: the hub counts the other's
 * confirmations (its open pass run by hand), not the late one's. Then the
 * payer pays at once, and the message naming the late channel reaches the hub
 * first: the payer's UPDATE_PROPOSE, or the payee's INVOICE (which names its
 * channel as `payeeChannel`).
 */
async function race(late: 'payer' | 'payee'): Promise<void> {
  {
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
      const ready = { payer: false, payee: false };
      const open = async (who: 'payer' | 'payee', byHand: boolean) => {
        const node = who === 'payer' ? payer : payee;
        await node.openChannel({ amount: who === 'payer' ? 1_000_000 : 800_000 });
        void node.channelReady().then(() => (ready[who] = true));
        // The hub's open pass runs while no block is mined: it funds a channel it funds (the payee's),
        // and cannot count any confirmation yet.
        for (let i = 0; i < 10; i++) {
          await hub.syncOpens();
          await sleep(100);
        }
        const counted = hub.channels().length + 1;
        for (let i = 0; i < 200 && !(ready[who] && (!byHand || hub.channels().length === counted)); i++) {
          model.mine(1);
          await sleep(100);
          if (byHand) await hub.syncOpens();
        }
        assert.ok(ready[who], `the ${who} channel is ready at the ${who}`);
      };
      const early = late === 'payer' ? 'payee' : 'payer';
      await open(early, true);
      assert.is(hub.channels().length, 1, `the hub counted the ${early} channel’s confirmations`);
      await open(late, false);
      assert.is(hub.channels().length, 1, `the hub has not counted the ${late} channel’s confirmations yet`);

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
      assert.is(hub.channels().length, 2, `the hub took the ${late} channel when the payment reached it`);
    } finally {
      for (const n of [payer, payee, hub]) await n.close();
      await cw.close();
    }
  }
}

t('the payer pays the moment it sees its channel confirmed; the hub, which had not polled yet, looks at the chain and accepts', () =>
  race('payer'),
);

t('the payee invoices the moment it sees its channel confirmed; the hub, which had not polled yet, looks at the chain and pays', () =>
  race('payee'),
);

t.run();
