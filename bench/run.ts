/**
 * `npm run bench [-- --quick] [--only ingest,push,...] [--set stored=20000,...]`: runs every
 * row, prints the markdown table on stdout and writes
 * `bench/results/latest.json` as `{ machine, results: Row[] }`.
 *
 * Quick mode (CI smoke test) uses small sizes and asserts nothing about
 * speed: it exits non-zero only when a part crashed or misbehaved
 * (lost envelopes, failed requests), never because a target was missed.
 * @module
 */
import { execSync } from 'node:child_process';
import { benchAuth } from './auth.js';
import { benchBacklog } from './backlog.js';
import { benchClient } from './client.js';
import { FULL, QUICK, progress, type Sizes } from './context.js';
import { benchHub } from './hub.js';
import { benchIdle } from './idle.js';
import { benchIngest } from './ingest.js';
import { benchPg } from './pg.js';
import { benchPush } from './push.js';
import { machine, table, writeResults, type Row } from './report.js';
import { spawnWorker } from './rpc.js';
import { benchSweep } from './sweep.js';

const PARTS = ['client', 'ingest', 'push', 'backlog', 'pg', 'idle', 'auth', 'sweep', 'hub'] as const;

function fdLimit(): number | null {
  try {
    const v = execSync('ulimit -n', { shell: '/bin/sh', encoding: 'utf8' }).trim();
    return v === 'unlimited' ? null : Number(v);
  } catch {
    return null;
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const s: Sizes = { ...(args.includes('--quick') ? QUICK : FULL) };
  // --set key=value,key=value overrides sizes (e.g. for profiling one part longer).
  const setAt = args.indexOf('--set');
  if (setAt >= 0)
    for (const kv of (args[setAt + 1] ?? '').split(',')) {
      const [k, v] = kv.split('=') as [keyof Sizes, string];
      if (!(k in s) || k === 'quick') throw new Error(`--set: unknown size ${k}`);
      (s as unknown as Record<string, number>)[k] = Number(v);
    }
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? new Set((args[onlyAt + 1] ?? '').split(',')) : new Set<string>(PARTS);
  const fds = fdLimit();
  const t0 = Date.now();
  progress(`${s.quick ? 'quick' : 'full'} run; parts: ${[...only].join(', ')}; fd limit ${fds ?? 'unlimited'}`);

  const rows: Row[] = [];
  const crashes: string[] = [];
  const httpLoader = spawnWorker('load/http.ts');
  const wsLoader = spawnWorker('load/ws.ts');
  // Push subscribers are spread over two ws load processes (the second is started here).
  const wsLoader2 = spawnWorker('load/ws.ts');
  let verifyRate = 0;
  const part = async (name: (typeof PARTS)[number], fn: () => Promise<Row[]>): Promise<void> => {
    if (!only.has(name)) return;
    progress(`${name}…`);
    try {
      rows.push(...(await fn()));
    } catch (e) {
      crashes.push(`${name}: ${(e as Error)?.stack ?? String(e)}`);
      progress(`${name} FAILED: ${(e as Error)?.message}`);
    }
  };
  try {
    // Client first: it also measures the BIP340 verify rate the auth row divides by.
    await part('client', async () => {
      const r = await benchClient(s);
      verifyRate = r.verifyRate;
      return r.rows;
    });
    await part('ingest', () => benchIngest(s, httpLoader));
    await part('push', () => benchPush(s, httpLoader, [wsLoader, wsLoader2]));
    await part('backlog', () => benchBacklog(s, wsLoader));
    await part('pg', () => benchPg(s, httpLoader, [wsLoader, wsLoader2]));
    await part('idle', () => benchIdle(s, fds));
    await part('auth', async () => {
      if (!verifyRate) {
        const { spawnWorker: spawn } = await import('./rpc.js');
        const c = spawn('load/crypto.ts');
        verifyRate = await c.call<number>('verifyRate', s.cryptoMinMs);
        await c.stop();
      }
      return benchAuth(s, wsLoader, verifyRate);
    });
    await part('sweep', () => benchSweep(s, httpLoader));
    await part('hub', () => benchHub(s));
  } finally {
    await Promise.all([httpLoader.stop(), wsLoader.stop(), wsLoader2.stop()]);
  }

  const file = writeResults({ machine: machine(s.quick ? 'quick' : 'full', fds), results: rows });
  process.stdout.write(table(rows) + '\n');
  for (const r of rows) if (r.note) process.stdout.write(`\n- ${r.name}: ${r.note}`);
  process.stdout.write(`\n\nwrote ${file} in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  if (crashes.length) {
    process.stderr.write(`\n${crashes.length} bench part(s) failed:\n${crashes.join('\n')}\n`);
    return 1;
  }
  return 0;
}

process.exitCode = await main();
