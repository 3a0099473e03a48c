/**
 * MailboxClient against the real relay (loopback, ephemeral ports, LevelDB in
 * temp dirs): push, backlog, ack-after-handler, multi-relay de-dup, relay
 * restart, de-dup across client restarts, auth failure and relay error codes.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { bytesToHex } from '@noble/hashes/utils.js';
import { LevelKv, MailboxClient, MemoryKv, type MailboxMessage, type Subscription } from '../../../client/index.js';
import { ErrorCode, LnMailboxError, decodeMailboxAddress, envelopeIdHex, open } from '../../../protocol/index.js';
import { recordingKv, rejectsCode } from '../../helpers.js';
import { TestRelay, closedPort, newKey, sealed, tempDir, waitFor } from './relay-fixture.js';

const fast = { minMs: 20, maxMs: 200 };
const cleanups: (() => Promise<unknown>)[] = [];
const later = <T extends { stop?: () => Promise<void>; close?: () => Promise<void>; destroy?: () => Promise<void> }>(x: T): T => {
  cleanups.push(async () => (x.destroy ? x.destroy() : x.close ? x.close() : x.stop?.()));
  return x;
};

async function relay(overrides = {}): Promise<TestRelay> {
  return later(await new TestRelay(overrides).start());
}

/** Subscribes and resolves once every relay sent backlog_end. */
async function subscribed(
  client: MailboxClient,
  handler: (m: MailboxMessage) => Promise<void> | void,
  relays?: string[],
): Promise<Subscription> {
  const sub = later(client.subscribe(handler, relays ? { relays } : {}));
  const pending = new Set(sub.relays);
  sub.on('backlog_end', (r) => pending.delete(r));
  await waitFor(() => pending.size === 0, 'backlog_end from every relay');
  return sub;
}

const t = suite('client/mailbox-client with a real relay');

t.after(async () => {
  // Bounded: a test that failed half-way must not hang the run in its cleanup.
  const bounded = (p: Promise<unknown>) => Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, 5_000).unref())]);
  for (const c of cleanups.reverse()) await bounded(c());
});

t('online subscriber is pushed a post live; the ack makes it acknowledged', async () => {
  const r = await relay();
  const bob = newKey();
  const alice = new MailboxClient({ secretKey: newKey().sk, relays: [r.url], WebSocket });
  const client = new MailboxClient({ secretKey: bob.sk, relays: [r.url], WebSocket, reconnect: fast });
  const got: MailboxMessage[] = [];
  await subscribed(client, (m) => void got.push(m));
  const env = sealed(bob.pk, 'hello live');
  const res = await alice.post({ publicKey: bob.pk, relays: [r.url] }, env);
  assert.is(res.id, envelopeIdHex(env));
  assert.equal(
    res.results.map((x) => [x.relay, x.ok, x.ok && x.created]),
    [[r.url, true, true]],
  );
  await waitFor(() => got.length === 1, 'live push');
  assert.is(got[0]!.id, res.id);
  assert.is(got[0]!.relay, r.url);
  assert.equal(got[0]!.envelope, env);
  assert.is(new TextDecoder().decode(open(got[0]!.envelope, bob.sk).body), 'hello live');
  await waitFor(async () => (await alice.status(r.url, res.id)) === 'acknowledged', 'status acknowledged');
  // Posting the same bytes again is idempotent on the relay; a MailboxAddress (or its string) is a destination.
  const address = client.address();
  assert.equal(decodeMailboxAddress(address).relays, [r.url]);
  const again = await alice.post(decodeMailboxAddress(address), env);
  assert.is(again.id, res.id);
  assert.equal(
    again.results.map((x) => x.ok && x.created),
    [false],
  );
  const third = await alice.post(address, env);
  assert.is(third.id, res.id);
});

