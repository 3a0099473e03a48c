/**
 * A world of strangers for end-to-end tests: the relay as a child process,
 * the chain simulator served over Esplora HTTP by the test process, and each
 * role (payer A, hub S, payee B) in its own process (fixtures/open-process.ts,
 * bundled once by esbuild) with its own keys, LevelDB store, SingleKeyWallet
 * and EsploraChainSource. The roles share no secret: only the relay, the
 * chain, and what each publishes (addresses, the hub's identity key).
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
import { bytesToHex, utf8 } from '../../base/bytes.js';
import { getPublicKey } from '../../crypto/bip340.js';
import { encodeMailboxAddress } from '../../protocol/address.js';
import { SingleKeyWallet } from '../../client/chain/single-key-wallet.js';
import { EsploraChainSource } from '../../client/chain/esplora.js';
import { LevelKv } from '../../client/mailbox/kv.js';
import { RoleRuntime } from '../../client/wallet/runtime.js';
import { ChainModel } from '../../sim/chain-model.js';
import { startEsploraServer, type EsploraServer } from '../../sim/esplora-server.js';
import type { OpenCommand, OpenProcessConfig } from './fixtures/open-process.js';
import { spawnRelay, until, type RelayProc } from './world.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** A role of the world. */
export type Role = 'A' | 'S' | 'B';
/** What each role is called in messages. */
export const NAME: Record<Role, string> = { A: 'payer', S: 'hub', B: 'payee' };

/** The hub's terms policy in these tests. */
export const TERMS = {
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
/** The hub's configuration (fee policy, timeout delta, terms) in these tests. */
export const HUB = { fee: { base: 10, ppm: 1000 }, maxTimeoutDelta: 100, terms: TERMS };

/** One JSON line a role process printed. */
export interface Line {
  kind: string;
  type?: string;
  channelId?: string;
  message?: string;
  ready?: boolean;
  [k: string]: unknown;
}

/** A running role process: the lines it printed, and how to command and stop it. */
export interface Proc {
  lines: Line[];
  proc: ChildProcess;
  done: () => boolean;
  /** Sends a command (fixtures/open-process.ts) on the process's stdin. */
  send(cmd: OpenCommand): void;
  /** Sends `cmd` and waits for its `{kind:'done', cmd}` (or `{kind:'failed', cmd}`) line; returns it. */
  run(cmd: OpenCommand, ms?: number): Promise<Line>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Keys, store, mailbox address and wallet script of one role. */
export interface Party {
  identityKey: Uint8Array;
  idPub: Uint8Array;
  channelKey: Uint8Array;
  walletKey: Uint8Array;
  walletScript: Uint8Array;
  dir: string;
  address: string;
}

/** The shared world: relay, chain, the bundled fixture; parties, configs and processes in it. */
export interface OpenWorld {
  relay: RelayProc;
  model: ChainModel;
  esplora: EsploraServer;
  party(role: Role, tag: string): Party;
  config(role: Role, me: Party, hub: Party, extra?: Partial<OpenProcessConfig>): OpenProcessConfig;
  spawn(configPath: string, crashPath?: string): Proc;
  /** Mines a block every `ms` (0 stops). */
  mining(ms: number): void;
  close(): Promise<void>;
}

/** Writes `c` as JSON to `dir/name`; returns the path. */
export function writeConfig(dir: string, name: string, c: object): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, JSON.stringify(c));
  return p;
}

/** The persisted engine state and pending outbox of a role's store (the role must be stopped). */
export async function readState<T>(dir: string): Promise<{ state: T; outbox: unknown[] }> {
  const kv = new LevelKv(dir);
  try {
    return { state: (await RoleRuntime.loadState(kv)) as T, outbox: await RoleRuntime.pendingOutbox(kv) };
  } finally {
    await kv.close();
  }
}

async function bundleFixture(): Promise<string> {
  const out = path.join(fs.mkdtempSync(os.tmpdir() + '/lnmb-e2e-open-fixture-'), 'open-process.mjs');
  await build({
    entryPoints: [path.join(here, 'fixtures', 'open-process.ts')],
    outfile: out,
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
  return out;
}

function spawnOpen(fixture: string, configPath: string, crashPath?: string): Proc {
  const proc = spawn(process.execPath, [fixture, configPath, ...(crashPath ? [crashPath] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: Line[] = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, i)) as Line);
      buf = buf.slice(i + 1);
    }
  });
  proc.stdin!.on('error', () => undefined); // a killed process closes its stdin
  let ended = false;
  const exited = new Promise<void>((resolve) =>
    proc.once('close', () => {
      ended = true;
      resolve();
    }),
  );
  let seq = 0;
  const send = (cmd: OpenCommand) => void proc.stdin!.write(JSON.stringify(cmd) + '\n');
  return {
    lines,
    proc,
    done: () => ended,
    send,
    run: async (cmd, ms = 30_000) => {
      const id = ++seq;
      send({ ...cmd, seq: id });
      let hit: Line | undefined;
      await until(
        () => (hit = lines.find((l) => (l.kind === 'done' || l.kind === 'failed') && l.seq === id)) !== undefined || ended,
        `command ${cmd.cmd} to finish`,
        ms,
      );
      if (!hit) throw new Error(`command ${cmd.cmd}: the process ended`);
      if (hit.kind === 'failed') throw new Error(`command ${cmd.cmd} failed: ${String(hit.message)}`);
      return hit;
    },
    kill: async (signal) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

/** Starts the relay (a child process), the chain simulator over Esplora HTTP, and bundles the role fixture. */
export async function startOpenWorld(o: { height?: number; minFeeRate?: number } = {}): Promise<OpenWorld> {
  const relay = await spawnRelay();
  const model = new ChainModel({ height: o.height ?? 800, minFeeRate: o.minFeeRate ?? 1 });
  const esplora = await startEsploraServer(model);
  const fixture = await bundleFixture();
  let miner: ReturnType<typeof setInterval> | undefined;
  const world: OpenWorld = {
    relay,
    model,
    esplora,
    party(role, tag) {
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
    },
    config(role, me, hub, extra = {}) {
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
    },
    spawn: (configPath, crashPath) => spawnOpen(fixture, configPath, crashPath),
    mining(ms) {
      if (miner) clearInterval(miner);
      miner = ms > 0 ? setInterval(() => model.mine(1), ms) : undefined;
    },
    async close() {
      if (miner) clearInterval(miner);
      await esplora.close();
      await relay.kill();
      fs.rmSync(relay.dir, { recursive: true, force: true });
      fs.rmSync(path.dirname(fixture), { recursive: true, force: true });
    },
  };
  return world;
}
