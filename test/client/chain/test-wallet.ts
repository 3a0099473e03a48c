/**
 * A minimal FundingWallet for tests: one P2TR key, a list of coins it was
 * given, key-path signatures through @scure/btc-signer. It funds a PSBT with
 * its smallest coin that covers the fee, adding change when allowed. It does
 * not watch the chain: a coin stays in its list (a test removes it).
 */
import { Transaction, p2tr } from '@scure/btc-signer';
import { schnorr } from '@noble/curves/secp256k1.js';
import { ErrorCode, fail } from '../../../base/errors.js';
import type { FundOptions, FundingWallet } from '../../../client/chain/source.js';
import { vsize } from '../../../client/chain/fee-bump.js';
import { parseTx, type Outpoint, type TxOutput } from '../../../engine/bitcoin/transaction.js';

const OPTS = { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true } as const;

/** One coin of the wallet. */
export interface WalletCoin {
  readonly outpoint: Outpoint;
  readonly amount: bigint;
}

export class TestWallet implements FundingWallet {
  readonly coins: WalletCoin[] = [];
  readonly pub: Uint8Array;
  /** How many PSBTs it funded. */
  funded = 0;
  constructor(readonly sk: Uint8Array = schnorr.utils.randomSecretKey()) {
    this.pub = schnorr.getPublicKey(sk);
  }
  /** The wallet's scriptPubKey. */
  get script(): Uint8Array {
    return p2tr(this.pub).script;
  }
  /** An output paying the wallet `amount` (to fund it on the chain model). */
  output(amount: bigint): TxOutput {
    return { amount, script: this.script };
  }
  async payoutScript(): Promise<Uint8Array> {
    return this.script;
  }
  async fundPsbt(bytes: Uint8Array, o: FundOptions): Promise<Uint8Array> {
    const psbt = Transaction.fromPSBT(bytes, OPTS);
    let inSum = 0n;
    for (let k = 0; k < psbt.inputsLength; k++) inSum += psbt.getInput(k).witnessUtxo!.amount;
    let outSum = 0n;
    for (let k = 0; k < psbt.outputsLength; k++) outSum += psbt.getOutput(k).amount!;
    const size = vsize(parseTx(psbt.extract())) + 58 + (o.change ? 43 : 0);
    const need = BigInt(Math.ceil(size * o.feeRate)) - (inSum - outSum);
    const coin = [...this.coins].sort((a, b) => (a.amount < b.amount ? -1 : 1)).find((c) => c.amount >= need + (o.change ? 330n : 0n));
    if (coin === undefined) fail(ErrorCode.FUNDING_INVALID, 'test wallet: no coin covers the fee');
    const idx = psbt.inputsLength;
    psbt.addInput({
      txid: coin.outpoint.txid,
      index: coin.outpoint.vout,
      witnessUtxo: { script: this.script, amount: coin.amount },
      tapInternalKey: this.pub,
    });
    if (o.change) psbt.addOutput({ script: this.script, amount: coin.amount - (need > 0n ? need : 0n) });
    psbt.signIdx(this.sk, idx);
    psbt.finalizeIdx(idx);
    this.funded++;
    return psbt.toPSBT();
  }
}