t('offline then online: backlog in order, backlog_end, then live', async () => {
  const r = await relay();
  const bob = newKey();
  const alice = new MailboxClient({ secretKey: newKey().sk, relays: [r.url] });
  const dest = { publicKey: bob.pk, relays: [r.url] };
  const backlog = [];
  for (const s of ['one', 'two', 'three']) backlog.push(await alice.post(dest, sealed(bob.pk, s)));
  const client = new MailboxClient({ secretKey: bob.sk, relays: [r.url], WebSocket, reconnect: fast });
  const got: MailboxMessage[] = [];
  let backlogEnd = -1;
  const sub = later(client.subscribe((m) => void got.push(m)));
  sub.on('backlog_end', (_r, seq) => (backlogEnd = seq));
  await waitFor(() => backlogEnd >= 0 && got.length === 3, 'backlog');
  assert.equal(
    got.map((m) => m.id),
    backlog.map((p) => p.id),
    'backlog in posting order',
  );
  const seqs = got.map((m) => m.seq);
  assert.equal(
    seqs,
    [...seqs].sort((a, b) => a - b),
  );
  assert.ok(backlogEnd >= seqs[2]!, 'backlog_end comes after the backlog');
  const live = await alice.post(dest, sealed(bob.pk, 'four'));
  await waitFor(() => got.length === 4, 'live after backlog');
  assert.is(got[3]!.id, live.id);
  assert.ok(got[3]!.seq > backlogEnd, 'live envelopes follow the backlog');
});

t('backlog_end fires only after the handlers of the backlog have finished (slow async handler)', async () => {
  const r = await relay();
  const bob = newKey();
  const alice = new MailboxClient({ secretKey: newKey().sk, relays: [r.url] });
  const dest = { publicKey: bob.pk, relays: [r.url] };
  for (const s of ['one', 'two', 'three']) await alice.post(dest, sealed(bob.pk, s));
  const client = new MailboxClient({ secretKey: bob.sk, relays: [r.url], WebSocket, reconnect: fast });
  let done = 0;
  let doneAtEnd = -1;
  const sub = later(
    client.subscribe(async () => {
      await new Promise((res) => setTimeout(res, 60));
      done++;
    }),
  );
  sub.on('backlog_end', () => (doneAtEnd = done));
  await waitFor(() => doneAtEnd >= 0, 'backlog_end');
  assert.is(doneAtEnd, 3, 'every backlog handler ran before backlog_end');
});

t('handler throws: not acked, redelivered after the automatic reconnect, then acked', async () => {
  const r = await relay();
  const bob = newKey();
  const alice = new MailboxClient({ secretKey: newKey().sk, relays: [r.url] });
  const client = new MailboxClient({ secretKey: bob.sk, relays: [r.url], WebSocket, reconnect: fast });
  let calls = 0;
  const errors: LnMailboxError[] = [];
  const disconnects: number[] = [];
  let release!: () => void;
  const gate = new Promise<void>((res) => (release = res));
  const sub = await subscribed(client, async () => {
    calls++;
    if (calls === 1) {
      await gate;
      throw new Error('disk full');
    }
  });
  cleanups.push(async () => release()); // runs first: never leave the handler (and the subscription's close) waiting
  sub.on('error', (_r, e) => errors.push(e));
  sub.on('disconnected', (_r, code) => disconnects.push(code));
  const { id } = await alice.post({ publicKey: bob.pk, relays: [r.url] }, sealed(bob.pk, 'retry me'));
  await waitFor(() => calls === 1, 'first delivery');
  // Pushed, not acknowledged while the handler runs (the relay records the push just after sending it).
  await waitFor(async () => (await alice.status(r.url, id)) === 'delivered', 'status delivered while the handler runs');
  release();
  await waitFor(() => calls === 2, 'redelivery after reconnect');
  assert.ok(errors.some((e) => e.code === ErrorCode.HANDLER_FAILED && (e.cause as Error).message === 'disk full'));
  assert.ok(disconnects.length >= 1, 'the client resubscribed');
  await waitFor(async () => (await alice.status(r.url, id)) === 'acknowledged', 'acked after success');
  await new Promise((res) => setTimeout(res, 100));
  assert.is(calls, 2, 'no third call once handled');
});

