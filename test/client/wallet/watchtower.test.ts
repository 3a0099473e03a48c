/**
 * The watchtower loop (client/wallet/watchtower.ts) over a chain source with
 * a mempool and a minimum fee rate, on a real LevelDB store: it enforces the
 * latest state against an old one, settles, claims with a secret it learned
 * from a step, refunds after the timeout, bumps what pays too little with
 * the role's own wallet, and after a restart sends the same transactions.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToHex } from '../../../base/bytes.js';
import { LevelKv, type Kv } from '../../../client/mailbox/kv.js';
import { Watchtower, towerWrites } from '../../../client/wallet/watchtower.js';
import { buildUpdateTx } from '../../../engine/bitcoin/eltoo.js';
import { txidHex } from '../../../engine/bitcoin/transaction.js';
import { Channel } from '../../../engine/channel/channel.js';
import { eltooTerms, payoutScript } from '../../../engine/channel/onchain.js';
import { requireFundingOutpoint, addPtlc, transfer, type StateRecord } from '../../../engine/channel/state.js';
import type { Step } from '../../../engine/payment/types.js';
import { PaymentType, type PaymentMessage } from '../../../protocol/payment.js';
import { at } from '../../engine/bitcoin/chain-model.js';
import { cosign, fundedPair, presig, ptlcSecret, type Pair } from '../../engine/channel/enforce-fixture.js';
import { TestWallet } from '../chain/test-wallet.js';
import { ModelChain } from './model-chain.js';

const t = suite('wallet/watchtower');
const dirs: string[] = [];
async function store(dir?: string): Promise<{ kv: Kv; dir: string }> {
  const d = dir ?? (await mkdtemp(join(tmpdir(), 'lnmb-tower-')));
  if (!dir) dirs.push(d);
  return { kv: new LevelKv(d), dir: d };
}

/** A tower for party `me` of the pair; `noted` collects its noteUpdateOnChain calls, `updates` its noteUpdateSigsOnChain calls. */
function tower(w: Pair, me: 0 | 1, chain: ModelChain, kv: Kv, wallet?: TestWallet) {
  const noted: number[] = [];
  const updates: { n: number; sigs: string[] }[] = [];
  const tw = new Watchtower(
    {
      channels: async () => [Channel.fromJSON(w.ch[me].toJSON())],
      channelKey: w.sk[me],
      noteUpdateOnChain: async (_id, h) => {
        noted.push(h);
        w.ch[me].noteUpdateOnChain(h);
      },
      noteUpdateSigsOnChain: async (_id, n, sigs) => void updates.push({ n, sigs: sigs.map((x) => bytesToHex(x)) }),
    },
    kv,
    { chain, ...(wallet ? { wallet } : {}) },
  );
  const sent: { label: string; txid: string; bumped: boolean }[] = [];
  tw.on('broadcast', (b) => sent.push(b));
  const errors: Error[] = [];
  tw.on('error', (e) => errors.push(e));
  return { tw, noted, updates, sent, errors };
}

function fundWallet(w: Pair, amount = 100_000n): TestWallet {
  const wallet = new TestWallet();
  wallet.coins.push({ outpoint: w.chain.model.fund(wallet.output(amount), at(99)), amount });
  return wallet;
}

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

/** The value the chain model holds at `script` among the outputs of every confirmed transaction still unspent. */
function paidTo(w: Pair, script: Uint8Array): number {
  let sum = 0;
  for (const tx of w.chain.txs)
    tx.outputs.forEach((o, vout) => {
      if (
        bytesToHex(o.script) === bytesToHex(script) &&
        w.chain.model.isUnspent({ txid: Uint8Array.from(Buffer.from(txidHex(tx), 'hex')), vout })
      )
        sum += Number(o.amount);
    });
  return sum;
}

