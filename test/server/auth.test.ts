/** Attacks on recipient auth (HTTP and WebSocket): every one refused, nothing revealed, nothing deleted. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { envelopeIdHex } from '../../protocol/envelope.js';
import { relayOrigin, signAuth } from '../../protocol/relay.js';
import {
  T0,
  TestSocket,
  fakeEnvelope,
  list,
  login,
  newMailbox,
  postEnvelope,
  request,
  statusOf,
  startTestRelay,
  type MailboxKey,
  type TestRelay,
} from './relay-harness.js';

const t = suite<{ r: TestRelay }>('relay auth attacks', { r: undefined as unknown as TestRelay });
t.before.each(async (ctx) => {
  ctx.r = await startTestRelay({ authTimeoutMs: 300, maxPendingChallenges: 5 });
});
t.after.each(async (ctx) => {
  await ctx.r.close();
});

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

async function challenge(url: string): Promise<string> {
  return (await request(`${url}/v1/auth/challenge`, { method: 'POST' })).body.challenge;
}

function session(url: string, body: unknown) {
  return request(`${url}/v1/auth/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

function signed(origin: string, ch: string, signer: MailboxKey, mailbox = signer.id) {
  return { mailbox, challenge: ch, signature: hex(signAuth(origin, Buffer.from(ch, 'hex'), signer.sk)) };
}

/** Posts one envelope to `victim` and returns its id, to check it is neither revealed nor deleted. */
async function victimMail(url: string, victim: MailboxKey): Promise<string> {
  const e = fakeEnvelope(victim.id);
  await postEnvelope(url, victim.id, e);
  return envelopeIdHex(e);
}

t('HTTP: wrong key, other origin, replayed, unknown and expired challenges are refused', async ({ r }) => {
  const victim = newMailbox();
  const thief = newMailbox();
  const id = await victimMail(r.url, victim);
  const origin = relayOrigin(r.url);

  const wrongKey = await session(r.url, signed(origin, await challenge(r.url), thief, victim.id));
  assert.equal([wrongKey.status, wrongKey.body.error.code], [401, 'AUTH_BAD_SIGNATURE']);

  const otherOrigin = await session(r.url, signed('https://other-relay.example', await challenge(r.url), victim));
  assert.equal([otherOrigin.status, otherOrigin.body.error.code], [401, 'AUTH_BAD_SIGNATURE']);

  const ch = await challenge(r.url);
  const good = signed(origin, ch, victim);
  assert.is((await session(r.url, good)).status, 200);
  const replay = await session(r.url, good);
  assert.equal([replay.status, replay.body.error.code], [401, 'AUTH_CHALLENGE_UNKNOWN']);

  const burnt = await challenge(r.url);
  await session(r.url, signed(origin, burnt, thief, victim.id));
  const afterFail = await session(r.url, signed(origin, burnt, victim));
  assert.equal(afterFail.body.error.code, 'AUTH_CHALLENGE_UNKNOWN', 'a failed attempt burns the challenge');

  const invented = await session(r.url, signed(origin, 'ab'.repeat(32), victim));
  assert.equal(invented.body.error.code, 'AUTH_CHALLENGE_UNKNOWN');

  const old = await challenge(r.url);
  r.clock.t = T0 + 60_000;
  const expired = await session(r.url, signed(origin, old, victim));
  assert.equal([expired.status, expired.body.error.code], [401, 'AUTH_EXPIRED']);
  assert.is(await statusOf(r.url, id), 'queued', 'nothing revealed');
});

t('HTTP: the challenge table is bounded (oldest evicted)', async ({ r }) => {
  const victim = newMailbox();
  const first = await challenge(r.url);
  for (let i = 0; i < 10; i++) await challenge(r.url);
  const res = await session(r.url, signed(relayOrigin(r.url), first, victim));
  assert.is(res.body.error.code, 'AUTH_CHALLENGE_UNKNOWN');
});

t('HTTP: missing, garbage, expired and foreign tokens are refused; nothing revealed or deleted', async ({ r }) => {
  const victim = newMailbox();
  const thief = newMailbox();
  const id = await victimMail(r.url, victim);
  const none = await request(`${r.url}/v1/mailboxes/${victim.id}/envelopes`);
  assert.equal([none.status, none.body.error.code], [401, 'AUTH_REQUIRED']);
  assert.is(none.headers.get('www-authenticate'), 'Bearer');
  const garbage = await list(r.url, victim.id, 'not-a-token');
  assert.equal([garbage.status, garbage.body.error.code], [401, 'AUTH_REQUIRED']);
  const malformed = await request(`${r.url}/v1/mailboxes/${victim.id}/envelopes`, { headers: { authorization: 'Basic abc' } });
  assert.equal(malformed.body.error.code, 'AUTH_REQUIRED');

  const thiefToken = await login(r.url, thief);
  const foreign = await list(r.url, victim.id, thiefToken);
  assert.equal([foreign.status, foreign.body.error.code], [403, 'AUTH_FORBIDDEN']);
  assert.not.ok(JSON.stringify(foreign.body).includes(id));
  const ack = await request(`${r.url}/v1/mailboxes/${victim.id}/acks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${thiefToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ids: [id] }),
  });
  assert.equal([ack.status, ack.body.error.code], [403, 'AUTH_FORBIDDEN']);
  // Acking the victim's id through the thief's own mailbox deletes nothing either.
  const sideways = await request(`${r.url}/v1/mailboxes/${thief.id}/acks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${thiefToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ids: [id] }),
  });
  assert.equal(sideways.body, { acked: 0 });
  assert.is(await statusOf(r.url, id), 'queued');

  const victimToken = await login(r.url, victim);
  r.clock.t = T0 + 600_000;
  const expired = await list(r.url, victim.id, victimToken);
  assert.equal([expired.status, expired.body.error.code], [401, 'AUTH_EXPIRED']);
  assert.is(await statusOf(r.url, id), 'queued');
});

