/**
 * The default relay store: LevelDB through `level` (classic-level in Node),
 * in one data directory. Implements {@link RelayStore} (SPEC section 5.12,
 * "Storage contract"); the record layout is in `records.ts`.
 *
 * - Two databases (docs/design.md, "The envelope log is the write-ahead
 *   log"). The envelope log (`blobs/`) holds each envelope's bytes with its
 *   index entry, and each ack and retraction, under numbers drawn in append
 *   order; its keys only grow, so its tables move down LevelDB's levels
 *   without being rewritten. The index (the data directory) holds every
 *   record but the envelope bytes. Inline, the bodies were rewritten by
 *   every compaction, and a store holding a million envelopes spent a third
 *   more CPU per append on it.
 * - A batch writes its part of the log first, fsynced: that write is what
 *   makes an append, an ack or a retraction durable. It holds the new
 *   envelope records, a tombstone record per ack, retraction or expiry, and
 *   the deletion of each envelope record a tombstone retires. Then the
 *   index, unsynced. Every few MiB of log a checkpoint fsyncs both
 *   databases' own log files and records the highest log number the index
 *   holds; opening replays the log above it (`log-replay.ts`). One fsync per
 *   batch, as with a single database.
 * - Every write goes through one {@link GroupCommit}: concurrent appends share
 *   one batch, and an append resolves only after its batch is fsynced.
 * - Per-mailbox counters (last seq, live count, live bytes) live in memory
 *   (`counters.ts`), are loaded once at open, and are persisted in the same
 *   index batch as the envelopes they count, so quota checks are O(1); a
 *   replay counts the mailboxes it changed again.
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
import { join } from 'node:path';
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
import { listLive, loadCounters, loadIds, writeOps, type BlobReader, type LevelDb } from './scans.js';
import { replayLog, type ReplayResult } from './log-replay.js';
import { syncLevelLogs } from './sync-logs.js';
import { deleteSlot, getSlot, listSlots, putSlot, type SlotContext } from './slots.js';
import {
  CHECKPOINT_KEY,
  Table,
  blobKey,
  blobKeyNumber,
  bodyKey,
  decodeMeta,
  decodeU64,
  deliveredKey,
  encodeBodyRef,
  encodeLogEnvelope,
  encodeLogTombstone,
  encodeMeta,
  encodeU64,
  expiryKey,
  expiryUpperBound,
  metaKey,
  parseExpiryKey,
  isLogTombstone,
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
  /**
   * Fault-injection seam for tests: wraps each database write of a batch, in
   * the order they run: `blobs` (the log's part: envelope and tombstone
   * records, retired records' deletion), `index`; and, every few MiB of log,
   * `checkpoint` then `retire` (the tombstone records it covers). `write`
   * performs it; the hook may skip it (as a power cut would lose an
   * unsynced write) or throw.
   */
  stageHook?: (stage: WriteStage, write: () => Promise<void>) => Promise<void>;
  /** Log bytes between two checkpoints (default {@link CHECKPOINT_BYTES}); a replay reads at most about this much. */
  checkpointBytes?: number;
}

/** One database write of a batch (see {@link LevelStoreOptions.stageHook}). */
export type WriteStage = 'blobs' | 'index' | 'retire' | 'checkpoint';

/** Log bytes written between two checkpoints by default: each costs two fsyncs, and bounds what opening replays. */
export const CHECKPOINT_BYTES = 8 << 20;

/** A checkpoint is also taken this long after the last one when anything was logged since (ms). */
export const CHECKPOINT_INTERVAL_MS = 30_000;

/** Observes each batch: ops written, whether synced, duration in seconds, and success. */
export type BatchObserver = (info: { ops: number; sync: boolean; seconds: number; ok: boolean }) => void;

/**
 * One submission to the group commit: its ops, and whether it needs them
 * fsynced before it resolves. A `logged` write is made durable by its log
 * records; any other synced write (a mailbox record) needs the index synced.
 */
