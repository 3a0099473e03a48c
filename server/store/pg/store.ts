/**
 * The relay store for several relay instances: PostgreSQL through `pg`
 * (node-postgres). Implements {@link RelayStore} (SPEC 5.12, "Storage
 * contract") with the same semantics as the LevelDB backend, checked by
 * the same conformance suite.
 *
 * - Durability: every write is one PostgreSQL transaction and resolves after
 *   COMMIT; with `synchronous_commit = on` (the default) that is after the WAL
 *   is flushed. Concurrent appends share one transaction through the shared
 *   group commit (`../group-commit.ts`, `append-batch.ts`).
 * - Seq and quota: one PL/pgSQL call per append row-locks the mailbox's
 *   counter, so any number of instances share gap-free seqs and one quota
 *   (`schema.ts`).
 * - Doorbell: LISTEN/NOTIFY between instances, in seq order (`doorbell.ts`).
 * - `usage()`/`totals()` are synchronous, so counters are cached in memory
 *   (`counters.ts`): loaded at open, refreshed from every statement's
 *   RETURNING and from every instance's notifications. Another instance's
 *   changes show up after one notification round trip; quotas never use
 *   the cache.
 * - Fail-safe writes (`failsafe.ts`): after a write's fault the store
 *   refuses writes at once, and probes with backoff until the database
 *   commits again.
 * @module
 */
import { Buffer } from 'node:buffer';
import pg from 'pg';
import type { EnvelopeStatus } from '../../../protocol/relay.js';
import { ErrorCode, LnMailboxError, fail } from '../../../base/errors.js';
import { equalBytes } from '../../../base/bytes.js';
import type { StoreHealth } from '../health.js';
import { KeyedQueue } from '../keyed-queue.js';
import { DEFAULT_EXPIRED_RETENTION_MS, EnvelopeState, MAX_STORED_INT, statusAt } from '../lifecycle.js';
import { GroupCommit } from '../group-commit.js';
import { MAX_APPEND_BATCH, appendBatch, type BatchItem, type BatchRow } from './append-batch.js';
import { CounterCache, snapshotOf } from './counters.js';
import { PgFailSafe, type PgFailSafeSettings } from './failsafe.js';
import { PgDoorbell, type FetchRange, type UsageSnapshot } from './doorbell.js';
import { SCHEMA_LOCK_KEY, SCHEMA_NAME, SCHEMA_VERSION, pgNames, schemaDdl, type PgNames } from './schema.js';
import { pgStatements, type PgStatements } from './sql.js';
import { retrying, transaction, unavailable } from './tx.js';
import type {
  AppendListener,
  AppendRequest,
  AppendResult,
  ListResult,
  MailboxQuota,
  MailboxUsage,
  RelayStore,
  RetractOutcome,
  StoreTotals,
  StoredEnvelope,
  SweepResult,
} from '../types.js';

/** Options of {@link PgStore}; the fail-safe settings are described in `failsafe.ts`. */
export interface PgStoreOptions extends PgFailSafeSettings {
  /** `postgres://user:password@host:port/database` (libpq URL; never logged). */
  connectionString: string;
  /** Schema holding the tables (created if missing). Default `public`. Instances that share mail share the schema. */
  schema?: string;
  /** How long an `expired` tombstone answers status queries after expiry (ms). Default 24 h. Use one value on every instance. */
  expiredRetentionMs?: number;
  /** Connections in the pool (plus one LISTEN connection). Default 10. */
  poolSize?: number;
  /** Reports background failures (LISTEN connection lost, doorbell read failed). */
  onError?: (e: unknown) => void;
  /**
   * Whether this process has a subscriber for `mailbox`; when given and false,
   * envelopes other instances append there are not read back for onAppend
   * (the relay passes its fanout). Default: always read back.
   */
  wants?: (mailbox: string) => boolean;
  /**
   * Fault-injection seam for tests: wraps the connection pool the store
   * uses for every query (e.g. to fail the k-th statement).
   */
  wrapPool?: (pool: pg.Pool) => pg.Pool;
}

