/**
 * A real, throw-away PostgreSQL server for the PostgreSQL store suites.
 *
 * The tests run as root and `initdb` refuses root, so the cluster lives in a
 * temp dir owned by the `postgres` system user and every server command runs
 * as that user (`runuser`). The server listens on 127.0.0.1 on a free port
 * with `fsync=on` (the durability the store relies on is the real one), and
 * is stopped with `pg_ctl stop -m fast` when the suite ends (or the process
 * exits). When the binaries or the user are missing, {@link pgUnavailable}
 * says why, and the suites print a loud SKIPPED line and register nothing.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/** Debian/Ubuntu keep each major version in /usr/lib/postgresql/<major>/bin; newest first, then PATH-like places. */
function binDirs(): string[] {
  let majors: string[] = [];
  try {
    majors = fs.readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  } catch {
    // not a Debian layout
  }
  return [...majors.map((m) => `/usr/lib/postgresql/${m}/bin`), '/usr/local/bin', '/usr/bin'];
}

function findBin(name: string): string | undefined {
  for (const d of binDirs()) {
    const p = path.join(d, name);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

function binDir(): string | undefined {
  const initdb = findBin('initdb');
  if (!initdb) return undefined;
  const dir = path.dirname(fs.realpathSync(initdb));
  return ['postgres', 'pg_ctl'].every((b) => fs.existsSync(path.join(dir, b))) ? dir : undefined;
}

/** Why a real PostgreSQL cannot be started here, or undefined when it can. */
export function pgUnavailable(): string | undefined {
  if (!binDir()) return 'initdb/postgres/pg_ctl binaries not found';
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
  } catch {
    return 'no `postgres` system user';
  }
  if (process.getuid?.() === 0) {
    try {
      execFileSync('runuser', ['--help'], { stdio: 'ignore' });
    } catch {
      return '`runuser` not available to drop root';
    }
  }
  return undefined;
}

/** A running test cluster. */
export interface PgServer {
  /** Connection URL of the `postgres` maintenance database. */
  readonly adminUrl: string;
  /** Creates an empty database and returns its connection URL. */
  createDatabase(name: string): Promise<string>;
  /**
   * Stops the server and starts it again on the same data and port, as a
   * database restart would: `immediate` is a crash (WAL recovery at start),
   * `fast` a clean shutdown. Resolves once it accepts connections again.
   */
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Stops the server (fast shutdown) and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Runs a command as the postgres user (directly when we already are not root). */
function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

async function waitReady(url: string, proc: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`postgres exited (${proc.exitCode}): ${log()}`);
    const c = new pg.Client({ connectionString: url });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      return;
    } catch {
      await c.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`postgres did not accept connections: ${log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** initdb + start a private cluster; resolves once it accepts connections. */
export async function startPostgres(): Promise<PgServer> {
  const bin = binDir();
  if (!bin) throw new Error('PostgreSQL binaries not found');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lnmb-pg-'));
  const data = path.join(dir, 'data');
  fs.mkdirSync(data);
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  const [initCmd, initArgs] = asPostgres(path.join(bin, 'initdb'), [
    '-D',
    data,
    '-A',
    'trust',
    '-U',
    'postgres',
    '-E',
    'UTF8',
    '--no-instructions',
  ]);
  execFileSync(initCmd, initArgs, { stdio: 'ignore' });
  const port = await freePort();
  const [cmd, args] = asPostgres(path.join(bin, 'postgres'), [
    '-D',
    data,
    '-k',
    dir,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'fsync=on',
    '-c',
    'max_connections=200',
  ]);
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-4000);
  };
  const launch = (): ChildProcess => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    return p;
  };
  let proc = launch();
  let stopped: Promise<void> | undefined;
  const stopSync = () => {
    // Last resort if the suite dies before stop(): never leave a server behind.
    // Signal the postmaster itself (runuser does not pass signals on): SIGQUIT = immediate shutdown.
    if (proc.exitCode !== null) return;
    try {
      const pid = Number(fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (Number.isSafeInteger(pid) && pid > 1) process.kill(pid, 'SIGQUIT');
    } catch {
      // not started yet, or already gone
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stopSync);
  const base = `postgresql://postgres@127.0.0.1:${port}`;
  const adminUrl = `${base}/postgres`;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      process.off('exit', stopSync);
      if (proc.exitCode === null) {
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        const [c, a] = asPostgres(path.join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'fast', '-W']);
        try {
          execFileSync(c, a, { stdio: 'ignore' });
        } catch {
          stopSync();
        }
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    })());
  try {
    await waitReady(adminUrl, proc, () => out);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    adminUrl,
    async restart(mode: 'fast' | 'immediate' = 'immediate'): Promise<void> {
      if (stopped) throw new Error('server stopped');
      const exited = new Promise<void>((r) => (proc.exitCode !== null ? r() : proc.once('exit', () => r())));
      const [c, a] = asPostgres(path.join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', mode, '-W']);
      try {
        execFileSync(c, a, { stdio: 'ignore' });
      } catch {
        // pg_ctl reports an immediate stop as unclean; the exit below is what counts
      }
      await exited;
      proc = launch();
      await waitReady(adminUrl, proc, () => out);
    },
    async createDatabase(name: string): Promise<string> {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return `${base}/${name}`;
    },
    stop,
  };
}
