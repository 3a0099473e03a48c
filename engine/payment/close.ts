/**
 * The cooperative close steps every role engine shares (SPEC 6.18): the
 * closer sends `CLOSE_PROPOSE` with its close signature of its latest
 * enforceable state, the peer checks it, signs the same transaction and
 * answers `CLOSE_ACCEPT`; each side then holds the fully signed close, which
 * its watchtower broadcasts. Pure, like every engine step; the base engine
 * (engine.ts) runs them all or nothing.
 * @module
 */
import { equalBytes } from '../../base/bytes.js';
import { ErrorCode } from '../../base/errors.js';
import { PaymentType, type PaymentMessageOf } from '../../protocol/payment.js';
import type { Channel } from '../channel/channel.js';
import { reject } from './refusal.js';
import { step, type Incoming, type Step } from './types.js';

/** A channel and its peer's identity key (the shape of the engines' `ChannelWithPeer`). */
export interface ClosingChannel {
  channel: Channel;
  peerKey: Uint8Array;
}

/** The close messages. */
export type CloseMessage = PaymentMessageOf<typeof PaymentType.CLOSE_PROPOSE> | PaymentMessageOf<typeof PaymentType.CLOSE_ACCEPT>;

/** True for a close message (handled by the shared close steps, not the role's own dispatch). */
export function isCloseMessage(m: { type: number }): m is CloseMessage {
  return m.type === PaymentType.CLOSE_PROPOSE || m.type === PaymentType.CLOSE_ACCEPT;
}

/** The closer's step: sign the close of our latest state and send it to the peer. */
export function proposeClose(cp: ClosingChannel, peerAddress: string, channelKey: Uint8Array): Step {
  const ch = cp.channel;
  const n = ch.enforceable.state.n;
  const closeSig = ch.signCoopClose(n, channelKey);
  const s = step();
  s.send.push({ to: peerAddress, message: { type: PaymentType.CLOSE_PROPOSE, channelId: ch.params.channelId, n, closeSig } });
  return s;
}

/**
 * The peer's close message on `cp` (already found by its channel id):
 * refused unless it comes from the channel's peer; a proposal is checked
 * (our latest state, nothing pending, no PTLC, no update on chain, a valid
 * signature), co-signed and answered; an acceptance is checked and kept
 * only when it answers our own proposal of the same state.
 */
export function onCloseMessage(
  cp: ClosingChannel,
  peerAddress: string | undefined,
  inc: Incoming & { message: CloseMessage },
  channelKey: Uint8Array,
): Step {
  const m = inc.message;
  if (!equalBytes(cp.peerKey, inc.from)) reject('a close must come from the channel peer', ErrorCode.PAYMENT_REJECTED);
  const ch = cp.channel;
  // An acceptance answers our own proposal. Kept unasked, it would mark the
  // channel as closing and stop its payments, with no close we could broadcast.
  if (m.type === PaymentType.CLOSE_ACCEPT && !(ch.coopClose?.n === m.n && ch.coopClose.sigs[ch.me]))
    reject(`no close of state ${m.n} was proposed on this channel`, ErrorCode.PAYMENT_REJECTED);
  ch.receiveCoopCloseSig(m.n, m.closeSig);
  const s = step();
  if (m.type === PaymentType.CLOSE_PROPOSE) {
    const closeSig = ch.signCoopClose(m.n, channelKey);
    if (peerAddress === undefined) reject('no mailbox address for the channel peer', ErrorCode.PAYMENT_REJECTED);
    s.send.push({ to: peerAddress, message: { type: PaymentType.CLOSE_ACCEPT, channelId: ch.params.channelId, n: m.n, closeSig } });
  }
  return s;
}
