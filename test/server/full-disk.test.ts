/**
 * The real thing: a relay child process whose LevelDB data directory lives
 * on a 48 MiB tmpfs, filled for real (needs root to mount; without it this
 * file prints a loud SKIPPED line and the store-level fault suite still
 * covers every write path).
 *
 * Early fill, no reserve: the disk is mostly ballast, so LevelDB's first
 * ENOSPC is on its log append. Space is freed, posting goes on, SIGKILL,
 * restart: every 201, including those after the free, must be there (a store
 * that appends behind the failed record loses all of those).
 *
 * Phase 1, no reserve (`minFreeBytes` 0): many senders post until LevelDB's
 * writes fail with ENOSPC. The relay must refuse (503 STORE_UNAVAILABLE),
 * `/readyz` must say not-ready, and recovery (close, reopen, verify) keeps
 * failing while the disk is full. Then ballast is deleted: the relay must
 * accept again by itself within seconds, `/readyz` ready again.
 * Phase 2, with a reserve: posting stops with 503 STORE_FULL before the disk
 * is full, `/readyz` says STORE_FULL, acks (deletes) still work; freeing
 * space brings 201s back.
 * After each phase the relay is SIGKILLed and restarted: every envelope that
 * got a 201 must be listed to its owner with its seq and exact bytes.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fakeEnvelope, login, newMailbox, postEnvelope, request, type HttpAnswer, type MailboxKey } from './relay-harness.js';
import { drain, spawnRelay, type Child } from './relay-process.js';

const SIZE_MIB = 48;
/** FULLDISK_DEBUG=1 prints progress and the relay's logs (stderr). */
const DEBUG = process.env.FULLDISK_DEBUG === '1';
const debug = (...a: unknown[]): void => {
  if (DEBUG) console.error('[full-disk]', ...a);
};
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Mounts a fresh tmpfs, or says why it cannot. */
function mountTmpfs(): { dir: string } | { skip: string } {
  if (process.platform !== 'linux') return { skip: `not Linux (${process.platform})` };
  if (process.getuid?.() !== 0) return { skip: 'not running as root, cannot mount a tmpfs' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lnmb-fulldisk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZE_MIB}m`, 'tmpfs', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    return { dir };
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    const err = String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim();
    return { skip: `mount -t tmpfs failed: ${err.split('\n')[0]}` };
  }
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Writes `bytes` of ballast, or as much as fits. */
function ballast(file: string, bytes: number): number {
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  let written = 0;
  try {
    while (written < bytes) written += fs.writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - written));
  } catch {
    // ENOSPC: as much as fits
  } finally {
    fs.closeSync(fd);
  }
  return written;
}

interface Accepted {
  mailbox: string;
  seq: number;
}

/** What a readiness probe said, with the time. */
interface Probe {
  at: number;
  status: number;
  code?: string;
}

/** Polls /readyz in the background and keeps every answer. */
function watchReady(url: () => string): { probes: Probe[]; stop: () => Promise<void> } {
  const probes: Probe[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const r = await request(`${url()}/readyz`);
        probes.push({ at: Date.now(), status: r.status, ...(r.status !== 200 ? { code: r.body?.error?.code } : {}) });
      } catch {
        // the relay is restarting
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    probes,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

async function until<T>(fn: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Posts from `workers` senders round-robin over `mailboxes` until `stop()`
 * says so; records every 201 and counts the refusals by code.
 */
async function load(
  child: Child,
  mailboxes: MailboxKey[],
  accepted: Map<string, Accepted>,
  stop: (refused: Map<string, number>, created: number, posted: number) => boolean,
  workers = 16,
): Promise<{ refused: Map<string, number>; created: number; posted: number }> {
  const refused = new Map<string, number>();
  let created = 0;
  let posted = 0;
  let done = false;
  // Never hang: a phase that does not reach its stop condition in time ends, and its assertions say why.
  const deadline = Date.now() + 30_000;
  const worker = async (w: number) => {
    for (let i = 0; !done && Date.now() < deadline; i++) {
      const mb = mailboxes[(w + i) % mailboxes.length]!;
      const e = fakeEnvelope(mb.id, 2048 + ((w * 997 + i * 131) % 6000));
      posted++;
      const res: HttpAnswer = await postEnvelope(child.url, mb.id, e);
      if (res.status === 201) {
        accepted.set(sha(e), { mailbox: mb.id, seq: res.body.seq });
        created++;
      } else if (res.status === 503) {
        const code = res.body.error.code as string;
        refused.set(code, (refused.get(code) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 5));
      } else throw new Error(`unexpected answer ${res.status} ${JSON.stringify(res.body)}`);
      if (stop(refused, created, posted)) done = true;
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  return { refused, created, posted };
}

/** Every 201 is listed to its owner, at its seq, with its exact bytes; seqs are unique. */
async function checkAll(url: string, mailboxes: MailboxKey[], accepted: Map<string, Accepted>): Promise<number> {
  const seen = new Map<string, { seq: number; mailbox: string }>();
  for (const mb of mailboxes) {
    const got = await drain(url, mb);
    const seqs = got.map((e) => e.seq);
    assert.equal(
      seqs,
      [...new Set(seqs)].sort((a, b) => a - b),
      'seqs unique and ordered',
    );
    for (const e of got) {
      assert.is(sha(e.bytes), e.id, 'exact bytes');
      seen.set(e.id, { seq: e.seq, mailbox: mb.id });
    }
  }
  let lost = 0;
  for (const [id, a] of accepted) {
    const s = seen.get(id);
    if (!s) lost++;
    else {
      assert.is(s.mailbox, a.mailbox, 'listed to its owner');
      assert.is(s.seq, a.seq, 'at the seq its 201 said');
    }
  }
  assert.is(lost, 0, `${lost} of ${accepted.size} envelopes that got a 201 are missing`);
  return seen.size;
}

async function restart(child: Child, data: string, settings: object): Promise<Child> {
  child.proc.kill('SIGKILL');
  await child.exited;
  return spawnRelay(data, settings);
}

const mounted = mountTmpfs();
if ('skip' in mounted) {
  console.log(`SKIPPED: full-disk process test on a ${SIZE_MIB} MiB tmpfs (${mounted.skip}); the store-level fault suite still runs`);
} else {
  const t = suite('relay on a full disk (tmpfs)');
  const root = mounted.dir;
  const logs = DEBUG ? { logLevel: 'info' as const } : {};
  /** Empties the filesystem between tests. */
  const clean = () => {
    for (const f of fs.readdirSync(root)) fs.rmSync(path.join(root, f), { recursive: true, force: true });
  };

  t('an early fill: the log append fails, nothing is appended behind it, mail accepted after the free survives SIGKILL', async () => {
    // Mostly ballast: LevelDB's first ENOSPC is on its log, before any compaction. Appending on
    // behind that failed (possibly torn) record is what lost every envelope accepted after the free.
    const data = path.join(root, 'early');
    const ballast1 = path.join(root, 'ballast-early');
    ballast(ballast1, 45 * 1024 * 1024);
    const mailboxes = Array.from({ length: 8 }, () => newMailbox());
    const accepted = new Map<string, Accepted>();
    const settings = { minFreeBytes: 0, sweepIntervalMs: 3_600_000, ...logs };
    let child = await spawnRelay(data, settings);
    try {
      const p1 = await load(child, mailboxes, accepted, (refused) => (refused.get('STORE_UNAVAILABLE') ?? 0) >= 50);
      assert.ok(p1.created > 50, `accepted mail before the disk filled (${p1.created})`);
      const notReady = await request(`${child.url}/readyz`);
      assert.is(notReady.status, 503, 'not ready while the disk is full');
      fs.truncateSync(ballast1, 2 * 1024 * 1024);
      await until(
        async () => ((await request(`${child.url}/readyz`)).status === 200 ? true : undefined),
        30_000,
        'readyz 200 after freeing space',
      );
      const before = accepted.size;
      const p2 = await load(child, mailboxes, accepted, (_r, created) => created >= 90, 8);
      assert.ok(p2.created >= 90, `accepting again after the free (${p2.created} of ${p2.posted})`);
      child = await restart(child, data, settings);
      const n = await checkAll(child.url, mailboxes, accepted);
      console.log(
        `  early fill: ${before} x 201 before the disk filled, ${p2.created} x 201 after the free; ${n} listed after SIGKILL, none lost`,
      );
    } finally {
      child.proc.kill('SIGKILL');
      await child.exited;
      clean();
    }
  });

  t('fills, refuses, recovers by itself once space is back, and loses no 201 across SIGKILL', async () => {
    const data = path.join(root, 'data');
    const mailboxes = Array.from({ length: 8 }, () => newMailbox());
    const accepted = new Map<string, Accepted>();
    // The reserve must cover LevelDB's own writes between polls (compactions, the logs turned into
    // tables at reopen). On a disk this small all data sits in LevelDB's first two levels, and the
    // first compaction after a burst of acks merges all of the envelope log at once, writing its
    // output before it deletes its input: so the reserve must hold about as much as the data.
    const noReserve = { minFreeBytes: 0, sweepIntervalMs: 3_600_000, ...logs };
    const reserve = { minFreeBytes: 20 * 1024 * 1024, sweepIntervalMs: 3_600_000, ...logs };
    const ballast1 = path.join(root, 'ballast-1');
    const ballast2 = path.join(root, 'ballast-2');
    ballast(ballast1, 22 * 1024 * 1024);
    ballast(ballast2, 8 * 1024 * 1024);
    let child = await spawnRelay(data, noReserve);
    const ready = watchReady(() => child.url);
    try {
      // Phase 1: no reserve, the disk really fills.
      const t0 = Date.now();
      const p1 = await load(child, mailboxes, accepted, (refused) => (refused.get('STORE_UNAVAILABLE') ?? 0) >= 200);
      const fillMs = Date.now() - t0;
      debug('phase 1: disk full; 201s so far', accepted.size);
      assert.ok(p1.created > 100, `accepted mail before the disk filled (${p1.created})`);
      assert.not.ok(p1.refused.has('STORE_FULL'), 'no reserve in phase 1');
      // Not ready while refusing, and still refusing a while later (recovery cannot reopen on a full disk).
      await until(async () => ((await request(`${child.url}/readyz`)).status === 503 ? true : undefined), 10_000, 'readyz 503');
      await new Promise((r) => setTimeout(r, 1500));
      const stillFull = await request(`${child.url}/readyz`);
      assert.is(stillFull.status, 503, 'not ready while the disk is full');
      assert.is(stillFull.body.error.code, 'STORE_UNAVAILABLE');
      const probe = fakeEnvelope(mailboxes[0]!.id, 4096);
      const refusedPost = await postEnvelope(child.url, mailboxes[0]!.id, probe);
      assert.is(refusedPost.status, 503, 'POST refused while readyz says not ready');
      const metrics = (await request(`${child.url}/metrics`)).body as string;
      assert.match(metrics, /lnmb_store_state\{state="(failed|recovering)"\} 1/);
      assert.match(metrics, /lnmb_store_recoveries_total\{outcome="failed"\} [1-9]/);

      debug('phase 1: freeing space; 201s so far', accepted.size);
      // Free space: the relay must accept again by itself.
      const freedAt = Date.now();
      fs.rmSync(ballast1);
      await until(
        async () => ((await request(`${child.url}/readyz`)).status === 200 ? true : undefined),
        30_000,
        'readyz 200 after freeing space',
      );
      const readyAfterMs = Date.now() - freedAt;
      // A bounded number: without a reserve, posting on would fill the disk again. LevelDB may
      // still be compacting into the freed space, so (like a client) a refused post is retried.
      const p1b = await load(child, mailboxes, accepted, (_r, created) => created >= 40, 4);
      const why1 = await request(`${child.url}/readyz`);
      assert.ok(p1b.created >= 40, `accepting again after the free (${p1b.created} of ${p1b.posted}); readyz ${JSON.stringify(why1.body)}`);
      const recovered = (await request(`${child.url}/metrics`)).body as string;
      assert.match(recovered, /lnmb_store_recoveries_total\{outcome="ok"\} [1-9]/);

      debug('SIGKILL and restart; 201s so far', accepted.size);
      child = await restart(child, data, reserve);
      const n1 = await checkAll(child.url, mailboxes, accepted);

      debug('phase 2: posting up to the reserve; 201s so far', accepted.size);
      // Phase 2: with a reserve, the relay refuses new mail before the disk is full; acks still work.
      const p2 = await load(child, mailboxes, accepted, (refused) => (refused.get('STORE_FULL') ?? 0) >= 100);
      assert.not.ok(p2.refused.has('STORE_UNAVAILABLE'), `the reserve kept LevelDB from failing (${[...p2.refused]})`);
      const full = await until(
        async () => {
          const r = await request(`${child.url}/readyz`);
          return r.status === 503 ? r : undefined;
        },
        10_000,
        'readyz STORE_FULL',
      );
      assert.is(full.body.error.code, 'STORE_FULL');
      debug('phase 2: at the reserve, acking; 201s so far', accepted.size);
      const owner = mailboxes[1]!;
      const token = await login(child.url, owner);
      const mine = (await drain(child.url, owner)).slice(0, 20).map((e) => e.id);
      const ack = await request(`${child.url}/v1/mailboxes/${owner.id}/acks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ ids: mine }),
      });
      assert.is(ack.status, 200, `ack works below the reserve: ${JSON.stringify(ack.body)}`);
      assert.is(ack.body.acked, mine.length);
      for (const id of mine) accepted.delete(id);
      debug('phase 2: freeing space; 201s so far', accepted.size);
      fs.rmSync(ballast2);
      await until(
        async () => ((await request(`${child.url}/readyz`)).status === 200 ? true : undefined),
        30_000,
        'readyz 200 after the second free',
      );
      const p2b = await load(child, mailboxes, accepted, (_r, created) => created >= 40, 4);
      const why2 = await request(`${child.url}/readyz`);
      assert.ok(
        p2b.created >= 40,
        `accepting again after the second free (${p2b.created} of ${p2b.posted}); readyz ${JSON.stringify(why2.body)}`,
      );

      debug('SIGKILL and restart; 201s so far', accepted.size);
      child = await restart(child, data, reserve);
      const n2 = await checkAll(child.url, mailboxes, accepted);
      // Opening turns each database's live log into a table before deleting the log, and the first
      // compaction of the envelope log after the acks writes before it deletes, so free space dips
      // below the reserve for a while after a restart (seconds, longer on a loaded machine).
      await until(
        async () => ((await request(`${child.url}/readyz`)).status === 200 ? true : undefined),
        30_000,
        'readyz 200 after the last restart',
      );
      await ready.stop();
      // /readyz followed the state: not ready at some point in each phase, ready at the end.
      const codes = new Set(ready.probes.filter((p) => p.status !== 200).map((p) => p.code));
      assert.ok(codes.has('STORE_UNAVAILABLE') && codes.has('STORE_FULL'), `readyz reported both refusals: ${[...codes]}`);
      assert.is(ready.probes.at(-1)?.status, 200);
      console.log(
        `  full disk: phase 1 filled ${SIZE_MIB} MiB in ${fillMs} ms (${p1.created} x 201, ${p1.refused.get('STORE_UNAVAILABLE')} x 503), ` +
          `ready again ${readyAfterMs} ms after freeing space; ${n1} then ${n2} envelopes listed after SIGKILL, none lost; ` +
          `phase 2 refused ${p2.refused.get('STORE_FULL')} x STORE_FULL at the reserve`,
      );
    } finally {
      await ready.stop();
      child.proc.kill('SIGKILL');
      await child.exited;
      clean();
    }
  });

  t.after(() => unmount(root));
  t.run();
}
