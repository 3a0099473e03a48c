/**
 * docs/mailbox-client.md, run as written against a real relay: create,
 * seal and post, status, subscribe and open, retract, records, fetchBacklog.
 * If the guide's calls stop working, this fails.
 */
import fs from 'node:fs';
import os from 'node:os';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { LevelKv, MailboxClient, bytesToHex, decodeMailboxAddress, fetchRecord, randomSecretKey } from '../../client/index.js';
import { open, seal } from '../../protocol/index.js';
import { eventually, startTestRelay } from '../server/relay-harness.js';

const t = suite('docs: the mailbox client guide');

t('the walkthrough of docs/mailbox-client.md', async () => {
  const r = await startTestRelay({ now: Date.now });
  const dir = fs.mkdtempSync(`${os.tmpdir()}/lnmb-guide-`);
  const kvs: LevelKv[] = [];
  try {
    const kv = (name: string) => {
      const k = new LevelKv(`${dir}/${name}`);
      kvs.push(k);
      return k;
    };
    // "Create one": a recipient, and a sender.
    const secretKey = randomSecretKey();
    const client = new MailboxClient({ secretKey, relays: [r.url], kv: kv('recipient'), WebSocket });
    const senderKey = randomSecretKey();
    const sender = new MailboxClient({ secretKey: senderKey, relays: [r.url], kv: kv('sender'), WebSocket });
    assert.is(client.mailboxId.length, 64);
    const address = client.address();
    assert.match(address, /^lnmb1/);

    // "Send: seal, then post".
    const to = decodeMailboxAddress(address);
    const envelope = seal({ senderSecretKey: senderKey, recipient: to.publicKey, type: 0x8001, body: new TextEncoder().encode('hello') });
    const retractionSecret = crypto.getRandomValues(new Uint8Array(32));
    const { id, results } = await sender.post(to, envelope, { ttlSeconds: 7 * 86400, retractionSecret });
    assert.is(results.length, 1);
    assert.ok(results[0]!.ok && results[0]!.created);
    assert.is(await sender.status(r.url, id), 'queued');
    // A second one, retracted before it is read.
    const other = seal({ senderSecretKey: senderKey, recipient: to.publicKey, type: 0x8001, body: new TextEncoder().encode('never mind') });
    const otherSecret = crypto.getRandomValues(new Uint8Array(32));
    const posted = await sender.post(address, other, { retractionSecret: otherSecret });
    const retracted = await sender.retract(to, posted.id, otherSecret);
    assert.equal(retracted.results[0], { relay: r.url, ok: true, status: 'retracted' });

    // "Receive: subscribe".
    const saved: { sender: string; type: number; body: string }[] = [];
    const sub = client.subscribe(async (msg) => {
      const m = open(msg.envelope, secretKey);
      saved.push({ sender: bytesToHex(m.sender), type: m.type, body: new TextDecoder().decode(m.body) });
    });
    const caughtUp = new Promise<number>((resolve) => sub.on('backlog_end', (_relay, seq) => resolve(seq)));
    assert.ok((await caughtUp) >= 1);
    // backlog_end says the relay has sent the backlog; the handler and the ack follow.
    await eventually(async () => (await sender.status(r.url, id)) === 'acknowledged', 5000, 'the ack');
    await sub.close();
    assert.equal(saved, [{ sender: sender.mailboxId, type: 0x8001, body: 'hello' }]);
    assert.ok((await client.cursor(r.url)) >= 1);

    // "Pull: fetchBacklog": nothing new; then one more.
    assert.equal(await client.fetchBacklog(() => assert.unreachable('already processed')), [{ relay: r.url, handled: 0, duplicates: 0 }]);
    await sender.post(address, seal({ senderSecretKey: senderKey, recipient: to.publicKey, type: 0x8002, body: new Uint8Array(1) }));
    const types: number[] = [];
    const perRelay = await client.fetchBacklog((msg) => void types.push(open(msg.envelope, secretKey).type), { pageSize: 100 });
    assert.equal([perRelay[0]!.handled, types], [1, [0x8002]]);

    // "Records".
    await client.publishRecord('profile', new Uint8Array([1, 2, 3]));
    assert.equal(await fetchRecord(address, 'profile'), new Uint8Array([1, 2, 3]));
    await client.deleteRecord('profile');
    assert.is(await fetchRecord(address, 'profile'), null);
  } finally {
    for (const k of kvs) await k.close();
    await r.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
