/**
 * A minimal FundingWallet for tests: one P2TR key, a list of coins it was
 * given, key-path signatures (sim/key-path.ts) over the package's PSBT model
 * (engine/bitcoin/psbt.ts). It funds a PSBT with its smallest coin that
 * covers the fee, adding change when allowed. It does not watch the chain: a
 * coin stays in its list (a test removes it).
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { ErrorCode, fail } from '../../../base/errors.js';
import type { FundOptions, FundingWallet } from '../../../client/chain/source.js';
import { decodePsbt, encodePsbt, psbtTx, type Psbt } from '../../../engine/bitcoin/psbt.js';
import { SEQUENCE_FINAL, txVsize, type Outpoint, type Prevout, type TxOutput } from '../../../engine/bitcoin/transaction.js';
import { keyPathOutput, signKeyPath } from '../../../sim/key-path.js';

/** One coin of the wallet. */
export interface WalletCoin {
  readonly outpoint: Outpoint;
  readonly amount: bigint;
}

export class TestWallet implements FundingWallet {
  readonly coins: WalletCoin[] = [];
  /** How many PSBTs it funded. */
  funded = 0;
  constructor(readonly sk: Uint8Array = schnorr.utils.randomSecretKey()) {}
  /** The wallet's scriptPubKey. */
  get script(): Uint8Array {
    return keyPathOutput(this.sk, 0n).script;
  }
  /** An output paying the wallet `amount` (to fund it on the chain model). */
  output(amount: bigint): TxOutput {
    return { amount, script: this.script };
  }
  async payoutScript(): Promise<Uint8Array> {
    return this.script;
  }
  async fundPsbt(bytes: Uint8Array, o: FundOptions): Promise<Uint8Array> {
    const base = decodePsbt(bytes);
    const inSum = base.inputs.reduce((s, i) => s + i.prevout!.amount, 0n);
    const outSum = base.outputs.reduce((s, x) => s + x.amount, 0n);
    const size = txVsize(psbtTx(base)) + 58 + (o.change ? 43 : 0);
    const need = BigInt(Math.ceil(size * o.feeRate)) - (inSum - outSum);
    const coin = [...this.coins].sort((a, b) => (a.amount < b.amount ? -1 : 1)).find((c) => c.amount >= need + (o.change ? 330n : 0n));
    if (coin === undefined) fail(ErrorCode.FUNDING_INVALID, 'test wallet: no coin covers the fee');
    const prevout: Prevout = { amount: coin.amount, scriptPubKey: this.script };
    const unsigned: Psbt = {
      ...base,
      inputs: [...base.inputs, { ...coin.outpoint, sequence: SEQUENCE_FINAL, prevout, finalWitness: null }],
      outputs: o.change ? [...base.outputs, { amount: coin.amount - (need > 0n ? need : 0n), script: this.script }] : [...base.outputs],
    };
    const tx = psbtTx(unsigned);
    const idx = unsigned.inputs.length - 1;
    const sig = signKeyPath(
      tx,
      idx,
      unsigned.inputs.map((i) => i.prevout!),
      this.sk,
    );
    this.funded++;
    return encodePsbt({ ...unsigned, inputs: unsigned.inputs.map((i, k) => (k === idx ? { ...i, finalWitness: [sig] } : i)) });
  }
}
