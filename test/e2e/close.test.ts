/**
 * Closing a channel through the role runtimes, the payer and the hub each a
 * runtime with its own LevelDB store, talking through a real relay, each
 * with its watchtower on a chain source with a mempool (the chain model):
 * (a) a cooperative close pays each party exactly its balance; a
 * unilateral close publishes the latest update and settles it after the CSV
 * delay.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex } from '../../base/bytes.js';
import { encodeMailboxAddress } from '../../protocol/address.js';
import { LevelKv } from '../../client/mailbox/kv.js';
import { KvNonceStore } from '../../client/wallet/nonce-store.js';
import { HubNode, PayerNode } from '../../client/wallet/roles.js';
import { fundingOutput } from '../../engine/bitcoin/eltoo.js';
import { txidHex } from '../../engine/bitcoin/transaction.js';
import { eltooTerms, payoutScript } from '../../engine/channel/onchain.js';
import { openChannelPair } from '../../engine/channel/open.js';
import { at } from '../engine/bitcoin/chain-model.js';
import { ChainLog } from '../engine/channel/enforce-fixture.js';
import { TestWallet } from '../client/chain/test-wallet.js';
import { ModelChain } from '../client/wallet/model-chain.js';
import { client, keys, params, spawnRelay, stop, until, type RelayProc } from './world.js';

const t = suite('e2e/close');
let relay: RelayProc;
t.before(async () => {
  relay = await spawnRelay();
});
t.after(async () => {
  await relay.kill();
});

async function setup(csvDelay = 6) {
  const A = keys(),
    S = keys();
  const addr = {
    A: encodeMailboxAddress({ publicKey: A.idPk, relays: [relay.url] }),
    S: encodeMailboxAddress({ publicKey: S.idPk, relays: [relay.url] }),
  };
  const p = params(A.chPk, S.chPk, csvDelay);
  const log = new ChainLog(800_000);
  const f = fundingOutput(eltooTerms(p));
  log.model.addCoin({ txid: p.funding.txid, vout: p.funding.vout }, { amount: f.amount, script: f.scriptPubKey }, at(800_000));
  const chain = new ModelChain(log, 1);
  const kvA = new LevelKv(A.dir),
    kvS = new LevelKv(S.dir);
  const [aCh, sCh] = await openChannelPair(p, [600_000, 399_000], A.chSk, S.chSk, new KvNonceStore(kvA), new KvNonceStore(kvS));
  const wallet = (sk?: Uint8Array) => {
    const w = new TestWallet(sk);
    const amount = 50_000n;
    w.coins.push({ outpoint: log.model.fund(w.output(amount), at(800_000)), amount });
    return w;
  };
  const base = (kv: LevelKv, idSk: Uint8Array) => ({
    identityKey: idSk,
    relays: [relay.url],
    kv,
    chain: { height: () => log.tip },
    client,
    ownsStore: true,
    watch: { chain, wallet: wallet(), pollMs: 3_600_000 },
  });
  const payer = await PayerNode.open({
    ...base(kvA, A.idSk),
    config: { hubKey: S.idPk, hubAddress: addr.S, channelKey: A.chSk },
    channel: aCh,
  });
  const hub = await HubNode.open({
    ...base(kvS, S.idSk),
    config: { channelKey: S.chSk, fee: { base: 0, ppm: 0 }, safetyMargin: 6, maxTimeoutDelta: 100 },
    peers: [{ channel: sCh, peerKey: A.idPk, peerAddress: addr.A }],
  });
  return { A, S, p, log, chain, payer, hub, id: bytesToHex(p.channelId) };
}

/** What the confirmed, unspent outputs paying `script` hold on the model. */
function paidTo(log: ChainLog, script: Uint8Array): number {
  let sum = 0;
  for (const tx of log.txs)
    tx.outputs.forEach((o, vout) => {
      if (
        bytesToHex(o.script) === bytesToHex(script) &&
        log.model.isUnspent({ txid: Uint8Array.from(Buffer.from(txidHex(tx), 'hex')), vout })
      )
        sum += Number(o.amount);
    });
  return sum;
}

t('(a) a cooperative close over the relay: both sign, a watchtower broadcasts, the chain pays each party exactly its balance', async () => {
  const w = await setup();
  try {
    await w.payer.closeChannel(w.id, { cooperative: true });
    await until(() => w.payer.engine.channel.coopCloseTx() !== undefined, 'the hub co-signs the close');
    assert.ok(w.hub.engine.channels()[0]!.coopCloseTx(), 'the hub holds the signed close too');
    await w.payer.tower!.tick();
    await w.hub.tower!.tick(); // already in the mempool: nothing more
    assert.is(w.chain.accepted.length, 1);
    w.chain.mine();
    assert.is(paidTo(w.log, payoutScript(w.p.keys[0])), 600_000);
    assert.is(paidTo(w.log, payoutScript(w.p.keys[1])), 399_000);
    const plans = await w.hub.tower!.tick();
    assert.is(plans.get(w.id)!.phase, 'closed');
    // A closing channel takes no new payment.
    let refused = '';
    await w.payer
      .payOffline(encodeMailboxAddress({ publicKey: w.S.idPk, relays: [relay.url] }), 1_000)
      .catch((e: Error) => (refused = e.message));
    assert.match(refused, /clos/);
  } finally {
    await stop(w.payer);
    await stop(w.hub);
  }
});

t(
  'a unilateral close: the hub publishes the latest update, tells its engine, and settles after the CSV delay; a restart in between finishes it',
  async () => {
    const w = await setup(4);
    let hub = w.hub;
    try {
      await hub.closeChannel(w.id, { cooperative: false });
      await hub.tower!.tick();
      w.chain.mine();
      await hub.tower!.tick();
      assert.ok(hub.engine.channels()[0]!.closing, 'the engine knows the channel is closing');
      await w.payer.tower!.tick();
      assert.ok(w.payer.engine.channel.closing, 'so does the payer, from its own watchtower');
      // Restart the hub mid-enforcement.
      await stop(hub);
      hub = await HubNode.open({
        identityKey: w.S.idSk,
        relays: [relay.url],
        kv: new LevelKv(w.S.dir),
        chain: { height: () => w.log.tip },
        client,
        ownsStore: true,
        watch: { chain: w.chain, pollMs: 3_600_000 },
        config: { channelKey: w.S.chSk, fee: { base: 0, ppm: 0 }, safetyMargin: 6, maxTimeoutDelta: 100 },
        peers: [],
      });
      for (let i = 0; i < 4; i++) {
        await hub.tower!.tick();
        w.chain.mine();
      }
      assert.is(paidTo(w.log, payoutScript(w.p.keys[0])), 600_000);
      assert.is(paidTo(w.log, payoutScript(w.p.keys[1])), 399_000);
    } finally {
      await stop(w.payer);
      await stop(hub);
    }
  },
);

t.run();
