/**
 * Opening the LevelDB store replays the envelope log's tail into the index
 * (docs/design.md, "The envelope log is the write-ahead log").
 *
 * The index is written without its own fsync: what makes a batch durable is
 * the fsynced log write before it. So after a power cut the index may lack
 * the effects of the last batches, and this module puts them back from the
 * log records above the checkpoint (every record up to the checkpoint is
 * known to be in the index on disk):
 *
 * - an envelope record whose envelope the index does not know is indexed
 *   again, exactly as its append wrote it (same meta, body reference and
 *   expiry entry), unless it has expired meanwhile;
 * - a tombstone record (an ack or a retraction) whose envelope the index
 *   still holds live is applied again, exactly as the ack wrote it;
 * - an envelope record that nothing names any more (its envelope was
 *   acked, retracted or expired, and that batch's deletion of it was lost)
 *   is deleted.
 *
 * A tombstone record at or below the checkpoint whose deletion a power cut
 * took stays in the log (about 100 bytes); replays never read below the
 * checkpoint, so nothing else notices it.
 *
 * Replaying is idempotent: it writes only what the index lacks, so a crash
 * during a replay is followed by the same replay. The counters of the
 * mailboxes it changed are counted again from their body records, because a
 * counter record may have survived from a batch later than one that was
 * lost (LevelDB orders its unsynced writes only within one log file).
 * @module
 */
import { Buffer } from 'node:buffer';
import { EnvelopeState } from '../lifecycle.js';
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
  isLogTombstone,
  encodeBodyRef,
  encodeCounter,
  encodeMeta,
  expiryKey,
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
  /** Acks and retractions applied again (the index still held the envelope live). */
  tombstones: number;
  /** Envelope records deleted because nothing names them. */
  orphans: number;
  /** The highest record number in the log (0 for an empty log). */
  last: number;
  /** Numbers of the tombstone records above the checkpoint: they go at the next checkpoint. */
  tombs: number[];
}

const CHUNK = 256;
const EMPTY = Buffer.alloc(0);

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
 * Replays the log records above `checkpoint` into the index, counts the
 * changed mailboxes again, and writes the result to the index (fsynced) and
 * the deletions of orphaned records to the log. Updates `counters` and `ids`
 * in place.
 */
