/**
 * Backlog drain row: `backlog` queued 1 KiB envelopes pushed to
 * one authenticated subscriber, against a bare `ws` server sending the
 * same number of frames of the same shape and size.
 * @module
 */
import { mailboxKey } from './envelopes.js';
import { progress, startBare, startRelayProc, type Sizes } from './context.js';
import { row, type Row } from './report.js';
import type { Worker } from './rpc.js';

/** Backlog drain rows. */
export async function benchBacklog(s: Sizes, loader: Worker): Promise<Row[]> {
  const key = mailboxKey();
  const relay = await startRelayProc();
  let relayRate: number;
  let relayCpuUs: number;
  try {
    await relay.worker.call('seed', [key.mailbox], s.backlog, 30 * 86_400_000);
    await relay.worker.call('settle', 30_000);
    const c0 = (await relay.worker.call<{ cpuUs: number }>('usage')).cpuUs;
    const r = await loader.call<{ frames: number; ms: number }>('drain', relay.url, Buffer.from(key.secretKey).toString('hex'));
    relayCpuUs = ((await relay.worker.call<{ cpuUs: number }>('usage')).cpuUs - c0) / r.frames;
    if (r.frames !== s.backlog) throw new Error(`drain: got ${r.frames} of ${s.backlog} frames`);
    relayRate = r.frames / (r.ms / 1000);
  } finally {
    await relay.stop();
  }
  const bare = await startBare('ws', s.backlog, key.mailbox);
  let bareRate: number;
  let bareCpuUs: number;
  try {
    const c0 = (await bare.worker.call<{ cpuUs: number }>('usage')).cpuUs;
    const r = await loader.call<{ frames: number; ms: number }>('drainBare', bare.url);
    bareCpuUs = ((await bare.worker.call<{ cpuUs: number }>('usage')).cpuUs - c0) / r.frames;
    if (r.frames !== s.backlog) throw new Error(`bare drain: got ${r.frames} of ${s.backlog} frames`);
    bareRate = r.frames / (r.ms / 1000);
  } finally {
    await bare.stop();
  }
  progress(
    `backlog: relay ${relayRate.toFixed(0)} frames/s (${relayCpuUs.toFixed(1)} µs CPU each), bare ws ${bareRate.toFixed(0)} frames/s (${bareCpuUs.toFixed(1)} µs)`,
  );
  return [
    row({
      name: `backlog drain, ${s.backlog.toLocaleString('en-US')} queued envelopes to one subscriber`,
      value: relayRate,
      unit: 'env/s',
      baseline: 'bare ws send of the same frames',
      baselineValue: bareRate,
      target: '≥ 0.5×',
      pass: relayRate / bareRate >= 0.5,
      note: `server CPU per frame (all threads): relay ${relayCpuUs.toFixed(1)} µs, bare ws ${bareCpuUs.toFixed(1)} µs`,
    }),
  ];
}
