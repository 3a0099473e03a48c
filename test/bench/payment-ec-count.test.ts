/**
 * EC operations per role of one payment by offer (payer A, hub S, payee B),
 * counted with the bench's hook (bench/load/ec-count.mjs) around the payment
 * bench's worker: real runtimes on LevelDB, a real relay. Counting is
 * deterministic (unlike time), so the counts are pinned exactly, and both
 * payments must stay within the targets
 * (docs/performance.md, "Every EC operation of one payment by offer, per role").
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EC_COUNT, startRelayProc } from '../../bench/context.js';
import { spawnWorker } from '../../bench/rpc.js';

const t = suite('bench/payment-ec-count');

type Pay = { counts: Record<string, number> };
const TARGETS = { S: 50, B: 40, A: 30 };

function perRole(counts: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(counts)) {
    const role = k.split(':')[0]!;
    out[role] = (out[role] ?? 0) + v;
  }
  return out;
}

t('per-role EC operations of a first and a later payment over the same channels: pinned, and within the targets', async () => {
  const relay = await startRelayProc(EC_COUNT);
  const pay = spawnWorker('load/payment.ts', EC_COUNT);
  try {
    const r = await pay.call<{ first: Pay; later: Pay }>('runTwice', relay.url, 50_000);
    const first = perRole(r.first.counts);
    const later = perRole(r.later.counts);
    // The first payment also derives the S–B channel's two PTLC keys (S and B each; once per
    // channel), starts the hub (its relay connection) and has A compute B's receipt key (once per payee).
    assert.equal(first, { S: 50, B: 40, A: 23 }, `first payment: ${JSON.stringify(r.first.counts)}`);
    assert.equal(later, { S: 47, B: 38, A: 22 }, `later payment: ${JSON.stringify(r.later.counts)}`);
    for (const role of ['S', 'B', 'A'] as const) {
      assert.ok(first[role]! <= TARGETS[role], `${role}, first payment: ${first[role]} > ${TARGETS[role]} EC operations`);
      assert.ok(later[role]! <= TARGETS[role], `${role}, later payment: ${later[role]} > ${TARGETS[role]} EC operations`);
    }
  } finally {
    await pay.stop();
    await relay.stop();
  }
});

t.run();