t('two relays, one down: post succeeds; subscriber gets each envelope exactly once across relays and a relay restart', async () => {
  const r1 = await relay();
  const r2 = await relay();
  const dead = `http://127.0.0.1:${await closedPort()}`;
  const bob = newKey();
  const alice = new MailboxClient({ secretKey: newKey().sk, relays: [r1.url] });

  const partial = await alice.post({ publicKey: bob.pk, relays: [r1.url, dead] }, sealed(bob.pk, 'half'));
  const [ok, down] = partial.results;
  assert.ok(ok!.ok && ok!.relay === r1.url);
  assert.ok(!down!.ok && down!.error.code === ErrorCode.RELAY_UNREACHABLE);

  const kv = new MemoryKv();
  const client = new MailboxClient({ secretKey: bob.sk, relays: [r1.url, r2.url], kv, WebSocket, reconnect: fast });
  const count = new Map<string, number>();
  let ready2 = 0;
  const sub = await subscribed(client, (m) => void count.set(m.id, (count.get(m.id) ?? 0) + 1));
  sub.on('ready', (r) => r === r2.url && ready2++);
  await waitFor(() => count.size === 1, 'the half-posted envelope');

  const both = { publicKey: bob.pk, relays: [r1.url, r2.url] };
  const a = await alice.post(both, sealed(bob.pk, 'a'));
  assert.ok(a.results.every((x) => x.ok));
  await waitFor(
    async () => (await alice.status(r2.url, a.id)) === 'acknowledged' && (await alice.status(r1.url, a.id)) === 'acknowledged',
    'a acked on both relays',
  );

  await r2.stop(); // relay 2 goes down mid-subscription
  const b = await alice.post(both, sealed(bob.pk, 'b'));
  assert.equal(
    b.results.map((x) => x.ok),
    [true, false],
  );
  await waitFor(() => count.has(b.id), 'b through relay 1 while relay 2 is down');

  await r2.start(); // same port, same data dir
  await waitFor(() => ready2 >= 1, 'reconnected to relay 2');
  const c = await alice.post(both, sealed(bob.pk, 'c'));
  await waitFor(
    async () => (await alice.status(r2.url, c.id)) === 'acknowledged' && (await alice.status(r1.url, c.id)) === 'acknowledged',
    'c acked on both relays',
  );
  assert.equal([...count.values()], [1, 1, 1, 1], 'every envelope handled exactly once');
  assert.is(await alice.status(r2.url, a.id), 'acknowledged', 'relay 2 kept its ack across the restart');
  // The cursor of relay 2 was persisted and resumed: it now stands at c's seq there.
  const cSeq = c.results.find((x) => x.relay === r2.url && x.ok);
  assert.ok(cSeq?.ok);
  await waitFor(async () => (await client.cursor(r2.url)) === (cSeq.ok ? cSeq.seq : -1), "relay 2's cursor at c's seq");
  // Persisted, not only in memory: a second client over the same store reads the same cursor.
  const again = new MailboxClient({ secretKey: bob.sk, relays: [r1.url, r2.url], kv, WebSocket });
  assert.is(await again.cursor(r2.url), cSeq.ok ? cSeq.seq : -1);
});

t('de-dup survives a client restart (LevelKv)', async () => {
  const r1 = await relay();
  const r2 = await relay();
  const bob = newKey();
  const alice = new MailboxClient({ secretKey: newKey().sk, relays: [r1.url] });
  const x = await alice.post({ publicKey: bob.pk, relays: [r1.url, r2.url] }, sealed(bob.pk, 'once'));
  const dir = tempDir();
  const handled: string[] = [];

  // First run reads only relay 1, handles x, and stops.
  const kv1 = new LevelKv(dir);
  const c1 = new MailboxClient({ secretKey: bob.sk, relays: [r1.url, r2.url], kv: kv1, WebSocket, reconnect: fast });
  const s1 = await subscribed(c1, (m) => void handled.push(m.id), [r1.url]);
  await waitFor(() => handled.length === 1, 'first run handles x');
  await s1.close();
  await kv1.close();
  assert.is(await alice.status(r2.url, x.id), 'queued', 'relay 2 still holds x');

  // After a restart relay 2 delivers the same envelope: acked, not handled again.
  const kv2 = later(new LevelKv(dir));
  const c2 = new MailboxClient({ secretKey: bob.sk, relays: [r1.url, r2.url], kv: kv2, WebSocket, reconnect: fast });
  await subscribed(c2, (m) => void handled.push(m.id));
  await waitFor(async () => (await alice.status(r2.url, x.id)) === 'acknowledged', 'duplicate acked on relay 2');
  assert.equal(handled, [x.id]);
});