/** How long an append waits for its own notification before answering anyway (the envelope is durable). */
const DOORBELL_WAIT_MS = 2000;
const hex = (b: Buffer): string => b.toString('hex');
const buf = (h: string): Buffer => Buffer.from(h, 'hex');
const num = (v: unknown): number => Number(v);
const bytesOf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** PostgreSQL-backed {@link RelayStore}, shareable by several relay processes. */
export class PgStore implements RelayStore {
  readonly #n: PgNames;
  readonly #sql: PgStatements;
  readonly #pool: pg.Pool;
  readonly #url: string;
  readonly #expiredRetentionMs: number;
  readonly #onError: (e: unknown) => void;
  readonly #serial = new KeyedQueue();
  readonly #counters = new CounterCache();
  readonly #listeners = new Set<AppendListener>();
  readonly #active = new Set<Promise<unknown>>();
  readonly #marks = new Set<Promise<unknown>>();
  readonly #doorbell: PgDoorbell;
  /** Concurrent appends share one transaction (`append-batch.ts`). */
  readonly #batcher = new GroupCommit<BatchItem, BatchRow>((items) => appendBatch(this.#pool, this.#sql.append, items), {
    maxBatch: MAX_APPEND_BATCH,
  });
  #state: 'new' | 'opening' | 'open' | 'closing' | 'closed' = 'new';
  #opening: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  readonly #safe: PgFailSafe;

  constructor(options: PgStoreOptions) {
    if (typeof options?.connectionString !== 'string' || options.connectionString.length === 0)
      fail(ErrorCode.INVALID_TYPE, 'PgStore: connectionString must be a non-empty string');
    const schema = options.schema ?? 'public';
    if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema))
      fail(ErrorCode.INVALID_TYPE, 'PgStore: schema must be a lowercase SQL identifier');
    const poolSize = options.poolSize ?? 10;
    if (!Number.isSafeInteger(poolSize) || poolSize < 1) fail(ErrorCode.INVALID_RANGE, 'PgStore: poolSize must be >= 1');
    this.#n = pgNames(schema);
    this.#sql = pgStatements(this.#n);
    this.#url = options.connectionString;
    this.#expiredRetentionMs = options.expiredRetentionMs ?? DEFAULT_EXPIRED_RETENTION_MS;
    this.#onError = options.onError ?? (() => undefined);
    const pool = new pg.Pool({ connectionString: this.#url, max: poolSize });
    // An idle client losing its server emits here; unhandled it would crash the process.
    pool.on('error', (e) => this.#onError(e));
    this.#pool = options.wrapPool ? options.wrapPool(pool) : pool;
    this.#safe = new PgFailSafe({ isOpen: () => this.#state === 'open', probe: () => this.#probe() }, options);
    this.#doorbell = new PgDoorbell({
      client: () => new pg.Client({ connectionString: this.#url }),
      appendChannel: this.#n.appendChannel,
      usageChannel: this.#n.usageChannel,
      wants: options.wants ?? (() => true),
      fetch: (ranges, skip) => this.#fetchRanges(ranges, skip),
      deliver: (mailbox, envelope) => {
        for (const l of this.#listeners) l(mailbox, envelope);
      },
      usage: (mailbox, snap) => this.#counters.apply(mailbox, snap),
      connected: () => {
        // Counter changes may have been missed while the connection was down.
        if (this.#state === 'open') this.#loadCounters().catch((e: unknown) => this.#onError(e));
      },
      error: (e) => this.#onError(e),
    });
  }

  open(): Promise<void> {
    if (this.#state === 'open') return Promise.resolve();
    if (this.#state === 'closing' || this.#state === 'closed')
      return Promise.reject(new LnMailboxError(ErrorCode.STORE_UNAVAILABLE, 'store is closed'));
    this.#opening ??= this.#open();
    return this.#opening;
  }

  async #open(): Promise<void> {
    this.#state = 'opening';
    try {
      await transaction(this.#pool, async (c) => {
        // Several instances may start at once: CREATE … IF NOT EXISTS is not safe against itself.
        await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
        const exists = await c.query('SELECT to_regclass($1) AS t', [this.#n.meta]);
        if (exists.rows[0]?.t) {
          const v = await c.query(`SELECT value FROM ${this.#n.meta} WHERE key = 'schema_version'`);
          const found = Number(v.rows[0]?.value ?? 0);
          if (found > SCHEMA_VERSION)
            fail(ErrorCode.STORE_UNAVAILABLE, `database schema version ${found} is newer than this relay's ${SCHEMA_VERSION}`);
        }
        await c.query(schemaDdl(this.#n));
      });
      // LISTEN before loading counters: nothing committed in between is missed.
      await this.#doorbell.start();
      await this.#loadCounters();
      for (const [mailbox, lastSeq] of this.#counters.lastSeqs()) this.#doorbell.floor(mailbox, lastSeq);
      this.#state = 'open';
    } catch (e) {
      this.#state = 'closed';
      await this.#doorbell.stop();
      await this.#pool.end().catch(() => undefined);
      throw unavailable(e);
    }
  }

  async #loadCounters(): Promise<void> {
    const r = await this.#pool.query(this.#sql.loadCounters);
    for (const row of r.rows) this.#counters.apply(hex(row.mailbox), snapshotOf(row));
  }

  /**
   * Wraps a public operation: refuses when not open or (writes) when not
   * healthy, fails the store on a write's fault, maps errors, lets close()
   * wait for it.
   */
  #op<T>(fn: () => Promise<T>, write = false): Promise<T> {
    if (this.#state !== 'open') return Promise.reject(new LnMailboxError(ErrorCode.STORE_UNAVAILABLE, `store is ${this.#state}`));
    if (write) {
      const refused = this.#safe.refusal(false);
      if (refused) return Promise.reject(refused);
    }
    const p = fn().catch((e: unknown) => {
      if (write && !(e instanceof LnMailboxError)) this.#safe.fail(e);
      throw unavailable(e);
    });
    this.#active.add(p);
    const done = () => this.#active.delete(p);
    p.then(done, done);
    return p;
  }

  /** The fail-safe path's write probe (`failsafe.ts`): one committed UPDATE, then the counters reloaded. */
  async #probe(): Promise<void> {
    await this.#pool.query(`UPDATE ${this.#n.meta} SET value = value WHERE key = 'schema_version'`);
    // The database is the truth after a failure: replace the cache, do not merge into it.
    const r = await this.#pool.query(this.#sql.loadCounters);
    this.#counters.clear();
    for (const row of r.rows) this.#counters.apply(hex(row.mailbox), snapshotOf(row));
  }

  /** The store's write health (state, refusals, recoveries). Free space is the database server's to watch. */
  health(): StoreHealth {
    return this.#safe.health();
  }

  append(req: AppendRequest, quota: MailboxQuota): Promise<AppendResult> {
    return this.#op(
      () =>
        // One in flight per id in this process; across processes the mailbox row lock decides.
        this.#serial.run(req.id, async () => {
          if (req.expiresAt > MAX_STORED_INT) fail(ErrorCode.INVALID_RANGE, 'expiry out of range');
          const stored: StoredEnvelope = { id: req.id, seq: 0, envelope: req.envelope, expiresAt: req.expiresAt };
          this.#doorbell.expect(req.mailbox, stored);
          let row: BatchRow;
          try {
            row = await this.#batcher.submit({
              id: buf(req.id),
              mailbox: buf(req.mailbox),
              body: bytesOf(req.envelope),
              expiresAt: req.expiresAt,
              retractionHash: req.retractionHash === undefined ? null : buf(req.retractionHash),
              quota,
            });
          } catch (e) {
            this.#doorbell.forget(req.id);
            throw e;
          }
          this.#counters.apply(req.mailbox, snapshotOf(row));
          const outcome = row.outcome as string;
          if (outcome !== 'created') {
            this.#doorbell.forget(req.id);
            if (outcome === 'duplicate') return { created: false, seq: num(row.seq), expiresAt: num(row.expires_at) };
            if (outcome === 'full_count')
              fail(ErrorCode.MAILBOX_FULL, `mailbox holds ${num(row.live_count)} envelopes, the maximum is ${quota.maxEnvelopes}`);
            fail(ErrorCode.MAILBOX_FULL, `mailbox holds ${num(row.live_bytes)} bytes, the maximum is ${quota.maxBytes}`);
          }
          const seq = num(row.seq);
          // Committed: now wait until it went through the doorbell, so onAppend has fired (in order) before we answer.
          await this.#doorbell.delivered(req.id, req.mailbox, seq, DOORBELL_WAIT_MS);
          return { created: true, seq, expiresAt: req.expiresAt };
        }),
      true,
    );
  }

  async #fetchRanges(ranges: FetchRange[], skipIds: string[]): Promise<(StoredEnvelope & { mailbox: string })[]> {
    const r = await this.#pool.query(this.#sql.fetchRanges, [
      ranges.map((x) => buf(x.mailbox)),
      ranges.map((x) => x.after),
      ranges.map((x) => x.upTo),
      skipIds.map(buf),
    ]);
    return r.rows.map((row) => ({
      mailbox: hex(row.mailbox),
      id: hex(row.id),
      seq: num(row.seq),
      envelope: row.body as Buffer,
      expiresAt: num(row.expires_at),
    }));
  }

  list(mailbox: string, after: number, limit: number, now: number, maxBytes = Infinity): Promise<ListResult> {
    return this.#op(async () => {
      if (limit <= 0) return { envelopes: [], more: this.usage(mailbox).count > 0 };
      // Bytes before each row come from a window sum, so bodies past the byte cap are never read.
      const r = await this.#pool.query(this.#sql.list, [
        buf(mailbox),
        Math.min(Math.max(after, 0), MAX_STORED_INT),
        now,
        limit + 1,
        Number.isFinite(maxBytes) ? maxBytes : null,
      ]);
      const envelopes: StoredEnvelope[] = [];
      let more = false;
      let bytes = 0;
      for (const row of r.rows) {
        if (envelopes.length === limit || bytes >= maxBytes || row.body === null) {
          more = true;
          break;
        }
        const body = row.body as Buffer;
        envelopes.push({ id: hex(row.id), seq: num(row.seq), envelope: body, expiresAt: num(row.expires_at) });
        bytes += body.length;
      }
      return { envelopes, more };
    });
  }

  markDelivered(ids: readonly string[]): void {
    if (this.#state !== 'open' || this.#safe.state !== 'ok' || ids.length === 0) return;
    // Informational (SPEC 5): only a live row takes the flag, so it can never resurrect a tombstone.
    const p = this.#pool.query(this.#sql.markDelivered, [ids.map(buf)]).catch((e: unknown) => this.#onError(e));
    this.#marks.add(p);
    void p.then(() => this.#marks.delete(p));
  }

  /**
   * Turns live rows into tombstones and lowers the mailbox counter, in ONE
   * statement (its own transaction), and notifies the new counter.
   * `mailbox` restricts to the caller's own mail (acks); null for retraction.
   */
  async #tombstone(
    q: pg.Pool | pg.PoolClient,
    ids: string[],
    mailbox: string | null,
    state: number,
    apply: (mailbox: string, snap: UsageSnapshot) => void = (m, snap) => this.#counters.apply(m, snap),
  ): Promise<string[]> {
    const r = await q.query(this.#sql.tombstone, [ids.map(buf), mailbox === null ? null : buf(mailbox), state]);
    const gone: string[] = [];
    for (const row of r.rows) {
      if (row.kind === 'id') gone.push(hex(row.mailbox));
      else if (row.kind === 'usage') apply(hex(row.mailbox), snapshotOf(row));
    }
    return gone;
  }

  ack(mailbox: string, ids: readonly string[]): Promise<string[]> {
    return this.#op(async () => {
      if (ids.length === 0) return [];
      const gone = new Set(await retrying(() => this.#tombstone(this.#pool, [...new Set(ids)], mailbox, EnvelopeState.acknowledged)));
      return ids.filter((id) => gone.delete(id));
    }, true);
  }

  retract(id: string, secretHash: string, now: number): Promise<RetractOutcome> {
    // Counter snapshots read inside the transaction are cached only once it has committed.
    const later: [string, UsageSnapshot][] = [];
    return this.#op(
      () =>
        transaction(this.#pool, async (c) => {
          later.length = 0;
          // FOR UPDATE: an ack from any instance waits for us, or we see its tombstone.
          const r = await c.query(this.#sql.retractRow, [buf(id)]);
          const row = r.rows[0];
          const state = row ? num(row.state) : -1;
          const expiresAt = row ? num(row.expires_at) : 0;
          if (!row || statusAt(state, expiresAt, false, now, this.#expiredRetentionMs) === undefined)
            fail(ErrorCode.ENVELOPE_NOT_FOUND, 'no such envelope');
          const hash = row.retraction_hash as Buffer | null;
          if (!hash || !equalBytes(hash, buf(secretHash))) fail(ErrorCode.RETRACT_FORBIDDEN, 'retraction secret does not match');
          if (state === EnvelopeState.acknowledged) fail(ErrorCode.RETRACT_TOO_LATE, 'envelope was already acknowledged by the recipient');
          if (state === EnvelopeState.retracted) return 'retracted';
          // Expired (swept or not) is never served again: nothing left to retract.
          if (state === EnvelopeState.expired || expiresAt <= now) return 'expired';
          await this.#tombstone(c, [id], null, EnvelopeState.retracted, (m, snap) => later.push([m, snap]));
          return 'retracted' as const;
        }).then((out) => {
          for (const [m, snap] of later) this.#counters.apply(m, snap);
          return out;
        }),
      true,
    );
  }

  status(id: string, now: number): Promise<EnvelopeStatus | undefined> {
    return this.#op(async () => {
      const r = await this.#pool.query(this.#sql.status, [buf(id)]);
      const row = r.rows[0];
      if (!row) return undefined;
      return statusAt(num(row.state), num(row.expires_at), row.delivered === true, now, this.#expiredRetentionMs);
    });
  }

  sweep(now: number, limit = 1000): Promise<SweepResult> {
    const later: [string, UsageSnapshot][] = [];
    return this.#op(
      () =>
        transaction(this.#pool, async (c) => {
          later.length = 0;
          // SKIP LOCKED: instances sweeping at the same time take disjoint rows.
          const r = await c.query(this.#sql.sweepDue, [now, limit, this.#expiredRetentionMs]);
          const row = r.rows[0]!;
          const mailboxes = row.mailboxes as Buffer[];
          const counts = (row.counts as unknown[]).map(num);
          const sizes = (row.sizes as unknown[]).map(num);
          let expired = 0;
          for (const k of counts) expired += k;
          if (mailboxes.length > 0) {
            // Counter rows are locked in mailbox order, so concurrent sweeps cannot deadlock on them.
            await c.query(this.#sql.lockMailboxes, [mailboxes]);
            const u = await c.query(this.#sql.sweepCounters, [mailboxes, counts, sizes]);
            for (const x of u.rows) later.push([hex(x.mailbox), snapshotOf(x)]);
          }
          return { expired, purged: num(row.purged), more: num(row.due) === limit };
        }).then((out) => {
          for (const [m, snap] of later) this.#counters.apply(m, snap);
          return out;
        }),
      true,
    );
  }

  putRecord(mailbox: string, name: string, value: Uint8Array, maxRecords: number): Promise<void> {
    return this.#op(
      () =>
        transaction(this.#pool, async (c) => {
          // The lock orders puts to one mailbox across instances; the count below then sees every committed one.
          await c.query(this.#sql.recordLock, [buf(mailbox)]);
          const held = (await c.query(this.#sql.recordNames, [buf(mailbox)])).rows.map((r) => r.name as string);
          if (!held.includes(name) && held.length >= maxRecords)
            fail(ErrorCode.RECORD_LIMIT, `mailbox holds ${held.length} records, the maximum is ${maxRecords}`);
          await c.query(this.#sql.putRecord, [buf(mailbox), name, bytesOf(value)]);
        }),
      true,
    );
  }

  getRecord(mailbox: string, name: string): Promise<Uint8Array | undefined> {
    return this.#op(async () => {
      const r = await this.#pool.query(this.#sql.getRecord, [buf(mailbox), name]);
      return r.rows[0] ? (r.rows[0].value as Buffer) : undefined;
    });
  }

  deleteRecord(mailbox: string, name: string): Promise<boolean> {
    return this.#op(async () => {
      const r = await this.#pool.query(this.#sql.deleteRecord, [buf(mailbox), name]);
      return (r.rowCount ?? 0) > 0;
    }, true);
  }

  listRecords(mailbox: string): Promise<string[]> {
    return this.#op(async () => (await this.#pool.query(this.#sql.recordNames, [buf(mailbox)])).rows.map((r) => r.name as string));
  }

  usage(mailbox: string): MailboxUsage {
    return this.#counters.usage(mailbox);
  }

  totals(): StoreTotals {
    return this.#counters.totals();
  }

  onAppend(listener: AppendListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async flush(): Promise<void> {
    // Writes resolve only after COMMIT; what may still be in flight are delivered flags and open operations.
    await Promise.allSettled([...this.#active, ...this.#marks]);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#opening) await this.#opening.catch(() => undefined);
    const wasOpen = this.#state === 'open';
    this.#state = 'closing';
    await this.#safe.stop();
    await Promise.allSettled([...this.#active]);
    await Promise.allSettled([...this.#marks]);
    this.#listeners.clear();
    if (wasOpen) {
      await this.#doorbell.stop();
      await this.#pool.end().catch(() => undefined);
    }
    this.#state = 'closed';
  }
}
