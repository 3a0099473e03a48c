/**
 * Channel opens between strangers (SPEC 6.17), end to end: the payer, the
 * hub and the payee each run in their own process (fixtures/open-process.ts)
 * with their own keys, LevelDB store, SingleKeyWallet and EsploraChainSource;
 * they share no secret, only the relay (a child process) and the chain
 * simulator served over Esplora HTTP by this test, which mines a block every
 * 150 ms.
 *
 * 1. The payer opens and funds A–S, the payee opens S–B funded by the hub,
 *    over the relay, both reading the hub's terms from its relay record; both channels confirm; an offline payment completes
 *    over them.
 * 2. The kill matrix of an open: the opener or the hub SIGKILLed at each
 *    message it sends or receives, before each of its step writes, and just
 *    after its funding broadcast; restarted on its store, the open ends with
 *    a usable channel on both sides, funded exactly once (never stuck, never
 *    funded twice). LNMB_OPEN_KILL=0 skips it; LNMB_KILL_ROLES=S (or A, B)
 *    runs one role's share.
 */
import fs from 'node:fs';
import os from 'node:os';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { listedPeers, type HubJson } from '../../engine/payment/hub/hub.js';
import type { PayerJson } from '../../engine/payment/payer/payer.js';
import { Channel, inlined } from '../../engine/channel/channel.js';
import { fundingScript } from '../../engine/payment/open/common.js';
import type { OpenCrash } from './fixtures/open-process.js';
import { HUB, NAME, readState, startOpenWorld, writeConfig, type OpenWorld, type Proc, type Role } from './open-world.js';
import { until } from './world.js';

const t = suite('e2e/open');
const WAIT_MS = 60_000;
const PARALLEL = Number(process.env.LNMB_KILL_PARALLEL ?? 2);
let w: OpenWorld;
const party = (role: Role, tag: string) => w.party(role, tag);
const config: OpenWorld['config'] = (...a) => w.config(...a);
const spawnOpen = (configPath: string, crashPath?: string): Proc => w.spawn(configPath, crashPath);

t.before(async () => {
  w = await startOpenWorld();
  w.mining(150);
});
t.after(async () => {
  await w.close();
});

t(
  'three processes sharing no secret open their channels over the relay, fund them over Esplora, and an offline payment completes',
  async () => {
    const S = party('S', 'three'),
      A = party('A', 'three'),
      B = party('B', 'three');
    w.model.fundScript(S.walletScript, 5_000_000);
    w.model.fundScript(A.walletScript, 3_000_000);
    const cfgDir = fs.mkdtempSync(os.tmpdir() + '/lnmb-e2e-open-cfg-');
    const procs: Proc[] = [];
    try {
      const s = spawnOpen(writeConfig(cfgDir, 'S.json', config('S', S, S)));
      procs.push(s);
      await until(() => s.lines.some((l) => l.kind === 'flushed'), 'the hub to start', WAIT_MS);
      const b = spawnOpen(writeConfig(cfgDir, 'B.json', config('B', B, S)));
      const a = spawnOpen(writeConfig(cfgDir, 'A.json', config('A', A, S, { pay: { to: B.address, amount: 40_000 } })));
      procs.push(a, b);
      await until(() => a.lines.some((l) => l.kind === 'ready'), 'the payer’s channel to be ready', WAIT_MS);
      await until(() => b.lines.some((l) => l.kind === 'ready'), 'the payee’s channel to be ready', WAIT_MS);
      await until(() => s.lines.filter((l) => l.kind === 'channel_ready').length === 2, 'the hub to count both channels ready', WAIT_MS);
      // Blocks every 150 ms make a 40-block PTLC timeout last 6 s: on a loaded machine the payment
      // could outlive it and be refused. The channels are confirmed; the chain stands still now.
      w.mining(0);
      await until(() => a.lines.some((l) => l.kind === 'completed'), 'the payer’s payment to complete', WAIT_MS);
      await until(() => b.lines.some((l) => l.kind === 'paid'), 'the payee to be paid', WAIT_MS);
      assert.not.ok(
        [...a.lines, ...b.lines].some((l) => l.kind === 'sent' && l.type === 'TERMS_REQUEST'),
        'the wallets read the hub’s terms from its relay record',
      );
      for (const p of procs) await p.kill('SIGTERM');
      const hub = (await readState<HubJson>(S.dir)).state;
      const payer = (await readState<PayerJson>(A.dir)).state;
      assert.is(Object.keys(listedPeers(hub)).length, 2, 'the hub has two channels, opened while it ran');
      assert.equal(hub.opens ?? {}, {}, 'no open left');
      const ch = Channel.fromStored(payer.channel!);
      const fee = 10 + Math.floor((40_000 * 1000) / 1e6);
      assert.is(ch.enforceable.state.balances[1], 40_000 + fee, 'the payer paid amount + the fee of the hub’s terms');
      assert.equal(w.model.utxosOf(fundingScript(ch.params)).length, 1, 'the funding output is on chain, once');
    } catch (e) {
      // What each process said last: a timeout alone does not say which party stalled.
      for (const [name, p] of [
        ['hub', procs[0]],
        ['payer', procs[1]],
        ['payee', procs[2]],
      ] as const)
        if (p)
          console.error(
            `--- ${name}, last lines:\n${p.lines
              .slice(-40)
              .map((l) => JSON.stringify(l))
              .join('\n')}`,
          );
      throw e;
    } finally {
      w.mining(150);
      for (const p of procs) await p.kill('SIGKILL');
      for (const d of [cfgDir, A.dir, S.dir, B.dir]) fs.rmSync(d, { recursive: true, force: true });
    }
  },
);