t('a relay whose sequence went backwards (data reset) is re-read from 0', async () => {
  const old = await relay();
  const bob = newKey();
  const alice = new MailboxClient({ secretKey: newKey().sk, relays: [old.url] });
  const kv = new MemoryKv();
  const client = new MailboxClient({ secretKey: bob.sk, relays: [old.url], kv, WebSocket, reconnect: fast });
  const got: string[] = [];
  const s1 = await subscribed(client, (m) => void got.push(m.id));
  for (const s of ['1', '2', '3']) await alice.post({ publicKey: bob.pk, relays: [old.url] }, sealed(bob.pk, s));
  await waitFor(() => got.length === 3, 'three handled');
  await waitFor(async () => (await client.cursor(old.url)) === 3, 'cursor at 3');
  await s1.close();
  // The operator replaces the relay with an empty one on the same URL; mail arrives before we reconnect.
  await old.stop();
  const fresh = new TestRelay();
  fresh.port = old.port;
  later(await fresh.start());
  const x = await alice.post({ publicKey: bob.pk, relays: [fresh.url] }, sealed(bob.pk, 'after reset'));
  await subscribed(client, (m) => void got.push(m.id));
  await waitFor(() => got.length === 4, 'the envelope numbered below our old cursor');
  assert.is(got[3], x.id);
});

t('auth bound to another origin: typed error over WebSocket and HTTP', async () => {
  const r = await relay({ publicUrl: 'https://relay.elsewhere.example' });
  const bob = newKey();
  const client = new MailboxClient({ secretKey: bob.sk, relays: [r.url], WebSocket, reconnect: fast });
  const sub = later(client.subscribe(() => assert.unreachable('nothing may be delivered')));
  const errs: LnMailboxError[] = [];
  sub.on('error', (_r, e) => errs.push(e));
  await waitFor(() => errs.length > 0, 'auth error event');
  assert.is(errs[0]!.code, ErrorCode.AUTH_BAD_SIGNATURE);
  try {
    await client.fetchBacklog(() => undefined);
    assert.unreachable('fetchBacklog must fail');
  } catch (e) {
    assert.instance(e, LnMailboxError);
    assert.is((e as LnMailboxError).code, ErrorCode.AUTH_BAD_SIGNATURE);
    assert.is((e as LnMailboxError).status, 401);
  }
});

t('relay rejections become LnMailboxError with the relay code and status; retraction', async () => {
  const r = await relay();
  const bob = newKey();
  const alice = new MailboxClient({ secretKey: newKey().sk, relays: [r.url] });
  const dest = { publicKey: bob.pk, relays: [r.url] };
  const secret = new Uint8Array(32).fill(9);
  const { id } = await alice.post(dest, sealed(bob.pk, 'take it back'), { retractionSecret: secret, ttlSeconds: 3600 });
  await rejectsCode(alice.status(r.url, 'ab'.repeat(32)), ErrorCode.ENVELOPE_NOT_FOUND);
  try {
    await alice.retract(dest, id, new Uint8Array(32).fill(8));
    assert.unreachable('wrong secret');
  } catch (e) {
    assert.is((e as LnMailboxError).code, ErrorCode.RETRACT_FORBIDDEN);
    assert.is((e as LnMailboxError).status, 403);
  }
  const ret = await alice.retract([r.url], id, secret);
  assert.equal(
    ret.results.map((x) => x.ok && x.status),
    ['retracted'],
  );
  assert.is(await alice.status(r.url, id), 'retracted');
});

t("a relay limit surfaces as its code and status (size is the relay's call, not the client's)", async () => {
  const r = await relay({ maxEnvelopeBytes: 1024 });
  const bob = newKey();
  const alice = new MailboxClient({ secretKey: newKey().sk, relays: [r.url] });
  try {
    await alice.post({ publicKey: bob.pk, relays: [r.url] }, sealed(bob.pk, 'x'.repeat(2000)));
    assert.unreachable('over the relay limit');
  } catch (e) {
    assert.is((e as LnMailboxError).code, ErrorCode.BODY_TOO_LARGE);
    assert.is((e as LnMailboxError).status, 413);
  }
});