export async function replayLog(
  index: LevelDb,
  log: LevelDb,
  checkpoint: number,
  counters: LevelCounters,
  ids: IdFilter,
  now: number,
): Promise<ReplayResult> {
  const result: ReplayResult = { records: 0, reindexed: 0, tombstones: 0, orphans: 0, last: 0, tombs: [] };
  const indexOps: BatchOp[] = [];
  const logDels: BatchOp[] = [];
  /** Metas this replay wrote, by id (hex): later records see them. */
  const written = new Map<string, Meta | undefined>();
  const touched = new Map<string, Buffer>();
  const maxSeq = new Map<string, number>();

  const metasFor = async (batch: Buffer[]): Promise<(Meta | undefined)[]> => {
    const read = await metasOf(index, batch);
    return batch.map((id, i) => {
      const hex = id.toString('hex');
      return written.has(hex) ? written.get(hex) : read[i];
    });
  };

  const replayEnvelope = (n: number, key: Buffer, e: LogEnvelope, meta: Meta | undefined): void => {
    const hex = e.mailbox.toString('hex');
    maxSeq.set(hex, Math.max(maxSeq.get(hex) ?? 0, e.seq));
    if (meta || e.expiresAt <= now) {
      // Known: either this very record (nothing to do) or its tombstone, whose deletion of the
      // record was lost. Expired: never served again, and its tombstone may have been purged.
      if (meta?.blob !== n) {
        logDels.push({ type: 'del', key });
        result.orphans++;
      }
      return;
    }
    const m: Meta = { state: EnvelopeState.live, mailbox: e.mailbox, seq: e.seq, expiresAt: e.expiresAt, size: e.envelope.length, blob: n };
    if (e.retractionHash) m.retractionHash = e.retractionHash;
    indexOps.push(
      { type: 'put', key: metaKey(e.id), value: encodeMeta(m) },
      { type: 'put', key: bodyKey(e.mailbox, e.seq), value: encodeBodyRef(e.id, e.expiresAt, n) },
      { type: 'put', key: expiryKey(e.expiresAt, e.id), value: EMPTY },
    );
    written.set(e.id.toString('hex'), m);
    ids.add(e.id);
    touched.set(hex, e.mailbox);
    result.reindexed++;
  };

  const replayTombstone = (n: number, t: { id: Buffer; meta: Meta }, meta: Meta | undefined): void => {
    result.tombs.push(n);
    const hex = t.meta.mailbox.toString('hex');
    maxSeq.set(hex, Math.max(maxSeq.get(hex) ?? 0, t.meta.seq));
    if (meta && meta.state !== EnvelopeState.live) return;
    // Live in the index, or unknown to it (the append's index write was lost too): the
    // tombstone as the ack or retraction wrote it, so that a re-post stays a duplicate.
    indexOps.push({ type: 'put', key: metaKey(t.id), value: encodeMeta(t.meta) });
    if (meta) {
      indexOps.push({ type: 'del', key: bodyKey(meta.mailbox, meta.seq) }, { type: 'del', key: deliveredKey(t.id) });
      if (meta.blob !== undefined) logDels.push({ type: 'del', key: blobKey(meta.blob) });
    } else {
      indexOps.push({ type: 'put', key: expiryKey(t.meta.expiresAt, t.id), value: EMPTY });
      ids.add(t.id);
    }
    written.set(t.id.toString('hex'), t.meta);
    touched.set(hex, t.meta.mailbox);
    result.tombstones++;
  };

  // Every record above the checkpoint, in append order: an envelope's record comes before its tombstone's.
  const it = log.iterator({ gt: blobKey(checkpoint), lt: Buffer.from([Table.blob + 1]) });
  try {
    for (;;) {
      const entries = await it.nextv(CHUNK);
      if (entries.length === 0) break;
      const records = entries.map(([key, v]) => ({ n: blobKeyNumber(key), key, v }));
      const ids = records.map((r) => (isLogTombstone(r.v) ? decodeLogTombstone(r.v).id : decodeLogEnvelope(r.v).id));
      const metas = await metasFor(ids);
      records.forEach((r, i) => {
        result.records++;
        result.last = r.n;
        if (isLogTombstone(r.v)) replayTombstone(r.n, decodeLogTombstone(r.v), metas[i]);
        else replayEnvelope(r.n, r.key, decodeLogEnvelope(r.v), metas[i]);
      });
    }
  } finally {
    await it.close();
  }
  result.last = Math.max(checkpoint, result.last, await lastNumber(log));
  if (indexOps.length === 0 && logDels.length === 0 && maxSeq.size === 0) return result;

  // Seqs are never reused: a mailbox's last seq covers every record the log holds for it.
  for (const [hex, seq] of maxSeq) {
    const c = counters.get(hex);
    if (c.lastSeq < seq && !touched.has(hex)) touched.set(hex, Buffer.from(hex, 'hex'));
  }
  for (const [hex, mailbox] of touched) {
    const counted = await countMailbox(index, mailbox, indexOps, written);
    const c = counters.get(hex);
    const next = { lastSeq: Math.max(c.lastSeq, maxSeq.get(hex) ?? 0), count: counted.count, bytes: counted.bytes };
    counters.replace(hex, next);
    indexOps.push({ type: 'put', key: counterKey(mailbox), value: encodeCounter(next) });
  }
  if (indexOps.length > 0) await writeOps(index, indexOps, true);
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
  const hi = bodyKey(mailbox, 2 ** 48 - 1);
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
