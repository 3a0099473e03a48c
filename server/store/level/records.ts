/**
 * Binary key and value layout of the LevelDB store (SPEC section 5.12,
 * "Storage contract"; the layout itself is private to this backend).
 *
 * Keys start with a one-byte table prefix and sort bytewise, so that a
 * mailbox's envelopes are one contiguous range in seq order and the expiry
 * index is one range in time order: listing, backlog and sweeping are range
 * scans, never full scans.
 *
 * The index database (the data directory itself):
 *
 *   0x01 id(32)                      → meta    (status, mailbox, seq, expiry, size, log number, retraction hash)
 *   0x02 mailbox(32) seq(8)          → body    (id(32) ‖ expiresAt(8) ‖ n(8)), or, written before
 *                                                the envelope log existed, id(32) ‖ expiresAt(8) ‖ envelope
 *   0x03 deadline(8) id(32)          → ''      (expiry / tombstone-retention index)
 *   0x04 mailbox(32)                 → counter (lastSeq(8) ‖ count(8) ‖ bytes(8))
 *   0x05 id(32)                      → ''      (delivered flag)
 *   0x06 mailbox(32) name(1..32)     → value   (a mailbox record, SPEC 5.13; name is ASCII)
 *   0x08                             → checkpoint (n(8): the index holds every log record up to n)
 *
 * The envelope log (`blobs/` inside the data directory, a second LevelDB) is
 * the store's write-ahead log. Every record takes a number n drawn in append
 * order, so its keys only ever grow and LevelDB moves its tables down the
 * levels without rewriting them (both kinds share the one key range: a
 * second range above it would make every new table overlap every older
 * one). An envelope record holds the envelope's bytes with everything its
 * index entry needs, so the index can be rebuilt from it; a tombstone
 * record (an ack or a retraction) holds what it changed, and goes once a
 * checkpoint covers it:
 *
 *   0x07 n(8)                        → envelope record  (1 ‖ id(32) ‖ mailbox(32) ‖ seq(8) ‖ expiresAt(8)
 *                                                        ‖ has-hash(1) ‖ [retraction hash(32)] ‖ envelope)
 *                                    → tombstone record (2 ‖ id(32) ‖ the tombstone's meta record)
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
export const Table = {
  meta: 0x01,
  body: 0x02,
  expiry: 0x03,
  counter: 0x04,
  delivered: 0x05,
  record: 0x06,
  blob: 0x07,
  checkpoint: 0x08,
} as const;

/** Meta without a record number (an envelope stored inline by an older relay, live or ended). */
const META_V1 = 1;
/**
 * Meta of an envelope that has a record in the envelope log: its number follows the fixed part.
 * A tombstone keeps it: it tells which life of the id the meta describes (an id can be stored
 * again after its tombstone was purged).
 */
const META_V2 = 2;
const META_FIXED = 1 + 1 + 32 + 8 + 8 + 4;
/** A body reference: id ‖ expiresAt ‖ blob. Inline bodies are longer: no envelope is under 12 bytes. */
const BODY_REF_LEN = 48;

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
  /** The number of the envelope's record in the envelope log (kept by its tombstone); absent for inline bodies. */
  blob?: number | undefined;
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

/** Key of envelope record `n` in the envelope log. */
export function blobKey(n: number): Buffer {
  const k = Buffer.allocUnsafe(9);
  k[0] = Table.blob;
  writeU64(k, n, 1);
  return k;
}

/** The record number encoded in a key of the envelope log. */
export function blobKeyNumber(key: Buffer): number {
  return readU64(key, 1);
}

/** Key of the checkpoint in the index database. */
export const CHECKPOINT_KEY: Buffer = Buffer.from([Table.checkpoint]);

/** Encodes a checkpoint (or any lone 8-byte number). */
export function encodeU64(n: number): Buffer {
  const v = Buffer.allocUnsafe(8);
  writeU64(v, n, 0);
  return v;
}

/** Decodes a checkpoint. */
export function decodeU64(v: Buffer): number {
  if (v.length !== 8) throw new Error('corrupt checkpoint');
  return readU64(v, 0);
}

const LOG_ENVELOPE_V1 = 1;
const LOG_TOMBSTONE_V1 = 2;
const LOG_ENVELOPE_FIXED = 1 + 32 + 32 + 8 + 8 + 1;

/** What an envelope record of the log holds: the envelope and its index entry (views into the value). */
export interface LogEnvelope {
  id: Buffer;
  mailbox: Buffer;
  seq: number;
  expiresAt: number;
  retractionHash?: Buffer | undefined;
  envelope: Buffer;
}

/** Encodes an envelope record of the log (one copy of the envelope's bytes). */
export function encodeLogEnvelope(e: LogEnvelope | (Omit<LogEnvelope, 'envelope'> & { envelope: Uint8Array })): Buffer {
  const hashLen = e.retractionHash ? 32 : 0;
  const at = LOG_ENVELOPE_FIXED + hashLen;
  const v = Buffer.allocUnsafe(at + e.envelope.length);
  v[0] = LOG_ENVELOPE_V1;
  e.id.copy(v, 1);
  e.mailbox.copy(v, 33);
  writeU64(v, e.seq, 65);
  writeU64(v, e.expiresAt, 73);
  v[81] = hashLen ? 1 : 0;
  if (e.retractionHash) e.retractionHash.copy(v, LOG_ENVELOPE_FIXED);
  v.set(e.envelope, at);
  return v;
}

