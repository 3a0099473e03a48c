/**
 * WebSocket push on `/v1/ws` (SPEC 5.8, "WebSocket push"): challenge →
 * auth → ready → subscribe → backlog in seq order → `backlog_end` → live
 * envelopes the moment they are durable; acks over the socket; heartbeat;
 * slow-consumer cut-off that keeps the mail.
 *
 * Backlog/live hand-over: a connection subscribes to the doorbell *before*
 * it reads the first backlog page, and buffers live envelopes while the
 * backlog streams. Anything committed before a page read is in that page;
 * anything committed after is in the buffer. At the end the buffer is
 * replayed skipping `seq <= cursor`, so there is neither a gap nor a
 * duplicate however the two race.
 *
 * Per-connection state is one small object; timers are global (one
 * heartbeat interval for all sockets) except the short-lived auth timer.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ErrorCode, LnMailboxError, type ErrorCode as Code } from '../base/errors.js';
import { WsCloseCode, encodeServerFrame, parseClientFrame, type ClientFrame } from '../protocol/relay-frames.js';
import { newChallenge, verifyAuthSignature } from './sessions.js';
import { clientAddress, requestOrigin } from './client-address.js';
import { PAGE_BYTES, type RelayContext } from './context.js';
import { envelopeFrame, type LiveEnvelope, type Subscriber } from './fanout.js';
import { rawErrorResponse, toRelayError } from './http-errors.js';

/** Envelopes per backlog page. */
const BACKLOG_PAGE = 256;
/** How long `close()` waits for peers to answer the 1001 close before cutting them off. */
const SHUTDOWN_GRACE_MS = 2000;

type Phase = 'auth' | 'ready' | 'backlog' | 'live' | 'closed';

function errorFrame(code: Code, message: string): string {
  return encodeServerFrame({ type: 'error', error: { code, message } });
}

/** One WebSocket connection. */
class Connection implements Subscriber {
  phase: Phase = 'auth';
  mailbox = '';
  cursor = 0;
  alive = true;
  challenge: string | null;
  challengeExpiresAt: number;
  authTimer: NodeJS.Timeout | undefined;
  buffered: LiveEnvelope[] | null = null;
  bufferedBytes = 0;
  unsubscribe: (() => void) | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly ip: string,
    readonly origin: string,
    /** The upgraded TCP socket the WebSocket writes to (corked around a backlog page). */
    readonly socket: Duplex,
    readonly front: WsFrontEnd,
    now: number,
  ) {
    this.challenge = newChallenge();
    const cfg = front.ctx.config;
    this.challengeExpiresAt = now + Math.min(cfg.challengeTtlSeconds * 1000, cfg.authTimeoutMs);
  }

  push(live: LiveEnvelope): void {
    if (live.seq <= this.cursor) return;
    if (this.phase === 'backlog') {
      this.buffered!.push(live);
      this.bufferedBytes += live.frame.length;
      if (this.bufferedBytes > this.front.ctx.config.outboundBufferBytes) this.front.slowConsumer(this);
      return;
    }
    if (this.phase !== 'live') return;
    this.cursor = live.seq;
    this.ws.send(live.frame);
    this.front.delivered1(live.id);
    if (this.ws.bufferedAmount > this.front.ctx.config.outboundBufferBytes) this.front.slowConsumer(this);
  }
}

/** The WebSocket front end of one relay. */
export class WsFrontEnd {
  readonly ctx: RelayContext;
  readonly #wss: WebSocketServer;
  readonly #conns = new Set<Connection>();
  readonly #heartbeat: NodeJS.Timeout;
  /** Delivered marks of this tick, written by one {@link WsFrontEnd.delivered} flush. */
  #marks: string[] = [];
  #marksQueued = false;

