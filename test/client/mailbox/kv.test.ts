import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LevelKv, MemoryKv } from '../../../client/mailbox/kv.js';
import { kvConformance } from './kv-conformance.js';

const dirs: string[] = [];
kvConformance('MemoryKv', () => new MemoryKv());
kvConformance('LevelKv', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lnmb-'));
  dirs.push(dir);
  return new LevelKv(dir);
});

const t = suite('client/kv LevelKv persistence');

t('LevelKv keeps data across close and reopen', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lnmb-'));
  dirs.push(dir);
  const a = new LevelKv(dir);
  await a.batch([
    { type: 'put', key: 'c/1', value: new Uint8Array([1]) },
    { type: 'put', key: 'c/2', value: new Uint8Array([2]) },
  ]);
  await a.close();
  const b = new LevelKv(dir);
  const seen: string[] = [];
  for await (const [k] of b.entries('c/')) seen.push(k);
  assert.equal(seen, ['c/1', 'c/2']);
  await b.close();
});

t.after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

t.run();
