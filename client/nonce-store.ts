/**
 * A persistent {@link NonceStore} over the client's {@link Kv} (LevelDB in
 * Node, IndexedDB in browsers). `take` deletes the secret and writes a burn
 * marker in one atomic batch, and calls are serialized, so a nonce id can be
 * taken exactly once, across restarts.
 * @module
 */
import { ErrorCode, LnMailboxError } from '../protocol/errors.js';
import { assertNonceId, type NonceStore } from '../src/crypto/nonce.js';
import type { Kv } from './kv.js';

const LIVE = 'nonce/live/';
const BURNED = 'nonce/burned/';

/** Committed nonces persisted in a {@link Kv}. Never logs or exposes records except through `take`. */
export class KvNonceStore implements NonceStore {
  #chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly kv: Kv) {}

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#chain.then(fn, fn);
    this.#chain = p.catch(() => undefined);
    return p;
  }

  /** Stores a fresh nonce record; NONCE_REUSE when the id exists or was burned. */
  put(id: string, record: Uint8Array): Promise<void> {
    assertNonceId(id);
    return this.#serial(async () => {
      if ((await this.kv.get(BURNED + id)) || (await this.kv.get(LIVE + id)))
        throw new LnMailboxError(ErrorCode.NONCE_REUSE, `nonce id ${id} was already used`);
      await this.kv.put(LIVE + id, record.slice());
    });
  }

  /** Removes and returns the record, burning the id for good. */
  take(id: string): Promise<Uint8Array> {
    assertNonceId(id);
    return this.#serial(async () => {
      if (await this.kv.get(BURNED + id)) throw new LnMailboxError(ErrorCode.NONCE_REUSE, `nonce ${id} was already used`);
      const rec = await this.kv.get(LIVE + id);
      if (!rec) throw new LnMailboxError(ErrorCode.NONCE_UNKNOWN, `no committed nonce ${id}`);
      await this.kv.batch([{ type: 'del', key: LIVE + id }, { type: 'put', key: BURNED + id, value: new Uint8Array([1]) }]);
      return rec;
    });
  }
}
