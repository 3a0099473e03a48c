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
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isBuiltin } from 'node:module';
import { fileURLToPath } from 'node:url';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { build } from 'esbuild';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex, utf8 } from '../../base/bytes.js';
import { getPublicKey } from '../../crypto/bip340.js';
import { encodeMailboxAddress } from '../../protocol/address.js';
import { SingleKeyWallet } from '../../client/chain/single-key-wallet.js';
import { EsploraChainSource } from '../../client/chain/esplora.js';
import { LevelKv } from '../../client/mailbox/kv.js';
import { RoleRuntime } from '../../client/wallet/runtime.js';
import type { HubJson } from '../../engine/payment/hub/hub.js';
import type { PayerJson } from '../../engine/payment/payer/payer.js';
import { Channel } from '../../engine/channel/channel.js';
import { fundingScript } from '../../engine/payment/open/common.js';
import { ChainModel } from '../../sim/chain-model.js';
import { startEsploraServer, type EsploraServer } from '../../sim/esplora-server.js';
import type { OpenCrash, OpenProcessConfig } from './fixtures/open-process.js';
import { spawnRelay, until, type RelayProc } from './world.js';

const t = suite('e2e/open');
const here = path.dirname(fileURLToPath(import.meta.url));
const WAIT_MS = 60_000;
const PARALLEL = Number(process.env.LNMB_KILL_PARALLEL ?? 2);
let relay: RelayProc;
let model: ChainModel;
let esplora: EsploraServer;
let miner: ReturnType<typeof setInterval>;
let fixture: string;

type Role = 'A' | 'S' | 'B';
const NAME: Record<Role, string> = { A: 'payer', S: 'hub', B: 'payee' };
const TERMS = {
  csvMin: 12,
  csvMax: 500,
  minCapacity: 100_000,
  maxCapacity: 5_000_000,
  maxHubFunded: 2_000_000,
  updateFee: 500,
  settlementFee: 500,
  ptlcFee: 300,
  minConf: 2,
  maxPendingOpens: 1,
  openTimeout: 3600,
};
const HUB = { fee: { base: 10, ppm: 1000 }, maxTimeoutDelta: 100, terms: TERMS };

interface Line {
  kind: string;
  type?: string;
  channelId?: string;
  message?: string;
  ready?: boolean;
}
interface Proc {
  lines: Line[];
  proc: ChildProcess;
  done: () => boolean;
  kill(signal: NodeJS.Signals): Promise<void>;
}

function spawnOpen(configPath: string, crashPath?: string): Proc {
  const proc = spawn(process.execPath, [fixture, configPath, ...(crashPath ? [crashPath] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Line[] = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, i)) as Line);
      buf = buf.slice(i + 1);
    }
  });
  let ended = false;
  const exited = new Promise<void>((resolve) =>
    proc.once('close', () => {
      ended = true;
      resolve();
    }),
  );
  return {
    lines,
    proc,
    done: () => ended,
    kill: async (signal) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

/** Keys, store and wallet of one role; its wallet is funded on chain when it will fund. */
function party(role: Role, tag: string) {
  const k = (what: string) => sha256(utf8(`ln-mailbox/test/e2e-open/${tag}/${role}/${what}/${bytesToHex(randomBytes(8))}`));
  const identityKey = k('id');
  const walletKey = k('wallet');
  const w = new SingleKeyWallet(walletKey, new EsploraChainSource(esplora.url));
  return {
    identityKey,
    idPub: getPublicKey(identityKey),
    channelKey: k('channel'),
    walletKey,
    walletScript: w.scriptPubKey,
    dir: fs.mkdtempSync(os.tmpdir() + `/lnmb-e2e-open-${role}-`),
    address: encodeMailboxAddress({ publicKey: getPublicKey(identityKey), relays: [relay.url] }),
  };
}
type Party = ReturnType<typeof party>;

function config(role: Role, me: Party, hub: Party, extra: Partial<OpenProcessConfig> = {}): OpenProcessConfig {
  const common = {
    role,
    relay: relay.url,
    esplora: esplora.url,
    identityKey: bytesToHex(me.identityKey),
    channelKey: bytesToHex(me.channelKey),
    walletKey: bytesToHex(me.walletKey),
    storeDir: me.dir,
  };
  if (role === 'S') return { ...common, hub: HUB, ...extra };
  return {
    ...common,
    wallet: {
      hubKey: bytesToHex(hub.idPub),
      hubAddress: hub.address,
      address: me.address,
      amount: role === 'A' ? 1_000_000 : 800_000,
      csvDelay: role === 'A' ? 288 : 24,
    },
    ...extra,
  };
}

function writeConfig(dir: string, name: string, c: object): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, JSON.stringify(c));
  return p;
}

