/**
 * A relay on PostgreSQL under concurrent POST load while its database
 * connections are killed (`pg_terminate_backend`) and then the database
 * server itself crashes and restarts (`pg_ctl stop -m immediate`, WAL
 * recovery at start). Every envelope that got a 201 must be listed to its
 * owner afterwards with its seq and exact bytes; the relay must resume on its
 * own, and `/readyz` must report the outage and the recovery.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { pgUnavailable, startPostgres } from './pg-harness.js';
import { fakeEnvelope, newMailbox, postEnvelope, request, startTestRelay } from './relay-harness.js';
import { drain } from './relay-process.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const why = pgUnavailable();

async function until(fn: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

if (why) {
  console.log(`SKIPPED: relay on a restarting PostgreSQL (PostgreSQL not available: ${why})`);
} else {
  const t = suite('relay on PostgreSQL: connections killed and the database restarted mid-load');

  t('every 201 survives, the relay resumes by itself, /readyz follows', async () => {
    const server = await startPostgres();
    const url = await server.createDatabase('lnmb_restart');
    const relay = await startTestRelay({ store: 'postgres', databaseUrl: url, postBurst: 1_000_000, postRatePerSecond: 1_000_000 });
    const mailboxes = Array.from({ length: 4 }, () => newMailbox());
    const accepted = new Map<string, { mailbox: string; seq: number }>();
    const refusals = new Map<string, number>();
    const ready: { status: number; code?: string }[] = [];
    let stop = false;
    try {
      const worker = async (w: number) => {
        for (let i = 0; !stop; i++) {
          const mb = mailboxes[(w + i) % mailboxes.length]!;
          const e = fakeEnvelope(mb.id, 300 + ((w * 31 + i) % 700));
          const res = await postEnvelope(relay.url, mb.id, e);
          if (res.status === 201) accepted.set(sha(e), { mailbox: mb.id, seq: res.body.seq });
          else if (res.status === 503) {
            refusals.set(res.body.error.code, (refusals.get(res.body.error.code) ?? 0) + 1);
            await new Promise((r) => setTimeout(r, 10));
          } else throw new Error(`unexpected ${res.status} ${JSON.stringify(res.body)}`);
        }
      };
      const watcher = (async () => {
        while (!stop) {
          const r = await request(`${relay.url}/readyz`);
          ready.push(r.status === 200 ? { status: 200 } : { status: r.status, code: r.body.error.code });
          await new Promise((res) => setTimeout(res, 20));
        }
      })();
      const load = Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
      const flowing = async (more: number, what: string) => {
        const target = accepted.size + more;
        await until(() => accepted.size >= target, 30_000, what);
      };
      await flowing(100, 'load flowing');

      // 1. Every connection of the relay killed from the outside.
      const admin = new pg.Client({ connectionString: server.adminUrl });
      await admin.connect();
      const killed = await admin.query(
        `SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'lnmb_restart' AND pid <> pg_backend_pid()) k`,
      );
      await admin.end();
      assert.ok(killed.rows[0].n > 0, 'connections were killed');
      await flowing(100, 'accepting again after the connections were killed');

      // 2. The database crashes and restarts.
      const before = ready.length;
      await server.restart('immediate');
      await flowing(100, 'accepting again after the database restart');
      await until(async () => (await request(`${relay.url}/readyz`)).status === 200, 30_000, 'readyz 200');
      stop = true;
      await load;
      await watcher;
      const during = ready.slice(before);
      assert.ok(
        during.some((p) => p.status === 503 && p.code === 'STORE_UNAVAILABLE'),
        `readyz reported the outage (${during.length} probes, refusals ${JSON.stringify([...refusals])})`,
      );
      assert.is(ready.at(-1)?.status, 200, 'ready at the end');

      const seen = new Map<string, { mailbox: string; seq: number }>();
      for (const mb of mailboxes) {
        const got = await drain(relay.url, mb);
        for (const e of got) {
          assert.is(sha(e.bytes), e.id, 'exact bytes');
          seen.set(e.id, { mailbox: mb.id, seq: e.seq });
        }
        const seqs = got.map((e) => e.seq);
        assert.equal(
          seqs,
          [...new Set(seqs)].sort((a, b) => a - b),
          'seqs unique and ordered',
        );
      }
      let lost = 0;
      for (const [id, a] of accepted) {
        const s = seen.get(id);
        if (!s) lost++;
        else assert.equal(s, a, 'listed to its owner at the seq of its 201');
      }
      assert.is(lost, 0, `${lost} of ${accepted.size} envelopes that got a 201 are missing`);
      console.log(
        `  postgres restart: ${accepted.size} x 201, none lost; refusals ${JSON.stringify(Object.fromEntries(refusals))}; ` +
          `${during.filter((p) => p.status !== 200).length} of ${during.length} readyz probes not ready during the restart`,
      );
    } finally {
      stop = true;
      await relay.close();
      await server.stop();
    }
  });

  t.run();
}
