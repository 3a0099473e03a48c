/**
 * One authenticated WebSocket subscription to one relay (SPEC 5.8,
 * "WebSocket push"), kept alive across failures:
 *
 *   connect → challenge → auth (BIP340 over `authMessage(origin, challenge, mailbox)`)
 *   → ready → subscribe { after: cursor } → backlog … → backlog_end → live …
 *
 * Every pushed envelope is checked (its bytes hash to its id and it is
 * addressed to this mailbox) before it is handed on; a relay cannot make the
 * client de-duplicate a real envelope away by lying about ids. Acks are sent
 * only when the owner settles a delivery; the cursor advances only when the
 * relay confirms an ack (`acked`), so an ack lost in a disconnect means a
 * redelivery (de-duplicated by id), never a loss. On any close it reconnects
 * with capped exponential backoff and jitter until closed.
 * @module
 */
import { bytesToHex } from '../../base/bytes.js';
import { ErrorCode, LnMailboxError, isLnMailboxError, type ErrorCode as Code } from '../../base/errors.js';
import { proveAuth, relayOrigin } from '../../protocol/relay-auth.js';
import {
  encodeClientFrame,
  parseServerFrame,
  verifyStoredEnvelope,
  type ClientFrame,
  type ServerFrame,
} from '../../protocol/relay-frames.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import type { DeliveryLedger } from './delivery-ledger.js';
import { relayWsUrl } from './relay-http.js';

/**
 * The subset of the WHATWG WebSocket API the client uses. Browsers' WebSocket
 * and the `ws` package's both satisfy it.
 */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  // biome-ignore lint/suspicious/noExplicitAny: the DOM's and ws's event types differ; each handler narrows what it reads
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: any) => void): void;
}

/** A WebSocket constructor: `globalThis.WebSocket` in browsers, `WebSocket` from `ws` in Node. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** An envelope a relay pushed, after its id and recipient were checked. */
export interface PushedEnvelope {
  /** Envelope id, 64 lowercase hex (`sha256` of the bytes, verified). */
  id: string;
  /** The envelope bytes. */
  envelope: Uint8Array;
  /** Normalized base URL of the relay that pushed it. */
  relay: string;
  /** The relay's per-mailbox sequence number. */
  seq: number;
  /** When the relay will drop it (ISO 8601, as the relay reported). */
  expiresAt: string;
}

/** What the owner decided about one delivery. */
export type Settlement = 'ack' | 'retry';

/** Lets the owner of a delivery check its connection and settle it. */
export interface DeliveryControl {
  /** False once the connection the envelope came on was dropped or the socket closed. */
  alive(): boolean;
  /** `ack`: processed (or already processed), acknowledge it. `retry`: not processed, have it redelivered. */
  settle(s: Settlement): void;
}

/** Events a socket reports to its owner. */
export type SocketEvent =
  | { type: 'ready'; relay: string }
  | { type: 'backlog_end'; relay: string; seq: number }
  | { type: 'disconnected'; relay: string; code: number }
  | { type: 'error'; relay: string; error: LnMailboxError };

/** Configuration of one {@link RelaySocket}. */
export interface RelaySocketOptions {
  relay: string;
  WebSocket: WebSocketConstructor;
  secretKey: Uint8Array;
  mailbox: Uint8Array;
  ledger: DeliveryLedger;
  backoff: BackoffOptions;
  /** A connection that is not `ready` this long after it was opened is dropped and retried. */
  connectTimeoutMs: number;
  random?: () => number;
  /**
   * Hands a verified envelope on. The owner calls `ctl.settle` once it is done
   * (or not at all if `ctl.alive()` turned false: the connection it came on is
   * gone, and the relay will deliver it again).
   */
  onEnvelope(env: PushedEnvelope, ctl: DeliveryControl): void;
  onEvent(e: SocketEvent): void;
}

const OPEN = 1;
/** Client close code when it drops a connection to retry (handler failed, auth too slow): reconnecting makes the relay redeliver. */
const CLOSE_RETRY = 4000;

interface Link {
  ws: WebSocketLike;
  opened: boolean;
  ready: boolean;
  closed: boolean;
  /** We asked it to close (it may not have closed yet). */
  dropped: boolean;
  /** A handler failed on this link: don't reset the backoff. */
  failed: boolean;
  /** Acks sent and not yet confirmed, in send order. */
  pending: { id: string; seq: number }[];
  /** Envelopes handed to the handler and not yet settled. */
  unsettled: number;
  /** A `backlog_end` received while handlers still ran: emitted once they settled. */
  backlogEnd: number | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  onClosed: (() => void)[];
}

