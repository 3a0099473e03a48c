/**
 * The relay under test, in its own process (the load generators never
 * share its CPU time accounting). Started with every per-IP limit raised,
 * because all bench load comes from 127.0.0.1; everything else is the
 * shipped default. Exposes seeding (straight into the store, which is
 * set-up, not measurement), a movable clock (to expire envelopes for the
 * sweep row), a sweep trigger and resource readings.
 * @module
 */
import v8 from 'node:v8';
import { startRelay, type Relay } from '../../server/relay.js';
import { LevelStore } from '../../server/store/level/store.js';
import { ENVELOPE_BYTES, idOf, syntheticEnvelope } from '../envelopes.js';
import { serve } from '../rpc.js';
import { writeBack } from '../context.js';
import { diskWriteBytes, threadCpu, type ThreadCpu } from '../thread-cpu.js';

/** Limits raised for single-host load (see docs/performance.md). */
export const BENCH_LIMITS = {
  postRatePerSecond: 1_000_000_000,
  postBurst: 1_000_000_000,
  maxConnectionsPerIp: 10_000_000,
  maxEnvelopesPerMailbox: 100_000_000,
  maxBytesPerMailbox: 2 ** 46,
  authTimeoutMs: 600_000,
  maxPendingChallenges: 10_000_000,
  maxSessions: 10_000_000,
  sweepIntervalMs: 3_600_000,
  // The largest outbound buffer: a subscriber draining a big backlog over loopback is not slow.
  outboundBufferBytes: 64 * 1024 * 1024,
} as const;

let relay: Relay | undefined;
let store: LevelStore | undefined;
let offset = 0;
/** Synced batches written so far and their total write time (fsync included), seconds. */
const synced = { batches: 0, seconds: 0 };
/** Envelope id → epoch ms (sub-ms) at which its batch became durable, while tracking. */
let commits: Map<string, number> | null = null;
const now = (): number => Date.now() + offset;

declare global {
  // Set by bench/load/ec-count-hooks.mjs when that hook is loaded.
  var __lnmbEcCounts: Record<string, number> | undefined;
}

serve({
  /** Starts the relay on LevelDB in `dataDir`, or on PostgreSQL at `databaseUrl` (then seeding and commit stamps are unavailable). */
  async start(dataDir: string, databaseUrl?: string | null): Promise<{ url: string; port: number; pid: number }> {
    // (IPC turns an absent argument into null.)
    if (databaseUrl) {
      relay = await startRelay({ host: '127.0.0.1', port: 0, logLevel: 'silent', store: 'postgres', databaseUrl, now, ...BENCH_LIMITS });
      return { url: relay.url, port: relay.port, pid: process.pid };
    }
    store = new LevelStore({
      location: dataDir,
      onBatch: ({ sync, seconds, ok }) => {
        if (!sync || !ok) return;
        synced.batches++;
        synced.seconds += seconds;
      },
    });
    // Registered before the relay's own doorbell listener, so the stamp is taken
    // when the batch is durable, before the push frames are written.
    store.onAppend((_mailbox, e) => commits?.set(e.id, performance.timeOrigin + performance.now()));
    relay = await startRelay({ host: '127.0.0.1', port: 0, logLevel: 'silent', store, now, ...BENCH_LIMITS });
    return { url: relay.url, port: relay.port, pid: process.pid };
  },

  /** Appends `total` envelopes round-robin over `mailboxes`, expiring `ttlMs` from now. */
  async seed(mailboxes: string[], total: number, ttlMs: number, size = ENVELOPE_BYTES): Promise<number> {
    const s = store!;
    const quota = { maxEnvelopes: BENCH_LIMITS.maxEnvelopesPerMailbox, maxBytes: BENCH_LIMITS.maxBytesPerMailbox };
    let i = 0;
    const WINDOW = 2000;
    const worker = async (): Promise<void> => {
      while (i < total) {
        const mailbox = mailboxes[i++ % mailboxes.length]!;
        const envelope = syntheticEnvelope(mailbox, size);
        await s.append({ id: idOf(envelope), mailbox, envelope, expiresAt: now() + ttlMs }, quota);
      }
    };
    await Promise.all(Array.from({ length: WINDOW }, worker));
    await s.flush();
    return s.totals().envelopes;
  },

  /** Starts (or stops) stamping commit times; returns and clears what was stamped. */
  trackCommits(on: boolean): [string, number][] {
    const out = commits ? [...commits] : [];
    commits = on ? new Map() : null;
    return out;
  },

  /**
   * Waits until the process (all threads: LevelDB compaction included) uses
   * under 10% of a core for three seconds in a row, or `maxMs` passes, so a
   * bulk seed's compaction debt is not billed to the next measurement
   * (LevelDB compacts in bursts: one quiet second was often a pause between
   * two), then flushes the page cache again. Returns ms waited.
   */
  async settle(maxMs: number): Promise<number> {
    const t0 = performance.now();
    writeBack();
    let quiet = 0;
    for (;;) {
      const c0 = process.cpuUsage();
      await new Promise((r) => setTimeout(r, 1000));
      const c = process.cpuUsage(c0);
      quiet = c.user + c.system < 100_000 ? quiet + 1 : 0;
      if (quiet >= 3 || performance.now() - t0 > maxMs) {
        // And what compaction wrote meanwhile is on disk too: the kernel's write-back of it
        // would otherwise compete with the next figure's fsyncs, unseen by the CPU check.
        writeBack();
        return performance.now() - t0;
      }
    }
  },

  /** Synced batches so far: count and total write seconds (the group commit's fsyncs). */
  batches(): { batches: number; seconds: number } {
    return { ...synced };
  },

  setClockOffset(ms: number): void {
    offset = ms;
  },

  async sweep(): Promise<{ expired: number; purged: number; ms: number }> {
    const t0 = performance.now();
    const r = await relay!.sweep();
    return { expired: r.expired, purged: r.purged, ms: performance.now() - t0 };
  },

  /** Resource use; `gc` first collects garbage (needs --expose-gc) so RSS reflects live data. */
  usage(gc = false): {
    rss: number;
    heapUsed: number;
    cpuUs: number;
    threads: ThreadCpu | undefined;
    writeBytes: number | undefined;
    connections: number;
    heapLimit: number;
  } {
    if (gc && typeof global.gc === 'function') {
      global.gc();
      global.gc();
    }
    const m = process.memoryUsage();
    const c = process.cpuUsage();
    return {
      rss: m.rss,
      heapUsed: m.heapUsed,
      cpuUs: c.user + c.system,
      threads: threadCpu(),
      writeBytes: diskWriteBytes(),
      connections: relay?.connections ?? 0,
      heapLimit: v8.getHeapStatistics().heap_size_limit,
    };
  },

  ecCounts(): Record<string, number> {
    return { ...(globalThis.__lnmbEcCounts ?? {}) };
  },

  async close(): Promise<void> {
    await relay?.close();
    await store?.close();
    relay = undefined;
    store = undefined;
  },
});
