/**
 * What a wallet role needs from the Bitcoin chain, and from the wallet that
 * holds its on-chain coins. Both are interfaces: the package ships one
 * implementation of each (an Esplora REST client, a single-key P2TR wallet),
 * and a wallet developer may bring their own (a full node, a hardware signer).
 *
 * Transactions cross these interfaces in the package's own transaction model
 * (`BitcoinTx`, engine/bitcoin), txids as 64-char hex in display order (the
 * way Esplora and block explorers print them).
 * @module
 */
import { ErrorCode, LnMailboxError } from '../../base/errors.js';
import type { BitcoinTx, Outpoint } from '../../engine/bitcoin/transaction.js';

/**
 * A broadcast the chain backend refused (code `CHAIN_REJECTED`), with the
 * backend's own reason text (for Esplora, bitcoind's message, e.g.
 * `min relay fee not met`), so the caller can bump the fee and retry.
 */
export class ChainRejectedError extends LnMailboxError {
  /** The backend's reason, as it sent it (at most 1000 characters). */
  readonly reason: string;

  constructor(reason: string) {
    const r = reason.slice(0, 1000);
    super(ErrorCode.CHAIN_REJECTED, `chain backend refused the transaction: ${r}`);
    this.reason = r;
  }
}

/**
 * Whether `e` is a refusal that a higher fee can cure: a fee below the
 * backend's minimum or a replacement that does not pay enough
 * (bitcoind's `min relay fee not met`, `mempool min fee not met`,
 * `insufficient fee`, `rejecting replacement`; the simulator's `fee` and
 * `replacement` reasons). Every other refusal (not final yet, an input
 * missing or spent, a conflict, a bad signature) is not: paying more does
 * not change it, so a broadcaster must not raise its fee for it.
 */
export function isFeeRejection(e: unknown): boolean {
  if (!(e instanceof ChainRejectedError)) return false;
  const r = e.reason;
  if (/absurd|max-?fee|exceeds? max/i.test(r)) return false;
  return (
    /min relay fee not met|mempool min fee not met|insufficient fee|rejecting replacement|min-?fee-?not-?met/i.test(r) ||
    /(^|[\s"'{:])(fee|replacement): /.test(r)
  );
}

/** Where a transaction stands: unconfirmed (`height` null) or confirmed at `height`. */
export interface TxStatus {
  /** Height of the block that confirmed it, or null while it waits in the mempool. */
  readonly height: number | null;
}

/** A transaction and where it stands. */
export interface ChainTx extends TxStatus {
  readonly tx: BitcoinTx;
}

/** An unspent output the chain source knows of. */
export interface ChainUtxo {
  readonly outpoint: Outpoint;
  /** Value in sats. */
  readonly amount: number;
  /** Height of the block that confirmed it, or null while unconfirmed. */
  readonly height: number | null;
}

/**
 * A view of the chain: tip, lookups, the spender of a watched outpoint,
 * broadcast and a fee estimate. Implementations must not trust their own
 * backend for anything that protects money beyond what they return here;
 * callers check every transaction they are given against what they expect.
 */
export interface ChainSource {
  /** Height of the best block. */
  tipHeight(): Promise<number>;
  /** The transaction with id `txid` (display-order hex), or null when the backend does not know it. */
  getTx(txid: string): Promise<ChainTx | null>;
  /** The transaction spending `outpoint` (confirmed or in the mempool), or null while it is unspent. */
  spenderOf(outpoint: Outpoint): Promise<ChainTx | null>;
  /** The unspent outputs paying `scriptPubKey` (confirmed and unconfirmed). */
  utxos(scriptPubKey: Uint8Array): Promise<ChainUtxo[]>;
  /**
   * Broadcasts `tx`; resolves with its txid (display-order hex). Rejects with
   * an `LnMailboxError` (code `CHAIN_REJECTED`) when the backend refuses it,
   * carrying the backend's reason (for example a fee below the minimum relay
   * fee rate), so the caller can bump and retry.
   */
  broadcast(tx: BitcoinTx): Promise<string>;
  /** Fee rate estimate, in sat/vB, for confirmation within `targetBlocks` blocks. */
  feeRate(targetBlocks: number): Promise<number>;
}

/** How a {@link FundingWallet} may fund a PSBT. */
export interface FundOptions {
  /** Target fee rate, sat/vB, for the whole transaction (the inputs already in the PSBT included). */
  readonly feeRate: number;
  /**
   * Whether the wallet may add a change output. False when the transaction's
   * existing signatures commit to all its outputs (SIGHASH_ALL): the wallet
   * then adds inputs whose whole value above the outputs goes to the fee.
   */
  readonly change: boolean;
}

/**
 * The wallet that holds a role's on-chain coins. The package never sees its
 * keys: it hands the wallet a PSBT (BIP174) whose outputs it fixed (a
 * channel's funding output; or an enforcement transaction whose channel
 * input is already signed, to be fee-bumped) and gets it back funded and
 * signed, then checks what it got before it uses it.
 */
export interface FundingWallet {
  /** The scriptPubKey this wallet wants its coins paid back to (closes, settlements). Stable for one channel. */
  payoutScript(): Promise<Uint8Array>;
  /**
   * Adds the wallet's own inputs (and at most one change output, when
   * `opts.change`) so that the PSBT pays its outputs and `opts.feeRate`,
   * signs those inputs, finalizes them, and returns the PSBT's bytes. Inputs
   * already in the PSBT are left as they are. Rejects with `FUNDING_INVALID`
   * when the wallet cannot fund it.
   */
  fundPsbt(psbt: Uint8Array, opts: FundOptions): Promise<Uint8Array>;
}
