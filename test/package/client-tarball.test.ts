/**
 * The wallet SDK as a wallet developer gets it: `npm pack` the client
 * workspace (packages/client), install the tarball into an empty project,
 * and check that
 * - none of the relay's server dependencies comes with it;
 * - the tarball holds no source map and no server, simulator or CLI code,
 *   and every relative link of its Markdown (README, docs, SPEC) resolves
 *   to a file in it (the links work from the published package);
 * - a payment runs through it: fixtures/wallet-app.mjs, run in that project
 *   against the relay (a child process) and the chain simulator over
 *   Esplora HTTP, opens and funds two channels and completes an offline
 *   payment, importing only `@ln-mailbox/client` and `ws`.
 * The relay package (the repository root) is checked the same way from its
 * `npm pack --dry-run` list: its source maps point to sources it ships, and
 * its Markdown links resolve.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ChainModel } from '../../sim/chain-model.js';
import { startEsploraServer } from '../../sim/esplora-server.js';
import { spawnRelay } from '../e2e/world.js';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** What only the relay needs: a wallet must not install any of it. */
const SERVER_DEPS = ['express', 'pg', 'pino', 'prom-client'];
const t = suite('package: the wallet SDK tarball');

const npm = (args: string[], cwd: string, timeout = 300_000) =>
  run('npm', args, { cwd, timeout, maxBuffer: 64 << 20, env: { ...process.env, npm_config_loglevel: 'error' } });

/** Relative link targets of a Markdown text (no scheme, no bare anchor). */
function relativeLinks(md: string): string[] {
  const out: string[] = [];
  for (const m of md.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1]!.split('#')[0]!;
    if (target && !/^[a-z]+:/i.test(target)) out.push(target);
  }
  return out;
}

/** Links of the package's Markdown files that do not resolve to a file of the package. */
function brokenLinks(files: Set<string>, read: (f: string) => string): string[] {
  const broken: string[] = [];
  for (const f of files) {
    if (!f.endsWith('.md')) continue;
    for (const link of relativeLinks(read(f))) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(f), link)).replace(/\/$/, '');
      const isDir = [...files].some((x) => x.startsWith(`${target}/`));
      if (!files.has(target) && !isDir) broken.push(`${f} → ${link}`);
    }
  }
  return broken;
}

/** Every installed package of a node_modules tree (scoped ones as @scope/name), nested ones included. */
function installed(dir: string): string[] {
  const out: string[] = [];
  const walk = (nm: string) => {
    if (!fs.existsSync(nm)) return;
    for (const name of fs.readdirSync(nm)) {
      if (name.startsWith('.')) continue;
      const names = name.startsWith('@') ? fs.readdirSync(path.join(nm, name)).map((n) => `${name}/${n}`) : [name];
      for (const n of names) {
        out.push(n);
        walk(path.join(nm, n, 'node_modules'));
      }
    }
  };
  walk(path.join(dir, 'node_modules'));
  return out;
}

