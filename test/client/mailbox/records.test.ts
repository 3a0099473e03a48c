/**
 * Mailbox records through the client (SPEC 5.13) against real relays:
 * publishRecord on every relay of the client, fetchRecord through the
 * address's relays in turn (one of them down), null when none has it, the
 * aggregate errors, local refusals before anything is sent, and a hostile
 * relay whose answer is not a record.
 */
import http from 'node:http';
import type net from 'node:net';
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode, MailboxClient, encodeMailboxAddress, fetchRecord } from '../../../client/index.js';
import { MAX_RECORDS_PER_MAILBOX, MAX_RECORD_BYTES } from '../../../protocol/relay.js';
import { rejectsCode } from '../../helpers.js';
import { TestRelay, closedPort, newKey } from './relay-fixture.js';

const cleanups: (() => Promise<unknown>)[] = [];
async function relay(): Promise<TestRelay> {
  const r = await new TestRelay().start();
  cleanups.push(() => r.destroy());
  return r;
}

/** A loopback HTTP server answering every request with `answer` (a relay that lies). */
async function hostile(answer: (res: http.ServerResponse) => void): Promise<string> {
  const srv = http.createServer((_req, res) => answer(res));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => srv.close(() => r())));
  return `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
}

const t = suite('client records with real relays');
t.after.each(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

t('publish and fetch round trip through a two-relay address with one relay down', async () => {
  const up = await relay();
  const down = `http://127.0.0.1:${await closedPort()}`;
  const { sk, pk } = newKey();
  const client = new MailboxClient({ secretKey: sk, relays: [down, up.url], timeoutMs: 2000 });
  const terms = new Uint8Array(randomBytes(3000));
  await client.publishRecord('hub-terms', terms);
  // The down relay comes first in the address: the reader moves on to the next.
  const got = await fetchRecord(client.address(), 'hub-terms');
  assert.equal(got && Buffer.from(got), Buffer.from(terms));
  assert.is(await fetchRecord(client.address(), 'receipt-tickets'), null, 'no relay has it');
  // Another key's address over the same relays: nothing.
  const stranger = encodeMailboxAddress({ publicKey: newKey().pk, relays: [up.url] });
  assert.is(await fetchRecord(stranger, 'hub-terms'), null);
  // Replace, then delete.
  const next = new Uint8Array(randomBytes(10));
  await client.publishRecord('hub-terms', next);
  assert.equal(Buffer.from((await fetchRecord(client.address(), 'hub-terms'))!), Buffer.from(next));
  await client.deleteRecord('hub-terms');
  assert.is(await fetchRecord(encodeMailboxAddress({ publicKey: pk, relays: [up.url] }), 'hub-terms'), null);
});

t('publishRecord writes every relay of the client', async () => {
  const [a, b] = [await relay(), await relay()];
  const { sk, pk } = newKey();
  const client = new MailboxClient({ secretKey: sk, relays: [a.url, b.url] });
  const v = new Uint8Array(randomBytes(100));
  await client.publishRecord('receipt-tickets', v);
  for (const r of [a, b]) {
    const got = await fetchRecord(encodeMailboxAddress({ publicKey: pk, relays: [r.url] }), 'receipt-tickets');
    assert.equal(got && Buffer.from(got), Buffer.from(v), r.url);
  }
});

t('no relay accepts: the common code, or ALL_RELAYS_FAILED when they differ', async () => {
  const { sk } = newKey();
  const downs = [`http://127.0.0.1:${await closedPort()}`, `http://127.0.0.1:${await closedPort()}`];
  await rejectsCode(new MailboxClient({ secretKey: sk, relays: downs }).publishRecord('x', new Uint8Array(1)), ErrorCode.RELAY_UNREACHABLE);
  const full = await relay();
  const client = new MailboxClient({ secretKey: sk, relays: [full.url] });
  for (let i = 0; i < MAX_RECORDS_PER_MAILBOX; i++) await client.publishRecord(`r${i}`, new Uint8Array(1));
  await rejectsCode(client.publishRecord('one-more', new Uint8Array(1)), ErrorCode.RECORD_LIMIT);
  const mixed = new MailboxClient({ secretKey: sk, relays: [full.url, downs[0]!] });
  await rejectsCode(mixed.publishRecord('one-more', new Uint8Array(1)), ErrorCode.ALL_RELAYS_FAILED);
  const address = encodeMailboxAddress({ publicKey: newKey().pk, relays: downs });
  await rejectsCode(fetchRecord(address, 'hub-terms'), ErrorCode.RELAY_UNREACHABLE, 'unknown is not "absent"');
});

t('bad names and oversized bodies are refused before anything is sent', async () => {
  let calls = 0;
  const counting = (async () => {
    calls++;
    throw new Error('nothing may be sent');
  }) as typeof fetch;
  const { sk, pk } = newKey();
  const client = new MailboxClient({ secretKey: sk, relays: ['http://127.0.0.1:1'], fetch: counting });
  await rejectsCode(client.publishRecord('Hub-Terms', new Uint8Array(1)), ErrorCode.BAD_REQUEST);
  await rejectsCode(client.publishRecord('-x', new Uint8Array(1)), ErrorCode.BAD_REQUEST);
  await rejectsCode(client.publishRecord(7 as unknown as string, new Uint8Array(1)), ErrorCode.INVALID_TYPE);
  await rejectsCode(client.publishRecord('x', 'text' as unknown as Uint8Array), ErrorCode.INVALID_TYPE);
  await rejectsCode(client.publishRecord('x', new Uint8Array(MAX_RECORD_BYTES + 1)), ErrorCode.BODY_TOO_LARGE);
  await rejectsCode(client.deleteRecord('a'.repeat(33)), ErrorCode.BAD_REQUEST);
  const address = encodeMailboxAddress({ publicKey: pk, relays: ['http://127.0.0.1:1'] });
  await rejectsCode(fetchRecord(address, 'x y', { fetch: counting }), ErrorCode.BAD_REQUEST);
  await rejectsCode(fetchRecord('lnmb1nonsense', 'x', { fetch: counting }), ErrorCode.ADDRESS_BAD_ENCODING);
  assert.is(calls, 0);
});

t('a relay whose answer is not a record is RELAY_BAD_RESPONSE, and the next relay is asked', async () => {
  const { sk, pk } = newKey();
  const good = await relay();
  await new MailboxClient({ secretKey: sk, relays: [good.url] }).publishRecord('hub-terms', new Uint8Array([1, 2, 3]));
  const json = await hostile((res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"terms":"trust me"}'));
  const huge = await hostile((res) =>
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(MAX_RECORD_BYTES + 1)),
  );
  const empty404 = await hostile((res) => res.writeHead(404).end());
  for (const bad of [json, huge, empty404]) {
    await rejectsCode(fetchRecord(encodeMailboxAddress({ publicKey: pk, relays: [bad] }), 'hub-terms'), ErrorCode.RELAY_BAD_RESPONSE, bad);
    const got = await fetchRecord(encodeMailboxAddress({ publicKey: pk, relays: [bad, good.url] }), 'hub-terms');
    assert.equal(got && [...got], [1, 2, 3], `past ${bad}`);
  }
});

t.run();
