/**
 * How an engine refuses: the error it throws for a message that breaks a
 * rule, which errors are our own fault (never answered), and the answer a
 * peer gets for a refused message (REJECT, or PTLC_FAIL for a PTLC_ADD).
 * @module
 */
import { bytesToHex, equalBytes } from '../../base/bytes.js';
import { ErrorCode, fail, isLnMailboxError, type ErrorCode as Code, type LnMailboxError } from '../../base/errors.js';
import { PaymentType, type PaymentMessage, type PaymentMessageOf } from '../../protocol/payment.js';
import { step, type PaymentEvent, type Step } from './types.js';

/** Throws PAYMENT_REJECTED (or `code`) with `message`. */
export function reject(message: string, code: Code = ErrorCode.PAYMENT_REJECTED): never {
  return fail(code, message);
}

/** Asserts that `from` is the expected counterpart key (PAYMENT_REJECTED otherwise). */
export function requireSender(from: Uint8Array, expected: Uint8Array, who: string): void {
  if (!equalBytes(from, expected)) reject(`message must come from the ${who}`);
}

/** A REJECT message referring to `ref` (an offer or channel id). */
export function rejectMessage(refType: number, ref: Uint8Array, code: string, message: string): PaymentMessage {
  return { type: PaymentType.REJECT, refType, ref, code, message: message.slice(0, 500) };
}

/**
 * The `rejected` event of a proposal of ours (`what`: 'removal',
 * 'fulfillment') that the hub refused with `m`: the retries of a crossed
 * proposal report each refusal this way.
 */
export function hubRefused(offerId: string, what: string, m: PaymentMessageOf<typeof PaymentType.REJECT>): PaymentEvent {
  return { kind: 'rejected', offerId, code: m.code, message: `the hub refused the ${what}: ${m.message}`.slice(0, 500) };
}

/**
 * True for an error that is our own local fault, not the peer's: a store
 * that is down or full (STORE_UNAVAILABLE) or a bug (not an LnMailboxError).
 * A step that fails with one is not answered (a REJECT would tell the peer
 * its message is wrong, and fail a good payment); the message stays
 * unacknowledged and is handled again later.
 */
export function isLocalFault(e: unknown): boolean {
  return !isLnMailboxError(e) || e.code === ErrorCode.STORE_UNAVAILABLE;
}

/** The id a refusal of `m` refers to: its offer (or request, or open) id, else its channel id. */
function refusalRef(m: PaymentMessage): Uint8Array {
  if ('offerId' in m) return m.offerId;
  if ('requestId' in m) return m.requestId;
  if ('openId' in m) return m.openId;
  return 'channelId' in m ? m.channelId : new Uint8Array(32);
}

/**
 * The step that answers a refused message `m` (the engine is already back
 * as it was): a PTLC_FAIL for a PTLC_ADD, so the offerer drops the state it
 * proposed (SPEC 6.7), a REJECT for anything else; sent to `to` when the
 * sender is a known peer (undefined: nobody is answered, so a stranger
 * cannot use us to mail third parties), and a `rejected` event either way.
 */
export function answerRefusal(m: PaymentMessage, e: LnMailboxError, to: string | undefined): Step {
  const ref = refusalRef(m);
  const s = step();
  const answer: PaymentMessage =
    m.type === PaymentType.PTLC_ADD
      ? { type: PaymentType.PTLC_FAIL, channelId: m.channelId, offerId: m.offerId, reason: `${e.code}: ${e.message}`.slice(0, 300) }
      : rejectMessage(m.type, ref, e.code, e.message);
  if (to !== undefined) s.send.push({ to, message: answer });
  s.events.push({ kind: 'rejected', offerId: bytesToHex(ref), code: e.code, message: e.message });
  return s;
}
