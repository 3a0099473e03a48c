/**
 * Plays a channel's states out on the test chain model: the counterparty
 * publishes an old fully signed state, and the holder of a newer one answers
 * with it and settles after the CSV delay. Every witness is checked against
 * the real BIP118 sighash; CLTV and CSV are enforced.
 */
import * as assert from 'uvu/assert';
import { buildSettlementTx, buildUpdateTx, fundingOutput } from '../../src/bitcoin/eltoo.js';
import type { BitcoinTx } from '../../src/bitcoin/tx.js';
import type { StateRecord } from '../../src/channel/channel.js';
import type { ChannelParams } from '../../src/channel/state.js';
import { eltooParams, settlementSpec } from '../../src/channel/txs.js';
import { ChainModel, at, outpointOf } from '../bitcoin/chain-model.js';

export { at };
/** Outpoint of output 0 of `tx`. */
export const out0 = (tx: BitcoinTx) => outpointOf(tx, 0);
/** Both parties' signatures of a record, as src/bitcoin wants them. */
export const sigs = (r: StateRecord, which: 'updateSigs' | 'settleSigs') => ({ a: r[which][0]!, b: r[which][1]! });

/** Publishes `rec`'s update spending `spend` at height `h`. */
export function publishUpdate(chain: ChainModel, p: ChannelParams, rec: StateRecord, spend: Parameters<typeof buildUpdateTx>[2], h: number): BitcoinTx {
  const tx = buildUpdateTx(eltooParams(p), rec.state.n, spend, sigs(rec, 'updateSigs'));
  chain.submit(tx, at(h));
  return tx;
}

/**
 * A publishes `old`; the holder of `latest` answers with it, rebinding onto
 * `old`'s output; `old`'s settlement is dead, `latest`'s settles exactly when
 * its CSV delay has passed and pays the balances of `latest`.
 */
export function enforceLatestOverOld(chain: ChainModel, p: ChannelParams, old: StateRecord, latest: StateRecord, h = 101): BitcoinTx {
  assert.ok(latest.state.n > old.state.n);
  const ep = eltooParams(p);
  const f = fundingOutput(ep);
  const funding = chain.fund({ amount: f.amount, script: f.scriptPubKey }, at(h - 1));
  const uOld = publishUpdate(chain, p, old, { kind: 'funding', outpoint: funding }, h);
  const uNew = publishUpdate(chain, p, latest, { kind: 'update', state: old.state.n, outpoint: out0(uOld) }, h + 1);
  const sOld = buildSettlementTx(ep, settlementSpec(p, old.state), out0(uOld), sigs(old, 'settleSigs'));
  assert.throws(() => chain.submit(sOld.tx, at(h + p.csvDelay)), 'the old settlement cannot spend a replaced update');
  const sNew = buildSettlementTx(ep, settlementSpec(p, latest.state), out0(uNew), sigs(latest, 'settleSigs'));
  assert.throws(() => chain.submit(sNew.tx, at(h + p.csvDelay)), 'no settlement before the CSV delay');
  chain.submit(sNew.tx, at(h + 1 + p.csvDelay));
  const paid = sNew.tx.outputs.slice(0, 2).map((o) => Number(o.amount));
  assert.equal(paid, latest.state.balances.filter((b) => b > 0));
  return sNew.tx;
}