/** One relay subscription with automatic reconnect. */
export class RelaySocket {
  readonly relay: string;
  readonly #o: RelaySocketOptions;
  readonly #origin: string;
  readonly #mailboxHex: string;
  #cursor = 0;
  #attempt = 0;
  #link: Link | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #persist: Promise<void> = Promise.resolve();

  constructor(o: RelaySocketOptions) {
    this.#o = o;
    this.relay = o.relay;
    this.#origin = relayOrigin(o.relay);
    this.#mailboxHex = bytesToHex(o.mailbox);
  }

  /** The cursor this socket will subscribe from on its next connection. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Loads the persisted cursor and connects. */
  async start(): Promise<void> {
    this.#cursor = await this.#o.ledger.cursor(this.relay);
    this.#connect();
  }

  /** Stops reconnecting, closes the socket and waits for it and for pending cursor writes. */
  async close(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    const link = this.#link;
    if (link !== undefined && !link.closed) {
      const done = new Promise<void>((resolve) => {
        link.onClosed.push(resolve);
        // Don't hang on a peer that never completes the close handshake.
        setTimeout(resolve, 2000);
      });
      try {
        link.ws.close(1000, 'client closing');
      } catch {
        /* already closing */
      }
      await done;
    }
    await this.#persist;
  }

