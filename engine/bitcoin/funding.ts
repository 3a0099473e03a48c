/**
 * The funding transaction of a channel, built as a PSBT (BIP174) that the
 * funder's own wallet funds and signs, and the check both sides run on the
 * transaction that comes back (or that they find on chain) before they count
 * the channel as funded.
 *
 * The PSBT the package hands the wallet has no input and one output: the
 * channel's funding output ({@link fundingOutput}: its amount and P2TR
 * script). The wallet adds its inputs and, usually, a change output.
 *
 * {@link checkFundingTx} accepts a transaction only when exactly one of its
 * outputs carries the funding script, with exactly the agreed amount, and
 * every input carries a witness. Two outputs with the funding script are
 * refused even when only one has the right amount: ANYPREVOUT update
 * signatures commit to the script and amount, not to the outpoint, so every
 * output both sides could mistake for the channel is one too many. The
 * witnesses themselves are the chain's business (the wallet's inputs are not
 * the other side's to verify; a bad one only keeps the transaction off the
 * chain, and the channel is usable only after confirmations).
 * @module
 */
import { bytesToHex, equalBytes } from '../../base/bytes.js';
import { ErrorCode, fail } from '../../base/errors.js';
import { fundingOutput, type EltooTerms } from './eltoo.js';
import { encodePsbt } from './psbt.js';
import { MAX_MONEY, txid, type BitcoinTx, type Outpoint } from './transaction.js';

/**
 * The unsigned funding PSBT of a channel: version 2, nLockTime 0, no input,
 * one output paying `fundingOutput(terms)`. Hand it to a `FundingWallet`.
 */
export function fundingPsbt(terms: EltooTerms): Uint8Array {
  const out = fundingOutput(terms);
  return encodePsbt({ version: 2, lockTime: 0, inputs: [], outputs: [{ amount: out.amount, script: out.scriptPubKey }] });
}

/** Where a checked funding transaction pays the channel. */
export interface FundingCheck {
  /** The funding outpoint: this transaction's txid and the index of the channel output. */
  readonly outpoint: Outpoint;
}

/**
 * Checks that `tx` funds a channel whose funding output is `expectedScript`
 * with `expectedAmount` sats, and returns the funding outpoint. Throws
 * FUNDING_INVALID when: it has no input, an input carries no witness (not
 * fully signed), no output carries the script, one that does pays another
 * amount, or more than one output carries the script.
 */
export function checkFundingTx(tx: BitcoinTx, expectedScript: Uint8Array, expectedAmount: bigint | number): FundingCheck {
  const amount = BigInt(expectedAmount);
  if (amount <= 0n || amount > BigInt(MAX_MONEY)) fail(ErrorCode.FUNDING_INVALID, `funding: expected amount ${amount} out of range`);
  if (tx.inputs.length === 0) fail(ErrorCode.FUNDING_INVALID, 'funding: transaction has no input');
  tx.inputs.forEach((i, k) => {
    if (i.witness.length === 0) fail(ErrorCode.FUNDING_INVALID, `funding: input ${k} is not signed`);
  });
  const matches = tx.outputs.flatMap((o, vout) => (equalBytes(o.script, expectedScript) ? [{ o, vout }] : []));
  if (matches.length === 0) fail(ErrorCode.FUNDING_INVALID, `funding: no output pays the channel script ${bytesToHex(expectedScript)}`);
  if (matches.length > 1) fail(ErrorCode.FUNDING_INVALID, `funding: ${matches.length} outputs pay the channel script (ambiguous)`);
  const { o, vout } = matches[0]!;
  if (o.amount !== amount) fail(ErrorCode.FUNDING_INVALID, `funding: the channel output pays ${o.amount}, not the agreed ${amount}`);
  return { outpoint: { txid: txid(tx), vout } };
}

/** {@link checkFundingTx} against a channel's terms (`fundingOutput(terms)` gives the script and amount). */
export function checkChannelFunding(tx: BitcoinTx, terms: EltooTerms): FundingCheck {
  const out = fundingOutput(terms);
  return checkFundingTx(tx, out.scriptPubKey, out.amount);
}
