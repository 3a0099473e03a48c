/**
 * A {@link FundingWallet} over one secret key: its coins are P2TR key-path
 * outputs of that key (the BIP86 tweak, no script tree), found through a
 * {@link ChainSource}. Good for the demo, the tests and signet experiments;
 * a production wallet brings its own signer (hardware, descriptors, many
 * addresses) behind the same interface.
 *
 * Coin selection is simple: with change, largest coins first until the
 * outputs, the fee and a change output above the dust limit are paid (no
 * change when the rest would be dust); without change, the smallest single
 * coin that pays outputs and fee, else largest first. Fees are counted on the
 * final virtual size (BIP141), with the inputs already in the PSBT (they must
 * be finalized: their witness is part of the size) and a 64-byte key-path
 * signature per wallet input. Only the wallet's own inputs are signed
 * (SIGHASH_DEFAULT, BIP341 key path) and finalized.
 *
 * Concurrency: coins are chosen from the chain's view of the wallet; two
 * funding calls in flight before either transaction is broadcast may choose
 * the same coin. Call it once at a time per wallet and broadcast between.
 * The key never leaves the instance and is never logged.
 * @module
 */
import { Address, NETWORK, OutScript, TEST_NETWORK } from '@scure/btc-signer';
import { bytesToHex } from '../../base/bytes.js';
import { ErrorCode, LnMailboxError, fail } from '../../base/errors.js';
import { getPublicKey, parseSecretKey, sign, tweakXOnlySecretKey } from '../../crypto/bip340.js';
import { decodePsbt, encodePsbt, psbtTx, type Psbt, type PsbtInput } from '../../engine/bitcoin/psbt.js';
import { signatureHash } from '../../engine/bitcoin/sighash.js';
import { tweakPublicKey } from '../../engine/bitcoin/taproot.js';
import {
  DUST_LIMIT,
  SEQUENCE_FINAL,
  p2trScript,
  txVsize,
  type BitcoinTx,
  type Outpoint,
  type Prevout,
  type TxOutput,
} from '../../engine/bitcoin/transaction.js';
import { confirmationsAt } from './confirmations.js';
import type { ChainSource, ChainUtxo, FundOptions, FundingWallet } from './source.js';

/** The networks whose addresses {@link scriptForAddress} and {@link SingleKeyWallet.address} speak. */
export type BitcoinNetwork = 'bitcoin' | 'testnet' | 'signet' | 'regtest';

const networks = {
  bitcoin: NETWORK,
  testnet: TEST_NETWORK,
  signet: TEST_NETWORK,
  regtest: { ...TEST_NETWORK, bech32: 'bcrt' },
} as const;

/** The scriptPubKey of a Bitcoin address of `network` (any standard type). Throws INVALID_TYPE when it does not decode. */
export function scriptForAddress(address: string, network: BitcoinNetwork = 'signet'): Uint8Array {
  try {
    return OutScript.encode(Address(networks[network]).decode(address));
  } catch (e) {
    throw new LnMailboxError(ErrorCode.INVALID_TYPE, `address ${JSON.stringify(address)} is not a ${network} address`, { cause: e });
  }
}

/** Options of {@link SingleKeyWallet}. */
export interface SingleKeyWalletOptions {
  /** Confirmations a coin needs before the wallet spends it. Default 1; 0 spends unconfirmed coins too. */
  readonly minConfirmations?: number;
}

/** What {@link SingleKeyWallet.fund} did. */
export interface FundResult {
  /** The funded, signed, finalized PSBT. */
  readonly psbt: Uint8Array;
  /** The signed transaction (every input finalized), ready to broadcast. */
  readonly tx: BitcoinTx;
  /** The wallet coins it added. */
  readonly inputs: readonly Outpoint[];
  /** Total fee paid, sats. Without change, everything the added coins bring above the outputs is fee. */
  readonly fee: number;
  /** Virtual size of the transaction, vB. */
  readonly vsize: number;
  /** The change output's amount, or null when there is none. */
  readonly change: number | null;
}

// A key-path witness as it will be: one 64-byte SIGHASH_DEFAULT signature (for sizing).
const SIZING_WITNESS = [new Uint8Array(64)];

/** A funding wallet over one P2TR key. */
export class SingleKeyWallet implements FundingWallet {
  readonly #sk: Uint8Array;
  readonly #chain: ChainSource;
  readonly #minConf: number;
  /** The wallet's scriptPubKey (P2TR, key path only). */
  readonly scriptPubKey: Uint8Array;

