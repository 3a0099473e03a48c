/**
 * Push latency rows: `pushSubscribers` mailboxes with one live
 * authenticated subscriber each, spread over two load processes (so the
 * bench measures the relay, not one process juggling every socket), and
 * envelopes POSTed open-loop at `pushRate`/s from a third process.
 * The target rows time "accepted → received": from the moment the
 * envelope's batch is durable in the relay (stamped in the relay process)
 * to the frame arriving in a subscriber's process; `pushRounds` runs, the
 * median reported and the range in the note. A further row gives "POST
 * sent → received", which adds the fsync'd group commit, and a rate sweep
 * finds the highest rate whose accepted → received p99 stays ≤ 10 ms.
 * @module
 */
import { progress, startRelayProc, type RelayProc, type Sizes } from './context.js';
import type { OpenLoopResult } from './load/http.js';
import { percentile, row, type Row } from './report.js';
import type { Worker } from './rpc.js';

/** One open-loop run's latencies (ms). */
export interface PushRun {
  rate: number;
  achievedRate: number;
  posted: number;
  received: number;
  p50: number;
  p99: number;
  sentP50: number;
  sentP99: number;
  /** Relay CPU (all threads) per envelope posted and pushed, µs. */
  cpuUs: number;
  /** The relay's event-loop delay during the run (its /metrics), ms. */
  loopP99: number;
  loopMax: number;
}

/** The relay's event-loop delay p99 and max (ms) since its previous scrape, from its /metrics. */
async function loopDelay(url: string): Promise<{ p99: number; max: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const q = (k: string): number =>
    Number(new RegExp(`^lnmb_event_loop_delay_seconds\\{quantile="${k}"\\} (\\S+)$`, 'm').exec(text)?.[1]) * 1000;
  return { p99: q('0.99'), max: q('1') };
}

/** Subscribers split over the two ws load processes; returns every mailbox id. */
export async function listenOn(url: string, loaders: Worker[], subscribers: number): Promise<string[]> {
  const per = Math.ceil(subscribers / loaders.length);
  const parts = await Promise.all(loaders.map((l, i) => l.call<string[]>('listen', url, Math.min(per, subscribers - i * per))));
  return parts.flat();
}

/** Collects arrivals from the listeners until `want` frames came (or 5 s of silence). */
export async function collect(loaders: Worker[], want: number): Promise<Map<string, number>> {
  const got = new Map<string, number>();
  let last = performance.now();
  while (got.size < want && performance.now() - last < 5000) {
    await new Promise((r) => setTimeout(r, 50));
    for (const l of loaders) {
      const a = await l.call<[string, number][]>('arrivals');
      if (a.length) last = performance.now();
      for (const [id, t] of a) if (!got.has(id)) got.set(id, t);
    }
  }
  return got;
}

const sorted = (xs: number[]): number[] => xs.sort((a, b) => a - b);

/** One open-loop run against `relay`, the commit stamps taken in the relay process. */
async function run(relay: RelayProc, poster: Worker, listeners: Worker[], mailboxes: string[], rate: number, ms: number): Promise<PushRun> {
  await relay.worker.call('trackCommits', true);
  for (const l of listeners) await l.call('arrivals');
  const targets = mailboxes.map((m): [string, string] => [relay.url, m]);
  await loopDelay(relay.url); // starts a fresh window
  const c0 = (await relay.worker.call<{ cpuUs: number }>('usage')).cpuUs;
  const r = await poster.call<OpenLoopResult>('openLoop', targets, rate, ms);
  const cpuUs = ((await relay.worker.call<{ cpuUs: number }>('usage')).cpuUs - c0) / r.posted;
  const loop = await loopDelay(relay.url);
  const arrived = await collect(listeners, r.posted - r.failed);
  const commits = new Map(await relay.worker.call<[string, number][]>('trackCommits', false));
  if (r.failed > 0 || arrived.size < r.posted)
    throw new Error(`push at ${rate}/s: ${r.posted} posted, ${r.failed} failed, ${arrived.size} received`);
  const acc: number[] = [];
  const sentLat: number[] = [];
  for (const [id, t] of r.sent) {
    const a = arrived.get(id);
    if (a === undefined) continue;
    sentLat.push(a - t);
    const c = commits.get(id);
    if (c !== undefined) acc.push(a - c);
  }
  sorted(acc);
  sorted(sentLat);
  return {
    rate,
    achievedRate: r.achievedRate,
    posted: r.posted,
    received: arrived.size,
    p50: percentile(acc, 50),
    p99: percentile(acc, 99),
    sentP50: percentile(sentLat, 50),
    sentP99: percentile(sentLat, 99),
    cpuUs,
    loopP99: loop.p99,
    loopMax: loop.max,
  };
}

