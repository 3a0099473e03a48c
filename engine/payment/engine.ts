/**
 * The one all-or-nothing mechanism of the payment role engines: every
 * public entry point of Payer, Hub, Payee and Router runs through
 * {@link PaymentEngine.atomic}, so a step that throws leaves the engine
 * exactly as it was (its channels, payments and requests). The wallet
 * runtime relies on this and persists only after a successful step.
 * @module
 */
import { bytesToHex, equalBytes } from '../../base/bytes.js';
import { ErrorCode, type LnMailboxError } from '../../base/errors.js';
import { decodeChannelState, type PaymentMessage } from '../../protocol/payment.js';
import { ChannelJournal, type Channel, type ChannelRecord, type StoredChannel } from '../channel/channel.js';
import { isCloseMessage, onCloseMessage, proposeClose, type CloseMessage } from './close.js';
import { isLocalFault, reject } from './refusal.js';
import { ignored, step, type Incoming, type Step, type StepContext } from './types.js';

/** A channel and the identity key of its peer (who may propose states on it). */
export interface ChannelWithPeer {
  channel: Channel;
  /** The peer's identity (mailbox) key, x-only: the only sender whose proposals on this channel count. */
  peerKey: Uint8Array;
  /** The peer's mailbox address (where a close proposal goes), when the role knows it. */
  peerAddress?: string;
}

/**
 * How {@link PaymentEngine.toJSON} writes each channel: inline (its
 * `toJSON`, the default) or as a reference to a record stored apart
 * ({@link byReference}).
 */
export type ChannelOut = (c: Channel) => StoredChannel;

/** Writes every channel inline (the default of {@link PaymentEngine.toJSON}). */
export const inline: ChannelOut = (c) => c.toJSON();

/** Writes every channel as a reference: a wallet runtime stores each channel under its own key, and only when it changed. */
export const byReference: ChannelOut = (c) => c.ref();

/** Replaces a map's entries with deep copies of `obj`'s (an engine restoring a snapshot). */
export function refill<V>(map: Map<string, V>, obj: Record<string, V> | undefined): void {
  map.clear();
  for (const [k, v] of Object.entries(obj ?? {})) map.set(k, structuredClone(v));
}

/**
 * After refusing a message that proposed a state (UPDATE_PROPOSE,
 * CANCEL_PROPOSE, PTLC_ADD, PTLC_FULFILL, REQUEST_PREPARE) from the genuine
 * peer of its channel, raises that channel's high-water mark to the proposed
 * number when the message carries the peer's valid settlement signature for
 * it (see {@link Channel.noteRefusedProposal}): the peer released a
 * settlement for that number and will not use it again, so neither may we.
 * `lookup` returns the channel with that id and its peer's identity key.
 */
export function noteRefusedProposal(
  m: PaymentMessage,
  from: Uint8Array,
  lookup: (channelId: Uint8Array) => ChannelWithPeer | undefined,
): void {
  if (!('state' in m) || !('channelId' in m) || !('settleSig' in m)) return;
  const c = lookup(m.channelId);
  if (!c || !equalBytes(c.peerKey, from)) return;
  let state: ReturnType<typeof decodeChannelState>;
  try {
    state = decodeChannelState(m.state);
  } catch {
    return;
  }
  c.channel.noteRefusedProposal(state, m.settleSig);
}

/**
 * Base class of the role engines. Subclasses implement {@link dispatch}
 * (one message), {@link answer} (how a refused message is answered), and
 * the snapshot pair {@link toJSON}/{@link restore}; their own public calls
 * (pay, cancel, request…) wrap their body in {@link atomic}.
 */
export abstract class PaymentEngine<J> {
  /**
   * When true, every step also keeps a copy of the whole state and checks
   * the journal against it: after a success, that every channel whose
   * persisted form changed was journaled and took a new version; after a
   * failure, that the rollback gave back exactly the state before. The
   * test suites turn it on; it costs what the journal saves.
   */
  static checkSteps = false;

