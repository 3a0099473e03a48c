/**
 * A wallet's side of a channel open with its hub (SPEC 6.17), shared by the
 * payer (who funds: it is party 0) and the payee (who asks the hub to fund:
 * the hub is party 0). The wallet comes and goes: every step is persisted,
 * and an open that does not progress expires (see {@link walletExpireOpen})
 * so that no half-open channel blocks anything.
 *
 * Order: TERMS_REQUEST → TERMS (skipped when valid terms are known) → OPEN →
 * OPEN_ACCEPT → OPEN_SIGN → OPEN_SIGNED (state 0 fully signed on both
 * sides) → funding (the funder builds, signs and publishes its funding
 * transaction, then FUNDING) → confirmations, checked through the wallet's
 * own chain source → the channel is the role's channel.
 * @module
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { bytesToHex, equalBytes, hexToBytes } from '../../../base/bytes.js';
import { ErrorCode, fail } from '../../../base/errors.js';
import { getPublicKey } from '../../../crypto/bip340.js';
import { PaymentType, type PaymentMessageOf } from '../../../protocol/payment.js';
import { termsId, verifyTerms, type HubTerms } from '../../../protocol/terms.js';
import { serializeTx, txid as txidOf, type BitcoinTx } from '../../bitcoin/transaction.js';
import { Channel, type ChannelJson } from '../../channel/channel.js';
import { checkPayoutScript } from '../../channel/state.js';
import type { Signer } from '../ptlc-exchange.js';
import { reject } from '../refusal.js';
import { ignored, step, type Step, type StepContext } from '../types.js';
import {
  checkChannelFundingTx,
  checkKey,
  checkOpenAgainstTerms,
  checkTermsFees,
  deriveChannelId,
  fundingScript,
  openingChannel,
  openParams,
  parties,
  type FundingCheck,
  type FundingOrder,
} from './common.js';

/** How long (ms) a wallet waits for the hub's terms before it gives the open up. */
export const TERMS_WAIT_MS = 3_600_000;

/** What a wallet asks for when it opens a channel. */
export interface OpenOrder {
  /** Funding amount (the channel's capacity before fees), sats. */
  amount: number;
  /** True: the hub funds (the payee's inbound channel); false: the wallet funds. */
  hubFunds: boolean;
  /** Settlement CSV delay; default {@link defaultCsvDelay}, fixed when the OPEN is sent. */
  csvDelay?: number;
  /** Where the wallet's coins go on close (its FundingWallet's payout script). */
  payout: Uint8Array;
  /** The wallet's own mailbox address (the hub answers there). */
  replyTo: string;
  /** The hub's signed terms when the wallet fetched them itself (the relay record `hub-terms`): checked, then used instead of asking. */
  terms?: Uint8Array;
  /**
   * The largest share of `amount` the hub's channel fees may take
   * (`updateFee + settlementFee + ptlcFee`, paid from channel funds on a
   * close); terms above it are refused (OPEN_REFUSED). Default 0.02 (2%).
   */
  maxFeeShare?: number;
}

/** A wallet's open in progress (persisted in the role's state). */
export interface WalletOpen {
  openId: string;
  /** `terms`: waiting for the hub's terms; `requested`: OPEN sent; `signing`: OPEN_SIGN sent; `signed`: state 0 complete, funding next; `funded`: confirmations next. */
  status: 'terms' | 'requested' | 'signing' | 'signed' | 'funded';
  order: { amount: number; hubFunds: boolean; csvDelay?: number; payout: string; replyTo: string; maxFeeShare?: number };
  /** When the open started (ms): its deadlines count from here. */
  startedAt: number;
  /** The signed terms the OPEN was made under (hex). */
  terms?: string;
  channel?: ChannelJson;
  /** Our funding transaction (hex), when we fund. */
  fundingTx?: string;
  /** An outpoint the hub's FUNDING named before its OPEN_SIGNED arrived. */
  early?: { txid: string; vout: number };
  /** True once the funding transaction was seen on chain paying the channel. */
  seen?: boolean;
  /** The terms' open timeout (ms) and confirmations, once the OPEN is sent. */
  timeoutMs?: number;
  minConf?: number;
}

