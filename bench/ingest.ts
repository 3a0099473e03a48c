/**
 * Durable ingest rows (issue 6): 1 KiB envelopes from 50 closed-loop HTTP
 * senders in another process, 201 only after the group-committed fsync
 * (DESIGN 4, "Durability"), against a bare express route and a bare
 * node:http server under the same load; then the same load with
 * `stored` envelopes already in the store.
 * @module
 */
import { randomMailboxes } from './envelopes.js';
import { progress, startBare, startRelayProc, type Sizes } from './context.js';
import type { HttpLoadResult } from './load/http.js';
import { row, type Row } from './report.js';
import type { Worker } from './rpc.js';

/** Ingest rows. */
export async function benchIngest(s: Sizes, loader: Worker): Promise<Row[]> {
  const mailboxes = randomMailboxes(1000);
  const load = (url: string): Promise<HttpLoadResult> =>
    loader.call<HttpLoadResult>('run', { url, mailboxes, concurrency: s.concurrency, durationMs: s.ingestMs });
  const relay = await startRelayProc();
  const best = { relay: 0, express: 0, http: 0 };
  const check = (what: string, r: HttpLoadResult): number => {
    if (r.ok === 0 || r.failed > 0) throw new Error(`${what}: ${r.ok} ok, ${r.failed} failed ${JSON.stringify(r.statuses)}`);
    return r.perSecond;
  };
  try {
    // Interleaved rounds, best of each: a noisy neighbour hurts all three alike.
    for (let round = 0; round < s.ingestRounds; round++) {
      const ex = await startBare('express');
      best.express = Math.max(best.express, check('express', await load(ex.url)));
      await ex.stop();
      best.relay = Math.max(best.relay, check('relay', await load(relay.url)));
      const h = await startBare('http');
      best.http = Math.max(best.http, check('node:http', await load(h.url)));
      await h.stop();
      progress(`ingest round ${round + 1}: relay ${best.relay.toFixed(0)}/s, express ${best.express.toFixed(0)}/s, node:http ${best.http.toFixed(0)}/s`);
    }
    const rows: Row[] = [
      row({ name: 'durable ingest, 1 KiB, 50 senders (fsync before 201)', value: best.relay, unit: 'env/s',
        baseline: 'bare express 201', baselineValue: best.express, target: '≥ 0.8×', pass: best.relay / best.express >= 0.8 }),
      row({ name: 'durable ingest vs bare node:http', value: best.relay, unit: 'env/s',
        baseline: 'bare node:http 201', baselineValue: best.http, target: 'report', pass: null }),
    ];

    // Same relay, filled up to `stored` envelopes straight through the store (set-up, not measured).
    const t0 = performance.now();
    const have = await relay.worker.call<number>('seed', mailboxes, s.stored, 30 * 86_400_000);
    progress(`seeded to ${have} stored envelopes in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    let full = 0;
    for (let round = 0; round < s.ingestRounds; round++) full = Math.max(full, check('relay (full store)', await load(relay.url)));
    rows.push(row({ name: `ingest with ${have.toLocaleString('en-US')} envelopes stored`, value: full, unit: 'env/s',
      baseline: 'ingest on an empty store', baselineValue: best.relay, target: '≥ 0.8×', pass: full / best.relay >= 0.8 }));
    return rows;
  } finally {
    await relay.stop();
  }
}
