/**
 * Enforcement and closes through the role runtimes: the payer and the hub
 * each a runtime with its own LevelDB store, talking through a real relay,
 * each watching the chain simulator through the Esplora client over HTTP,
 * each paying fees from its own SingleKeyWallet. Cases:
 * (a) a cooperative close pays each party exactly its balance;
 * (b) the payer broadcasts an older update; the hub's watchtower beats it
 *     and settles the latest state;
 * (e) an update below the mempool's minimum fee rate is refused, and the
 *     party who needs it bumps it alone;
 * and a unilateral close that survives a restart of the hub mid-way.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex } from '../../base/bytes.js';
import { ErrorCode } from '../../base/errors.js';
import { encodeMailboxAddress } from '../../protocol/address.js';
import { EsploraChainSource } from '../../client/chain/esplora.js';
import { SingleKeyWallet } from '../../client/chain/single-key-wallet.js';
import { LevelKv } from '../../client/mailbox/kv.js';
import { KvNonceStore } from '../../client/wallet/nonce-store.js';
import { HubNode, PayerNode } from '../../client/wallet/roles.js';
import { buildUpdateTx, fundingOutput } from '../../engine/bitcoin/eltoo.js';
import type { StateRecord } from '../../engine/channel/channel.js';
import { eltooTerms, payoutScript } from '../../engine/channel/onchain.js';
import { openChannelPair } from '../../engine/channel/open.js';
import { requireFundingOutpoint, transfer, type ChannelParams } from '../../engine/channel/state.js';
import { ChainModel } from '../../sim/chain-model.js';
import { startEsploraServer, type EsploraServer } from '../../sim/esplora-server.js';
import { rejectsCode } from '../helpers.js';
import { client, keys, params, spawnRelay, stop, until, type RelayProc, type RoleKeys } from './world.js';

const t = suite('e2e/chain-enforce');
let relay: RelayProc;
t.before(async () => {
  relay = await spawnRelay();
});
t.after(async () => {
  await relay.kill();
});

interface World {
  A: RoleKeys;
  S: RoleKeys;
  p: ChannelParams;
  model: ChainModel;
  esplora: EsploraServer;
  chain: EsploraChainSource;
  payer: PayerNode;
  hub: HubNode;
  id: string;
  /** The fully signed state 0, kept by the payer to cheat with. */
  old: StateRecord;
  openHub(): Promise<HubNode>;
}

/** A–S funded on the simulator; with `paid`, A has paid S 100 000 sats (state 1). */
async function setup(o: { csvDelay?: number; paid?: boolean } = {}): Promise<World> {
  const A = keys(),
    S = keys();
  const addr = {
    A: encodeMailboxAddress({ publicKey: A.idPk, relays: [relay.url] }),
    S: encodeMailboxAddress({ publicKey: S.idPk, relays: [relay.url] }),
  };
  const model = new ChainModel({ height: 800_000, minFeeRate: 1 });
  const esplora = await startEsploraServer(model, { port: 0 });
  const chain = new EsploraChainSource(esplora.url);
  const base = params(A.chPk, S.chPk, o.csvDelay ?? 6);
  const f0 = fundingOutput(eltooTerms(base));
  const funding = model.fundScript(f0.scriptPubKey, f0.amount);
  const p: ChannelParams = { ...base, funding: { txid: funding.txid, vout: funding.vout, amount: base.funding.amount } };
  const kvA = new LevelKv(A.dir),
    kvS = new LevelKv(S.dir);
  const nA = new KvNonceStore(kvA),
    nS = new KvNonceStore(kvS);
  const [aCh, sCh] = await openChannelPair(p, [600_000, 399_000], A.chSk, S.chSk, nA, nS);
  const old = structuredClone(aCh.enforceable);
  if (o.paid) {
    const next = transfer(aCh.enforceable.state, 0, 100_000, 1);
    aCh.propose(next);
    sCh.propose(next);
    sCh.receiveSettlementSig(aCh.signSettlement(A.chSk));
    aCh.receiveSettlementSig(sCh.signSettlement(S.chSk));
    sCh.receiveUpdateNonce(await aCh.commitUpdateNonce(nA, A.chSk));
    aCh.receiveUpdateNonce(await sCh.commitUpdateNonce(nS, S.chSk));
    sCh.receiveUpdateSig(await aCh.signUpdate(nA, A.chSk));
    aCh.receiveUpdateSig(await sCh.signUpdate(nS, S.chSk));
  }
  const wallet = (sk: Uint8Array) => {
    const w = new SingleKeyWallet(sk, chain, { minConfirmations: 0 });
    model.fundScript(w.scriptPubKey, 50_000);
    return w;
  };
  const walletA = wallet(A.chSk.slice().reverse()),
    walletS = wallet(S.chSk.slice().reverse());
  const opts = (kv: LevelKv, idSk: Uint8Array, w: SingleKeyWallet) => ({
    identityKey: idSk,
    relays: [relay.url],
    kv,
    chain,
    chainPollMs: 3_600_000,
    client,
    ownsStore: true,
    watch: { wallet: w, pollMs: 3_600_000 },
  });
  const payer = await PayerNode.open({
    ...opts(kvA, A.idSk, walletA),
    config: { hubKey: S.idPk, hubAddress: addr.S, channelKey: A.chSk },
    channel: aCh,
  });
  const openHub = async (kv = new LevelKv(S.dir)) =>
    HubNode.open({
      ...opts(kv, S.idSk, walletS),
      config: { channelKey: S.chSk, fee: { base: 0, ppm: 0 }, safetyMargin: 6, maxTimeoutDelta: 100 },
      peers: [{ channel: sCh, peerKey: A.idPk, peerAddress: addr.A }],
    });
  const hub = await openHub(kvS);
  return { A, S, p, model, esplora, chain, payer, hub, id: bytesToHex(p.channelId), old, openHub: () => openHub() };
}

