/**
 * Test support for relays in a child process (`fixtures/relay-child.ts`):
 * start one on a data dir with extra settings, kill it, and drain a
 * mailbox over HTTP to see what survived.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { StartRelayOptions } from '../../server/relay.js';
import { list, login, type MailboxKey } from './relay-harness.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/relay-child.ts', import.meta.url));

/** A relay child process. */
export interface Child {
  proc: ChildProcess;
  url: string;
  exited: Promise<void>;
}

/** Starts a relay child on `dataDir` (plus JSON-serialisable settings) and resolves once it listens. */
export function spawnRelay(dataDir: string, settings: Partial<StartRelayOptions> = {}): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dataDir, JSON.stringify(settings)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ proc, url: JSON.parse(line).url, exited });
    });
    proc.once('exit', (code) => reject(new Error(`relay child exited early (${code})`)));
  });
}

/** One listed envelope. */
export interface Drained {
  id: string;
  seq: number;
  bytes: Buffer;
}

/** Lists every live envelope of a mailbox over HTTP, page by page. */
export async function drain(url: string, key: MailboxKey): Promise<Drained[]> {
  const token = await login(url, key);
  const out: Drained[] = [];
  let after = 0;
  for (;;) {
    const page = await list(url, key.id, token, `?after=${after}&limit=1000`);
    if (page.status !== 200) throw new Error(`list: ${page.status} ${JSON.stringify(page.body)}`);
    for (const e of page.body.envelopes) out.push({ id: e.id, seq: e.seq, bytes: Buffer.from(e.envelope, 'base64') });
    if (!page.body.more) return out;
    after = out.at(-1)!.seq;
  }
}