/** What the wallet's open steps work on. */
export interface WalletOpenContext {
  hubKey: Uint8Array;
  hubAddress: string;
  signer: Signer;
  /** The role's state: its open in progress and the hub's last terms (hex). */
  state: { open?: WalletOpen; terms?: string };
  /** True when the role already has its channel. */
  hasChannel: boolean;
  /** Makes `ch` the role's channel (the open is done). */
  install(ch: Channel): void;
}

/** The hub's terms the wallet holds, decoded, if still valid at `now`. */
export function knownTerms(c: Pick<WalletOpenContext, 'state' | 'hubKey'>, now: number): HubTerms | undefined {
  if (!c.state.terms) return undefined;
  try {
    return verifyTerms(hexToBytes(c.state.terms), c.hubKey, now);
  } catch {
    return undefined;
  }
}

function openMessage(c: WalletOpenContext, o: WalletOpen, t: HubTerms, doc: Uint8Array): PaymentMessageOf<typeof PaymentType.OPEN> {
  return {
    type: PaymentType.OPEN,
    openId: hexToBytes(o.openId, 32),
    termsId: termsId(doc),
    replyTo: o.order.replyTo,
    hubFunds: o.order.hubFunds ? 1 : 0,
    amount: o.order.amount,
    csvDelay: o.order.csvDelay ?? t.csvMin,
    channelKey: getPublicKey(c.signer.channelKey),
    payout: hexToBytes(o.order.payout),
  };
}

/** Sends the OPEN under the terms `doc` (checked against them first). */
/**
 * The settlement CSV delay a wallet asks for when it names none, under the
 * hub's terms `t`. A channel the hub funds (a payee's) takes the smallest
 * the terms allow: the PTLCs the hub extends on it must time out after that
 * delay, so shorter is better for its payee. A channel the wallet funds (a
 * payer's) must outlast the PTLCs its payments create: the hub extends a PTLC
 * only if its timeout (up to `maxTimeoutDelta` blocks ahead) plus the hub's
 * safety margin stays below the payer channel's delay, so the payer takes
 * twice `maxTimeoutDelta`, within the terms' bounds. With the smallest delay
 * instead, every offer of such a payer could be refused.
 */
export function defaultCsvDelay(t: Pick<HubTerms, 'csvMin' | 'csvMax' | 'maxTimeoutDelta'>, hubFunds: boolean): number {
  if (hubFunds) return t.csvMin;
  return Math.min(t.csvMax, Math.max(t.csvMin, 2 * t.maxTimeoutDelta));
}

function sendOpen(c: WalletOpenContext, o: WalletOpen, doc: Uint8Array, ctx: StepContext, s: Step): void {
  const t = verifyTerms(doc, c.hubKey, ctx.now);
  // Fixed here, with the terms the OPEN names: every later step reads the same number. (Opens stored
  // before this rule sent their OPEN already; they keep `csvMin` through the fallbacks below.)
  o.order.csvDelay ??= defaultCsvDelay(t, o.order.hubFunds);
  checkOpenAgainstTerms(t, { amount: o.order.amount, csvDelay: o.order.csvDelay ?? t.csvMin, hubFunds: o.order.hubFunds }, ctx.now);
  checkTermsFees(t, o.order.amount, o.order.maxFeeShare);
  o.status = 'requested';
  o.terms = bytesToHex(doc);
  o.timeoutMs = t.openTimeout * 1000;
  o.minConf = t.minConf;
  o.startedAt = ctx.now;
  s.send.push({ to: c.hubAddress, message: openMessage(c, o, t, doc) });
  s.events.push({ kind: 'open_requested', channelId: o.openId, amount: o.order.amount });
}

/**
 * Starts opening a channel with the hub: OPEN when the wallet holds valid
 * terms, else TERMS_REQUEST first. Refused when the role has a channel or
 * an open in progress, or when the order does not fit the terms.
 */
