/**
 * The default relay store: LevelDB through `level` (classic-level in Node),
 * in one data directory. Implements {@link RelayStore} (SPEC section 5.12,
 * "Storage contract"); the record layout is in `records.ts`.
 *
 * - Every write goes through one {@link GroupCommit}: concurrent appends share
 *   one `batch(ops, { sync: true })`, and an append resolves only after its
 *   batch is fsynced.
 * - Per-mailbox counters (last seq, live count, live bytes) live in memory
 *   (`counters.ts`), are loaded once at open, and are persisted in the same
 *   batch as the envelopes they count, so quota checks are O(1) and a crash
 *   can never leave them out of step with the data.
 * - Read-check-write sequences on one envelope id run one at a time
 *   ({@link KeyedQueue}) and hold their turn until their batch is durable, so
 *   two identical concurrent POSTs store the envelope once and an ack never
 *   races a retraction.
 * - Fail-safe writes (`failsafe.ts`): after any write or fsync error the store
 *   acknowledges nothing more. A failed write may have left a torn record at
 *   the tail of LevelDB's log, and appending behind it would put later
 *   batches where recovery drops them. It recovers only by closing,
 *   reopening (LevelDB's own recovery runs) and checking that everything
 *   acknowledged before the error is still there (`ledger.ts`);
 *   attempts repeat with backoff until one succeeds (`recovery-loop.ts`).
 * - A free-space reserve (`disk-space.ts`): below it new envelopes are
 *   refused with `STORE_FULL`, while acks, retractions and sweeps still write.
 * @module
 */
import { Buffer } from 'node:buffer';
import { Level } from 'level';
import type { EnvelopeStatus } from '../../../protocol/relay.js';
import { ErrorCode, LnMailboxError, fail } from '../../../base/errors.js';
import { equalBytes } from '../../../base/bytes.js';
import { GroupCommit, type SubmitHooks } from '../group-commit.js';
import type { StoreHealth } from '../health.js';
import { IdFilter } from './id-filter.js';
import { KeyedQueue } from '../keyed-queue.js';
import { DEFAULT_EXPIRED_RETENTION_MS, EnvelopeState, MAX_STORED_INT, statusAt } from '../lifecycle.js';
import { LevelCounters } from './counters.js';
import { LevelFailSafe, type FailSafeSettings } from './failsafe.js';
import { listLive, loadCounters, loadIds, type LevelDb } from './scans.js';
import { deleteSlot, getSlot, listSlots, putSlot, type SlotContext } from './slots.js';
import {
  Table,
  bodyKey,
  decodeMeta,
  deliveredKey,
  encodeBody,
  encodeMeta,
  expiryKey,
  expiryUpperBound,
  metaKey,
  parseExpiryKey,
  type BatchOp,
  type Meta,
} from './records.js';
import type {
  AppendListener,
  AppendRequest,
  AppendResult,
  ListResult,
  MailboxQuota,
  MailboxUsage,
  RelayStore,
  RetractOutcome,
  StoreTotals,
  StoredEnvelope,
  SweepResult,
} from '../types.js';

/** Options of {@link LevelStore}; the fail-safe settings are described in `failsafe.ts`. */
export interface LevelStoreOptions extends FailSafeSettings {
  /** Directory of the LevelDB database (created if missing). */
  location: string;
  /** How long an `expired` tombstone answers status queries after expiry (ms). Default 24 h. */
  expiredRetentionMs?: number;
  /** Metrics hook called after every batch. */
  onBatch?: BatchObserver;
}

/** Observes each batch: ops written, whether synced, duration in seconds, and success. */
export type BatchObserver = (info: { ops: number; sync: boolean; seconds: number; ok: boolean }) => void;

/** One submission to the group commit: its ops, and whether it needs them fsynced before it resolves. */
interface Write {
  ops: BatchOp[];
  sync: boolean;
}

const EMPTY = Buffer.alloc(0);

function unavailable(e: unknown): LnMailboxError {
  if (e instanceof LnMailboxError) return e;
  const code = (e as { code?: unknown })?.code;
  return new LnMailboxError(ErrorCode.STORE_UNAVAILABLE, `store unavailable${typeof code === 'string' ? ` (${code})` : ''}`, { cause: e });
}

