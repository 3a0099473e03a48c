/**
 * The floors of the house (docs/design.md, "The floors"), checked on every
 * run: arrows only point down, there is no import cycle, the pure floors use
 * no I/O package, the browser floors use nothing Node-only, and crypto/ is
 * the one door to BIP340.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findCycles, floorOf, floorViolations, readGraph, sourceFiles, type Floor, type ImportGraph } from './graph.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

const NOBLE = ['@noble/', '@scure/'];
const PURE = ['base', 'crypto', 'protocol', 'engine/bitcoin', 'engine/channel', 'engine/payment'];

/** The house. A floor may import itself and the floors it lists; nothing else. */
const FLOORS: Floor[] = [
  { name: 'base', paths: ['base/'], mayImport: [], packages: NOBLE },
  { name: 'crypto', paths: ['crypto/'], mayImport: ['base'], packages: [...NOBLE, 'tiny-secp256k1'] },
  { name: 'protocol', paths: ['protocol/'], mayImport: ['base', 'crypto'], packages: NOBLE },
  { name: 'engine/bitcoin', paths: ['engine/bitcoin/'], mayImport: ['base', 'crypto'], packages: NOBLE },
  { name: 'engine/channel', paths: ['engine/channel/'], mayImport: ['base', 'crypto', 'protocol', 'engine/bitcoin'], packages: NOBLE },
  {
    name: 'engine/payment',
    paths: ['engine/payment/'],
    mayImport: ['base', 'crypto', 'protocol', 'engine/bitcoin', 'engine/channel'],
    packages: NOBLE,
  },
  // The mailbox transport runs in browsers: no Node built-ins, `level` is IndexedDB there.
  {
    name: 'client/mailbox',
    paths: ['client/mailbox/'],
    mayImport: ['base', 'crypto', 'protocol'],
    packages: [...NOBLE, 'level', 'events'],
  },
  // The chain source and the funding wallet run in browsers too: `fetch`, no Node built-ins.
  { name: 'client/chain', paths: ['client/chain/'], mayImport: ['base', 'crypto', 'protocol', 'engine/bitcoin'], packages: NOBLE },
  {
    name: 'client/wallet',
    paths: ['client/wallet/'],
    mayImport: [...PURE, 'client/mailbox', 'client/chain'],
    packages: [...NOBLE, 'level', 'events'],
  },
  { name: 'client', paths: ['client/index.ts'], mayImport: [...PURE, 'client/mailbox', 'client/chain', 'client/wallet'], packages: NOBLE },
  // The relay never sees a payment: it imports the wire contract only.
  {
    name: 'server',
    paths: ['server/'],
    mayImport: ['base', 'crypto', 'protocol'],
    packages: [...NOBLE, 'node:', 'express', 'ws', 'level', 'pg', 'pino', 'prom-client'],
  },
  // The chain simulator (tests and the demo): the consensus checks over the pure transaction layer, served over node:http.
  { name: 'sim', paths: ['sim/'], mayImport: ['base', 'crypto', 'engine/bitcoin'], packages: [...NOBLE, 'node:'] },
  {
    name: 'bin',
    paths: ['bin/'],
    mayImport: [...PURE, 'client/mailbox', 'client/chain', 'client/wallet', 'client', 'server', 'sim'],
    packages: [...NOBLE, 'node:', 'ws'],
  },
];

const graph = readGraph(root, sourceFiles(root, ['base', 'crypto', 'protocol', 'engine', 'client', 'server', 'sim', 'bin']));

const house = suite('architecture: the import graph');

house('reads a real graph (every floor has files and imports)', () => {
  assert.ok(graph.size > 80, `only ${graph.size} files`);
  for (const f of FLOORS) {
    const files = [...graph.keys()].filter((p) => floorOf(FLOORS, p) === f);
    assert.ok(files.length > 0, `floor ${f.name} has no file`);
  }
  assert.ok((graph.get('engine/payment/ptlc-exchange.ts')?.local.length ?? 0) > 3);
});

house('no import cycle', () => {
  assert.equal(findCycles(graph), []);
});

house('no upward or sideways import, and each floor uses only its packages', () => {
  assert.equal(floorViolations(FLOORS, graph), []);
});

