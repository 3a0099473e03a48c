/**
 * Runs async tasks one at a time per key (here: per envelope id), so that a
 * read-check-write on one envelope (append's duplicate check, ack, retract,
 * sweep) never interleaves with another on the same envelope. Tasks on
 * different keys run concurrently and so share group-commit batches.
 * @module
 */

/** A per-key FIFO of async tasks. Memory: one map entry per key with work pending. */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `task` after every task queued earlier under `key` has settled. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key);
    const result = prev ? prev.then(task, task) : task();
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Number of keys with pending work. */
  get size(): number {
    return this.#tails.size;
  }
}