  constructor(secretKey: Uint8Array, chain: ChainSource, opts: SingleKeyWalletOptions = {}) {
    parseSecretKey(secretKey, 'wallet secret key');
    const { tweak, outputKey } = tweakPublicKey(getPublicKey(secretKey), null);
    this.#sk = tweakXOnlySecretKey(secretKey, tweak);
    this.#chain = chain;
    this.#minConf = opts.minConfirmations ?? 1;
    if (!Number.isSafeInteger(this.#minConf) || this.#minConf < 0) fail(ErrorCode.INVALID_RANGE, 'minConfirmations');
    this.scriptPubKey = p2trScript(outputKey);
  }

  /** The wallet's address on `network` (bech32m, `tb1p…` on signet). */
  address(network: BitcoinNetwork = 'signet'): string {
    return Address(networks[network]).encode({ type: 'tr', pubkey: this.scriptPubKey.slice(2) });
  }

  /** The wallet's own scriptPubKey: closes and settlements pay it back here. */
  async payoutScript(): Promise<Uint8Array> {
    return this.scriptPubKey.slice();
  }

  /** The coins the wallet may spend now (enough confirmations), per its chain source. */
  async spendable(): Promise<ChainUtxo[]> {
    const [coins, tip] = await Promise.all([this.#chain.utxos(this.scriptPubKey), this.#minConf > 0 ? this.#chain.tipHeight() : 0]);
    return coins.filter((c) => this.#minConf === 0 || confirmationsAt(c.height, tip) >= this.#minConf);
  }

  /** Sum of {@link spendable}, sats. */
  async balance(): Promise<number> {
    return (await this.spendable()).reduce((s, c) => s + c.amount, 0);
  }

  /** {@link FundingWallet.fundPsbt}: see {@link fund}. */
  async fundPsbt(psbt: Uint8Array, opts: FundOptions): Promise<Uint8Array> {
    return (await this.fund(psbt, opts)).psbt;
  }

  /**
   * Adds wallet coins (and, when `opts.change`, one change output at the end)
   * so that the PSBT pays its outputs and `opts.feeRate` on its final size,
   * then signs and finalizes the wallet's inputs. With `change: false` (the
   * existing signatures commit to every output, e.g. a settlement or claim
   * signed ANYPREVOUT|ALL being fee-bumped), everything the added coins bring above
   * the outputs goes to the fee: {@link FundResult.fee} says how much.
   * Throws FUNDING_INVALID when an existing input lacks its witness UTXO or
   * is not finalized, or when the wallet's coins do not suffice.
   */
  async fund(psbt: Uint8Array, opts: FundOptions): Promise<FundResult> {
    const { feeRate, change } = opts;
    if (typeof feeRate !== 'number' || !Number.isFinite(feeRate) || feeRate < 0) fail(ErrorCode.INVALID_RANGE, `feeRate ${feeRate}`);
    const base = decodePsbt(psbt);
    if (base.outputs.length === 0) fail(ErrorCode.FUNDING_INVALID, 'psbt: no outputs to fund');
    base.inputs.forEach((i, k) => {
      if (!i.prevout) fail(ErrorCode.FUNDING_INVALID, `psbt: input ${k} has no witness UTXO (a taproot signer needs every prevout)`);
      if (!i.finalWitness) fail(ErrorCode.FUNDING_INVALID, `psbt: input ${k} is not finalized (its size is unknown)`);
    });
    const have = new Set(base.inputs.map((i) => `${bytesToHex(i.txid)}:${i.vout}`));
    const coins = (await this.spendable()).filter((c) => !have.has(`${bytesToHex(c.outpoint.txid)}:${c.outpoint.vout}`));
    const existingIn = base.inputs.reduce((s, i) => s + i.prevout!.amount, 0n);
    const outSum = base.outputs.reduce((s, o) => s + o.amount, 0n);

    const plan = change
      ? this.#planWithChange(base, coins, existingIn, outSum, feeRate)
      : this.#planNoChange(base, coins, existingIn, outSum, feeRate);
    if (!plan) {
      const total = coins.reduce((s, c) => s + c.amount, 0);
      fail(
        ErrorCode.FUNDING_INVALID,
        `wallet: ${total} sats spendable in ${coins.length} coins do not pay ${outSum - existingIn} sats and the fee at ${feeRate} sat/vB`,
      );
    }
    const signed = this.#sign(plan!.psbt);
    const tx = psbtTx(signed);
    const fee = Number(existingIn + plan!.added - tx.outputs.reduce((s, o) => s + o.amount, 0n));
    return {
      psbt: encodePsbt(signed),
      tx,
      inputs: plan!.coins.map((c) => c.outpoint),
      fee,
      vsize: txVsize(tx),
      change: plan!.change,
    };
  }

  /**
   * Builds and signs a transaction paying `amount` sats to `to` (a
   * scriptPubKey, or an address of `network`) from the wallet's coins, with
   * change back to the wallet. Returns the signed transaction; broadcast it
   * through the chain source.
   */
  async send(to: Uint8Array | string, amount: number, opts: { feeRate: number; network?: BitcoinNetwork }): Promise<BitcoinTx> {
    const script = typeof to === 'string' ? scriptForAddress(to, opts.network) : to;
    if (!Number.isSafeInteger(amount) || amount < DUST_LIMIT) fail(ErrorCode.INVALID_RANGE, `amount ${amount} (at least ${DUST_LIMIT})`);
    const psbt = encodePsbt({ version: 2, lockTime: 0, inputs: [], outputs: [{ amount: BigInt(amount), script }] });
    return (await this.fund(psbt, { feeRate: opts.feeRate, change: true })).tx;
  }

  #compose(base: Psbt, coins: readonly ChainUtxo[], changeAmount: bigint | null, sizing: boolean): Psbt {
    const added: PsbtInput[] = coins.map((c) => ({
      txid: c.outpoint.txid,
      vout: c.outpoint.vout,
      sequence: SEQUENCE_FINAL - 2, // RBF-signaling and nLockTime-enabled, like common wallets
      prevout: { amount: BigInt(c.amount), scriptPubKey: this.scriptPubKey },
      finalWitness: sizing ? SIZING_WITNESS : null,
    }));
    const outputs: TxOutput[] =
      changeAmount === null ? [...base.outputs] : [...base.outputs, { amount: changeAmount, script: this.scriptPubKey }];
    return { ...base, inputs: [...base.inputs, ...added], outputs };
  }

  #feeFor(base: Psbt, coins: readonly ChainUtxo[], withChange: boolean, feeRate: number): bigint {
    return BigInt(Math.ceil(feeRate * txVsize(psbtTx(this.#compose(base, coins, withChange ? 0n : null, true)))));
  }

  #planWithChange(base: Psbt, coins: ChainUtxo[], existingIn: bigint, outSum: bigint, feeRate: number) {
    const chosen: ChainUtxo[] = [];
    let added = 0n;
    for (const c of [...coins].sort((a, b) => b.amount - a.amount)) {
      chosen.push(c);
      added += BigInt(c.amount);
      const rest = existingIn + added - outSum - this.#feeFor(base, chosen, true, feeRate);
      if (rest >= BigInt(DUST_LIMIT)) return { psbt: this.#compose(base, chosen, rest, false), coins: chosen, added, change: Number(rest) };
      if (existingIn + added - outSum >= this.#feeFor(base, chosen, false, feeRate))
        return { psbt: this.#compose(base, chosen, null, false), coins: chosen, added, change: null };
    }
    return null;
  }

  #planNoChange(base: Psbt, coins: ChainUtxo[], existingIn: bigint, outSum: bigint, feeRate: number) {
    const pays = (set: ChainUtxo[], added: bigint) => existingIn + added - outSum >= this.#feeFor(base, set, false, feeRate);
    const single = [...coins].sort((a, b) => a.amount - b.amount).find((c) => pays([c], BigInt(c.amount)));
    if (single) return { psbt: this.#compose(base, [single], null, false), coins: [single], added: BigInt(single.amount), change: null };
    const chosen: ChainUtxo[] = [];
    let added = 0n;
    for (const c of [...coins].sort((a, b) => b.amount - a.amount)) {
      chosen.push(c);
      added += BigInt(c.amount);
      if (pays(chosen, added)) return { psbt: this.#compose(base, chosen, null, false), coins: chosen, added, change: null };
    }
    return null;
  }

  /** Signs and finalizes every input paying this wallet's script that has no witness yet (SIGHASH_DEFAULT, key path). */
  #sign(p: Psbt): Psbt {
    const tx = psbtTx(p);
    const prevouts: Prevout[] = p.inputs.map((i) => i.prevout!);
    const inputs = p.inputs.map((i, k) => {
      if (i.finalWitness || !sameScript(i.prevout!.scriptPubKey, this.scriptPubKey)) return i;
      const sighash = signatureHash(tx, k, prevouts, { hashType: 0 });
      return { ...i, finalWitness: [sign(sighash, this.#sk)] };
    });
    return { ...p, inputs };
  }

  /** Not the key: a wallet printed or serialized shows its script only. */
  toJSON(): { scriptPubKey: string } {
    return { scriptPubKey: bytesToHex(this.scriptPubKey) };
  }
}

const sameScript = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
