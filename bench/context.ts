/**
 * What every bench part shares: the sizes of a quick or full run, and
 * starting the relay and the baseline servers as child processes in fresh
 * temporary data directories.
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { spawnWorker, BENCH_DIR, type Worker } from './rpc.js';

/** Runs `sync(1)`: pending write-back goes to disk before the next measurement. */
export function writeBack(): void {
  try {
    execFileSync('sync');
  } catch {
    // No sync(1) (e.g. not Unix): the figures are only noisier.
  }
}

/** Sizes of one run. Full sizes are the ones docs/performance.md reports; quick sizes only smoke-test the code. */
export interface Sizes {
  quick: boolean;
  ingestMs: number;
  ingestRounds: number;
  concurrency: number;
  stored: number;
  pushSubscribers: number;
  pushRate: number;
  pushMs: number;
  /** Duration of each PostgreSQL measurement (ingest, push). */
  pgMs: number;
  /** Runs of the push row (median reported, range in the note). */
  pushRounds: number;
  /** Duration of each step of the push rate sweep, and its highest rate. */
  pushSweepMs: number;
  pushSweepMax: number;
  backlog: number;
  idle: number;
  idleDevicesPerMailbox: number;
  authMs: number;
  authConcurrency: number;
  sweep: number;
  sweepBaselineMs: number;
  cryptoMinMs: number;
  /** Hub bench: payers (one process), payees (another), receipt tickets per payee, warm-up and measured window. */
  hubPayers: number;
  hubPayees: number;
  hubTickets: number;
  hubWarmMs: number;
  hubMs: number;
  /** Hub bench: further channels the hub holds in a second run, with peers that never come online. */
  hubIdle: number;
}

/** Full sizes (docs/performance.md). */
export const FULL: Sizes = {
  quick: false,
  ingestMs: 6000,
  ingestRounds: 2,
  concurrency: 50,
  stored: 1_000_000,
  pushSubscribers: 1000,
  pushRate: 1000,
  pushMs: 8000,
  pushRounds: 3,
  pgMs: 6000,
  pushSweepMs: 4000,
  pushSweepMax: 32_000,
  backlog: 100_000,
  idle: 20_000,
  idleDevicesPerMailbox: 10,
  authMs: 5000,
  authConcurrency: 16,
  sweep: 100_000,
  sweepBaselineMs: 3000,
  cryptoMinMs: 1000,
  hubPayers: 8,
  hubPayees: 32,
  hubTickets: 64,
  hubWarmMs: 5000,
  hubMs: 20_000,
  hubIdle: 1000,
};

/** Smoke-test sizes (CI): every code path, small numbers, no speed claims. */
export const QUICK: Sizes = {
  quick: true,
  ingestMs: 1000,
  ingestRounds: 1,
  concurrency: 50,
  stored: 5000,
  pushSubscribers: 50,
  pushRate: 200,
  pushMs: 1500,
  pushRounds: 1,
  pgMs: 1000,
  pushSweepMs: 800,
  pushSweepMax: 400,
  backlog: 2000,
  idle: 200,
  idleDevicesPerMailbox: 10,
  authMs: 1000,
  authConcurrency: 4,
  sweep: 2000,
  sweepBaselineMs: 500,
  cryptoMinMs: 100,
  hubPayers: 2,
  hubPayees: 4,
  hubTickets: 32,
  hubWarmMs: 1500,
  hubMs: 3000,
  hubIdle: 50,
};

/** A relay child process with its data directory. */
export interface RelayProc {
  worker: Worker;
  url: string;
  pid: number;
  dir: string;
  /** Closes the relay, ends the process and deletes its data. */
  stop(): Promise<void>;
}

/** Starts `bench/servers/relay.ts` in a child process on an ephemeral loopback port. */
export async function startRelayProc(execArgv: string[] = [], databaseUrl?: string): Promise<RelayProc> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lnmb-bench-'));
  // BENCH_PROFILE=<dir>: every relay process writes a V8 CPU profile there (see profile.ts).
  const prof = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const worker = spawnWorker('servers/relay.ts', [...execArgv, ...prof]);
  const { url, pid } = await worker.call<{ url: string; pid: number }>('start', dir, databaseUrl);
  return {
    worker,
    url,
    pid,
    dir,
    async stop() {
      await worker.call('close').catch(() => undefined);
      await worker.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      // Flush the page cache now, not during the next part: a gigabyte of write-back
      // from a deleted store would otherwise land in the next relay's fsyncs.
      writeBack();
    },
  };
}

/** A bare baseline server child process. */
export async function startBare(
  kind: 'express' | 'http' | 'ws' | 'broadcast',
  frames = 0,
  mailbox?: string,
): Promise<{ worker: Worker; url: string; stop(): Promise<void> }> {
  const worker = spawnWorker('servers/bare.ts');
  const { url } = await worker.call<{ url: string }>('start', kind, frames, mailbox);
  return {
    worker,
    url,
    async stop() {
      await worker.call('close').catch(() => undefined);
      await worker.stop();
    },
  };
}

/** Node flags that load the EC-count instrumentation (bench/load/ec-count.mjs). */
export const EC_COUNT = ['--import', path.join(BENCH_DIR, 'load', 'ec-count.mjs')];

/** Logs progress to stderr (stdout carries the table). */
export function progress(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}