export function walletOpen(c: WalletOpenContext, order: OpenOrder, ctx: StepContext): { openId: string; step: Step } {
  if (c.hasChannel) reject('this role already has its channel', ErrorCode.OPEN_REFUSED);
  if (c.state.open) reject('an open is already in progress', ErrorCode.OPEN_REFUSED);
  checkPayoutScript(order.payout);
  if (order.terms) {
    verifyTerms(order.terms, c.hubKey, ctx.now);
    c.state.terms = bytesToHex(order.terms);
  }
  const o: WalletOpen = {
    openId: bytesToHex(randomBytes(32)),
    status: 'terms',
    order: {
      amount: order.amount,
      hubFunds: order.hubFunds,
      ...(order.csvDelay !== undefined ? { csvDelay: order.csvDelay } : {}),
      payout: bytesToHex(order.payout),
      replyTo: order.replyTo,
      ...(order.maxFeeShare !== undefined ? { maxFeeShare: order.maxFeeShare } : {}),
    },
    startedAt: ctx.now,
  };
  const s = step();
  if (knownTerms(c, ctx.now)) sendOpen(c, o, hexToBytes(c.state.terms!), ctx, s);
  else s.send.push({ to: c.hubAddress, message: { type: PaymentType.TERMS_REQUEST, replyTo: order.replyTo } });
  c.state.open = o;
  return { openId: o.openId, step: s };
}

/** TERMS from the hub: kept (after checking its signature); an open waiting for them goes on, or ends if it does not fit them. */
export function walletOnTerms(c: WalletOpenContext, m: PaymentMessageOf<typeof PaymentType.TERMS>, ctx: StepContext): Step {
  const t = verifyTerms(m.terms, c.hubKey, ctx.now);
  c.state.terms = bytesToHex(m.terms);
  const s = step();
  s.events.push({ kind: 'terms_received', serial: t.serial });
  const o = c.state.open;
  if (o?.status === 'terms') {
    try {
      sendOpen(c, o, m.terms, ctx, s);
    } catch (e) {
      return walletAbort(c, `the order does not fit the hub’s terms: ${(e as Error).message}`, s);
    }
  }
  return s;
}

function openOf(c: WalletOpenContext, status: WalletOpen['status'], match: (o: WalletOpen) => boolean): WalletOpen | undefined {
  const o = c.state.open;
  return o && o.status === status && match(o) ? o : undefined;
}

const channelIdOf = (o: WalletOpen): string | undefined => (o.channel ? o.channel.params.channelId : undefined);

/**
 * OPEN_ACCEPT: checks the hub's key against its terms, the channel id
 * against both contributions, the hub's settlement signature for state 0
 * and its nonce; then signs settlement 0 and update 0 and answers OPEN_SIGN.
 */
export async function walletOnAccept(c: WalletOpenContext, m: PaymentMessageOf<typeof PaymentType.OPEN_ACCEPT>): Promise<Step> {
  const o = openOf(c, 'requested', (x) => x.openId === bytesToHex(m.openId));
  if (!o) return ignored(m.type, 'no open waiting for this acceptance');
  const t = verifyTerms(hexToBytes(o.terms!), c.hubKey);
  if (!equalBytes(m.channelKey, t.channelKey)) reject('the channel key is not the one in the terms', ErrorCode.OPEN_REFUSED);
  const mine = getPublicKey(c.signer.channelKey);
  const id = deriveChannelId(mine, m.channelKey, m.openId, m.hubNonce);
  if (!equalBytes(id, m.channelId)) reject('the channel id does not derive from both contributions', ErrorCode.OPEN_REFUSED);
  checkKey(m.updateNonce, 'updateNonce');
  const params = openParams({
    channelId: id,
    amount: o.order.amount,
    csvDelay: o.order.csvDelay ?? t.csvMin,
    hubFunds: o.order.hubFunds,
    openerKey: mine,
    hubKey: m.channelKey,
    openerPayout: hexToBytes(o.order.payout),
    hubPayout: m.payout,
    terms: t,
  });
  const ch = openingChannel(params, parties(o.order.hubFunds).opener);
  ch.receiveSettlementSig(m.settleSig);
  ch.receiveUpdateNonce(m.updateNonce);
  const settleSig = ch.signSettlement(c.signer.channelKey);
  const updateNonce = await ch.commitUpdateNonce(c.signer.nonces, c.signer.channelKey);
  const updateSig = await ch.signUpdate(c.signer.nonces, c.signer.channelKey);
  o.channel = ch.toJSON();
  o.status = 'signing';
  const s = step();
  s.send.push({ to: c.hubAddress, message: { type: PaymentType.OPEN_SIGN, channelId: id, updateNonce, settleSig, updateSig } });
  s.events.push({ kind: 'open_accepted', channelId: bytesToHex(id) });
  return s;
}

