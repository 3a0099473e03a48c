/**
 * Plays a channel's states out on the test chain model: the counterparty
 * publishes an old fully signed state, and the holder of a newer one answers
 * with it and settles after the CSV delay. Every witness is checked against
 * the real BIP118 sighash; CLTV and CSV are enforced.
 */
import * as assert from 'uvu/assert';
import { buildSettlementTx, buildUpdateTx, fundingOutput } from '../../../engine/bitcoin/eltoo.js';
import type { BitcoinTx } from '../../../engine/bitcoin/transaction.js';
import type { StateRecord } from '../../../engine/channel/channel.js';
import type { ChannelParams } from '../../../engine/channel/state.js';
import { eltooTerms, settlementSpec } from '../../../engine/channel/onchain.js';
import { ChainModel, at, outpointOf } from '../bitcoin/chain-model.js';

export { at };
/** Outpoint of output 0 of `tx`. */
export const out0 = (tx: BitcoinTx) => outpointOf(tx, 0);
/** Both parties' signatures of a record, as engine/bitcoin wants them. */
export const sigs = (r: StateRecord, which: 'updateSigs' | 'settleSigs') => ({ a: r[which][0]!, b: r[which][1]! });

/** Publishes `rec`'s update spending `spend` at height `h`. */
export function publishUpdate(
  chain: ChainModel,
  p: ChannelParams,
  rec: StateRecord,
  spend: Parameters<typeof buildUpdateTx>[2],
  h: number,
): BitcoinTx {
  const tx = buildUpdateTx(eltooTerms(p), rec.state.n, spend, sigs(rec, 'updateSigs'));
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
  const ep = eltooTerms(p);
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
  assert.equal(
    paid,
    latest.state.balances.filter((b) => b > 0),
  );
  return sNew.tx;
}

/** Publishes `rec`'s update on a fresh funding output and settles it after the CSV delay; returns the two balance outputs paid. */
export function settleOnChain(p: ChannelParams, rec: StateRecord, h = 101): number[] {
  const chain = new ChainModel();
  const ep = eltooTerms(p);
  const f = fundingOutput(ep);
  const funding = chain.fund({ amount: f.amount, script: f.scriptPubKey }, at(h - 1));
  const u = publishUpdate(chain, p, rec, { kind: 'funding', outpoint: funding }, h);
  const st = buildSettlementTx(ep, settlementSpec(p, rec.state), out0(u), sigs(rec, 'settleSigs'));
  chain.submit(st.tx, at(h + p.csvDelay));
  return st.tx.outputs.slice(0, 2).map((o) => Number(o.amount));
}

/**
 * A settlement `harvested` by an attacker (both settlement signatures of its
 * state n, kept from a refused or failed negotiation) must not spend the
 * update of any fully signed record in `published` (the states the victim
 * went on to sign): each update goes on chain on the funding output and the
 * harvested settlement is tried after the CSV delay. On failure the message
 * says what the harvested settlement would have paid.
 */
export function assertHarvestDead(p: ChannelParams, harvested: StateRecord, published: StateRecord[], h = 101): void {
  assert.ok(published.length > 0, 'nothing to publish');
  for (const rec of published) {
    const chain = new ChainModel();
    const ep = eltooTerms(p);
    const f = fundingOutput(ep);
    const funding = chain.fund({ amount: f.amount, script: f.scriptPubKey }, at(h - 1));
    const u = publishUpdate(chain, p, rec, { kind: 'funding', outpoint: funding }, h);
    let paid: number[] | undefined;
    try {
      const st = buildSettlementTx(ep, settlementSpec(p, harvested.state), out0(u), sigs(harvested, 'settleSigs'));
      chain.submit(st.tx, at(h + p.csvDelay));
      paid = st.tx.outputs.map((o) => Number(o.amount));
    } catch {
      // refused: the harvested settlement does not fit this update
    }
    assert.is(
      paid,
      undefined,
      `the harvested settlement of state ${harvested.state.n} ${JSON.stringify(harvested.state.balances)} spends update ${rec.state.n} ` +
        `${JSON.stringify(rec.state.balances)} (ptlcs ${rec.state.ptlcs.map((x) => x.amount).join(',') || 'none'}): pays ${JSON.stringify(paid)}`,
    );
  }
}
