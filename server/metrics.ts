/**
 * Prometheus metrics (prom-client) on the relay's own Registry, not the
 * global one, so several relays in one process (tests, embedding) do not
 * collide. No label ever carries a mailbox or envelope id: cardinality stays
 * bounded and `/metrics` reveals nothing about who receives mail.
 * @module
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import client from 'prom-client';
import { STORE_STATES, type StoreHealth } from './store/health.js';
import type { StoreTotals } from './store/types.js';

const { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = client;

/** The relay's metric handles. */
export interface RelayMetrics {
  registry: client.Registry;
  httpRequests: client.Counter<'route' | 'method' | 'status'>;
  envelopesStored: client.Counter;
  envelopesDuplicate: client.Counter;
  envelopesDelivered: client.Counter<'via'>;
  envelopesAcked: client.Counter;
  envelopesExpired: client.Counter;
  envelopesRetracted: client.Counter;
  bytesStored: client.Counter;
  rejections: client.Counter<'code'>;
  wsConnections: client.Gauge;
  wsClosed: client.Counter<'code'>;
  storeWriteSeconds: client.Histogram;
  storeBatchOps: client.Histogram;
  /** Stops what samples in the background (the event-loop delay monitor). Idempotent. */
  stop(): void;
}

/** Interval of the event-loop delay sampler, ms: every stall longer than this is seen. */
const LOOP_DELAY_INTERVAL_MS = 10;

/**
 * How late the event loop runs a timer due every {@link LOOP_DELAY_INTERVAL_MS}:
 * each run records its lateness (ns) into a histogram that a scrape reads and
 * starts over. (Node's `monitorEventLoopDelay` forgets its last tick on
 * reset, so a stall that straddles a scrape would be lost, and it counts the
 * interval itself into every sample.)
 */
