import net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { schnorr } from '@noble/curves/secp256k1.js';
import { MailboxClient } from '../../../client/index.js';
import { normalizeRelayUrl } from '../../../protocol/address.js';
import { ENVELOPE_MIN_LEN, ErrorCode, LnMailboxError, envelopeIdHex } from '../../../protocol/index.js';
import { rejectsCode, throwsCode } from '../../helpers.js';

/** A header-valid envelope for `recipient` (the client never decrypts, so the body need not open). */
function envelopeFor(recipient: Uint8Array, fill = 7): Uint8Array {
  const e = new Uint8Array(ENVELOPE_MIN_LEN).fill(fill);
  e[0] = 1;
  e.set(recipient, 1);
  return e;
}

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const t = suite('client/mailbox-client input');
const sk = schnorr.utils.randomSecretKey();
const other = schnorr.getPublicKey(schnorr.utils.randomSecretKey());

t('constructor validates its options', () => {
  throwsCode(() => new MailboxClient(undefined as never), ErrorCode.INVALID_TYPE);
  throwsCode(() => new MailboxClient({ secretKey: new Uint8Array(31), relays: ['http://a'] }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => new MailboxClient({ secretKey: new Uint8Array(32), relays: ['http://a'] }), ErrorCode.INVALID_SECRET_KEY);
  throwsCode(() => new MailboxClient({ secretKey: sk, relays: [] }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => new MailboxClient({ secretKey: sk, relays: 'http://a' as never }), ErrorCode.INVALID_TYPE);
  throwsCode(() => new MailboxClient({ secretKey: sk, relays: ['ftp://a'] }), ErrorCode.ADDRESS_BAD_RELAY_URL);
  throwsCode(() => new MailboxClient({ secretKey: sk, relays: ['http://u:p@a'] }), ErrorCode.ADDRESS_BAD_RELAY_URL);
  throwsCode(() => new MailboxClient({ secretKey: sk, relays: ['http://a'], reconnect: { minMs: 10, maxMs: 1 } }), ErrorCode.INVALID_RANGE);
  throwsCode(() => new MailboxClient({ secretKey: sk, relays: ['http://a'], timeoutMs: 0 }), ErrorCode.INVALID_RANGE);
  const c = new MailboxClient({ secretKey: sk, relays: ['HTTP://Relay.Example:80/', 'http://relay.example', 'https://r2.example/mbx/'] });
  assert.equal(c.relays, ['http://relay.example', 'https://r2.example/mbx'], 'normalized and de-duplicated');
  assert.equal(c.publicKey, schnorr.getPublicKey(sk));
  assert.is(c.mailboxId.length, 64);
});

t('normalizeRelayUrl: one spelling per relay, and only URLs an address may hold (SPEC 2.4)', () => {
  assert.is(normalizeRelayUrl('https://R.example:443/a/b//'), 'https://r.example/a/b');
  assert.is(normalizeRelayUrl('http://127.0.0.1:8080/'), 'http://127.0.0.1:8080');
  // A query or fragment would be dropped or misplaced by the appended /v1 paths: refused, not stripped.
  assert.is(normalizeRelayUrl('HTTPS://r.example'), 'https://r.example');
  for (const bad of ['https://r.example/a?x=1', 'https://r.example/a#f', 'https://r.example/?', ' https://r.example', 'https://'])
    throwsCode(() => normalizeRelayUrl(bad), ErrorCode.ADDRESS_BAD_RELAY_URL, bad);
  throwsCode(() => normalizeRelayUrl('nope'), ErrorCode.ADDRESS_BAD_RELAY_URL);
  throwsCode(() => normalizeRelayUrl(5), ErrorCode.ADDRESS_BAD_RELAY_URL);
  throwsCode(() => new MailboxClient({ secretKey: sk, relays: ['https://r.example/?x=1'] }), ErrorCode.ADDRESS_BAD_RELAY_URL);
});

t('post validates before touching the network', async () => {
  const c = new MailboxClient({ secretKey: sk, relays: ['http://127.0.0.1:1'] });
  const dest = { publicKey: other, relays: ['http://127.0.0.1:1'] };
  await rejectsCode(c.post(dest, envelopeFor(schnorr.getPublicKey(sk))), ErrorCode.MAILBOX_MISMATCH);
  await rejectsCode(c.post(dest, new Uint8Array(10).fill(1)), ErrorCode.ENVELOPE_TRUNCATED);
  await rejectsCode(c.post(dest, envelopeFor(other).fill(2, 0, 1)), ErrorCode.ENVELOPE_UNKNOWN_VERSION);
  await rejectsCode(c.post(dest, 'abc' as never), ErrorCode.INVALID_TYPE);
  await rejectsCode(c.post(dest, envelopeFor(other), { ttlSeconds: 0 }), ErrorCode.TTL_INVALID);
  await rejectsCode(c.post(dest, envelopeFor(other), { ttlSeconds: 1.5 }), ErrorCode.TTL_INVALID);
  await rejectsCode(c.post(dest, envelopeFor(other), { retractionSecret: new Uint8Array(5) }), ErrorCode.INVALID_LENGTH);
  await rejectsCode(c.post({ publicKey: other, relays: [] }, envelopeFor(other)), ErrorCode.INVALID_LENGTH);
  await rejectsCode(c.post(null as never, envelopeFor(other)), ErrorCode.INVALID_TYPE);
  await rejectsCode(c.post('lnmb1notanaddress', envelopeFor(other)), ErrorCode.ADDRESS_BAD_ENCODING);
  await rejectsCode(c.status('http://127.0.0.1:1', 'xyz'), ErrorCode.INVALID_HEX);
  await rejectsCode(c.retract(['http://127.0.0.1:1'], new Uint8Array(32), new Uint8Array(31)), ErrorCode.INVALID_LENGTH);
});

t('relays that cannot be reached: RELAY_UNREACHABLE, per relay and in aggregate', async () => {
  const p1 = await closedPort();
  const p2 = await closedPort();
  const c = new MailboxClient({ secretKey: sk, relays: [`http://127.0.0.1:${p1}`] });
  const env = envelopeFor(other);
  try {
    await c.post({ publicKey: other, relays: [`http://127.0.0.1:${p1}`, `http://127.0.0.1:${p2}`] }, env);
    assert.unreachable('post to two dead relays must fail');
  } catch (e) {
    assert.instance(e, LnMailboxError);
    assert.is((e as LnMailboxError).code, ErrorCode.RELAY_UNREACHABLE, 'both failed the same way: that code');
    const agg = (e as Error).cause as AggregateError;
    assert.instance(agg, AggregateError);
    assert.is(agg.errors.length, 2);
  }
  await rejectsCode(c.status(`http://127.0.0.1:${p1}`, envelopeIdHex(env)), ErrorCode.RELAY_UNREACHABLE);
  await rejectsCode(
    c.fetchBacklog(() => undefined),
    ErrorCode.RELAY_UNREACHABLE,
  );
});

t('subscribe needs a WebSocket implementation and a handler', () => {
  const g = globalThis as { WebSocket?: unknown };
  const saved = g.WebSocket;
  g.WebSocket = undefined;
  try {
    const c = new MailboxClient({ secretKey: sk, relays: ['http://127.0.0.1:1'] });
    throwsCode(() => c.subscribe(() => undefined), ErrorCode.INVALID_TYPE);
  } finally {
    g.WebSocket = saved;
  }
  const c = new MailboxClient({ secretKey: sk, relays: ['http://127.0.0.1:1'], WebSocket });
  throwsCode(() => c.subscribe('nope' as never), ErrorCode.INVALID_TYPE);
});

t('a subscription to a dead relay reports errors, keeps retrying, and closes cleanly', async () => {
  const port = await closedPort();
  const c = new MailboxClient({ secretKey: sk, relays: [`http://127.0.0.1:${port}`], WebSocket, reconnect: { minMs: 5, maxMs: 20 } });
  const sub = c.subscribe(() => undefined);
  const codes: string[] = [];
  let disconnects = 0;
  sub.on('error', (_r, e) => codes.push(e.code));
  sub.on('disconnected', () => disconnects++);
  await new Promise<void>((resolve) => {
    const check = (): void => void (disconnects >= 3 ? resolve() : setTimeout(check, 5));
    check();
  });
  await sub.close();
  assert.ok(codes.length >= 3 && codes.every((c) => c === ErrorCode.RELAY_UNREACHABLE), codes.join());
  const after = disconnects;
  await new Promise((r) => setTimeout(r, 60));
  assert.is(disconnects, after, 'no reconnect after close');
});

t.run();
