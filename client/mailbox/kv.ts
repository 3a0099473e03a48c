/**
 * A tiny async key-value store that the mailbox client and the role runtimes
 * persist to, in the spirit of abstract-level: one interface, two backends,
 * one conformance suite (`test/client/mailbox/kv-conformance.ts`).
 *
 * - {@link LevelKv} over `level`: LevelDB in Node, IndexedDB in browsers.
 * - {@link MemoryKv}: ephemeral, for tests and throw-away clients.
 *
 * Keys are strings compared by their UTF-8 bytes (LevelDB's order); values are
 * bytes. Both backends copy values in and out, so a caller mutating a buffer
 * can never corrupt what is stored. Failures of the backing store surface as
 * `STORE_UNAVAILABLE` with the original error as `cause`.
 * @module
 */
import { Level } from 'level';
import { abytes, utf8 } from '../../base/bytes.js';
import { ErrorCode, LnMailboxError, fail } from '../../base/errors.js';

/** One operation of an atomic {@link Kv.batch}. */
export type KvOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

/** The persistent store interface. Every method is async; every batch is atomic. */
export interface Kv {
  /** The value stored under `key`, or `undefined`. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Stores `value` under `key` (overwrites). */
  put(key: string, value: Uint8Array): Promise<void>;
  /** Deletes `key`; deleting a missing key is not an error. */
  del(key: string): Promise<void>;
  /** Applies all operations atomically, in order. */
  batch(ops: readonly KvOp[]): Promise<void>;
  /** Entries whose key starts with `prefix`, in ascending key order. */
  entries(prefix: string): AsyncIterable<[key: string, value: Uint8Array]>;
  /** Releases the store; later calls fail with `STORE_UNAVAILABLE`. */
  close(): Promise<void>;
}

/** @internal Checks a key (a non-empty string). */
export function checkKey(key: unknown): string {
  if (typeof key !== 'string') fail(ErrorCode.INVALID_TYPE, `kv key: expected string, got ${typeof key}`);
  if (key.length === 0) fail(ErrorCode.INVALID_LENGTH, 'kv key: expected a non-empty string');
  return key;
}

/** @internal Checks a prefix (a string). */
export function checkPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string') fail(ErrorCode.INVALID_TYPE, `kv prefix: expected string, got ${typeof prefix}`);
  return prefix;
}

/** @internal Checks a batch's operations, all of them before anything is written. */
export function checkOps(ops: unknown): readonly KvOp[] {
  if (!Array.isArray(ops)) fail(ErrorCode.INVALID_TYPE, 'kv batch: expected an array of operations');
  for (const op of ops as unknown[]) {
    const o = op as Partial<KvOp> | null;
    if (typeof o !== 'object' || o === null) fail(ErrorCode.INVALID_TYPE, 'kv batch: each operation must be an object');
    checkKey(o.key);
    if (o.type === 'put') abytes((o as { value?: unknown }).value, undefined, 'kv value');
    else if (o.type !== 'del') fail(ErrorCode.INVALID_TYPE, `kv batch: unknown operation type ${JSON.stringify(o.type)}`);
  }
  return ops as readonly KvOp[];
}

/**
 * @internal Byte-wise comparison of the UTF-8 encodings, i.e. LevelDB's key
 * order. Where two strings first differ by characters outside the
 * surrogate range, UTF-16 order is UTF-8 order, so only a surrogate there
 * costs an encoding.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if ((x & 0xf800) !== 0xd800 && (y & 0xf800) !== 0xd800) return x - y;
    // From the start of the character: a low surrogate's high half is in the shared prefix.
    const from = i > 0 && (a.charCodeAt(i - 1) & 0xfc00) === 0xd800 ? i - 1 : i;
    return compareEncoded(utf8(a.slice(from)), utf8(b.slice(from)));
  }
  return a.length - b.length;
}

function compareEncoded(x: Uint8Array, y: Uint8Array): number {
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

const closedError = (): LnMailboxError => new LnMailboxError(ErrorCode.STORE_UNAVAILABLE, 'kv store is closed');

/** An in-memory {@link Kv}. Nothing survives the process; use {@link LevelKv} for that. */
export class MemoryKv implements Kv {
  #map = new Map<string, Uint8Array>();
  #closed = false;

  #open(): Map<string, Uint8Array> {
    if (this.#closed) throw closedError();
    return this.#map;
  }

  /** @inheritDoc */
  async get(key: string): Promise<Uint8Array | undefined> {
    const v = this.#open().get(checkKey(key));
    return v === undefined ? undefined : v.slice();
  }

  /** @inheritDoc */
  async put(key: string, value: Uint8Array): Promise<void> {
    checkKey(key);
    abytes(value, undefined, 'kv value');
    this.#open().set(key, value.slice());
  }

