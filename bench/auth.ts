/**
 * Auth handshake row: WebSocket challenge → signed → ready, from
 * closed-loop clients in another process (which prepare their BIP340
 * nonces before the clock starts, see load/presign.ts), against BIP340
 * verifications per second of the same library on one core, same run.
 * @module
 */
import { progress, startRelayProc, type Sizes } from './context.js';
import { row, type Row } from './report.js';
import type { Worker } from './rpc.js';

/** Auth handshake rows; `verifyRate` is the same-run baseline. */
export async function benchAuth(s: Sizes, loader: Worker, verifyRate: number): Promise<Row[]> {
  const relay = await startRelayProc();
  try {
    // Nonces for at most ~1.5× the verify rate: the relay cannot go faster than it verifies.
    const budget = Math.ceil((verifyRate * 1.5 * s.authMs) / 1000);
    const c0 = (await relay.worker.call<{ cpuUs: number }>('usage')).cpuUs;
    const r = await loader.call<{ handshakes: number; perSecond: number; failed: number; seconds: number; prepareMs: number }>(
      'auth',
      relay.url,
      s.authConcurrency,
      s.authMs,
      budget,
    );
    const c1 = (await relay.worker.call<{ cpuUs: number }>('usage')).cpuUs;
    // The load process prepares its nonces first; the relay is idle meanwhile, so its CPU is all handshakes.
    const cpuPer = (c1 - c0) / 1000 / r.handshakes;
    const verifyMs = 1000 / verifyRate;
    if (r.failed > 0 || r.handshakes === 0) throw new Error(`auth: ${JSON.stringify(r)}`);
    progress(
      `auth: ${r.perSecond.toFixed(0)} handshakes/s, verify ${verifyRate.toFixed(0)}/s; relay CPU ${cpuPer.toFixed(2)} ms/handshake`,
    );
    return [
      row({
        name: `auth handshakes (challenge → signed → ready), ${s.authConcurrency} clients`,
        value: r.perSecond,
        unit: '/s',
        baseline: 'BIP340 verify/s (noble, 1 core)',
        baselineValue: verifyRate,
        target: '≥ 2×',
        pass: r.perSecond / verifyRate >= 2,
        note: `relay CPU per handshake ${cpuPer.toFixed(3)} ms vs ${verifyMs.toFixed(3)} ms per verify (CPU-bound capacity ratio ${(verifyMs / cpuPer).toFixed(2)}×); ${r.handshakes} handshakes in ${r.seconds.toFixed(1)} s`,
      }),
    ];
  } finally {
    await relay.stop();
  }
}
