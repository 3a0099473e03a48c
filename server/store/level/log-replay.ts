/**
 * Opening the LevelDB store replays the envelope log's tail into the index
 * (docs/design.md, "The envelope log is the write-ahead log").
 *
 * The index is written without its own fsync: what makes a batch durable is
 * the fsynced log write before it. So after a power cut the index may lack
 * the effects of the last batches, and this module puts them back from the
 * log records above the checkpoint (every record up to the checkpoint is
 * known to be in the index on disk). Records are read in append order:
 *
 * - an envelope record whose envelope the index does not know is indexed
 *   again, exactly as its append wrote it (same meta, body reference and
 *   expiry entry), unless it has expired meanwhile;
 * - a tombstone record (an ack, a retraction or an expiry) whose envelope
 *   the index still holds live, or does not hold at all, is applied again,
 *   exactly as its batch wrote it, so that a re-post stays a duplicate;
 * - an envelope record that its own tombstone has ended, or that has
 *   expired unindexed, is deleted.
 *
 * An id can be stored again after its tombstone was purged (the same bytes
 * posted anew), so a record and the index's meta may describe different
 * lives of one id. Each meta keeps the number of its envelope record, and a
 * record only ever changes the index when the meta there is of an older
 * life, or of its own. A meta whose life cannot be ordered against the
 * record (one written before the log existed) is left alone: a leaked
 * record is better than a lost envelope.
 *
 * Replaying is idempotent, so a crash during a replay is followed by the
 * same replay. Every mailbox a replayed record belongs to is counted again
 * from its body records, because a counter record may have survived from a
 * batch later than one that was lost (LevelDB orders its unsynced writes
 * only within one log file).
 * @module
 */
import { Buffer } from 'node:buffer';
import { EnvelopeState, MAX_STORED_INT } from '../lifecycle.js';
import type { IdFilter } from './id-filter.js';
import type { LevelCounters } from './counters.js';
import { writeOps, type LevelDb } from './scans.js';
import {
  Table,
  blobKey,
  blobKeyNumber,
  bodyKey,
  counterKey,
  decodeBody,
  decodeLogEnvelope,
  decodeLogTombstone,
  decodeMeta,
  deliveredKey,
  encodeBodyRef,
  encodeCounter,
  encodeMeta,
  expiryKey,
  isLogTombstone,
  metaKey,
  type BatchOp,
  type LogEnvelope,
  type Meta,
} from './records.js';

/** What one replay found and did. */
export interface ReplayResult {
  /** Log records above the checkpoint that were read (envelopes and tombstones). */
  records: number;
  /** Envelopes indexed again (their index entry was missing). */
  reindexed: number;
  /** Acks, retractions and expiries applied again (the index still held the envelope live, or not at all). */
  tombstones: number;
  /** Envelope records deleted because their envelope ended or expired. */
  orphans: number;
  /** The highest record number in the log, or the checkpoint if higher (0 for an empty store). */
  last: number;
  /** Numbers of the tombstone records above the checkpoint: they go once a checkpoint covers them. */
  tombs: number[];
}

/** What a replay works on. */
export interface ReplayContext {
  /** The checkpoint read from the index: every record up to it is in the index on disk. */
  checkpoint: number;
  /** The counters as loaded from disk; the replayed mailboxes' are replaced. */
  counters: LevelCounters;
  /** The id filter as loaded from disk; ids indexed again are added. */
  ids: IdFilter;
  now: number;
  /** How long an expired tombstone is kept (its retention deadline is its expiry plus this). */
  expiredRetentionMs: number;
}

const CHUNK = 256;
const EMPTY = Buffer.alloc(0);

/** How the life of the id that `current` (the index's meta) describes compares with a record's `life`. */
type Order = 'older' | 'same' | 'newer' | 'unknown';

function order(current: Meta, life: { blob?: number | undefined; mailbox: Buffer; seq: number }): Order {
  if (current.blob !== undefined && life.blob !== undefined)
    return current.blob === life.blob ? 'same' : current.blob < life.blob ? 'older' : 'newer';
  if (!current.mailbox.equals(life.mailbox)) return 'unknown';
  // Seqs grow within a mailbox: a later life has a higher seq.
  return current.seq === life.seq ? 'same' : current.seq < life.seq ? 'older' : 'newer';
}

