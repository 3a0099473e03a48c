/**
 * Fee bumping through the role's own wallet (client/chain/fee-bump.ts): an
 * enforcement transaction that pays too little gets a fee input of the
 * broadcaster's wallet (and change, for updates signed SINGLE), with no
 * signature of the other party, and stays valid on the chain model. A wallet
 * that changes what the channel signatures commit to is refused.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodePsbt, encodePsbt, type Psbt } from '../../../engine/bitcoin/psbt.js';
import { ErrorCode } from '../../../base/errors.js';
import { addWalletFee, enforcementPsbt, feeOf, feeRateOf, psbtWithPrevouts } from '../../../client/chain/fee-bump.js';
import type { FundingWallet } from '../../../client/chain/source.js';
import { buildUpdateTx } from '../../../engine/bitcoin/eltoo.js';
import { eltooTerms } from '../../../engine/channel/onchain.js';
import { requireFundingOutpoint, transfer } from '../../../engine/channel/state.js';
import { at, rejects } from '../../engine/bitcoin/chain-model.js';
import { cosign, fundedPair, plan, type Pair } from '../../engine/channel/enforce-fixture.js';
import { rejectsCode } from '../../helpers.js';
import { TestWallet } from './test-wallet.js';

const t = suite('chain/fee-bump');

/** A pair where party 0 published state 0 and party 1 holds state 1: party 1's rebinding update needs a fee. */
async function rebindCase(): Promise<{ w: Pair; wallet: TestWallet }> {
  const w = await fundedPair();
  const old = structuredClone(w.ch[0].enforceable);
  await cosign(w, transfer(w.ch[0].enforceable.state, 0, 3_000, 1));
  const u0 = buildUpdateTx(
    eltooTerms(w.p),
    0,
    { kind: 'funding', outpoint: requireFundingOutpoint(w.p) },
    {
      a: old.updateSigs[0]!,
      b: old.updateSigs[1]!,
    },
  );
  w.chain.mine(u0);
  const wallet = new TestWallet();
  const coin = w.chain.model.fund(wallet.output(50_000n), at(99));
  wallet.coins.push({ outpoint: coin, amount: 50_000n });
  return { w, wallet };
}

t('a rebinding update (no channel fee) gets a fee input and change from the broadcaster alone, and confirms', async () => {
  const { w, wallet } = await rebindCase();
  const a = plan(w, 1).broadcasts[0]!;
  assert.ok(a.needsFee);
  assert.is(feeOf(a), 0);
  const bumped = await addWalletFee(wallet, a, { feeRate: 5, change: true, maxFee: 10_000 });
  assert.ok(feeRateOf(bumped) >= 5, `fee rate ${feeRateOf(bumped)}`);
  assert.is(bumped.tx.outputs.length, 2, 'the channel output and the change');
  assert.ok(bumped.tx.outputs[1]!.amount > 40_000n, 'the change comes back');
  w.chain.mine(bumped.tx);
});

t('a settlement (ALL) takes a fee input with no change; the PSBT round trip keeps every signature', async () => {
  const w = await fundedPair();
  w.chain.mine(plan(w, 0, { force: true }).broadcasts[0]!.tx);
  w.chain.advance(w.p.csvDelay);
  const s = plan(w, 0).broadcasts[0]!;
  assert.is(s.kind, 'settlement');
  const round = psbtWithPrevouts(enforcementPsbt(s));
  assert.equal(round.tx, s.tx);
  const wallet = new TestWallet();
  const coin = w.chain.model.fund(wallet.output(2_000n), at(99));
  wallet.coins.push({ outpoint: coin, amount: 2_000n });
  const bumped = await addWalletFee(wallet, s, { feeRate: 5, change: false, maxFee: 10_000 });
  assert.is(bumped.tx.outputs.length, s.tx.outputs.length);
  assert.is(feeOf(bumped), feeOf(s) + 2_000);
  w.chain.mine(bumped.tx);
});

/** A wallet that funds honestly and then tampers with the result. */
function tampering(inner: TestWallet, tamper: (p: Psbt) => Psbt): FundingWallet {
  return {
    payoutScript: () => inner.payoutScript(),
    async fundPsbt(psbt, o) {
      return encodePsbt(tamper(decodePsbt(await inner.fundPsbt(psbt, o))));
    },
  };
}

