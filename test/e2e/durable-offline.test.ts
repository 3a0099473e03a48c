/**
 * "You may go offline now" is true: `offered` fires only once the offer is
 * stored on one of the payee's relays, `close()` drains the outbox (or says
 * it could not), `cancelled` only once the offer envelope is retracted, and
 * `payOffline` rejects when no relay of the hub takes the proposal.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../base/errors.js';
import { PaymentType } from '../../protocol/payment.js';
import { RoleRuntime } from '../../client/wallet/runtime.js';
import { LevelKv } from '../../client/mailbox/kv.js';
import { rejectsCode } from '../helpers.js';
import { spawnRelay, makeE2E, until, type RelayProc } from './world.js';

const t = suite('e2e/durable-offline');
const AMOUNT = 20_000;
let hubRelay: RelayProc;
let payeeRelay: RelayProc;

t.before(async () => {
  hubRelay = await spawnRelay();
  payeeRelay = await spawnRelay();
});
t.after(async () => {
  await hubRelay.kill();
  await payeeRelay.kill();
});

const has = (list: { kind: string }[], kind: string) => list.some((e) => e.kind === kind);

t(
  "payee's relays down: no `offered`, close() reports what is left; the restarted payer posts it and only then says `offered`",
  async () => {
    const w = await makeE2E({ A: [hubRelay.url], S: [hubRelay.url], B: [payeeRelay.url] });
    const S = await w.open.S();
    let A = await w.open.A();
    await payeeRelay.kill('SIGKILL');
    const offerId = await A.payOffline(w.addr.B, AMOUNT, { tickets: w.tickets });
    // The hub accepts; A's engine marks the payment offered, but the OFFER cannot be posted.
    await until(() => A.engine.payments.get(offerId)?.status === 'offered', 'the hub to accept');
    assert.not.ok(has(w.events.A, 'offered'), 'no `offered` while the offer is on no relay');
    const res = await A.close({ drainMs: 300 });
    assert.is(res.drained, false);
    assert.ok(res.pending >= 1, `pending ${res.pending}`);
    const kv = new LevelKv(w.A.dir);
    const left = await RoleRuntime.pendingOutbox(kv);
    await kv.close();
    assert.ok(
      left.some((e) => 'type' in e && e.type === PaymentType.OFFER),
      'the offer waits in the outbox',
    );
    assert.not.ok(has(w.events.A, 'offered'));

    payeeRelay = await spawnRelay(payeeRelay.dir, payeeRelay.port);
    A = await w.open.A();
    await until(() => has(w.events.A, 'offered'), 'the restarted payer to post the offer');
    // Offline at once, as the docs allow: the payee alone completes the payment with the hub.
    const r = await A.close({ drainMs: 1000 });
    assert.equal(r, { drained: true, pending: 0 });
    const B = await w.open.B();
    await until(() => has(w.events.B, 'paid'), 'B to be paid while A is offline');
    A = await w.open.A();
    await until(() => has(w.events.A, 'completed'), 'A to read the completion');
    await Promise.all([A.close(), B.close(), S.close()]);
  },
);

t('close() drains: a payer that closes right after payOffline still gets its offer to the payee', async () => {
  const w = await makeE2E({ A: [hubRelay.url], S: [hubRelay.url], B: [payeeRelay.url] });
  const S = await w.open.S();
  const A = await w.open.A();
  const offerId = await A.payOffline(w.addr.B, AMOUNT, { tickets: w.tickets });
  // The hub accepted: the OFFER is sealed into the outbox; closing now must post it, not drop it.
  await until(() => A.engine.payments.get(offerId)?.status === 'offered', 'the hub to accept');
  const res = await A.close({ drainMs: 10_000 });
  assert.equal(res, { drained: true, pending: 0 });
  assert.ok(has(w.events.A, 'offered'), '`offered` fired before close() resolved');
  const B = await w.open.B();
  await until(() => has(w.events.B, 'paid'), 'B to be paid');
  assert.is(B.engine.payments.get(offerId)!.status, 'paid');
  await Promise.all([B.close(), S.close()]);
});

t("`cancelled` waits for the retraction: payee's relays down, no `cancelled` until the offer envelope is void", async () => {
  const w = await makeE2E({ A: [hubRelay.url], S: [hubRelay.url], B: [payeeRelay.url] });
  const S = await w.open.S();
  const A = await w.open.A();
  let offerEnvelope = '';
  A.on('sent', (e) => {
    if (e.type === PaymentType.OFFER) offerEnvelope = e.id;
  });
  const offerId = await A.payOffline(w.addr.B, AMOUNT, { tickets: w.tickets });
  await until(() => has(w.events.A, 'offered'), 'the offer');
  await payeeRelay.kill('SIGKILL');
  await A.cancel(offerId);
  await until(() => A.engine.payments.get(offerId)?.status === 'cancelled', 'the hub to accept the cancellation');
  assert.not.ok(has(w.events.A, 'cancelled'), 'no `cancelled` while the offer is still in the payee mailbox');
  payeeRelay = await spawnRelay(payeeRelay.dir, payeeRelay.port);
  await until(() => has(w.events.A, 'cancelled'), 'the retraction');
  assert.is(await A.client.status(payeeRelay.url, offerEnvelope), 'retracted');
  await Promise.all([A.close(), S.close()]);
});

t('payOffline rejects RELAY_UNREACHABLE when no relay of the hub takes the proposal; the payment stays queued', async () => {
  const w = await makeE2E({ A: [hubRelay.url], S: [hubRelay.url], B: [payeeRelay.url] });
  const A = await w.open.A();
  await hubRelay.kill('SIGKILL');
  let err: unknown;
  await rejectsCode(
    A.payOffline(w.addr.B, AMOUNT, { tickets: w.tickets, postTimeoutMs: 500 }).catch((e: unknown) => {
      err = e;
      throw e;
    }),
    ErrorCode.RELAY_UNREACHABLE,
  );
  const offerId = (err as { offerId: string }).offerId;
  assert.is(A.engine.payments.get(offerId)?.status, 'proposed');
  hubRelay = await spawnRelay(hubRelay.dir, hubRelay.port);
  const S = await w.open.S();
  await until(() => has(w.events.A, 'offered'), 'the queued payment to go through once the relay is back');
  await Promise.all([A.close(), S.close()]);
});

t.run();