house('crypto/ is the one door to secp256k1: no other file imports @noble/curves, but the envelope ECDH', () => {
  // protocol/seal.ts does ECDH on secp256k1 (SPEC 3.2), not BIP340, and is checked against Wycheproof's ECDH vectors.
  const allowed = new Set(['protocol/seal.ts']);
  const doors = [...graph]
    .filter(([file, imp]) => !file.startsWith('crypto/') && !allowed.has(file) && imp.packages.some((p) => p.startsWith('@noble/curves')))
    .map(([file]) => file);
  assert.equal(doors, []);
  // And the envelope takes nothing of BIP340 from noble.
  const seal = graph.get('protocol/seal.ts');
  assert.ok(seal, 'protocol/seal.ts is in the graph');
  assert.not.ok((seal.names['@noble/curves/secp256k1.js'] ?? []).includes('schnorr'));
});

house('the wallet SDK package declares exactly the packages its floors import', () => {
  // packages/client builds base/ … client/ only: what they import must be its dependencies, and nothing more.
  const floors = ['base/', 'crypto/', 'protocol/', 'engine/', 'client/'];
  const name = (spec: string) =>
    spec
      .split('/')
      .slice(0, spec.startsWith('@') ? 2 : 1)
      .join('/');
  const imported = new Set(
    [...graph]
      .filter(([file]) => floors.some((f) => file.startsWith(f)))
      .flatMap(([, imp]) => imp.packages.filter((p) => !p.startsWith('node:')).map(name)),
  );
  const pkg = JSON.parse(readFileSync(join(root, 'packages/client/package.json'), 'utf8')) as { dependencies: Record<string, string> };
  // `events`: abstract-level (under `level`) requires Node's `events` without declaring it, and browser
  // bundlers do not polyfill it; the package carries it so that a wallet's browser bundle builds.
  assert.equal(Object.keys(pkg.dependencies).sort(), [...imported, 'events'].sort());
});

house.run();

// The checks themselves must be able to fail.
const self = suite('architecture: the checks catch what they should');

const fake = (edges: Record<string, string[]>, packages: Record<string, string[]> = {}): ImportGraph =>
  new Map(Object.entries(edges).map(([f, local]) => [f, { local, packages: packages[f] ?? [], names: {} }]));

self('finds a two-file cycle and a self-import, and no cycle in a chain', () => {
  assert.equal(findCycles(fake({ 'a.ts': ['b.ts'], 'b.ts': ['a.ts'], 'c.ts': ['a.ts'] })), [['a.ts', 'b.ts']]);
  assert.equal(findCycles(fake({ 'a.ts': ['a.ts'] })), [['a.ts']]);
  assert.equal(findCycles(fake({ 'a.ts': ['b.ts'], 'b.ts': ['c.ts'], 'c.ts': [] })), []);
  assert.equal(findCycles(fake({ 'a.ts': ['b.ts'], 'b.ts': ['c.ts'], 'c.ts': ['a.ts'] })), [['a.ts', 'b.ts', 'c.ts']]);
});

self('flags an upward import, a sideways import and a forbidden package', () => {
  const g = fake(
    {
      'base/bytes.ts': ['protocol/relay.ts'],
      'server/http.ts': ['engine/payment/hub.ts'],
      'client/mailbox/kv.ts': ['client/wallet/runtime.ts'],
      'protocol/relay.ts': [],
      'engine/payment/hub.ts': [],
      'client/wallet/runtime.ts': [],
    },
    { 'engine/payment/hub.ts': ['node:fs'], 'client/mailbox/kv.ts': ['ws'] },
  );
  const v = floorViolations(FLOORS, g);
  assert.equal(v.length, 5, v.join('\n'));
  assert.ok(v.some((s) => s.startsWith('base/bytes.ts (base) -> protocol/relay.ts')));
  assert.ok(v.some((s) => s.startsWith('server/http.ts (server) -> engine/payment/hub.ts')));
  assert.ok(v.some((s) => s.includes("package 'node:fs'")));
  assert.ok(v.some((s) => s.includes("package 'ws'")));
});

self('a file on no floor is reported', () => {
  assert.equal(floorViolations(FLOORS, fake({ 'lib/x.ts': [] })), ['lib/x.ts: on no floor']);
});

self.run();