/**
 * LevelDB's write buffer for the relay store. Bigger than LevelDB's 4 MiB
 * (fewer, larger level-0 tables under load), but bounded: a reopen turns the
 * live log into a table, so recovering from a full disk needs about this much
 * free space, and the acknowledgement ledger's window must cover two of them
 * (the live logs). 32 MiB measured slightly faster with a million envelopes
 * stored, and broke both.
 */
export const WRITE_BUFFER_BYTES = 8 << 20;

/** LevelDB-backed {@link RelayStore}. */
export class LevelStore implements RelayStore {
  readonly #db: LevelDb;
  readonly #expiredRetentionMs: number;
  readonly #commit: GroupCommit<Write>;
  readonly #onBatch: BatchObserver | undefined;
  readonly #serial = new KeyedQueue();
  readonly #counters = new LevelCounters();
  readonly #listeners = new Set<AppendListener>();
  readonly #active = new Set<Promise<unknown>>();
  #ids = new IdFilter();
  #state: 'new' | 'opening' | 'open' | 'closing' | 'closed' = 'new';
  #opening: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  readonly #safe: LevelFailSafe;
  readonly #slots: SlotContext;

  constructor(options: LevelStoreOptions) {
    if (typeof options?.location !== 'string' || options.location.length === 0)
      fail(ErrorCode.INVALID_TYPE, 'LevelStore: location must be a non-empty path');
    for (const k of ['minFreeBytes', 'minFreePercent'] as const) {
      const v = options[k];
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 0))
        fail(ErrorCode.INVALID_RANGE, `LevelStore: ${k} must be a non-negative integer`);
    }
    this.#db = new Level<Buffer, Buffer>(options.location, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      writeBufferSize: WRITE_BUFFER_BYTES,
      maxFileSize: 16 << 20,
      compression: false,
    });
    this.#expiredRetentionMs = options.expiredRetentionMs ?? DEFAULT_EXPIRED_RETENTION_MS;
    this.#safe = new LevelFailSafe(
      {
        location: options.location,
        isOpen: () => this.#state === 'open',
        quiesce: async () => {
          await Promise.allSettled([...this.#active]);
          await this.#commit.flush();
        },
        reopen: async () => {
          if (this.#db.status === 'open') await this.#db.close();
          if (this.#state !== 'open') throw new LnMailboxError(ErrorCode.STORE_UNAVAILABLE, 'store is closing');
          await this.#db.open({ createIfMissing: false });
          await this.#load();
        },
        reader: { getMany: (keys) => this.#db.getMany(keys) },
        seqs: () => this.#counters.lastSeqs(),
      },
      options,
    );
    this.#onBatch = options.onBatch;
    this.#commit = new GroupCommit<Write>((writes) => this.#flushBatch(writes));
    this.#slots = { db: this.#db, serial: this.#serial, submit: (ops) => this.#submit(ops) };
  }

  /**
   * The group commit's flush: one LevelDB batch for every submission that
   * waited, plus the counter records they changed (so counters and data can
   * never be out of step on disk), fsynced when any submission asked for it.
   */
  async #flushBatch(writes: Write[]): Promise<undefined[]> {
    const ops: BatchOp[] = [];
    let sync = false;
    for (const w of writes) {
      for (const op of w.ops) ops.push(op);
      if (w.sync) sync = true;
    }
    const started = performance.now();
    let ok = false;
    try {
      for (const op of this.#counters.dirtyOps()) ops.push(op);
      await this.#writeBatch(ops, sync);
      ok = true;
    } finally {
      try {
        this.#onBatch?.({ ops: ops.length, sync, seconds: (performance.now() - started) / 1000, ok });
      } catch {
        // A metrics hook's fault must not fail a durable batch.
      }
    }
    return new Array<undefined>(writes.length).fill(undefined);
  }

  /** Submits `ops` to the next batch; resolves once it is durable (see {@link GroupCommit}). */
  #submit(ops: BatchOp[], hooks: SubmitHooks & { sync?: boolean } = {}): Promise<void> {
    return this.#commit.submit({ ops, sync: hooks.sync !== false }, hooks);
  }

  /** Writes one batch through the fail-safe path (refused while the store is not healthy). */
  #writeBatch(ops: BatchOp[], sync: boolean): Promise<void> {
    // The chained batch form: abstract-level's array form costs ~3x more CPU per op
    // (bench/: ~20 µs vs ~6 µs), the relay's top hotspot under ingest (docs/performance.md).
    return this.#safe.write(ops, sync, () => {
      const b = this.#db.batch();
      for (const op of ops) {
        if (op.type === 'put') b.put(op.key, op.value);
        else b.del(op.key);
      }
      return b.write({ sync });
    });
  }

  /** The store's write health (state, free space, refusals, recoveries). */
  health(): StoreHealth {
    return this.#safe.health();
  }

  open(): Promise<void> {
    if (this.#state === 'open') return Promise.resolve();
    if (this.#state === 'closing' || this.#state === 'closed')
      return Promise.reject(new LnMailboxError(ErrorCode.STORE_UNAVAILABLE, 'store is closed'));
    this.#opening ??= this.#open();
    return this.#opening;
  }

  async #open(): Promise<void> {
    this.#state = 'opening';
    try {
      await this.#db.open({ createIfMissing: true });
      await this.#load();
      await this.#safe.started();
      this.#state = 'open';
    } catch (e) {
      this.#state = 'closed';
      throw unavailable(e);
    }
  }

  /** Loads counters and the id filter from the open database, replacing what memory held. */
  async #load(): Promise<void> {
    this.#counters.clear();
    await loadCounters(this.#db, this.#counters);
    this.#ids = await loadIds(this.#db, this.#counters.totals().envelopes);
  }

  /**
   * Wraps a public operation: refuses when not open, or (writes) when not
   * healthy; maps I/O errors; lets close() and recovery wait for it. (The
   * free-space reserve is checked in append, after the duplicate check.)
   */
  #op<T>(fn: () => Promise<T>, kind: 'read' | 'write' = 'read'): Promise<T> {
    if (this.#state !== 'open') return Promise.reject(new LnMailboxError(ErrorCode.STORE_UNAVAILABLE, `store is ${this.#state}`));
    if (kind === 'write') {
      const refused = this.#safe.refusal(false);
      if (refused) return Promise.reject(refused);
    } else if (!this.#safe.readable) return Promise.reject(new LnMailboxError(ErrorCode.STORE_UNAVAILABLE, `store is ${this.#safe.state}`));
    const p = fn().catch((e: unknown) => {
      throw unavailable(e);
    });
    this.#active.add(p);
    const done = () => this.#active.delete(p);
    p.then(done, done);
    return p;
  }

  async #getMeta(id: Buffer): Promise<Meta | undefined> {
    const v = await this.#db.get(metaKey(id));
    return v === undefined ? undefined : decodeMeta(v);
  }

  append(req: AppendRequest, quota: MailboxQuota): Promise<AppendResult> {
    return this.#op(
      () =>
        this.#serial.run(req.id, async () => {
          const id = Buffer.from(req.id, 'hex');
          // Only a filter "maybe" costs a read: new envelopes go straight to the batch.
          const existing = this.#ids.mightContain(id) ? await this.#getMeta(id) : undefined;
          if (existing) return { created: false, seq: existing.seq, expiresAt: existing.expiresAt };
          // Below the free-space reserve only new envelopes are refused: a re-post of a stored one still gets its 200.
          const refused = this.#safe.refusal(true);
          if (refused) throw refused;
          const size = req.envelope.length;
          const c = this.#counters.get(req.mailbox);
          if (c.count + 1 > quota.maxEnvelopes)
            fail(ErrorCode.MAILBOX_FULL, `mailbox holds ${c.count} envelopes, the maximum is ${quota.maxEnvelopes}`);
          if (c.bytes + size > quota.maxBytes)
            fail(ErrorCode.MAILBOX_FULL, `mailbox holds ${c.bytes} bytes, the maximum is ${quota.maxBytes}`);
          if (c.lastSeq >= MAX_STORED_INT || req.expiresAt > MAX_STORED_INT) fail(ErrorCode.INVALID_RANGE, 'seq or expiry out of range');
          c.lastSeq += 1;
          const seq = c.lastSeq;
          this.#ids.add(id);
          this.#counters.adjust(req.mailbox, c, 1, size);
          const mailbox = Buffer.from(req.mailbox, 'hex');
          const meta: Meta = { state: EnvelopeState.live, mailbox, seq, expiresAt: req.expiresAt, size };
          if (req.retractionHash !== undefined) meta.retractionHash = Buffer.from(req.retractionHash, 'hex');
          const stored: StoredEnvelope = { id: req.id, seq, envelope: req.envelope, expiresAt: req.expiresAt };
          await this.#submit(
            [
              { type: 'put', key: metaKey(id), value: encodeMeta(meta) },
              { type: 'put', key: bodyKey(mailbox, seq), value: encodeBody(id, req.expiresAt, req.envelope) },
              { type: 'put', key: expiryKey(req.expiresAt, id), value: EMPTY },
            ],
            {
              undo: () => this.#counters.adjust(req.mailbox, c, -1, -size),
              committed: () => {
                for (const l of this.#listeners) l(req.mailbox, stored);
              },
            },
          );
          return { created: true, seq, expiresAt: req.expiresAt };
        }),
      'write',
    );
  }

  list(mailbox: string, after: number, limit: number, now: number, maxBytes = Infinity): Promise<ListResult> {
    return this.#op(async () => {
      if (limit <= 0) return { envelopes: [], more: this.usage(mailbox).count > 0 };
      return listLive(this.#db, mailbox, after, limit, now, maxBytes);
    });
  }

  markDelivered(ids: readonly string[]): void {
    if (this.#state !== 'open' || this.#safe.state !== 'ok' || ids.length === 0) return;
    // A blind put: no read, no lock. Status only honours the flag on a live
    // record, and ack/retract/expiry/purge delete it, so a flag racing an ack
    // is harmless (SPEC 5: `delivered` is informational).
    const ops: BatchOp[] = ids.map((id) => ({ type: 'put', key: deliveredKey(Buffer.from(id, 'hex')), value: EMPTY }));
    this.#submit(ops, { sync: false }).catch(() => undefined);
  }

  ack(mailbox: string, ids: readonly string[]): Promise<string[]> {
    return this.#op(async () => {
      const results = await Promise.all(
        ids.map((id) => this.#serial.run(id, () => this.#tombstone(id, mailbox, EnvelopeState.acknowledged))),
      );
      return ids.filter((_, i) => results[i]);
    }, 'write');
  }

  /**
   * Turns a live envelope into a tombstone (`acknowledged` or `retracted`):
   * deletes the body and delivered flag, keeps a meta record until the
   * original expiry (its expiry index entry stays as it is).
   */
  async #tombstone(idHex: string, mailbox: string | undefined, state: EnvelopeState): Promise<boolean> {
    const id = Buffer.from(idHex, 'hex');
    const meta = await this.#getMeta(id);
    if (!meta || meta.state !== EnvelopeState.live) return false;
    const owner = meta.mailbox.toString('hex');
    // An ack only ever deletes the caller's own mail (AUTH, SPEC 5).
    if (mailbox !== undefined && owner !== mailbox) return false;
    const c = this.#counters.get(owner);
    this.#counters.adjust(owner, c, -1, -meta.size);
    await this.#submit(
      [
        { type: 'put', key: metaKey(id), value: encodeMeta({ ...meta, state }) },
        { type: 'del', key: bodyKey(meta.mailbox, meta.seq) },
        { type: 'del', key: deliveredKey(id) },
      ],
      { undo: () => this.#counters.adjust(owner, c, 1, meta.size) },
    );
    return true;
  }

  retract(id: string, secretHash: string, now: number): Promise<RetractOutcome> {
    return this.#op(
      () =>
        this.#serial.run(id, async () => {
          const meta = await this.#getMeta(Buffer.from(id, 'hex'));
          if (!meta || this.#statusOf(meta, false, now) === undefined) fail(ErrorCode.ENVELOPE_NOT_FOUND, 'no such envelope');
          if (!meta.retractionHash || !equalBytes(meta.retractionHash, Buffer.from(secretHash, 'hex')))
            fail(ErrorCode.RETRACT_FORBIDDEN, 'retraction secret does not match');
          if (meta.state === EnvelopeState.acknowledged)
            fail(ErrorCode.RETRACT_TOO_LATE, 'envelope was already acknowledged by the recipient');
          if (meta.state === EnvelopeState.retracted) return 'retracted';
          // Expired (swept or not) is never served again: nothing left to retract.
          if (meta.state === EnvelopeState.expired || meta.expiresAt <= now) return 'expired';
          await this.#tombstone(id, undefined, EnvelopeState.retracted);
          return 'retracted';
        }),
      'write',
    );
  }

  #statusOf(meta: Meta, delivered: boolean, now: number): EnvelopeStatus | undefined {
    return statusAt(meta.state, meta.expiresAt, delivered, now, this.#expiredRetentionMs);
  }

  status(id: string, now: number): Promise<EnvelopeStatus | undefined> {
    return this.#op(async () => {
      const key = Buffer.from(id, 'hex');
      const [m, d] = await this.#db.getMany([metaKey(key), deliveredKey(key)]);
      if (m === undefined) return undefined;
      return this.#statusOf(decodeMeta(m), d !== undefined, now);
    });
  }

  sweep(now: number, limit = 1000): Promise<SweepResult> {
    return this.#op(async () => {
      const keys = await this.#db.keys({ gte: Buffer.from([Table.expiry]), lt: expiryUpperBound(now), limit }).all();
      const outcomes = await Promise.all(
        keys.map((key) => {
          const { deadline, id } = parseExpiryKey(key);
          return this.#serial.run(id.toString('hex'), () => this.#sweepOne(key, deadline, Buffer.from(id), now));
        }),
      );
      let expired = 0;
      let purged = 0;
      for (const o of outcomes) {
        if (o === 'expired') expired++;
        else if (o === 'purged') purged++;
      }
      return { expired, purged, more: keys.length === limit };
    }, 'write');
  }

  async #sweepOne(key: Buffer, deadline: number, id: Buffer, now: number): Promise<'expired' | 'purged' | 'stale'> {
    const meta = await this.#getMeta(id);
    // Sweep writes need no fsync of their own: if they are lost in a crash the
    // envelope is expired again by the next sweep, and reads filter by time anyway.
    // They still ride in the same batches as ingest, so a synced batch carries them.
    if (!meta) {
      await this.#submit([{ type: 'del', key }], { sync: false });
      return 'stale';
    }
    if (meta.state === EnvelopeState.live) {
      if (meta.expiresAt > now) return 'stale';
      const owner = meta.mailbox.toString('hex');
      const c = this.#counters.get(owner);
      this.#counters.adjust(owner, c, -1, -meta.size);
      const retainUntil = Math.min(meta.expiresAt + this.#expiredRetentionMs, MAX_STORED_INT);
      await this.#submit(
        [
          { type: 'put', key: metaKey(id), value: encodeMeta({ ...meta, state: EnvelopeState.expired }) },
          { type: 'del', key: bodyKey(meta.mailbox, meta.seq) },
          { type: 'del', key: deliveredKey(id) },
          { type: 'del', key },
          { type: 'put', key: expiryKey(retainUntil, id), value: EMPTY },
        ],
        { undo: () => this.#counters.adjust(owner, c, 1, meta.size), sync: false },
      );
      return 'expired';
    }
    // A tombstone whose retention ended (`deadline` is its retention end).
    if (deadline > now) return 'stale';
    await this.#submit(
      [
        { type: 'del', key: metaKey(id) },
        { type: 'del', key: deliveredKey(id) },
        { type: 'del', key },
      ],
      { sync: false },
    );
    return 'purged';
  }

  putRecord(mailbox: string, name: string, value: Uint8Array, maxRecords: number): Promise<void> {
    return this.#op(async () => {
      // A record is new data: below the free-space reserve it is refused like a new envelope.
      const refused = this.#safe.refusal(true);
      if (refused) throw refused;
      return putSlot(this.#slots, mailbox, name, value, maxRecords);
    }, 'write');
  }

  getRecord(mailbox: string, name: string): Promise<Uint8Array | undefined> {
    return this.#op(() => getSlot(this.#slots, mailbox, name));
  }

  deleteRecord(mailbox: string, name: string): Promise<boolean> {
    return this.#op(() => deleteSlot(this.#slots, mailbox, name), 'write');
  }

  listRecords(mailbox: string): Promise<string[]> {
    return this.#op(() => listSlots(this.#slots, mailbox));
  }

  usage(mailbox: string): MailboxUsage {
    return this.#counters.usage(mailbox);
  }

  totals(): StoreTotals {
    return this.#counters.totals();
  }

  onAppend(listener: AppendListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  flush(): Promise<void> {
    return this.#commit.flush();
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#opening) await this.#opening.catch(() => undefined);
    const wasOpen = this.#state === 'open';
    this.#state = 'closing';
    await this.#safe.stop();
    await Promise.allSettled([...this.#active]);
    await this.#commit.flush();
    this.#listeners.clear();
    if (wasOpen || this.#db.status === 'open') await this.#db.close().catch(() => undefined);
    this.#state = 'closed';
  }
}