let work: string;
let tarball: string;
t.before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'lnmb-pack-'));
  const { stdout } = await npm(['pack', '-w', '@ln-mailbox/client', '--pack-destination', work, '--json'], root);
  const [info] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string }[];
  tarball = path.join(work, path.basename(info!.filename));
});
t.after(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

t('the tarball ships the SDK, its types, LICENSE and docs; no maps, no relay code; every Markdown link resolves', async () => {
  const unpacked = path.join(work, 'unpacked');
  fs.mkdirSync(unpacked);
  await run('tar', ['-xzf', tarball, '-C', unpacked]);
  const base = path.join(unpacked, 'package');
  const files = new Set<string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(path.join(base, d), { withFileTypes: true }))
      e.isDirectory() ? walk(path.posix.join(d, e.name)) : files.add(path.posix.join(d, e.name));
  };
  walk('.');
  const list = new Set([...files].map((f) => f.replace(/^\.\//, '')));
  for (const f of [
    'LICENSE',
    'README.md',
    'package.json',
    'dist/client/index.js',
    'dist/client/index.d.ts',
    'dist/protocol/index.js',
    'docs/wallet-integration.md',
    'protocol/SPEC.md',
  ])
    assert.ok(list.has(f), `the tarball has ${f}`);
  const misplaced = [...list].filter(
    (f) => /\.map$/.test(f) || /^dist\/(server|sim|bin)\//.test(f) || /\.ts$/.test(f.replace(/\.d\.ts$/, '')),
  );
  assert.equal(misplaced, [], 'no source maps, no TypeScript sources, no server, simulator or CLI code');
  const broken = brokenLinks(list, (f) => fs.readFileSync(path.join(base, f), 'utf8'));
  assert.equal(broken, [], 'every relative Markdown link resolves inside the package');
  const pkg = JSON.parse(fs.readFileSync(path.join(base, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    repository?: unknown;
  };
  assert.ok(pkg.repository, 'a repository field');
  assert.equal(
    Object.keys(pkg.dependencies).filter((d) => SERVER_DEPS.includes(d) || d === 'ws'),
    [],
    'no relay dependency declared',
  );
});

t('installed into an empty project, it brings no server dependency, and a payment runs through it', async () => {
  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'wallet-app', private: true, type: 'module' }));
  fs.copyFileSync(path.join(root, 'test/package/fixtures/wallet-app.mjs'), path.join(app, 'app.mjs'));
  const ws = (JSON.parse(fs.readFileSync(path.join(root, 'node_modules/ws/package.json'), 'utf8')) as { version: string }).version;
  await npm(['install', tarball, `ws@${ws}`, '--no-audit', '--no-fund', '--prefer-offline'], app);
  const pkgs = installed(app);
  assert.ok(pkgs.includes('@ln-mailbox/client'), 'the SDK is installed');
  assert.equal(
    pkgs.filter((p) => SERVER_DEPS.includes(p)),
    [],
    'no server dependency is installed',
  );
  console.log(`    wallet-app: ${pkgs.length} packages installed (the SDK, ws, and their dependencies)`);
  // A web wallet bundles the installed package for browsers: it must build with no Node built-in.
  const web = await build({
    stdin: { contents: "export { PayeeNode, MailboxClient, LevelKv } from '@ln-mailbox/client';", resolveDir: app, loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    minify: true,
    write: false,
    logLevel: 'silent',
    metafile: true,
  });
  // (The package's "browser" field leaves tiny-secp256k1 out: esbuild lists it as "(disabled):…".)
  const nodeOnly = Object.keys(web.metafile.inputs).filter(
    (f) => !f.startsWith('(disabled)') && (f.startsWith('node:') || /tiny-secp256k1|classic-level/.test(f)),
  );
  assert.equal(nodeOnly, [], 'the browser bundle of the installed SDK has nothing Node-only');
  console.log(`    browser bundle of the installed SDK: ${(web.outputFiles[0]!.contents.length / 1024).toFixed(0)} KiB minified`);

  const relay = await spawnRelay();
  const model = new ChainModel({ height: 800, minFeeRate: 1 });
  const esplora = await startEsploraServer(model);
  try {
    const { stdout } = await run(process.execPath, ['app.mjs'], {
      cwd: app,
      timeout: 120_000,
      env: { ...process.env, RELAY: relay.url, ESPLORA: esplora.url, DATA: path.join(app, 'data') },
    }).catch((e: { stdout?: string; stderr?: string; message: string }) => ({
      stdout: e.stdout || JSON.stringify({ ok: false, error: `${e.message}; stderr: ${e.stderr ?? ''}` }),
    }));
    const last = stdout.trim().split('\n').pop()!;
    const r = JSON.parse(last) as {
      ok: boolean;
      error?: string;
      opening?: string;
      payment?: string;
      payer?: { settled: number };
      payee?: { settled: number };
    };
    assert.ok(r.ok, `the app's payment: ${r.error ?? last}`);
    assert.is(r.payment, 'completed', 'the payer stored the payment completed');
    assert.ok(
      ['terms', 'requested', 'signing', 'signed', 'funded'].includes(r.opening!),
      `the open in progress was reported (${r.opening})`,
    );
    assert.ok(r.payee!.settled >= 40_000, 'the payee holds the 40,000 sats it was paid');
  } finally {
    await esplora.close();
    await relay.kill();
    fs.rmSync(relay.dir, { recursive: true, force: true });
  }
});

t('the relay package (the repository root): its source maps point to sources it ships, and its Markdown links resolve', async () => {
  const { stdout } = await npm(['pack', '--dry-run', '--json', '--ignore-scripts'], root);
  const [info] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { files: { path: string }[] }[];
  const list = new Set(info!.files.map((f) => f.path));
  for (const f of ['LICENSE', 'README.md', 'dist/bin/ln-mailbox.js', 'docs/operators.md'])
    assert.ok(list.has(f), `the relay package has ${f}`);
  const missing: string[] = [];
  for (const f of list) {
    if (!f.endsWith('.js.map')) continue;
    const map = JSON.parse(fs.readFileSync(path.join(root, f), 'utf8')) as { sources: string[] };
    for (const s of map.sources) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(f), s));
      if (!list.has(target)) missing.push(`${f} → ${s}`);
    }
  }
  assert.equal(missing.slice(0, 5), [], 'every source map names a file of the package');
  assert.equal(
    brokenLinks(list, (f) => fs.readFileSync(path.join(root, f), 'utf8')),
    [],
    'every relative Markdown link resolves',
  );
});

t.run();