/** One open (A–S funded by the payer, or S–B funded by the hub) with R killed at `crash`, then restarted. */
async function killScenario(pair: 'AS' | 'SB', R: Role, crash: OpenCrash): Promise<void> {
  const opener: Role = pair === 'AS' ? 'A' : 'B';
  const S = party('S', `kill-${pair}`),
    W = party(opener, `kill-${pair}`);
  w.model.fundScript(S.walletScript, 5_000_000);
  if (opener === 'A') w.model.fundScript(W.walletScript, 3_000_000);
  const cfgDir = fs.mkdtempSync(os.tmpdir() + '/lnmb-e2e-open-kill-');
  // The hub publishes no terms record here: the opener asks for them (TERMS_REQUEST), so those steps are killed too.
  const cfg = {
    S: writeConfig(cfgDir, 'S.json', config('S', S, S, { hub: { ...HUB, publishTerms: false } })),
    W: writeConfig(cfgDir, 'W.json', config(opener, W, S)),
  };
  const crashPath = writeConfig(cfgDir, 'crash.json', crash);
  const runs: Record<'S' | 'W', Proc[]> = { S: [], W: [] };
  const who = (r: Role): 'S' | 'W' => (r === 'S' ? 'S' : 'W');
  const lines = (k: 'S' | 'W') => runs[k].flatMap((r) => r.lines);
  const what = `${NAME[R]} killed at ${JSON.stringify(crash)} in the ${pair} open`;
  try {
    runs.S.push(spawnOpen(cfg.S, R === 'S' ? crashPath : undefined));
    await until(() => lines('S').some((l) => l.kind === 'flushed'), 'the hub to start', WAIT_MS);
    runs.W.push(spawnOpen(cfg.W, R !== 'S' ? crashPath : undefined));
    const victim = runs[who(R)][0]!;
    await until(victim.done, `${what}: to reach its crash point`, WAIT_MS);
    assert.ok(
      victim.lines.some((l) => l.kind === 'crash'),
      `${what}: crashed there`,
    );
    runs[who(R)].push(spawnOpen(who(R) === 'S' ? cfg.S : cfg.W));
    await until(
      () => lines('W').some((l) => l.kind === 'ready' || (l.kind === 'started' && l.ready)),
      `${what}: the opener’s channel ready`,
      WAIT_MS,
    );
    await until(() => lines('S').some((l) => l.kind === 'channel_ready'), `${what}: the hub’s channel ready`, WAIT_MS);
    assert.not.ok(
      lines('W').some((l) => l.kind === 'aborted' || l.kind === 'open_aborted'),
      `${what}: not aborted`,
    );
    for (const r of [...runs.S, ...runs.W]) await r.kill('SIGTERM');
    const hub = await readState<HubJson>(S.dir);
    const wallet = await readState<PayerJson>(W.dir);
    const ids = Object.keys(listedPeers(hub.state));
    assert.is(ids.length, 1, `${what}: the hub has the channel`);
    assert.equal(hub.state.opens ?? {}, {}, `${what}: no open left at the hub`);
    assert.is(wallet.state.open, undefined, `${what}: no open left at the opener`);
    assert.is(inlined(wallet.state.channel!).params.channelId, ids[0], `${what}: the same channel`);
    const mine = Channel.fromStored(wallet.state.channel!);
    const theirs = Channel.fromStored(listedPeers(hub.state)[ids[0]!]!.channel);
    assert.equal(mine.enforceable.updateSigs, theirs.enforceable.updateSigs, `${what}: the same fully signed state 0`);
    assert.equal(mine.params.funding, theirs.params.funding, `${what}: the same funding outpoint`);
    assert.is(w.model.utxosOf(fundingScript(mine.params)).length, 1, `${what}: funded exactly once`);
    assert.equal(hub.outbox, [], `${what}: the hub's outbox drained`);
    assert.equal(wallet.outbox, [], `${what}: the opener's outbox drained`);
  } finally {
    for (const r of [...runs.S, ...runs.W]) await r.kill('SIGKILL');
    for (const d of [cfgDir, S.dir, W.dir]) fs.rmSync(d, { recursive: true, force: true });
  }
}

