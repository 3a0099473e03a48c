/**
 * A {@link Kv} that can hold back writes whose loss only repeats work, and
 * write them in the next atomic batch made on it.
 *
 * A role writes each step in one synchronous batch. Around the steps it
 * also made writes of its own, each with its own `fsync`: the removal of an
 * outbox entry once a relay accepted it (with the record of where it went,
 * for a later retraction) and the cursor of each relay. Losing one of those
 * to a crash only repeats work: the entry is posted again (the relay keeps
 * one copy per envelope id, and the recipient drops an id it has
 * processed), the relay delivers again from an older cursor (the same
 * de-duplication). So they are {@link DeferringKv.defer}red: held in memory
 * and written at the front of the next batch made through this store, which
 * at a busy hub is the next step, or after `delayMs` when no batch comes.
 *
 * Reads see held writes: `get` and `entries` answer as if they were stored.
 * A direct write of a key drops what was held for it (the newer write
 * wins). Batches run one at a time, in the order they were made. A failed
 * batch keeps what it carried held. Held writes are only
 * ever written inside a synchronous batch, never on their own unsynced, so
 * no ordering between synced and unsynced writes is relied upon.
 * @module
 */
import { ErrorCode, LnMailboxError } from '../../base/errors.js';
import { checkKey, checkOps, checkPrefix, compareUtf8, type Kv, type KvOp } from './kv.js';

/** Options of {@link DeferringKv}. */
export interface DeferringKvOptions {
  /** How long a held write may wait for a batch to carry it before it is written on its own, ms (default 250). */
  delayMs?: number;
  /** Called when writing held writes on their own failed (they stay held, and are tried again). */
  onError?: (e: Error) => void;
}

function copy(op: KvOp): KvOp {
  return op.type === 'put' ? { type: 'put', key: op.key, value: op.value.slice() } : { type: 'del', key: op.key };
}

/** See the module's comment. */
export class DeferringKv implements Kv {
  readonly #kv: Kv;
  readonly #held = new Map<string, KvOp>();
  readonly #delayMs: number;
  readonly #onError: (e: Error) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #stopped = false;
  /** Batches run one at a time, in the order they were made, so a later write never lands under an earlier one. */
  #tail: Promise<unknown> = Promise.resolve();

  /**
   * @param kv the store written to
   * @param opts see {@link DeferringKvOptions}
   */
  constructor(kv: Kv, opts: DeferringKvOptions = {}) {
    this.#kv = kv;
    this.#delayMs = opts.delayMs ?? 250;
    this.#onError = opts.onError ?? (() => undefined);
  }

  /** How many writes are held. */
  get held(): number {
    return this.#held.size;
  }

  /** Holds `ops` (the last one per key wins) until the next batch, or `delayMs`. */
  defer(ops: readonly KvOp[]): void {
    checkOps(ops);
    if (this.#closed) throw new LnMailboxError(ErrorCode.STORE_UNAVAILABLE, 'kv store is closed');
    if (this.#stopped) return;
    for (const op of ops) {
      this.#held.delete(op.key); // re-inserted last: held writes keep the order they were made in
      this.#held.set(op.key, copy(op));
    }
    if (this.#timer === undefined && this.#held.size > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if (this.#held.size > 0) void this.batch([]).catch((e: unknown) => this.#retryLater(e instanceof Error ? e : new Error(String(e))));
      }, this.#delayMs);
      (this.#timer as { unref?: () => void }).unref?.();
    }
  }

  #retryLater(e: Error): void {
    this.#onError(e);
    if (this.#held.size > 0) this.defer([]);
  }

  /** Writes what is held now (nothing when nothing is). */
  async flush(): Promise<void> {
    if (this.#held.size > 0) await this.batch([]);
  }

  /** @inheritDoc */
  async get(key: string): Promise<Uint8Array | undefined> {
    const h = this.#held.get(checkKey(key));
    if (h !== undefined) return h.type === 'put' ? h.value.slice() : undefined;
    return this.#kv.get(key);
  }

  /** @inheritDoc */
  async put(key: string, value: Uint8Array): Promise<void> {
    await this.batch([{ type: 'put', key, value }]);
  }

  /** @inheritDoc */
  async del(key: string): Promise<void> {
    await this.batch([{ type: 'del', key }]);
  }

  /**
   * Applies the held writes, then `ops`, in one atomic batch; what it
   * carried is no longer held once it is stored. `ops` supersede what was
   * held for their keys when the call was made; a write held for one of
   * their keys after that is newer, stays held and goes in a later batch.
   */
  async batch(ops: readonly KvOp[]): Promise<void> {
    checkOps(ops);
    for (const op of ops) this.#held.delete(op.key);
    const run = async () => {
      const keys = new Set(ops.map((op) => op.key));
      const carried = [...this.#held.values()].filter((op) => !keys.has(op.key));
      if (carried.length === 0 && ops.length === 0) return;
      await this.#kv.batch(carried.length === 0 ? ops : [...carried, ...ops]);
      // Drop what was written, unless it was held again since.
      for (const op of carried) if (this.#held.get(op.key) === op) this.#held.delete(op.key);
      if (this.#held.size === 0 && this.#timer !== undefined) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      }
    };
    const p = this.#tail.then(run, run);
    this.#tail = p.catch(() => undefined);
    await p;
  }

  /** @inheritDoc */
  async *entries(prefix: string): AsyncIterable<[string, Uint8Array]> {
    checkPrefix(prefix);
    // The held writes under the prefix as they are now, merged into the store's entries in key order.
    const held = [...this.#held.values()].filter((op) => op.key.startsWith(prefix)).sort((a, b) => compareUtf8(a.key, b.key));
    const over = new Set(held.map((op) => op.key));
    let i = 0;
    // The held puts not yet given whose keys sort before `until` (all of them without it).
    function* heldBefore(until?: string): Generator<[string, Uint8Array]> {
      for (; i < held.length && (until === undefined || compareUtf8(held[i]!.key, until) < 0); i++) {
        const h = held[i]!;
        if (h.type === 'put') yield [h.key, h.value.slice()];
      }
    }
    for await (const [key, value] of this.#kv.entries(prefix)) {
      yield* heldBefore(key);
      if (!over.has(key)) yield [key, value];
    }
    yield* heldBefore();
  }

  /**
   * Forgets what is held and stops the timer, for good: later
   * {@link defer}s are ignored (the owner is closing, after a last
   * {@link flush}; what it would hold only repeats work at the next start).
   */
  stop(): void {
    this.#stopped = true;
    this.discard();
  }

  /** Forgets what is held and stops the timer (a process dying with writes held, in tests). */
  discard(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#held.clear();
  }

  /** Writes what is held, then closes the store (closed even when that write failed; its error is thrown). */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.#closed = true;
      this.discard();
      await this.#kv.close();
    }
  }
}
