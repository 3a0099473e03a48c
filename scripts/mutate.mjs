#!/usr/bin/env node
// Guard mutation testing: for every statement in engine/payment, engine/channel and
// crypto that refuses or asserts (a `reject(`/`fail(`/`return ignored(`
// behind an `if`, an `invariant(cond, msg)`, a bare `reject(...)` statement),
// builds a mutant that disables exactly that guard, runs the relevant test
// suites with bail, and reports which mutants the tests kill.
//
// Mutants never touch the working tree: each worker runs in its own temporary
// copy of the repository (node_modules symlinked), writes the mutated file
// there, and restores it after the run (try/finally; on SIGINT/SIGTERM the
// copies are restored and removed).
//
// Usage: npm run mutate -- [--file <substring>] [--line <file>:<line>] [--tests <substring>]
//                          [--list] [--jobs N] [--out <report.json>] [--no-cond]
//   --line  only the mutants of that line (repeatable), e.g. --line hub.ts:203
//   --tests only the test files whose path contains the substring (repeatable; default: all of
//           test/engine/payment, test/engine/channel, test/crypto, test/engine/bitcoin)
import { spawn, execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const SRC_DIRS = ['engine/payment', 'engine/channel', 'crypto'];
const TEST_ORDER = {
  // The suites most likely to kill a mutant of that directory run first (bail stops at the first failure).
  'engine/payment': ['test/engine/payment', 'test/engine/channel', 'test/engine/bitcoin', 'test/crypto'],
  'engine/channel': ['test/engine/channel', 'test/engine/payment', 'test/engine/bitcoin', 'test/crypto'],
  crypto: ['test/crypto', 'test/engine/bitcoin', 'test/engine/channel', 'test/engine/payment'],
};

// ---------------------------------------------------------------------------
// Options

function parseArgs(argv) {
  const o = { files: [], lines: [], tests: [], list: false, jobs: 1, out: undefined, cond: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--file') o.files.push(val());
    else if (a === '--line') {
      const m = /^(.+):(\d+)$/.exec(val());
      if (!m) usage('--line wants <file substring>:<line>');
      o.lines.push({ file: m[1], line: Number(m[2]) });
    } else if (a === '--tests') o.tests.push(val());
    else if (a === '--list') o.list = true;
    else if (a === '--jobs') o.jobs = Math.max(1, Number(val()) || 1);
    else if (a === '--out') o.out = resolve(val());
    else if (a === '--no-cond') o.cond = false;
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown option ${a}`);
  }
  return o;
}

function usage(err) {
  if (err) console.error(err);
  console.error(
    'usage: node scripts/mutate.mjs [--file <substring>]... [--line <file>:<line>]... [--tests <substring>]...\n' +
      '                               [--list] [--jobs N] [--out <report.json>] [--no-cond]',
  );
  process.exit(err ? 2 : 0);
}

// ---------------------------------------------------------------------------
// Finding guard sites

/** Index just past the bracket closing the one at `open` (skips strings, template literals and comments). */
function matchClose(src, open) {
  const pairs = { '(': ')', '[': ']', '{': '}' };
  const stack = [];
  for (let i = open; i < src.length; i++) {
    const c = src[i];
    if (c === '"' || c === "'" || c === '`') {
      i = skipString(src, i);
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      i = src.indexOf('\n', i);
      if (i < 0) return -1;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      i = src.indexOf('*/', i) + 1;
      continue;
    }
    if (pairs[c]) stack.push(pairs[c]);
    else if (c === ')' || c === ']' || c === '}') {
      if (stack.pop() !== c) return -1;
      if (stack.length === 0) return i + 1;
    }
  }
  return -1;
}

function skipString(src, i) {
  const q = src[i];
  for (let j = i + 1; j < src.length; j++) {
    if (src[j] === '\\') j++;
    else if (q === '`' && src[j] === '$' && src[j + 1] === '{') j = matchClose(src, j + 1) - 1;
    else if (src[j] === q) return j;
  }
  return src.length;
}

