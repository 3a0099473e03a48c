/**
 * A persistent {@link NonceStore} over the client's {@link Kv} (LevelDB in
 * Node, IndexedDB in browsers). Calls are serialized, so `put`'s "only if
 * absent" check and `spend`'s "only if present" check cannot race. A record
 * is only ever replaced by its spent form (which holds the signature, not
 * the secret nonce), so a nonce id is bound to one message for good, across
 * restarts.
 *
 * Never restore this store from a backup. A restored update-nonce record is
 * bound to its message, so it cannot sign two updates, but a wallet that
 * loses records it committed since cannot sign the states it promised. A
 * restored receipt ticket is not harmless at all: a ticket burned since the
 * backup shows as unburned, the next offer naming it binds it to a second
 * message, and two signatures under one R_B reveal the payee's receipt key
 * (SPEC 6.16): anyone could then sign receipts in its name.
 * @module
 */
import { ErrorCode, LnMailboxError } from '../../base/errors.js';
import { assertNonceId, type NonceStore } from '../../crypto/nonce.js';
import type { Kv } from '../mailbox/kv.js';

const RECORDS = 'nonce/rec/';

/** Committed nonces persisted in a {@link Kv}. Never logs or exposes records. */
export class KvNonceStore implements NonceStore {
  #chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly kv: Kv) {}

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#chain.then(fn, fn);
    this.#chain = p.catch(() => undefined);
    return p;
  }

  /** Stores a fresh nonce record; NONCE_REUSE when the id exists (committed or spent). */
  put(id: string, record: Uint8Array): Promise<void> {
    assertNonceId(id);
    return this.#serial(async () => {
      if (await this.kv.get(RECORDS + id)) throw new LnMailboxError(ErrorCode.NONCE_REUSE, `nonce id ${id} was already used`);
      await this.kv.put(RECORDS + id, record.slice());
    });
  }

  /** The record under `id`, or undefined. */
  get(id: string): Promise<Uint8Array | undefined> {
    assertNonceId(id);
    return this.#serial(async () => (await this.kv.get(RECORDS + id))?.slice());
  }

  /** Replaces the record under `id` by its spent form; NONCE_UNKNOWN when there is none. */
  spend(id: string, spent: Uint8Array): Promise<void> {
    assertNonceId(id);
    return this.#serial(async () => {
      if (!(await this.kv.get(RECORDS + id))) throw new LnMailboxError(ErrorCode.NONCE_UNKNOWN, `no committed nonce ${id}`);
      await this.kv.put(RECORDS + id, spent.slice());
    });
  }
}
