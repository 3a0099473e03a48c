/**
 * Durable ingest rows: 1 KiB envelopes from 50 closed-loop HTTP
 * senders in another process, 201 only after the group-committed fsync,
 * against a bare express route and a bare
 * node:http server under the same load; then the same load with
 * `stored` envelopes already in the store.
 * @module
 */
import { randomMailboxes } from './envelopes.js';
import { progress, startBare, startRelayProc, type Sizes } from './context.js';
import type { HttpLoadResult } from './load/http.js';
import { row, type Row } from './report.js';
import type { Worker } from './rpc.js';
import type { ThreadCpu } from './thread-cpu.js';

/** The relay's synced batches so far (bench/servers/relay.ts). */
interface Commits {
  batches: number;
  seconds: number;
}

/**
 * The durable-ingest ceiling the disk allows: with one synced batch in
 * flight, at most (envelopes per batch ÷ batch write time) envelopes/s,
 * whatever the relay's CPU.
 */
function ceiling(a: Commits, b: Commits, envelopes: number): { perBatch: number; writeMs: number; perSecond: number } {
  const batches = b.batches - a.batches;
  const perBatch = envelopes / batches;
  const writeMs = ((b.seconds - a.seconds) / batches) * 1000;
  return { perBatch, writeMs, perSecond: (perBatch / writeMs) * 1000 };
}

/** One measured round of the relay: its rate, its synced batches, and the disk's ceiling then. */
interface RelayRound {
  rate: number;
  perBatch: number;
  writeMs: number;
  ceiling: number;
  /** KiB the relay process sent to the disk per envelope (all its writes: logs, tables, compaction). */
  writtenKiB: number | undefined;
}

/** What the relay worker's `usage` call returns (the part used here). */
interface Usage {
  cpuUs: number;
  threads: ThreadCpu | undefined;
  writeBytes: number | undefined;
}

/** " (main thread x ms, other threads y ms)", or nothing where the split is unavailable. */
function splitNote(t: ThreadCpu | undefined): string {
  return t ? ` (main thread ${(t.mainUs / 1000).toFixed(3)} ms, other threads ${(t.otherUs / 1000).toFixed(3)} ms)` : '';
}

/** The relay's rounds, each with its batches and the disk's ceiling. */
function roundsNote(rounds: RelayRound[]): string {
  return rounds
    .map(
      (r) =>
        `${r.rate.toFixed(0)}/s with ${r.perBatch.toFixed(1)} envelopes per synced batch of ${r.writeMs.toFixed(2)} ms (disk ceiling ${r.ceiling.toFixed(0)}/s${r.writtenKiB === undefined ? '' : `, ${r.writtenKiB.toFixed(1)} KiB written to disk per envelope`})`,
    )
    .join('; ');
}

