/**
 * `ln-mailbox demo` as a user runs it: a child process through the real CLI
 * entry point. Checks the exit code and the lines that prove each step
 * happened (the offer pushed to B, the completion, the retraction, the
 * routed payment with S seeing only P and a point per hop, the payee-pre-signed
 * payment, the balances after each), with a local relay and with `--relay`
 * pointing at a relay process, and the usage error for a bad flag.
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
    cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '', err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => proc.once('close', (code) => resolve({ code, out, err })));
}

/** The lines every successful run prints, in this order. */
function assertStory(out: string, amount: string, fee: string): void {
  const expected = [
    /A–S\s+state 0\s+A's view: A 600,000\s+S 399,000\s+S's view: A 600,000\s+S 399,000/,
    new RegExp(`A pays B ${amount} sats \\(hub fee ${fee}\\)`),
    /A → S\s+UPDATE_PROPOSE\s+env [0-9a-f]{8}/,
    /A → B\s+OFFER\s+env [0-9a-f]{8}.*waits in B's mailbox/,
    /A\s+goes offline/,
    /B ← A\s+OFFER\s+env [0-9a-f]{8}\s+pushed on connect/,
    /B → S\s+INVOICE/,
    /S → B\s+PTLC_ADD/,
    /B → S\s+PTLC_FULFILL/,
    /S can now enforce A–S state 1/,
    /A ← S\s+COMPLETION\s+env [0-9a-f]{8}\s+pushed on connect/,
    /A\s+completed: receipt/,
    /5\. Balances after/,
    /consistent: both views of each channel agree; each holds 999,000 = capacity/,
    /status of offer env [0-9a-f]{8}: queued/,
    /A → S\s+CANCEL_PROPOSE/,
    /status of offer env [0-9a-f]{8}: retracted/,
    /B\s+finds nothing to pay/,
    // 7. The privacy hop: S deals only with P; each hop's PTLC has its own point.
    /7\. Privacy hop: B₂ is offline\. A pays B₂ 40,000 sats through S and the router P \(hub fee 50\)/,
    /A → B₂\s+OFFER\s+env [0-9a-f]{8}.*waits in B₂'s mailbox/,
    /B₂ ← A\s+OFFER\s+env [0-9a-f]{8}\s+pushed on connect/,
    /P → S\s+INVOICE\s+env [0-9a-f]{8}\s+\(signed by P, B₂'s receipt for A passed through\)/,
    /A\s+receipt: invoice for 40,000 sats signed by B₂/,
    /S\s+saw only A and P: the INVOICE came from P, signed by P, for S–P; nothing S stored names B₂/,
    /P\s+never saw A/,
    /A–S\s+T\s+[0-9a-f]{16}…/,
    /S–P\s+PTLC to\s+[0-9a-f]{16}…\s+= T \+ r₁·G, the same in S's and P's views/,
    /P–B₂\s+PTLC to\s+[0-9a-f]{16}…\s+= T \+ r₂·G, the same in P's and B₂'s views/,
    /three different points/,
    /A -40,050\s+S \+50 \(fee\)\s+P ±0\s+B₂ \+40,000/,
    /consistent: both views of each channel agree; each holds 999,000 = capacity/,
    // 8. Mode 2: B pre-signs, A pays while B is offline, B completes its state on return.
    /8\. Mode 2: A is offline\. B pre-signs a request for 20,000 sats, goes offline, and A pays it \(hub fee 30\)/,
    /B → A\s+REQUEST\s+env [0-9a-f]{8}.*waits in A's mailbox/,
    /B\s+goes offline/,
    /A ← B\s+REQUEST\s+env [0-9a-f]{8}\s+pushed on connect/,
    /A\s+pays it: a PTLC of 20,030 sats to S/,
    /S\s+A's PTLC enforceable; signs S–B update \d+ and reveals s_S \+ r/,
    /A\s+learns s_S: keeps B's complete update/,
    /A\s+holds S–B update \d+ with B's and S's signatures, both verified/,
    /B\s+comes back online/,
    /B ← S\s+REQUEST_COMPLETE\s+env [0-9a-f]{8}\s+pushed on connect/,
    /B\s+paid 20,000 sats: S's signature completes S–B state \d+/,
    /A -20,030\s+S \+30 \(fee\)\s+B \+20,000/,
    /consistent: both views of each channel agree; each holds 999,000 = capacity/,
    /Done in [\d.]+ s: completed, cancelled, routed, pre-signed/,
  ];
  let from = 0;
  for (const re of expected) {
    const m = re.exec(out.slice(from));
    assert.ok(m, `missing (in order): ${re}\n--- output ---\n${out}`);
    from += m.index + m[0].length;
  }
}

t('demo with its own relay: exit 0, every step printed, balances after consistent', async () => {
  const { code, out, err } = await runDemo([]);
  assert.is(code, 0, err + out);
  assert.is(err, '', 'nothing on stderr on success');
  assertStory(out, '50,000', '60');
  // The balances after: A paid amount + fee, B received amount, both views agree.
  assert.match(out, /A–S\s+state 1\s+A's view: A 549,940\s+S 449,060\s+S's view: A 549,940\s+S 449,060/);
  assert.match(out, /S–B\s+state 2\s+S's view: S 650,000\s+B 349,000\s+B's view: S 650,000\s+B 349,000/);
  assert.match(out, /A -50,060\s+S \+60 \(fee\)\s+B \+50,000/);
  // After the routed payment (7) and the pre-signed one (8).
  assert.match(out, /A–S\s+state 4\s+A's view: A 509,890\s+S 489,110\s+S's view: A 509,890\s+S 489,110/);
  assert.match(out, /S–P\s+state 2\s+S's view: S 660,000\s+P 339,000\s+P's view: S 660,000\s+P 339,000/);
  assert.match(out, /P–B₂\s+state 2\s+P's view: P 760,000\s+B₂ 239,000\s+B₂'s view: P 760,000\s+B₂ 239,000/);
  assert.match(out, /A–S\s+state 6\s+A's view: A 489,860\s+S 509,140\s+S's view: A 489,860\s+S 509,140/);
  assert.match(out, /S–B\s+state 3\s+S's view: S 630,000\s+B 369,000\s+B's view: S 630,000\s+B 369,000/);
});

t('demo --relay URL --amount: uses that relay and amount', async () => {
  const relay = await spawnRelay();
  try {
    const { code, out, err } = await runDemo(['--relay', relay.url, '--amount', '12345']);
    assert.is(code, 0, err + out);
    assert.match(out, new RegExp(`relay\\s+${relay.url.replace(/[./]/g, '\\$&')}`));
    assertStory(out, '12,345', '22');
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