interface Write {
  ops: BatchOp[];
  sync: boolean;
  logged?: boolean;
}

/** True for a key of the envelope log (an envelope or a tombstone record). */
function inLog(key: Buffer): boolean {
  return key[0] === Table.blob;
}

const EMPTY = Buffer.alloc(0);

/** The deletion of a live envelope's record in the log, when it has one (none for tombstones and inline bodies). */
function blobDel(meta: Meta): BatchOp[] {
  return meta.blob === undefined ? [] : [{ type: 'del', key: blobKey(meta.blob) }];
}

function unavailable(e: unknown): LnMailboxError {
  if (e instanceof LnMailboxError) return e;
  const code = (e as { code?: unknown })?.code;
  return new LnMailboxError(ErrorCode.STORE_UNAVAILABLE, `store unavailable${typeof code === 'string' ? ` (${code})` : ''}`, { cause: e });
}

/**
 * LevelDB's write buffer for the index database: LevelDB's default, as the
 * index holds about 200 bytes per envelope. Bounded like the envelope
 * log's: a reopen turns each live log into a table, so recovering from
 * a full disk needs about both buffers of free space, and the
 * acknowledgement ledger's window must cover two of each (the live logs).
 */
export const WRITE_BUFFER_BYTES = 4 << 20;

/**
 * LevelDB's write buffer for the envelope log (the envelope bytes).
 * LevelDB's default too: the two buffers together are what the single
 * database had before the bytes moved out (8 MiB), so the free space a
 * recovery needs did not grow. Its keys only grow, so its level-0 tables
 * move down without a merge whatever their size.
 */
export const BLOB_WRITE_BUFFER_BYTES = 4 << 20;

/** The envelope log's directory inside the data directory. */
export const BLOB_DIR = 'blobs';