async function readState<T>(dir: string): Promise<{ state: T; outbox: unknown[] }> {
  const kv = new LevelKv(dir);
  try {
    return { state: (await RoleRuntime.loadState(kv)) as T, outbox: await RoleRuntime.pendingOutbox(kv) };
  } finally {
    await kv.close();
  }
}

t.before(async () => {
  relay = await spawnRelay();
  model = new ChainModel({ height: 800, minFeeRate: 1 });
  esplora = await startEsploraServer(model);
  miner = setInterval(() => model.mine(1), 150);
  fixture = path.join(fs.mkdtempSync(os.tmpdir() + '/lnmb-e2e-open-fixture-'), 'open-process.mjs');
  await build({
    entryPoints: [path.join(here, 'fixtures', 'open-process.ts')],
    outfile: fixture,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
    plugins: [
      {
        name: 'packages-in-place',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (a) =>
            isBuiltin(a.path) ? { external: true } : { path: import.meta.resolve(a.path), external: true },
          );
        },
      },
    ],
  });
});
t.after(async () => {
  clearInterval(miner);
  await esplora.close();
  await relay.kill();
  fs.rmSync(relay.dir, { recursive: true, force: true });
  fs.rmSync(path.dirname(fixture), { recursive: true, force: true });
});

t(
  'three processes sharing no secret open their channels over the relay, fund them over Esplora, and an offline payment completes',
  async () => {
    const S = party('S', 'three'),
      A = party('A', 'three'),
      B = party('B', 'three');
    model.fundScript(S.walletScript, 5_000_000);
    model.fundScript(A.walletScript, 3_000_000);
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
      await until(() => a.lines.some((l) => l.kind === 'completed'), 'the payer’s payment to complete', WAIT_MS);
      await until(() => b.lines.some((l) => l.kind === 'paid'), 'the payee to be paid', WAIT_MS);
      assert.not.ok(
        [...a.lines, ...b.lines].some((l) => l.kind === 'sent' && l.type === 'TERMS_REQUEST'),
        'the wallets read the hub’s terms from its relay record',
      );
      for (const p of procs) await p.kill('SIGTERM');
      const hub = (await readState<HubJson>(S.dir)).state;
      const payer = (await readState<PayerJson>(A.dir)).state;
      assert.is(Object.keys(hub.peers).length, 2, 'the hub has two channels, opened while it ran');
      assert.equal(hub.opens ?? {}, {}, 'no open left');
      const ch = Channel.fromJSON(payer.channel!);
      const fee = 10 + Math.floor((40_000 * 1000) / 1e6);
      assert.is(ch.enforceable.state.balances[1], 40_000 + fee, 'the payer paid amount + the fee of the hub’s terms');
      assert.equal(model.utxosOf(fundingScript(ch.params)).length, 1, 'the funding output is on chain, once');
    } finally {
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
  model.fundScript(S.walletScript, 5_000_000);
  if (opener === 'A') model.fundScript(W.walletScript, 3_000_000);
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
    const ids = Object.keys(hub.state.peers);
    assert.is(ids.length, 1, `${what}: the hub has the channel`);
    assert.equal(hub.state.opens ?? {}, {}, `${what}: no open left at the hub`);
    assert.is(wallet.state.open, undefined, `${what}: no open left at the opener`);
    assert.is(wallet.state.channel!.params.channelId, ids[0], `${what}: the same channel`);
    const mine = Channel.fromJSON(wallet.state.channel!);
    const theirs = Channel.fromJSON(hub.state.peers[ids[0]!]!.channel);
    assert.equal(mine.enforceable.updateSigs, theirs.enforceable.updateSigs, `${what}: the same fully signed state 0`);
    assert.equal(mine.params.funding, theirs.params.funding, `${what}: the same funding outpoint`);
    assert.is(model.utxosOf(fundingScript(mine.params)).length, 1, `${what}: funded exactly once`);
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
