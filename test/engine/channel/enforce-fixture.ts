/**
 * A channel between two parties with both views at hand, funded on the test
 * chain model, and a record of who spent what on it: the chain side of the
 * enforcement tests.
 */
import * as assert from 'uvu/assert';
import { randomBytes } from '@noble/hashes/utils.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { MemoryNonceStore } from '../../../crypto/nonce.js';
import { adaptorPoint } from '../../../crypto/adaptor.js';
import { buildUpdateTx, fundingOutput } from '../../../engine/bitcoin/eltoo.js';
import { txid, type BitcoinTx, type Outpoint } from '../../../engine/bitcoin/transaction.js';
import type { Channel } from '../../../engine/channel/channel.js';
import {
  outpointKey,
  planEnforcement,
  type ChainView,
  type EnforcePlan,
  type PtlcKnowledge,
  type Sighting,
} from '../../../engine/channel/enforce.js';
import { eltooTerms, presignPtlcClaim } from '../../../engine/channel/onchain.js';
import { openChannelPair } from '../../../engine/channel/open.js';
import {
  requireFundingOutpoint,
  capacity,
  type ChannelParams,
  type ChannelState,
  type StateRecord,
} from '../../../engine/channel/state.js';
import { keyPathOutput, signKeyPath } from '../../../sim/key-path.js';
import { ChainModel, at } from '../bitcoin/chain-model.js';

/** The chain model plus the spender of every output spent on it and the current tip. */
export class ChainLog {
  readonly model = new ChainModel();
  readonly spent = new Map<string, Sighting>();
  readonly txs: BitcoinTx[] = [];
  tip: number;
  constructor(tip: number) {
    this.tip = tip;
  }
  /** Mines `tx` in the next block (tip + 1); throws the model's rejection. */
  mine(tx: BitcoinTx): Uint8Array {
    const id = this.model.submit(tx, at(this.tip + 1));
    this.tip++;
    for (const i of tx.inputs) this.spent.set(outpointKey(i), { tx, height: this.tip });
    this.txs.push(tx);
    return id;
  }
  /** Mines `n` empty blocks. */
  advance(n: number): void {
    this.tip += n;
  }
  view(): ChainView {
    return { tip: this.tip, spent: this.spent };
  }
}

/** A funded channel: params, both views, their nonce stores and secret keys. */
export interface Pair {
  p: ChannelParams;
  ch: [Channel, Channel];
  sk: [Uint8Array, Uint8Array];
  nonces: [MemoryNonceStore, MemoryNonceStore];
  chain: ChainLog;
}

/** Opens a channel of 100 000 sats (party 0 holds 60 000) funded on a fresh chain at height 100. */
export async function fundedPair(o: { csvDelay?: number; fees?: ChannelParams['fees'] } = {}): Promise<Pair> {
  const sk: [Uint8Array, Uint8Array] = [schnorr.utils.randomSecretKey(), schnorr.utils.randomSecretKey()];
  const chain = new ChainLog(100);
  const p: ChannelParams = {
    channelId: randomBytes(32),
    funding: { txid: randomBytes(32), vout: 0, amount: 100_000 },
    keys: [schnorr.getPublicKey(sk[0]), schnorr.getPublicKey(sk[1])],
    csvDelay: o.csvDelay ?? 10,
    fees: o.fees ?? { update: 300, settlement: 400, ptlc: 200 },
  };
  const f = fundingOutput(eltooTerms(p));
  chain.model.addCoin(requireFundingOutpoint(p), { amount: f.amount, script: f.scriptPubKey }, at(100));
  const nonces: [MemoryNonceStore, MemoryNonceStore] = [new MemoryNonceStore(), new MemoryNonceStore()];
  const ch = await openChannelPair(p, [60_000, capacity(p) - 60_000], sk[0], sk[1], nonces[0], nonces[1]);
  return { p, ch, sk, nonces, chain };
}

/** Co-signs `next` fully on both views (party 0 proposes). */
export async function cosign(w: Pair, next: ChannelState): Promise<void> {
  const [a, b] = w.ch;
  a.propose(next);
  b.propose(next);
  b.receiveSettlementSig(a.signSettlement(w.sk[0]));
  a.receiveSettlementSig(b.signSettlement(w.sk[1]));
  b.receiveUpdateNonce(await a.commitUpdateNonce(w.nonces[0], w.sk[0]));
  a.receiveUpdateNonce(await b.commitUpdateNonce(w.nonces[1], w.sk[1]));
  const ua = await a.signUpdate(w.nonces[0], w.sk[0]);
  const ub = await b.signUpdate(w.nonces[1], w.sk[1]);
  assert.ok(a.receiveUpdateSig(ub));
  assert.ok(b.receiveUpdateSig(ua));
}

/** A fresh PTLC secret, its point, and an id. */
export function ptlcSecret(): { id: Uint8Array; t: Uint8Array; point: Uint8Array } {
  const t = randomBytes(32);
  return { id: randomBytes(32), t, point: adaptorPoint(t) };
}

/** The offerer's claim pre-signature for PTLC `id` of the state `view` holds as enforceable. */
export function presig(w: Pair, offerer: 0 | 1, id: Uint8Array): Uint8Array {
  return presignPtlcClaim(w.p, w.ch[offerer].enforceable.state, id, w.sk[offerer]);
}

/** Plans for party `me` against the chain now. */
export function plan(w: Pair, me: 0 | 1, o: { force?: boolean; ptlcs?: Map<string, PtlcKnowledge>; channel?: Channel } = {}): EnforcePlan {
  return planEnforcement({
    channel: o.channel ?? w.ch[me],
    channelKey: w.sk[me],
    ptlcs: o.ptlcs ?? new Map(),
    force: o.force ?? false,
    view: w.chain.view(),
  });
}

/** Outpoint `vout` of `tx`. */
export const outOf = (tx: BitcoinTx, vout = 0): Outpoint => ({ txid: txid(tx), vout });

/**
 * The peer's old update laid out as [its own fee coin, the channel input] →
 * [its change, the channel output]: valid on chain, since an ANYPREVOUT|SINGLE
 * signature commits to no input index and pairs the channel input with the
 * output at its own index. `decoy` adds, at index 0, an output of the
 * cheater's own coins that carries the same update script.
 */
export function swappedOldUpdate(w: Pair, old: StateRecord, decoy = false) {
  const u = buildUpdateTx(
    eltooTerms(w.p),
    old.state.n,
    { kind: 'funding', outpoint: requireFundingOutpoint(w.p) },
    { a: old.updateSigs[0]!, b: old.updateSigs[1]! },
  );
  const sk = new Uint8Array(32).fill(7);
  const fee = keyPathOutput(sk, 50_000n);
  const coin = w.chain.model.fund(fee, at(w.chain.tip));
  const first = decoy ? { amount: 40_000n, script: u.outputs[0]!.script } : { amount: 40_000n, script: fee.script };
  const tx = {
    ...u,
    inputs: [{ ...coin, sequence: 0xfffffffd, witness: [] as Uint8Array[] }, u.inputs[0]!],
    outputs: [first, u.outputs[0]!],
  };
  const channelCoin = w.chain.model.coin(requireFundingOutpoint(w.p))!;
  const prevouts = [
    { amount: fee.amount, scriptPubKey: fee.script },
    { amount: channelCoin.amount, scriptPubKey: channelCoin.script },
  ];
  tx.inputs[0] = { ...tx.inputs[0]!, witness: [signKeyPath(tx, 0, prevouts, sk)] };
  return tx;
}
