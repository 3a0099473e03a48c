import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ecMs, profileGroups } from '../../bench/hub.js';

const t = suite('bench/hub');

t('ecMs prices each counted kind at libsecp256k1 cost, noble cost for kinds it lacks', () => {
  const counts = { 'all:mul_G': 10, 'all:mulAdd': 2, 'all:mulUnsafe_P': 1 };
  const native = { mul_G: 0.1, mul_P: 0.2, mulAdd: 0.3 };
  const noble = { mul_G: 1, mul_P: 2, mulAdd: 3, mulUnsafe_P: 5 };
  assert.ok(Math.abs(ecMs(counts, native, noble) - (10 * 0.1 + 2 * 0.3 + 5)) < 1e-9);
  assert.is(ecMs({}, native, noble), 0);
});

t('profileGroups sums self time by what it is spent on, native bindings with their caller', () => {
  const node = (id: number, functionName: string, url: string) => ({ id, callFrame: { functionName, url, lineNumber: 0 } });
  const profile = {
    nodes: [
      node(1, '(root)', ''),
      node(2, 'secp256k1_ecmult', 'wasm://wasm/abc'),
      node(3, 'put', 'file:///x/node_modules/classic-level/index.js'),
      node(4, 'chacha', 'file:///x/node_modules/@noble/ciphers/chacha.js'),
      node(5, 'sendFrame', 'file:///x/node_modules/ws/lib/sender.js'),
      node(6, '(garbage collector)', ''),
      { ...node(7, '_get', 'file:///x/node_modules/classic-level/index.js'), children: [8] },
      node(8, '', ''),
      node(9, '(idle)', ''),
    ],
    samples: [2, 2, 2, 3, 3, 4, 5, 6, 8, 9],
    timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lnmb-hub-prof-'));
  try {
    const file = path.join(dir, 'p.cpuprofile');
    fs.writeFileSync(file, JSON.stringify(profile));
    const p = profileGroups(file);
    assert.is(p.total, 10);
    assert.is(p.busy, 9);
    const g = Object.fromEntries(p.groups);
    assert.is(g['WASM secp (libsecp256k1)'], 3);
    // The nameless native frame (a binding) counts for its caller's group.
    assert.is(g.LevelDB, 3);
    assert.is(g['noble hashes/ciphers'], 1);
    assert.is(g.ws, 1);
    assert.is(g.GC, 1);
    assert.is(p.groups[0]![0], 'WASM secp (libsecp256k1)');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