/** The highest record number in the log, 0 when it is empty. */
async function lastNumber(log: LevelDb): Promise<number> {
  const keys = await log.keys({ gte: Buffer.from([Table.blob]), lt: Buffer.from([Table.blob + 1]), reverse: true, limit: 1 }).all();
  return keys.length > 0 ? blobKeyNumber(keys[0]!) : 0;
}

/** Reads the metas of `ids` in one `getMany`. */
async function metasOf(db: LevelDb, ids: Buffer[]): Promise<(Meta | undefined)[]> {
  const values = await db.getMany(ids.map(metaKey));
  return values.map((v) => (v === undefined ? undefined : decodeMeta(v)));
}

/**
 * Replays the log records above the checkpoint into the index, counts the
 * replayed mailboxes again, and writes the result to the index (fsynced) and
 * the deletions of ended records to the log. Updates the context's counters
 * and id filter in place.
 */
export async function replayLog(index: LevelDb, log: LevelDb, ctx: ReplayContext): Promise<ReplayResult> {
  const { checkpoint, now } = ctx;
  const result: ReplayResult = { records: 0, reindexed: 0, tombstones: 0, orphans: 0, last: 0, tombs: [] };
  const indexOps: BatchOp[] = [];
  const logDels: BatchOp[] = [];
  /** Metas this replay wrote (or deleted), by id (hex): later records see them, not the disk's. */
  const written = new Map<string, Meta | undefined>();
  const touched = new Map<string, Buffer>();
  const maxSeq = new Map<string, number>();

  const touch = (mailbox: Buffer, seq: number): void => {
    const hex = mailbox.toString('hex');
    touched.set(hex, mailbox);
    maxSeq.set(hex, Math.max(maxSeq.get(hex) ?? 0, seq));
  };

  /** Ends the index's entry of a live meta (its body reference and delivered flag). */
  const unlist = (id: Buffer, meta: Meta): void => {
    indexOps.push({ type: 'del', key: bodyKey(meta.mailbox, meta.seq) }, { type: 'del', key: deliveredKey(id) });
  };

  const replayEnvelope = (n: number, key: Buffer, e: LogEnvelope, meta: Meta | undefined): void => {
    touch(e.mailbox, e.seq);
    const o = meta ? order(meta, { blob: n, mailbox: e.mailbox, seq: e.seq }) : 'older';
    if (o === 'unknown') return;
    const live = o === 'same' && meta!.state === EnvelopeState.live;
    if (live) return;
    if (o !== 'older' || e.expiresAt <= now) {
      // Ended by its own tombstone, superseded by a later life of its id, or expired unindexed
      // (never served again; its tombstone may even have been purged).
      logDels.push({ type: 'del', key });
      result.orphans++;
      return;
    }
    if (meta?.state === EnvelopeState.live) unlist(e.id, meta);
    const m: Meta = { state: EnvelopeState.live, mailbox: e.mailbox, seq: e.seq, expiresAt: e.expiresAt, size: e.envelope.length, blob: n };
    if (e.retractionHash) m.retractionHash = e.retractionHash;
    indexOps.push(
      { type: 'put', key: metaKey(e.id), value: encodeMeta(m) },
      { type: 'put', key: bodyKey(e.mailbox, e.seq), value: encodeBodyRef(e.id, e.expiresAt, n) },
      { type: 'put', key: expiryKey(e.expiresAt, e.id), value: EMPTY },
    );
    written.set(e.id.toString('hex'), m);
    ctx.ids.add(e.id);
    result.reindexed++;
  };

  const replayTombstone = (n: number, id: Buffer, t: Meta, meta: Meta | undefined): void => {
    result.tombs.push(n);
    touch(t.mailbox, t.seq);
    const o = meta ? order(meta, t) : 'older';
    if (o === 'newer' || o === 'unknown') return;
    // The record this tombstone ended: its batch deleted it with the tombstone, or should have.
    if (t.blob !== undefined) logDels.push({ type: 'del', key: blobKey(t.blob) });
    if (o === 'same' && meta!.state !== EnvelopeState.live) {
      // Already applied; its body reference goes with it all the same (a lost write may have kept
      // it). Not the delivered flag: a blind mark racing the ack may have put it back, harmlessly.
      indexOps.push({ type: 'del', key: bodyKey(t.mailbox, t.seq) });
      return;
    }
    const deadline = t.state === EnvelopeState.expired ? Math.min(t.expiresAt + ctx.expiredRetentionMs, MAX_STORED_INT) : t.expiresAt;
    if (meta?.state === EnvelopeState.live) unlist(id, meta);
    unlist(id, t);
    if (deadline <= now) {
      // Its retention is over: what the sweeper would purge is not written back.
      if (meta) indexOps.push({ type: 'del', key: metaKey(id) });
      written.set(id.toString('hex'), undefined);
    } else {
      indexOps.push({ type: 'put', key: metaKey(id), value: encodeMeta(t) }, { type: 'put', key: expiryKey(deadline, id), value: EMPTY });
      // An expiry moved the entry from the expiry time to the end of the retention, as the sweep did.
      if (deadline !== t.expiresAt) indexOps.push({ type: 'del', key: expiryKey(t.expiresAt, id) });
      written.set(id.toString('hex'), t);
      ctx.ids.add(id);
    }
    result.tombstones++;
  };

  // Every record above the checkpoint, in append order: an envelope's record comes before its tombstone's.
  const it = log.iterator({ gt: blobKey(checkpoint), lt: Buffer.from([Table.blob + 1]) });
  try {
    for (;;) {
      const entries = await it.nextv(CHUNK);
      if (entries.length === 0) break;
      const records = entries.map(([key, v]) => {
        const n = blobKeyNumber(key);
        return isLogTombstone(v) ? { n, key, tomb: decodeLogTombstone(v) } : { n, key, env: decodeLogEnvelope(v) };
      });
      const ids = records.map((r) => (r.tomb ? r.tomb.id : r.env!.id));
      const onDisk = await metasOf(index, ids);
      records.forEach((r, i) => {
        // What an earlier record of this replay wrote wins over what the disk held.
        const hex = ids[i]!.toString('hex');
        const meta = written.has(hex) ? written.get(hex) : onDisk[i];
        result.records++;
        result.last = r.n;
        if (r.tomb) replayTombstone(r.n, r.tomb.id, r.tomb.meta, meta);
        else replayEnvelope(r.n, r.key, r.env!, meta);
      });
    }
  } finally {
    await it.close();
  }
  result.last = Math.max(checkpoint, result.last, await lastNumber(log));
  if (touched.size === 0) return result;

  for (const [hex, mailbox] of touched) {
    const counted = await countMailbox(index, mailbox, indexOps, written);
    // Seqs are never reused: a mailbox's last seq covers every record the log holds for it.
    const next = { lastSeq: Math.max(ctx.counters.get(hex).lastSeq, maxSeq.get(hex) ?? 0), count: counted.count, bytes: counted.bytes };
    ctx.counters.replace(hex, next);
    indexOps.push({ type: 'put', key: counterKey(mailbox), value: encodeCounter(next) });
  }
  await writeOps(index, indexOps, true);
  if (logDels.length > 0) await writeOps(log, logDels, true);
  return result;
}

