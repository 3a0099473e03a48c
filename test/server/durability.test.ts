/**
 * Durability: a relay in a child process under concurrent
 * POST load is killed with SIGKILL at a random moment, then restarted on the
 * same data dir. Every envelope that got a 201 must still be queued and
 * deliverable, with its exact bytes, and none may be delivered twice.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { ENVELOPE_MIN_LEN } from '../../protocol/envelope.js';
import { relayOrigin } from '../../protocol/relay.js';
import { TestSocket, fakeEnvelope, newMailbox, postEnvelope, statusOf } from './relay-harness.js';
import { drain, spawnRelay } from './relay-process.js';

const sha256hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const t = suite('relay durability');

for (const round of [1, 2]) {
  t(`kill -9 under concurrent POST load (round ${round}): every 201 survives, none twice`, async () => {
    const dir = fs.mkdtempSync(os.tmpdir() + '/lnmb-');
    const mailboxes = [newMailbox(), newMailbox(), newMailbox()];
    const acked = new Map<string, string>(); // id -> mailbox
    let child = await spawnRelay(dir);
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const mb = mailboxes[(w + i) % mailboxes.length]!;
        const e = fakeEnvelope(mb.id, ENVELOPE_MIN_LEN + ((w * 31 + i) % 500));
        try {
          const res = await postEnvelope(child.url, mb.id, e);
          if (res.status === 201) acked.set(sha256hex(e), mb.id);
          else if (res.status !== 503) throw new Error(`unexpected ${res.status} ${JSON.stringify(res.body)}`);
        } catch (err) {
          if ((err as Error).message.startsWith('unexpected')) throw err;
          return; // connection refused or reset: the relay is gone
        }
      }
    };
    const load = Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)));
    // A random moment once the load is flowing.
    const start = Date.now();
    while (acked.size < 50 && Date.now() - start < 10_000) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 300)));
    child.proc.kill('SIGKILL');
    stop = true;
    await load;
    await child.exited;
    assert.ok(acked.size >= 50, `load was flowing (${acked.size} acknowledged)`);

    child = await spawnRelay(dir);
    try {
      const seen = new Set<string>();
      for (const mb of mailboxes) {
        const got = await drain(child.url, mb);
        const seqs = got.map((e) => e.seq);
        assert.equal(
          seqs,
          [...new Set(seqs)].sort((a, b) => a - b),
          'seqs unique and ordered',
        );
        for (const e of got) {
          assert.is(sha256hex(e.bytes), e.id, 'exact bytes');
          assert.not.ok(seen.has(e.id), 'listed twice');
          seen.add(e.id);
        }
        // Pushed over WebSocket too, each once.
        const s = new TestSocket(child.url);
        await s.auth(mb, relayOrigin(child.url));
        s.send({ type: 'subscribe', after: 0 });
        await s.next('backlog_end', 10_000);
        const pushed = s.envelopes().map((f) => f.id);
        assert.equal(
          pushed,
          got.map((e) => e.id),
        );
        await s.close();
      }
      for (const [id] of acked) assert.ok(seen.has(id), `envelope ${id.slice(0, 8)} got a 201 but was lost`);
      const sample = [...acked.keys()].slice(0, 5);
      for (const id of sample) assert.is(await statusOf(child.url, id), 'delivered');
      // New posts continue the seqs.
      const mb = mailboxes[0]!;
      const res = await postEnvelope(child.url, mb.id, fakeEnvelope(mb.id));
      assert.is(res.status, 201);
    } finally {
      child.proc.kill('SIGTERM');
      await child.exited;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

t('kill -9: delivered marks made before a later 201 survive with it', async () => {
  const dir = fs.mkdtempSync(os.tmpdir() + '/lnmb-');
  const bob = newMailbox();
  const carol = newMailbox();
  let child = await spawnRelay(dir);
  try {
    const s = new TestSocket(child.url);
    await s.auth(bob, relayOrigin(child.url));
    s.send({ type: 'subscribe', after: 0 });
    await s.next('backlog_end');
    // Live pushes: their marks are written unsynced, batched per tick.
    const pushed: string[] = [];
    for (let i = 0; i < 20; i++) {
      const e = fakeEnvelope(bob.id);
      pushed.push(sha256hex(e));
      assert.is((await postEnvelope(child.url, bob.id, e)).status, 201);
    }
    await s.waitFor(() => s.envelopes().length >= pushed.length, 10_000);
    // A later POST's 201 is durable: every mark made before it must be too.
    assert.is((await postEnvelope(child.url, carol.id, fakeEnvelope(carol.id))).status, 201);
    child.proc.kill('SIGKILL');
    await child.exited;
    await s.close();
    child = await spawnRelay(dir);
    const statuses = await Promise.all(pushed.map((id) => statusOf(child.url, id)));
    assert.equal(
      statuses.filter((x) => x !== 'delivered'),
      [],
      'every mark made before the later 201 survived',
    );
  } finally {
    child.proc.kill('SIGTERM');
    await child.exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
