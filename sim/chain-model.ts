/**
 * A simulated ANYPREVOUT-enabled Bitcoin chain for tests and the demo: a UTXO
 * set, a mempool and block mining, checking every transaction with the real
 * sighash and real signatures (see sim/consensus.ts for the script subset):
 * - inputs exist and are unspent, no input twice, no value created;
 * - nLockTime finality (BIP113: time locks against the MTP) and BIP68
 *   relative locks against each prevout's confirmation height/time;
 * - every input's witness, P2TR only (key path or script path).
 *
 * Two ways in:
 * - {@link ChainModel.submit}: validate in a block at a given height and time
 *   and confirm at once (the engine suites play transactions out this way);
 * - {@link ChainModel.broadcast} then {@link ChainModel.mine}: what a real
 *   node does. A broadcast is validated against the next block, must pay the
 *   minimum fee rate, and waits in the mempool, where later transactions may
 *   spend its outputs (as Bitcoin Core allows). Mining confirms the mempool in
 *   the order it was accepted, one block per call step, the median time past
 *   advancing 600 s a block.
 *
 * Replacement, a simplified BIP125: a broadcast that spends an input some
 * mempool transaction already spends replaces that transaction (and its
 * descendants) only when it pays a strictly higher fee rate than each
 * transaction it directly conflicts with, a strictly higher absolute fee than
 * everything it evicts together, and that extra fee covers its own size at
 * the minimum fee rate. Signaling (nSequence) is not required (full RBF).
 * No reorgs, no mempool size limit, no package relay.
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, uintBE } from '../base/bytes.js';
import {
  MAX_MONEY,
  SEQUENCE_FINAL,
  txVsize,
  txid,
  txidHex,
  type BitcoinTx,
  type Outpoint,
  type Prevout,
  type TxOutput,
} from '../engine/bitcoin/index.js';
import { type BlockContext, type Confirmed, checkFinal, checkInput, checkSequenceLocks, reject } from './consensus.js';

export { ChainRejection, type BlockContext, type RejectReason } from './consensus.js';

/** Median time past of the block context at height 0 (blocks every 600 s from here). */
export const MTP = 1_700_000_000;

/** Block context at `height`: the block at that height, the MTP of its parent. */
export const at = (height: number): BlockContext => ({ height, time: MTP + height * 600 });

/** Outpoint of output `vout` of `tx`. */
export const outpointOf = (tx: BitcoinTx, vout = 0): Outpoint => ({ txid: txid(tx), vout });

/** How a {@link ChainModel} starts. */
export interface ChainModelOptions {
  /** Minimum fee rate a broadcast must pay, sat/vB. Default 1. */
  readonly minFeeRate?: number;
  /** Height of the tip at the start. Default 100. */
  readonly height?: number;
}

/** A transaction the model knows, and where it stands. */
export interface ModelTx {
  readonly tx: BitcoinTx;
  /** Height of the block that confirmed it; null while it waits in the mempool. */
  readonly height: number | null;
}

/** An unspent output (confirmed, or created by a mempool transaction). */
export interface ModelUtxo {
  readonly outpoint: Outpoint;
  readonly output: TxOutput;
  /** Height it confirmed at; null while unconfirmed. */
  readonly height: number | null;
}

interface Coin extends Confirmed {
  readonly output: TxOutput;
}

interface MempoolEntry {
  readonly tx: BitcoinTx;
  readonly id: string;
  readonly fee: bigint;
  readonly vsize: number;
}

type Lookup = (key: string) => Coin | undefined;

const key = (o: Outpoint) => `${bytesToHex(o.txid)}:${o.vout}`;
const feeRateOf = (e: { fee: bigint; vsize: number }) => Number(e.fee) / e.vsize;

/** The chain: UTXO set, confirmed transactions, mempool, tip. */
export class ChainModel {
  readonly #utxos = new Map<string, Coin>();
  readonly #confirmed = new Map<string, { tx: BitcoinTx; height: number }>();
  readonly #spentBy = new Map<string, string>();
  #mempool: MempoolEntry[] = [];
  #synthetic = 0;
  #tip: number;
  /** Minimum fee rate a broadcast must pay, sat/vB. Tests may raise it while the chain runs. */
  minFeeRate: number;