  readonly #journal = new ChannelJournal();
  /** Undoes the last successful call until its result is stored ({@link undoLast}). */
  #undo: (() => void) | undefined;

  /**
   * Persisted state (the runtime writes it after every successful step),
   * each channel written as `out` says (inline by default).
   */
  abstract toJSON(out?: ChannelOut): J;
  /**
   * Puts the engine back in the state of `j` (a snapshot from
   * {@link toJSON}). A channel written inline is restored in place; a
   * reference keeps the channel as it is (the journal put it back), or is
   * found again with `resolve` (its id, hex) when the step removed it.
   */
  abstract restore(j: J, resolve?: (id: string) => Channel | undefined, members?: unknown): void;

  /**
   * What a step's rollback needs that {@link toJSON} with channels by
   * reference leaves out: a hub's map of peers, which that form does not
   * list (see {@link ChannelRecordsRef}). A copy of the map, not of its
   * entries. By default nothing.
   */
  protected members(): unknown {
    return undefined;
  }

  /**
   * The record a store that keeps each channel apart writes for `c`: the
   * channel, and what the role keeps with it (a hub adds its peer). Written
   * whenever the channel's version changed.
   */
  channelRecord(c: Channel): ChannelRecord {
    return { channel: c.toJSON() };
  }
  /** Every channel of this role. */
  abstract channels(): Channel[];
  /** The channel with id `channelId` and its peer's identity key, if it is one of ours. */
  protected abstract channelPeer(channelId: Uint8Array): ChannelWithPeer | undefined;
  /** Handles one message; may throw, {@link handle} makes it all or nothing. */
  protected abstract dispatch(inc: Incoming, ctx: StepContext): Promise<Step>;
  /**
   * How a message refused with `e` (a rule it breaks, not a local fault) is
   * answered, the engine already rolled back. Throwing rethrows to the
   * runtime, which acknowledges the message without an answer.
   */
  protected abstract answer(inc: Incoming, e: LnMailboxError): Step;

  /**
   * Runs `fn` all or nothing: if it throws, the engine is put back exactly
   * as it was before and the error is rethrown. Nonces committed meanwhile
   * stay in the nonce store; they are bound to one message each, so a
   * replayed step is safe. When `inc` is given and the error is the peer's,
   * the refused proposal still raises its channel's high-water mark.
   *
   * The copy kept for the rollback does not grow with the number of
   * channels: it holds the role's own records (payments, requests, opens)
   * with each channel as a reference, and the channels themselves go into a
   * journal before their first change ({@link ChannelJournal}), so a step
   * pays only for the channels it touches. A step started while another is
   * running (one engine call inside another) keeps a copy of the whole
   * state instead, as the outer step's journal cannot serve it.
   */
  protected async atomic<T>(fn: () => Promise<T>, inc?: Incoming): Promise<T> {
    if (this.#journal.open) return this.#atomicWhole(fn, inc);
    this.#undo = undefined; // a new call: the previous one can no longer be undone
    const channels = this.channels();
    for (const c of channels) c.track(this.#journal);
    const before = structuredClone(this.toJSON(byReference));
    const members = this.members();
    const check = PaymentEngine.checkSteps ? this.#checkpoint(channels) : undefined;
    this.#journal.begin();
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      this.#journal.rollback();
      const byId = new Map(channels.map((c) => [bytesToHex(c.params.channelId), c]));
      this.restore(before, (id) => byId.get(id), members);
      check?.afterRollback();
      if (inc && !isLocalFault(e)) noteRefusedProposal(inc.message, inc.from, (id) => this.channelPeer(id));
      // Already back as it was: the refusal's answer, if its write fails, has nothing to undo
      // (a raised high-water mark may stay in memory: it only ever refuses more).
      this.#undo = () => {};
      throw e;
    }
    const touched = check ? this.#journal.touched() : [];
    const saved = this.#journal.commit(); // before the check: a failed check must not leave the journal open
    check?.afterSuccess(touched);
    this.#undo = () => {
      for (const [c, j] of saved) c.restore(j);
      const byId = new Map(channels.map((c) => [bytesToHex(c.params.channelId), c]));
      this.restore(before, (id) => byId.get(id), members);
      check?.afterRollback();
    };
    return result;
  }

