/**
 * Two real relay instances over ONE PostgreSQL database (`store: 'postgres'`):
 * live push crosses instances through LISTEN/NOTIFY, the backlog is shared,
 * seqs stay gap-free and the quota holds when both take POSTs for one mailbox.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { envelopeIdHex } from '../../protocol/envelope.js';
import { ErrorCode } from '../../base/errors.js';
import { loadRelayConfig } from '../../server/cli.js';
import { resolveConfig } from '../../server/config.js';
import { throwsCode } from '../helpers.js';
import { pgUnavailable, startPostgres, type PgServer } from './pg-harness.js';
import {
  eventually,
  fakeEnvelope,
  list,
  login,
  newMailbox,
  postEnvelope,
  startTestRelay,
  statusOf,
  subscribed,
  type TestRelay,
} from './relay-harness.js';

const c = suite('relay config: store backend');

c('store and databaseUrl come from flags or environment, and are validated', () => {
  assert.is(resolveConfig().store, 'level');
  assert.is(resolveConfig().databaseUrl, undefined);
  const url = 'postgres://relay:secret@db.internal:5432/lnmb';
  const viaFlags = loadRelayConfig(['--store', 'postgres', '--database-url', url], {});
  assert.equal([viaFlags.store, viaFlags.databaseUrl], ['postgres', url]);
  const viaEnv = loadRelayConfig([], { LNMB_STORE: 'postgres', LNMB_DATABASE_URL: url.replace('postgres:', 'postgresql:') });
  assert.equal([viaEnv.store, viaEnv.databaseUrl], ['postgres', url.replace('postgres:', 'postgresql:')]);
  throwsCode(() => loadRelayConfig(['--store', 'mongo'], {}), ErrorCode.INVALID_TYPE);
  throwsCode(() => loadRelayConfig(['--store', 'postgres'], {}), ErrorCode.INVALID_RANGE, 'postgres needs a URL');
  throwsCode(() => loadRelayConfig(['--store', 'postgres', '--database-url', 'http://db/x'], {}), ErrorCode.INVALID_RANGE);
  try {
    loadRelayConfig(['--database-url', 'postgres://u:hunter2@[bad'], {});
    assert.unreachable('accepted a malformed URL');
  } catch (e) {
    assert.not.match(String((e as Error).message), 'hunter2', 'the password is not echoed');
  }
});

c.run();

const why = pgUnavailable();

if (why) {
  console.log(`SKIPPED: PostgreSQL not available (${why})`);
} else {
  const server: PgServer = await startPostgres();
  const databaseUrl = await server.createDatabase('lnmb_multi');
  const settings = {
    store: 'postgres' as const,
    databaseUrl,
    postBurst: 100_000,
    postRatePerSecond: 100_000,
    maxEnvelopesPerMailbox: 25,
  };

  const t = suite<{ r1: TestRelay; r2: TestRelay }>('relay: two instances on one PostgreSQL', {
    r1: undefined as unknown as TestRelay,
    r2: undefined as unknown as TestRelay,
  });
  t.before(async (ctx) => {
    ctx.r1 = await startTestRelay(settings);
    ctx.r2 = await startTestRelay(settings);
  });
  t.after(async (ctx) => {
    await ctx.r1?.close();
    await ctx.r2?.close();
    await server.stop();
  });

  t('a subscriber on relay 1 is pushed an envelope POSTed to relay 2', async ({ r1, r2 }) => {
    assert.is.not(r1.url, r2.url);
    const bob = newMailbox();
    const s = await subscribed(r1.url, bob);
    const e = fakeEnvelope(bob.id);
    const posted = await postEnvelope(r2.url, bob.id, e);
    assert.is(posted.status, 201);
    const f = await s.next('envelope');
    assert.equal([f.id, f.seq], [envelopeIdHex(e), 1]);
    assert.equal(Buffer.from(f.envelope, 'base64'), Buffer.from(e));
    // Status and delivery are shared too: relay 1 pushed it, relay 2 reports it.
    await eventually(async () => (await statusOf(r2.url, posted.body.id)) === 'delivered', 5000, 'delivered on relay 2');
    s.send({ type: 'ack', ids: [posted.body.id] });
    await s.next('acked');
    assert.is(await statusOf(r2.url, posted.body.id), 'acknowledged');
    await s.close();
  });

  t('the backlog posted to relay 2 is served by relay 1, over HTTP and WebSocket', async ({ r1, r2 }) => {
    const bob = newMailbox();
    const envs = Array.from({ length: 5 }, () => fakeEnvelope(bob.id));
    for (const e of envs) assert.is((await postEnvelope(r2.url, bob.id, e)).status, 201);
    const token = await login(r1.url, bob);
    const listed = await list(r1.url, bob.id, token);
    assert.is(listed.status, 200);
    assert.equal(
      listed.body.envelopes.map((x: { id: string }) => x.id),
      envs.map((e) => envelopeIdHex(e)),
    );
    const s = await subscribed(r1.url, bob);
    assert.equal(
      s.envelopes().map((f) => f.seq),
      [1, 2, 3, 4, 5],
    );
    await s.close();
  });

  t('concurrent POSTs to both relays: distinct gap-free seqs, pushed in order to subscribers on both', async ({ r1, r2 }) => {
    const bob = newMailbox();
    const on1 = await subscribed(r1.url, bob);
    const on2 = await subscribed(r2.url, bob);
    const n = 20;
    const answers = await Promise.all(
      Array.from({ length: n }, (_, i) => postEnvelope(i % 2 ? r1.url : r2.url, bob.id, fakeEnvelope(bob.id))),
    );
    assert.ok(answers.every((a) => a.status === 201));
    assert.equal(
      answers.map((a) => a.body.seq as number).sort((x, y) => x - y),
      Array.from({ length: n }, (_, i) => i + 1),
    );
    for (const s of [on1, on2]) {
      await s.waitFor(() => s.envelopes().length >= n, 5000);
      assert.equal(
        s.envelopes().map((f) => f.seq),
        Array.from({ length: n }, (_, i) => i + 1),
        'every seq once, in order',
      );
      await s.close();
    }
  });

  t('the per-mailbox quota holds across instances', async ({ r1, r2 }) => {
    const bob = newMailbox();
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => postEnvelope(i % 2 ? r1.url : r2.url, bob.id, fakeEnvelope(bob.id))),
    );
    assert.is(answers.filter((a) => a.status === 201).length, 25);
    const refused = answers.filter((a) => a.status !== 201);
    assert.is(refused.length, 35);
    for (const a of refused) assert.equal([a.status, a.body.error.code], [409, 'MAILBOX_FULL']);
    // The same envelope POSTed to both relays at once is stored once.
    const alice = newMailbox();
    const e = fakeEnvelope(alice.id);
    const both = await Promise.all([postEnvelope(r1.url, alice.id, e), postEnvelope(r2.url, alice.id, e)]);
    assert.equal(both.map((a) => a.status).sort(), [200, 201]);
    assert.is(both[0]!.body.seq, both[1]!.body.seq);
  });

  t.run();
}
