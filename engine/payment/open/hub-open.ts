/**
 * The hub's side of a channel open (SPEC 6.17): it answers TERMS_REQUEST
 * with its signed terms, accepts an OPEN within its terms and policy (and
 * co-signs state 0 with the opener like any later state), takes the funding
 * outpoint (FUNDING) or funds the channel itself, and adds the channel to its
 * peers once its funding transaction, checked through the hub's own chain
 * source, has the confirmations its terms ask for. An open that goes nowhere
 * expires and frees the opener's slot.
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { bytesToHex, equalBytes, hexToBytes } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { decodeMailboxAddress } from '../../../protocol/address.js';
import { encodePayment, PaymentType, type PaymentMessageOf } from '../../../protocol/payment.js';
import type { HubTerms } from '../../../protocol/terms.js';
import { serializeTx, txid as txidOf, type BitcoinTx } from '../../bitcoin/transaction.js';
import { Channel, type ChannelJson } from '../../channel/channel.js';
import { channelMap, type PeerChannel } from '../peers.js';
import type { Signer } from '../ptlc-exchange.js';
import { reject, rejectMessage } from '../refusal.js';
import { ignored, step, type Step, type StepContext } from '../types.js';
import {
  checkChannelFundingTx,
  checkKey,
  checkOpenAgainstTerms,
  deriveChannelId,
  fundingScript,
  openingChannel,
  openParams,
  parties,
  type FundingCheck,
  type FundingOrder,
} from './common.js';

/** An open the hub accepted and has not finished (persisted in the hub's state). */
export interface HubOpen {
  /** The opener's open id (hex). */
  openId: string;
  /** The channel id (hex). */
  channelId: string;
  /** The opener's identity key (hex) and mailbox address. */
  peerKey: string;
  peerAddress: string;
  hubFunds: boolean;
  /** sha256 of the OPEN body: the same OPEN again is answered again, another one under the same id is refused. */
  openHash: string;
  /** The hub's random contribution to the channel id (hex). */
  hubNonce: string;
  /** `accepted`: OPEN_ACCEPT sent; `signed`: state 0 fully signed, funding awaited; `funded`: outpoint known, confirmations awaited. */
  status: 'accepted' | 'signed' | 'funded';
  channel: ChannelJson;
  /** When (ms) the open is forgotten if it is not funded by then (or its funding never appears on chain). */
  expiresAt: number;
  /** Confirmations the channel needs (from the terms the open was made under). */
  minConf: number;
  /** The hub's own funding transaction (hex), when the hub funds. */
  fundingTx?: string;
  /** True once the funding transaction was seen on chain paying the channel. */
  seen?: boolean;
}

/** What the hub's open steps work on. */
export interface HubOpenContext {
  /** The hub's signed terms and their decoded form and id; undefined when the hub opens no channels. */
  terms: { doc: Uint8Array; t: HubTerms; id: Uint8Array } | undefined;
  /**
   * The terms the current ones replaced (see `Hub.renewTerms`), if any: an
   * OPEN may still name them while they are unexpired, so that a wallet that
   * read them just before a renewal is not refused.
   */
  previous?: { doc: Uint8Array; t: HubTerms; id: Uint8Array } | undefined;
  opens: Map<string, HubOpen>;
  peers: Map<string, PeerChannel>;
  signer: Signer;
  /** The hub's channel key (x-only). */
  channelKeyPub: Uint8Array;
  /** Where the hub's coins go on close (its wallet's payout script). */
  payout: Uint8Array;
  /** Hub-wide bounds on pending opens (HubConfig.openLimits). */
  limits?: { pendingOpens?: number; pendingHubFunded?: number };
}

/** Default hub-wide bound on pending opens (HubConfig.openLimits). */
export const DEFAULT_PENDING_OPENS_TOTAL = 32;

const refuse = (m: string): never => reject(m, ErrorCode.OPEN_REFUSED);

