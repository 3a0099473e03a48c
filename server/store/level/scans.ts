/**
 * The LevelDB store's range scans: each reads one contiguous key range of
 * the layout (`records.ts`) in chunks, never the whole database, and closes
 * its iterator whatever happens. Listing reads a mailbox's body records in
 * seq order and their envelopes from the envelope log, a chunk at a time;
 * opening reads every counter record and every meta key once.
 * @module
 */
import { Buffer } from 'node:buffer';
import type { Level } from 'level';
import { MAX_STORED_INT } from '../lifecycle.js';
import { IdFilter } from './id-filter.js';
import type { ListResult, StoredEnvelope } from '../types.js';
import type { LevelCounters } from './counters.js';
import { Table, blobKey, bodyKey, bodyKeySeq, decodeBody, decodeCounter, logEnvelopeBytes, type BatchOp, type Body } from './records.js';

/** The store's database, keys and values as bytes. */
export type LevelDb = Level<Buffer, Buffer>;

/** Writes `ops` to `db` as one batch, fsynced when `sync`. */
export function writeOps(db: LevelDb, ops: readonly BatchOp[], sync: boolean): Promise<void> {
  // The chained batch form: abstract-level's array form costs ~3x more CPU per op
  // (bench/: ~20 µs vs ~6 µs), the relay's top hotspot under ingest (docs/performance.md).
  const b = db.batch();
  for (const op of ops) {
    if (op.type === 'put') b.put(op.key, op.value);
    else b.del(op.key);
  }
  return b.write({ sync });
}

/** Reads envelope records from the envelope log by key (`getMany`). */
export type BlobReader = (keys: Buffer[]) => Promise<(Buffer | undefined)[]>;

/** Envelopes read per iterator step when listing. */
const LIST_CHUNK = 64;

/**
 * Live envelopes of `mailbox` with `seq > after` and `expiresAt > now`, in seq
 * order, as {@link RelayStore.list} answers them (`limit` at least 1).
 */
export async function listLive(
  db: LevelDb,
  blobs: BlobReader,
  mailbox: string,
  after: number,
  limit: number,
  now: number,
  maxBytes: number,
): Promise<ListResult> {
  const mb = Buffer.from(mailbox, 'hex');
  const envelopes: StoredEnvelope[] = [];
  let more = false;
  let bytes = 0;
  const it = db.iterator({ gt: bodyKey(mb, Math.min(after, MAX_STORED_INT)), lte: bodyKey(mb, MAX_STORED_INT) });
  try {
    outer: for (;;) {
      const entries = await it.nextv(Math.min(limit + 1, LIST_CHUNK));
      if (entries.length === 0) break;
      const live: [Buffer, Body][] = [];
      for (const [k, v] of entries) {
        const body = decodeBody(v);
        // Expired but not yet swept: never served (SPEC 5.12: expiry is by time, not by sweep).
        if (body.expiresAt > now) live.push([k, body]);
      }
      // One read of the envelope log per chunk, for the envelopes not stored inline.
      const keys: Buffer[] = [];
      for (const [, b] of live) if (b.blob !== undefined) keys.push(blobKey(b.blob));
      const values = keys.length === 0 ? [] : await blobs(keys);
      let next = 0;
      for (const [k, body] of live) {
        const record = body.blob === undefined ? undefined : values[next++];
        const envelope = body.blob === undefined ? body.envelope : record && logEnvelopeBytes(record);
        // A blob is deleted only after the batch that retired its envelope, so a live
        // reference always finds it; were one missing, the envelope is skipped, not the page.
        if (envelope === undefined) continue;
        if (envelopes.length === limit || bytes >= maxBytes) {
          more = true;
          break outer;
        }
        envelopes.push({ id: body.id.toString('hex'), seq: bodyKeySeq(k), envelope, expiresAt: body.expiresAt });
        bytes += envelope.length;
      }
    }
  } finally {
    await it.close();
  }
  return { envelopes, more };
}

/** Loads every counter record into `counters` (which the caller cleared). */
export async function loadCounters(db: LevelDb, counters: LevelCounters): Promise<void> {
  const it = db.iterator({ gte: Buffer.from([Table.counter]), lt: Buffer.from([Table.counter + 1]) });
  try {
    for (;;) {
      const entries = await it.nextv(1024);
      if (entries.length === 0) break;
      for (const [k, v] of entries) counters.load(k.subarray(1).toString('hex'), decodeCounter(v));
    }
  } finally {
    await it.close();
  }
}

/**
 * A filter holding every id that has a record (live or tombstone), so that
 * an append of a new id, the common case, skips the duplicate read.
 * @param liveEnvelopes the live count, to size the filter (tombstones come on top; it grows if that is short)
 */
export async function loadIds(db: LevelDb, liveEnvelopes: number): Promise<IdFilter> {
  const ids = new IdFilter(Math.max(2 * liveEnvelopes, 1 << 16));
  const it = db.keys({ gte: Buffer.from([Table.meta]), lt: Buffer.from([Table.meta + 1]) });
  try {
    for (;;) {
      const keys = await it.nextv(4096);
      if (keys.length === 0) break;
      for (const k of keys) ids.add(k.subarray(1));
    }
  } finally {
    await it.close();
  }
  return ids;
}
