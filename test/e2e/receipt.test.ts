/**
 * Proof of payment end to end, every party in a process of its own: the
 * relay, the hub S, the payee B and the payer A each run as a separate
 * process on their own LevelDB stores, and they meet only through the relay.
 * B publishes its receipt tickets as a relay record while online, A reads
 * them from the relay, pays and goes offline, B comes online and is paid, A
 * comes back and completes; then this process, a third party holding only
 * B's address and the bytes A stored, verifies the receipt.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex, hexToBytes } from '../../base/bytes.js';
import { decodeReceipt, verifyReceipt } from '../../protocol/receipt.js';
import { fetchRecord } from '../../client/mailbox/records.js';
import { LevelKv } from '../../client/mailbox/kv.js';
import { RoleRuntime } from '../../client/wallet/runtime.js';
import type { PayerJson } from '../../engine/payment/payer/payer.js';
import type { PayeeJson } from '../../engine/payment/payee/payee.js';
import type { RoleProcessConfig } from './fixtures/role-process.js';
import { HUB_FEE, makeE2E, spawnRelay, until, type E2E, type RelayProc } from './world.js';

const t = suite('e2e/receipt');
const AMOUNT = 42_000;
const WAIT_MS = 60_000;
const here = path.dirname(fileURLToPath(import.meta.url));
const h = bytesToHex;
let relay: RelayProc;

t.before(async () => {
  relay = await spawnRelay();
});
t.after(async () => {
  await relay.kill();
  fs.rmSync(relay.dir, { recursive: true, force: true });
});

interface Proc {
  lines: { kind: string; offerId?: string }[];
  proc: ChildProcess;
  stop(): Promise<void>;
}

function start(config: RoleProcessConfig, dir: string): Proc {
  const file = path.join(dir, `${config.role}-${Date.now()}.json`);
  fs.writeFileSync(file, JSON.stringify(config));
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'fixtures', 'role-process.ts'), file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Proc['lines'] = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, i)) as Proc['lines'][number]);
      buf = buf.slice(i + 1);
    }
  });
  const closed = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  return {
    lines,
    proc,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await closed;
    },
  };
}

function configs(w: E2E): Record<'A' | 'S' | 'B', RoleProcessConfig> {
  const common = { relay: relay.url, height: 800_000 };
  return {
    A: {
      ...common,
      role: 'A',
      identityKey: h(w.A.idSk),
      storeDir: w.A.dir,
      payer: {
        hubKey: h(w.S.idPk),
        hubAddress: w.addr.S,
        channelKey: h(w.A.chSk),
        channel: w.channels.A.toJSON(),
        hubFee: HUB_FEE,
        pay: { to: w.addr.B, amount: AMOUNT },
      },
    },
    S: {
      ...common,
      role: 'S',
      identityKey: h(w.S.idSk),
      storeDir: w.S.dir,
      hub: {
        channelKey: h(w.S.chSk),
        fee: HUB_FEE,
        safetyMargin: 6,
        maxTimeoutDelta: 100,
        peers: [
          { channel: w.channels.SA.toJSON(), peerKey: h(w.A.idPk), peerAddress: w.addr.A },
          { channel: w.channels.SB.toJSON(), peerKey: h(w.B.idPk), peerAddress: w.addr.B },
        ],
      },
    },
    B: {
      ...common,
      role: 'B',
      identityKey: h(w.B.idSk),
      storeDir: w.B.dir,
      payee: {
        address: w.addr.B,
        channelKey: h(w.B.chSk),
        hubKey: h(w.S.idPk),
        hubAddress: w.addr.S,
        timeoutDelta: 40,
        channel: w.channels.B.toJSON(),
      },
    },
  };
}

async function stored<T>(dir: string): Promise<T> {
  const kv = new LevelKv(dir);
  try {
    return (await RoleRuntime.loadState(kv)) as T;
  } finally {
    await kv.close();
  }
}

t('relay, hub, payee and payer in four processes: tickets over the relay record, a receipt a third party verifies', async () => {
  // makeE2E has B online once, in this process, to publish its tickets on the relay (its store
  // keeps them); from here on every role runs in its own process.
  const w = await makeE2E({ A: [relay.url], S: [relay.url], B: [relay.url] });
  const published = await fetchRecord(w.addr.B, 'receipt-tickets');
  assert.ok(published && bytesToHex(published) === bytesToHex(w.tickets), "B's batch is on the relay");
  const cfgDir = fs.mkdtempSync(os.tmpdir() + '/lnmb-e2e-receipt-');
  const c = configs(w);
  const procs: Proc[] = [];
  try {
    const S = start(c.S, cfgDir);
    procs.push(S);
    await until(() => S.lines.some((l) => l.kind === 'flushed'), 'the hub to start', WAIT_MS);
    const A = start(c.A, cfgDir);
    procs.push(A);
    await until(() => A.lines.some((l) => l.kind === 'offered'), 'the offer to be posted', WAIT_MS);
    await A.stop(); // A goes offline; B was never online since it published
    const B = start(c.B, cfgDir);
    procs.push(B);
    await until(() => B.lines.some((l) => l.kind === 'paid') && S.lines.some((l) => l.kind === 'paid'), 'B and S to settle', WAIT_MS);
    await B.stop();
    const A2 = start(c.A, cfgDir);
    procs.push(A2);
    await until(() => A2.lines.some((l) => l.kind === 'completed'), 'A to complete', WAIT_MS);
  } finally {
    for (const p of procs) await p.stop();
  }
  // The third party: only the bytes A stored and B's address.
  const payer = await stored<PayerJson>(w.A.dir);
  const [payment] = Object.values(payer.payments);
  assert.ok(payment?.status === 'completed' && payment.receipt, 'A stored a completed payment with its receipt');
  const receipt = hexToBytes(payment.receipt.receipt);
  assert.ok(verifyReceipt(receipt, w.addr.B), "the receipt verifies against B's address");
  const r = decodeReceipt(receipt);
  assert.is(r.amount, AMOUNT);
  assert.is(h(r.payer), h(w.A.idPk));
  assert.is(h(r.payee), h(w.B.idPk));
  assert.not.ok(verifyReceipt(receipt, w.addr.A), "nor against anyone else's");
  const tampered = receipt.slice();
  tampered[40]! ^= 1; // the amount
  assert.not.ok(verifyReceipt(tampered, w.addr.B));
  // B's ticket is burned: gone from what B would publish next.
  const payee = await stored<PayeeJson>(w.B.dir);
  assert.not.ok((payee.tickets ?? []).includes(payment.ticket!));
  assert.is(h(r.signature.subarray(0, 32)), payment.ticket);
});

t.run();
