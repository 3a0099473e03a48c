/**
 * A persistent {@link NonceStore} over the client's {@link Kv} (LevelDB in
 * Node, IndexedDB in browsers). Calls are serialized, so `put`'s "only if
 * absent" check and `spend`'s "only if present" check cannot race. A record
 * is only ever replaced by its spent form (which holds the signature, not
 * the secret nonce), so a nonce id is bound to one message for good, across
 * restarts.
 *
 * A runtime may hold the writes of one step ({@link KvNonceStore.hold}) and
 * write them in the step's own atomic batch ({@link KvNonceStore.heldOps}):
 * a nonce record then lands in the same write (and the same fsync) as the
 * message that carries its R or its signature, which cannot leave before
 * that write. Writes still held when the runtime releases the store (a step
 * that failed, a call that persisted nothing) are written then.
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
import { abytes } from '../../base/bytes.js';
import { ErrorCode, LnMailboxError } from '../../base/errors.js';
import { assertNonceId, type NonceStore } from '../../crypto/nonce.js';
import type { Kv, KvOp } from '../mailbox/kv.js';

const RECORDS = 'nonce/rec/';

/** Committed nonces persisted in a {@link Kv}. Never logs or exposes records. */
export class KvNonceStore implements NonceStore {
  #chain: Promise<unknown> = Promise.resolve();
  /** Writes held for the caller's batch (see {@link hold}), by key; undefined when writing through. */
  #held: Map<string, Uint8Array> | undefined;

  constructor(private readonly kv: Kv) {}

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#chain.then(fn, fn);
    this.#chain = p.catch(() => undefined);
    return p;
  }

  async #read(id: string): Promise<Uint8Array | undefined> {
    return this.#held?.get(RECORDS + id) ?? (await this.kv.get(RECORDS + id));
  }

  async #write(id: string, record: Uint8Array): Promise<void> {
    if (this.#held) this.#held.set(RECORDS + id, record.slice());
    else await this.kv.put(RECORDS + id, record.slice());
  }

  /** Stores a fresh nonce record; NONCE_REUSE when the id exists (committed or spent). */
  put(id: string, record: Uint8Array): Promise<void> {
    assertNonceId(id);
    abytes(record, undefined, 'nonce record');
    return this.#serial(async () => {
      if (await this.#read(id)) throw new LnMailboxError(ErrorCode.NONCE_REUSE, `nonce id ${id} was already used`);
      await this.#write(id, record);
    });
  }

  /** The record under `id`, or undefined. */
  get(id: string): Promise<Uint8Array | undefined> {
    assertNonceId(id);
    return this.#serial(async () => (await this.#read(id))?.slice());
  }

  /** Replaces the record under `id` by its spent form; NONCE_UNKNOWN when there is none. */
  spend(id: string, spent: Uint8Array): Promise<void> {
    assertNonceId(id);
    abytes(spent, undefined, 'nonce record');
    return this.#serial(async () => {
      if (!(await this.#read(id))) throw new LnMailboxError(ErrorCode.NONCE_UNKNOWN, `no committed nonce ${id}`);
      await this.#write(id, spent);
    });
  }

  /**
   * From now on, keeps writes in memory for the caller's batch instead of
   * writing them (reads see them). The caller must {@link release} the store
   * when its step is over, whatever happened.
   */
  hold(): void {
    this.#held ??= new Map();
  }

  /**
   * The writes held so far, as operations for the caller's atomic batch.
   * They stay held until {@link written} says the batch succeeded.
   */
  heldOps(): KvOp[] {
    return [...(this.#held ?? [])].map(([key, value]) => ({ type: 'put', key, value }));
  }

  /** Forgets the held writes that `ops` (from {@link heldOps}) wrote, once the caller's batch is durable. */
  written(ops: readonly KvOp[]): void {
    for (const op of ops) if (op.type === 'put' && this.#held?.get(op.key) === op.value) this.#held.delete(op.key);
  }

  /** Writes whatever is still held, in one atomic batch, and writes through again. */
  release(): Promise<void> {
    // Most calls commit no nonce (the watchtower's reads, most steps): nothing to queue then.
    if (this.#held?.size === 0) {
      this.#held = undefined;
      return Promise.resolve();
    }
    return this.#serial(async () => {
      const ops = this.heldOps();
      if (ops.length > 0) await this.kv.batch(ops);
      this.#held = undefined;
    });
  }
}