/** LevelDB-backed {@link RelayStore}. */
export class LevelStore implements RelayStore {
  readonly #db: LevelDb;
  readonly #blobs: LevelDb;
  readonly #location: string;
  /** The next log number to draw (envelope and tombstone records share them); numbers are never reused. */
  #nextBlob = 1;
  /** The highest log number of a batch whose index write completed. */
  #indexed = 0;
  /** Log bytes written since the last checkpoint, and when that checkpoint was taken. */
  #sinceCheckpoint = 0;
  #checkpointAt = 0;
  readonly #checkpointBytes: number;
  /** Tombstone records written (or found at open) that the next checkpoint deletes. */
  #tombs: number[] = [];
  /** What the last open's replay of the log did (tests, operators' logs). */
  #replay: ReplayResult | undefined;
  readonly #expiredRetentionMs: number;
  readonly #commit: GroupCommit<Write>;
  readonly #onBatch: BatchObserver | undefined;
  readonly #stageHook: LevelStoreOptions['stageHook'];
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
    const checkpointBytes = options.checkpointBytes ?? CHECKPOINT_BYTES;
    if (!Number.isSafeInteger(checkpointBytes) || checkpointBytes < 1)
      fail(ErrorCode.INVALID_RANGE, 'LevelStore: checkpointBytes must be a positive integer');
    this.#checkpointBytes = checkpointBytes;
    this.#location = options.location;
    this.#db = new Level<Buffer, Buffer>(options.location, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      writeBufferSize: WRITE_BUFFER_BYTES,
      maxFileSize: 16 << 20,
      compression: false,
    });
    // Envelopes are ciphertext: compression would only cost CPU.
    this.#blobs = new Level<Buffer, Buffer>(join(options.location, BLOB_DIR), {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      writeBufferSize: BLOB_WRITE_BUFFER_BYTES,
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
          if (this.#blobs.status === 'open') await this.#blobs.close();
          if (this.#state !== 'open') throw new LnMailboxError(ErrorCode.STORE_UNAVAILABLE, 'store is closing');
          await this.#db.open({ createIfMissing: false });
          await this.#blobs.open({ createIfMissing: false });
          await this.#load();
        },
        reader: { getMany: (keys) => this.#getMany(keys) },
        seqs: () => this.#counters.lastSeqs(),
      },
      options,
    );
    this.#onBatch = options.onBatch;
    this.#stageHook = options.stageHook;
    this.#commit = new GroupCommit<Write>((writes) => this.#flushBatch(writes));
    this.#slots = { db: this.#db, serial: this.#serial, submit: (ops) => this.#submit(ops) };
  }

  /**
   * The group commit's flush: one batch for every submission that waited,
   * plus the counter records they changed, written as {@link #writeBatch}
   * describes; then a checkpoint when one is due.
   */
  async #flushBatch(writes: Write[]): Promise<undefined[]> {
    const ops: BatchOp[] = [];
    let logSync = false;
    let indexSync = false;
    for (const w of writes) {
      for (const op of w.ops) ops.push(op);
      if (w.sync) {
        if (w.logged) logSync = true;
        else indexSync = true;
      }
    }
    const started = performance.now();
    let ok = false;
    let logged = 0;
    let last = 0;
    try {
      for (const op of this.#counters.dirtyOps()) ops.push(op);
      for (const op of ops) {
        if (op.type !== 'put' || !inLog(op.key)) continue;
        logged += op.key.length + op.value.length;
        last = blobKeyNumber(op.key);
        if (isLogTombstone(op.value)) this.#tombs.push(last);
      }
      await this.#writeBatch(ops, logSync, indexSync);
      ok = true;
    } finally {
      try {
        this.#onBatch?.({ ops: ops.length, sync: logSync || indexSync, seconds: (performance.now() - started) / 1000, ok });
      } catch {
        // A metrics hook's fault must not fail a durable batch.
      }
    }
    // Numbers are drawn in submission order, so the batch's last log record is its highest.
    if (last > this.#indexed) this.#indexed = last;
    this.#sinceCheckpoint += logged;
    if (
      this.#sinceCheckpoint >= this.#checkpointBytes ||
      (this.#sinceCheckpoint > 0 && performance.now() - this.#checkpointAt >= CHECKPOINT_INTERVAL_MS)
    ) {
      // A failed checkpoint fails the store (recovery replays from the last good one); this
      // batch is durable all the same, so its submissions still succeed.
      await this.#checkpoint().catch(() => undefined);
    }
    return new Array<undefined>(writes.length).fill(undefined);
  }

  /**
   * Records that the index holds every log record up to `#indexed`: fsyncs
   * the index's LevelDB log files (which hold its unsynced writes;
   * `sync-logs.ts`), then writes the checkpoint synced, then deletes the
   * tombstone records it covers. Runs only between batches (in the group
   * commit's flush, or at close), so no index write is in flight.
   */
  async #checkpoint(): Promise<void> {
    const upTo = this.#indexed;
    // The acknowledgement ledger is not told: every open writes its own checkpoint, so the check
    // after a reopen must not expect this one.
    await this.#safe.write([], true, () => this.#stage('checkpoint', () => this.#writeCheckpoint(upTo)));
    this.#sinceCheckpoint = 0;
    this.#checkpointAt = performance.now();
    const covered = this.#tombs.filter((n) => n <= upTo);
    if (covered.length === 0) return;
    this.#tombs = this.#tombs.filter((n) => n > upTo);
    // Unsynced: a power cut can only leave the records in the log, where nothing reads them again.
    const dels: BatchOp[] = covered.map((n) => ({ type: 'del', key: blobKey(n) }));
    await this.#safe.write([], false, () => this.#stage('retire', () => writeOps(this.#blobs, dels, false)));
  }

  #stage(name: WriteStage, write: () => Promise<void>): Promise<void> {
    return this.#stageHook ? this.#stageHook(name, write) : write();
  }

  /** Submits `ops` to the next batch; resolves once it is durable (see {@link GroupCommit}). */
  #submit(ops: BatchOp[], hooks: SubmitHooks & { sync?: boolean; logged?: boolean } = {}): Promise<void> {
    return this.#commit.submit({ ops, sync: hooks.sync !== false, logged: hooks.logged === true }, hooks);
  }

  /**
   * Writes one batch through the fail-safe path (refused while the store is
   * not healthy): first the log's part, in one atomic LevelDB batch (fsynced
   * when a logged submission asked for it): new envelope records, tombstone
   * records, and the deletion of each record a tombstone retires, which is
   * safe because a replay applies the tombstone that came with it. Then the
   * index, fsynced only for a synced write the log does not cover (a mailbox
   * record). So the index never names a record that is not on disk.
   */
  #writeBatch(ops: BatchOp[], logSync: boolean, indexSync: boolean): Promise<void> {
    const log: BatchOp[] = [];
    const index: BatchOp[] = [];
    const ledger: BatchOp[] = [];
    for (const op of ops) {
      (inLog(op.key) ? log : index).push(op);
      // Tombstone records are not acknowledged state: once a replay or checkpoint has put their
      // effect in the index they go, and the check after a reopen must not miss them.
      if (!(op.type === 'put' && inLog(op.key) && isLogTombstone(op.value))) ledger.push(op);
    }
    return this.#safe.write(ledger, logSync || indexSync, async () => {
      if (log.length > 0) await this.#stage('blobs', () => writeOps(this.#blobs, log, logSync));
      if (index.length > 0) await this.#stage('index', () => writeOps(this.#db, index, indexSync));
    });
  }

  /** Reads keys of either database, each from its own (the fail-safe check after a reopen). */
  async #getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]> {
    const out = new Array<Buffer | undefined>(keys.length);
    const parts: [LevelDb, number[]][] = [
      [this.#db, []],
      [this.#blobs, []],
    ];
    keys.forEach((k, i) => parts[inLog(k) ? 1 : 0]![1].push(i));
    for (const [db, at] of parts) {
      if (at.length === 0) continue;
      const values = await db.getMany(at.map((i) => keys[i]!));
      at.forEach((i, j) => {
        out[i] = values[j];
      });
    }
    return out;
  }

  /** Reads envelope records from the log (listing). */
  readonly #readBlobs: BlobReader = (keys) => this.#blobs.getMany(keys);

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
      await this.#blobs.open({ createIfMissing: true });
      await this.#load();
      await this.#safe.started();
      this.#state = 'open';
    } catch (e) {
      this.#state = 'closed';
      throw unavailable(e);
    }
  }

  /**
   * Loads counters and the id filter from the open databases, replacing what
   * memory held, and replays the envelope log above the checkpoint into the
   * index (`log-replay.ts`): what a power cut took from the unsynced index,
   * the fsynced log gives back. Then checkpoints what it replayed.
   */
  async #load(): Promise<void> {
    this.#counters.clear();
    await loadCounters(this.#db, this.#counters);
    this.#ids = await loadIds(this.#db, this.#counters.totals().envelopes);
    const stored = await this.#db.get(CHECKPOINT_KEY);
    const checkpoint = stored === undefined ? 0 : decodeU64(stored);
    const replay = await replayLog(this.#db, this.#blobs, {
      checkpoint,
      counters: this.#counters,
      ids: this.#ids,
      now: Date.now(),
      expiredRetentionMs: this.#expiredRetentionMs,
    });
    if (replay.last > checkpoint) await this.#writeCheckpoint(replay.last);
    // The checkpoint covers the tombstone records the replay read: they go now.
    if (replay.tombs.length > 0)
      await writeOps(
        this.#blobs,
        replay.tombs.map((n) => ({ type: 'del', key: blobKey(n) })),
        false,
      );
    this.#replay = replay;
    this.#tombs = [];
    this.#indexed = replay.last;
    this.#sinceCheckpoint = 0;
    this.#checkpointAt = performance.now();
    // Never reuse a number, not even a deleted record's.
    this.#nextBlob = replay.last + 1;
  }

  /**
   * fsyncs both databases' LevelDB logs (the index's unsynced writes, and the
   * log's unsynced ones: sweeps), then writes the checkpoint `upTo`, synced.
   */
  async #writeCheckpoint(upTo: number): Promise<void> {
    await syncLevelLogs(this.#location);
    await syncLevelLogs(join(this.#location, BLOB_DIR));
    await writeOps(this.#db, [{ type: 'put', key: CHECKPOINT_KEY, value: encodeU64(upTo) }], true);
  }

  /** What the last open (or recovery) replayed from the envelope log; undefined before the first open. */
  get lastReplay(): Readonly<ReplayResult> | undefined {
    return this.#replay;
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
          const blob = this.#nextBlob++;
          this.#ids.add(id);
          this.#counters.adjust(req.mailbox, c, 1, size);
          const mailbox = Buffer.from(req.mailbox, 'hex');
          const meta: Meta = { state: EnvelopeState.live, mailbox, seq, expiresAt: req.expiresAt, size, blob };
          if (req.retractionHash !== undefined) meta.retractionHash = Buffer.from(req.retractionHash, 'hex');
          const stored: StoredEnvelope = { id: req.id, seq, envelope: req.envelope, expiresAt: req.expiresAt };
          await this.#submit(
            [
              {
                type: 'put',
                key: blobKey(blob),
                value: encodeLogEnvelope({
                  id,
                  mailbox,
                  seq,
                  expiresAt: req.expiresAt,
                  retractionHash: meta.retractionHash,
                  envelope: req.envelope,
                }),
              },
              { type: 'put', key: metaKey(id), value: encodeMeta(meta) },
              { type: 'put', key: bodyKey(mailbox, seq), value: encodeBodyRef(id, req.expiresAt, blob) },
              { type: 'put', key: expiryKey(req.expiresAt, id), value: EMPTY },
            ],
            {
              logged: true,
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
      return listLive(this.#db, this.#readBlobs, mailbox, after, limit, now, maxBytes);
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
   * logs the change (the record that makes it durable), deletes the body,
   * its envelope record and the delivered flag, and keeps a meta record
   * until the original expiry (its expiry index entry stays as it is).
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
    const n = this.#nextBlob++;
    // The tombstone keeps its record's number: it names the incarnation of the id it ends.
    const tombstone: Meta = { ...meta, state };
    await this.#submit(
      [
        { type: 'put', key: blobKey(n), value: encodeLogTombstone(id, tombstone) },
        { type: 'put', key: metaKey(id), value: encodeMeta(tombstone) },
        { type: 'del', key: bodyKey(meta.mailbox, meta.seq) },
        { type: 'del', key: deliveredKey(id) },
        ...blobDel(meta),
      ],
      { logged: true, undo: () => this.#counters.adjust(owner, c, 1, meta.size) },
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
      const tombstone: Meta = { ...meta, state: EnvelopeState.expired };
      const n = this.#nextBlob++;
      await this.#submit(
        [
          // Logged like an ack (unsynced): a replay that finds it applies it, and its record's deletion is
          // in the same log write, so the log never loses a record whose tombstone it lacks.
          { type: 'put', key: blobKey(n), value: encodeLogTombstone(id, tombstone) },
          { type: 'put', key: metaKey(id), value: encodeMeta(tombstone) },
          { type: 'del', key: bodyKey(meta.mailbox, meta.seq) },
          { type: 'del', key: deliveredKey(id) },
          { type: 'del', key },
          { type: 'put', key: expiryKey(retainUntil, id), value: EMPTY },
          ...blobDel(meta),
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
    // Nothing is in flight now: a last checkpoint spares the next open a replay.
    if (wasOpen && this.#sinceCheckpoint > 0 && this.#safe.state === 'ok') await this.#checkpoint().catch(() => undefined);
    this.#listeners.clear();
    if (wasOpen || this.#db.status === 'open') await this.#db.close().catch(() => undefined);
    if (wasOpen || this.#blobs.status === 'open') await this.#blobs.close().catch(() => undefined);
    this.#state = 'closed';
  }
}