/** Ingest rows. */
export async function benchIngest(s: Sizes, loader: Worker): Promise<Row[]> {
  const mailboxes = randomMailboxes(1000);
  const load = (url: string): Promise<HttpLoadResult> =>
    loader.call<HttpLoadResult>('run', { url, mailboxes, concurrency: s.concurrency, durationMs: s.ingestMs });
  const relay = await startRelayProc();
  const best = { relay: 0, express: 0, http: 0, full: 0 };
  // Server CPU (all threads) per accepted envelope, from the run with the best rate.
  const cpu = { relay: 0, express: 0, http: 0, full: 0 };
  // The relay's split of that CPU: its main thread (our JavaScript, Node's HTTP) and the others
  // (libuv's pool running LevelDB's writes and fsyncs, LevelDB's compaction thread, V8's helpers).
  const split: Partial<Record<'relay' | 'full', ThreadCpu>> = {};
  // The relay's rounds: rate, and the disk's ceiling during that round.
  const relayRounds: Record<'relay' | 'full', RelayRound[]> = {
    relay: [],
    full: [],
  };
  const measure = async (what: keyof typeof best, w: Worker, url: string): Promise<number> => {
    const isRelay = what === 'relay' || what === 'full';
    const m0 = isRelay ? await w.call<Commits>('batches') : undefined;
    const u0 = await w.call<Usage>('usage');
    const r = await load(url);
    const u1 = await w.call<Usage>('usage');
    if (r.ok === 0 || r.failed > 0) throw new Error(`${what}: ${r.ok} ok, ${r.failed} failed ${JSON.stringify(r.statuses)}`);
    if (isRelay && m0) {
      const c = ceiling(m0, await w.call<Commits>('batches'), r.ok);
      const written =
        u0.writeBytes !== undefined && u1.writeBytes !== undefined ? (u1.writeBytes - u0.writeBytes) / 1024 / r.ok : undefined;
      relayRounds[what].push({ rate: r.perSecond, perBatch: c.perBatch, writeMs: c.writeMs, ceiling: c.perSecond, writtenKiB: written });
    }
    if (r.perSecond > best[what]) {
      best[what] = r.perSecond;
      cpu[what] = (u1.cpuUs - u0.cpuUs) / 1000 / r.ok;
      if (isRelay && u0.threads && u1.threads)
        split[what] = {
          mainUs: (u1.threads.mainUs - u0.threads.mainUs) / r.ok,
          otherUs: (u1.threads.otherUs - u0.threads.otherUs) / r.ok,
        };
    }
    return r.perSecond;
  };
  try {
    // Interleaved rounds, best of each: a noisy neighbour hurts all three alike.
    for (let round = 0; round < s.ingestRounds; round++) {
      const ex = await startBare('express');
      await measure('express', ex.worker, ex.url);
      await ex.stop();
      await measure('relay', relay.worker, relay.url);
      const h = await startBare('http');
      await measure('http', h.worker, h.url);
      await h.stop();
      progress(
        `ingest round ${round + 1}: relay ${best.relay.toFixed(0)}/s, express ${best.express.toFixed(0)}/s, node:http ${best.http.toFixed(0)}/s`,
      );
    }
    const cpuNote = `server CPU per envelope (all threads): relay ${cpu.relay.toFixed(3)} ms${splitNote(split.relay)}, bare express ${cpu.express.toFixed(3)} ms, bare node:http ${cpu.http.toFixed(3)} ms; relay rounds: ${roundsNote(relayRounds.relay)}`;
    const rows: Row[] = [
      row({
        name: 'durable ingest, 1 KiB, 50 senders (fsync before 201)',
        value: best.relay,
        unit: 'env/s',
        baseline: 'bare express 201',
        baselineValue: best.express,
        target: '≥ 1.0×',
        pass: best.relay / best.express >= 1.0,
        note: cpuNote,
      }),
      row({
        name: 'durable ingest vs bare node:http',
        value: best.relay,
        unit: 'env/s',
        baseline: 'bare node:http 201',
        baselineValue: best.http,
        target: '≥ 0.6×',
        pass: best.relay / best.http >= 0.6,
        note: cpuNote,
      }),
    ];

    // Same relay, filled up to `stored` envelopes straight through the store (set-up, not measured).
    const t0 = performance.now();
    const have = await relay.worker.call<number>('seed', mailboxes, s.stored, 30 * 86_400_000);
    progress(`seeded to ${have} stored envelopes in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const settled = await relay.worker.call<number>('settle', 120_000);
    progress(`store settled (compaction) after ${(settled / 1000).toFixed(0)} s`);
    for (let round = 0; round < s.ingestRounds; round++) await measure('full', relay.worker, relay.url);
    const full = best.full;
    rows.push(
      row({
        name: `ingest with ${have.toLocaleString('en-US')} envelopes stored`,
        value: full,
        unit: 'env/s',
        baseline: 'ingest on an empty store',
        baselineValue: best.relay,
        target: '≥ 0.9×',
        pass: full / best.relay >= 0.9,
        note: `measured after the store settled (${(settled / 1000).toFixed(0)} s of compaction after the bulk seed); relay CPU per envelope ${cpu.full.toFixed(3)} ms${splitNote(split.full)} vs ${cpu.relay.toFixed(3)} ms${splitNote(split.relay)} empty; rounds: ${roundsNote(relayRounds.full)}`,
      }),
    );
    return rows;
  } finally {
    await relay.stop();
  }
}
