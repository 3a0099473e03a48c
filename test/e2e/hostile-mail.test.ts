/**
 * Hostile mail to a role's mailbox: garbage envelopes, envelopes sealed for
 * someone else, valid envelopes with malformed or random payment bodies, and
 * well-formed payment messages from strangers. The role stays up, reports
 * typed errors, changes nothing, and a real payment then completes.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { schnorr } from '@noble/curves/secp256k1.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { seal } from '../../protocol/seal.js';
import { isLnMailboxError } from '../../base/errors.js';
import { encodePayment, PaymentType, PaymentSchemas, type PaymentMessage } from '../../protocol/payment.js';
import { MailboxClient } from '../../client/mailbox/mailbox-client.js';
import { spawnRelay, makeE2E, until, type RelayProc } from './world.js';
import WebSocket from 'ws';
import { prng } from '../helpers.js';

const t = suite('e2e/hostile-mail');
let relay: RelayProc;
t.before(async () => {
  relay = await spawnRelay();
});
t.after(async () => {
  await relay.kill();
});

function randomMessage(rand: () => number): PaymentMessage {
  const types = Object.values(PaymentType);
  const type = types[Math.floor(rand() * types.length)]!;
  const m: Record<string, unknown> = { type };
  for (const [name, kind] of PaymentSchemas[type]) {
    const len = { b32: 32, b33: 33, b64: 64, b65: 65 }[kind as string];
    if (len) m[name] = randomBytes(len);
    else if (kind === 'bytes') m[name] = randomBytes(Math.floor(rand() * 200));
    else if (kind === 'str') m[name] = 'x'.repeat(Math.floor(rand() * 50));
    else m[name] = Math.floor(rand() * 1000);
  }
  return m as PaymentMessage;
}

t(
  'garbage, mis-addressed and random payment mail is refused with typed errors; the payee stays consistent and then gets paid',
  async () => {
    const w = await makeE2E({ A: [relay.url], S: [relay.url], B: [relay.url] });
    const S = await w.open.S();
    const B = await w.open.B();
    const errors: unknown[] = [];
    B.on('error', (e) => errors.push(e));
    const stranger = schnorr.utils.randomSecretKey();
    const poster = new MailboxClient({ secretKey: stranger, relays: [relay.url], WebSocket: WebSocket as never });
    const dest = { publicKey: w.B.idPk, relays: [relay.url] };
    const rand = prng(0x5eed);
    const before = JSON.stringify(B.engine.toJSON());
    let posted = 0;
    // Envelopes the relay accepts (header addressed to B) but that do not open.
    for (let i = 0; i < 10; i++) {
      const junk = seal({
        senderSecretKey: stranger,
        recipient: schnorr.getPublicKey(schnorr.utils.randomSecretKey()),
        type: 1,
        body: randomBytes(40),
      });
      junk.set(w.B.idPk, 1); // re-addressed: the AEAD tag no longer matches
      await poster.post(dest, junk);
      posted++;
    }
    // Sealed properly, but the body is not a payment message, or a random (well-typed) one from a stranger.
    for (let i = 0; i < 40; i++) {
      const body = i % 2 ? randomBytes(Math.floor(rand() * 300)) : encodePayment(randomMessage(rand));
      const type = i % 2 ? 1 + Math.floor(rand() * 0x11) : body.length ? 0 : 1;
      const env = seal({ senderSecretKey: stranger, recipient: w.B.idPk, type: i % 2 ? type : 1, body });
      await poster.post(dest, env);
      posted++;
    }
    await until(() => errors.length >= 30, 'B to report the undecryptable and malformed mail', 20_000);
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(errors.length >= 10, `expected typed errors, got ${errors.length}`);
    for (const e of errors) assert.ok(isLnMailboxError(e), `untyped error: ${String(e)}`);
    assert.is(JSON.stringify(B.engine.toJSON()), before, 'no hostile message changed the payee state');
    // The mailbox was drained (everything acked), and a real payment still works.
    const A = await w.open.A();
    const offerId = await A.payOffline(w.addr.B, 10_000);
    await until(() => w.events.A.some((e) => e.kind === 'completed'), 'the payment to complete');
    assert.is(B.engine.payments.get(offerId)!.status, 'paid');
    assert.ok(posted === 50);
    await Promise.all([A.close(), B.close(), S.close()]);
  },
);

t.run();
