/**
 * A live subscription to this client's mailbox on all of its relays: one
 * {@link RelaySocket} per relay, all feeding one handler through the client's
 * single, sequential delivery queue, which de-duplicates by envelope id.
 * A relay that is down only delays itself; the others keep delivering.
 * @module
 */
import type { LnMailboxError } from '../../base/errors.js';
import { TypedEmitter } from './events.js';
import { RelaySocket, type DeliveryControl, type PushedEnvelope, type RelaySocketOptions } from './relay-socket.js';

/** Events of a {@link Subscription}. Listener arguments are given as tuples. */
export type SubscriptionEvents = {
  /** Authenticated on `relay`; the subscription request is being sent. */
  ready: [relay: string];
  /** `relay` has sent its whole backlog; what follows is live. `seq` is the relay's last sequence number. */
  backlog_end: [relay: string, seq: number];
  /** The socket to `relay` closed with WebSocket close `code`; a reconnect is scheduled. */
  disconnected: [relay: string, code: number];
  /** Something went wrong on `relay` (unreachable, auth rejected, handler failed, …). Never fatal. */
  error: [relay: string, error: LnMailboxError];
};

/** What the client's delivery queue did with one envelope. */
export type DeliveryOutcome = 'handled' | 'duplicate' | 'failed' | 'skipped';

/**
 * Runs one delivery through the client's queue: de-dup, handler, persist.
 * Resolves with the outcome; `failed` comes with the error.
 */
export type DeliverFn = (env: PushedEnvelope, alive: () => boolean) => Promise<{ outcome: DeliveryOutcome; error?: LnMailboxError }>;

/** Socket options shared by every relay of a subscription. */
export type SharedSocketOptions = Omit<RelaySocketOptions, 'relay' | 'onEnvelope' | 'onEvent'>;

/**
 * A running subscription. Listen with `on('ready' | 'backlog_end' |
 * 'disconnected' | 'error', …)`; stop with {@link Subscription.close}.
 */
export class Subscription extends TypedEmitter<SubscriptionEvents> {
  /** Normalized URLs of the relays this subscription reads from. */
  readonly relays: readonly string[];
  readonly #sockets: RelaySocket[];
  readonly #deliver: DeliverFn;
  #inflight = new Set<Promise<unknown>>();
  #closed = false;
  #closing: Promise<void> | undefined;

  /** @internal Created by `MailboxClient.subscribe`. */
  constructor(relays: readonly string[], shared: SharedSocketOptions, deliver: DeliverFn) {
    super();
    this.relays = Object.freeze([...relays]);
    this.#deliver = deliver;
    this.#sockets = relays.map(
      (relay) =>
        new RelaySocket({
          ...shared,
          relay,
          onEnvelope: (env, ctl) => this.#onEnvelope(env, ctl),
          onEvent: (e) => {
            if (this.#closed && e.type !== 'disconnected') return;
            if (e.type === 'ready') this.emit('ready', e.relay);
            else if (e.type === 'backlog_end') this.emit('backlog_end', e.relay, e.seq);
            else if (e.type === 'disconnected') this.emit('disconnected', e.relay, e.code);
            else this.emit('error', e.relay, e.error);
          },
        }),
    );
  }

  /** @internal Starts every socket; a relay whose cursor cannot be read starts from 0 (de-dup covers it). */
  start(): void {
    for (const s of this.#sockets) void s.start().catch((e) => this.emit('error', s.relay, e as LnMailboxError));
  }

  /** @internal Reports an error not tied to one socket (e.g. pruning the ledger). */
  report(relay: string, error: LnMailboxError): void {
    if (!this.#closed) this.emit('error', relay, error);
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  #onEnvelope(env: PushedEnvelope, ctl: DeliveryControl): void {
    const p = this.#deliver(env, () => !this.#closed && ctl.alive()).then(({ outcome, error }) => {
      if (outcome === 'handled' || outcome === 'duplicate') ctl.settle('ack');
      else if (outcome === 'failed') {
        if (error !== undefined) this.report(env.relay, error);
        ctl.settle('retry');
      }
    });
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  /**
   * Closes every socket and stops reconnecting. Resolves once the sockets are
   * closed, the handler call in progress (if any) has finished, and cursor
   * writes are flushed, so the caller may then close its store. Idempotent.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      await Promise.all(this.#sockets.map((s) => s.close()));
      await Promise.allSettled([...this.#inflight]);
    })();
    return this.#closing;
  }
}
