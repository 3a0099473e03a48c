/**
 * Result rows, the machine description, the markdown table and
 * `bench/results/latest.json` (every figure next to a baseline
 * measured in the same run, as a ratio, because machines here are shared
 * and noisy).
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCH_DIR } from './rpc.js';

/** One measured figure. `ratio` is value ÷ baselineValue; `pass` is null where there is no target. */
export interface Row {
  name: string;
  value: number;
  unit: string;
  baseline: string | null;
  baselineValue: number | null;
  ratio: number | null;
  target: string | null;
  pass: boolean | null;
  /** Free text: sizes actually used, counts, why a size was reduced. */
  note?: string;
}

/** The machine the run happened on. */
export interface Machine {
  cores: number;
  cpuModel: string;
  memoryMiB: number;
  node: string;
  platform: string;
  fdLimit: number | null;
  mode: 'quick' | 'full';
  date: string;
}

/** Shape of `bench/results/latest.json`. */
export interface Results {
  machine: Machine;
  results: Row[];
}

/** Builds a row; computes the ratio when both sides are known. */
export function row(r: Omit<Row, 'ratio' | 'pass'> & { pass?: boolean | null; ratio?: number | null }): Row {
  const ratio = r.ratio !== undefined ? r.ratio : r.baselineValue ? r.value / r.baselineValue : null;
  return { ...r, ratio, pass: r.pass ?? null };
}

/** Describes this machine. */
export function machine(mode: 'quick' | 'full', fdLimit: number | null): Machine {
  return {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryMiB: Math.round(os.totalmem() / 2 ** 20),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    fdLimit,
    mode,
    date: new Date().toISOString(),
  };
}

function fmt(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a >= 1000) return Math.round(n).toLocaleString('en-US');
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  return n.toFixed(3);
}

/** The markdown table of `rows`. */
export function table(rows: readonly Row[]): string {
  const out = ['| row | value | baseline (same run) | ratio | target | pass |', '| --- | ---: | --- | ---: | --- | :---: |'];
  for (const r of rows) {
    const base = r.baseline === null ? '–' : `${r.baseline}: ${fmt(r.baselineValue)} ${r.baselineValue === null ? '' : r.unit}`;
    const pass = r.pass === null ? '–' : r.pass ? 'yes' : 'no';
    out.push(
      `| ${r.name} | ${fmt(r.value)} ${r.unit} | ${base.trim()} | ${r.ratio === null ? '–' : fmt(r.ratio) + '×'} | ${r.target ?? '–'} | ${pass} |`,
    );
  }
  return out.join('\n');
}

/** Writes `bench/results/latest.json` and returns its path. */
export function writeResults(res: Results): string {
  const file = path.join(BENCH_DIR, 'results', 'latest.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(res, null, 2) + '\n');
  return file;
}

/** Percentile (nearest rank) of an ascending-sorted array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