t(
  '(b) the peer broadcasts an older update: the tower beats it with the latest, paying the fee from its own wallet, and settles it',
  async () => {
    const w = await fundedPair();
    const old = structuredClone(w.ch[0].enforceable);
    await cosign(w, transfer(w.ch[0].enforceable.state, 0, 25_000, 1));
    const chain = new ModelChain(w.chain, 1);
    const { kv } = await store();
    const wallet = fundWallet(w);
    const hub = tower(w, 1, chain, kv, wallet);
    await hub.tw.tick();
    assert.equal(hub.sent, [], 'nothing to do while nobody closes');
    // The payer publishes state 0 (its own fee: updateFee pays the minimum here).
    await chain.broadcast(oldUpdate(w, old));
    chain.mine();
    const hOld = w.chain.tip;
    await hub.tw.tick();
    assert.equal(hub.noted, [hOld], 'the engine is told the channel is closing');
    assert.equal(
      hub.sent.map((s) => [s.label.split(':')[0], s.bumped]),
      [['update', true]],
    );
    chain.mine();
    assert.ok(
      w.chain.txs.some((x) => txidHex(x) === hub.sent[0]!.txid),
      'the rebinding confirmed',
    );
    for (let i = 0; i < w.p.csvDelay; i++) {
      await hub.tw.tick();
      chain.mine();
    }
    const settle = hub.sent.find((s) => s.label === 'settlement:1');
    assert.ok(settle, JSON.stringify(hub.sent));
    assert.ok(
      w.chain.txs.some((x) => txidHex(x) === settle.txid),
      'the settlement confirmed',
    );
    assert.is(paidTo(w, payoutScript(w.p.keys[0])), 35_000);
    assert.is(paidTo(w, payoutScript(w.p.keys[1])), w.ch[1].enforceable.state.balances[1]);
    assert.equal(hub.errors, []);
  },
);

t('the engine failing to record the close (a store down, a refused step) does not hold up the rebinding update', async () => {
  const w = await fundedPair();
  const old = structuredClone(w.ch[0].enforceable);
  await cosign(w, transfer(w.ch[0].enforceable.state, 0, 25_000, 1));
  const chain = new ModelChain(w.chain, 1);
  const { kv } = await store();
  const errors: Error[] = [];
  const sent: string[] = [];
  const failing = () => Promise.reject(new Error('store unavailable'));
  const tw = new Watchtower(
    {
      channels: async () => [Channel.fromJSON(w.ch[1].toJSON())],
      channelKey: w.sk[1],
      noteUpdateOnChain: failing,
      noteUpdateSigsOnChain: failing,
    },
    kv,
    { chain, wallet: fundWallet(w) },
  );
  tw.on('broadcast', (b) => sent.push(b.label.split(':')[0]!));
  tw.on('error', (e) => errors.push(e));
  await chain.broadcast(oldUpdate(w, old));
  chain.mine();
  await tw.tick();
  assert.equal(sent, ['update'], 'the latest update went out over the old one');
  assert.ok(errors.length >= 2 && errors.every((e) => e.message === 'store unavailable'), 'each failure is reported');
  await tw.tick();
  assert.ok(errors.length >= 4, 'and tried again at the next tick');
});

t('each update seen on chain is handed to the role once, with its two signatures, across ticks and a restart', async () => {
  const w = await fundedPair();
  const old = structuredClone(w.ch[0].enforceable);
  await cosign(w, transfer(w.ch[0].enforceable.state, 0, 25_000, 1));
  const chain = new ModelChain(w.chain, 1);
  const { kv, dir } = await store();
  const payer = tower(w, 0, chain, kv, fundWallet(w));
  await chain.broadcast(oldUpdate(w, old));
  chain.mine();
  await payer.tw.tick();
  chain.mine(); // the payer's own rebinding to state 1
  await payer.tw.tick();
  await payer.tw.tick();
  const sigsOf = (r: StateRecord) => [bytesToHex(r.updateSigs[0]!), bytesToHex(r.updateSigs[1]!)];
  assert.equal(payer.updates, [
    { n: 0, sigs: sigsOf(old) },
    { n: 1, sigs: sigsOf(w.ch[0].enforceable) },
  ]);
  await payer.tw.close();
  await kv.close();
  const reopened = (await store(dir)).kv;
  const again = tower(w, 0, chain, reopened);
  await again.tw.tick();
  assert.equal(again.errors, []);
  assert.equal(again.updates, [], 'a restarted tower does not hand them over again');
  await again.tw.close();
  await reopened.close();
});

