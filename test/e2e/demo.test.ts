/**
 * `ln-mailbox demo` as a user runs it: a child process through the real CLI
 * entry point. The demo checks every balance itself and fails (exit 1) if
 * one is wrong, so this checks only that it runs to its final summary, with
 * a local relay and with `--relay`, and its errors. What the demo shows is
 * tested through the API: open.test.ts and strangers.test.ts (opens,
 * closes, enforcement), async-payment.test.ts (offer, cancellation,
 * request).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnRelay } from './world.js';

const t = suite('e2e/demo');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function runDemo(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bin', 'ln-mailbox.ts'), 'demo', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '',
    err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => proc.once('close', (code) => resolve({ code, out, err })));
}

/** The demo's final summary: printed only after every step ran and every balance check inside the demo passed. */
const SUMMARY = /Done in [\d.]+ s: opened, completed, cancelled, pre-signed, closed cooperatively, an old state beaten on chain/;

t('demo with its own relay: exit 0 and its final summary', async () => {
  const { code, out, err } = await runDemo([]);
  assert.is(code, 0, err + out);
  assert.is(err, '', 'nothing on stderr on success');
  assert.match(out, SUMMARY);
  // The receipt as a third party checks it, and the on-chain outcomes (the demo checks the amounts itself).
  assert.match(out, /verifyReceipt\(receipt, payee\) = true/);
  assert.match(out, /S\s+watchtower broadcasts update \d+ [0-9a-f]{16}…/);
  assert.match(out, /pays A\s+[\d,]+ sats to A's payout script \(A's old state said/);
});

t('demo --relay URL --amount: uses that relay and amount, exit 0 and its final summary', async () => {
  const relay = await spawnRelay();
  try {
    const { code, out, err } = await runDemo(['--relay', relay.url, '--amount', '12345']);
    assert.is(code, 0, err + out);
    assert.match(out, new RegExp(`relay\\s+${relay.url.replace(/[./]/g, '\\$&')}`));
    assert.match(out, /A pays B 12,345 sats/);
    assert.match(out, SUMMARY);
  } finally {
    await relay.kill();
    fs.rmSync(relay.dir, { recursive: true, force: true });
  }
});

t('demo with a bad flag: exit 2 and the usage, no stack trace', async () => {
  const { code, out, err } = await runDemo(['--amount', '5']);
  assert.is(code, 2);
  assert.is(out, '');
  assert.match(err, /--amount: expected whole sats in 1,000\.\.250,000, got 5/);
  assert.match(err, /usage: ln-mailbox demo/);
  assert.not.match(err, /\n\s+at /);
});

t('demo against an unreachable relay: exit 1 with the relay error, no stack trace', async () => {
  const relay = await spawnRelay();
  await relay.kill(); // its port is now closed
  fs.rmSync(relay.dir, { recursive: true, force: true });
  const { code, out, err } = await runDemo(['--relay', relay.url, '--timeout', '2']);
  assert.is(code, 1, out + err);
  assert.match(err, /ln-mailbox demo FAILED: RELAY_UNREACHABLE/);
  assert.not.match(err, /\n\s+at /);
});

t.run();
