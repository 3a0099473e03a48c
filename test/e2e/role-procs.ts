/**
 * Role processes for the e2e tests that crash roles for real (kill-matrix,
 * soak): the role fixture bundled once with esbuild (a restart costs a plain
 * `node` start, not a tsx compile), spawning it, reading the JSON lines it
 * prints, and each role's config.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isBuiltin } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { bytesToHex } from '../../base/bytes.js';
import { PaymentType } from '../../protocol/payment.js';
import type { RoleProcessConfig } from './fixtures/role-process.js';
import { HUB_FEE, type E2E } from './world.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** A role of the three-role world. */
export type Role = 'A' | 'S' | 'B';

/** One JSON line a role process printed (see fixtures/role-process.ts), with the time it was read. */
export interface Line {
  t?: number;
  kind: string;
  type?: string;
  id?: string;
  offerId?: string;
  at?: string;
  payments?: number;
  statuses?: Record<string, string>;
  reason?: string;
  message?: string;
}

/** One run of a role process and the lines it printed. */
export interface RoleProc {
  lines: Line[];
  proc: ChildProcess;
  exited: Promise<void>;
  done: () => boolean;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** The name of payment message type `n`. */
export const typeName = (n: number): string => Object.entries(PaymentType).find(([, v]) => v === n)![0];

/** Spawns the bundled role fixture (see {@link buildRoleFixture}) on a config file, optionally with a crash spec. */
export function spawnRole(fixture: string, configPath: string, crashPath?: string): RoleProc {
  const proc = spawn(process.execPath, [fixture, configPath, ...(crashPath ? [crashPath] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Line[] = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push({ ...(JSON.parse(buf.slice(0, i)) as Line), t: Date.now() });
      buf = buf.slice(i + 1);
    }
  });
  let ended = false;
  // 'close', not 'exit': every line the process printed has been read by then.
  const exited = new Promise<void>((resolve) =>
    proc.once('close', () => {
      ended = true;
      resolve();
    }),
  );
  return {
    lines,
    proc,
    exited,
    done: () => ended,
    kill: async (signal) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

export const h = bytesToHex;

/** The config of role R's process (its keys, relay, store and state-0 channels); the payer pays `amount` to B. */
export function roleConfig(w: E2E, role: Role, relayUrl: string, amount: number): RoleProcessConfig {
  const common = { role, relay: relayUrl, height: 800_000 };
  if (role === 'A')
    return {
      ...common,
      identityKey: h(w.A.idSk),
      storeDir: w.A.dir,
      payer: {
        hubKey: h(w.S.idPk),
        hubAddress: w.addr.S,
        channelKey: h(w.A.chSk),
        channel: w.channels.A.toJSON(),
        hubFee: HUB_FEE,
        pay: { to: w.addr.B, amount },
      },
    };
  if (role === 'S')
    return {
      ...common,
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
    };
  return {
    ...common,
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
  };
}

/** Bundles fixtures/role-process.ts into a temp dir; returns the bundle's path (remove its directory when done). */
export async function buildRoleFixture(): Promise<string> {
  const fixture = path.join(fs.mkdtempSync(os.tmpdir() + '/lnmb-e2e-fixture-'), 'role-process.mjs');
  // Our sources are bundled; packages stay where they are installed (imported by absolute URL).
  await build({
    entryPoints: [path.join(here, 'fixtures', 'role-process.ts')],
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
  return fixture;
}