/** OPEN_SIGNED: the hub's update signature for state 0; state 0 is complete (funding may follow). */
export function walletOnSigned(c: WalletOpenContext, m: PaymentMessageOf<typeof PaymentType.OPEN_SIGNED>): Step {
  const o = openOf(c, 'signing', (x) => channelIdOf(x) === bytesToHex(m.channelId));
  if (!o) return ignored(m.type, 'no open waiting for this signature');
  const ch = Channel.fromJSON(o.channel!);
  if (!ch.receiveUpdateSig(m.updateSig)) reject('state 0 is not complete', ErrorCode.OPEN_REFUSED);
  o.status = 'signed';
  const s = step();
  s.events.push({ kind: 'open_signed', channelId: bytesToHex(m.channelId) });
  if (o.early) {
    ch.setFundingOutpoint(hexToBytes(o.early.txid, 32), o.early.vout);
    o.status = 'funded';
    delete o.early;
  }
  o.channel = ch.toJSON();
  return s;
}

/** FUNDING from a hub that funds: the outpoint, checked on chain next (see {@link walletNoteFundingTx}). */
export function walletOnFunding(c: WalletOpenContext, m: PaymentMessageOf<typeof PaymentType.FUNDING>): Step {
  const o = c.state.open;
  if (!o || channelIdOf(o) !== bytesToHex(m.channelId)) return ignored(m.type, 'no such open');
  if (!o.order.hubFunds) reject('this wallet funds the channel', ErrorCode.FUNDING_INVALID);
  if (o.status === 'signing') {
    // Overtook OPEN_SIGNED: kept until state 0 is complete.
    o.early = { txid: bytesToHex(m.txid), vout: m.vout };
    return step();
  }
  if (o.status !== 'signed') return ignored(m.type, 'funding already known');
  const ch = Channel.fromJSON(o.channel!);
  ch.setFundingOutpoint(m.txid, m.vout);
  o.channel = ch.toJSON();
  o.status = 'funded';
  return step();
}

/** A REJECT from the hub about our open (its open id or channel id): an open not yet funded ends. */
export function walletOnReject(c: WalletOpenContext, m: PaymentMessageOf<typeof PaymentType.REJECT>): Step | undefined {
  const o = c.state.open;
  if (!o) return undefined;
  const ref = bytesToHex(m.ref);
  const ours = ref === o.openId || ref === channelIdOf(o) || (o.status === 'terms' && m.refType === PaymentType.TERMS_REQUEST);
  if (!ours) return undefined;
  if (o.status === 'funded' && !o.order.hubFunds) return ignored(m.type, `the hub refused our funded channel: ${m.code}`);
  return walletAbort(c, `refused by the hub: ${m.code}: ${m.message}`);
}

function walletAbort(c: WalletOpenContext, reason: string, s: Step = step(), cancel = false): Step {
  const o = c.state.open;
  if (!o) return s;
  delete c.state.open;
  if (cancel) s.send.push({ to: c.hubAddress, message: { type: PaymentType.OPEN_CANCEL, openId: hexToBytes(o.openId, 32), reason } });
  s.events.push({ kind: 'open_aborted', channelId: channelIdOf(o) ?? o.openId, reason });
  return s;
}

/** The open's timeout (ms) under its terms. */
function timeoutMs(o: WalletOpen): number {
  return o.timeoutMs ?? TERMS_WAIT_MS;
}

/** Funding transactions the wallet must build: its open is fully signed, it funds, and there is time left before the hub forgets the open. */
export function walletFundingOrders(c: WalletOpenContext, now: number): FundingOrder[] {
  const o = c.state.open;
  if (o?.status !== 'signed' || o.order.hubFunds || now >= o.startedAt + timeoutMs(o) / 2) return [];
  const p = Channel.fromJSON(o.channel!).params;
  return [{ channelId: bytesToHex(p.channelId), amount: p.funding.amount, script: fundingScript(p) }];
}

