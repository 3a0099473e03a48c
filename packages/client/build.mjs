#!/usr/bin/env node
// Builds the wallet SDK package from the repository's sources: compiles base/,
// crypto/, protocol/, engine/ and client/ (never server/, sim/ or bin/) into
// dist/ with declarations and no source maps (the TypeScript sources do not
// ship, so maps would point nowhere), then copies what the README links to:
// the docs, the SPEC and the LICENSE. Runs on `npm run build -w @ln-mailbox/client`.
//
// `--pack` (prepack) also points the README's links at the copies: in the
// repository they read `../../docs/…`, in the package `docs/…`. The
// repository's README is kept as README.md.orig and put back by
// `--restore` (postpack).
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const readme = join(here, 'README.md');
const kept = join(here, 'README.md.orig');
if (process.argv.includes('--restore')) {
  if (existsSync(kept)) renameSync(kept, readme);
  process.exit(0);
}
for (const d of ['dist', 'docs', 'protocol', 'LICENSE']) rmSync(join(here, d), { recursive: true, force: true });
const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.json')], { stdio: 'inherit' });
cpSync(join(root, 'docs'), join(here, 'docs'), { recursive: true });
mkdirSync(join(here, 'protocol'), { recursive: true });
cpSync(join(root, 'protocol', 'SPEC.md'), join(here, 'protocol', 'SPEC.md'));
cpSync(join(root, 'protocol', 'spec'), join(here, 'protocol', 'spec'), { recursive: true });
cpSync(join(root, 'LICENSE'), join(here, 'LICENSE'));
if (process.argv.includes('--pack')) {
  if (!existsSync(kept)) copyFileSync(readme, kept);
  writeFileSync(readme, readFileSync(kept, 'utf8').replaceAll('](../../docs/', '](docs/').replaceAll('](../../protocol/', '](protocol/'));
}