t(
  '(e) an update below the minimum fee rate is refused by the chain, and the broadcaster bumps it alone (fee input and change)',
  async () => {
    const w = await fundedPair();
    await cosign(w, transfer(w.ch[0].enforceable.state, 0, 5_000, 1));
    const chain = new ModelChain(w.chain, 1);
    const { kv } = await store();
    const wallet = fundWallet(w);
    const payer = tower(w, 0, chain, kv, wallet);
    await payer.tw.forceClose(bytesToHex(w.p.channelId));
    // The channel's own update fee (300 sats) no longer pays the minimum rate.
    chain.minFeeRate = 20;
    const update = buildUpdateTx(
      eltooTerms(w.p),
      1,
      { kind: 'funding', outpoint: requireFundingOutpoint(w.p) },
      {
        a: w.ch[0].enforceable.updateSigs[0]!,
        b: w.ch[0].enforceable.updateSigs[1]!,
      },
    );
    let refused = '';
    await chain.broadcast(update).catch((e: Error) => (refused = e.message));
    assert.match(refused, /fee: /);
    await payer.tw.tick();
    assert.equal(
      payer.sent.map((s) => [s.label.split(':')[0], s.bumped]),
      [['update', true]],
    );
    chain.mine();
    const mined = w.chain.txs.find((x) => txidHex(x) === payer.sent[0]!.txid)!;
    assert.ok(mined, 'the bumped update confirmed');
    assert.is(mined.inputs.length, 2, 'channel input and the wallet fee input');
    assert.is(mined.outputs.length, 2, 'channel output and the wallet change');
    assert.is(bytesToHex(mined.outputs[1]!.script), bytesToHex(wallet.script));
    assert.is(wallet.funded, 1);
    // Without a wallet the tower cannot bump: it says so and retries later.
    const w2 = await fundedPair();
    const chain2 = new ModelChain(w2.chain, 20);
    const bare = tower(w2, 0, chain2, (await store()).kv);
    await bare.tw.forceClose(bytesToHex(w2.p.channelId));
    await bare.tw.tick();
    assert.equal(bare.sent, []);
    assert.ok(bare.errors.some((e) => /FUNDING_INVALID|no wallet/.test(`${(e as { code?: string }).code} ${e.message}`)));
  },
);

t('(e) a stale fee estimate: the plain update is refused below the minimum rate, and the tower bumps it and broadcasts again', async () => {
  const w = await fundedPair();
  const chain = new ModelChain(w.chain, 20);
  chain.estimate = 1; // the chain source thinks 1 sat/vB is enough
  const wallet = fundWallet(w);
  const hub = tower(w, 1, chain, (await store()).kv, wallet);
  await hub.tw.forceClose(bytesToHex(w.p.channelId));
  await hub.tw.tick();
  assert.ok(chain.refused.length >= 1, 'the first attempt, at the channel fee, was refused');
  assert.ok(
    chain.refused.every((r) => r.endsWith(':fee')),
    chain.refused.join(' '),
  );
  assert.equal(
    hub.sent.map((s) => [s.label.split(':')[0], s.bumped]),
    [['update', true]],
  );
  chain.mine();
  assert.ok(
    w.chain.txs.some((x) => txidHex(x) === hub.sent[0]!.txid),
    'the bumped update confirmed',
  );
  assert.equal(hub.errors, []);
});

/** A step that sent `m` (what the runtime hands towerWrites). */
const sent = (m: Partial<PaymentMessage>): Step =>
  ({ send: [{ to: '', message: m as PaymentMessage }], retract: [], events: [] }) as unknown as Step;