const median = (xs: number[]): number => sorted([...xs])[Math.floor(xs.length / 2)]!;
const range = (xs: number[]): string => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;

/** Push latency rows. */
export async function benchPush(s: Sizes, poster: Worker, listeners: Worker[]): Promise<Row[]> {
  const relay = await startRelayProc();
  try {
    const mailboxes = await listenOn(relay.url, listeners, s.pushSubscribers);
    const runs: PushRun[] = [];
    for (let i = 0; i < s.pushRounds; i++) {
      const r = await run(relay, poster, listeners, mailboxes, s.pushRate, s.pushMs);
      runs.push(r);
      progress(
        `push run ${i + 1}: accepted → received p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms; sent → received p50 ${r.sentP50.toFixed(2)}, p99 ${r.sentP99.toFixed(2)}; relay CPU ${r.cpuUs.toFixed(0)} µs per envelope; relay event-loop delay p99 ${r.loopP99.toFixed(1)} ms, max ${r.loopMax.toFixed(1)} ms`,
      );
    }
    // Rate sweep: double until the p99 passes 10 ms or the poster cannot keep the rate.
    const sweep: PushRun[] = [];
    for (let rate = s.pushRate; rate <= s.pushSweepMax; rate *= 2) {
      let r: PushRun;
      try {
        r = await run(relay, poster, listeners, mailboxes, rate, s.pushSweepMs);
      } catch (e) {
        progress(`push sweep stops at ${rate}/s: ${(e as Error).message}`);
        break;
      }
      sweep.push(r);
      progress(`push sweep ${rate}/s (achieved ${r.achievedRate.toFixed(0)}/s): p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`);
      if (r.p99 > 10 || r.achievedRate < 0.9 * rate) break;
    }
    const ok = sweep.filter((r) => r.p99 <= 10 && r.achievedRate >= 0.9 * r.rate);
    const best = ok.at(-1);
    const p50 = median(runs.map((r) => r.p50));
    const p99 = median(runs.map((r) => r.p99));
    const sentP99 = median(runs.map((r) => r.sentP99));
    const label = `${s.pushRate}/s over ${s.pushSubscribers} subscribed mailboxes`;
    const note = `${runs.length} runs of ${s.pushMs} ms, subscribers in 2 load processes, POSTs from a third; median shown; accepted → received p50 range ${range(runs.map((r) => r.p50))} ms, p99 range ${range(runs.map((r) => r.p99))} ms; POST sent → frame p50 range ${range(runs.map((r) => r.sentP50))} ms, p99 range ${range(runs.map((r) => r.sentP99))} ms; relay CPU per envelope (POST + push, all threads) ${range(runs.map((r) => r.cpuUs / 1000))} ms; the relay's own event-loop delay (lnmb_event_loop_delay_seconds) p99 ${range(runs.map((r) => r.loopP99))} ms, max ${range(runs.map((r) => r.loopMax))} ms`;
    return [
      row({
        name: `push latency p50, accepted (durable) → frame received (${label})`,
        value: p50,
        unit: 'ms',
        baseline: null,
        baselineValue: null,
        target: 'p50 ≤ 1 ms',
        pass: p50 <= 1,
        note,
      }),
      row({
        name: `push latency p99, accepted (durable) → frame received (${label})`,
        value: p99,
        unit: 'ms',
        baseline: null,
        baselineValue: null,
        target: 'p99 ≤ 5 ms',
        pass: p99 <= 5,
        note,
      }),
      row({
        name: `push latency p99, POST sent → frame received, fsync included (${label})`,
        value: sentP99,
        unit: 'ms',
        baseline: null,
        baselineValue: null,
        target: 'report',
        pass: null,
        note,
      }),
      row({
        name: `highest push rate with accepted → received p99 ≤ 10 ms (${s.pushSubscribers} mailboxes, doubling from ${s.pushRate}/s)`,
        value: best?.rate ?? 0,
        unit: 'env/s',
        baseline: null,
        baselineValue: null,
        target: 'report',
        pass: null,
        note: `sweep (${s.pushSweepMs} ms each, capped at ${s.pushSweepMax}/s): ${sweep.map((r) => `${r.rate}/s → p50 ${r.p50.toFixed(2)} / p99 ${r.p99.toFixed(2)} ms (achieved ${r.achievedRate.toFixed(0)}/s)`).join('; ')}`,
      }),
    ];
  } finally {
    for (const l of listeners) await l.call('arrivals', true).catch(() => undefined);
    await relay.stop();
  }
}
