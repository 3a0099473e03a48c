/**
 * What both sides of a channel open compute the same way (SPEC 6.17): the
 * channel id from both parties' keys and random contributions, the channel
 * parameters from the OPEN and OPEN_ACCEPT messages and the hub's terms,
 * state 0, the funding output, and the check of a funding transaction
 * against it.
 * @module
 */
import { bytesToHex, equalBytes } from '../../../base/bytes.js';
import { ErrorCode, fail } from '../../../base/errors.js';
import { parsePublicKey, taggedHash } from '../../../crypto/bip340.js';
import type { HubTerms } from '../../../protocol/terms.js';
import { fundingOutput } from '../../bitcoin/eltoo.js';
import { checkChannelFunding } from '../../bitcoin/funding.js';
import type { BitcoinTx } from '../../bitcoin/transaction.js';
import { Channel } from '../../channel/channel.js';
import { eltooTerms } from '../../channel/onchain.js';
import {
  capacity,
  checkPayoutScript,
  initialState,
  validateParams,
  type ChannelParams,
  type Party,
  type StateRecord,
} from '../../channel/state.js';
import { reject } from '../refusal.js';
import type { Step, StepContext } from '../types.js';

/** BIP340 tagged-hash tag of the channel id derivation. */
export const CHANNEL_ID_TAG = 'ln-mailbox/v1/channel-id';

/**
 * The channel id: `taggedHash("ln-mailbox/v1/channel-id", openerKey ‖ hubKey ‖ openId ‖ hubNonce)`
 * over both channel keys and both random contributions (the opener's
 * `openId`, the hub's `hubNonce`), so that neither side alone can choose it.
 */
export function deriveChannelId(openerKey: Uint8Array, hubKey: Uint8Array, openId: Uint8Array, hubNonce: Uint8Array): Uint8Array {
  return taggedHash(CHANNEL_ID_TAG, openerKey, hubKey, openId, hubNonce);
}

/** What an open fixed: the OPEN's choices, the hub's answer, and the terms' channel fees. */
export interface OpenAgreement {
  channelId: Uint8Array;
  /** Funding amount, sats. */
  amount: number;
  csvDelay: number;
  /** True when the hub funds (it is then party 0); else the opener funds and is party 0. */
  hubFunds: boolean;
  openerKey: Uint8Array;
  hubKey: Uint8Array;
  openerPayout: Uint8Array;
  hubPayout: Uint8Array;
  terms: HubTerms;
}

/** The opener's and the hub's party in a channel: the funder is party 0. */
export function parties(hubFunds: boolean): { opener: Party; hub: Party } {
  return hubFunds ? { opener: 1, hub: 0 } : { opener: 0, hub: 1 };
}

/** The channel parameters an open agreed on (no funding outpoint yet). */
export function openParams(a: OpenAgreement): ChannelParams {
  const byParty = <T>(opener: T, hub: T): [T, T] => (a.hubFunds ? [hub, opener] : [opener, hub]);
  return validateParams({
    channelId: a.channelId,
    funding: { amount: a.amount },
    keys: byParty(a.openerKey, a.hubKey),
    csvDelay: a.csvDelay,
    fees: { update: a.terms.updateFee, settlement: a.terms.settlementFee, ptlc: a.terms.ptlcFee },
    payout: byParty(checkPayoutScript(a.openerPayout, 'opener payout'), checkPayoutScript(a.hubPayout, 'hub payout')),
  });
}

/** A fresh view of an opened channel from `me`'s side: state 0 (everything to the funder, party 0) to be co-signed. */
export function openingChannel(p: ChannelParams, me: Party): Channel {
  const state0 = initialState(p, [capacity(p), 0]);
  const unsigned = (): StateRecord => ({ state: state0, settleSigs: [null, null], updateNonces: [null, null], updateSigs: [null, null] });
  return new Channel(p, me, unsigned(), unsigned());
}

/**
 * Checks the OPEN's choices against the hub's terms (OPEN_REFUSED): the
 * amount within the capacity bounds (and within what the hub funds, when it
 * funds), the CSV delay within the bounds, the fees leaving a positive capacity.
 */