  #error(code: Code, message: string, cause?: unknown): void {
    const error = new LnMailboxError(code, `${this.relay}: ${message}`, cause === undefined ? undefined : { cause });
    this.#o.onEvent({ type: 'error', relay: this.relay, error });
  }

  #connect(): void {
    if (this.#stopped) return;
    let ws: WebSocketLike;
    try {
      ws = new this.#o.WebSocket(relayWsUrl(this.relay));
      ws.binaryType = 'arraybuffer';
    } catch (e) {
      this.#error(ErrorCode.RELAY_UNREACHABLE, `cannot open WebSocket: ${(e as Error)?.message ?? e}`, e);
      this.#scheduleRetry();
      return;
    }
    const link: Link = {
      ws,
      opened: false,
      ready: false,
      closed: false,
      dropped: false,
      failed: false,
      pending: [],
      unsettled: 0,
      backlogEnd: undefined,
      timer: undefined,
      onClosed: [],
    };
    this.#link = link;
    link.timer = setTimeout(() => {
      if (!link.ready) this.#drop(link, CLOSE_RETRY, `not ready within ${this.#o.connectTimeoutMs} ms`, ErrorCode.RELAY_UNREACHABLE);
    }, this.#o.connectTimeoutMs);
    ws.addEventListener('open', () => {
      link.opened = true;
    });
    ws.addEventListener('message', (ev: { data: unknown }) => this.#onMessage(link, ev.data));
    ws.addEventListener('error', (ev: { message?: string; error?: unknown }) => {
      if (link.closed) return;
      const why = typeof ev?.message === 'string' && ev.message !== '' ? ev.message : 'WebSocket error';
      this.#error(link.opened ? ErrorCode.RELAY_BAD_RESPONSE : ErrorCode.RELAY_UNREACHABLE, why, ev?.error);
    });
    ws.addEventListener('close', (ev: { code?: number }) => {
      if (link.closed) return;
      link.closed = true;
      clearTimeout(link.timer);
      if (this.#link === link) this.#link = undefined;
      this.#o.onEvent({ type: 'disconnected', relay: this.relay, code: typeof ev?.code === 'number' ? ev.code : 1006 });
      for (const f of link.onClosed) f();
      this.#scheduleRetry();
    });
  }

  #scheduleRetry(): void {
    if (this.#stopped) return;
    const delay = backoffDelay(Math.min(this.#attempt, 60), this.#o.backoff, this.#o.random);
    this.#attempt++;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
  }

  /** Closes `link` (which reconnects), reporting why. */
  #drop(link: Link, closeCode: number, why: string, errorCode?: Code, cause?: unknown): void {
    if (errorCode !== undefined) this.#error(errorCode, why, cause);
    if (link.closed || link.dropped) return;
    link.dropped = true;
    try {
      link.ws.close(closeCode, why.slice(0, 120));
    } catch {
      /* closing anyway */
    }
  }

  #send(link: Link, frame: ClientFrame): boolean {
    if (link.closed || link.dropped || link.ws.readyState !== OPEN) return false;
    link.ws.send(encodeClientFrame(frame));
    return true;
  }

  #onMessage(link: Link, data: unknown): void {
    if (link.closed || this.#stopped) return;
    if (typeof data !== 'string') {
      this.#drop(link, 1003, 'binary frame from relay', ErrorCode.BAD_FRAME);
      return;
    }
    let frame: ServerFrame;
    try {
      frame = parseServerFrame(data);
    } catch (e) {
      this.#drop(link, 1002, `bad frame from relay: ${(e as Error).message}`, ErrorCode.BAD_FRAME, e);
      return;
    }
    switch (frame.type) {
      case 'challenge': {
        // The origin is the one *we* address, so a relay cannot forward our signature elsewhere.
        this.#send(link, { type: 'auth', ...proveAuth(this.#origin, frame.challenge, this.#o.secretKey) });
        return;
      }
      case 'ready':
        if (frame.mailbox !== this.#mailboxHex) {
          this.#drop(link, 1008, 'relay confirmed a different mailbox', ErrorCode.RELAY_BAD_RESPONSE);
          return;
        }
        link.ready = true;
        clearTimeout(link.timer);
        this.#o.onEvent({ type: 'ready', relay: this.relay });
        this.#send(link, { type: 'subscribe', after: this.#cursor });
        return;
      case 'envelope':
        this.#onEnvelope(link, frame);
        return;
      case 'backlog_end':
        if (frame.seq < this.#cursor) {
          // The relay's sequence went backwards (its data was restored or reset):
          // our cursor would hide envelopes it numbers below it. Start over from 0;
          // de-duplication by id absorbs anything seen before.
          this.#cursor = 0;
          this.#persistCursor(0);
          this.#drop(link, CLOSE_RETRY, `relay sequence regressed to ${frame.seq}; resubscribing from 0`);
          return;
        }
        // A working subscription: the next outage starts again from the shortest delay.
        if (!link.failed) this.#attempt = 0;
        // "Caught up" means the backlog's handlers ran: wait for those still running.
        if (link.unsettled > 0) link.backlogEnd = frame.seq;
        else this.#o.onEvent({ type: 'backlog_end', relay: this.relay, seq: frame.seq });
        return;
      case 'acked':
        this.#onAcked(link, frame.ids);
        return;
      case 'error':
        // The relay closes the socket after a fatal error; we reconnect from the close event.
        this.#error(frame.error.code, frame.error.message);
        return;
    }
  }

  #onEnvelope(link: Link, frame: Extract<ServerFrame, { type: 'envelope' }>): void {
    if (!link.ready) {
      this.#drop(link, 1002, 'envelope before ready', ErrorCode.RELAY_BAD_RESPONSE);
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = verifyStoredEnvelope(frame, this.#o.mailbox);
    } catch (e) {
      // Not ours or not genuine: skip it (never ack: we cannot vouch for it).
      this.#error(ErrorCode.RELAY_BAD_RESPONSE, `rejected pushed envelope ${frame.id} (seq ${frame.seq}): ${(e as Error).message}`, e);
      return;
    }
    const env: PushedEnvelope = { id: frame.id, envelope: bytes, relay: this.relay, seq: frame.seq, expiresAt: frame.expiresAt };
    let settled = false;
    link.unsettled++;
    this.#o.onEnvelope(env, {
      alive: () => !this.#stopped && !link.closed && !link.dropped,
      settle: (s) => {
        if (settled) return;
        settled = true;
        link.unsettled--;
        if (s === 'ack') {
          if (this.#send(link, { type: 'ack', ids: [env.id] })) link.pending.push({ id: env.id, seq: env.seq });
        } else {
          // Not acked: reconnect so the relay delivers it again, backing off so
          // a poison envelope cannot spin the client.
          link.failed = true;
          this.#drop(link, CLOSE_RETRY, 'handler failed; resubscribing');
        }
        const end = link.backlogEnd;
        if (end !== undefined && link.unsettled === 0 && !link.closed && !link.dropped) {
          link.backlogEnd = undefined;
          this.#o.onEvent({ type: 'backlog_end', relay: this.relay, seq: end });
        }
      },
    });
  }

  #onAcked(link: Link, ids: string[]): void {
    // Acks are answered in order, so a confirmation covers every earlier ack too.
    const set = new Set(ids);
    let last = -1;
    for (let i = 0; i < link.pending.length; i++) if (set.has(link.pending[i]!.id)) last = i;
    if (last < 0) return;
    const seq = Math.max(...link.pending.slice(0, last + 1).map((p) => p.seq));
    link.pending.splice(0, last + 1);
    if (seq <= this.#cursor) return;
    this.#cursor = seq;
    this.#persistCursor(seq);
  }

  /** Queues a cursor write; writes stay in order, so the last one wins. */
  #persistCursor(seq: number): void {
    this.#persist = this.#persist
      .then(() => this.#o.ledger.setCursor(this.relay, seq))
      .catch((e) =>
        this.#error(isLnMailboxError(e) ? e.code : ErrorCode.STORE_UNAVAILABLE, `cannot persist cursor: ${(e as Error).message}`, e),
      );
  }
}
