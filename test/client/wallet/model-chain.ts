/**
 * An in-process ChainSource over the test chain model with a mempool and a
 * minimum fee rate: broadcast validates against the next block and refuses
 * a transaction paying less than `minFeeRate` (CHAIN_REJECTED, reason
 * `fee`) or spending an unknown output; `mine()` confirms the mempool,
 * where the model checks every signature and lock (an invalid transaction
 * is dropped there, as a node would never have relayed it). It stands in for the Esplora
 * client until the tests run against the simulator over HTTP.
 */
import { bytesToHex } from '../../../base/bytes.js';
import { vsize } from '../../../client/chain/fee-bump.js';
import { ChainRejectedError, type ChainSource, type ChainTx, type ChainUtxo } from '../../../client/chain/source.js';
import { outpointKey } from '../../../engine/channel/enforce.js';
import { txidHex, type BitcoinTx, type Outpoint } from '../../../engine/bitcoin/transaction.js';
import { at } from '../../engine/bitcoin/chain-model.js';
import type { ChainLog } from '../../engine/channel/enforce-fixture.js';

export class ModelChain implements ChainSource {
  mempool: BitcoinTx[] = [];
  /** Every broadcast accepted, in order (txid hex). */
  readonly accepted: string[] = [];
  /** Every broadcast refused, with the reason. */
  readonly refused: string[] = [];
  constructor(
    readonly log: ChainLog,
    public minFeeRate = 1,
  ) {}
  async tipHeight(): Promise<number> {
    return this.log.tip;
  }
  async getTx(txid: string): Promise<ChainTx | null> {
    const m = this.mempool.find((t) => txidHex(t) === txid);
    if (m) return { tx: m, height: null };
    const c = this.log.txs.find((t) => txidHex(t) === txid);
    if (!c) return null;
    const s = [...this.log.spent.values()].find((x) => x.tx === c);
    return { tx: c, height: s?.height ?? this.log.tip };
  }
  async spenderOf(o: Outpoint): Promise<ChainTx | null> {
    const s = this.log.spent.get(outpointKey(o));
    if (s) return { tx: s.tx, height: s.height };
    const m = this.mempool.find((t) => t.inputs.some((i) => outpointKey(i) === outpointKey(o)));
    return m ? { tx: m, height: null } : null;
  }
  async utxos(_script: Uint8Array): Promise<ChainUtxo[]> {
    return [];
  }
  /** What {@link feeRate} answers; by default the minimum fee rate (set it lower to play a stale estimate). */
  estimate: number | undefined;
  async feeRate(_targetBlocks: number): Promise<number> {
    return this.estimate ?? this.minFeeRate;
  }
  async broadcast(tx: BitcoinTx): Promise<string> {
    const id = txidHex(tx);
    if (this.mempool.some((t) => txidHex(t) === id)) return id;
    const pendingSpends = new Set(this.mempool.flatMap((t) => t.inputs.map((i) => outpointKey(i))));
    if (tx.inputs.some((i) => pendingSpends.has(outpointKey(i))))
      return this.refuse(id, 'conflict', 'spends an output a mempool transaction spends');
    let fee = 0n;
    for (const i of tx.inputs) {
      const coin = this.log.model.coin(i) ?? this.mempoolCoin(i);
      if (!coin) return this.refuse(id, 'missing-input', `${outpointKey(i)} unknown or spent`);
      fee += coin.amount;
    }
    fee -= tx.outputs.reduce((s, o) => s + o.amount, 0n);
    if (Number(fee) < Math.ceil(this.minFeeRate * vsize(tx))) return this.refuse(id, 'fee', `min relay fee not met: ${fee}`);
    this.mempool.push(tx);
    this.accepted.push(id);
    return id;
  }
  /** Confirms the mempool in one block (in order; a transaction no longer valid is dropped). */
  mine(): void {
    const pending = this.mempool;
    this.mempool = [];
    const h = this.log.tip + 1;
    for (const t of pending) {
      try {
        this.log.model.submit(t, at(h));
        for (const i of t.inputs) this.log.spent.set(outpointKey(i), { tx: t, height: h });
        this.log.txs.push(t);
      } catch {
        // dropped
      }
    }
    this.log.tip = h;
  }
  private mempoolCoin(o: Outpoint) {
    const t = this.mempool.find((m) => txidHex(m) === bytesToHex(o.txid));
    return t?.outputs[o.vout];
  }
  private refuse(id: string, reason: string, msg: string): never {
    this.refused.push(`${id}:${reason}`);
    throw new ChainRejectedError(`${reason}: ${msg}`);
  }
}
