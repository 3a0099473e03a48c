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
 * finds the highest rate whose accepted → received p99 stays ≤ 10 ms. Its
 * baseline is the same sweep against a bare `ws` server broadcasting
 * frames of the same shape to as many plain sockets in the same two
 * processes (servers/bare.ts `broadcast`), timed send → received.
 * @module
 */
import { progress, startBare, startRelayProc, type RelayProc, type Sizes } from './context.js';
import type { OpenLoopResult } from './load/http.js';
import { percentile, row, type Row } from './report.js';
import type { Worker } from './rpc.js';
import type { BroadcastResult } from './servers/bare.js';

/** What the rate sweep's stop rule reads from one step. */
interface Step {
  rate: number;
  achievedRate: number;
  p50: number;
  p99: number;
}

/** One open-loop run's latencies (ms). */
export interface PushRun extends Step {
  /** Envelopes accepted (durable) per second, first to last commit stamp. */
  acceptedRate: number;
  posted: number;
  received: number;
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

/** Subscribers split over the two ws load processes (`listenBare`: plain sockets to the bare broadcast server); returns every mailbox id. */
export async function listenOn(
  url: string,
  loaders: Worker[],
  subscribers: number,
  method: 'listen' | 'listenBare' = 'listen',
): Promise<string[]> {
  const per = Math.ceil(subscribers / loaders.length);
  const parts = await Promise.all(loaders.map((l, i) => l.call<string[]>(method, url, Math.min(per, subscribers - i * per))));
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
  let first = Infinity;
  let last = -Infinity;
  for (const c of commits.values()) [first, last] = [Math.min(first, c), Math.max(last, c)];
  return {
    rate,
    achievedRate: r.achievedRate,
    acceptedRate: commits.size / ((last - first) / 1000),
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

/** One open-loop run against the bare broadcast server: send → received, stamped in the server and the listeners' processes. */
async function runBare(bare: Worker, listeners: Worker[], rate: number, ms: number): Promise<Step> {
  for (const l of listeners) await l.call('arrivals');
  const r = await bare.call<BroadcastResult>('broadcast', rate, ms);
  const arrived = await collect(listeners, r.sent);
  if (arrived.size < r.sent) throw new Error(`broadcast at ${rate}/s: ${r.sent} sent, ${arrived.size} received`);
  const lat = sorted(r.stamps.map(([id, t]) => arrived.get(id)! - t));
  return { rate, achievedRate: r.achievedRate, p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

const fine = (r: Step): boolean => r.p99 <= 10 && r.achievedRate >= 0.9 * r.rate;

/** A rate sweep's steps, its highest step within the rule, and whether it ended at its cap. */
interface Sweep<T extends Step> {
  steps: T[];
  best: T | undefined;
  capped: boolean;
}

/**
 * Doubles the offered rate from `from` up to `max` until a step's p99
 * passes 10 ms, its achieved rate falls under 0.9× offered, or it fails
 * (lost frames, failed POSTs). `capped`: no step failed, so the highest
 * rate is only a lower bound.
 */
async function sweepRates<T extends Step>(what: string, from: number, max: number, step: (rate: number) => Promise<T>): Promise<Sweep<T>> {
  const steps: T[] = [];
  for (let rate = from; rate <= max; rate *= 2) {
    let r: T;
    try {
      r = await step(rate);
    } catch (e) {
      progress(`${what} sweep stops at ${rate}/s: ${(e as Error).message}`);
      return { steps, best: steps.filter(fine).at(-1), capped: false };
    }
    steps.push(r);
    progress(`${what} sweep ${rate}/s (achieved ${r.achievedRate.toFixed(0)}/s): p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`);
    if (!fine(r)) return { steps, best: steps.filter(fine).at(-1), capped: false };
  }
  return { steps, best: steps.at(-1), capped: true };
}

const median = (xs: number[]): number => sorted([...xs])[Math.floor(xs.length / 2)]!;
const range = (xs: number[]): string => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;

/** Push latency rows. */
export async function benchPush(s: Sizes, poster: Worker, listeners: Worker[]): Promise<Row[]> {
  const relay = await startRelayProc();
  const runs: PushRun[] = [];
  let relaySweep: Sweep<PushRun>;
  try {
    const mailboxes = await listenOn(relay.url, listeners, s.pushSubscribers);
    for (let i = 0; i < s.pushRounds; i++) {
      const r = await run(relay, poster, listeners, mailboxes, s.pushRate, s.pushMs);
      runs.push(r);
      progress(
        `push run ${i + 1}: accepted → received p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms; sent → received p50 ${r.sentP50.toFixed(2)}, p99 ${r.sentP99.toFixed(2)}; relay CPU ${r.cpuUs.toFixed(0)} µs per envelope; relay event-loop delay p99 ${r.loopP99.toFixed(1)} ms, max ${r.loopMax.toFixed(1)} ms`,
      );
    }
    // Rate sweep: double until the p99 passes 10 ms or the poster cannot keep the rate.
    relaySweep = await sweepRates('push', s.pushRate, s.pushSweepMax, (rate) =>
      run(relay, poster, listeners, mailboxes, rate, s.pushSweepMs),
    );
  } finally {
    for (const l of listeners) await l.call('arrivals', true).catch(() => undefined);
    await relay.stop();
  }
  // Baseline: the same sweep against bare `ws` broadcasting to as many plain sockets
  // in the same two processes, with a higher cap so that it ends on a failing step.
  const bare = await startBare('broadcast');
  let bareSweep: Sweep<Step>;
  try {
    await listenOn(bare.url, listeners, s.pushSubscribers, 'listenBare');
    const held = await bare.worker.call<number>('connections');
    if (held !== s.pushSubscribers) throw new Error(`bare broadcast holds ${held} of ${s.pushSubscribers} subscribers`);
    bareSweep = await sweepRates('bare ws broadcast', s.pushRate, 8 * s.pushSweepMax, (rate) =>
      runBare(bare.worker, listeners, rate, s.pushSweepMs),
    );
  } finally {
    for (const l of listeners) await l.call('arrivals', true).catch(() => undefined);
    await bare.stop();
  }
  const best = relaySweep.best;
  const bareBest = bareSweep.best;
  const baselineValue = bareBest ? bareBest.rate / 4 : null;
  const value = best?.rate ?? 0;
  // A capped sweep's rate is a lower bound: decide only what its cap cannot flip.
  const pass = baselineValue === null ? null : value >= baselineValue ? (bareSweep.capped ? null : true) : relaySweep.capped ? null : false;
  const atLeast = (w: Sweep<Step>): string => (w.capped ? '≥ ' : '');
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
      value,
      unit: 'env/s',
      baseline: 'bare ws broadcast ÷ 4',
      baselineValue,
      target: 'report; ≥ bare ws broadcast ÷ 4',
      pass,
      note: `relay: ${atLeast(relaySweep)}${value}/s offered${relaySweep.capped ? " (the sweep's cap)" : ''}, ${best?.acceptedRate.toFixed(0) ?? 0}/s of it accepted and pushed; sweep (${s.pushSweepMs} ms each, capped at ${s.pushSweepMax}/s): ${relaySweep.steps.map((r) => `${r.rate}/s → p50 ${r.p50.toFixed(2)} / p99 ${r.p99.toFixed(2)} ms (achieved ${r.achievedRate.toFixed(0)}/s, accepted ${r.acceptedRate.toFixed(0)}/s)`).join('; ')}. Bare ws broadcast to ${s.pushSubscribers} plain sockets in the same 2 load processes, send → received: ${atLeast(bareSweep)}${bareBest?.rate ?? 0}/s${bareSweep.capped ? " (the sweep's cap)" : ''}; sweep (capped at ${8 * s.pushSweepMax}/s): ${bareSweep.steps.map((r) => `${r.rate}/s → p50 ${r.p50.toFixed(2)} / p99 ${r.p99.toFixed(2)} ms (achieved ${r.achievedRate.toFixed(0)}/s)`).join('; ')}`,
    }),
  ];
}
