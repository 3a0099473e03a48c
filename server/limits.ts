/**
 * Per-client-IP limits: a token bucket for
 * POST/PUT/DELETE requests, which caps how fast one address can fill mailboxes,
 * and a count of open WebSocket connections, which caps the memory one
 * address can pin. Both keep O(1) state per active address and forget idle
 * ones, so the tables themselves cannot be grown without bound.
 * @module
 */

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets keyed by client address. */
export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxEntries: number;
  readonly #buckets = new Map<string, Bucket>();

  /**
   * @param ratePerSecond refill rate
   * @param burst bucket size
   * @param maxEntries addresses tracked before idle (full) buckets are pruned
   */
  constructor(ratePerSecond: number, burst: number, maxEntries = 100_000) {
    this.#rate = ratePerSecond;
    this.#burst = burst;
    this.#maxEntries = maxEntries;
  }

  /**
   * Takes one token for `key` at time `now` (ms).
   * @returns 0 when allowed, else the ms until a token is available
   */
  take(key: string, now: number): number {
    let b = this.#buckets.get(key);
    if (!b) {
      if (this.#buckets.size >= this.#maxEntries) this.prune(now);
      b = { tokens: this.#burst, at: now };
      this.#buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) * this.#rate) / 1000);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) * 1000) / this.#rate);
  }

  /** Forgets addresses whose bucket has refilled (they are indistinguishable from new ones). */
  prune(now: number): void {
    for (const [k, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) * this.#rate) / 1000 >= this.#burst) this.#buckets.delete(k);
    }
    // Still full of active addresses: drop the oldest rather than grow (an
    // attacker with that many addresses gains a fresh burst, nothing more).
    while (this.#buckets.size >= this.#maxEntries) {
      const oldest = this.#buckets.keys().next();
      if (oldest.done) break;
      this.#buckets.delete(oldest.value);
    }
  }

  /** Addresses tracked. */
  get size(): number {
    return this.#buckets.size;
  }
}

/** Open-connection counts keyed by client address. */
export class ConnectionLimiter {
  readonly #max: number;
  readonly #open = new Map<string, number>();

  constructor(maxPerKey: number) {
    this.#max = maxPerKey;
  }

  /** Counts a new connection for `key`; false (and nothing counted) when at the limit. */
  acquire(key: string): boolean {
    const n = this.#open.get(key) ?? 0;
    if (n >= this.#max) return false;
    this.#open.set(key, n + 1);
    return true;
  }

  /** Releases one connection of `key`. */
  release(key: string): void {
    const n = this.#open.get(key) ?? 0;
    if (n <= 1) this.#open.delete(key);
    else this.#open.set(key, n - 1);
  }

  /** Open connections of `key`. */
  count(key: string): number {
    return this.#open.get(key) ?? 0;
  }
}