t('proof of work is solved when the relay asks', async () => {
  const r = await relay({ powBits: 8 });
  const bob = newKey();
  const alice = new MailboxClient({ secretKey: newKey().sk, relays: [r.url] });
  const res = await alice.post({ publicKey: bob.pk, relays: [r.url] }, sealed(bob.pk, 'work'));
  assert.ok(res.results[0]!.ok);
});

t(
  'a handler that writes the processed mark in its own batch: the client writes none, and the envelope is never handled again',
  async () => {
    const r1 = await relay();
    const r2 = await relay();
    const bob = newKey();
    const alice = new MailboxClient({ secretKey: newKey().sk, relays: [r1.url] });
    const x = (await alice.post({ publicKey: bob.pk, relays: [r1.url, r2.url] }, sealed(bob.pk, 'takes'))).id;
    const y = (await alice.post({ publicKey: bob.pk, relays: [r1.url] }, sealed(bob.pk, 'leaves'))).id;
    const kv = new MemoryKv();
    const { kv: spy, calls } = recordingKv(kv);
    const client = new MailboxClient({ secretKey: bob.sk, relays: [r1.url, r2.url], kv: spy });
    const handled: string[] = [];
    await client.fetchBacklog(
      async (m) => {
        handled.push(m.id);
        assert.ok(m.processed?.op.key.endsWith(`/seen/${m.id}`), 'every delivered envelope carries its mark');
        if (m.id !== x) return; // y's handler leaves the mark to the client
        await spy.batch([{ type: 'put', key: `effects/${m.id}`, value: new Uint8Array([1]) }, m.processed!.op]);
        m.processed!.taken();
      },
      { relays: [r1.url] },
    );
    assert.equal(handled, [x, y]);
    const marks = calls.map((c) => c.keys.map((k) => (k.includes('/seen/') ? `seen/${k.slice(-64)}` : k)));
    assert.equal(
      marks.filter((w) => w.some((k) => k.startsWith('seen/') || k.startsWith('effects/'))),
      [[`effects/${x}`, `seen/${x}`], [`seen/${y}`]],
      "x's mark rode in the handler's batch and the client wrote none; y's the client wrote",
    );
    // The same envelope from the second relay (as after a crash before the ack): acked, not handled again.
    const res = await client.fetchBacklog(() => assert.unreachable('x was processed'), { relays: [r2.url] });
    assert.equal(res, [{ relay: r2.url, handled: 0, duplicates: 1 }]);
  },
);

t('fetchBacklog over HTTP: handler, ack, cursor; a throwing handler stops without acking', async () => {
  const r = await relay();
  const bob = newKey();
  const alice = new MailboxClient({ secretKey: newKey().sk, relays: [r.url] });
  const dest = { publicKey: bob.pk, relays: [r.url] };
  const ids: string[] = [];
  for (const s of ['1', '2', '3']) ids.push((await alice.post(dest, sealed(bob.pk, s))).id);
  const client = new MailboxClient({ secretKey: bob.sk, relays: [r.url] });
  const seen: string[] = [];
  await rejectsCode(
    client.fetchBacklog(
      (m) => {
        if (m.id === ids[1]) throw new Error('later');
        seen.push(m.id);
      },
      { pageSize: 2 },
    ),
    ErrorCode.HANDLER_FAILED,
  );
  assert.equal(seen, [ids[0]]);
  assert.is(await alice.status(r.url, ids[0]!), 'acknowledged');
  assert.is(await alice.status(r.url, ids[1]!), 'delivered');
  const res = await client.fetchBacklog((m) => void seen.push(m.id), { pageSize: 2 });
  assert.equal(res, [{ relay: r.url, handled: 2, duplicates: 0 }]);
  assert.equal(seen, ids);
  for (const id of ids) assert.is(await alice.status(r.url, id), 'acknowledged');
  assert.equal(await client.fetchBacklog(() => assert.unreachable('nothing left')), [{ relay: r.url, handled: 0, duplicates: 0 }]);
  assert.is(bytesToHex(client.publicKey), client.mailboxId);
});

t.run();