/** The reply address of an open message: it must name the sender's own mailbox (so nobody uses the hub to mail a third party). */
export function replyAddress(replyTo: string, from: Uint8Array): string {
  let key: Uint8Array;
  try {
    key = decodeMailboxAddress(replyTo).publicKey;
  } catch {
    return refuse('replyTo is not a mailbox address');
  }
  if (!equalBytes(key, from)) refuse('replyTo is not the sender’s mailbox');
  return replyTo;
}

/** The address a refused open message is answered to, if any (the sender's own mailbox only). */
export function openRefusalAddress(c: HubOpenContext, m: { type: number } & Record<string, unknown>, from: Uint8Array): string | undefined {
  if ((m.type === PaymentType.OPEN || m.type === PaymentType.TERMS_REQUEST) && typeof m.replyTo === 'string') {
    try {
      return replyAddress(m.replyTo, from);
    } catch {
      return undefined;
    }
  }
  const id = m.channelId instanceof Uint8Array ? bytesToHex(m.channelId) : undefined;
  const openId = m.openId instanceof Uint8Array ? bytesToHex(m.openId) : undefined;
  const mine = [...c.opens.values()].filter((o) => o.peerKey === bytesToHex(from));
  // The open the message names, else any open of the same sender: its own mailbox either way.
  return (mine.find((o) => o.channelId === id || o.openId === openId) ?? mine[0])?.peerAddress;
}

function requireTerms(c: HubOpenContext): NonNullable<HubOpenContext['terms']> {
  return c.terms ?? refuse('this hub opens no channels');
}

/** TERMS_REQUEST: the signed terms, to the sender's own mailbox. */
export function hubOnTermsRequest(c: HubOpenContext, from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.TERMS_REQUEST>): Step {
  const to = replyAddress(m.replyTo, from);
  const s = step();
  s.send.push({ to, message: { type: PaymentType.TERMS, terms: requireTerms(c).doc } });
  return s;
}

function acceptMessage(o: HubOpen): PaymentMessageOf<typeof PaymentType.OPEN_ACCEPT> {
  const ch = Channel.fromJSON(o.channel);
  const rec = ch.pending ?? ch.enforceable;
  return {
    type: PaymentType.OPEN_ACCEPT,
    openId: hexToBytes(o.openId, 32),
    hubNonce: hexToBytes(o.hubNonce, 32),
    channelId: ch.params.channelId,
    channelKey: ch.params.keys[ch.me],
    payout: ch.params.payout![ch.me],
    updateNonce: rec.updateNonces[ch.me]!,
    settleSig: rec.settleSigs[ch.me]!,
  };
}

function openByChannel(c: HubOpenContext, channelId: Uint8Array, from: Uint8Array): HubOpen {
  const o = c.opens.get(bytesToHex(channelId));
  if (!o || o.peerKey !== bytesToHex(from)) return refuse('no open of this channel from this sender');
  return o;
}

/**
 * OPEN: checks it against the terms it names (the hub's current terms, or
 * the ones they replaced while those are unexpired) and the hub's policy (capacity bounds,
 * CSV bounds, at most `maxPendingOpens` opens per peer, no second channel
 * with a key the hub already has a channel with), then answers OPEN_ACCEPT
 * with the hub's random contribution to the channel id, its settlement
 * signature for state 0 and its committed update nonce. The same OPEN again
 * is answered again; any other reuse of its open id is refused.
 */
