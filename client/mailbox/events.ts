/**
 * A tiny typed event emitter that runs in browsers and Node alike (no
 * `node:events`). Unlike Node's emitter, an `error` event without a listener
 * is simply dropped: a subscription must not crash the host app because a
 * relay is down.
 * @module
 */

/** Maps each event name to the tuple of its listener's arguments. */
export type EventMap = Record<string, unknown[]>;

/** A listener of event `K`. */
export type Listener<E extends EventMap, K extends keyof E> = (...args: E[K]) => void;

type AnyListener = (...args: unknown[]) => void;

/** Typed emitter: `on`, `once`, `off`, and `emit` for the owner. */
export class TypedEmitter<E extends EventMap> {
  #listeners = new Map<keyof E, Set<AnyListener>>();

  /** Adds `listener` for `event`; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: Listener<E, K>): () => void {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    let set = this.#listeners.get(event);
    if (set === undefined) this.#listeners.set(event, (set = new Set()));
    set.add(listener as AnyListener);
    return () => this.off(event, listener);
  }

  /** Adds a listener that runs at most once. */
  once<K extends keyof E>(event: K, listener: Listener<E, K>): () => void {
    const off = this.on(event, (...args: E[K]) => {
      off();
      listener(...args);
    });
    return off;
  }

  /** Removes `listener` from `event`. */
  off<K extends keyof E>(event: K, listener: Listener<E, K>): void {
    this.#listeners.get(event)?.delete(listener as AnyListener);
  }

  /**
   * Calls every listener of `event` synchronously, in registration order. A
   * listener that throws does not stop the others; its error is rethrown
   * asynchronously so it still reaches the host's unhandled-error reporting.
   */
  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const l of [...set]) {
      try {
        l(...args);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
}