async function teardown(w: World, hub = w.hub): Promise<void> {
  await stop(w.payer);
  await stop(hub);
  await w.esplora.close();
}

/** Confirmed and unconfirmed outputs the simulator holds at `script`, in sats. */
const paidTo = (w: World, script: Uint8Array) => w.model.utxosOf(script).reduce((s, u) => s + Number(u.output.amount), 0);

t('(a) a cooperative close over the relay: both sign, a watchtower broadcasts, the chain pays each party exactly its balance', async () => {
  const w = await setup({ paid: true });
  try {
    await w.payer.closeChannel(w.id, { cooperative: true });
    await until(() => w.payer.engine.channel.coopCloseTx() !== undefined, 'the hub co-signs the close');
    assert.ok(w.hub.engine.channels()[0]!.coopCloseTx(), 'the hub holds the signed close too');
    await w.hub.tower!.tick();
    await w.payer.tower!.tick(); // already in the mempool: nothing more
    assert.is(w.model.mempool().length, 1);
    w.model.mine();
    assert.is(paidTo(w, payoutScript(w.p.keys[0])), 500_000);
    assert.is(paidTo(w, payoutScript(w.p.keys[1])), 499_000);
    const plans = await w.hub.tower!.tick();
    assert.is(plans.get(w.id)!.phase, 'closed');
    // A channel closing cooperatively takes no new payment.
    await rejectsCode(
      w.payer.payOffline(encodeMailboxAddress({ publicKey: w.S.idPk, relays: [relay.url] }), 1_000),
      ErrorCode.PAYMENT_REJECTED,
    );
  } finally {
    await teardown(w);
  }
});

t(
  '(b) the payer broadcasts an older update: the hub beats it with the latest (fee from its own wallet) and settles the latest state',
  async () => {
    const w = await setup({ paid: true });
    try {
      const cheat = buildUpdateTx(
        eltooTerms(w.p),
        0,
        { kind: 'funding', outpoint: requireFundingOutpoint(w.p) },
        {
          a: w.old.updateSigs[0]!,
          b: w.old.updateSigs[1]!,
        },
      );
      await w.chain.broadcast(cheat);
      w.model.mine();
      const sent: string[] = [];
      w.hub.tower!.on('broadcast', (b) => sent.push(`${b.kind}${b.bumped ? '+fee' : ''}`));
      await w.hub.tower!.tick();
      assert.ok(w.hub.engine.channels()[0]!.closing, 'the hub engine knows the channel is closing');
      for (let i = 0; i < w.p.csvDelay + 1; i++) {
        w.model.mine();
        await w.hub.tower!.tick();
      }
      w.model.mine();
      assert.equal(sent, ['update+fee', 'settlement']);
      assert.is(paidTo(w, payoutScript(w.p.keys[0])), 500_000, 'the payer gets the latest balance, not the old one');
      assert.is(paidTo(w, payoutScript(w.p.keys[1])), 499_000);
    } finally {
      await teardown(w);
    }
  },
);

t('(e) an update below the minimum fee rate is refused by the mempool; the hub closing unilaterally bumps it alone', async () => {
  const w = await setup();
  try {
    w.model.minFeeRate = 25; // the channel's update fee (500 sats) pays about 3 sat/vB
    const plain = buildUpdateTx(
      eltooTerms(w.p),
      0,
      { kind: 'funding', outpoint: requireFundingOutpoint(w.p) },
      {
        a: w.old.updateSigs[0]!,
        b: w.old.updateSigs[1]!,
      },
    );
    await rejectsCode(w.chain.broadcast(plain), ErrorCode.CHAIN_REJECTED);
    const sent: { kind: string; bumped: boolean; txid: string }[] = [];
    w.hub.tower!.on('broadcast', (b) => sent.push(b));
    await w.hub.closeChannel(w.id, { cooperative: false });
    await w.hub.tower!.tick();
    assert.equal(
      sent.map((s) => [s.kind, s.bumped]),
      [['update', true]],
    );
    w.model.mine();
    const mined = (await w.chain.getTx(sent[0]!.txid))!;
    assert.is(mined.height, w.model.height, 'confirmed');
    assert.is(mined.tx.inputs.length, 2, 'the channel input and the hub wallet input');
    assert.is(mined.tx.outputs.length, 2, 'the channel output and the hub wallet change');
  } finally {
    await teardown(w);
  }
});

t(
  'a unilateral close: the hub publishes the latest update and settles after the CSV delay; restarted in between, it finishes',
  async () => {
    const w = await setup({ csvDelay: 4, paid: true });
    let hub = w.hub;
    try {
      await hub.closeChannel(w.id, { cooperative: false });
      await hub.tower!.tick();
      w.model.mine();
      await hub.tower!.tick();
      await w.payer.tower!.tick();
      assert.ok(w.payer.engine.channel.closing, 'the payer learns it from its own watchtower');
      await stop(hub);
      hub = await w.openHub();
      for (let i = 0; i < 4; i++) {
        w.model.mine();
        await hub.tower!.tick();
      }
      w.model.mine();
      assert.is(paidTo(w, payoutScript(w.p.keys[0])), 500_000);
      assert.is(paidTo(w, payoutScript(w.p.keys[1])), 499_000);
    } finally {
      await teardown(w, hub);
    }
  },
);

t.run();
