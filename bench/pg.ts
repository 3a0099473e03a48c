/**
 * PostgreSQL rows: two relay processes on one PostgreSQL (the
 * several-instance deployment) against one relay on LevelDB, under the
 * same load in the same run. Ingest: 50 closed-loop senders (split over
 * the two instances); push: POST to instance B, subscriber on instance A
 * (the cross-instance doorbell), timed POST sent → frame received, against
 * the same timing on the single LevelDB relay. PostgreSQL is a throw-away
 * cluster started like the test suites start theirs
 * (`test/server/pg-harness.ts`); without its binaries the rows say
 * SKIPPED.
 * @module
 */
import { pgUnavailable, startPostgres } from '../test/server/pg-harness.js';
import { progress, startRelayProc, type RelayProc, type Sizes } from './context.js';
import { randomMailboxes } from './envelopes.js';
import type { HttpLoadResult, OpenLoopResult } from './load/http.js';
import { collect, listenOn } from './push.js';
import { percentile, row, type Row } from './report.js';
import type { Worker } from './rpc.js';

/** Ingest rate over `relays` together: the senders are split evenly between them. */
async function ingest(s: Sizes, loader: Worker, relays: RelayProc[], mailboxes: string[]): Promise<number> {
  const per = Math.floor(s.concurrency / relays.length);
  const results = await Promise.all(
    relays.map((r) => loader.call<HttpLoadResult>('run', { url: r.url, mailboxes, concurrency: per, durationMs: s.pgMs })),
  );
  for (const r of results)
    if (r.ok === 0 || r.failed > 0) throw new Error(`pg ingest: ${r.ok} ok, ${r.failed} failed ${JSON.stringify(r.statuses)}`);
  return results.reduce((a, r) => a + r.perSecond, 0);
}

/** POST sent → frame received (ms, sorted): subscribers on `subscribeTo`, POSTs to `postTo`. */
async function push(s: Sizes, poster: Worker, listeners: Worker[], subscribeTo: RelayProc, postTo: RelayProc): Promise<number[]> {
  const mailboxes = await listenOn(subscribeTo.url, listeners, Math.min(s.pushSubscribers, 500));
  try {
    const targets = mailboxes.map((m): [string, string] => [postTo.url, m]);
    const r = await poster.call<OpenLoopResult>('openLoop', targets, s.pushRate, s.pgMs);
    const arrived = await collect(listeners, r.posted - r.failed);
    if (r.failed > 0 || arrived.size < r.posted)
      throw new Error(`pg push: ${r.posted} posted, ${r.failed} failed, ${arrived.size} received`);
    return r.sent.flatMap(([id, t]) => (arrived.has(id) ? [arrived.get(id)! - t] : [])).sort((a, b) => a - b);
  } finally {
    for (const l of listeners) await l.call('arrivals', true);
  }
}

/** PostgreSQL rows (or one SKIPPED row). */
export async function benchPg(s: Sizes, loader: Worker, listeners: Worker[]): Promise<Row[]> {
  const why = pgUnavailable();
  if (why) {
    progress(`PostgreSQL rows SKIPPED: ${why}`);
    return [
      row({
        name: `PostgreSQL rows SKIPPED: ${why}`,
        value: Number.NaN,
        unit: '',
        baseline: null,
        baselineValue: null,
        target: 'report',
        pass: null,
      }),
    ];
  }
  const mailboxes = randomMailboxes(1000);
  const server = await startPostgres();
  try {
    const databaseUrl = await server.createDatabase('lnmb_bench');
    const level = await startRelayProc();
    let levelRate: number;
    let levelLat: number[];
    try {
      levelRate = await ingest(s, loader, [level], mailboxes);
      levelLat = await push(s, loader, listeners, level, level);
    } finally {
      await level.stop();
    }
    // One after the other: the first creates the schema.
    const a = await startRelayProc([], databaseUrl);
    const b = await startRelayProc([], databaseUrl);
    let pgRate: number;
    let pgLat: number[];
    try {
      pgRate = await ingest(s, loader, [a, b], mailboxes);
      pgLat = await push(s, loader, listeners, a, b);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    const p = (xs: number[], q: number) => percentile(xs, q);
    progress(
      `pg: ingest ${pgRate.toFixed(0)}/s (2 relays) vs LevelDB ${levelRate.toFixed(0)}/s; cross-instance push p50 ${p(pgLat, 50).toFixed(2)} / p99 ${p(pgLat, 99).toFixed(2)} ms vs LevelDB ${p(levelLat, 50).toFixed(2)} / ${p(levelLat, 99).toFixed(2)} ms`,
    );
    const label = `${s.pushRate}/s over ${Math.min(s.pushSubscribers, 500)} mailboxes`;
    const note = `PostgreSQL ${databaseUrl.replace(/\/\/[^@]*@/, '//')} (fsync on, local); LevelDB push p50 ${p(levelLat, 50).toFixed(2)} ms, PostgreSQL cross-instance p50 ${p(pgLat, 50).toFixed(2)} ms`;
    return [
      row({
        name: `PostgreSQL: durable ingest, two relays on one PostgreSQL, ${s.concurrency} senders split between them`,
        value: pgRate,
        unit: 'env/s',
        baseline: 'one relay on LevelDB, same senders',
        baselineValue: levelRate,
        target: 'report',
        pass: null,
        note,
      }),
      row({
        name: `PostgreSQL: cross-instance push p50, POST to relay B → frame from relay A (${label})`,
        value: p(pgLat, 50),
        unit: 'ms',
        baseline: 'one LevelDB relay, POST → frame',
        baselineValue: p(levelLat, 50),
        target: 'report',
        pass: null,
        note,
      }),
      row({
        name: `PostgreSQL: cross-instance push p99, POST to relay B → frame from relay A (${label})`,
        value: p(pgLat, 99),
        unit: 'ms',
        baseline: 'one LevelDB relay, POST → frame',
        baselineValue: p(levelLat, 99),
        target: 'report',
        pass: null,
        note,
      }),
    ];
  } finally {
    await server.stop();
  }
}