/** Offsets of top-level `<`, `<=`, `>`, `>=` in src[a, b) (not `=>`, `>>`, `<<`, not in strings or brackets). */
function comparisons(src, a, b) {
  const out = [];
  let _depth = 0;
  for (let i = a; i < b; i++) {
    const c = src[i];
    if (c === '"' || c === "'" || c === '`') {
      i = skipString(src, i);
      continue;
    }
    if (c === '(' || c === '[' || c === '{') _depth++;
    else if (c === ')' || c === ']' || c === '}') _depth--;
    if (c !== '<' && c !== '>') continue;
    const prev = src[i - 1],
      next = src[i + 1];
    if (prev === '=' || prev === '<' || prev === '>' || next === '<' || next === '>') continue; // =>, <<, >>, >>>
    if (src[i - 1] !== ' ') continue; // generics (Map<string, X>) are never spaced like a comparison
    out.push({ at: i, op: next === '=' ? `${c}=` : c });
  }
  return out;
}

const GUARD_CALL = /^(return\s+)?(reject|fail|ignored)\(|^return\s+ignored\(/;

function lineOf(src, at) {
  let n = 1;
  for (let i = 0; i < at; i++) if (src.charCodeAt(i) === 10) n++;
  return n;
}

function lineText(src, line) {
  return src.split('\n')[line - 1].trim();
}

/** Statement start: the previous non-space character ends a statement or opens a block. */
function atStatementStart(src, at) {
  let i = at - 1;
  while (i >= 0 && /\s/.test(src[i])) i--;
  return i < 0 || src[i] === '{' || src[i] === ';' || src[i] === '}';
}

/**
 * The mutants of one source file. Each is `{ file, line, kind, original, start, end, replacement, description }`:
 * replacing src[start, end) by `replacement` disables one guard (kind "guard") or
 * moves one comparison's boundary in a guard condition (kind "cond").
 */
export function findMutants(file, src, { cond = true } = {}) {
  const out = [];
  const add = (at, kind, start, end, replacement, description) => {
    const line = lineOf(src, at);
    out.push({
      id: `${file}:${line}:${kind}:${out.length}`,
      file,
      line,
      kind,
      original: lineText(src, line),
      start,
      end,
      replacement,
      description,
    });
  };
  const condMutants = (at, a, b) => {
    if (!cond) return;
    for (const c of comparisons(src, a, b)) {
      const flipped = { '<': '<=', '<=': '<', '>': '>=', '>=': '>' }[c.op];
      add(at, 'cond', c.at, c.at + c.op.length, flipped, `${c.op} → ${flipped}`);
    }
  };
  // 1. `if (cond) reject(...)` / `fail(...)` / `return ignored(...)` (the consequent may be on the next line).
  for (const m of src.matchAll(/\bif\s*\(/g)) {
    const open = m.index + m[0].length - 1;
    const close = matchClose(src, open);
    if (close < 0) continue;
    const rest = src.slice(close).replace(/^\s+/, '');
    if (!GUARD_CALL.test(rest)) continue;
    add(m.index, 'guard', open + 1, close - 1, 'false', `if (…) → if (false)`);
    condMutants(m.index, open + 1, close - 1);
  }
  // 2. `invariant(cond, msg)` statements → `invariant(true, msg)`.
  for (const m of src.matchAll(/\binvariant\(/g)) {
    if (/function\s+$/.test(src.slice(Math.max(0, m.index - 20), m.index))) continue;
    if (!atStatementStart(src, m.index)) continue;
    const open = m.index + m[0].length - 1;
    const close = matchClose(src, open);
    if (close < 0) continue;
    let depth = 0,
      comma = -1;
    for (let i = open + 1; i < close - 1; i++) {
      const c = src[i];
      if (c === '"' || c === "'" || c === '`') i = skipString(src, i);
      else if (c === '(' || c === '[' || c === '{') depth++;
      else if (c === ')' || c === ']' || c === '}') depth--;
      else if (c === ',' && depth === 0) {
        comma = i;
        break;
      }
    }
    if (comma < 0) continue;
    const a = open + 1 + (src.slice(open + 1, comma).length - src.slice(open + 1, comma).trimStart().length);
    add(m.index, 'guard', a, comma, 'true', 'invariant(cond, …) → invariant(true, …)');
    condMutants(m.index, a, comma);
  }
  // 3. Bare `reject(...)` / `fail(...)` / `return ignored(...)` statements in a block → removed, and
  //    guards written as a call statement: `checkX(...)`, `verifyX(...)`, `requireX(...)`, `assertX(...)`,
  //    on a receiver or not (`ch.requireOpen()`, `checkFulfill(ch, m, point)`).
  for (const m of src.matchAll(/(?<=^[ \t]*)(return\s+ignored|reject|fail|(?:[a-z]\w*\.)?(?:check|verify|require|assert)[A-Z]\w*)\(/gm)) {
    if (!atStatementStart(src, m.index)) continue;
    const open = m.index + m[0].length - 1;
    const close = matchClose(src, open);
    if (close < 0) continue;
    const end = src[close] === ';' ? close + 1 : close;
    add(m.index, 'guard', m.index, end, 'void 0;', 'statement removed');
  }
  return out.sort((x, y) => x.line - y.line || x.start - y.start);
}

function sourceFiles(filters) {
  const files = [];
  // Recursive: engine/payment keeps each role in its own folder (hub/, payer/, payee/).
  for (const d of SRC_DIRS)
    for (const name of readdirSync(join(root, d), { recursive: true }).map(String).sort())
      if (name.endsWith('.ts')) files.push(`${d}/${name}`);
  return files.filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
}

// ---------------------------------------------------------------------------
// Running

const workdirs = [];
let testFilter = [];
const running = new Set();
let interrupted = false;

function makeCopy(base) {
  const dir = join(base, `w${workdirs.length}`);
  const skip = new Set(['node_modules', '.git', 'dist', 'data', 'coverage']);
  cpSync(root, dir, { recursive: true, filter: (p) => !skip.has(relative(root, p).split('/')[0]) });
  symlinkSync(realpathSync(join(root, 'node_modules')), join(dir, 'node_modules'), 'dir');
  const w = { dir, dirty: undefined };
  workdirs.push(w);
  return w;
}

function testFiles(dir, dirs) {
  const walk = (d) => {
    const out = [];
    if (!existsSync(d)) return out;
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (name === 'node_modules' || name === 'vectors' || name === 'fixtures') continue;
      if (statSync(p).isDirectory()) out.push(...walk(p));
      else if (name.endsWith('.test.ts')) out.push(p);
    }
    return out;
  };
  return dirs
    .flatMap((t) => walk(join(dir, t)))
    .filter((f) => testFilter.length === 0 || testFilter.some((s) => relative(dir, f).includes(s)));
}

/** Runs the suites in `cwd` with bail; resolves to { code, ms, timedOut, tail }. */
function runSuites(cwd, files, timeoutMs) {
  return new Promise((done) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', join(cwd, 'scripts', 'uvu-run.mjs'), ...files], {
      cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0', UVU_BAIL: '1' },
    });
    running.add(child);
    let tail = '';
    const keep = (b) => (tail = (tail + b.toString()).slice(-4000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      done({ code: code ?? (signal ? 128 : 1), ms: Date.now() - t0, timedOut, tail });
    });
  });
}

function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** Applies `mu` in worker `w`, runs the suites, restores the file (always). */
async function runMutant(w, mu, timeoutMs) {
  const path = join(w.dir, mu.file);
  const original = readFileSync(path, 'utf8');
  const mutated = original.slice(0, mu.start) + mu.replacement + original.slice(mu.end);
  w.dirty = { path, original };
  try {
    writeFileSync(path, mutated);
    const dirs = TEST_ORDER[SRC_DIRS.find((d) => mu.file.startsWith(d))];
    const r = await runSuites(w.dir, testFiles(w.dir, dirs), timeoutMs);
    const status = r.timedOut ? 'timeout' : r.code === 0 ? 'survived' : 'killed';
    return { status, ms: r.ms, killedBy: status === 'killed' ? firstFailure(r.tail) : undefined };
  } finally {
    writeFileSync(path, original);
    w.dirty = undefined;
  }
}

function firstFailure(tail) {
  const m = /FAIL\s+"([^"]+)"/.exec(tail) ?? /✘\s*\(\d+ \/ \d+\)\s*\n?\s*FAIL\s+(.+)/.exec(tail);
  return m ? m[1].trim().slice(0, 120) : undefined;
}

