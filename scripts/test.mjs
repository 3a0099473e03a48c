#!/usr/bin/env node
// Runs every uvu suite under test/ in one Node process (TypeScript through tsx),
// streams uvu's report, then prints the plain closing line CI reads:
//   "N passed, M failed"
// Exits non-zero on any failure, on an early exit, or when zero tests ran.
// Usage: npm test [-- <substring filter> ...]
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const filters = process.argv.slice(2);
const WATCHDOG_MS = Number(process.env.TEST_TIMEOUT_MS ?? 20 * 60_000);

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'vectors' || name === 'fixtures') continue;
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = walk(join(root, 'test')).filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)));
if (files.length === 0) {
  console.log('0 passed, 0 failed');
  console.error('no test files matched');
  process.exit(1);
}

const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'uvu-run.mjs'), ...files], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, FORCE_COLOR: '0' },
});
let out = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  out += chunk.toString();
  if (out.length > 1 << 20) out = out.slice(-(1 << 16));
});
const watchdog = setTimeout(() => {
  console.error(`\ntest watchdog: no result after ${WATCHDOG_MS} ms, killing the run`);
  child.kill('SIGKILL');
}, WATCHDOG_MS);

child.on('exit', (code, signal) => {
  clearTimeout(watchdog);
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const passed = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const failed = total - passed + (code !== 0 && total === passed ? 1 : 0);
  console.log(`${passed} passed, ${failed} failed`);
  if (signal || code !== 0 || failed > 0 || total === 0) process.exit(1);
});