/** Decodes an envelope record of the log; throws on a record this version did not write. */
export function decodeLogEnvelope(v: Buffer): LogEnvelope {
  if (v.length < LOG_ENVELOPE_FIXED || v[0] !== LOG_ENVELOPE_V1 || v[81]! > 1) throw new Error('corrupt envelope record');
  const at = LOG_ENVELOPE_FIXED + (v[81] ? 32 : 0);
  if (v.length < at) throw new Error('corrupt envelope record');
  const e: LogEnvelope = {
    id: v.subarray(1, 33),
    mailbox: v.subarray(33, 65),
    seq: readU64(v, 65),
    expiresAt: readU64(v, 73),
    envelope: v.subarray(at),
  };
  if (v[81]) e.retractionHash = v.subarray(LOG_ENVELOPE_FIXED, at);
  return e;
}

/** The envelope's bytes inside an envelope record of the log (a view; listing needs nothing else). */
export function logEnvelopeBytes(v: Buffer): Buffer {
  if (v.length < LOG_ENVELOPE_FIXED || v[0] !== LOG_ENVELOPE_V1 || v[81]! > 1) throw new Error('corrupt envelope record');
  return v.subarray(LOG_ENVELOPE_FIXED + (v[81] ? 32 : 0));
}

/**
 * Encodes a tombstone record of the log: the envelope's id and its meta
 * record as the tombstone (whole, so that a replay can write it even when the
 * append it follows never reached the index).
 */
export function encodeLogTombstone(id: Buffer, tombstone: Meta): Buffer {
  const meta = encodeMeta(tombstone);
  const v = Buffer.allocUnsafe(33 + meta.length);
  v[0] = LOG_TOMBSTONE_V1;
  id.copy(v, 1);
  meta.copy(v, 33);
  return v;
}

/** True when a value of the log is a tombstone record (else it is an envelope record). */
export function isLogTombstone(v: Buffer): boolean {
  return v[0] === LOG_TOMBSTONE_V1;
}

/** Decodes a tombstone record of the log. */
export function decodeLogTombstone(v: Buffer): { id: Buffer; meta: Meta } {
  if (v.length < 33 || v[0] !== LOG_TOMBSTONE_V1) throw new Error('corrupt tombstone record');
  return { id: v.subarray(1, 33), meta: decodeMeta(v.subarray(33)) };
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
  const blobLen = m.blob === undefined ? 0 : 8;
  const v = Buffer.allocUnsafe(META_FIXED + blobLen + (m.retractionHash ? 32 : 0));
  v[0] = m.blob === undefined ? META_V1 : META_V2;
  v[1] = m.state;
  m.mailbox.copy(v, 2);
  writeU64(v, m.seq, 34);
  writeU64(v, m.expiresAt, 42);
  v.writeUInt32BE(m.size, 50);
  if (m.blob !== undefined) writeU64(v, m.blob, META_FIXED);
  if (m.retractionHash) m.retractionHash.copy(v, META_FIXED + blobLen);
  return v;
}

/** Decodes a meta record; throws on a record this version did not write (corruption). */
export function decodeMeta(v: Buffer): Meta {
  const blobLen = v[0] === META_V2 ? 8 : 0;
  if ((v[0] !== META_V1 && v[0] !== META_V2) || (v.length !== META_FIXED + blobLen && v.length !== META_FIXED + blobLen + 32))
    throw new Error('corrupt meta record');
  const m: Meta = {
    state: v[1] as EnvelopeState,
    mailbox: v.subarray(2, 34),
    seq: readU64(v, 34),
    expiresAt: readU64(v, 42),
    size: v.readUInt32BE(50),
  };
  if (blobLen) m.blob = readU64(v, META_FIXED);
  if (v.length > META_FIXED + blobLen) m.retractionHash = v.subarray(META_FIXED + blobLen);
  return m;
}

/** Encodes a body record: id ‖ expiresAt ‖ n, the number of the envelope's record in the envelope log. */
export function encodeBodyRef(id: Buffer, expiresAt: number, blob: number): Buffer {
  const v = Buffer.allocUnsafe(BODY_REF_LEN);
  id.copy(v, 0);
  writeU64(v, expiresAt, 32);
  writeU64(v, blob, 40);
  return v;
}

/** Encodes an inline body record, id ‖ expiresAt ‖ envelope, as relays before the envelope log wrote them. */
export function encodeInlineBody(id: Buffer, expiresAt: number, envelope: Uint8Array): Buffer {
  const v = Buffer.allocUnsafe(40 + envelope.length);
  id.copy(v, 0);
  writeU64(v, expiresAt, 32);
  v.set(envelope, 40);
  return v;
}

/** A decoded body record: the envelope itself (inline) or its record's number in the log (views into the value, no copy). */
export type Body = { id: Buffer; expiresAt: number } & ({ blob: number; envelope?: undefined } | { blob?: undefined; envelope: Buffer });

/** Decodes a body record, a reference or an inline body. */
export function decodeBody(v: Buffer): Body {
  if (v.length < BODY_REF_LEN) throw new Error('corrupt body record');
  const id = v.subarray(0, 32);
  const expiresAt = readU64(v, 32);
  return v.length === BODY_REF_LEN ? { id, expiresAt, blob: readU64(v, 40) } : { id, expiresAt, envelope: v.subarray(40) };
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
