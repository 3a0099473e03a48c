/**
 * Mode 2: the payee pre-signs (SPEC 6.14).
 *
 *   1. B and S co-sign S–B settlement n in B's favour (M2_PREPARE / M2_PREPARED);
 *      S commits the nonce R_S of its update n signature.
 *   2. B signs update n, seals it for the payer A with everything A needs
 *      (M2_REQUEST), and goes offline.
 *   3. A buys S's update signature with a PTLC to S over the A–S channel,
 *      locked to T_S = R_S + e·P_S (A computes it itself). Claiming it reveals
 *      s_S, which completes B's update n; A keeps the completed update for B,
 *      acting as its watchtower, and sends S's signature to B (M2_COMPLETE).
 *   4. B returns, completes state n and acknowledges to S (M2_ACK).
 *
 * Each role's part is a set of functions over that role's engine state; the
 * engines (payee.ts, hub.ts, payer.ts) dispatch to them.
 * @module
 */
import { decodeMailboxAddress } from '../../protocol/address.js';
import { bytesToHex, equalBytes, hexToBytes } from '../../base/bytes.js';
import { ErrorCode } from '../../base/errors.js';
import { decodeChannelState, encodeChannelState, PaymentType, type PaymentMessage, type PaymentMessageOf } from '../../protocol/payment.js';
import { signaturePoint, verify } from '../../crypto/bip340.js';
import { randomTweak, tweakPoint, tweakSecret, untweakSecret } from '../../crypto/tweak.js';
import { randomBytes } from '@noble/hashes/utils.js';
import type { Channel } from '../channel/channel.js';
import { sameState, transfer } from '../channel/state.js';
import { UPDATE_HASH_TYPE } from '../bitcoin/eltoo.js';
import { acceptPtlc, ackSettle, checkFulfil, commitPtlc, extendPtlc, fulfilPtlc, settlePtlc, type Signer } from './ptlc-exchange.js';
import { COMPLETION_TTL_SECONDS, ignored, reject, step, type Step, type StepContext } from './types.js';
import type { HubPeer } from './hub.js';

/** Blocks beyond the A–S CSV delay that the payer gives its PTLC to the hub. */
export const MODE2_TIMEOUT_EXTRA = 24;

// ---------------------------------------------------------------------------
// Payee (B)

/** A payment request the payee pre-signed. Byte fields are hex. */
export interface PayeeRequest {
  requestId: string;
  payerAddress: string;
  payerKey: string;
  amount: number;
  expiry: number;
  memo: string;
  n: number;
  status: 'preparing' | 'requested' | 'paid';
}

/** B: proposes S–B state n moving `amount` from S to B (M2_PREPARE). */
export async function payeeRequest(
  ch: Channel, me: Signer, hubAddress: string, requests: Map<string, PayeeRequest>,
  req: { requestId: Uint8Array; payer: { publicKey: Uint8Array; address: string }; amount: number; expiry: number; memo?: string },
  ctx: StepContext,
): Promise<Step> {
  if (ch.pending) reject('a payment is already in flight on this channel');
  ch.requireOpen();
  if (!(req.expiry > ctx.now)) reject('request expiry must be in the future');
  const next = transfer(ch.enforceable.state, ch.peer, req.amount, ch.topN + 1);
  ch.propose(next);
  const settleSig = ch.signSettlement(me.channelKey);
  const updateNonce = await ch.commitUpdateNonce(me.nonces, me.channelKey);
  const id = bytesToHex(req.requestId);
  requests.set(id, {
    requestId: id, payerAddress: req.payer.address, payerKey: bytesToHex(req.payer.publicKey), amount: req.amount, expiry: req.expiry,
    memo: req.memo ?? '', n: next.n, status: 'preparing',
  });
  const s = step();
  s.send.push({
    to: hubAddress,
    message: {
      type: PaymentType.M2_PREPARE, channelId: ch.params.channelId, state: encodeChannelState(next), requestId: req.requestId,
      amount: req.amount, expiry: req.expiry, updateNonce, settleSig,
    },
  });
  return s;
}

