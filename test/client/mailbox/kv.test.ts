import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LevelKv, MemoryKv, compareUtf8 } from '../../../client/mailbox/kv.js';
import { prng } from '../../helpers.js';
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

t('compareUtf8 is the order of the UTF-8 bytes, astral characters and shared surrogate halves included', () => {
  const rand = prng(7);
  const alphabet = ['a', 'z', '0', '/', '\u00e9', '\uffff', '\ue000', '\u{1F600}', '\u{1F601}', '\u{10FFFF}', '\u{10000}'];
  const word = () => Array.from({ length: Math.floor(rand() * 5) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
  const enc = new TextEncoder();
  const bytes = (a: string, b: string) => Buffer.compare(Buffer.from(enc.encode(a)), Buffer.from(enc.encode(b)));
  for (let i = 0; i < 5_000; i++) {
    const a = word();
    const b = rand() < 0.3 ? a + word() : word();
    assert.is(Math.sign(compareUtf8(a, b)), bytes(a, b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
  // UTF-16 order differs here: U+FFFF sorts before U+1F600 in UTF-8, after its high surrogate in UTF-16.
  assert.ok(compareUtf8('\uffff', '\u{1F600}') < 0);
  assert.ok(compareUtf8('\u{1F600}', '\u{1F601}') < 0);
});

t.after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

t.run();