t('HTTP: with publicUrl set, only its origin is accepted', async () => {
  const r = await startTestRelay({ publicUrl: 'https://relay.example/base' });
  try {
    const victim = newMailbox();
    const forHost = await session(r.url, signed(relayOrigin(r.url), await challenge(r.url), victim));
    assert.equal(forHost.body.error.code, 'AUTH_BAD_SIGNATURE', 'the Host-header origin is not the relay’s name');
    const ok = await session(r.url, signed('https://relay.example', await challenge(r.url), victim));
    assert.is(ok.status, 200);
  } finally {
    await r.close();
  }
});

t('WS: wrong key, foreign challenge, other origin, expired token, frames before auth', async ({ r }) => {
  const victim = newMailbox();
  const thief = newMailbox();
  const id = await victimMail(r.url, victim);
  const origin = relayOrigin(r.url);

  const cases: [string, (s: TestSocket, ch: string) => unknown, string][] = [
    ['wrong key', (s, ch) => s.send({ type: 'auth', ...signed(origin, ch, thief, victim.id) }), 'AUTH_BAD_SIGNATURE'],
    ['other origin', (s, ch) => s.send({ type: 'auth', ...signed('https://evil.example', ch, victim) }), 'AUTH_BAD_SIGNATURE'],
    ['foreign challenge', (s) => s.send({ type: 'auth', ...signed(origin, 'cd'.repeat(32), victim) }), 'AUTH_CHALLENGE_UNKNOWN'],
    ['unknown token', (s) => s.send({ type: 'auth', token: 'nope' }), 'AUTH_REQUIRED'],
    ['subscribe first', (s) => s.send({ type: 'subscribe', after: 0 }), 'AUTH_REQUIRED'],
    ['ack first', (s) => s.send({ type: 'ack', ids: [id] }), 'AUTH_REQUIRED'],
  ];
  for (const [name, attack, code] of cases) {
    const s = new TestSocket(r.url);
    const ch = await s.next('challenge');
    attack(s, ch.challenge);
    const err = await s.next('error');
    assert.is(err.error.code, code, name);
    assert.is((await s.closed).code, 1008, name);
    assert.is(s.envelopes().length, 0, name);
  }

  // An HTTP challenge is not a WebSocket challenge.
  const s = new TestSocket(r.url);
  await s.next('challenge');
  s.send({ type: 'auth', ...signed(origin, await challenge(r.url), victim) });
  assert.is((await s.next('error')).error.code, 'AUTH_CHALLENGE_UNKNOWN');

  const token = await login(r.url, victim);
  r.clock.t = T0 + 600_000;
  const late = new TestSocket(r.url);
  await late.next('challenge');
  late.send({ type: 'auth', token });
  assert.is((await late.next('error')).error.code, 'AUTH_EXPIRED');
  assert.is((await late.closed).code, 1008);
  assert.is(await statusOf(r.url, id), 'queued', 'nothing revealed, nothing deleted');
});

t('WS: token auth works; a connection acks only its own mailbox', async ({ r }) => {
  const victim = newMailbox();
  const thief = newMailbox();
  const id = await victimMail(r.url, victim);
  const token = await login(r.url, thief);
  const s = new TestSocket(r.url);
  await s.next('challenge');
  s.send({ type: 'auth', token });
  assert.equal(await s.next('ready'), { type: 'ready', mailbox: thief.id });
  s.send({ type: 'subscribe', after: 0 });
  await s.next('backlog_end');
  s.send({ type: 'ack', ids: [id] });
  await s.next('acked');
  assert.is(s.envelopes().length, 0);
  assert.is(await statusOf(r.url, id), 'queued');
  await s.close();
});

t('WS: no auth within the auth timeout closes with 4001', async ({ r }) => {
  const s = new TestSocket(r.url);
  await s.next('challenge');
  const closed = await s.closed;
  assert.is(closed.code, 4001);
  assert.is(s.frames.find((f) => f.type === 'error')?.type, 'error');
});

t.run();
