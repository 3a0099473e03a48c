/**
 * A step whose write fails is undone. The store refuses one write (a full
 * disk, an I/O error) after the engine has already handled a message in
 * memory. The runtime must put the engine back as it was, so that memory
 * never runs ahead of the store. Otherwise the message, delivered again,
 * is ignored as a duplicate and the answers of the lost step are never
 * sent: the payment hangs, and the watchtower acts on a state that a
 * restart does not find. Real runtimes, a relay process and LevelDB
 * stores, each wrapped so that one chosen write fails.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Kv, KvOp } from '../../client/mailbox/kv.js';
import { overKv } from '../helpers.js';
import { makeE2E, spawnRelay, until, type RelayProc } from './world.js';

const t = suite('e2e/step-write-fails');
let relay: RelayProc;

t.before(async () => {
  relay = await spawnRelay();
});
t.after(async () => {
  await relay.kill();
});

const OUTBOX = 'role/outbox/';

/** `kv` whose next batch writing an outbox entry fails once, after `armed()` says so; `failed` counts the refusals. */
function failingOnce(kv: Kv, armed: () => boolean): { kv: Kv; failed: () => number } {
  let failed = 0;
  let done = false;
  return {
    failed: () => failed,
    kv: overKv(kv, {
      batch: (ops: KvOp[]) => {
        if (!done && armed() && ops.some((o) => o.key.startsWith(OUTBOX))) {
          done = true;
          failed++;
          return Promise.reject(new Error('injected write failure: no space left on device'));
        }
        return kv.batch(ops);
      },
    }),
  };
}

for (const role of ['S', 'A', 'B'] as const) {
  t(
    `the ${role === 'S' ? 'hub' : role === 'A' ? 'payer' : 'payee'}’s first step of a payment that fails to write is handled again, and the payment completes`,
    async () => {
      let arm = false;
      let wrapped: ReturnType<typeof failingOnce> | undefined;
      const w = await makeE2E(
        { A: [relay.url], S: [relay.url], B: [relay.url] },
        {
          wrapKv: (r, kv) => {
            if (r !== role) return kv;
            wrapped = failingOnce(kv, () => arm);
            return wrapped.kv;
          },
        },
      );
      const errors: Error[] = [];
      const S = await w.open.S();
      const A = await w.open.A();
      const B = await w.open.B();
      for (const n of [S, A, B]) n.on('error', (e) => errors.push(e));
      arm = true;
      // The payer's own call is a step too: when its write fails, pay throws and nothing is sent.
      let offerId: string | undefined;
      for (let i = 0; i < 2 && offerId === undefined; i++) {
        try {
          offerId = await A.payOffline(w.addr.B, 20_000);
        } catch (e) {
          assert.is(role, 'A', `only the payer's own write fails its call (${(e as Error).message})`);
          assert.match((e as Error).message, /injected write failure/);
          assert.is(A.payments().length, 0, 'the refused call left no payment behind');
        }
      }
      assert.ok(offerId, 'the payment was started');
      await until(() => w.events.A.some((e) => e.kind === 'completed'), 'the payer holds its receipt', 30_000);
      await until(() => w.events.S.some((e) => e.kind === 'paid'), 'the hub paid');
      await until(() => w.events.B.some((e) => e.kind === 'paid'), 'the payee was paid');
      assert.is(wrapped!.failed(), 1, 'exactly one write failed');
      if (role !== 'A')
        assert.ok(
          errors.some((e) => /injected write failure/.test(e.message)),
          'the failure was reported',
        );
      assert.not.ok(
        errors.some((e) => /runtime stopped/.test(e.message)),
        'the engine was put back: the runtime did not have to stop',
      );
      // Nothing is left half done: the balances moved exactly once.
      assert.is(A.balances().inFlight.outgoing, 0);
      assert.is(S.balances().inFlight.outgoing + S.balances().inFlight.incoming, 0);
      await Promise.all([A.close(), B.close(), S.close()]);
    },
  );
}

t.run();
