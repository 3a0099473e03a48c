/**
 * A tiny request/response channel over Node's child-process IPC, so each
 * bench part (relay, baseline servers, load generators) runs in its own
 * process while the coordinator asks it to seed, load, sweep or report its
 * resource use. Bench-only: nothing in the product uses it.
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Folder of the bench sources. */
export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

type Handler = (...args: never[]) => unknown;
interface Request {
  id: number;
  method: string;
  args: unknown[];
}
interface Reply {
  id: number;
  result?: unknown;
  error?: string;
}

/** Child side: answers the coordinator's calls with `handlers`. */
export function serve(handlers: Record<string, Handler>): void {
  process.on('message', (m: Request) => {
    const h = handlers[m.method];
    void (async () => {
      try {
        if (!h) throw new Error(`no such method ${m.method}`);
        const result = await (h as (...a: unknown[]) => unknown)(...m.args);
        process.send!({ id: m.id, result } satisfies Reply);
      } catch (e) {
        process.send!({ id: m.id, error: (e as Error)?.stack ?? String(e) } satisfies Reply);
      }
    })();
  });
  process.on('disconnect', () => process.exit(0));
  // A clean exit on SIGTERM, so `--cpu-prof` gets to write its profile.
  process.on('SIGTERM', () => process.exit(0));
}

/** Coordinator side: one child process. */
export interface Worker {
  readonly pid: number;
  readonly proc: ChildProcess;
  call<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
  /** Ends the child (SIGTERM, then SIGKILL after 3 s). */
  stop(): Promise<void>;
}

/** Forks `bench/<file>` under tsx with IPC. `execArgv` adds Node flags (e.g. `--cpu-prof`). */
export function spawnWorker(file: string, execArgv: string[] = []): Worker {
  const proc = fork(path.join(BENCH_DIR, file), [], {
    execArgv: ['--import', 'tsx', ...execArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let next = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  proc.on('message', (m: Reply) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.error !== undefined) p.reject(new Error(`${file}: ${m.error}`));
    else p.resolve(m.result);
  });
  proc.on('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`${file} exited (${code ?? signal})`));
    pending.clear();
  });
  return {
    pid: proc.pid!,
    proc,
    call<T>(method: string, ...args: unknown[]): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return reject(new Error(`${file} is not running`));
        const id = next++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        proc.send({ id, method, args } satisfies Request);
      });
    },
    stop() {
      return new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        proc.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        proc.kill('SIGTERM');
      });
    },
  };
}