const KILLS: [pair: 'AS' | 'SB', R: Role, crash: OpenCrash][] = [
  ...(
    [
      ['sent', 'TERMS_REQUEST'],
      ['received', 'TERMS'],
      ['sent', 'OPEN'],
      ['received', 'OPEN_ACCEPT'],
      ['sent', 'OPEN_SIGN'],
      ['received', 'OPEN_SIGNED'],
      ['sent', 'FUNDING'],
    ] as const
  ).map(([at, type]) => ['AS', 'A', { at, type }] as ['AS', Role, OpenCrash]),
  ['AS', 'A', { at: 'broadcast', nth: 1 }],
  ...[1, 2, 3, 4, 5, 6].map((nth) => ['AS', 'A', { at: 'step', nth }] as ['AS', Role, OpenCrash]),
  ...(
    [
      ['received', 'TERMS_REQUEST'],
      ['sent', 'TERMS'],
      ['received', 'OPEN'],
      ['sent', 'OPEN_ACCEPT'],
      ['received', 'OPEN_SIGN'],
      ['sent', 'OPEN_SIGNED'],
      ['received', 'FUNDING'],
    ] as const
  ).map(([at, type]) => ['AS', 'S', { at, type }] as ['AS', Role, OpenCrash]),
  ...[1, 2, 3, 4].map((nth) => ['AS', 'S', { at: 'step', nth }] as ['AS', Role, OpenCrash]),
  ...(
    [
      ['received', 'OPEN_SIGN'],
      ['sent', 'OPEN_SIGNED'],
      ['sent', 'FUNDING'],
    ] as const
  ).map(([at, type]) => ['SB', 'S', { at, type }] as ['SB', Role, OpenCrash]),
  ['SB', 'S', { at: 'broadcast', nth: 1 }],
  ...(
    [
      ['sent', 'OPEN'],
      ['received', 'OPEN_ACCEPT'],
      ['received', 'OPEN_SIGNED'],
      ['received', 'FUNDING'],
    ] as const
  ).map(([at, type]) => ['SB', 'B', { at, type }] as ['SB', Role, OpenCrash]),
];

if (process.env.LNMB_OPEN_KILL !== '0')
  t('every party SIGKILLed at every step of an open, restarted on its store: a usable channel on both sides, funded once', async () => {
    const failures: string[] = [];
    const roles = process.env.LNMB_KILL_ROLES ?? 'ASB';
    const cases = KILLS.filter(([, R]) => roles.includes(R));
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const [pair, R, crash] = cases[next++]!;
        try {
          await killScenario(pair, R, crash);
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    if (failures.length) assert.unreachable(`${failures.length}/${cases.length} open crash scenarios failed:\n${failures.join('\n')}`);
  });

t.run();