export function checkOpenAgainstTerms(t: HubTerms, o: { amount: number; csvDelay: number; hubFunds: boolean }, now: number): void {
  const refuse = (m: string): never => reject(m, ErrorCode.OPEN_REFUSED);
  if (t.expiry <= now) refuse('the terms have expired');
  if (o.amount < t.minCapacity || o.amount > t.maxCapacity)
    refuse(`capacity ${o.amount} is outside the terms (${t.minCapacity} to ${t.maxCapacity})`);
  if (o.hubFunds && o.amount > t.maxHubFunded) refuse(`the hub funds at most ${t.maxHubFunded} sats`);
  if (o.csvDelay < t.csvMin || o.csvDelay > t.csvMax) refuse(`CSV delay ${o.csvDelay} is outside the terms (${t.csvMin} to ${t.csvMax})`);
  if (o.amount <= t.updateFee + t.settlementFee) refuse('the amount does not cover the channel fees');
}

/** Default share of the channel amount a wallet lets the hub's channel fees take (`OpenOrder.maxFeeShare`). */
export const DEFAULT_MAX_FEE_SHARE = 0.02;

/**
 * The wallet's own bound on the hub's fees (OPEN_REFUSED): the fees one
 * close with a PTLC pays from channel funds (`updateFee + settlementFee +
 * ptlcFee`) must not exceed `maxFeeShare` of the amount. The terms are the
 * hub's: without this a hostile hub's terms make every close burn the
 * funder's coins.
 */
export function checkTermsFees(t: HubTerms, amount: number, maxFeeShare: number = DEFAULT_MAX_FEE_SHARE): void {
  const fees = t.updateFee + t.settlementFee + t.ptlcFee;
  if (fees > Math.floor(amount * maxFeeShare))
    reject(`the hub's channel fees (${fees} sats) exceed ${maxFeeShare * 100}% of the ${amount}-sat channel`, ErrorCode.OPEN_REFUSED);
}

/** Refuses (OPEN_REFUSED) an x-only key that is not a valid point, or a nonce R that is not. */
export function checkKey(k: Uint8Array, name: string): void {
  try {
    parsePublicKey(k, name);
  } catch {
    reject(`${name} is not a valid x-only public key`, ErrorCode.OPEN_REFUSED);
  }
}

/** The funding output's scriptPubKey of a channel: the eltoo funding output of its state keys. */
export function fundingScript(p: ChannelParams): Uint8Array {
  return fundingOutput(eltooTerms(p)).scriptPubKey;
}

/**
 * Checks that `tx` is the funding transaction a FUNDING message named
 * (`txid`, display order, output `vout`): engine/bitcoin's funding check
 * (exactly one output pays the channel's funding script, exactly the agreed
 * amount; every input signed), and that output is the one named
 * (FUNDING_INVALID otherwise).
 */
export function checkChannelFundingTx(p: ChannelParams, tx: BitcoinTx, txid: Uint8Array, vout: number): void {
  const { outpoint } = checkChannelFunding(tx, eltooTerms(p));
  if (!equalBytes(outpoint.txid, txid) || outpoint.vout !== vout)
    fail(ErrorCode.FUNDING_INVALID, `the channel output is ${bytesToHex(outpoint.txid)}:${outpoint.vout}, not the one named`);
}

/** What the chain driver must look up for an open: the funding outpoint, and the transaction when it is ours to (re)broadcast. */
export interface FundingCheck {
  /** Channel id, hex. */
  channelId: string;
  /** Funding txid, display-order hex. */
  txid: string;
  vout: number;
  /** Our own funding transaction (hex), to broadcast again while the chain does not know it. */
  tx?: string;
}

/** A funding transaction the driver must build through the role's FundingWallet. */
export interface FundingOrder {
  /** Channel id, hex. */
  channelId: string;
  /** Sats the funding output pays. */
  amount: number;
  /** The funding output's scriptPubKey. */
  script: Uint8Array;
}

/**
 * The part of a role engine that runs channel opens through the chain (the
 * client's open driver calls it): funding transactions to build, outpoints to
 * watch until they confirm, and expiry of opens that went nowhere. Every call
 * is all or nothing, like every engine step.
 */
export interface OpeningEngine {
  /** Funding transactions this role must build (it is the funder, state 0 is fully signed, time is left). */
  fundingOrders(now: number): FundingOrder[];
  /** Funding outpoints to look up on chain until they have enough confirmations. */
  fundingChecks(): FundingCheck[];
  /** We built and signed funding transaction `tx` (its output `vout` funds `channelId`): recorded, and FUNDING is sent. Publish it next. */
  noteFunded(channelId: string, tx: BitcoinTx, vout: number): Promise<Step>;
  /** What the chain source says of a funding transaction (null: unknown). */
  noteFundingTx(channelId: string, found: { tx: BitcoinTx; height: number | null } | null, ctx: StepContext): Promise<Step>;
  /** Ends opens past their deadlines. */
  expireOpens(ctx: StepContext): Promise<Step>;
}
