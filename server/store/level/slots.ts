/**
 * The mailbox records of the LevelDB store (SPEC 5.13): a few small named
 * values per mailbox, one key each (`records.ts`, table 0x06), written
 * through the same group commit and fail-safe path as envelopes, so a put
 * is fsynced before it resolves and is covered by the check after a
 * recovery. A mailbox's puts and deletes run one at a time
 * ({@link KeyedQueue}), so concurrent puts cannot overshoot the limit.
 * @module
 */
import { Buffer } from 'node:buffer';
import { ErrorCode, fail } from '../../../base/errors.js';
import type { KeyedQueue } from '../keyed-queue.js';
import type { LevelDb } from './scans.js';
import { recordKey, recordRange, type BatchOp } from './records.js';

/** What the record operations need from the store. */
export interface SlotContext {
  db: LevelDb;
  serial: KeyedQueue;
  /** Submits ops to the next synced batch; resolves once durable. */
  submit(ops: BatchOp[]): Promise<void>;
}

/** The serial-queue key of a mailbox's records (never a 64-hex envelope id). */
const lane = (mailbox: string): string => `records:${mailbox}`;

/** Names of the records of `mailbox`, at most `limit` of them, in key order. */
async function names(db: LevelDb, mb: Buffer, limit?: number): Promise<string[]> {
  const keys = await db.keys({ ...recordRange(mb), ...(limit === undefined ? {} : { limit }) }).all();
  return keys.map((k) => k.subarray(33).toString('latin1'));
}

/** Stores or replaces a record; RECORD_LIMIT when it would be one more than `maxRecords`. */
export function putSlot(c: SlotContext, mailbox: string, name: string, value: Uint8Array, maxRecords: number): Promise<void> {
  return c.serial.run(lane(mailbox), async () => {
    const mb = Buffer.from(mailbox, 'hex');
    const held = await names(c.db, mb, maxRecords + 1);
    if (!held.includes(name) && held.length >= maxRecords)
      fail(ErrorCode.RECORD_LIMIT, `mailbox holds ${held.length} records, the maximum is ${maxRecords}`);
    await c.submit([{ type: 'put', key: recordKey(mb, name), value: Buffer.from(value) }]);
  });
}

/** The bytes of a record, or undefined. */
export async function getSlot(c: SlotContext, mailbox: string, name: string): Promise<Uint8Array | undefined> {
  return c.db.get(recordKey(Buffer.from(mailbox, 'hex'), name));
}

/** Deletes a record; true when there was one. */
export function deleteSlot(c: SlotContext, mailbox: string, name: string): Promise<boolean> {
  return c.serial.run(lane(mailbox), async () => {
    const key = recordKey(Buffer.from(mailbox, 'hex'), name);
    if ((await c.db.get(key)) === undefined) return false;
    await c.submit([{ type: 'del', key }]);
    return true;
  });
}

/** Every record name of `mailbox`, in ascending order. */
export function listSlots(c: SlotContext, mailbox: string): Promise<string[]> {
  return names(c.db, Buffer.from(mailbox, 'hex'));
}
