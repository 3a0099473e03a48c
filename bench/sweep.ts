/**
 * Sweep row: p99 ingest latency while the expiry sweeper turns
 * `sweep` expired envelopes into tombstones, against p99 of the same load
 * without the sweeper. The relay's clock is moved past the envelopes'
 * expiry (the relay takes an injected clock), then the sweep is triggered.
 * @module
 */
import { randomMailboxes } from './envelopes.js';
import { progress, startRelayProc, type Sizes } from './context.js';
import type { HttpLoadResult } from './load/http.js';
import { percentile, row, type Row } from './report.js';
import type { Worker } from './rpc.js';

/** Sweep rows. */
export async function benchSweep(s: Sizes, loader: Worker): Promise<Row[]> {
  const mailboxes = randomMailboxes(1000);
  const relay = await startRelayProc();
  try {
    const TTL = 60_000;
    await relay.worker.call('seed', mailboxes, s.sweep, TTL);
    await relay.worker.call('settle', 60_000);
    await relay.worker.call('setClockOffset', TTL + 60_000);
    const opts = { url: relay.url, mailboxes, concurrency: s.concurrency, samples: true };
    const base = await loader.call<HttpLoadResult>('run', { ...opts, durationMs: s.sweepBaselineMs });
    // With the sweeper: load starts, the sweep runs, load stops when it is done.
    const loading = loader.call<HttpLoadResult>('run', { ...opts, durationMs: 600_000 });
    await new Promise((r) => setTimeout(r, 300));
    const w0 = Date.now();
    const sw = await relay.worker.call<{ expired: number; ms: number }>('sweep');
    const w1 = Date.now();
    await loader.call('stop');
    const during = await loading;
    if (sw.expired < s.sweep) throw new Error(`sweep expired ${sw.expired} of ${s.sweep}`);
    const lat = (during.samples ?? [])
      .filter(([t, d]) => t >= w0 && t + d <= w1)
      .map(([, d]) => d)
      .sort((a, b) => a - b);
    const baseLat = (base.samples ?? []).map(([, d]) => d).sort((a, b) => a - b);
    const p99 = percentile(lat, 99);
    const p99base = percentile(baseLat, 99);
    progress(
      `sweep: ${sw.expired} expired in ${sw.ms.toFixed(0)} ms; p99 ${p99.toFixed(2)} ms (${lat.length} requests) vs ${p99base.toFixed(2)} ms`,
    );
    return [
      row({
        name: `p99 ingest latency while sweeping ${s.sweep.toLocaleString('en-US')} expired envelopes`,
        value: p99,
        unit: 'ms',
        baseline: 'p99 without the sweeper',
        baselineValue: p99base,
        target: '≤ 2×',
        pass: p99 / p99base <= 2,
        note: `sweep took ${sw.ms.toFixed(0)} ms; ${lat.length} requests inside the sweep window; ingest ${during.perSecond.toFixed(0)}/s vs ${base.perSecond.toFixed(0)}/s`,
      }),
    ];
  } finally {
    await relay.stop();
  }
}