function cleanup() {
  for (const c of running) killGroup(c);
  for (const w of workdirs) if (w.dirty) writeFileSync(w.dirty.path, w.dirty.original);
  if (workdirs.length) rmSync(resolve(workdirs[0].dir, '..'), { recursive: true, force: true });
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${sig}: stopping, restoring and removing the temporary copies`);
    cleanup();
    process.exit(130);
  });
}

// ---------------------------------------------------------------------------
// Main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const files = sourceFiles(opts.files);
  if (files.length === 0) usage('no source file matches --file');
  const mutants = files
    .flatMap((f) => findMutants(f, readFileSync(join(root, f), 'utf8'), { cond: opts.cond }))
    .filter((mu) => opts.lines.length === 0 || opts.lines.some((l) => mu.file.includes(l.file) && mu.line === l.line));
  testFilter = opts.tests;
  if (opts.list) {
    for (const mu of mutants) console.log(`${mu.file}:${mu.line}\t${mu.kind}\t${mu.description}\t${mu.original}`);
    console.log(`${mutants.length} mutants in ${files.length} files`);
    return;
  }
  const dirty = execFileSync('git', ['status', '--porcelain', '--', ...SRC_DIRS], { cwd: root, encoding: 'utf8' }).trim();
  if (dirty) {
    console.error(`the tree has changes under ${SRC_DIRS.join(', ')}; commit or stash them first:\n${dirty}`);
    process.exit(2);
  }
  const base = mkdtempSync(join(tmpdir(), 'ln-mailbox-mutate-'));
  const workers = [];
  for (let i = 0; i < Math.min(opts.jobs, mutants.length || 1); i++) {
    const w = makeCopy(base);
    workers.push(w);
  }
  const t0 = Date.now();
  try {
    console.log(`baseline: running the unmutated suites (${Object.keys(TEST_ORDER).length} orders, one run)…`);
    const all = testFiles(workers[0].dir, TEST_ORDER['engine/payment']);
    const base0 = await runSuites(workers[0].dir, all, 20 * 60_000);
    if (base0.code !== 0) {
      console.error(`the unmutated suites fail; fix them first:\n${base0.tail}`);
      process.exitCode = 1;
      return;
    }
    // Generous: the machine may be shared, and a survivor runs every suite to the end.
    const timeoutMs = Math.max(120_000, base0.ms * 5);
    console.log(
      `baseline passed in ${(base0.ms / 1000).toFixed(1)} s; per-mutant timeout ${(timeoutMs / 1000).toFixed(0)} s; ${mutants.length} mutants, ${workers.length} job(s)`,
    );
    const results = new Array(mutants.length);
    let next = 0,
      finished = 0;
    await Promise.all(
      workers.map(async (w) => {
        while (!interrupted) {
          const i = next++;
          if (i >= mutants.length) return;
          const mu = mutants[i];
          const r = await runMutant(w, mu, timeoutMs);
          results[i] = { ...mu, ...r };
          finished++;
          console.log(
            `[${finished}/${mutants.length}] ${r.status.toUpperCase().padEnd(8)} ${mu.file}:${mu.line} ${mu.kind} (${mu.description}) ${(r.ms / 1000).toFixed(1)}s`,
          );
        }
      }),
    );
    report(results.filter(Boolean), Date.now() - t0, opts.out, base0.ms);
  } finally {
    cleanup();
  }
}

function report(results, ms, out, baselineMs) {
  const byFile = new Map();
  for (const r of results) {
    const e = byFile.get(r.file) ?? { sites: 0, killed: 0, timeout: 0, survived: 0 };
    e.sites++;
    e[r.status]++;
    byFile.set(r.file, e);
  }
  console.log('\nfile                          mutants  killed  timeout  survived');
  for (const [f, e] of byFile)
    console.log(
      `${f.padEnd(30)}${String(e.sites).padStart(7)}${String(e.killed).padStart(8)}${String(e.timeout).padStart(9)}${String(e.survived).padStart(10)}`,
    );
  const survivors = results.filter((r) => r.status === 'survived');
  if (survivors.length) {
    console.log('\nsurvivors:');
    for (const s of survivors) console.log(`  ${s.file}:${s.line}  ${s.kind} (${s.description})  ${s.original}`);
  }
  const detected = results.filter((r) => r.status !== 'survived').length;
  const score = results.length ? (100 * detected) / results.length : 100;
  console.log(`\nscore: ${detected}/${results.length} mutants killed or timed out (${score.toFixed(1)}%), ${(ms / 1000).toFixed(0)} s`);
  if (out) {
    writeFileSync(
      out,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          durationMs: ms,
          baselineMs,
          score,
          total: results.length,
          detected,
          files: Object.fromEntries(byFile),
          mutants: results.map(({ start, end, ...r }) => r),
        },
        null,
        2,
      ) + '\n',
    );
    console.log(`report written to ${out}`);
  }
  if (survivors.length) process.exitCode = 1;
}

await main();
