/**
 * Binary key and value layout of the LevelDB store (SPEC section 5.12,
 * "Storage contract"; the layout itself is private to this backend).
 *
 * Keys start with a one-byte table prefix and sort bytewise, so that a
 * mailbox's envelopes are one contiguous range in seq order and the expiry
 * index is one range in time order: listing, backlog and sweeping are range
 * scans, never full scans.
 *
 *   0x01 id(32)                      → meta    (status, mailbox, seq, expiry, size, retraction hash)
 *   0x02 mailbox(32) seq(8)          → body    (id(32) ‖ expiresAt(8) ‖ envelope)
 *   0x03 deadline(8) id(32)          → ''      (expiry / tombstone-retention index)
 *   0x04 mailbox(32)                 → counter (lastSeq(8) ‖ count(8) ‖ bytes(8))
 *   0x05 id(32)                      → ''      (delivered flag)
 *   0x06 mailbox(32) name(1..32)     → value   (a mailbox record, SPEC 5.13; name is ASCII)
 *
 * Integers are big-endian; 8-byte fields hold values up to `MAX_STORED_INT`
 * (2^48 - 1: times in ms until the year 10889, seqs far beyond any mailbox's
 * life), so the top two bytes are always zero. The state byte of a meta
 * record is an `EnvelopeState` (`lifecycle.ts`).
 * @module
 */
import { Buffer } from 'node:buffer';
import { MAX_STORED_INT, type EnvelopeState } from '../lifecycle.js';

/** One write of a LevelDB batch (the shape `level`'s `batch()` takes). */
export type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

/** Table prefixes. */
export const Table = { meta: 0x01, body: 0x02, expiry: 0x03, counter: 0x04, delivered: 0x05, record: 0x06 } as const;

const META_VERSION = 1;
const META_FIXED = 1 + 1 + 32 + 8 + 8 + 4;

function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt16BE(0, offset);
  buf.writeUIntBE(value, offset + 2, 6);
}

function readU64(buf: Buffer, offset: number): number {
  // The high two bytes are always zero in records we wrote.
  return buf.readUIntBE(offset + 2, 6);
}

/** Decoded meta record. */
export interface Meta {
  state: EnvelopeState;
  mailbox: Buffer;
  seq: number;
  expiresAt: number;
  size: number;
  retractionHash?: Buffer;
}

/** Key of an envelope's meta record. */
export function metaKey(id: Buffer): Buffer {
  const k = Buffer.allocUnsafe(33);
  k[0] = Table.meta;
  id.copy(k, 1);
  return k;
}

/** Key of the delivered flag of an envelope. */
export function deliveredKey(id: Buffer): Buffer {
  const k = Buffer.allocUnsafe(33);
  k[0] = Table.delivered;
  id.copy(k, 1);
  return k;
}

/** Key of a mailbox's body record at `seq`. */
export function bodyKey(mailbox: Buffer, seq: number): Buffer {
  const k = Buffer.allocUnsafe(41);
  k[0] = Table.body;
  mailbox.copy(k, 1);
  writeU64(k, seq, 33);
  return k;
}

/** Seq encoded in a body key. */
export function bodyKeySeq(key: Buffer): number {
  return readU64(key, 33);
}

/** Key of the expiry index entry for `id` at `deadline`. */
export function expiryKey(deadline: number, id: Buffer): Buffer {
  const k = Buffer.allocUnsafe(41);
  k[0] = Table.expiry;
  writeU64(k, deadline, 1);
  id.copy(k, 9);
  return k;
}

/** Exclusive upper bound of expiry keys with `deadline <= now`. */
export function expiryUpperBound(now: number): Buffer {
  const k = Buffer.alloc(9);
  k[0] = Table.expiry;
  writeU64(k, Math.min(now + 1, MAX_STORED_INT), 1);
  return k;
}

/** Splits an expiry key into deadline and id. */
export function parseExpiryKey(key: Buffer): { deadline: number; id: Buffer } {
  return { deadline: readU64(key, 1), id: key.subarray(9, 41) };
}

/** Key of a mailbox's counter record. */
export function counterKey(mailbox: Buffer): Buffer {
  const k = Buffer.allocUnsafe(33);
  k[0] = Table.counter;
  mailbox.copy(k, 1);
  return k;
}

/** Key of record `name` (ASCII, SPEC 5.13) of a mailbox. */
export function recordKey(mailbox: Buffer, name: string): Buffer {
  return Buffer.concat([Buffer.from([Table.record]), mailbox, Buffer.from(name, 'latin1')]);
}

/** Bounds of the key range holding every record of a mailbox (names are ASCII, so below 0xff). */
export function recordRange(mailbox: Buffer): { gt: Buffer; lt: Buffer } {
  const prefix = Buffer.concat([Buffer.from([Table.record]), mailbox]);
  return { gt: prefix, lt: Buffer.concat([prefix, Buffer.from([0xff])]) };
}

/** Encodes a meta record. */
export function encodeMeta(m: Meta): Buffer {
  const v = Buffer.allocUnsafe(META_FIXED + (m.retractionHash ? 32 : 0));
  v[0] = META_VERSION;
  v[1] = m.state;
  m.mailbox.copy(v, 2);
  writeU64(v, m.seq, 34);
  writeU64(v, m.expiresAt, 42);
  v.writeUInt32BE(m.size, 50);
  if (m.retractionHash) m.retractionHash.copy(v, META_FIXED);
  return v;
}

/** Decodes a meta record; throws on a record this version did not write (corruption). */
export function decodeMeta(v: Buffer): Meta {
  if ((v.length !== META_FIXED && v.length !== META_FIXED + 32) || v[0] !== META_VERSION) throw new Error('corrupt meta record');
  const m: Meta = {
    state: v[1] as EnvelopeState,
    mailbox: v.subarray(2, 34),
    seq: readU64(v, 34),
    expiresAt: readU64(v, 42),
    size: v.readUInt32BE(50),
  };
  if (v.length > META_FIXED) m.retractionHash = v.subarray(META_FIXED);
  return m;
}

/** Encodes a body record: id ‖ expiresAt ‖ envelope. */
export function encodeBody(id: Buffer, expiresAt: number, envelope: Uint8Array): Buffer {
  const v = Buffer.allocUnsafe(40 + envelope.length);
  id.copy(v, 0);
  writeU64(v, expiresAt, 32);
  v.set(envelope, 40);
  return v;
}

/** Decodes a body record (views into `v`, no copy). */
export function decodeBody(v: Buffer): { id: Buffer; expiresAt: number; envelope: Buffer } {
  if (v.length < 40) throw new Error('corrupt body record');
  return { id: v.subarray(0, 32), expiresAt: readU64(v, 32), envelope: v.subarray(40) };
}

/** In-memory counter of one mailbox. */
export interface Counter {
  lastSeq: number;
  count: number;
  bytes: number;
}

/** Encodes a counter record. */
export function encodeCounter(c: Counter): Buffer {
  const v = Buffer.allocUnsafe(24);
  writeU64(v, c.lastSeq, 0);
  writeU64(v, c.count, 8);
  writeU64(v, c.bytes, 16);
  return v;
}

/** Decodes a counter record. */
export function decodeCounter(v: Buffer): Counter {
  if (v.length !== 24) throw new Error('corrupt counter record');
  return { lastSeq: readU64(v, 0), count: readU64(v, 8), bytes: readU64(v, 16) };
}