t('a wallet that moves the channel output, or adds an output to an ALL-signed transaction, is refused (FUNDING_INVALID)', async () => {
  const { w, wallet } = await rebindCase();
  const a = plan(w, 1).broadcasts[0]!;
  const evil = tampering(wallet, (p) => ({
    ...p,
    outputs: [{ ...p.outputs[0]!, amount: p.outputs[0]!.amount - 1_000n }, ...p.outputs.slice(1)],
  }));
  await rejectsCode(addWalletFee(evil, a, { feeRate: 5, change: true, maxFee: 10_000 }), ErrorCode.FUNDING_INVALID);
  // What the check protects: the chain refuses the channel signature on a changed output anyway,
  // but the broadcaster would have lost its deadline on a transaction that can never confirm.
  const wallet2 = new TestWallet();
  const coin = w.chain.model.fund(wallet2.output(50_000n), at(99));
  wallet2.coins.push({ outpoint: coin, amount: 50_000n });
  const ok = await addWalletFee(wallet2, a, { feeRate: 5, change: true, maxFee: 10_000 });
  const moved = { ...ok.tx, outputs: [{ ...ok.tx.outputs[0]!, amount: ok.tx.outputs[0]!.amount - 1_000n }, ...ok.tx.outputs.slice(1)] };
  rejects(() => w.chain.model.submit(moved, at(w.chain.tip + 1)), 'signature');
  const extra = tampering(wallet2, (p) => ({ ...p, outputs: [...p.outputs, { script: wallet2.script, amount: 1_000n }] }));
  await rejectsCode(addWalletFee(extra, a, { feeRate: 5, change: false, maxFee: 10_000 }), ErrorCode.FUNDING_INVALID);
});

t('a wallet that overpays beyond the ceiling (a big coin, no change) is refused; within it, accepted', async () => {
  const w = await fundedPair();
  w.chain.mine(plan(w, 0, { force: true }).broadcasts[0]!.tx);
  w.chain.advance(w.p.csvDelay);
  const s = plan(w, 0).broadcasts[0]!;
  const wallet = new TestWallet();
  const coin = w.chain.model.fund(wallet.output(40_000n), at(99));
  wallet.coins.push({ outpoint: coin, amount: 40_000n });
  // The whole 40 000-sat coin would go to fees on a 100 000-sat channel.
  await rejectsCode(addWalletFee(wallet, s, { feeRate: 5, change: false, maxFee: 25_000 }), ErrorCode.FUNDING_INVALID, 'ceiling');
  const ok = await addWalletFee(wallet, s, { feeRate: 5, change: false, maxFee: 50_000 });
  assert.is(feeOf(ok), feeOf(s) + 40_000);
});

t(
  'a wallet that changes version or lock time, adds no input, changes a channel input sequence or prevout amount, or lowers the fee is refused',
  async () => {
    const { w, wallet } = await rebindCase();
    const a = plan(w, 1).broadcasts[0]!;
    const o = { feeRate: 5, change: true, maxFee: 10_000 };
    const cases: [string, (p: Psbt) => Psbt][] = [
      ['version', (p) => ({ ...p, version: p.version + 1 })],
      ['version or lock time', (p) => ({ ...p, lockTime: p.lockTime + 1 })],
      ['no input added', (p) => ({ ...p, inputs: p.inputs.slice(0, -1), outputs: p.outputs.slice(0, 1) })],
      [
        'input 0 changed',
        (p) => ({
          ...p,
          inputs: [{ ...p.inputs[0]!, sequence: p.inputs[0]!.sequence === 0 ? 1 : p.inputs[0]!.sequence - 1 }, ...p.inputs.slice(1)],
        }),
      ],
      [
        'input 0 changed',
        (p) => ({
          ...p,
          inputs: [
            { ...p.inputs[0]!, prevout: { ...p.inputs[0]!.prevout!, amount: p.inputs[0]!.prevout!.amount + 1_000n } },
            ...p.inputs.slice(1),
          ],
        }),
      ],
    ];
    for (const [why, f] of cases) await rejectsCode(addWalletFee(tampering(wallet, f), a, o), ErrorCode.FUNDING_INVALID, why);
    // The fee went down: an update paying its channel fee, and a change output that takes more than the wallet's coin.
    const w2 = await fundedPair();
    const u = plan(w2, 0, { force: true }).broadcasts[0]!;
    assert.is(u.bump, 'change');
    assert.ok(feeOf(u) > 0);
    const rich = new TestWallet();
    rich.coins.push({ outpoint: w2.chain.model.fund(rich.output(50_000n), at(99)), amount: 50_000n });
    const greedy = tampering(rich, (p) => ({
      ...p,
      outputs: [p.outputs[0]!, { ...p.outputs[1]!, amount: 50_000n + BigInt(feeOf(u)) - 1n }],
    }));
    await rejectsCode(addWalletFee(greedy, u, o), ErrorCode.FUNDING_INVALID, 'the fee went down');
  },
);

t.run();
