/**
 * client/ and protocol/ must run in a browser (wallets bundle them). Bundling the
 * package entry for the browser platform fails on any Node built-in (fs, net,
 * node:*), and the bundle must not pull in the relay or Node-only packages.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { build } from 'esbuild';

const t = suite('client/browser-bundle');

t('the client entry bundles for browsers with no Node built-ins and no server code', async () => {
  const r = await build({
    entryPoints: ['client/index.ts'],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  assert.is(r.errors.length, 0);
  const inputs = Object.keys(r.metafile.inputs);
  for (const banned of ['server/', 'node_modules/ws/', 'node_modules/express/', 'node_modules/pino/', 'node_modules/classic-level/'])
    assert.not.ok(
      inputs.some((i) => i.includes(banned)),
      `bundle includes ${banned}`,
    );
  assert.ok(
    inputs.some((i) => i.includes('browser-level')),
    'level resolves to its IndexedDB backend',
  );
  // libsecp256k1's WASM build is Node-only here (package.json "browser" field): the browser runs noble.
  assert.not.ok(
    inputs.some((i) => i.includes('tiny-secp256k1') && !i.startsWith('(disabled)')),
    'bundle includes tiny-secp256k1',
  );
  const code = new TextDecoder().decode(r.outputFiles[0]!.contents);
  assert.not.match(code, /from\s*["']node:/);
  assert.not.match(code, /require\(["'](fs|net|http|crypto|path)["']\)/);
});

t.run();
