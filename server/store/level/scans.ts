/**
 * The LevelDB store's range scans: each reads one contiguous key range of
 * the layout (`records.ts`) in chunks, never the whole database, and closes
 * its iterator whatever happens. Listing reads a mailbox's bodies in seq
 * order; opening reads every counter record and every meta key once.
 * @module
 */
import { Buffer } from 'node:buffer';
import type { Level } from 'level';
import { MAX_STORED_INT } from '../lifecycle.js';
import { IdFilter } from './id-filter.js';
import type { ListResult, StoredEnvelope } from '../types.js';
import type { LevelCounters } from './counters.js';
import { Table, bodyKey, bodyKeySeq, decodeBody, decodeCounter } from './records.js';

/** The store's database, keys and values as bytes. */
export type LevelDb = Level<Buffer, Buffer>;

/** Envelopes read per iterator step when listing. */
const LIST_CHUNK = 64;

/**
 * Live envelopes of `mailbox` with `seq > after` and `expiresAt > now`, in seq
 * order, as {@link RelayStore.list} answers them (`limit` at least 1).
 */
export async function listLive(
  db: LevelDb,
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
      for (const [k, v] of entries) {
        const body = decodeBody(v);
        // Expired but not yet swept: never served (SPEC 5.12: expiry is by time, not by sweep).
        if (body.expiresAt <= now) continue;
        if (envelopes.length === limit || bytes >= maxBytes) {
          more = true;
          break outer;
        }
        envelopes.push({ id: body.id.toString('hex'), seq: bodyKeySeq(k), envelope: body.envelope, expiresAt: body.expiresAt });
        bytes += body.envelope.length;
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