  /**
   * Puts the engine back exactly as it was before its last call, as if that
   * call had thrown: for a runtime whose write of the call's result failed,
   * so that the engine never runs ahead of what is stored (a message it
   * handled is then handled again when it is delivered again; a local call
   * can be retried). Possible until the next call begins or
   * {@link keepLast} is called.
   * @returns false when there is nothing to undo (the caller must then stop
   *   using the engine: it may hold changes that are not stored)
   */
  undoLast(): boolean {
    const undo = this.#undo;
    this.#undo = undefined;
    if (undo === undefined) return false;
    undo();
    return true;
  }

  /** Forgets how to undo the last call ({@link undoLast}): its result is stored. */
  keepLast(): void {
    this.#undo = undefined;
  }

  /**
   * A fingerprint of the state the runtime stores: the same before and after
   * a call that changed nothing (every change of a channel gives it a new
   * {@link Channel.version}). It does not serialize the channels, so a
   * runtime can ask after every poll whether there is anything to store.
   */
  fingerprint(): string {
    return `${JSON.stringify(this.toJSON(byReference))}|${this.channels()
      .map((c) => c.version)
      .join(',')}`;
  }

  /** {@link atomic} with a copy of the whole state (a step inside a step). */
  async #atomicWhole<T>(fn: () => Promise<T>, inc?: Incoming): Promise<T> {
    const before = structuredClone(this.toJSON());
    try {
      return await fn();
    } catch (e) {
      this.restore(before);
      if (inc && !isLocalFault(e)) noteRefusedProposal(inc.message, inc.from, (id) => this.channelPeer(id));
      throw e;
    }
  }

  /** The whole state now, to check a step's journal against ({@link checkSteps}). */
  #checkpoint(channels: Channel[]): { afterSuccess(touched: Channel[]): void; afterRollback(): void } {
    const whole = JSON.stringify(this.toJSON());
    const each = channels.map((c) => ({ c, v: c.version, j: JSON.stringify(c.toJSON()) }));
    return {
      afterSuccess: (touched) => {
        for (const { c, v, j } of each) {
          if (JSON.stringify(c.toJSON()) === j) continue;
          if (c.version === v || !touched.includes(c))
            throw new Error(`state check: channel ${bytesToHex(c.params.channelId)} changed outside its journal`);
        }
      },
      afterRollback: () => {
        if (JSON.stringify(this.toJSON()) !== whole)
          throw new Error('state check: the rollback did not give back the state before the step');
      },
    };
  }

  /**
   * Handles one message, all or nothing. A message that breaks a rule
   * changes nothing (but the high-water mark, see {@link noteRefusedProposal})
   * and is answered as {@link answer} says. Our own fault (a store down, a
   * bug; see {@link isLocalFault}) is rethrown unanswered: the message stays
   * unacknowledged and is handled again later.
   */
  async handle(inc: Incoming, ctx: StepContext): Promise<Step> {
    try {
      return await this.atomic(() => this.dispatch(inc, ctx), inc);
    } catch (e) {
      if (isLocalFault(e)) throw e;
      return this.answer(inc, e as LnMailboxError);
    }
  }

  /**
   * Takes a PTLC secret the wallet's watchtower read from a claim on chain
   * (SPEC 6.18) on channel `channelId` (hex) for the PTLC `ptlcId` (hex).
   * Roles that can use it override {@link onChainSecret} (the hub completes
   * the payer's update of a payment whose payee claimed on chain); a secret
   * that matches nothing changes nothing. All or nothing like every step.
   */
  noteSecretOnChain(channelId: string, ptlcId: string, secret: Uint8Array): Promise<Step> {
    return this.atomic(() => this.onChainSecret(channelId, ptlcId, secret));
  }

  /** What this role does with a PTLC secret read on chain; by default nothing. */
  protected async onChainSecret(_channelId: string, _ptlcId: string, _secret: Uint8Array): Promise<Step> {
    return step();
  }

  /**
   * Takes the two update signatures the wallet's watchtower read from update
   * `n` of channel `channelId` (hex) on chain: `sigs[0]` party 0's, `sigs[1]`
   * party 1's, each 65 bytes with its sighash type (SPEC 6.18). Roles that
   * can use them override {@link onChainUpdateSigs}: a payer whose completion
   * never came takes its receipt from its own completed signature there.
   * Signatures that match nothing change nothing. All or nothing like every step.
   */
  noteUpdateSigsOnChain(channelId: string, n: number, sigs: readonly [Uint8Array, Uint8Array]): Promise<Step> {
    return this.atomic(() => this.onChainUpdateSigs(channelId, n, sigs));
  }

  /** What this role does with the signatures of an update read on chain; by default nothing. */
  protected async onChainUpdateSigs(_channelId: string, _n: number, _sigs: readonly [Uint8Array, Uint8Array]): Promise<Step> {
    return step();
  }

  /**
   * Records, from the wallet's chain watcher, that an update transaction of
   * channel `channelId` (hex) confirmed at block `height`: the channel is
   * closing from then on (no new payment starts, is accepted or extended
   * over it). All or nothing like every step.
   */
  noteUpdateOnChain(channelId: string, height: number): Promise<Step> {
    return this.atomic(async () => {
      const ch = this.channels().find((c) => bytesToHex(c.params.channelId) === channelId);
      if (!ch) reject(`no channel ${channelId}`, ErrorCode.INVALID_RANGE);
      ch.noteUpdateOnChain(height);
      return step();
    });
  }

  /**
   * Starts the cooperative close of channel `channelId` (hex) (SPEC 6.18):
   * signs the close of our latest enforceable state with `channelKey` (our
   * channel secret key) and sends it to the peer. From then on the channel
   * takes no new state. Refused (CHANNEL_INVARIANT) while a state is
   * pending, a PTLC is in flight or an update is on chain. All or nothing.
   */
  proposeClose(channelId: string, channelKey: Uint8Array): Promise<Step> {
    return this.atomic(async () => {
      const ch = this.channels().find((c) => bytesToHex(c.params.channelId) === channelId);
      const cp = ch ? this.channelPeer(ch.params.channelId) : undefined;
      if (!cp) return reject(`no channel ${channelId}`, ErrorCode.INVALID_RANGE);
      if (cp.peerAddress === undefined) return reject('no mailbox address for the channel peer', ErrorCode.INVALID_RANGE);
      return proposeClose(cp, cp.peerAddress, channelKey);
    });
  }

  /**
   * Handles a close message (`CLOSE_PROPOSE`, `CLOSE_ACCEPT`), all or
   * nothing: a proposal of our latest state with nothing in flight is
   * co-signed and answered, an acceptance kept. A refused one changes
   * nothing and is not answered (event `ignored`); the closer can still close
   * unilaterally. `channelKey` is our channel secret key.
   */
  async handleClose(inc: Incoming, channelKey: Uint8Array): Promise<Step> {
    const m = inc.message;
    if (!isCloseMessage(m)) return ignored(m.type, 'not a close message');
    try {
      return await this.atomic(async () => {
        const cp = this.channelPeer(m.channelId);
        if (!cp) return reject('unknown channel', ErrorCode.PAYMENT_REJECTED);
        return onCloseMessage(cp, cp.peerAddress, inc as Incoming & { message: CloseMessage }, channelKey);
      });
    } catch (e) {
      if (isLocalFault(e)) throw e;
      return ignored(m.type, (e as Error).message);
    }
  }
}
