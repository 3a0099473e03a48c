/** WebSocket push: live delivery, several devices, the backlog/live race, cursors, heartbeat, slow consumers. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Socket } from 'node:net';
import { envelopeIdHex } from '../../protocol/envelope.js';
import { relayOrigin } from '../../protocol/relay.js';
import {
  TestSocket,
  eventually,
  fakeEnvelope,
  list,
  login,
  newMailbox,
  postEnvelope,
  request,
  statusOf,
  subscribed,
  startTestRelay,
  type TestRelay,
} from './relay-harness.js';

const t = suite<{ r: TestRelay }>('relay websocket', { r: undefined as unknown as TestRelay });
t.before.each(async (ctx) => {
  ctx.r = await startTestRelay({ postBurst: 100_000, postRatePerSecond: 100_000, heartbeatMs: 200 });
});
t.after.each(async (ctx) => {
  await ctx.r.close();
});

t('live push reaches every device of the mailbox, and nobody else', async ({ r }) => {
  const bob = newMailbox();
  const carol = newMailbox();
  const phone = await subscribed(r.url, bob);
  const laptop = await subscribed(r.url, bob);
  const other = await subscribed(r.url, carol);
  const e = fakeEnvelope(bob.id);
  const posted = await postEnvelope(r.url, bob.id, e);
  for (const dev of [phone, laptop]) {
    const f = await dev.next('envelope');
    assert.equal([f.id, f.seq], [posted.body.id, 1]);
    assert.equal(Buffer.from(f.envelope, 'base64'), Buffer.from(e));
  }
  await new Promise((res) => setTimeout(res, 50));
  assert.is(other.envelopes().length, 0);
  assert.is(r.relay.connections, 3);
  for (const s of [phone, laptop, other]) await s.close();
});

t('backlog then live under concurrent posts: every seq exactly once, in order', async ({ r }) => {
  const bob = newMailbox();
  const before = 300;
  const during = 200;
  for (let i = 0; i < before; i += 50)
    await Promise.all(Array.from({ length: 50 }, () => postEnvelope(r.url, bob.id, fakeEnvelope(bob.id))));
  const s = new TestSocket(r.url);
  await s.auth(bob, relayOrigin(r.url));
  const posting = Promise.all(Array.from({ length: during }, () => postEnvelope(r.url, bob.id, fakeEnvelope(bob.id))));
  s.send({ type: 'subscribe', after: 0 });
  await posting;
  await s.waitFor(() => s.envelopes().length >= before + during, 10_000);
  await new Promise((res) => setTimeout(res, 50));
  const seqs = s.envelopes().map((f) => f.seq);
  assert.equal(
    seqs,
    Array.from({ length: before + during }, (_, i) => i + 1),
  );
  const end = s.frames.findIndex((f) => f.type === 'backlog_end');
  assert.ok(end >= before, 'backlog_end after the pre-existing backlog');
  const endSeq = (s.frames[end] as { seq: number }).seq;
  assert.equal(
    s.frames
      .slice(0, end)
      .filter((f) => f.type === 'envelope')
      .map((f) => (f as { seq: number }).seq)
      .at(-1),
    endSeq,
  );
  await s.close();
});

t('delivered marks: every envelope pushed (three backlog pages, then live) is marked once, none lost in the batching', async ({ r }) => {
  const bob = newMailbox();
  const ids: string[] = [];
  const post = async () => {
    const e = fakeEnvelope(bob.id);
    ids.push(envelopeIdHex(e));
    assert.is((await postEnvelope(r.url, bob.id, e)).status, 201);
  };
  for (let i = 0; i < 600; i += 50) await Promise.all(Array.from({ length: 50 }, post));
  const s = await subscribed(r.url, bob);
  await Promise.all(Array.from({ length: 30 }, post));
  await s.waitFor(() => s.envelopes().length >= ids.length, 10_000);
  assert.equal(
    s
      .envelopes()
      .map((f) => f.id)
      .sort(),
    [...ids].sort(),
    'each pushed once',
  );
  await r.relay.close(); // graceful: the marks of the last tick are written too
  const again = await startTestRelay({ dataDir: r.dir });
  try {
    const statuses = await Promise.all(ids.map((id) => statusOf(again.url, id)));
    assert.equal(
      statuses.filter((x) => x !== 'delivered'),
      [],
    );
  } finally {
    await again.close();
  }
  await s.close();
});

t('delivered marks are counted once per envelope in /metrics', async ({ r }) => {
  const bob = newMailbox();
  const s = await subscribed(r.url, bob);
  for (let i = 0; i < 40; i += 10) await Promise.all(Array.from({ length: 10 }, () => postEnvelope(r.url, bob.id, fakeEnvelope(bob.id))));
  await s.waitFor(() => s.envelopes().length >= 40, 10_000);
  await eventually(
    async () => /lnmb_envelopes_delivered_total\{via="ws"\} 40\n/.test((await request(`${r.url}/metrics`)).body as string),
    5000,
    'delivered_total 40',
  );
  await s.close();
});

t('subscribe from a cursor; a cursor beyond the mailbox restarts from its top', async ({ r }) => {
  const bob = newMailbox();
  for (let i = 0; i < 5; i++) await postEnvelope(r.url, bob.id, fakeEnvelope(bob.id));
  const s = await subscribed(r.url, bob, 3);
  assert.equal(
    s.envelopes().map((f) => f.seq),
    [4, 5],
  );
  assert.equal((await s.next('backlog_end')).seq, 5);
  await s.close();
  const ahead = await subscribed(r.url, bob, 1_000_000);
  assert.equal(
    ahead.envelopes().map((f) => f.seq),
    [],
  );
  assert.equal((await ahead.next('backlog_end')).seq, 5);
  await postEnvelope(r.url, bob.id, fakeEnvelope(bob.id));
  assert.is((await ahead.next('envelope')).seq, 6, 'live mail still arrives');
  await ahead.close();
});

t('acks over the socket delete; unknown ids are not an error', async ({ r }) => {
  const bob = newMailbox();
  const e = fakeEnvelope(bob.id);
  await postEnvelope(r.url, bob.id, e);
  const s = await subscribed(r.url, bob);
  const id = envelopeIdHex(e);
  s.send({ type: 'ack', ids: [id, 'ee'.repeat(32)] });
  assert.equal((await s.next('acked')).ids, [id, 'ee'.repeat(32)]);
  assert.is(await statusOf(r.url, id), 'acknowledged');
  await s.close();
});

t('a second subscribe or auth on one connection is a protocol error', async ({ r }) => {
  const bob = newMailbox();
  const s = await subscribed(r.url, bob);
  s.send({ type: 'subscribe', after: 0 });
  assert.is((await s.next('error')).error.code, 'BAD_FRAME');
  assert.is((await s.closed).code, 1002);
});

t('heartbeat: a peer that never answers pings is dropped; a live one stays', async ({ r }) => {
  const bob = newMailbox();
  const dead = new TestSocket(r.url, { autoPong: false });
  const alive = new TestSocket(r.url);
  await dead.auth(bob, relayOrigin(r.url));
  await alive.auth(bob, relayOrigin(r.url));
  const closed = await dead.closed;
  assert.is(closed.code, 1006, 'terminated without a close frame');
  await new Promise((res) => setTimeout(res, 450));
  assert.is(alive.ws.readyState, alive.ws.OPEN);
  await alive.close();
});

t('slow consumer: disconnected with 4002 once over its outbound buffer; its mail stays', async () => {
  const r = await startTestRelay({ outboundBufferBytes: 65536, postBurst: 100_000, postRatePerSecond: 100_000 });
  try {
    const bob = newMailbox();
    const s = await subscribed(r.url, bob);
    const tcp = (s.ws as unknown as { _socket: Socket })._socket;
    tcp.pause(); // a client that stops reading
    const ids: string[] = [];
    const cut = async () => /lnmb_ws_closed_total\{code="4002"\} 1/.test((await request(`${r.url}/metrics`)).body);
    for (let i = 0; i < 2000 && !(await cut()); i++) {
      const batch = Array.from({ length: 10 }, () => fakeEnvelope(bob.id, 60_000));
      await Promise.all(batch.map((e) => postEnvelope(r.url, bob.id, e)));
      ids.push(...batch.map(envelopeIdHex));
    }
    assert.ok(await cut(), 'relay cut the slow consumer');
    tcp.resume();
    const closed = await s.closed;
    assert.is(closed.code, 4002);
    assert.is(s.frames.at(-1)?.type, 'error');
    assert.is((s.frames.at(-1) as { error: { code: string } }).error.code, 'SLOW_CONSUMER');
    const token = await login(r.url, bob);
    let listed = 0;
    let after = 0;
    for (;;) {
      const page = await list(r.url, bob.id, token, `?after=${after}&limit=1000`);
      listed += page.body.envelopes.length;
      if (!page.body.more) break;
      after = page.body.envelopes.at(-1).seq;
    }
    assert.is(listed, ids.length, 'all mail still queued');
    await eventually(() => r.relay.connections === 0, 5000, 'connection released');
  } finally {
    await r.close();
  }
});

t.run();
