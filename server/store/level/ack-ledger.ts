/**
 * What the LevelDB store has acknowledged since its last verified open, kept
 * compactly in memory so that, after a write error, a reopen can prove that
 * nothing acknowledged was lost before the store accepts again
 * (docs/operators.md, "When the disk fills").
 *
 * Two checks, together exact for what a recovery can lose:
 *
 * 1. Per mailbox, the highest seq acknowledged. Every batch that changes a
 *    mailbox writes its counter record in the same atomic batch, so a
 *    counter record on disk with `lastSeq` at least this high proves that
 *    the mailbox's latest append batch, and with it every earlier one, was
 *    recovered (LevelDB replays its log in order and drops only what
 *    follows a damaged record).
 * 2. Every key written by the most recent acknowledged batches (a window of
 *    {@link DEFAULT_WINDOW_BYTES}), compared byte for byte. LevelDB only
 *    deletes a log file after its contents were written to an fsynced table
 *    recorded in the fsynced MANIFEST, so what a recovery can lose is
 *    confined to the live log files, at most two write buffers of each of
 *    the store's two databases (2 × (4 + 4) MiB as `store.ts` opens them);
 *    the window covers them with room to spare. (Neither the checkpoint
 *    nor the log's tombstone records are tracked: an open may rewrite the
 *    one and delete the others once the index holds what they said.)
 *
 * Keys written by a batch that failed are "uncertain": a failed fsync may
 * or may not have left the batch in the log, so after the reopen either the
 * old or the new value is right for them. Nothing was acknowledged for them.
 * @module
 */
import { Buffer } from 'node:buffer';
import { Table, decodeCounter, type BatchOp } from './records.js';

/** Bytes of keys and values of recent batches kept for the byte-for-byte check (default). */
export const DEFAULT_WINDOW_BYTES = 32 * 1024 * 1024;

/** The database reads {@link AckLedger.verify} needs. */
export interface LedgerReader {
  getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]>;
}

const READ_CHUNK = 1024;

/** One acknowledged write of a key: its value (undefined = deleted) and the bytes it holds in the window. */
interface Written {
  key: Buffer;
  value: Buffer | undefined;
  bytes: number;
}

/** Acknowledged writes since the last verified open. */
export class AckLedger {
  readonly #windowBytes: number;
  /** Mailbox (hex) → highest acknowledged lastSeq. */
  readonly #seqs = new Map<string, number>();
  /**
   * Every acknowledged write, oldest first, from `#head` on: the window is
   * trimmed from the front in O(1) per write. A commit only appends: which
   * write of a key is its latest is worked out when a check needs it (after
   * a write error, rarely), not on every batch. (Keeping a map of latest
   * writes up to date cost a string and a map update per record, ~5% of the
   * relay's main thread under ingest; trimming a map by its oldest entry
   * once cost a third of it.)
   */
  #fifo: Written[] = [];
  #head = 0;
  readonly #uncertain = new Set<string>();
  #bytes = 0;
  #truncated = false;

  /** @param windowBytes bytes of recent keys and values kept for the byte-for-byte check */
  constructor(windowBytes = DEFAULT_WINDOW_BYTES) {
    this.#windowBytes = windowBytes;
  }

  /** Starts over from a verified state: `seqs` are the counters just read from disk. */
  reset(seqs: Iterable<[string, number]>): void {
    this.#seqs.clear();
    for (const [m, s] of seqs) this.#seqs.set(m, s);
    this.#fifo = [];
    this.#head = 0;
    this.#uncertain.clear();
    this.#bytes = 0;
    this.#truncated = false;
  }

  /** Records a batch that was written (and synced, when it asked to be). */
  committed(ops: readonly BatchOp[]): void {
    for (const op of ops) {
      const value = op.type === 'put' ? op.value : undefined;
      // A rewrite of a key is appended too; the check takes the key's latest write in the window.
      this.#fifo.push({ key: op.key, value, bytes: op.key.length + (value?.length ?? 0) });
      this.#bytes += op.key.length + (value?.length ?? 0);
      if (value !== undefined && op.key[0] === Table.counter) {
        const mailbox = op.key.subarray(1).toString('hex');
        const seq = decodeCounter(value).lastSeq;
        if (seq > (this.#seqs.get(mailbox) ?? 0)) this.#seqs.set(mailbox, seq);
      }
    }
    while (this.#bytes > this.#windowBytes && this.#head < this.#fifo.length) {
      this.#bytes -= this.#fifo[this.#head++]!.bytes;
      this.#truncated = true;
    }
    // Drop the trimmed front now and then, so the array does not grow without bound.
    if (this.#head > 4096 && this.#head * 2 > this.#fifo.length) {
      this.#fifo = this.#fifo.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The latest write of each key in the window (key as a binary string). */
  #latest(): Map<string, Written> {
    const latest = new Map<string, Written>();
    for (let i = this.#head; i < this.#fifo.length; i++) {
      const w = this.#fifo[i]!;
      latest.set(w.key.toString('latin1'), w);
    }
    return latest;
  }

  /** Records a batch that failed: its keys may hold either value after a reopen. */
  failed(ops: readonly BatchOp[]): void {
    for (const op of ops) this.#uncertain.add(op.key.toString('latin1'));
  }

  /** Keys of recent batches held for the check. */
  get size(): number {
    return this.#latest().size;
  }

  /**
   * Checks a freshly reopened database against the ledger.
   * @returns undefined when everything acknowledged is there, else what is missing
   */
  async verify(db: LedgerReader): Promise<string | undefined> {
    // 1. Every mailbox's last acknowledged seq, from its counter record.
    const mailboxes = [...this.#seqs].filter(([, s]) => s > 0);
    for (let i = 0; i < mailboxes.length; i += READ_CHUNK) {
      const chunk = mailboxes.slice(i, i + READ_CHUNK);
      const values = await db.getMany(chunk.map(([m]) => Buffer.concat([Buffer.from([Table.counter]), Buffer.from(m, 'hex')])));
      for (let j = 0; j < chunk.length; j++) {
        const [m, seq] = chunk[j]!;
        const v = values[j];
        const found = v === undefined ? 0 : decodeCounter(v).lastSeq;
        if (found < seq) return `mailbox ${m.slice(0, 16)}…: acknowledged up to seq ${seq}, found ${found} after reopen`;
      }
    }
    // 2. Every key of the recent window, byte for byte.
    const keys = [...this.#latest()].filter(([k]) => !this.#uncertain.has(k)).map(([k, w]): [string, Buffer | undefined] => [k, w.value]);
    for (let i = 0; i < keys.length; i += READ_CHUNK) {
      const chunk = keys.slice(i, i + READ_CHUNK);
      const values = await db.getMany(chunk.map(([k]) => Buffer.from(k, 'latin1')));
      for (let j = 0; j < chunk.length; j++) {
        const [k, want] = chunk[j]!;
        const got = values[j];
        const same = want === undefined ? got === undefined : got !== undefined && want.equals(got);
        if (!same) {
          const table = k.charCodeAt(0);
          return `record of table ${table} ${want === undefined ? 'deleted' : 'written'} before the error is ${got === undefined ? 'missing' : 'different'} after reopen`;
        }
      }
    }
    return undefined;
  }

  /** True when the window dropped older batches since the last verified open (only check 1 covers those). */
  get truncated(): boolean {
    return this.#truncated;
  }
}
