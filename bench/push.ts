/**
 * Push latency row: `pushSubscribers` mailboxes with one live
 * authenticated subscriber each, envelopes POSTed at `pushRate`/s spread
 * over them.
 * The target rows time "accepted → received": from the moment the
 * envelope's batch is durable in the relay (stamped in the relay process)
 * to the frame arriving in the subscriber's process. A third row gives
 * "POST sent → received", which adds the fsync'd group commit.
 * @module
 */
import { progress, startRelayProc, type Sizes } from './context.js';
import { percentile, row, type Row } from './report.js';
import type { Worker } from './rpc.js';

interface PushResult {
  posted: number;
  failed: number;
  received: number;
  achievedRate: number;
  p50: number;
  p99: number;
  acceptedP50: number;
  acceptedP99: number;
  framesBeforeAccept: number;
  arrivals: [string, number][];
}

/** Push latency rows. */
export async function benchPush(s: Sizes, loader: Worker): Promise<Row[]> {
  const relay = await startRelayProc();
  try {
    await relay.worker.call('trackCommits', true);
    const r = await loader.call<PushResult>('push', relay.url, s.pushSubscribers, s.pushRate, s.pushMs);
    const commits = new Map(await relay.worker.call<[string, number][]>('trackCommits', false));
    if (r.received < r.posted - r.failed || r.failed > 0) throw new Error(`push: ${JSON.stringify({ ...r, arrivals: r.arrivals.length })}`);
    // Accepted = the envelope's batch is durable in the relay (the moment the 201 and the push are both
    // released); received = the frame is in the subscriber's process. Two processes, one machine clock.
    const lat = r.arrivals
      .flatMap(([id, t]) => {
        const c = commits.get(id);
        return c === undefined ? [] : [t - c];
      })
      .sort((a, b) => a - b);
    const p50 = percentile(lat, 50);
    const p99 = percentile(lat, 99);
    const note = `${r.posted} envelopes at ${r.achievedRate.toFixed(0)}/s, ${lat.length} matched; POST sent → frame (includes the fsync'd group commit) p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms; 201 received → frame p50 ${r.acceptedP50.toFixed(2)} ms (negative: the push arrives before the 201), ${r.framesBeforeAccept} of ${r.received} frames arrived before their 201`;
    const label = `${s.pushRate}/s over ${s.pushSubscribers} subscribed mailboxes`;
    progress(
      `push: accepted → received p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms; sent → received p50 ${r.p50.toFixed(2)}, p99 ${r.p99.toFixed(2)}`,
    );
    return [
      row({
        name: `push latency p50, accepted (durable) → frame received (${label})`,
        value: p50,
        unit: 'ms',
        baseline: null,
        baselineValue: null,
        target: 'p50 ≤ 2 ms',
        pass: p50 <= 2,
        note,
      }),
      row({
        name: `push latency p99, accepted (durable) → frame received (${label})`,
        value: p99,
        unit: 'ms',
        baseline: null,
        baselineValue: null,
        target: 'p99 ≤ 10 ms',
        pass: p99 <= 10,
        note,
      }),
      row({
        name: `push latency p99, POST sent → frame received, fsync included (${label})`,
        value: r.p99,
        unit: 'ms',
        baseline: null,
        baselineValue: null,
        target: 'report',
        pass: null,
        note,
      }),
    ];
  } finally {
    await relay.stop();
  }
}
