/**
 * `node --import tsx bench/store-writes.ts [stored] [measured]`: the LevelDB
 * store alone (no HTTP), in this process. Appends `measured` 1 KiB envelopes
 * (default 100,000) to an empty store, fills it to `stored` envelopes
 * (default 400,000), appends `measured` more, and prints per envelope: the
 * bytes the process sent to the disk (`/proc/self/io`: logs, tables,
 * compaction output), its CPU (all threads) and the append rate, with the
 * full store's figures as ratios to the empty store's, measured in the same
 * run. This is what compaction costs as a store fills, without the HTTP
 * path and the load generator sharing the cores (docs/performance.md,
 * "Ingest with a million envelopes stored").
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelStore } from '../server/store/level/store.js';
import { writeBack } from './context.js';
import { diskWriteBytes } from './thread-cpu.js';

const stored = Number(process.argv[2] ?? 400_000);
const measured = Number(process.argv[3] ?? 100_000);
const QUOTA = { maxEnvelopes: 1e9, maxBytes: 1e15 };
const MAILBOXES = Array.from({ length: 1000 }, () => randomBytes(32).toString('hex'));

interface Figures {
  kibPerEnvelope: number;
  cpuMsPerEnvelope: number;
  perSecond: number;
}

let next = 0;
/** Appends `n` envelopes, 500 in flight (so that they share group-committed batches). */
async function fill(store: LevelStore, n: number): Promise<void> {
  const end = next + n;
  await Promise.all(
    Array.from({ length: 500 }, async () => {
      while (next < end) {
        const mailbox = MAILBOXES[next++ % MAILBOXES.length]!;
        const envelope = randomBytes(1024);
        const id = createHash('sha256').update(envelope).digest('hex');
        await store.append({ id, mailbox, envelope, expiresAt: Date.now() + 86_400_000 }, QUOTA);
      }
    }),
  );
}

/** Lets compaction finish and the page cache drain, so that neither is billed to the next figure. */
async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 5000));
  writeBack();
}

async function measure(store: LevelStore): Promise<Figures> {
  const w0 = diskWriteBytes() ?? Number.NaN;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fill(store, measured);
  const seconds = (performance.now() - t0) / 1000;
  // The writes a batch leaves behind (memtable flushes, compactions) belong to it too.
  await settle();
  const c = process.cpuUsage(c0);
  const w1 = diskWriteBytes() ?? Number.NaN;
  return {
    kibPerEnvelope: (w1 - w0) / 1024 / measured,
    cpuMsPerEnvelope: (c.user + c.system) / 1000 / measured,
    perSecond: measured / seconds,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'lnmb-store-writes-'));
try {
  const store = new LevelStore({ location: dir });
  await store.open();
  const empty = await measure(store);
  await fill(store, stored - measured);
  await settle();
  const full = await measure(store);
  await store.close();
  const row = (name: string, unit: string, f: (x: Figures) => number, digits: number) =>
    `| ${name} | ${f(empty).toFixed(digits)} ${unit} | ${f(full).toFixed(digits)} ${unit} | ${(f(full) / f(empty)).toFixed(2)}× |`;
  console.log(`| per appended 1 KiB envelope | empty store | ${stored.toLocaleString('en-US')} stored | ratio |`);
  console.log('| --- | ---: | ---: | ---: |');
  console.log(row('written to disk', 'KiB', (x) => x.kibPerEnvelope, 2));
  console.log(row('CPU, all threads (compaction included)', 'ms', (x) => x.cpuMsPerEnvelope, 3));
  console.log(row('append rate, 500 in flight', '/s', (x) => x.perSecond, 0));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