  constructor(opts: ChainModelOptions = {}) {
    const height = opts.height ?? 100;
    const minFeeRate = opts.minFeeRate ?? 1;
    if (!Number.isSafeInteger(height) || height < 0) throw new RangeError(`height ${height}`);
    if (!(minFeeRate >= 0) || !Number.isFinite(minFeeRate)) throw new RangeError(`minFeeRate ${minFeeRate}`);
    this.#tip = height;
    this.minFeeRate = minFeeRate;
  }

  /** Height of the best block. */
  get height(): number {
    return this.#tip;
  }

  /** The context the next block is mined in (height tip + 1). */
  nextBlock(): BlockContext {
    return at(this.#tip + 1);
  }

  /** Adds a coin out of thin air (a synthetic funding output) and returns its outpoint. */
  fund(output: TxOutput, at: BlockContext): Outpoint {
    const txid = uintBE(++this.#synthetic, 32);
    this.#utxos.set(key({ txid, vout: 0 }), { output, height: at.height, time: at.time });
    return { txid, vout: 0 };
  }

  /**
   * The faucet: confirms, at the current tip, a synthetic transaction paying
   * `amount` sats to `script` (its one input spends no real coin), so that
   * the coin has a real txid and its transaction can be served and checked
   * like any other. Returns the coin's outpoint.
   */
  fundScript(script: Uint8Array, amount: bigint | number): Outpoint {
    const value = BigInt(amount);
    if (value <= 0n || value > BigInt(MAX_MONEY)) throw new RangeError(`amount ${amount}`);
    const tx: BitcoinTx = {
      version: 2,
      lockTime: 0,
      inputs: [{ txid: uintBE(++this.#synthetic, 32), vout: 0xffff_ffff, sequence: SEQUENCE_FINAL, witness: [] }],
      outputs: [{ amount: value, script: script.slice() }],
    };
    const id = txid(tx);
    const ctx = at(this.#tip);
    this.#confirmed.set(bytesToHex(id), { tx, height: ctx.height });
    this.#utxos.set(key({ txid: id, vout: 0 }), { output: tx.outputs[0]!, height: ctx.height, time: ctx.time });
    return { txid: id, vout: 0 };
  }

  /** Adds a coin at a given outpoint (e.g. a published vector's prevout). */
  addCoin(outpoint: Outpoint, output: TxOutput, at: BlockContext): void {
    this.#utxos.set(key(outpoint), { output, height: at.height, time: at.time });
  }

  /** True when `o` is a confirmed unspent output. */
  isUnspent(o: Outpoint): boolean {
    return this.#utxos.has(key(o));
  }

  /** The confirmed unspent output at `o`, if any. */
  coin(o: Outpoint): TxOutput | undefined {
    return this.#utxos.get(key(o))?.output;
  }

  /**
   * Validates `tx` in a block at `at` and confirms it at once: spends its
   * inputs, adds its outputs, returns its txid. The tip moves up to
   * `at.height` if it was below; mempool transactions it invalidates are
   * dropped. No fee rule applies (a block may carry any fee).
   */
  submit(tx: BitcoinTx, at: BlockContext): Uint8Array {
    const { id } = this.#validate(tx, at, (k) => this.#utxos.get(k));
    this.#confirm(tx, id, at);
    if (at.height > this.#tip) this.#tip = at.height;
    this.#refreshMempool();
    return hexToBytes(id);
  }

  /**
   * Validates `tx` against the next block and the mempool and accepts it
   * into the mempool (see the module's replacement rule). Returns its txid.
   * A transaction already in the mempool is accepted again as a no-op.
   * @throws ChainRejection with reason `fee` below the minimum fee rate,
   *   `replacement` when it conflicts and does not pay enough to replace,
   *   `known` when it is already confirmed, or any consensus reason.
   */
  broadcast(tx: BitcoinTx): Uint8Array {
    const id = txidHex(tx);
    if (this.#confirmed.has(id)) reject('known', `${id} is already confirmed`);
    if (this.#mempool.some((e) => e.id === id)) return hexToBytes(id);
    const ctx = this.nextBlock();
    const spends = new Set(tx.inputs.map(key));
    const direct = this.#mempool.filter((e) => e.tx.inputs.some((i) => spends.has(key(i))));
    const evicted = this.#withDescendants(direct);
    const kept = this.#mempool.filter((e) => !evicted.has(e.id));
    const { fee } = this.#validate(tx, ctx, this.#view(kept, ctx));
    const entry: MempoolEntry = { tx, id, fee, vsize: txVsize(tx) };
    const floor = BigInt(Math.ceil(this.minFeeRate * entry.vsize));
    if (fee < floor)
      reject(
        'fee',
        `min relay fee not met: ${fee} < ${floor} (${entry.vsize} vB at ${this.minFeeRate} sat/vB, paying ${feeRateOf(entry)})`,
      );
    if (evicted.size > 0) {
      const old = this.#mempool.filter((e) => evicted.has(e.id));
      const oldFees = old.reduce((s, e) => s + e.fee, 0n);
      const worst = direct.find((e) => feeRateOf(entry) <= feeRateOf(e));
      if (worst) reject('replacement', `fee rate ${feeRateOf(entry)} does not beat ${feeRateOf(worst)} of ${worst.id}`);
      if (fee <= oldFees) reject('replacement', `fee ${fee} does not beat the ${oldFees} it evicts`);
      if (fee - oldFees < floor) reject('replacement', `extra fee ${fee - oldFees} does not pay for its own ${entry.vsize} vB`);
    }
    this.#mempool = [...kept, entry];
    return hexToBytes(id);
  }

  /**
   * Mines `n` blocks (default 1): the first confirms the mempool in the order
   * it was accepted (a transaction no longer valid is dropped), the others
   * are empty. Returns the new tip height.
   */
  mine(n = 1): number {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`blocks ${n}`);
    for (let b = 0; b < n; b++) {
      const ctx = this.nextBlock();
      const pending = this.#mempool;
      this.#mempool = [];
      for (const e of pending) {
        try {
          this.#validate(e.tx, ctx, (k) => this.#utxos.get(k));
          this.#confirm(e.tx, e.id, ctx);
        } catch {
          // Invalid in this block (a conflicting submit got there first): dropped.
        }
      }
      this.#tip = ctx.height;
    }
    return this.#tip;
  }

  /** The txids waiting in the mempool, in the order they would be mined. */
  mempool(): string[] {
    return this.#mempool.map((e) => e.id);
  }

  /** The transaction with id `id` (bytes or display hex), confirmed or in the mempool, or null. */
  getTx(id: Uint8Array | string): ModelTx | null {
    const hex = typeof id === 'string' ? id.toLowerCase() : bytesToHex(id);
    const c = this.#confirmed.get(hex);
    if (c) return { tx: c.tx, height: c.height };
    const m = this.#mempool.find((e) => e.id === hex);
    return m ? { tx: m.tx, height: null } : null;
  }

  /** The transaction spending `o` (confirmed first, else in the mempool), or null. */
  spenderOf(o: Outpoint): ModelTx | null {
    const k = key(o);
    const c = this.#spentBy.get(k);
    if (c !== undefined) return this.getTx(c);
    const m = this.#mempool.find((e) => e.tx.inputs.some((i) => key(i) === k));
    return m ? { tx: m.tx, height: null } : null;
  }

  /**
   * The outputs paying `script` that are unspent once the mempool is
   * counted: confirmed coins no mempool transaction spends, and mempool
   * outputs (height null) no later mempool transaction spends.
   */
  utxosOf(script: Uint8Array): ModelUtxo[] {
    const want = bytesToHex(script);
    return this.#utxosWhere((s) => bytesToHex(s) === want);
  }

  /** {@link utxosOf} by the SHA256 of the scriptPubKey (hex, not reversed: Esplora's scripthash). */
  utxosByScriptHash(hash: string): ModelUtxo[] {
    const want = hash.toLowerCase();
    return this.#utxosWhere((s) => bytesToHex(sha256(s)) === want);
  }

  /**
   * Fee-rate estimate, sat/vB, for confirmation within `targetBlocks`: the
   * model mines everything that pays the minimum, so it is the minimum.
   */
  estimateFeeRate(_targetBlocks = 1): number {
    return this.minFeeRate;
  }

  #utxosWhere(match: (script: Uint8Array) => boolean): ModelUtxo[] {
    const spentInMempool = new Set(this.#mempool.flatMap((e) => e.tx.inputs.map(key)));
    const out: ModelUtxo[] = [];
    for (const [k, c] of this.#utxos) {
      if (spentInMempool.has(k) || !match(c.output.script)) continue;
      const [t, v] = k.split(':') as [string, string];
      out.push({ outpoint: { txid: hexToBytes(t), vout: Number(v) }, output: c.output, height: c.height });
    }
    for (const e of this.#mempool) {
      e.tx.outputs.forEach((output, vout) => {
        if (!match(output.script) || spentInMempool.has(`${e.id}:${vout}`)) return;
        out.push({ outpoint: { txid: hexToBytes(e.id), vout }, output, height: null });
      });
    }
    return out;
  }

  /** Validates `tx` in a block at `ctx` against the coins `lookup` finds; returns its txid (hex) and fee. */
  #validate(tx: BitcoinTx, ctx: BlockContext, lookup: Lookup): { id: string; fee: bigint } {
    if (tx.inputs.length === 0 || tx.outputs.length === 0) reject('malformed', 'no inputs or no outputs');
    const seen = new Set<string>();
    const coins = tx.inputs.map((i) => {
      const k = key(i);
      if (seen.has(k)) reject('duplicate-input', k);
      seen.add(k);
      return lookup(k) ?? reject('missing-input', `${k} is spent or unknown`);
    });
    let out = 0n;
    for (const o of tx.outputs) {
      if (o.amount < 0n || o.amount > MAX_MONEY) reject('value', 'output amount out of range');
      out += o.amount;
    }
    const inSum = coins.reduce((s, c) => s + c.output.amount, 0n);
    if (out > inSum) reject('value', `outputs ${out} exceed inputs ${inSum}`);
    checkFinal(tx, ctx);
    checkSequenceLocks(tx, coins, ctx);
    const prevouts: Prevout[] = coins.map((c) => ({ amount: c.output.amount, scriptPubKey: c.output.script }));
    tx.inputs.forEach((_, i) => checkInput(tx, i, prevouts));
    return { id: txidHex(tx), fee: inSum - out };
  }

  #confirm(tx: BitcoinTx, id: string, ctx: BlockContext): void {
    for (const i of tx.inputs) {
      this.#utxos.delete(key(i));
      this.#spentBy.set(key(i), id);
    }
    const txidBytes = hexToBytes(id);
    tx.outputs.forEach((o, vout) => this.#utxos.set(key({ txid: txidBytes, vout }), { output: o, height: ctx.height, time: ctx.time }));
    this.#confirmed.set(id, { tx, height: ctx.height });
  }

  /** Confirmed coins plus the outputs of `entries`, as seen from a block at `ctx`; coins `entries` spend are gone. */
  #view(entries: readonly MempoolEntry[], ctx: BlockContext): Lookup {
    const spent = new Set(entries.flatMap((e) => e.tx.inputs.map(key)));
    const made = new Map<string, Coin>();
    for (const e of entries) e.tx.outputs.forEach((output, vout) => made.set(`${e.id}:${vout}`, { output, ...ctx }));
    return (k) => (spent.has(k) ? undefined : (this.#utxos.get(k) ?? made.get(k)));
  }

  /** The ids of `roots` and of every mempool transaction spending their outputs, transitively. */
  #withDescendants(roots: readonly MempoolEntry[]): Set<string> {
    const ids = new Set(roots.map((e) => e.id));
    for (const e of this.#mempool) if (e.tx.inputs.some((i) => ids.has(bytesToHex(i.txid)))) ids.add(e.id);
    return ids;
  }

  /** Re-checks the mempool after a direct confirmation; drops what it made invalid (and their descendants). */
  #refreshMempool(): void {
    const ctx = this.nextBlock();
    const kept: MempoolEntry[] = [];
    for (const e of this.#mempool) {
      try {
        this.#validate(e.tx, ctx, this.#view(kept, ctx));
        kept.push(e);
      } catch {
        // Its inputs are gone: dropped.
      }
    }
    this.#mempool = kept;
  }
}
