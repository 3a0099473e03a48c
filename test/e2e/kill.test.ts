/**
 * The payee B in its own process, killed with SIGKILL mid-flow (no close, no
 * flush) and restarted on the same store: the payment still completes, and
 * B's at-most-once processing holds across the crash (runtime.ts: one atomic
 * write of state + outbox before the ack; the outbox re-posts the very same
 * sealed bytes). The hub must see one invoice and extend exactly one PTLC:
 * a second invoice after a crash would let S pay twice for one signature.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex } from '../../base/bytes.js';
import { PaymentType } from '../../protocol/payment.js';
import { LevelKv } from '../../client/mailbox/kv.js';
import { RoleRuntime } from '../../client/wallet/runtime.js';
import { inlined } from '../../engine/channel/channel.js';
import type { PayeeJson } from '../../engine/payment/payee/payee.js';
import type { PayeeProcessConfig } from './fixtures/payee-process.js';
import { makeE2E, spawnRelay, until, type E2E, type RelayProc } from './world.js';

const t = suite('e2e/kill');
const AMOUNT = 40_000;
const here = path.dirname(fileURLToPath(import.meta.url));
let relay: RelayProc;

t.before(async () => {
  relay = await spawnRelay();
});
t.after(async () => {
  await relay.kill();
  fs.rmSync(relay.dir, { recursive: true, force: true });
});

/** One run of the payee process and the event lines it printed. */
interface PayeeProc {
  lines: { kind: string; offerId?: string }[];
  proc: ChildProcess;
  exited: Promise<void>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

function spawnPayee(configPath: string): PayeeProc {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'fixtures', 'payee-process.ts'), configPath], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: PayeeProc['lines'] = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, i)) as PayeeProc['lines'][number]);
      buf = buf.slice(i + 1);
    }
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    lines,
    proc,
    exited,
    kill: async (signal) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

/** Writes the payee's config (keys, relay, store, its view of the S–B channel) and returns its path. */
function payeeConfig(w: E2E): string {
  const c: PayeeProcessConfig = {
    relay: relay.url,
    identityKey: bytesToHex(w.B.idSk),
    channelKey: bytesToHex(w.B.chSk),
    address: w.addr.B,
    hubKey: bytesToHex(w.S.idPk),
    hubAddress: w.addr.S,
    storeDir: w.B.dir,
    channel: w.payeeChannel.toJSON(),
    height: 800_000,
  };
  const p = path.join(fs.mkdtempSync(w.B.dir + '-cfg-'), 'payee.json');
  fs.writeFileSync(p, JSON.stringify(c));
  return p;
}

/**
 * A pays while B is offline; `crash` runs B's process and kills it somehow;
 * then B restarts on the same store and the payment must complete, once.
 */
async function crashScenario(crash: (configPath: string) => Promise<PayeeProc[]>): Promise<void> {
  const w = await makeE2E({ A: [relay.url], S: [relay.url], B: [relay.url] });
  const configPath = payeeConfig(w);
  const S = await w.open.S();
  const A = await w.open.A();
  const invoicesAtS = new Set<string>();
  S.on('received', (e) => {
    if (e.type === PaymentType.INVOICE) invoicesAtS.add(e.id);
  });
  let offerPosted = false;
  A.on('sent', (e) => {
    if (e.type === PaymentType.OFFER) offerPosted = true;
  });
  const offerId = await A.payOffline(w.addr.B, AMOUNT);
  await until(() => offerPosted, 'the offer to be posted to B');

  const runs = await crash(configPath);
  const last = spawnPayee(configPath);
  runs.push(last);
  try {
    await until(() => w.events.A.some((e) => e.kind === 'completed'), 'A to receive the completion');
    await until(() => w.events.S.some((e) => e.kind === 'paid'), 'S to settle with B');
  } finally {
    await last.kill('SIGTERM');
    await Promise.all([A.close(), S.close()]);
  }
  const printed = (kind: string) => runs.flatMap((r) => r.lines).filter((l) => l.kind === kind && l.offerId === offerId).length;

  // B's store, read by this process after B exited: the payment is paid, the channel moved once.
  const kv = new LevelKv(w.B.dir);
  const saved = (await RoleRuntime.loadState(kv)) as PayeeJson;
  await kv.close();
  assert.is(saved.payments[offerId]?.status, 'paid');
  assert.is(Object.keys(saved.payments).length, 1);
  assert.equal(inlined(saved.channel!).enforceable.state.balances, [700_000 - AMOUNT, 299_000 + AMOUNT]);
  assert.is(inlined(saved.channel!).enforceable.state.ptlcs.length, 0);

  // Once: one invoice envelope reached S, S extended exactly one PTLC and was paid once.
  assert.is(invoicesAtS.size, 1, 'S received one invoice envelope');
  assert.is(w.events.S.filter((e) => e.kind === 'ptlc_extended').length, 1, 'S extended exactly one PTLC');
  assert.is(w.events.S.filter((e) => e.kind === 'paid').length, 1);
  assert.ok(printed('invoiced') <= 1, `B invoiced ${printed('invoiced')} times`);
  assert.is(A.engine.payments.get(offerId)!.status, 'completed');
  const sb = S.engine.peers.get(bytesToHex(w.sbParams.channelId))!.channel.enforceable.state;
  assert.equal(sb.balances, inlined(saved.channel!).enforceable.state.balances, "S's and B's views of S–B agree");
  fs.rmSync(path.dirname(configPath), { recursive: true, force: true });
}

t('B is SIGKILLed right after it prints "invoiced", restarts on the same store: paid once', async () => {
  await crashScenario(async (configPath) => {
    const b = spawnPayee(configPath);
    await until(() => b.lines.some((l) => l.kind === 'invoiced'), 'B to invoice');
    await b.kill('SIGKILL');
    assert.is(b.proc.signalCode, 'SIGKILL');
    assert.is(b.lines.filter((l) => l.kind === 'invoiced').length, 1);
    return [b];
  });
});

t('B is SIGKILLed three times at random points 0-300 ms after it comes online, then finishes: paid once', async () => {
  const delays: number[] = [];
  await crashScenario(async (configPath) => {
    const runs: PayeeProc[] = [];
    for (let i = 0; i < 3; i++) {
      const b = spawnPayee(configPath);
      runs.push(b);
      await until(() => b.lines.some((l) => l.kind === 'started'), 'B to start');
      const delay = Math.floor(Math.random() * 300);
      delays.push(delay);
      await new Promise((r) => setTimeout(r, delay));
      await b.kill('SIGKILL');
    }
    return runs;
  }).catch((e: unknown) => {
    // The delays make a failure reproducible by hand.
    throw new Error(`${(e as Error).message} (kill delays ${delays.join(', ')} ms)`, { cause: e });
  });
});

t.run();
