/**
 * A role persists each step before its messages leave, so a LevelKv write
 * must be on disk when it resolves, not only in the OS's page cache: a
 * process kill would not lose it, but a power cut would. This counts the
 * fsync/fdatasync system calls of real writes in a child process under
 * strace: one per write by default, (almost) none with `sync: false`.
 * Without strace it says SKIPPED; the option plumbing is checked anyway.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../../base/errors.js';
import { LevelKv } from '../../../client/mailbox/kv.js';
import { throwsCode } from '../../helpers.js';

const t = suite('client/kv LevelKv durability');
const fixture = fileURLToPath(new URL('./fixtures/kv-writes.ts', import.meta.url));
const N = 20;

function hasStrace(): boolean {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** fsync + fdatasync calls of `N` batches with `sync` as given, counted by strace over the child and its threads. */
function syncCalls(sync: 'default' | 'true' | 'false'): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lnmb-kv-sync-'));
  const out = path.join(dir, 'strace.txt');
  try {
    const r = spawnSync(
      'strace',
      [
        '-f',
        '-qq',
        '-c',
        '-e',
        'trace=fsync,fdatasync',
        '-o',
        out,
        process.execPath,
        '--import',
        'tsx',
        fixture,
        path.join(dir, 'db'),
        sync,
        String(N),
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.is(r.status, 0, `child failed: ${r.stderr}`);
    let calls = 0;
    for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
      const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(fsync|fdatasync)\s*$/.exec(line);
      if (m) calls += Number(m[1]);
    }
    return calls;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

t('writes are synchronous by default, and the option says so', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lnmb-kv-opt-'));
  try {
    assert.is(new LevelKv(dir).writeOptions.sync, true);
    assert.is(new LevelKv(dir, { sync: false }).writeOptions.sync, false);
    throwsCode(() => new LevelKv(dir, { sync: 'yes' as never }), ErrorCode.INVALID_TYPE);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

if (!hasStrace()) {
  console.log('SKIPPED: LevelKv fsync count (strace is not installed); the option plumbing is still checked');
} else {
  t(`every write reaches the disk before it resolves: ${N} batches cost at least ${N} fsyncs, and none with sync: false`, () => {
    const byDefault = syncCalls('default');
    const explicit = syncCalls('true');
    const off = syncCalls('false');
    assert.ok(byDefault >= N, `default: ${byDefault} fsync/fdatasync calls for ${N} writes`);
    assert.ok(explicit >= N, `sync: true: ${explicit} calls for ${N} writes`);
    assert.ok(off < N / 2, `sync: false: ${off} calls for ${N} writes`);
  });
}

t.run();