/** The wallet built, signed and stored its funding transaction: records the outpoint and tells the hub (FUNDING). Publish it next. */
export function walletNoteFunded(c: WalletOpenContext, channelId: string, tx: BitcoinTx, vout: number): Step {
  const o = c.state.open;
  if (o?.status !== 'signed' || o.order.hubFunds || channelIdOf(o) !== channelId)
    fail(ErrorCode.FUNDING_INVALID, `no open ${channelId} waiting for our funding`);
  const ch = Channel.fromJSON(o.channel!);
  const id = txidOf(tx);
  checkChannelFundingTx(ch.params, tx, id, vout);
  ch.setFundingOutpoint(id, vout);
  o.channel = ch.toJSON();
  o.status = 'funded';
  o.fundingTx = bytesToHex(serializeTx(tx));
  const s = step();
  s.send.push({ to: c.hubAddress, message: { type: PaymentType.FUNDING, channelId: ch.params.channelId, txid: id, vout } });
  s.events.push({ kind: 'funding_published', channelId, txid: bytesToHex(id) });
  return s;
}

/** The funding outpoint the wallet watches until it confirms. */
export function walletFundingChecks(c: WalletOpenContext): FundingCheck[] {
  const o = c.state.open;
  if (o?.status !== 'funded') return [];
  const f = Channel.fromJSON(o.channel!).params.funding;
  return [{ channelId: channelIdOf(o)!, txid: bytesToHex(f.txid!), vout: f.vout!, ...(o.fundingTx ? { tx: o.fundingTx } : {}) }];
}

/**
 * What the wallet's chain source says of the funding transaction (null: not
 * known): the hub's transaction that does not pay the agreed output ends the
 * open (FUNDING_INVALID to the hub); with `terms.minConf` confirmations the
 * channel becomes the role's channel.
 */
export function walletNoteFundingTx(
  c: WalletOpenContext,
  channelId: string,
  found: { tx: BitcoinTx; height: number | null } | null,
  ctx: StepContext,
): Step {
  const o = c.state.open;
  if (o?.status !== 'funded' || channelIdOf(o) !== channelId) return step();
  const ch = Channel.fromJSON(o.channel!);
  if (!found) {
    if (o.order.hubFunds && !o.seen && ctx.now >= o.startedAt + timeoutMs(o))
      return walletAbort(c, 'the hub’s funding never appeared on chain');
    return step();
  }
  try {
    checkChannelFundingTx(ch.params, found.tx, ch.params.funding.txid!, ch.params.funding.vout!);
  } catch (e) {
    if (!o.order.hubFunds) throw e; // our own transaction: the chain source is wrong, not the hub
    const s = step();
    s.send.push({
      to: c.hubAddress,
      message: {
        type: PaymentType.REJECT,
        refType: PaymentType.FUNDING,
        ref: ch.params.channelId,
        code: ErrorCode.FUNDING_INVALID,
        message: (e as Error).message,
      },
    });
    return walletAbort(c, (e as Error).message, s);
  }
  o.seen = true;
  if (found.height === null || ctx.height - found.height + 1 < (o.minConf ?? 1)) return step();
  delete c.state.open;
  c.install(ch);
  const s = step();
  s.events.push({ kind: 'channel_ready', channelId, height: found.height });
  return s;
}

/**
 * Ends an open that went nowhere, so it never blocks the role: no terms or
 * no acceptance within the open timeout, or (when we fund) state 0 signed
 * but too late to fund before the hub forgets the open. The hub is told
 * (OPEN_CANCEL) and frees its slot. A funded open never expires here.
 */
export function walletExpireOpen(c: WalletOpenContext, now: number): Step {
  const o = c.state.open;
  if (!o) return step();
  const limit = o.startedAt + timeoutMs(o);
  if (o.status === 'terms' && now >= limit) return walletAbort(c, 'no terms from the hub in time');
  if ((o.status === 'requested' || o.status === 'signing') && now >= limit)
    return walletAbort(c, 'the hub did not answer in time', step(), true);
  if (o.status === 'signed' && !o.order.hubFunds && now >= o.startedAt + timeoutMs(o) / 2)
    return walletAbort(c, 'too late to fund before the hub forgets the open', step(), true);
  if (o.status === 'signed' && o.order.hubFunds && now >= limit) return walletAbort(c, 'the hub did not fund in time', step(), true);
  return step();
}

/** Gives up the open in progress if it is not funded (the wallet's own decision); the hub is told. */
export function walletCancelOpen(c: WalletOpenContext, reason: string): Step {
  const o = c.state.open;
  if (!o) return reject('no open in progress', ErrorCode.OPEN_REFUSED);
  if (o.status === 'funded') reject('the channel is funded: close it instead', ErrorCode.OPEN_REFUSED);
  return walletAbort(c, reason, step(), o.status !== 'terms');
}
