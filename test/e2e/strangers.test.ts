/**
 * Channels between strangers, end to end: the payer A, the hub S and the
 * payee B each run in their own process (fixtures/open-process.ts) with
 * their own keys, LevelDB store, SingleKeyWallet and EsploraChainSource.
 * They share no secret: only the relay (a child process) and the chain
 * simulator this test serves over Esplora HTTP. In every world A opens and
 * funds A–S, B opens S–B (funded by S), both confirm, and A pays B while
 * the payment goes through the mailbox.
 */
import fs from 'node:fs';
import os from 'node:os';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startOpenWorld, writeConfig, type OpenWorld, type Party, type Proc } from './open-world.js';
import { until } from './world.js';

const t = suite('e2e/strangers');
const WAIT_MS = 60_000;
/** What A pays B, and the hub's fee for it under its terms (10 sats + 1000 ppm). */
const AMOUNT = 40_000;
const FEE = 10 + Math.floor((AMOUNT * 1000) / 1e6);
let w: OpenWorld;

t.before(async () => {
  w = await startOpenWorld();
});
t.after(async () => {
  await w.close();
});

/** Three strangers with their channels open and confirmed. */
interface Trio {
  A: Party;
  S: Party;
  B: Party;
  a: Proc;
  s: Proc;
  b: Proc;
  /** A–S and S–B channel ids (hex). */
  as: string;
  sb: string;
  cfgDir: string;
  dispose(): Promise<void>;
}

/** Starts S, then A and B, which open and fund their channels; mines until both are usable on all sides. */
async function trio(tag: string): Promise<Trio> {
  const S = w.party('S', tag),
    A = w.party('A', tag),
    B = w.party('B', tag);
  w.model.fundScript(S.walletScript, 5_000_000);
  w.model.fundScript(A.walletScript, 3_000_000);
  const cfgDir = fs.mkdtempSync(os.tmpdir() + '/lnmb-e2e-strangers-cfg-');
  const procs: Proc[] = [];
  const dispose = async () => {
    w.mining(0);
    for (const p of procs) await p.kill('SIGKILL');
    for (const d of [cfgDir, A.dir, S.dir, B.dir]) fs.rmSync(d, { recursive: true, force: true });
  };
  try {
    w.mining(100);
    const s = w.spawn(writeConfig(cfgDir, 'S.json', w.config('S', S, S)));
    procs.push(s);
    await until(() => s.lines.some((l) => l.kind === 'flushed'), 'the hub to start', WAIT_MS);
    const wallet = (role: 'A' | 'B', me: Party, csvDelay: number) => {
      const c = w.config(role, me, S);
      return w.spawn(writeConfig(cfgDir, `${role}.json`, { ...c, wallet: { ...c.wallet!, csvDelay } }));
    };
    const a = wallet('A', A, 144),
      b = wallet('B', B, 12);
    procs.push(a, b);
    const ready = (p: Proc) => p.lines.find((l) => l.kind === 'ready')?.channelId;
    await until(() => ready(a) !== undefined && ready(b) !== undefined, 'both wallets’ channels to be ready', WAIT_MS);
    await until(() => s.lines.filter((l) => l.kind === 'channel_ready').length === 2, 'the hub to count both channels ready', WAIT_MS);
    w.mining(0);
    return { A, S, B, a, s, b, as: ready(a)!, sb: ready(b)!, cfgDir, dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}

/** A pays B offline; waits until A holds its receipt and both channels are settled on both sides. */
async function pay(x: Trio): Promise<void> {
  const { offerId } = (await x.a.run({ cmd: 'pay', to: x.B.address, amount: AMOUNT })) as { offerId?: string };
  await until(() => x.a.lines.some((l) => l.kind === 'completed' && l.offerId === offerId), 'the payer’s payment to complete', WAIT_MS);
  await until(() => x.b.lines.some((l) => l.kind === 'paid' && l.offerId === offerId), 'the payee to be paid', WAIT_MS);
  await until(() => x.s.lines.some((l) => l.kind === 'paid' && l.offerId === offerId), 'the hub to settle with the payee', WAIT_MS);
}

/** The channels as a role process sees them now. */
async function channels(p: Proc): Promise<Record<string, { n: number; balances: [number, number]; ptlcs: number }>> {
  return (await p.run({ cmd: 'state' })).channels as Record<string, { n: number; balances: [number, number]; ptlcs: number }>;
}

t(
  'three processes sharing no secret open, fund and confirm their channels over the relay and Esplora; an offline payment completes',
  async () => {
    const x = await trio('pay');
    try {
      await pay(x);
      const [atA, atS, atB] = [await channels(x.a), await channels(x.s), await channels(x.b)];
      assert.equal(atA[x.as]!.balances, [1_000_000 - 1_000 - AMOUNT - FEE, AMOUNT + FEE], 'A–S moved amount + fee to the hub');
      assert.equal(atS[x.as]!.balances, atA[x.as]!.balances, 'the hub’s view of A–S agrees');
      assert.equal(atB[x.sb]!.balances, [800_000 - 1_000 - AMOUNT, AMOUNT], 'S–B moved the amount to the payee');
      assert.equal(atS[x.sb]!.balances, atB[x.sb]!.balances, 'the hub’s view of S–B agrees');
    } catch (e) {
      if (process.env.DEBUG_STRANGERS)
        for (const p of [x.a, x.s, x.b]) console.log(p.lines.map((l) => JSON.stringify(l)).join('\n'), '\n----');
      throw e;
    } finally {
      await x.dispose();
    }
  },
);

t.run();
