/**
 * The payer as the payee's watchtower (engine/channel/foreign-watch.ts, SPEC
 * 6.18): holding the payee's complete update n and the channel's terms, it
 * beats an older update the hub publishes; wrong terms watch nothing; and
 * the watchtower loop runs it with a fee from the payer's own wallet.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { schnorr } from '@noble/curves/secp256k1.js';
import { LevelKv } from '../../../client/mailbox/kv.js';
import { Watchtower } from '../../../client/wallet/watchtower.js';
import { buildSettlementTx, buildUpdateTx } from '../../../engine/bitcoin/eltoo.js';
import { txidHex } from '../../../engine/bitcoin/transaction.js';
import { foreignWatch, planForeignWatch } from '../../../engine/channel/foreign-watch.js';
import { eltooTerms, settlementSpec } from '../../../engine/channel/onchain.js';
import { requireFundingOutpoint, transfer, type StateRecord } from '../../../engine/channel/state.js';
import { at, rejects } from '../bitcoin/chain-model.js';
import { ModelChain } from '../../client/wallet/model-chain.js';
import { TestWallet } from '../../client/chain/test-wallet.js';
import { cosign, fundedPair, outOf, swappedOldUpdate, type Pair } from './enforce-fixture.js';

const t = suite('channel/foreign-watch');

/** Party 0 is the hub, party 1 the payee; the payer watches state `rec` for the payee. */
const watchOf = (w: Pair, rec: StateRecord, over: { csvDelay?: number; updateFee?: number } = {}) =>
  foreignWatch({
    id: 'req',
    stateKeys: [w.ch[0].stateKey(0), w.ch[0].stateKey(1)],
    funding: { ...requireFundingOutpoint(w.p), amount: w.p.funding.amount },
    updateFee: over.updateFee ?? w.p.fees.update,
    csvDelay: over.csvDelay ?? w.p.csvDelay,
    n: rec.state.n,
    updateSigs: { a: rec.updateSigs[0]!, b: rec.updateSigs[1]! },
  });

const oldUpdate = (w: Pair, r: StateRecord) =>
  buildUpdateTx(
    eltooTerms(w.p),
    r.state.n,
    { kind: 'funding', outpoint: requireFundingOutpoint(w.p) },
    {
      a: r.updateSigs[0]!,
      b: r.updateSigs[1]!,
    },
  );

t('the hub publishes an older state: the watch rebinds the payee update over it; the old settlement is dead', async () => {
  const w = await fundedPair();
  const old = structuredClone(w.ch[1].enforceable);
  await cosign(w, transfer(w.ch[0].enforceable.state, 0, 20_000, 1)); // the hub paid the payee
  const job = watchOf(w, w.ch[1].enforceable)!;
  assert.ok(job);
  const u0 = oldUpdate(w, old);
  assert.equal(planForeignWatch(job, w.chain.view()).broadcasts, [], 'nothing on chain: nothing to do');
  w.chain.mine(u0);
  const plan = planForeignWatch(job, w.chain.view());
  assert.equal(
    plan.broadcasts.map((b) => [b.kind, b.needsFee]),
    [['update', true]],
  );
  w.chain.mine(plan.broadcasts[0]!.tx);
  w.chain.advance(w.p.csvDelay + 2);
  const s0 = buildSettlementTx(eltooTerms(w.p), settlementSpec(w.p, old.state), outOf(u0), {
    a: old.settleSigs[0]!,
    b: old.settleSigs[1]!,
  });
  rejects(() => w.chain.mine(s0.tx), 'missing-input');
  assert.equal(planForeignWatch(job, w.chain.view()).broadcasts, [], 'done: the payee settles when it returns');
});

t('attack: the hub publishes an older state with the channel input at index 1 (and a decoy output): the watch still beats it', async () => {
  for (const decoy of [false, true]) {
    const w = await fundedPair();
    const old = structuredClone(w.ch[1].enforceable);
    await cosign(w, transfer(w.ch[0].enforceable.state, 0, 20_000, 1)); // the hub paid the payee
    const job = watchOf(w, w.ch[1].enforceable)!;
    const u0 = swappedOldUpdate(w, old, decoy);
    w.chain.mine(u0);
    const plan = planForeignWatch(job, w.chain.view());
    assert.equal(
      plan.broadcasts.map((b) => [b.kind, b.tx.inputs[0]!.vout]),
      [['update', 1]],
      'the rebinding spends the real channel output',
    );
    w.chain.mine(plan.broadcasts[0]!.tx);
    w.chain.advance(w.p.csvDelay + 2);
    const s0 = buildSettlementTx(eltooTerms(w.p), settlementSpec(w.p, old.state), outOf(u0, 1), {
      a: old.settleSigs[0]!,
      b: old.settleSigs[1]!,
    });
    rejects(() => w.chain.mine(s0.tx), 'missing-input');
  }
});

t('terms that do not match the signatures watch nothing; a newer state on chain is left alone', async () => {
  const w = await fundedPair();
  await cosign(w, transfer(w.ch[0].enforceable.state, 0, 20_000, 1));
  assert.is(watchOf(w, w.ch[1].enforceable, { csvDelay: w.p.csvDelay + 1 }), null);
  assert.is(watchOf(w, w.ch[1].enforceable, { updateFee: w.p.fees.update + 1 }), null);
  const s1 = structuredClone(w.ch[1].enforceable);
  await cosign(w, transfer(w.ch[0].enforceable.state, 0, 1_000, 2));
  w.chain.mine(oldUpdate(w, w.ch[1].enforceable)); // state 2, newer than the watched 1
  assert.equal(planForeignWatch(watchOf(w, s1)!, w.chain.view()).broadcasts, []);
});

t('the watchtower loop runs a foreign watch, paying the rebinding fee from its own wallet', async () => {
  const w = await fundedPair();
  const old = structuredClone(w.ch[1].enforceable);
  await cosign(w, transfer(w.ch[0].enforceable.state, 0, 20_000, 1));
  const job = watchOf(w, w.ch[1].enforceable)!;
  const chain = new ModelChain(w.chain, 1);
  const wallet = new TestWallet();
  wallet.coins.push({ outpoint: w.chain.model.fund(wallet.output(40_000n), at(99)), amount: 40_000n });
  const dir = await mkdtemp(join(tmpdir(), 'lnmb-foreign-'));
  const kv = new LevelKv(dir);
  const tower = new Watchtower(
    {
      channels: async () => [],
      channelKey: schnorr.utils.randomSecretKey(),
      noteUpdateOnChain: async () => undefined,
      foreign: async () => [job],
    },
    kv,
    { chain, wallet },
  );
  const sent: string[] = [];
  tower.on('broadcast', (b) => sent.push(b.txid));
  try {
    await chain.broadcast(oldUpdate(w, old));
    chain.mine();
    await tower.tick();
    assert.is(sent.length, 1);
    chain.mine();
    const mined = w.chain.txs.find((x) => txidHex(x) === sent[0]);
    assert.ok(mined, 'the payee update confirmed');
    assert.is(mined.lockTime, 500_000_001, 'update 1');
  } finally {
    await kv.close();
    await rm(dir, { recursive: true, force: true });
  }
});

t.run();