t(
  '(c) the peer stops after the payee revealed the secret: the payee claims its PTLC on chain, and the offerer reads the secret back',
  async () => {
    const w = await fundedPair({ csvDelay: 4 });
    const x = ptlcSecret();
    const timeout = w.chain.tip + 30;
    await cosign(w, addPtlc(w.ch[0].enforceable.state, { id: x.id, offerer: 0, amount: 9_000, point: x.point, timeout }, 1));
    const pre = presig(w, 0, x.id);
    const chain = new ModelChain(w.chain, 1);
    const payeeStore = (await store()).kv;
    const hubStore = (await store()).kv;
    // What the steps taught each side: the hub sent PTLC_ADD (its pre-signature), the payee received it and sent PTLC_FULFILL.
    await hubStore.batch(towerWrites(sent({ type: PaymentType.PTLC_ADD, channelId: w.p.channelId, offerId: x.id, claimPresig: pre })));
    await payeeStore.batch([
      ...towerWrites({ send: [], retract: [], events: [] } as unknown as Step, {
        from: new Uint8Array(32),
        message: { type: PaymentType.PTLC_ADD, channelId: w.p.channelId, offerId: x.id, claimPresig: pre } as unknown as PaymentMessage,
      }),
      ...towerWrites(sent({ type: PaymentType.PTLC_FULFILL, channelId: w.p.channelId, offerId: x.id, secret: x.t })),
    ]);
    // A stranger names the same PTLC with a forged pre-signature and a wrong secret, after the genuine ones:
    // they are kept as candidates that do not verify and change nothing.
    const stranger = { from: new Uint8Array(32).fill(7) };
    for (const message of [
      { type: PaymentType.PTLC_ADD, channelId: w.p.channelId, offerId: x.id, claimPresig: new Uint8Array(65).fill(1) },
      { type: PaymentType.PTLC_FULFILL, channelId: w.p.channelId, offerId: x.id, secret: new Uint8Array(32).fill(2) },
    ])
      await payeeStore.batch(
        towerWrites({ send: [], retract: [], events: [] } as unknown as Step, {
          ...stranger,
          message: message as unknown as PaymentMessage,
        }),
      );
    const payee = tower(w, 1, chain, payeeStore, fundWallet(w));
    const hub = tower(w, 0, chain, hubStore, fundWallet(w));
    const secrets: string[] = [];
    hub.tw.on('secret', (s) => secrets.push(bytesToHex(s.secret)));
    await payee.tw.forceClose(bytesToHex(w.p.channelId));
    for (let i = 0; i < w.p.csvDelay + 4; i++) {
      await payee.tw.tick();
      await hub.tw.tick();
      chain.mine();
    }
    const kinds = payee.sent.map((s) => s.label.split(':')[0]);
    assert.equal(kinds, ['update', 'settlement', 'claim'], JSON.stringify(payee.sent));
    assert.is(paidTo(w, payoutScript(w.p.keys[1])), w.ch[1].enforceable.state.balances[1] + 9_000 - w.p.fees.ptlc);
    assert.equal(secrets, [bytesToHex(x.t)], 'the hub learned t from the chain');
    assert.equal(await hub.tw.learnedSecrets().then((l) => l.map((s) => bytesToHex(s.secret))), [bytesToHex(x.t)]);
    assert.ok(w.chain.tip < timeout, 'claimed before the timeout');
  },
);

t('(d) a PTLC times out: its offerer refunds it on chain, not a block early', async () => {
  const w = await fundedPair({ csvDelay: 4 });
  const x = ptlcSecret();
  const timeout = w.chain.tip + 15;
  await cosign(w, addPtlc(w.ch[0].enforceable.state, { id: x.id, offerer: 0, amount: 9_000, point: x.point, timeout }, 1));
  const chain = new ModelChain(w.chain, 1);
  const hub = tower(w, 0, chain, (await store()).kv, fundWallet(w));
  await hub.tw.forceClose(bytesToHex(w.p.channelId));
  let refundAt = -1;
  while (w.chain.tip < timeout + 3) {
    await hub.tw.tick();
    if (refundAt < 0 && hub.sent.some((s) => s.label.startsWith('refund:'))) refundAt = w.chain.tip + 1;
    chain.mine();
  }
  assert.is(refundAt, timeout + 1, 'the refund goes into the first block above the timeout');
  assert.is(paidTo(w, payoutScript(w.p.keys[0])), w.ch[0].enforceable.state.balances[0] + 9_000 - w.p.fees.ptlc);
});

t(
  'restart mid-enforcement: the tower re-sends the very same bumped transaction and spends no second wallet coin; then finishes',
  async () => {
    const w = await fundedPair();
    const old = structuredClone(w.ch[0].enforceable);
    await cosign(w, transfer(w.ch[0].enforceable.state, 0, 25_000, 1));
    const chain = new ModelChain(w.chain, 1);
    const s = await store();
    const wallet = fundWallet(w);
    wallet.coins.push({ outpoint: w.chain.model.fund(wallet.output(70_000n), at(99)), amount: 70_000n });
    const first = tower(w, 1, chain, s.kv, wallet);
    await chain.broadcast(oldUpdate(w, old));
    chain.mine();
    await first.tw.tick();
    const txid = first.sent[0]!.txid;
    await first.tw.close();
    await s.kv.close();
    chain.mempool = []; // the node restarted too: the mempool forgot it
    const kv2 = (await store(s.dir)).kv;
    const second = tower(w, 1, chain, kv2, wallet);
    await second.tw.tick();
    assert.is(second.sent[0]!.txid, txid, 'same txid after the restart');
    assert.is(wallet.funded, 1, 'the wallet funded one bump only');
    chain.mine();
    for (let i = 0; i < w.p.csvDelay; i++) {
      await second.tw.tick();
      chain.mine();
    }
    assert.ok(second.sent.some((x) => x.label === 'settlement:1'));
    assert.is(paidTo(w, payoutScript(w.p.keys[0])), 35_000);
    await kv2.close();
  },
);

t.after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

t.run();
