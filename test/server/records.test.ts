/**
 * Mailbox records over HTTP (SPEC 5.13) on a real relay over real LevelDB:
 * the owner writes, anyone reads; strangers, bad names, oversized bodies
 * and a ninth record are refused with their codes and change nothing;
 * records survive a restart; a store that refuses writes refuses puts.
 */
import fs from 'node:fs';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_RECORDS_PER_MAILBOX, MAX_RECORD_BYTES } from '../../protocol/relay.js';
import { LevelStore } from '../../server/store/level/store.js';
import { login, newMailbox, request, startTestRelay, type HttpAnswer, type MailboxKey, type TestRelay } from './relay-harness.js';

const recordUrl = (url: string, mailbox: string, name: string): string => `${url}/v1/mailboxes/${mailbox}/records/${name}`;

function put(url: string, mailbox: string, name: string, value: Uint8Array, token?: string, type = 'application/octet-stream') {
  const headers: Record<string, string> = { 'content-type': type };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  return request(recordUrl(url, mailbox, name), { method: 'PUT', headers, body: value as Uint8Array<ArrayBuffer> });
}

function del(url: string, mailbox: string, name: string, token?: string) {
  return request(recordUrl(url, mailbox, name), {
    method: 'DELETE',
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
}

/** GETs a record without any credentials: the bytes on 200, else the answer. */
async function get(url: string, mailbox: string, name: string): Promise<{ status: number; bytes?: Buffer; answer: HttpAnswer }> {
  const res = await fetch(recordUrl(url, mailbox, name));
  const buf = Buffer.from(await res.arrayBuffer());
  const answer: HttpAnswer = { status: res.status, headers: res.headers, body: undefined };
  if ((res.headers.get('content-type') ?? '').includes('json')) answer.body = JSON.parse(buf.toString('utf8'));
  return res.status === 200 ? { status: 200, bytes: buf, answer } : { status: res.status, answer };
}

function code(a: HttpAnswer): string {
  return a.body?.error?.code;
}

const t = suite<{ r: TestRelay; owner: MailboxKey; token: string }>('relay records', {
  r: undefined as unknown as TestRelay,
  owner: undefined as unknown as MailboxKey,
  token: '',
});
t.before.each(async (ctx) => {
  ctx.r = await startTestRelay();
  ctx.owner = newMailbox();
  ctx.token = await login(ctx.r.url, ctx.owner);
});
t.after.each(async (ctx) => {
  await ctx.r.close();
});

t('the owner puts, anyone gets the exact bytes, the owner replaces and deletes', async ({ r, owner, token }) => {
  const v1 = new Uint8Array(randomBytes(1000));
  const p = await put(r.url, owner.id, 'hub-terms', v1, token);
  assert.is(p.status, 204);
  const g = await get(r.url, owner.id, 'hub-terms');
  assert.is(g.status, 200);
  assert.ok(g.bytes!.equals(Buffer.from(v1)));
  assert.is(g.answer.headers.get('content-type'), 'application/octet-stream');
  assert.is(g.answer.headers.get('cache-control'), 'no-store');
  const v2 = new Uint8Array(randomBytes(MAX_RECORD_BYTES));
  assert.is((await put(r.url, owner.id, 'hub-terms', v2, token)).status, 204);
  assert.ok((await get(r.url, owner.id, 'hub-terms')).bytes!.equals(Buffer.from(v2)), 'replaced, at the size limit');
  const other = newMailbox();
  const miss = await get(r.url, other.id, 'hub-terms');
  assert.is(miss.status, 404);
  assert.is(code(miss.answer), 'RECORD_NOT_FOUND', 'records are per mailbox');
  assert.is((await del(r.url, owner.id, 'hub-terms', token)).status, 204);
  const gone = await get(r.url, owner.id, 'hub-terms');
  assert.is(gone.status, 404);
  assert.is(code(gone.answer), 'RECORD_NOT_FOUND');
  assert.is((await del(r.url, owner.id, 'hub-terms', token)).status, 204, 'a delete of nothing is fine');
});

t('strangers cannot write or delete: 401/403 with typed codes, the record unchanged', async ({ r, owner, token }) => {
  const v = new Uint8Array(randomBytes(100));
  await put(r.url, owner.id, 'receipt-tickets', v, token);
  const forged = new Uint8Array(randomBytes(100));
  const none = await put(r.url, owner.id, 'receipt-tickets', forged);
  assert.is(none.status, 401);
  assert.is(code(none), 'AUTH_REQUIRED');
  assert.is(none.headers.get('www-authenticate'), 'Bearer');
  const bogus = await put(r.url, owner.id, 'receipt-tickets', forged, 'x'.repeat(43));
  assert.is(bogus.status, 401);
  assert.is(code(bogus), 'AUTH_REQUIRED');
  const mallory = newMailbox();
  const theirs = await login(r.url, mallory);
  const cross = await put(r.url, owner.id, 'receipt-tickets', forged, theirs);
  assert.is(cross.status, 403);
  assert.is(code(cross), 'AUTH_FORBIDDEN', 'a token for another mailbox');
  const crossNew = await put(r.url, owner.id, 'evil', forged, theirs);
  assert.is(code(crossNew), 'AUTH_FORBIDDEN');
  const d1 = await del(r.url, owner.id, 'receipt-tickets');
  assert.is(d1.status, 401);
  assert.is(code(d1), 'AUTH_REQUIRED');
  const d2 = await del(r.url, owner.id, 'receipt-tickets', theirs);
  assert.is(d2.status, 403);
  assert.is(code(d2), 'AUTH_FORBIDDEN');
  assert.ok((await get(r.url, owner.id, 'receipt-tickets')).bytes!.equals(Buffer.from(v)), 'unchanged');
  assert.is((await get(r.url, owner.id, 'evil')).status, 404, 'nothing created');
  // The mallory token still writes mallory's own mailbox: the refusals above were about ownership.
  assert.is((await put(r.url, mallory.id, 'evil', forged, theirs)).status, 204);
});

t('bad names, bad mailbox, wrong type and oversized bodies are refused with their codes', async ({ r, owner, token }) => {
  const v = new Uint8Array(10);
  for (const name of ['Hub-terms', '-hub', 'a'.repeat(33), 'hub_terms', 'hub.terms', 'x%20y']) {
    const p = await put(r.url, owner.id, name, v, token);
    assert.is(p.status, 400, name);
    assert.is(code(p), 'BAD_REQUEST', name);
    const g = await get(r.url, owner.id, name);
    assert.is(g.status, 400, `GET ${name}`);
    assert.is(code(g.answer), 'BAD_REQUEST');
  }
  assert.is((await put(r.url, owner.id, 'a'.repeat(32), v, token)).status, 204, '32 characters is fine');
  const badBox = await put(r.url, owner.id.toUpperCase(), 'x', v, token);
  assert.is(code(badBox), 'BAD_REQUEST');
  const json = await put(r.url, owner.id, 'x', v, token, 'application/json');
  assert.is(json.status, 415);
  assert.is(code(json), 'UNSUPPORTED_MEDIA_TYPE');
  const big = await put(r.url, owner.id, 'x', new Uint8Array(MAX_RECORD_BYTES + 1), token);
  assert.is(big.status, 413);
  assert.is(code(big), 'BODY_TOO_LARGE');
  assert.is((await get(r.url, owner.id, 'x')).status, 404, 'nothing stored by the refusals');
});

t(
  `at most ${MAX_RECORDS_PER_MAILBOX} records: the next is RECORD_LIMIT, a replacement fits, a delete frees room`,
  async ({ r, owner, token }) => {
    const v = new Uint8Array(randomBytes(50));
    for (let i = 0; i < MAX_RECORDS_PER_MAILBOX; i++) assert.is((await put(r.url, owner.id, `r${i}`, v, token)).status, 204);
    const over = await put(r.url, owner.id, 'one-more', v, token);
    assert.is(over.status, 409);
    assert.is(code(over), 'RECORD_LIMIT');
    assert.is((await get(r.url, owner.id, 'one-more')).status, 404);
    assert.is((await put(r.url, owner.id, 'r0', new Uint8Array([1]), token)).status, 204, 'replacing at the limit');
    assert.is((await del(r.url, owner.id, 'r1', token)).status, 204);
    assert.is((await put(r.url, owner.id, 'one-more', v, token)).status, 204);
  },
);

t('records survive a relay restart', async () => {
  const dir = fs.mkdtempSync(`${os.tmpdir()}/lnmb-`);
  try {
    const owner = newMailbox();
    const v = new Uint8Array(randomBytes(4000));
    let r = await startTestRelay({ dataDir: dir });
    await put(r.url, owner.id, 'hub-terms', v, await login(r.url, owner));
    await r.close();
    r = await startTestRelay({ dataDir: dir });
    const g = await get(r.url, owner.id, 'hub-terms');
    assert.ok(g.bytes!.equals(Buffer.from(v)));
    await r.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t('PUT and DELETE take a rate-limit token, GET does not', async () => {
  // The relay's clock stands still in tests: no token comes back.
  const r = await startTestRelay({ postBurst: 4, postRatePerSecond: 1 });
  try {
    const owner = newMailbox();
    const token = await login(r.url, owner); // two POSTs: challenge and session
    assert.is((await put(r.url, owner.id, 'a', new Uint8Array(1), token)).status, 204);
    assert.is((await del(r.url, owner.id, 'b', token)).status, 204);
    const limited = await put(r.url, owner.id, 'a', new Uint8Array(1), token);
    assert.is(limited.status, 429);
    assert.is(code(limited), 'RATE_LIMITED');
    for (let i = 0; i < 10; i++) assert.is((await get(r.url, owner.id, 'a')).status, 200);
  } finally {
    await r.close();
  }
});

t('below the free-space reserve a put is STORE_FULL, a delete still works', async () => {
  const dir = fs.mkdtempSync(`${os.tmpdir()}/lnmb-`);
  const owner = newMailbox();
  let r = await startTestRelay({ dataDir: dir });
  await put(r.url, owner.id, 'hub-terms', new Uint8Array(10), await login(r.url, owner));
  await r.close();
  const store = new LevelStore({ location: dir, minFreeBytes: Number.MAX_SAFE_INTEGER });
  r = await startTestRelay({ dataDir: dir, store });
  try {
    const token = await login(r.url, owner);
    const p = await put(r.url, owner.id, 'other', new Uint8Array(10), token);
    assert.is(p.status, 503);
    assert.is(code(p), 'STORE_FULL');
    assert.is(p.headers.get('retry-after'), '5');
    assert.is((await get(r.url, owner.id, 'other')).status, 404);
    assert.is((await del(r.url, owner.id, 'hub-terms', token)).status, 204);
    assert.is((await get(r.url, owner.id, 'hub-terms')).status, 404);
  } finally {
    await r.close();
    await store.close(); // an injected store is its owner's to close
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t('a store that failed a write refuses puts with STORE_UNAVAILABLE until it recovered', async () => {
  const dir = fs.mkdtempSync(`${os.tmpdir()}/lnmb-`);
  let failing = false;
  const store = new LevelStore({
    location: dir,
    recoveryDelayMs: { min: 60_000, max: 60_000 },
    writeHook: async (write) => {
      if (failing) throw Object.assign(new Error('IO error: No space left on device'), { code: 'LEVEL_IO_ERROR' });
      await write();
    },
  });
  const r = await startTestRelay({ dataDir: dir, store });
  const owner = newMailbox();
  const v = new Uint8Array(randomBytes(100));
  try {
    const token = await login(r.url, owner);
    assert.is((await put(r.url, owner.id, 'hub-terms', v, token)).status, 204);
    failing = true;
    const p1 = await put(r.url, owner.id, 'hub-terms', new Uint8Array(5), token);
    assert.is(p1.status, 503);
    assert.is(code(p1), 'STORE_UNAVAILABLE');
    failing = false; // the disk is fine again, but the store stays failed until its recovery has verified it
    const p2 = await put(r.url, owner.id, 'other', new Uint8Array(5), token);
    assert.is(code(p2), 'STORE_UNAVAILABLE', 'refused, not written behind the failed batch');
    assert.is(code(await del(r.url, owner.id, 'hub-terms', token)), 'STORE_UNAVAILABLE');
  } finally {
    await r.close();
    await store.close();
  }
  const reopened = await startTestRelay({ dataDir: dir });
  try {
    const g = await get(reopened.url, owner.id, 'hub-terms');
    assert.ok(g.bytes?.equals(Buffer.from(v)), 'the acknowledged value, not the refused one');
    assert.is((await get(reopened.url, owner.id, 'other')).status, 404);
  } finally {
    await reopened.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
