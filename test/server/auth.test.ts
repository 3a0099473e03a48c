/** Attacks on recipient auth (HTTP and WebSocket): every one refused, nothing revealed, nothing deleted. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { envelopeIdHex } from '../../protocol/envelope.js';
import { relayOrigin, signAuth } from '../../protocol/relay.js';
import { EXPIRED_TOKEN_MEMORY_MS, MailboxAuth } from '../../server/sessions.js';
import { throwsCode } from '../helpers.js';
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
  // Not only on its first use: an expired token stays expired.
  for (let i = 0; i < 2; i++) {
    const again = await list(r.url, victim.id, victimToken);
    assert.equal([again.status, again.body.error.code], [401, 'AUTH_EXPIRED'], `use ${i + 2}`);
  }
  assert.is(await statusOf(r.url, id), 'queued');
});

t('sessions: an expired token answers AUTH_EXPIRED on every use and after the prune, for a bounded while', () => {
  const auth = new MailboxAuth({ challengeTtlMs: 60_000, sessionTtlMs: 600_000, maxChallenges: 10, maxSessions: 3 });
  const mb = 'ab'.repeat(32);
  const a = auth.openSession(mb, T0);
  const b = auth.openSession(mb, T0);
  const after = T0 + 600_000;
  throwsCode(() => auth.sessionMailbox(a.token, after), 'AUTH_EXPIRED', 'first use');
  throwsCode(() => auth.sessionMailbox(a.token, after + 1), 'AUTH_EXPIRED', 'second use');
  // b expires unused; the prune that drops it from the sessions must not make it unknown.
  auth.prune(after + 2);
  assert.equal([auth.size.sessions, auth.size.expired], [0, 2]);
  throwsCode(() => auth.sessionMailbox(b.token, after + 3), 'AUTH_EXPIRED', 'after the prune');
  throwsCode(() => auth.sessionMailbox(a.token, after + 3), 'AUTH_EXPIRED', 'a, after the prune');
  throwsCode(() => auth.authorize(b.token, mb, after + 3), 'AUTH_EXPIRED', 'authorize says the same');
  throwsCode(() => auth.sessionMailbox('never-issued', after + 3), 'AUTH_REQUIRED', 'unknown is not expired');
  // Remembered for EXPIRED_TOKEN_MEMORY_MS after expiry, then forgotten (the prune frees the memory).
  throwsCode(() => auth.sessionMailbox(a.token, a.expiresAt + EXPIRED_TOKEN_MEMORY_MS - 1), 'AUTH_EXPIRED');
  throwsCode(() => auth.sessionMailbox(a.token, a.expiresAt + EXPIRED_TOKEN_MEMORY_MS), 'AUTH_REQUIRED');
  auth.prune(a.expiresAt + EXPIRED_TOKEN_MEMORY_MS);
  assert.is(auth.size.expired, 0);
});

t('sessions: the record of expired tokens is bounded by maxSessions, oldest forgotten first', () => {
  const auth = new MailboxAuth({ challengeTtlMs: 60_000, sessionTtlMs: 1000, maxChallenges: 10, maxSessions: 3 });
  const mb = 'cd'.repeat(32);
  const tokens: string[] = [];
  for (let i = 0; i < 7; i++) {
    tokens.push(auth.openSession(mb, T0 + i * 2000).token);
    auth.prune(T0 + i * 2000 + 1500); // each one expires before the next is opened
  }
  assert.equal(auth.size, { challenges: 0, sessions: 0, expired: 3 });
  for (const [i, token] of tokens.entries())
    throwsCode(() => auth.sessionMailbox(token, T0 + 20_000), i < 4 ? 'AUTH_REQUIRED' : 'AUTH_EXPIRED', `token ${i}`);
  // Sessions evicted while expired because the table is full are recorded as expired too.
  const full = new MailboxAuth({ challengeTtlMs: 60_000, sessionTtlMs: 1000, maxChallenges: 10, maxSessions: 2 });
  const old = full.openSession(mb, T0).token;
  full.openSession(mb, T0 + 500);
  full.openSession(mb, T0 + 1400); // the table is full: `old` (expired) makes room
  assert.is(full.size.sessions, 2);
  throwsCode(() => full.sessionMailbox(old, T0 + 1600), 'AUTH_EXPIRED');
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
  const later = new TestSocket(r.url);
  await later.next('challenge');
  later.send({ type: 'auth', token });
  assert.is((await later.next('error')).error.code, 'AUTH_EXPIRED', 'a second use is still AUTH_EXPIRED');
  assert.is((await later.closed).code, 1008);
  assert.is(await statusOf(r.url, id), 'queued', 'nothing revealed, nothing deleted');
});

t('WS: a malformed token is refused the same way whatever is malformed about it', async ({ r }) => {
  const victim = newMailbox();
  const id = await victimMail(r.url, victim);
  const real = await login(r.url, victim);
  const malformed: [string, unknown][] = [
    ['a number', 42],
    ['null', null],
    ['an object', { token: real }],
    ['a list', [real]],
    ['empty', ''],
    ['too long', 'a'.repeat(257)],
    ['a space', `${real.slice(0, 10)} ${real.slice(11)}`],
    ['a dot', `${real}.`],
    ['non-ASCII', `${real.slice(0, 42)}é`],
    ['padding', `${real}=`],
  ];
  for (const [name, token] of malformed) {
    const s = new TestSocket(r.url);
    await s.next('challenge');
    s.send({ type: 'auth', token });
    const err = await s.next('error');
    assert.is(err.error.code, 'BAD_FRAME', name);
    assert.is((await s.closed).code, 1002, name);
    assert.is(s.envelopes().length, 0, name);
  }
  // The longest well-formed token is not malformed, only unknown.
  const s = new TestSocket(r.url);
  await s.next('challenge');
  s.send({ type: 'auth', token: 'a'.repeat(256) });
  assert.is((await s.next('error')).error.code, 'AUTH_REQUIRED');
  assert.is((await s.closed).code, 1008);
  assert.is(await statusOf(r.url, id), 'queued');
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
