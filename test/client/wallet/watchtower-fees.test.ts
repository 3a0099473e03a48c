/**
 * The watchtower's fee ceilings (client/wallet/watchtower.ts), from the
 * side of a hostile or broken chain source: a refusal that no fee cures
 * (not final yet) does not make the tower raise its fee, a lying fee
 * estimate is capped at `maxFeeRate`, and refusals for the fee escalate no
 * higher than that ceiling.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToHex } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { ChainRejectedError, isFeeRejection, type FundingWallet } from '../../../client/chain/source.js';
import { LevelKv } from '../../../client/mailbox/kv.js';
import { Watchtower, type WatchtowerOptions } from '../../../client/wallet/watchtower.js';
import type { BitcoinTx } from '../../../engine/bitcoin/transaction.js';
import { Channel } from '../../../engine/channel/channel.js';
import { transfer } from '../../../engine/channel/state.js';
import { at } from '../../engine/bitcoin/chain-model.js';
import { cosign, fundedPair, type Pair } from '../../engine/channel/enforce-fixture.js';
import { TestWallet } from '../chain/test-wallet.js';
import { ModelChain } from './model-chain.js';

const t = suite('wallet/watchtower-fees');
const dirs: string[] = [];

/** A wallet that records every fee rate it is asked for. */
function recording(w: Pair): { wallet: FundingWallet; asked: number[] } {
  const inner = new TestWallet();
  inner.coins.push({ outpoint: w.chain.model.fund(inner.output(100_000n), at(99)), amount: 100_000n });
  const asked: number[] = [];
  return {
    asked,
    wallet: {
      payoutScript: () => inner.payoutScript(),
      fundPsbt: (p, o) => {
        asked.push(o.feeRate);
        return inner.fundPsbt(p, o);
      },
    },
  };
}

/** A tower of party 0 that asked for a unilateral close of a channel at state 1. */
const towers: Watchtower[] = [];

async function closing(chain: ModelChain, w: Pair, wallet: FundingWallet, o: Partial<WatchtowerOptions> = {}) {
  const d = await mkdtemp(join(tmpdir(), 'lnmb-tower-fees-'));
  dirs.push(d);
  const tw = new Watchtower(
    { channels: async () => [Channel.fromJSON(w.ch[0].toJSON())], channelKey: w.sk[0], noteUpdateOnChain: async () => undefined },
    new LevelKv(d),
    { chain, wallet, ...o },
  );
  towers.push(tw);
  const sent: string[] = [];
  tw.on('broadcast', (b) => sent.push(b.txid));
  tw.on('error', () => undefined);
  await tw.forceClose(bytesToHex(w.p.channelId));
  return { tw, sent };
}

/** A chain source that refuses every broadcast with `reason`. */
class RefusingChain extends ModelChain {
  reason = 'non-final: nLockTime not reached';
  override async broadcast(_tx: BitcoinTx): Promise<string> {
    throw new ChainRejectedError(this.reason);
  }
}

t('only fee and replacement refusals count as curable by a fee', () => {
  for (const r of [
    'fee: min relay fee not met',
    'sendrawtransaction RPC error: {"code":-26,"message":"replacement: fee rate 2 does not beat 3"}',
    'min relay fee not met, 100 < 200',
    'insufficient fee, rejecting replacement abc',
  ])
    assert.ok(isFeeRejection(new ChainRejectedError(r)), r);
  for (const r of ['non-final', 'non-BIP68-final', 'bad-txns-inputs-missingorspent', 'txn-mempool-conflict', 'max-fee-exceeded'])
    assert.not.ok(isFeeRejection(new ChainRejectedError(r)), r);
});

t('a chain that refuses as non-final makes the tower pay no more: one bump at the estimate, none later', async () => {
  const w = await fundedPair();
  await cosign(w, transfer(w.ch[0].enforceable.state, 0, 5_000, 1));
  const chain = new RefusingChain(w.chain, 1);
  chain.estimate = 20; // the update's own 300 sats do not pay 20 sat/vB: the first pass bumps once
  const { wallet, asked } = recording(w);
  const { tw, sent } = await closing(chain, w, wallet);
  for (let i = 0; i < 3; i++) await tw.tick();
  assert.equal(sent, []);
  assert.equal(asked, [20], 'no escalation on a refusal a fee cannot cure');
});

t('a lying fee estimate is capped at maxFeeRate, and fee refusals escalate no higher', async () => {
  const w = await fundedPair();
  await cosign(w, transfer(w.ch[0].enforceable.state, 0, 5_000, 1));
  const chain = new ModelChain(w.chain, 1);
  chain.estimate = 1_000_000;
  const { wallet, asked } = recording(w);
  const { tw, sent } = await closing(chain, w, wallet, { maxFeeRate: 40 });
  await tw.tick();
  assert.equal(asked, [40]);
  assert.is(sent.length, 1, 'the capped bump went out');
  // A chain whose minimum is above the ceiling: the tower escalates up to the ceiling and stops there.
  const w2 = await fundedPair();
  await cosign(w2, transfer(w2.ch[0].enforceable.state, 0, 5_000, 1));
  const chain2 = new ModelChain(w2.chain, 1_000);
  chain2.estimate = 5;
  const r2 = recording(w2);
  const c2 = await closing(chain2, w2, r2.wallet, { maxFeeRate: 40 });
  for (let i = 0; i < 3; i++) await c2.tw.tick();
  assert.equal(c2.sent, []);
  assert.ok(
    r2.asked.every((r) => r <= 40),
    `asked ${r2.asked}`,
  );
  assert.equal(r2.asked, [5, 10, 20, 40]);
});

t('a tower without a wallet says at start, before any pass needs a bump, that it cannot enforce (FUNDING_INVALID)', async () => {
  const w = await fundedPair();
  const d = await mkdtemp(join(tmpdir(), 'lnmb-tower-fees-'));
  dirs.push(d);
  const tw = new Watchtower({ channels: async () => [], channelKey: w.sk[0], noteUpdateOnChain: async () => undefined }, new LevelKv(d), {
    chain: new ModelChain(w.chain, 1),
    pollMs: 60_000,
  });
  const errors: Error[] = [];
  tw.on('error', (e) => errors.push(e));
  tw.start();
  await tw.close();
  assert.is(errors.length, 1);
  assert.is((errors[0] as { code?: string }).code, ErrorCode.FUNDING_INVALID);
  assert.match(errors[0]!.message, /no wallet/);
});

t.after(async () => {
  // Close the towers first: an open LevelDB may still write its log while its directory is removed.
  for (const tw of towers) await tw.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true, maxRetries: 5 });
});

t.run();
