#!/usr/bin/env node
// Bundles the browser wallet page with esbuild: `node examples/browser-wallet/build.mjs [outdir]`
// writes index.html and main.js (minified, with a source map) to outdir (default
// examples/browser-wallet/dist). `--sizes` also prints the minified and gzipped
// sizes of the page bundle and of `MailboxClient` alone.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

/** esbuild options shared by every browser bundle of this repository. */
const common = {
  bundle: true,
  format: 'esm',
  platform: 'browser', // `level` resolves to browser-level (IndexedDB) through its "browser" field
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
};

/** Builds the page into `outdir`; resolves with the bundle's path. */
export async function buildWallet(outdir) {
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, 'main.js');
  await build({ ...common, entryPoints: [join(here, 'main.ts')], outfile, sourcemap: true });
  copyFileSync(join(here, 'index.html'), join(outdir, 'index.html'));
  return outfile;
}

/** Minified and gzipped sizes (bytes) of the wallet page and of `MailboxClient` alone. */
export async function bundleSizes() {
  const sizeOf = async (contents) => {
    const r = await build({
      ...common,
      stdin: { contents, resolveDir: root, loader: 'ts' },
      write: false,
    });
    const bytes = r.outputFiles[0].contents;
    return { minified: bytes.length, gzipped: gzipSync(bytes, { level: 9 }).length };
  };
  const page = readFileSync(join(here, 'main.ts'), 'utf8').replaceAll("'../../client/", "'./client/");
  return {
    wallet: await sizeOf(page),
    mailboxClient: await sizeOf(
      "import { MailboxClient } from './client/mailbox/mailbox-client.ts'; (globalThis as any).MailboxClient = MailboxClient;",
    ),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const outdir = resolve(args.find((a) => !a.startsWith('--')) ?? join(here, 'dist'));
  const out = await buildWallet(outdir);
  console.log(`built ${out}`);
  if (args.includes('--sizes')) {
    const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
    for (const [name, s] of Object.entries(await bundleSizes()))
      console.log(`${name}: ${kib(s.minified)} minified, ${kib(s.gzipped)} gzipped`);
  }
}