/**
 * Counts a mailbox's live envelopes and their bytes from its body records
 * on disk, with this replay's pending writes (`pending`, not yet written)
 * applied on top.
 */
async function countMailbox(
  index: LevelDb,
  mailbox: Buffer,
  pending: readonly BatchOp[],
  written: ReadonlyMap<string, Meta | undefined>,
): Promise<{ count: number; bytes: number }> {
  const lo = bodyKey(mailbox, 0);
  const hi = bodyKey(mailbox, MAX_STORED_INT);
  const bodies = new Map<string, Buffer>();
  const it = index.iterator({ gte: lo, lte: hi });
  try {
    for (;;) {
      const entries = await it.nextv(1024);
      if (entries.length === 0) break;
      for (const [k, v] of entries) bodies.set(k.toString('hex'), decodeBody(v).id);
    }
  } finally {
    await it.close();
  }
  for (const op of pending) {
    if (op.key[0] !== Table.body || op.key.compare(lo) < 0 || op.key.compare(hi) > 0) continue;
    if (op.type === 'put') bodies.set(op.key.toString('hex'), decodeBody(op.value).id);
    else bodies.delete(op.key.toString('hex'));
  }
  const idList = [...bodies.values()];
  let bytes = 0;
  for (let i = 0; i < idList.length; i += 1024) {
    const chunk = idList.slice(i, i + 1024);
    const metas = await metasOf(index, chunk);
    chunk.forEach((id, j) => {
      const hex = id.toString('hex');
      const m = written.has(hex) ? written.get(hex) : metas[j];
      bytes += m?.size ?? 0;
    });
  }
  return { count: idList.length, bytes };
}
