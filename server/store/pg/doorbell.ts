/**
 * The doorbell between relay instances: PostgreSQL LISTEN/NOTIFY. Every committed append NOTIFYs `mailbox:seq:id:count:bytes:version`;
 * every PgStore LISTENs on one dedicated connection and hands each new
 * envelope, from ANY instance, to its `onAppend` listeners.
 *
 * Order is what WebSocket push relies on (ws.ts drops `seq <= cursor`, so a
 * seq pushed early would hide an earlier one until the client reconnects):
 *
 * - PostgreSQL delivers notifications in commit order, and appends to one
 *   mailbox commit in seq order (they hold its row lock), so one LISTEN
 *   connection sees each mailbox's seqs ascending.
 * - Notifications are handled strictly one batch after another. An
 *   instance's OWN appends are delivered from this stream too (with the bytes
 *   it already holds, no read), never straight after COMMIT, because that
 *   could overtake a notification of another instance's earlier seq. The
 *   append resolves once its envelope went through here, so onAppend still
 *   fires before the POST is answered, exactly once.
 * - A gap (seq > last delivered + 1: notifications lost while the LISTEN
 *   connection was down) is filled by reading the missing live envelopes
 *   before the new one is delivered.
 * @module
 */
import type pg from 'pg';
import type { StoredEnvelope } from '../types.js';

/** A counter snapshot carried by a notification; `version` orders snapshots of one mailbox. */
export interface UsageSnapshot {
  lastSeq: number;
  count: number;
  bytes: number;
  version: number;
}

/** What the doorbell needs from its store. */
export interface DoorbellOptions {
  /** A new, unconnected client for the LISTEN connection. */
  client: () => pg.Client;
  appendChannel: string;
  usageChannel: string;
  /** Live envelopes of `mailbox` with `after < seq <= upTo`, excluding `skipIds`, in seq order (at most `limit`). */
  fetch: (ranges: FetchRange[], skipIds: string[]) => Promise<(StoredEnvelope & { mailbox: string })[]>;
  /**
   * False when nobody here listens for `mailbox` (no subscriber on this
   * instance): another instance's envelope is then not read back at all.
   * Safe because a subscriber arriving later reads the backlog after it
   * subscribed, and the envelope was committed before its notification.
   */
  wants: (mailbox: string) => boolean;
  /** Delivers one envelope to the store's onAppend listeners. */
  deliver: (mailbox: string, envelope: StoredEnvelope) => void;
  /** A counter snapshot from another (or this) instance. */
  usage: (mailbox: string, snapshot: UsageSnapshot) => void;
  /** Called after every (re)connect, once LISTEN is active. */
  connected: () => void;
  /** Reports a failure (connection loss, failed read); never thrown. */
  error: (e: unknown) => void;
}

/** A seq range of one mailbox to read back. */
export interface FetchRange {
  mailbox: string;
  after: number;
  upTo: number;
}

/** At most this many missing envelopes of one mailbox are read back to fill a gap. */
const GAP_FILL_LIMIT = 1000;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;

interface AppendEvent {
  mailbox: string;
  seq: number;
  id: string;
}

interface Own {
  mailbox: string;
  stored: StoredEnvelope;
  done: () => void;
  promise: Promise<void>;
}

const HEX64 = /^[0-9a-f]{64}$/;

function parseInts(parts: string[]): number[] | undefined {
  const out = parts.map(Number);
  return out.every((n) => Number.isSafeInteger(n) && n >= 0) ? out : undefined;
}