class LoopDelay {
  readonly histogram: RecordableHistogram = createHistogram();
  #last = performance.now();
  readonly #timer = setInterval(() => {
    const now = performance.now();
    this.histogram.record(Math.max(1, Math.round((now - this.#last - LOOP_DELAY_INTERVAL_MS) * 1e6)));
    this.#last = now;
  }, LOOP_DELAY_INTERVAL_MS);

  constructor() {
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/**
 * Creates the metrics, including default process metrics (CPU, memory,
 * event-loop lag as `lnmb_nodejs_eventloop_lag_*`) and gauges read from the
 * store's in-memory totals and health at scrape time.
 */
export function createMetrics(totals: () => StoreTotals, health: () => StoreHealth | undefined = () => undefined): RelayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'lnmb_' });
  const registers = [registry];
  // How late the event loop runs timers: every request, push and batch of this relay waits behind a stall.
  const loop = new LoopDelay();
  const loopDelay = loop.histogram;
  const m: RelayMetrics = {
    stop: () => loop.stop(),
    registry,
    httpRequests: new Counter({
      name: 'lnmb_http_requests_total',
      help: 'HTTP requests by route pattern, method and status',
      labelNames: ['route', 'method', 'status'],
      registers,
    }),
    envelopesStored: new Counter({ name: 'lnmb_envelopes_stored_total', help: 'Envelopes durably stored', registers }),
    envelopesDuplicate: new Counter({
      name: 'lnmb_envelopes_duplicate_total',
      help: 'POSTs of an envelope id already known (answered 200, nothing written)',
      registers,
    }),
    envelopesDelivered: new Counter({
      name: 'lnmb_envelopes_delivered_total',
      help: 'Envelopes handed to a recipient (listing or push; re-deliveries count again)',
      labelNames: ['via'],
      registers,
    }),
    envelopesAcked: new Counter({ name: 'lnmb_envelopes_acked_total', help: 'Envelopes acknowledged and deleted', registers }),
    envelopesExpired: new Counter({ name: 'lnmb_envelopes_expired_total', help: 'Envelopes expired unread', registers }),
    envelopesRetracted: new Counter({ name: 'lnmb_envelopes_retracted_total', help: 'Envelopes retracted by their sender', registers }),
    bytesStored: new Counter({ name: 'lnmb_envelope_bytes_stored_total', help: 'Envelope bytes durably stored', registers }),
    rejections: new Counter({
      name: 'lnmb_rejections_total',
      help: 'Requests and frames rejected, by stable error code',
      labelNames: ['code'],
      registers,
    }),
    wsConnections: new Gauge({ name: 'lnmb_ws_connections', help: 'Open WebSocket connections', registers }),
    wsClosed: new Counter({
      name: 'lnmb_ws_closed_total',
      help: 'WebSocket connections closed by the relay, by close code',
      labelNames: ['code'],
      registers,
    }),
    storeWriteSeconds: new Histogram({
      name: 'lnmb_store_write_seconds',
      help: 'Duration of one store batch write (including fsync)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    storeBatchOps: new Histogram({
      name: 'lnmb_store_batch_ops',
      help: 'Operations per store batch (group commit)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024],
      registers,
    }),
  };
  new Gauge({
    name: 'lnmb_event_loop_delay_seconds',
    help: `Event-loop delay since the previous scrape (how late a timer due every ${LOOP_DELAY_INTERVAL_MS} ms ran), by quantile: 0.5, 0.99 and 1 (the max)`,
    labelNames: ['quantile'],
    registers,
    collect() {
      // Nothing sampled yet (a scrape right after start): report zeros, not NaN.
      const seen = loopDelay.count > 0;
      for (const [q, ns] of [
        ['0.5', seen ? loopDelay.percentile(50) : 0],
        ['0.99', seen ? loopDelay.percentile(99) : 0],
        ['1', seen ? loopDelay.max : 0],
      ] as const)
        this.set({ quantile: q }, ns / 1e9);
      loopDelay.reset();
    },
  });
  new Gauge({
    name: 'lnmb_store_envelopes',
    help: 'Live envelopes in the store',
    registers,
    collect() {
      this.set(totals().envelopes);
    },
  });
  new Gauge({
    name: 'lnmb_store_bytes',
    help: 'Live envelope bytes in the store',
    registers,
    collect() {
      this.set(totals().bytes);
    },
  });
  new Gauge({
    name: 'lnmb_store_state',
    help: 'Store write state: 1 for the current one (ok, failed, recovering, damaged)',
    labelNames: ['state'],
    registers,
    collect() {
      const state = health()?.state ?? 'ok';
      for (const s of STORE_STATES) this.set({ state: s }, s === state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'lnmb_store_low_space',
    help: '1 while free space is below the reserve and new envelopes are refused (STORE_FULL)',
    registers,
    collect() {
      this.set(health()?.lowSpace ? 1 : 0);
    },
  });
  // Free space only where the store measures it (LevelDB's data directory), so that a PostgreSQL relay shows no false 0.
  if (health()?.freeBytes !== undefined) {
    new Gauge({
      name: 'lnmb_store_free_bytes',
      help: 'Free bytes on the store filesystem (LevelDB data directory), as last polled',
      registers,
      collect() {
        const free = health()?.freeBytes;
        if (free !== undefined) this.set(free);
      },
    });
    new Gauge({
      name: 'lnmb_store_reserve_bytes',
      help: 'Free-space reserve: below it new envelopes are refused',
      registers,
      collect() {
        const r = health()?.reserveBytes;
        if (r !== undefined) this.set(r);
      },
    });
  }
  // Cumulative counts kept by the store, exposed as counters (advanced by the difference at scrape time).
  const mirrored = <K extends string>(name: string, help: string, label: string, read: (h: StoreHealth) => Record<K, number>) => {
    const seen = new Map<string, number>();
    new Counter({
      name,
      help,
      labelNames: [label],
      registers,
      collect() {
        const h = health();
        if (!h) return;
        for (const [k, v] of Object.entries(read(h)) as [string, number][]) {
          const d = v - (seen.get(k) ?? 0);
          this.inc({ [label]: k }, Math.max(d, 0));
          seen.set(k, v);
        }
      },
    });
  };
  mirrored(
    'lnmb_store_refusals_total',
    'Writes refused by the store, by reason (failed, recovering, damaged, low_space)',
    'reason',
    (h) => h.refusals,
  );
  mirrored(
    'lnmb_store_recoveries_total',
    'Store recovery attempts (close, reopen, verify), by outcome (ok, failed, damaged)',
    'outcome',
    (h) => h.recoveries,
  );
  new Gauge({
    name: 'lnmb_store_mailboxes',
    help: 'Mailboxes known to the store',
    registers,
    collect() {
      this.set(totals().mailboxes);
    },
  });
  return m;
}