export async function hubOnOpen(
  c: HubOpenContext,
  from: Uint8Array,
  m: PaymentMessageOf<typeof PaymentType.OPEN>,
  ctx: StepContext,
): Promise<Step> {
  const to = replyAddress(m.replyTo, from);
  const terms = requireTerms(c);
  const openId = bytesToHex(m.openId);
  const openHash = bytesToHex(sha256(encodePayment(m)));
  const s = step();
  const existing = [...c.opens.values()].find((o) => o.openId === openId);
  if (existing) {
    if (existing.peerKey !== bytesToHex(from) || existing.openHash !== openHash) refuse('open id already used');
    if (existing.status !== 'accepted') return ignored(m.type, 'open already past its acceptance');
    s.send.push({ to, message: acceptMessage(existing) });
    return s;
  }
  // The terms the OPEN names: the current ones, or the previous ones while unexpired (checked below).
  const named =
    [terms, c.previous].find((x) => x !== undefined && equalBytes(m.termsId, x.id)) ??
    refuse('the OPEN names neither the hub’s current terms nor its previous ones');
  const t = named.t;
  if (m.hubFunds !== 0 && m.hubFunds !== 1) refuse('hubFunds must be 0 or 1');
  const hubFunds = m.hubFunds === 1;
  checkOpenAgainstTerms(t, { amount: m.amount, csvDelay: m.csvDelay, hubFunds }, ctx.now);
  checkKey(m.channelKey, 'channelKey');
  if (equalBytes(m.channelKey, c.channelKeyPub)) refuse('channelKey is the hub’s own key');
  for (const p of c.peers.values())
    if (equalBytes(p.peerKey, from) || p.channel.params.keys.some((k) => equalBytes(k, m.channelKey)))
      refuse('the hub already has a channel with this key');
  const all = [...c.opens.values()];
  const pending = all.filter((o) => o.peerKey === bytesToHex(from));
  if (pending.length >= t.maxPendingOpens) refuse(`at most ${t.maxPendingOpens} pending opens per peer`);
  // One channel per key counts pending opens too, whoever asked for them.
  if (all.some((o) => Channel.fromJSON(o.channel).params.keys.some((k) => equalBytes(k, m.channelKey))))
    refuse('an open with this channel key is already pending');
  // Hub-wide: identity keys are free, so the per-peer bound alone does not bound the hub's commitments.
  const maxOpens = c.limits?.pendingOpens ?? DEFAULT_PENDING_OPENS_TOTAL;
  if (all.length >= maxOpens) refuse(`the hub has ${all.length} opens pending (at most ${maxOpens})`);
  if (hubFunds) {
    const committed = all.filter((o) => o.hubFunds).reduce((sum, o) => sum + Channel.fromJSON(o.channel).params.funding.amount, 0);
    const maxFunded = c.limits?.pendingHubFunded ?? 4 * t.maxHubFunded;
    if (committed + m.amount > maxFunded) refuse(`the hub funds at most ${maxFunded} sats over its pending opens`);
  }

  const hubNonce = randomBytes(32);
  const channelId = deriveChannelId(m.channelKey, c.channelKeyPub, m.openId, hubNonce);
  if (c.opens.has(bytesToHex(channelId)) || c.peers.has(bytesToHex(channelId))) refuse('channel id collision');
  const params = (() => {
    try {
      return openParams({
        channelId,
        amount: m.amount,
        csvDelay: m.csvDelay,
        hubFunds,
        openerKey: m.channelKey,
        hubKey: c.channelKeyPub,
        openerPayout: m.payout,
        hubPayout: c.payout,
        terms: t,
      });
    } catch (e) {
      return refuse(`channel parameters: ${(e as Error).message}`);
    }
  })();
  const ch = openingChannel(params, parties(hubFunds).hub);
  ch.signSettlement(c.signer.channelKey);
  await ch.commitUpdateNonce(c.signer.nonces, c.signer.channelKey);
  const o: HubOpen = {
    openId,
    channelId: bytesToHex(channelId),
    peerKey: bytesToHex(from),
    peerAddress: to,
    hubFunds,
    openHash,
    hubNonce: bytesToHex(hubNonce),
    status: 'accepted',
    channel: ch.toJSON(),
    expiresAt: ctx.now + t.openTimeout * 1000,
    minConf: t.minConf,
  };
  c.opens.set(o.channelId, o);
  s.send.push({ to, message: acceptMessage(o) });
  s.events.push({ kind: 'open_accepted', channelId: o.channelId });
  return s;
}

/**
 * OPEN_SIGN: the opener's settlement signature, update nonce and update
 * signature for state 0, each checked; the hub signs update 0 and answers
 * OPEN_SIGNED. State 0 is then fully signed on both sides, before any
 * funding transaction exists.
 */
