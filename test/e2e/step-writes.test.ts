/**
 * What a payment writes to each role's store, call by call. A step's nonce
 * records (the committed R it sends, the signature it spends a nonce on)
 * and, for a step that handled an envelope, the envelope's processed mark
 * ride in the step's own atomic batch: one write and one fsync with the
 * state and the outbox, never a write of their own. So a nonce record is
 * durable exactly when the message carrying its R or signature is, and an
 * envelope whose effects are stored is never processed again. Real
 * runtimes, a relay process and LevelDB stores, each wrapped to record
 * its calls. The writes whose loss only repeats work (a posted outbox
 * entry's removal, a relay's cursor) ride in the next step's batch too.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Kv } from '../../client/mailbox/kv.js';
import { recordingKv, type KvCall } from '../helpers.js';
import { makeE2E, spawnRelay, until, type RelayProc } from './world.js';

const t = suite('e2e/step-writes');
let relay: RelayProc;

t.before(async () => {
  relay = await spawnRelay();
});
t.after(async () => {
  await relay.kill();
});

const NONCE = 'nonce/rec/';
const STATE = 'role/state';
const OUTBOX = 'role/outbox/';
const isMark = (k: string) => k.startsWith('lnmb/mailbox/') && k.includes('/seen/');

t('a payment’s nonce records and processed marks are written in the batches of the steps that made them', async () => {
  const calls: Record<'A' | 'S' | 'B', KvCall[]> = { A: [], S: [], B: [] };
  const wrapKv = (role: 'A' | 'S' | 'B', kv: Kv): Kv => recordingKv(kv, calls[role]).kv;
  const w = await makeE2E({ A: [relay.url], S: [relay.url], B: [relay.url] }, { wrapKv });
  const received = { A: 0, S: 0, B: 0 };
  const S = await w.open.S();
  S.on('received', () => received.S++);
  const A = await w.open.A();
  A.on('received', () => received.A++);
  await A.payOffline(w.addr.B, 20_000);
  await until(() => w.events.A.some((e) => e.kind === 'offered'), 'offered');
  const B = await w.open.B();
  B.on('received', () => received.B++);
  await until(() => w.events.A.some((e) => e.kind === 'completed'), 'the payer holds its receipt', 30_000);
  await until(() => w.events.S.some((e) => e.kind === 'paid'), 'the hub paid');
  await until(() => S.balances().inFlight.outgoing === 0 && S.balances().inFlight.incoming === 0, 'nothing in flight at the hub');
  // The payer's completion (and with it its last processed mark) comes before the hub's settlement ends.
  await until(() => received.A > 0 && calls.A.some((c) => c.keys.some(isMark)), 'the payer to mark what it processed');
  await Promise.all([A.close(), B.close(), S.close()]);

  const lines: string[] = [];
  for (const role of ['A', 'S', 'B'] as const) {
    const all = calls[role];
    const single = all.filter((c) => c.kind !== 'batch').flatMap((c) => c.keys);
    assert.equal(
      single.filter((k) => k.startsWith(NONCE)),
      [],
      `${role}: no nonce record written on its own`,
    );
    assert.equal(single.filter(isMark), [], `${role}: no processed mark written on its own`);
    const nonceBatches = all.filter((c) => c.kind === 'batch' && c.keys.some((k) => k.startsWith(NONCE)));
    if (process.env.DEBUG_WRITES) console.log(role, JSON.stringify(all.map((c) => [c.kind, c.keys.map((k) => k.slice(0, 40))])));
    // The hub commits and spends update nonces in every payment (the payer's and payee's may come from the open).
    if (role === 'S') assert.ok(nonceBatches.length >= 2, `${role}: the payment committed and spent nonces`);
    for (const b of nonceBatches) assert.ok(b.keys.includes(STATE), `${role}: nonce records ride in a step's batch`);
    const marks = all.flatMap((c) => c.keys.filter(isMark));
    assert.ok(
      marks.length >= received[role] && received[role] > 0,
      `${role}: ${marks.length} marks for ${received[role]} steps on envelopes`,
    );
    const stepMarks = all.filter((c) => c.kind === 'batch' && c.keys.includes(STATE) && c.keys.some(isMark)).length;
    assert.ok(stepMarks >= received[role], `${role}: each envelope a step handled is marked in that step's batch`);
    // A posted entry's removal (with its retraction record) and a relay's cursor only repeat work when lost:
    // they are held and ride in the next step's batch, or go together after a pause; never one write each.
    const steps = all.filter((c) => c.kind === 'batch' && c.keys.includes(STATE)).length;
    const others = all.length - steps;
    const removals = all.flatMap((c) => c.keys.filter((k) => k.startsWith(OUTBOX))).length;
    assert.ok(others < steps, `${role}: ${others} writes besides its ${steps} steps (${removals} outbox keys written)`);
    if (role === 'S')
      assert.ok(
        all.some((c) => c.kind === 'batch' && c.keys.includes(STATE) && c.keys.some((k) => k.includes('/cursor/'))),
        'S: a cursor rode in a step',
      );
    lines.push(`${role}: ${all.length} writes (${all.filter((c) => c.kind === 'batch').length} batches, ${single.length} single)`);
  }
  console.log(`    writes per role over one payment: ${lines.join('; ')}`);
});

t.run();
