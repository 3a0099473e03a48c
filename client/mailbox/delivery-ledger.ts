/**
 * The delivery ledger of one mailbox, persisted in a {@link Kv}: which
 * envelope ids were already processed (so redelivery — at-least-once on every
 * relay, and the same envelope on several relays — never reaches the handler
 * twice, even across restarts), and the per-relay cursor to resume from.
 *
 * Key layout (all under `lnmb/mailbox/<mailbox hex>/`):
 * - `seen/<envelope id hex>` → u64 BE: time (ms) after which the entry may be pruned;
 * - `cursor/<normalized relay URL>` → u64 BE: highest seq acknowledged on that relay.
 * @module
 */
import type { Kv, KvOp } from './kv.js';
import { DeferringKv } from './kv-deferred.js';

function u64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(Math.max(0, Math.floor(n))));
  return out;
}

function readU64(b: Uint8Array | undefined): number | undefined {
  if (b === undefined || b.length !== 8) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(v);
}

/** Processed-id set and cursors of one mailbox. */
export class DeliveryLedger {
  readonly #kv: Kv;
  readonly #prefix: string;

  /**
   * @param kv the store
   * @param mailboxHex this mailbox's id (64 hex); namespaces the keys so one store can hold several mailboxes
   */
  constructor(kv: Kv, mailboxHex: string) {
    this.#kv = kv;
    this.#prefix = `lnmb/mailbox/${mailboxHex}/`;
  }

  /** True when `idHex` was processed and its entry has not expired at `now`. */
  async isProcessed(idHex: string, now: number): Promise<boolean> {
    const until = readU64(await this.#kv.get(`${this.#prefix}seen/${idHex}`));
    return until !== undefined && until > now;
  }

  /** Records `idHex` as processed until `keepUntil` (ms since epoch). */
  async markProcessed(idHex: string, keepUntil: number): Promise<void> {
    await this.#kv.batch([this.processedOp(idHex, keepUntil)]);
  }

  /** The write that {@link markProcessed} makes, for a caller's own atomic batch. */
  processedOp(idHex: string, keepUntil: number): KvOp {
    return { type: 'put', key: `${this.#prefix}seen/${idHex}`, value: u64(keepUntil) };
  }

  /** The persisted cursor of `relay` (0 when none). */
  async cursor(relay: string): Promise<number> {
    return readU64(await this.#kv.get(`${this.#prefix}cursor/${relay}`)) ?? 0;
  }

  /**
   * Persists the cursor of `relay`. On a {@link DeferringKv} the write is
   * held for the next batch: a cursor lost to a crash only makes the relay
   * deliver again what the processed ids already cover.
   */
  async setCursor(relay: string, seq: number): Promise<void> {
    const key = `${this.#prefix}cursor/${relay}`;
    if (this.#kv instanceof DeferringKv) this.#kv.defer([{ type: 'put', key, value: u64(seq) }]);
    else await this.#kv.put(key, u64(seq));
  }

  /** Deletes processed-id entries that expired before `now`; returns how many. */
  async prune(now: number): Promise<number> {
    const dead: string[] = [];
    for await (const [key, value] of this.#kv.entries(`${this.#prefix}seen/`)) {
      const until = readU64(value);
      if (until === undefined || until <= now) dead.push(key);
    }
    for (let i = 0; i < dead.length; i += 500) await this.#kv.batch(dead.slice(i, i + 500).map((key) => ({ type: 'del' as const, key })));
    return dead.length;
  }
}