export async function hubOnOpenSign(c: HubOpenContext, from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.OPEN_SIGN>): Promise<Step> {
  const o = openByChannel(c, m.channelId, from);
  const s = step();
  if (o.status !== 'accepted') {
    const ch = Channel.fromJSON(o.channel);
    if (!equalBytes(ch.enforceable.updateSigs[ch.peer] ?? new Uint8Array(0), m.updateSig)) return ignored(m.type, 'state 0 already signed');
    s.send.push({
      to: o.peerAddress,
      message: { type: PaymentType.OPEN_SIGNED, channelId: m.channelId, updateSig: ch.enforceable.updateSigs[ch.me]! },
    });
    return s;
  }
  const ch = Channel.fromJSON(o.channel);
  checkKey(m.updateNonce, 'updateNonce');
  ch.receiveSettlementSig(m.settleSig);
  ch.receiveUpdateNonce(m.updateNonce);
  ch.receiveUpdateSig(m.updateSig);
  const sig = await ch.signUpdate(c.signer.nonces, c.signer.channelKey);
  if (ch.pending) refuse('state 0 is not complete');
  o.channel = ch.toJSON();
  o.status = 'signed';
  s.send.push({ to: o.peerAddress, message: { type: PaymentType.OPEN_SIGNED, channelId: m.channelId, updateSig: sig } });
  s.events.push({ kind: 'open_signed', channelId: o.channelId });
  return s;
}

/** FUNDING from an opener who funds: the outpoint, taken once state 0 is signed; the chain check follows (see {@link hubNoteFundingTx}). */
export function hubOnFunding(c: HubOpenContext, from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.FUNDING>, ctx: StepContext): Step {
  const o = openByChannel(c, m.channelId, from);
  const bad = (msg: string): never => reject(msg, ErrorCode.FUNDING_INVALID);
  if (o.hubFunds) bad('the hub funds this channel');
  if (o.status === 'accepted') bad('state 0 is not signed yet');
  const ch = Channel.fromJSON(o.channel);
  if (o.status === 'funded') {
    if (equalBytes(ch.params.funding.txid!, m.txid) && ch.params.funding.vout === m.vout) return ignored(m.type, 'funding already known');
    bad('the funding outpoint is already set');
  }
  const outpoint = `${bytesToHex(m.txid)}:${m.vout}`;
  for (const p of [...c.peers.values()].map((x) => x.channel.params))
    if (p.funding.txid && `${bytesToHex(p.funding.txid)}:${p.funding.vout}` === outpoint) bad('another channel uses this outpoint');
  ch.setFundingOutpoint(m.txid, m.vout);
  o.channel = ch.toJSON();
  o.status = 'funded';
  o.expiresAt = ctx.now + requireTerms(c).t.openTimeout * 1000;
  return step();
}

/** OPEN_CANCEL: the opener gives up an open that is not funded; its slot is freed. */
export function hubOnOpenCancel(c: HubOpenContext, from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.OPEN_CANCEL>): Step {
  const o = [...c.opens.values()].find((x) => x.openId === bytesToHex(m.openId) && x.peerKey === bytesToHex(from));
  if (!o) return ignored(m.type, 'no such open');
  if (o.status === 'funded') refuse('the channel is funded: close it instead');
  return abort(c, o, `cancelled by the opener: ${m.reason}`);
}

function abort(c: HubOpenContext, o: HubOpen, reason: string, notify?: { code: string }): Step {
  c.opens.delete(o.channelId);
  const s = step();
  s.events.push({ kind: 'open_aborted', channelId: o.channelId, reason });
  if (notify)
    s.send.push({ to: o.peerAddress, message: rejectMessage(PaymentType.FUNDING, hexToBytes(o.channelId, 32), notify.code, reason) });
  return s;
}