  constructor(ctx: RelayContext) {
    this.ctx = ctx;
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: ctx.config.maxFrameBytes,
    });
    this.#heartbeat = setInterval(() => this.#beat(), ctx.config.heartbeatMs);
    this.#heartbeat.unref();
  }

  /** Open connections. */
  get size(): number {
    return this.#conns.size;
  }

  /** Handles an HTTP upgrade request (only `/v1/ws` is a WebSocket endpoint). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const { config, lifecycle } = this.ctx;
    let path = '';
    try {
      path = new URL(req.url ?? '', 'http://relay.invalid').pathname;
    } catch {
      // fall through to 404
    }
    if (path !== '/v1/ws') return this.#refuse(socket, new LnMailboxError(ErrorCode.NOT_FOUND, 'no such route'));
    if (lifecycle.closing) return this.#refuse(socket, new LnMailboxError(ErrorCode.SHUTTING_DOWN, 'relay is shutting down'));
    let origin: string;
    try {
      origin = requestOrigin(req, config.trustProxy, config.publicUrl);
    } catch {
      return this.#refuse(socket, new LnMailboxError(ErrorCode.BAD_REQUEST, 'bad Host header'));
    }
    const ip = clientAddress(req, config.trustProxy);
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, socket, ip, origin));
  }

  #refuse(socket: Duplex, e: LnMailboxError): void {
    this.ctx.metrics.rejections.inc({ code: e.code });
    socket.on('error', () => undefined);
    socket.end(rawErrorResponse(e));
  }

  #accept(ws: WebSocket, socket: Duplex, ip: string, origin: string): void {
    const { ctx } = this;
    ws.on('error', () => undefined); // protocol errors surface as 'close' with ws's code (1002, 1007, 1009)
    if (!ctx.connections.acquire(ip)) {
      ctx.metrics.rejections.inc({ code: ErrorCode.TOO_MANY_CONNECTIONS });
      this.#closeWith(ws, WsCloseCode.TOO_MANY_CONNECTIONS, ErrorCode.TOO_MANY_CONNECTIONS, 'too many connections from this address');
      return;
    }
    const conn = new Connection(ws, ip, origin, socket, this, ctx.now());
    this.#conns.add(conn);
    ctx.metrics.wsConnections.inc();
    conn.authTimer = setTimeout(() => {
      this.#fail(conn, WsCloseCode.AUTH_TIMEOUT, ErrorCode.AUTH_REQUIRED, 'no auth before the auth timeout');
    }, ctx.config.authTimeoutMs);
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('message', (data, isBinary) => this.#onMessage(conn, data as Buffer, isBinary));
    ws.on('close', () => this.#onClose(conn));
    ws.send(
      encodeServerFrame({ type: 'challenge', challenge: conn.challenge!, expiresAt: new Date(conn.challengeExpiresAt).toISOString() }),
    );
  }

  #onClose(conn: Connection): void {
    if (!this.#conns.delete(conn)) return;
    conn.phase = 'closed';
    conn.buffered = null;
    conn.unsubscribe?.();
    clearTimeout(conn.authTimer);
    this.ctx.connections.release(conn.ip);
    this.ctx.metrics.wsConnections.dec();
  }

  /** Sends an error frame and closes with `closeCode`. */
  #closeWith(ws: WebSocket, closeCode: number, code: Code, message: string): void {
    this.ctx.metrics.wsClosed.inc({ code: String(closeCode) });
    ws.send(errorFrame(code, message));
    ws.close(closeCode, code);
  }

  #fail(conn: Connection, closeCode: number, code: Code, message: string): void {
    if (conn.phase === 'closed') return;
    this.ctx.metrics.rejections.inc({ code });
    conn.phase = 'closed';
    conn.buffered = null;
    conn.unsubscribe?.();
    clearTimeout(conn.authTimer);
    this.#closeWith(conn.ws, closeCode, code, message);
  }

  /** Disconnects a consumer whose outbound buffer is over the limit; its mail stays queued. */
  slowConsumer(conn: Connection): void {
    this.#fail(
      conn,
      WsCloseCode.SLOW_CONSUMER,
      ErrorCode.SLOW_CONSUMER,
      'outbound buffer over its limit: slow consumer; mail stays queued',
    );
  }

  /**
   * Records delivery of pushed envelopes. The marks of one tick (every push
   * of a group commit, a backlog page) go to the store as one write,
   * submitted before the tick yields to I/O: a later POST's batch therefore
   * comes after it in the store's log, and when that POST's 201 is durable,
   * so is every mark made before it.
   */
  delivered(ids: readonly string[]): void {
    for (const id of ids) this.#marks.push(id);
    if (this.#marksQueued) return;
    this.#marksQueued = true;
    queueMicrotask(this.#flushMarks);
  }

  /** {@link WsFrontEnd.delivered} of one id (a live push), without an array per envelope. */
  delivered1(id: string): void {
    this.#marks.push(id);
    if (this.#marksQueued) return;
    this.#marksQueued = true;
    queueMicrotask(this.#flushMarks);
  }

  readonly #flushMarks = (): void => {
    this.#marksQueued = false;
    const ids = this.#marks;
    if (ids.length === 0) return;
    this.#marks = [];
    this.ctx.store.markDelivered(ids);
    this.ctx.metrics.envelopesDelivered.inc({ via: 'ws' }, ids.length);
  };

  #onMessage(conn: Connection, data: Buffer, isBinary: boolean): void {
    if (conn.phase === 'closed') return;
    conn.alive = true;
    if (isBinary) return this.#fail(conn, WsCloseCode.PROTOCOL_ERROR, ErrorCode.BAD_FRAME, 'binary frames are not part of the protocol');
    let frame: ClientFrame;
    try {
      frame = parseClientFrame(data.toString('utf8'));
    } catch (e) {
      const { error } = toRelayError(e);
      return this.#fail(conn, WsCloseCode.PROTOCOL_ERROR, ErrorCode.BAD_FRAME, error.message);
    }
    if (conn.phase === 'auth' && frame.type !== 'auth')
      return this.#fail(conn, WsCloseCode.POLICY_VIOLATION, ErrorCode.AUTH_REQUIRED, 'authenticate first');
    switch (frame.type) {
      case 'auth':
        if (conn.phase !== 'auth') return this.#fail(conn, WsCloseCode.PROTOCOL_ERROR, ErrorCode.BAD_FRAME, 'already authenticated');
        return this.#auth(conn, frame);
      case 'subscribe':
        if (conn.phase !== 'ready') return this.#fail(conn, WsCloseCode.PROTOCOL_ERROR, ErrorCode.BAD_FRAME, 'already subscribed');
        void this.#stream(conn, frame.after);
        return;
      case 'ack':
        void this.#ack(conn, frame.ids);
        return;
    }
  }

  #auth(conn: Connection, frame: Extract<ClientFrame, { type: 'auth' }>): void {
    const { ctx } = this;
    const now = ctx.now();
    let mailbox: string;
    try {
      if ('token' in frame) {
        mailbox = ctx.auth.sessionMailbox(frame.token, now);
      } else {
        if (conn.challenge === null || frame.challenge !== conn.challenge)
          throw new LnMailboxError(ErrorCode.AUTH_CHALLENGE_UNKNOWN, 'not the challenge this connection was given');
        conn.challenge = null; // single use, even when the signature fails
        if (now >= conn.challengeExpiresAt) throw new LnMailboxError(ErrorCode.AUTH_EXPIRED, 'challenge expired');
        verifyAuthSignature(conn.origin, frame);
        mailbox = frame.mailbox;
      }
    } catch (e) {
      const { error } = toRelayError(e);
      return this.#fail(conn, WsCloseCode.POLICY_VIOLATION, error.code, error.message);
    }
    clearTimeout(conn.authTimer);
    conn.authTimer = undefined;
    conn.mailbox = mailbox;
    conn.phase = 'ready';
    conn.ws.send(encodeServerFrame({ type: 'ready', mailbox }));
  }

  async #stream(conn: Connection, after: number): Promise<void> {
    const { ctx } = this;
    // A cursor beyond anything this relay ever assigned (e.g. data restored
    // from an older backup) would silence the mailbox; start from the top instead.
    conn.cursor = Math.min(after, ctx.store.usage(conn.mailbox).lastSeq);
    conn.phase = 'backlog';
    conn.buffered = [];
    conn.unsubscribe = ctx.fanout.subscribe(conn.mailbox, conn);
    const read = (after: number) => ctx.store.list(conn.mailbox, after, BACKLOG_PAGE, ctx.now(), PAGE_BYTES);
    try {
      let page = await read(conn.cursor);
      // The previous page's last frame leaving the process: at most two pages wait in the socket.
      let previous: Promise<void> | undefined;
      for (;;) {
        if (conn.phase !== 'backlog') return;
        const n = page.envelopes.length;
        let flushed: Promise<void> | undefined;
        if (n > 0) {
          const ids: string[] = new Array(n);
          // One write for the page, not one system call per frame (ws corks each frame alone).
          conn.socket.cork();
          try {
            for (let i = 0; i < n; i++) {
              const e = page.envelopes[i]!;
              if (i === n - 1 && page.more) {
                // Backpressure: the page after next is sent only once this one left the process.
                flushed = new Promise((resolve) => conn.ws.send(envelopeFrame(e), () => resolve()));
              } else conn.ws.send(envelopeFrame(e));
              conn.cursor = e.seq;
              ids[i] = e.id;
            }
          } finally {
            conn.socket.uncork();
          }
          this.delivered(ids);
        }
        if (!page.more) break;
        // The next page is read while this one drains to the socket; it is sent once the page
        // before this one has left, so the socket never runs dry and at most two pages wait in it.
        const next = read(conn.cursor);
        if (previous) await Promise.all([previous, next.catch(() => undefined)]);
        previous = flushed;
        page = await next;
      }
    } catch (e) {
      const { error } = toRelayError(e);
      this.ctx.log.warn({ code: error.code }, 'backlog read failed');
      return this.#fail(conn, WsCloseCode.INTERNAL_ERROR, ErrorCode.STORE_UNAVAILABLE, 'store unavailable; reconnect later');
    }
    if (conn.phase !== 'backlog') return;
    conn.ws.send(encodeServerFrame({ type: 'backlog_end', seq: conn.cursor }));
    const pending = conn.buffered ?? [];
    conn.buffered = null;
    conn.bufferedBytes = 0;
    conn.phase = 'live';
    for (const live of pending) conn.push(live);
  }

  async #ack(conn: Connection, ids: string[]): Promise<void> {
    try {
      const acked = await this.ctx.store.ack(conn.mailbox, ids);
      this.ctx.metrics.envelopesAcked.inc(acked.length);
      if (conn.phase !== 'closed') conn.ws.send(encodeServerFrame({ type: 'acked', ids }));
    } catch (e) {
      const { error } = toRelayError(e);
      this.ctx.metrics.rejections.inc({ code: error.code });
      // The connection stays usable: the client may retry the ack.
      if (conn.phase !== 'closed') conn.ws.send(errorFrame(error.code, error.message));
    }
  }

  #beat(): void {
    for (const conn of this.#conns) {
      if (!conn.alive) {
        this.ctx.metrics.wsClosed.inc({ code: 'heartbeat' });
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }

  /** Closes every connection with 1001 and waits (briefly) for them to go. */
  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    const conns = [...this.#conns];
    const gone = conns.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.ws.readyState === c.ws.CLOSED) return resolve();
          c.ws.once('close', () => resolve());
        }),
    );
    for (const c of conns) {
      c.phase = 'closed';
      c.unsubscribe?.();
      clearTimeout(c.authTimer);
      this.ctx.metrics.wsClosed.inc({ code: String(WsCloseCode.GOING_AWAY) });
      c.ws.close(WsCloseCode.GOING_AWAY, 'relay shutting down');
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(gone),
      new Promise((resolve) => {
        timer = setTimeout(resolve, SHUTDOWN_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    for (const c of conns) c.ws.terminate();
    this.#wss.close();
    this.#flushMarks();
  }
}
