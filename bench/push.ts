/**
 * Push latency row (issue 6): `pushSubscribers` mailboxes with one live
 * authenticated subscriber each, envelopes POSTed at `pushRate`/s spread
 * over them; latency from the POST leaving the sender to the envelope
 * frame reaching the subscriber (both in one load process, one clock).
 * That span contains the accept (the fsync'd group commit) and the push,
 * so it is an upper bound on "accepted → received".
 * @module
 */
import { startRelayProc, type Sizes } from './context.js';
import { row, type Row } from './report.js';
import type { Worker } from './rpc.js';

interface PushResult {
  posted: number; failed: number; received: number; achievedRate: number;
  p50: number; p99: number; acceptedP50: number; acceptedP99: number; framesBeforeAccept: number;
}

/** Push latency rows. */
export async function benchPush(s: Sizes, loader: Worker): Promise<Row[]> {
  const relay = await startRelayProc();
  try {
    const r = await loader.call<PushResult>('push', relay.url, s.pushSubscribers, s.pushRate, s.pushMs);
    if (r.received < r.posted - r.failed || r.failed > 0) throw new Error(`push: ${JSON.stringify(r)}`);
    const note = `${r.posted} envelopes at ${r.achievedRate.toFixed(0)}/s; 201→frame p50 ${r.acceptedP50.toFixed(2)} ms, p99 ${r.acceptedP99.toFixed(2)} ms; ${r.framesBeforeAccept} frames arrived before their 201`;
    const label = `${s.pushRate}/s over ${s.pushSubscribers} subscribed mailboxes`;
    return [
      row({ name: `push latency p50, POST sent → frame received (${label})`, value: r.p50, unit: 'ms',
        baseline: null, baselineValue: null, target: 'p50 ≤ 2 ms', pass: r.p50 <= 2, note }),
      row({ name: `push latency p99, POST sent → frame received (${label})`, value: r.p99, unit: 'ms',
        baseline: null, baselineValue: null, target: 'p99 ≤ 10 ms', pass: r.p99 <= 10, note }),
    ];
  } finally {
    await relay.stop();
  }
}