/** B: the hub co-signed settlement n; B signs update n and sends the request, sealed, to the payer. */
export async function payeeOnPrepared(
  ch: Channel, me: Signer, cfg: { hubKey: Uint8Array; hubAddress: string; address: string }, requests: Map<string, PayeeRequest>,
  m: PaymentMessageOf<typeof PaymentType.M2_PREPARED>, ctx: StepContext,
): Promise<Step> {
  const r = requests.get(bytesToHex(m.requestId));
  if (!r || r.status !== 'preparing' || !ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no request being prepared');
  if (!equalBytes(m.channelId, ch.params.channelId)) return ignored(m.type, 'prepared state for another channel');
  ch.receiveSettlementSig(m.settleSig);
  ch.receiveUpdateNonce(m.updateNonce);
  // Both settlement signatures are held: B may sign update n.
  const payeeUpdateSig = await ch.signUpdate(me.nonces, me.channelKey);
  r.status = 'requested';
  const s = step();
  s.send.push({
    to: r.payerAddress,
    ttlSeconds: Math.max(60, Math.ceil((r.expiry - ctx.now) / 1000)),
    message: {
      type: PaymentType.M2_REQUEST, requestId: m.requestId, hub: cfg.hubKey, hubAddress: cfg.hubAddress, payeeAddress: cfg.address,
      amount: r.amount, expiry: r.expiry, channelId: ch.params.channelId, n: m.n, updateSighash: ch.updateSighash(),
      hubChannelKey: ch.stateKey(0), hubNonce: m.updateNonce, payeeChannelKey: ch.stateKey(1), payeeUpdateSig, memo: r.memo,
    },
  });
  s.events.push({ kind: 'request_sent', offerId: r.requestId, amount: r.amount });
  return s;
}

/** B: S's update signature arrived (from the payer or the hub): state n is B's; acknowledge to S. */
export function payeeOnComplete(
  ch: Channel, hubAddress: string, requests: Map<string, PayeeRequest>, from: Uint8Array, hubKey: Uint8Array,
  m: PaymentMessageOf<typeof PaymentType.M2_COMPLETE>,
): Step {
  const r = requests.get(bytesToHex(m.requestId));
  if (!r || r.status !== 'requested' || !ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no open request for that completion');
  if (bytesToHex(from) !== r.payerKey && !equalBytes(from, hubKey)) return ignored(m.type, 'completion from neither the payer nor the hub');
  if (!equalBytes(m.channelId, ch.params.channelId)) return ignored(m.type, 'completion for another channel');
  const ours = ch.pending.updateSigs[ch.me]!;
  ch.receiveUpdateSig(m.hubUpdateSig, ch.peer); // verified against the sighash; promotes state n
  r.status = 'paid';
  const s = step();
  s.send.push({ to: hubAddress, message: { type: PaymentType.M2_ACK, channelId: ch.params.channelId, n: m.n, updateSig: ours } });
  s.events.push({ kind: 'paid', offerId: r.requestId, amount: r.amount });
  return s;
}

// ---------------------------------------------------------------------------
// Hub (S)

/** A pre-signed request as the hub tracks it. Byte fields are hex. */
export interface HubRequest {
  requestId: string;
  payeeChannel: string;
  n: number;
  amount: number;
  expiry: number;
  /** T_S: the point of the hub's own update n signature. */
  point: string;
  /** Progress of the payer's PTLC over the A–S channel. */
  status: 'prepared' | 'accepted' | 'sold' | 'settled';
  /** True once the payee acknowledged (its update n signature): S–B state n is complete on both sides. */
  acked?: boolean;
  /** The payer's tweak of its PTLC to us: we reveal s_S + tweak. */
  tweak?: string;
  payerChannel?: string;
}

/** S: co-signs settlement n in the payee's favour and commits its update nonce (M2_PREPARED). */
export async function hubOnPrepare(
  ch: Channel, me: Signer, requests: Map<string, HubRequest>, m: PaymentMessageOf<typeof PaymentType.M2_PREPARE>, ctx: StepContext,
): Promise<PaymentMessageOf<typeof PaymentType.M2_PREPARED> | undefined> {
  const id = bytesToHex(m.requestId);
  if (requests.has(id)) return undefined;
  if (ch.me !== 0) reject('the hub is party 0 of a payee channel');
  ch.requireOpen();
  if (!(m.expiry > ctx.now)) reject('request already expired');
  if (ch.pending) reject('the payee channel is busy');
  const next = decodeChannelState(m.state);
  if (!sameState(next, transfer(ch.enforceable.state, 0, m.amount, next.n)))
    reject('proposed state does not move exactly the amount to the payee', ErrorCode.CHANNEL_INVARIANT);
  ch.acceptProposal(next, m.settleSig, m.updateNonce);
  const settleSig = ch.signSettlement(me.channelKey);
  const updateNonce = await ch.commitUpdateNonce(me.nonces, me.channelKey);
  requests.set(id, {
    requestId: id, payeeChannel: bytesToHex(m.channelId), n: next.n, amount: m.amount, expiry: m.expiry,
    point: bytesToHex(ch.updatePoint(0)), status: 'prepared',
  });
  return { type: PaymentType.M2_PREPARED, channelId: m.channelId, n: next.n, requestId: m.requestId, updateNonce, settleSig };
}

/**
 * S: the payer offers a PTLC for T_S. S accepts only for a prepared, unexpired
 * request, for the amount plus its fee, and with a timeout beyond the A–S CSV
 * delay plus the safety margin: after S reveals s_S it must be able to claim on chain.
 */
export async function hubOnPtlcAdd(
  ch: Channel, me: Signer, requests: Map<string, HubRequest>, m: PaymentMessageOf<typeof PaymentType.PTLC_ADD>,
  fee: (amount: number) => number, safetyMargin: number, ctx: StepContext,
): Promise<PaymentMessageOf<typeof PaymentType.PTLC_ACCEPT>> {
  const r = requests.get(bytesToHex(m.offerId));
  if (!r || r.status !== 'prepared') reject('no prepared request for that PTLC');
  if (!(ctx.now < r.expiry)) reject('request expired');
  // On a closing A–S channel we could not claim the PTLC in time after revealing s_S.
  ch.requireOpen();
  const accept = await acceptPtlc(ch, me, m, {
    amount: r.amount + fee(r.amount), point: hexToBytes(r.point, 33), minTimeout: ctx.height + ch.params.csvDelay + safetyMargin + 1,
  });
  r.status = 'accepted';
  r.payerChannel = bytesToHex(m.channelId);
  r.tweak = bytesToHex(m.tweak);
  return accept;
}

/** S: the payer's PTLC is enforceable by S; S signs its update n for the payee and reveals s_S to claim. */
export async function hubOnPtlcCommit(
  asCh: Channel, sbCh: Channel, me: Signer, r: HubRequest, m: PaymentMessageOf<typeof PaymentType.PTLC_COMMIT>,
): Promise<{ fulfil: PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>; complete: PaymentMessageOf<typeof PaymentType.M2_COMPLETE> }> {
  asCh.receiveUpdateSig(m.updateSig);
  const hubUpdateSig = await sbCh.signUpdate(me.nonces, me.channelKey);
  const fulfil = await fulfilPtlc(asCh, me, hexToBytes(r.requestId, 32), tweakSecret(hubUpdateSig.subarray(32, 64), hexToBytes(r.tweak!, 32)));
  r.status = 'sold';
  return {
    fulfil,
    complete: { type: PaymentType.M2_COMPLETE, requestId: hexToBytes(r.requestId, 32), channelId: hexToBytes(r.payeeChannel, 32), n: r.n, hubUpdateSig },
  };
}

/** S: the payer settled the A–S state without the PTLC; acknowledge it. */
export async function hubOnPtlcSettle(
  ch: Channel, me: Signer, r: HubRequest, m: PaymentMessageOf<typeof PaymentType.PTLC_SETTLE>,
): Promise<PaymentMessageOf<typeof PaymentType.PTLC_SETTLE_ACK>> {
  const ack = await ackSettle(ch, me, m);
  r.status = 'settled';
  return ack;
}

/** What the hub's mode-2 step needs from the hub engine. */
export interface HubMode2Context {
  /** The channel `id` whose peer is `from` (PAYMENT_REJECTED otherwise). */
  peer(id: Uint8Array, from: Uint8Array): HubPeer;
  peers: Map<string, HubPeer>;
  requests: Map<string, HubRequest>;
  signer: Signer;
  feeFor(amount: number): number;
  safetyMargin: number;
}

/** S: one mode-2 message (M2_PREPARE, M2_ACK, or a PTLC step of a request). */
export async function hubMode2(h: HubMode2Context, from: Uint8Array, m: PaymentMessage, ctx: StepContext): Promise<Step> {
  if (!('channelId' in m)) return ignored(m.type, 'not a channel message');
  const peer = h.peer(m.channelId, from);
  const ch = peer.channel;
  const s = step();
  switch (m.type) {
    case PaymentType.M2_PREPARE: {
      const prepared = await hubOnPrepare(ch, h.signer, h.requests, m, ctx);
      if (!prepared) return ignored(m.type, 'duplicate request');
      s.send.push({ to: peer.peerAddress, message: prepared });
      return s;
    }
    case PaymentType.PTLC_ADD: {
      if (ch.me !== 1) reject('PTLCs to the hub come over a payer channel');
      // A duplicate of a PTLC we took (mail can be delivered twice) changes nothing: answering
      // it with PTLC_FAIL would make the payer drop the state we co-signed.
      const taken = h.requests.get(bytesToHex(m.offerId));
      if (taken && taken.status !== 'prepared' && taken.payerChannel === bytesToHex(m.channelId)) return ignored(m.type, 'PTLC already taken');
      s.send.push({ to: peer.peerAddress, message: await hubOnPtlcAdd(ch, h.signer, h.requests, m, h.feeFor, h.safetyMargin, ctx) });
      return s;
    }
    case PaymentType.PTLC_COMMIT: {
      const r = [...h.requests.values()].find((x) => x.status === 'accepted' && x.payerChannel === bytesToHex(m.channelId));
      if (!r || !ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no accepted request PTLC for that state');
      const payee = h.peers.get(r.payeeChannel)!;
      const { fulfil, complete } = await hubOnPtlcCommit(ch, payee.channel, h.signer, r, m);
      s.send.push({ to: peer.peerAddress, message: fulfil });
      // The payer will hand the payee this signature too (it is its watchtower); send it directly as well.
      s.send.push({ to: payee.peerAddress, ttlSeconds: COMPLETION_TTL_SECONDS, message: complete });
      s.events.push({ kind: 'signature_sold', offerId: r.requestId, n: r.n });
      return s;
    }
    case PaymentType.PTLC_SETTLE: {
      const r = [...h.requests.values()].find((x) => x.status === 'sold' && x.payerChannel === bytesToHex(m.channelId));
      if (!r || !ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no sold request for that settlement');
      s.send.push({ to: peer.peerAddress, message: await hubOnPtlcSettle(ch, h.signer, r, m) });
      return s;
    }
    case PaymentType.M2_ACK: {
      // Independent of the A–S PTLC's progress: B may acknowledge before A settles with S.
      const r = [...h.requests.values()].find((x) => x.payeeChannel === bytesToHex(m.channelId) && x.n === m.n && !x.acked);
      if (!r || !ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no request awaiting that acknowledgement');
      ch.receiveUpdateSig(m.updateSig); // the payee's update n: both sides hold state n
      r.acked = true;
      s.events.push({ kind: 'paid', offerId: r.requestId, amount: r.amount });
      return s;
    }
    default:
      return ignored(m.type, 'not a mode 2 message');
  }
}

// ---------------------------------------------------------------------------
// Payer (A)

/** A payee's pre-signed request as the payer keeps it (and, once bought, as its watchtower record). */
export interface PayerRequest {
  requestId: string;
  payeeKey: string;
  payeeAddress: string;
  amount: number;
  fee?: number;
  expiry: number;
  memo: string;
  channelId: string;
  n: number;
  updateSighash: string;
  hubChannelKey: string;
  hubNonce: string;
  payeeChannelKey: string;
  payeeUpdateSig: string;
  point: string;
  status: 'received' | 'paying' | 'committed' | 'bought' | 'completed';
  /** S's update n signature for the payee's channel, once bought: with `payeeUpdateSig` the complete update. */
  hubUpdateSig?: string;
  /** Our tweak r of the PTLC to the hub (locked to T_S + r·G); the hub reveals s_S + r. */
  tweak?: string;
}

/** A: checks a request: through our own hub, unexpired, with B's update signature valid; computes T_S itself. */
export function payerOnRequest(
  hubKey: Uint8Array, requests: Map<string, PayerRequest>, from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.M2_REQUEST>, ctx: StepContext,
): Step {
  const id = bytesToHex(m.requestId);
  if (requests.has(id)) return ignored(m.type, 'duplicate request');
  if (!equalBytes(m.hub, hubKey)) return ignored(m.type, 'request through a hub we have no channel with');
  // The completion goes to payeeAddress: it must be the sender's own mailbox.
  let payeeMailbox: Uint8Array;
  try {
    payeeMailbox = decodeMailboxAddress(m.payeeAddress).publicKey;
  } catch {
    return ignored(m.type, 'request names an invalid payee address');
  }
  if (!equalBytes(payeeMailbox, from)) return ignored(m.type, "request's payee address is not the sender's mailbox");
  if (!(m.expiry > ctx.now)) return ignored(m.type, 'request expired');
  if (m.payeeUpdateSig[64] !== UPDATE_HASH_TYPE || !verify(m.payeeUpdateSig.subarray(0, 64), m.updateSighash, m.payeeChannelKey))
    return ignored(m.type, "payee's update signature does not verify");
  const point = signaturePoint(m.hubNonce, m.hubChannelKey, m.updateSighash);
  requests.set(id, {
    requestId: id, payeeKey: bytesToHex(from), payeeAddress: m.payeeAddress, amount: m.amount, expiry: m.expiry, memo: m.memo,
    channelId: bytesToHex(m.channelId), n: m.n, updateSighash: bytesToHex(m.updateSighash), hubChannelKey: bytesToHex(m.hubChannelKey),
    hubNonce: bytesToHex(m.hubNonce), payeeChannelKey: bytesToHex(m.payeeChannelKey), payeeUpdateSig: bytesToHex(m.payeeUpdateSig),
    point: bytesToHex(point), status: 'received',
  });
  const s = step();
  s.events.push({ kind: 'request_received', offerId: id, amount: m.amount, payee: bytesToHex(from) });
  return s;
}

/** A: pays a received request: a PTLC of amount + fee to the hub, locked to T_S. */
export async function payerPayRequest(
  ch: Channel, me: Signer, r: PayerRequest, fee: number, ctx: StepContext,
): Promise<PaymentMessageOf<typeof PaymentType.PTLC_ADD>> {
  if (r.status !== 'received') reject('request is not payable');
  if (!(r.expiry > ctx.now)) reject('request expired');
  const tweak = randomTweak(randomBytes(32));
  const add = await extendPtlc(ch, me, {
    id: hexToBytes(r.requestId, 32), amount: r.amount + fee, point: hexToBytes(r.point, 33),
    timeout: ctx.height + ch.params.csvDelay + MODE2_TIMEOUT_EXTRA,
  }, tweak);
  r.status = 'paying';
  r.fee = fee;
  r.tweak = bytesToHex(tweak);
  return add;
}

/** A: the hub accepted the PTLC; commit it. */
export async function payerOnAccept(ch: Channel, me: Signer, r: PayerRequest, m: PaymentMessageOf<typeof PaymentType.PTLC_ACCEPT>) {
  const commit = await commitPtlc(ch, me, m);
  r.status = 'committed';
  return commit;
}

/**
 * A: the hub revealed s_S. A checks it against T_S and that it completes the
 * hub's update n signature, settles the A–S state, and keeps S's signature
 * for the payee (its watchtower record: with the payee's own signature it is
 * the complete update n), to be sent to the payee.
 */
export async function payerOnFulfil(
  ch: Channel, me: Signer, r: PayerRequest, m: PaymentMessageOf<typeof PaymentType.PTLC_FULFILL>,
): Promise<{ settle: PaymentMessageOf<typeof PaymentType.PTLC_SETTLE>; complete: PaymentMessageOf<typeof PaymentType.M2_COMPLETE> }> {
  const tweak = hexToBytes(r.tweak ?? '00'.repeat(32), 32);
  checkFulfil(ch, m, tweakPoint(hexToBytes(r.point, 33), tweak));
  const hubUpdateSig = new Uint8Array(65);
  hubUpdateSig.set(hexToBytes(r.hubNonce, 32), 0);
  hubUpdateSig.set(untweakSecret(m.secret, tweak), 32);
  hubUpdateSig[64] = UPDATE_HASH_TYPE;
  if (!verify(hubUpdateSig.subarray(0, 64), hexToBytes(r.updateSighash, 32), hexToBytes(r.hubChannelKey, 32)))
    reject("the revealed secret does not complete the hub's update signature", ErrorCode.INVALID_SIGNATURE);
  const settle = await settlePtlc(ch, me, m);
  r.status = 'bought';
  r.hubUpdateSig = bytesToHex(hubUpdateSig);
  return {
    settle,
    complete: { type: PaymentType.M2_COMPLETE, requestId: m.offerId, channelId: hexToBytes(r.channelId, 32), n: r.n, hubUpdateSig },
  };
}