/** Funding transactions the hub must build: opens it funds whose state 0 is fully signed. */
export function hubFundingOrders(c: HubOpenContext, now: number): FundingOrder[] {
  return [...c.opens.values()]
    .filter((o) => o.hubFunds && o.status === 'signed' && now < o.expiresAt)
    .map((o) => {
      const p = Channel.fromJSON(o.channel).params;
      return { channelId: o.channelId, amount: p.funding.amount, script: fundingScript(p) };
    });
}

/** The hub built and signed the funding transaction `tx` (output `vout`) for an open it funds: records it and tells the opener. */
export function hubNoteFunded(c: HubOpenContext, channelId: string, tx: BitcoinTx, vout: number): Step {
  const o = c.opens.get(channelId);
  if (!o?.hubFunds || o.status !== 'signed') return reject(`no open ${channelId} waiting for the hub’s funding`, ErrorCode.FUNDING_INVALID);
  const ch = Channel.fromJSON(o.channel);
  const id = txidOf(tx);
  checkChannelFundingTx(ch.params, tx, id, vout);
  ch.setFundingOutpoint(id, vout);
  o.channel = ch.toJSON();
  o.status = 'funded';
  o.fundingTx = bytesToHex(serializeTx(tx));
  const s = step();
  s.send.push({ to: o.peerAddress, message: { type: PaymentType.FUNDING, channelId: hexToBytes(channelId, 32), txid: id, vout } });
  s.events.push({ kind: 'funding_published', channelId, txid: bytesToHex(id) });
  return s;
}

/** Funding outpoints the hub watches until they confirm. */
export function hubFundingChecks(c: HubOpenContext): FundingCheck[] {
  return [...c.opens.values()]
    .filter((o) => o.status === 'funded')
    .map((o) => {
      const f = Channel.fromJSON(o.channel).params.funding;
      return { channelId: o.channelId, txid: bytesToHex(f.txid!), vout: f.vout!, ...(o.fundingTx ? { tx: o.fundingTx } : {}) };
    });
}

/**
 * What the hub's chain source says of a funding transaction (null: it does
 * not know it): a transaction that does not pay the agreed output aborts the
 * open (FUNDING_INVALID to the opener); one never seen by the open's expiry
 * aborts it; one with the confirmations the terms ask for makes the channel
 * one of the hub's peers.
 */
export function hubNoteFundingTx(
  c: HubOpenContext,
  channelId: string,
  found: { tx: BitcoinTx; height: number | null } | null,
  ctx: StepContext,
): Step {
  const o = c.opens.get(channelId);
  if (o?.status !== 'funded') return step();
  const ch = Channel.fromJSON(o.channel);
  if (!found) {
    if (!o.fundingTx && !o.seen && ctx.now >= o.expiresAt)
      return abort(c, o, 'the funding transaction never appeared on chain', { code: ErrorCode.FUNDING_INVALID });
    return step();
  }
  try {
    checkChannelFundingTx(ch.params, found.tx, ch.params.funding.txid!, ch.params.funding.vout!);
  } catch (e) {
    if (o.fundingTx) throw e; // our own transaction: a chain source that lies, not the opener
    return abort(c, o, (e as Error).message, { code: ErrorCode.FUNDING_INVALID });
  }
  o.seen = true;
  if (found.height === null || ctx.height - found.height + 1 < o.minConf) return step();
  const all = [...c.peers.values(), { channel: ch, peerKey: hexToBytes(o.peerKey, 32), peerAddress: o.peerAddress }];
  const byId = channelMap(all, c.channelKeyPub, 'hub');
  c.peers.set(channelId, byId.get(channelId)!);
  c.opens.delete(channelId);
  const s = step();
  s.events.push({ kind: 'channel_ready', channelId, height: found.height });
  return s;
}

/** Forgets opens not funded by their expiry (their slots are freed). */
export function hubExpireOpens(c: HubOpenContext, now: number): Step {
  const s = step();
  for (const o of [...c.opens.values()])
    if (o.status !== 'funded' && now >= o.expiresAt) {
      const a = abort(c, o, 'not funded in time');
      s.events.push(...a.events);
    }
  return s;
}