  /** @inheritDoc */
  async del(key: string): Promise<void> {
    this.#open().delete(checkKey(key));
  }

  /** @inheritDoc */
  async batch(ops: readonly KvOp[]): Promise<void> {
    checkOps(ops); // validate everything first: a batch is all or nothing
    const map = this.#open();
    for (const op of ops) {
      if (op.type === 'put') map.set(op.key, op.value.slice());
      else map.delete(op.key);
    }
  }

  /** @inheritDoc */
  async *entries(prefix: string): AsyncIterable<[string, Uint8Array]> {
    checkPrefix(prefix);
    const keys = [...this.#open().keys()].filter((k) => k.startsWith(prefix)).sort(compareUtf8);
    for (const k of keys) {
      const v = this.#open().get(k);
      if (v !== undefined) yield [k, v.slice()];
    }
  }

  /** @inheritDoc */
  async close(): Promise<void> {
    this.#closed = true;
    this.#map.clear();
  }
}

/** Highest code point: its UTF-8 form (F4 8F BF BF) sorts after every other character. */
const MAX_CHAR = '\u{10FFFF}';

/** Options of {@link LevelKv}. */
export interface LevelKvOptions {
  /**
   * Whether every write (`put`, `del`, `batch`) is on disk before it
   * resolves: LevelDB's synchronous write, an `fsync` of its log (default
   * true). A role persists each step before its messages leave, and a
   * message that left must never be forgotten: a payee that revealed a
   * receipt signature and then lost the ticket's burn to a power cut could
   * sign twice with one nonce. Without it, writes survive the process being
   * killed but not the machine losing power. Set false only for throw-away
   * stores (tests, benchmarks). Browsers (IndexedDB) decide durability
   * themselves and ignore it.
   */
  sync?: boolean;
}

/**
 * A persistent {@link Kv} over `level` (LevelDB in Node, IndexedDB in browsers).
 * The database opens lazily on first use. Writes are synchronous (on disk
 * when they resolve) unless `options.sync` is false.
 */
export class LevelKv implements Kv {
  readonly #db: Level<string, Uint8Array>;
  /** The options every write is made with. */
  readonly writeOptions: { readonly sync: boolean };

  /**
   * @param location a directory in Node, an IndexedDB database name in browsers
   * @param options see {@link LevelKvOptions}
   */
  constructor(location: string, options: LevelKvOptions = {}) {
    if (typeof location !== 'string' || location.length === 0)
      fail(ErrorCode.INVALID_TYPE, 'LevelKv location: expected a non-empty string');
    if (options.sync !== undefined && typeof options.sync !== 'boolean') fail(ErrorCode.INVALID_TYPE, 'LevelKv sync: expected a boolean');
    this.writeOptions = Object.freeze({ sync: options.sync ?? true });
    this.#db = new Level<string, Uint8Array>(location, { valueEncoding: 'view' });
  }

  async #run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw new LnMailboxError(ErrorCode.STORE_UNAVAILABLE, `kv ${what} failed: ${(e as Error)?.message ?? e}`, { cause: e });
    }
  }

  /** @inheritDoc */
  async get(key: string): Promise<Uint8Array | undefined> {
    checkKey(key);
    const v = await this.#run('get', () => this.#db.get(key));
    // Copy into a plain Uint8Array: Node may hand back a pooled Buffer view.
    return v === undefined ? undefined : Uint8Array.from(v);
  }

  /** @inheritDoc */
  async put(key: string, value: Uint8Array): Promise<void> {
    checkKey(key);
    abytes(value, undefined, 'kv value');
    await this.#run('put', () => this.#db.put(key, value.slice(), this.writeOptions));
  }

  /** @inheritDoc */
  async del(key: string): Promise<void> {
    checkKey(key);
    await this.#run('del', () => this.#db.del(key, this.writeOptions));
  }

  /** @inheritDoc */
  async batch(ops: readonly KvOp[]): Promise<void> {
    checkOps(ops);
    const copy = ops.map((op) =>
      op.type === 'put' ? { type: 'put' as const, key: op.key, value: op.value.slice() } : { type: 'del' as const, key: op.key },
    );
    await this.#run('batch', () => this.#db.batch(copy, this.writeOptions));
  }

  /** @inheritDoc */
  async *entries(prefix: string): AsyncIterable<[string, Uint8Array]> {
    checkPrefix(prefix);
    const it = this.#db.iterator({ gte: prefix, lt: prefix + MAX_CHAR });
    try {
      for (;;) {
        const next = await this.#run('iterate', () => it.next());
        if (next === undefined) return;
        yield [next[0], Uint8Array.from(next[1])];
      }
    } finally {
      await it.close().catch(() => undefined);
    }
  }

  /** @inheritDoc */
  async close(): Promise<void> {
    await this.#run('close', () => this.#db.close());
  }
}