/** One LISTEN connection with ordered, gap-filled delivery. */
export class PgDoorbell {
  readonly #o: DoorbellOptions;
  readonly #own = new Map<string, Own>();
  /** Highest seq delivered (or known to exist before we listened), per mailbox. */
  readonly #pushed = new Map<string, number>();
  #queue: AppendEvent[] = [];
  #draining: Promise<void> | undefined;
  #client: pg.Client | undefined;
  #stopped = false;
  #connected = false;
  #retryMs = RECONNECT_MIN_MS;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(options: DoorbellOptions) {
    this.#o = options;
  }

  /** True while the LISTEN connection is up. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Connects and LISTENs; rejects when the first connection fails. */
  async start(): Promise<void> {
    await this.#connect();
  }

  async #connect(): Promise<void> {
    const c = this.#o.client();
    c.on('error', (e) => this.#lost(c, e));
    c.on('end', () => this.#lost(c, new Error('LISTEN connection ended')));
    c.on('notification', (msg) => this.#onNotification(msg.channel, msg.payload));
    this.#client = c;
    await c.connect();
    await c.query(`LISTEN ${this.#o.appendChannel}; LISTEN ${this.#o.usageChannel}`);
    if (this.#stopped) {
      await c.end().catch(() => undefined);
      return;
    }
    this.#connected = true;
    this.#retryMs = RECONNECT_MIN_MS;
    this.#o.connected();
  }

  #lost(c: pg.Client, e: unknown): void {
    if (this.#client !== c) return;
    this.#client = undefined;
    this.#connected = false;
    c.end().catch(() => undefined);
    if (this.#stopped) return;
    this.#o.error(e);
    // Own appends waiting for their notification would wait in vain: deliver them now.
    this.#enqueueOwnLeftovers();
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#connect().catch((err: unknown) => {
        const failed = this.#client;
        if (failed) this.#lost(failed, err);
      });
    }, this.#retryMs);
    this.#retryMs = Math.min(this.#retryMs * 2, RECONNECT_MAX_MS);
  }

  /** Sets the delivered high-water mark of a mailbox when it is not known yet (counters loaded at open). */
  floor(mailbox: string, lastSeq: number): void {
    if (!this.#pushed.has(mailbox)) this.#pushed.set(mailbox, lastSeq);
  }

  /** Registers an own append before it is sent, so its notification needs no read. */
  expect(mailbox: string, stored: StoredEnvelope): void {
    let done!: () => void;
    const promise = new Promise<void>((resolve) => (done = resolve));
    this.#own.set(stored.id, { mailbox, stored, done, promise });
  }

  /** Drops a registration whose append stored nothing (duplicate, full, error). */
  forget(id: string): void {
    const own = this.#own.get(id);
    if (!own) return;
    this.#own.delete(id);
    own.done();
  }

  /**
   * Resolves once the own append `id` (committed as `mailbox`/`seq`) went
   * through the doorbell, or after `timeoutMs` (the envelope is durable
   * either way; a late notification still delivers it).
   */
  async delivered(id: string, mailbox: string, seq: number, timeoutMs: number): Promise<void> {
    const own = this.#own.get(id);
    if (!own) return;
    own.stored.seq = seq;
    if ((this.#pushed.get(mailbox) ?? 0) >= seq) return this.forget(id);
    if (!this.#connected) {
      // No doorbell right now: deliver through the queue, in order with whatever is pending.
      this.#queue.push({ mailbox, seq, id });
      this.#drain();
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([own.promise, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    // Timed out: stop holding the bytes; a late notification reads the envelope back instead.
    if (this.#own.get(id) === own) this.forget(id);
  }

  #enqueueOwnLeftovers(): void {
    for (const [id, own] of this.#own) if (own.stored.seq > 0) this.#queue.push({ mailbox: own.mailbox, seq: own.stored.seq, id });
    if (this.#queue.length > 0) this.#drain();
  }

  #onNotification(channel: string, payload: string | undefined): void {
    const parts = (payload ?? '').split(':');
    const mailbox = parts[0] ?? '';
    // Payloads come from our own SQL, but a foreign NOTIFY on the channel must not crash anything.
    if (!HEX64.test(mailbox)) return;
    if (channel === this.#o.usageChannel) {
      const n = parseInts(parts.slice(1, 5));
      if (n && n.length === 4) this.#o.usage(mailbox, { lastSeq: n[0]!, count: n[1]!, bytes: n[2]!, version: n[3]! });
      return;
    }
    if (channel !== this.#o.appendChannel) return;
    const id = parts[2] ?? '';
    const n = parseInts([parts[1] ?? '', ...parts.slice(3, 6)]);
    if (n?.length !== 4 || !HEX64.test(id)) return;
    this.#o.usage(mailbox, { lastSeq: n[0]!, count: n[1]!, bytes: n[2]!, version: n[3]! });
    this.#queue.push({ mailbox, seq: n[0]!, id });
    this.#drain();
  }

  #drain(): void {
    if (this.#draining) return;
    this.#draining = (async () => {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        try {
          await this.#deliverBatch(batch);
        } catch (e) {
          this.#o.error(e);
        }
      }
      this.#draining = undefined;
    })();
  }

  async #deliverBatch(batch: AppendEvent[]): Promise<void> {
    // Group by mailbox, keeping arrival (= commit = seq) order inside each.
    const byMailbox = new Map<string, AppendEvent[]>();
    for (const ev of batch) {
      let list = byMailbox.get(ev.mailbox);
      if (!list) byMailbox.set(ev.mailbox, (list = []));
      list.push(ev);
    }
    const ranges: FetchRange[] = [];
    const skip: string[] = [];
    for (const [mailbox, events] of byMailbox) {
      const from = this.#pushed.get(mailbox) ?? 0;
      const top = Math.max(...events.map((e) => e.seq));
      if (top <= from) continue;
      const ownSeqs = new Set<number>();
      for (const e of events) {
        if (!this.#own.has(e.id) || e.seq <= from) continue;
        ownSeqs.add(e.seq);
        skip.push(e.id);
      }
      // Read back only when something in (from, top] is not in our hands, and someone here wants it.
      if (ownSeqs.size < top - from && this.#o.wants(mailbox))
        ranges.push({ mailbox, after: Math.max(from, top - GAP_FILL_LIMIT), upTo: top });
    }
    let fetched: (StoredEnvelope & { mailbox: string })[] = [];
    if (ranges.length > 0) {
      try {
        fetched = await this.#o.fetch(ranges, skip);
      } catch (e) {
        // Deliver what we hold; the missing ones reach clients from the backlog on their next subscribe.
        this.#o.error(e);
      }
    }
    const fetchedBy = new Map<string, StoredEnvelope[]>();
    for (const f of fetched) {
      let l = fetchedBy.get(f.mailbox);
      if (!l) fetchedBy.set(f.mailbox, (l = []));
      l.push({ id: f.id, seq: f.seq, envelope: f.envelope, expiresAt: f.expiresAt });
    }
    for (const [mailbox, events] of byMailbox) {
      const from = this.#pushed.get(mailbox) ?? 0;
      const out: StoredEnvelope[] = [...(fetchedBy.get(mailbox) ?? [])];
      for (const e of events) {
        const own = this.#own.get(e.id);
        if (own && e.seq > from) out.push({ ...own.stored, seq: e.seq });
      }
      out.sort((a, b) => a.seq - b.seq);
      let last = from;
      for (const env of out) {
        if (env.seq <= last) continue;
        last = env.seq;
        try {
          this.#o.deliver(mailbox, env);
        } catch {
          // A listener's fault must not stop the doorbell.
        }
      }
      this.#pushed.set(mailbox, Math.max(from, ...events.map((e) => e.seq)));
      for (const e of events) this.forget(e.id);
    }
  }

  /** Stops listening; pending own appends are released. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#connected = false;
    clearTimeout(this.#retryTimer);
    if (this.#draining) await this.#draining;
    for (const id of [...this.#own.keys()]) this.forget(id);
    const c = this.#client;
    this.#client = undefined;
    if (c) await c.end().catch(() => undefined);
  }
}
