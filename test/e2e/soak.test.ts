/**
 * Soak: the payer pays and exits at `offered`; the payee starts only after
 * the payer is gone; the payment completes. Many payments in a row, each
 * role in its own process, with random SIGKILLs of the payee, the hub and
 * the relay (restarted on the same store / data dir and port) while the
 * payer or the payee is at work. At the end every payment is completed at
 * the payer with a receipt that verifies, and the three stores agree on the
 * balances: nothing paid twice, nothing lost.
 *
 * `SOAK_N` sets the number of payments (default 6, sized for CI);
 * `SOAK_SEED` replays a run's random choices (the seed is printed on failure).
 */
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hexToBytes } from '../../base/bytes.js';
import { verifyReceipt } from '../../protocol/receipt.js';
import { hubFee } from '../../engine/payment/fee.js';
import { HUB_FEE, makeE2E, spawnRelay, until, type RelayProc } from './world.js';
import { buildRoleFixture, roleConfig, spawnRole, type Line, type RoleProc } from './role-procs.js';

const t = suite('e2e/soak');
const N = Number(process.env.SOAK_N ?? 6);
const SEED = Number(process.env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
const AMOUNT = 10_000;
const FEE = hubFee(AMOUNT, HUB_FEE);
const WAIT_MS = 60_000;

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with SOAK_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t(`soak: ${N} payments, the payer exits at \`offered\`, the payee starts afterwards; random kills of payee, hub and relay`, async () => {
  const random = prng(SEED);
  const log: string[] = [];
  let relay: RelayProc = await spawnRelay();
  const fixture = await buildRoleFixture();
  const w = await makeE2E({ A: [relay.url], S: [relay.url], B: [relay.url] });
  const dir = path.dirname(fixture);
  const cfg = (role: 'A' | 'S' | 'B') => {
    const c = roleConfig(w, role, relay.url, AMOUNT);
    if (c.payer?.pay) c.payer.pay = { ...c.payer.pay, repeat: true, exitOnOffered: true };
    if (c.payee) c.payee.publishTickets = 16;
    const file = path.join(dir, `${role}.json`);
    fs.writeFileSync(file, JSON.stringify(c));
    return file;
  };
  const paths = { A: cfg('A'), S: cfg('S'), B: cfg('B') };
  let hub: RoleProc = spawnRole(fixture, paths.S);
  const payeeRuns: RoleProc[] = [];
  let payee: RoleProc | undefined;
  const runs = { relay: 0, S: 0, B: 0 };

  /** SIGKILLs one of the always-on parts (or the payee, when it runs) and restarts it. */
  const chaos = async (who: 'relay' | 'S' | 'B', delayMs: number): Promise<void> => {
    await sleep(delayMs);
    log.push(`kill ${who} after ${delayMs} ms`);
    if (who === 'relay') {
      await relay.kill('SIGKILL');
      relay = await spawnRelay(relay.dir, relay.port);
      runs.relay++;
    } else if (who === 'S') {
      await hub.kill('SIGKILL');
      hub = spawnRole(fixture, paths.S);
      runs.S++;
    } else if (payee !== undefined) {
      await payee.kill('SIGKILL');
      payee = spawnRole(fixture, paths.B);
      payeeRuns.push(payee);
      runs.B++;
    }
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const paidAtPayee = (offerId: string) =>
    payeeRuns.some((r) =>
      r.lines.some((l: Line) => (l.kind === 'paid' && l.offerId === offerId) || (l.kind === 'started' && l.statuses?.[offerId] === 'paid')),
    );

  const offers: string[] = [];
  try {
    for (let i = 0; i < N; i++) {
      // The payer: pays once the previous payment completed, exits right after `offered`.
      const payer = spawnRole(fixture, paths.A);
      const duringPayer = random() < 0.5 ? chaos(pick(['relay', 'S'] as const), Math.floor(random() * 400)) : Promise.resolve();
      await until(() => payer.done(), `payer run ${i} to exit after \`offered\``, WAIT_MS);
      await duringPayer;
      const paying = payer.lines.find((l) => l.kind === 'paying');
      const exit = payer.lines.find((l) => l.kind === 'exit') as (Line & { drained?: boolean }) | undefined;
      assert.ok(paying?.offerId, `payer run ${i} paid (${JSON.stringify(payer.lines.slice(-3))})`);
      const offerId = paying!.offerId!;
      assert.ok(
        payer.lines.some((l) => l.kind === 'offered' && l.offerId === offerId),
        'the payer exited on `offered`',
      );
      assert.is(exit?.drained, true, 'its outbox was drained');
      assert.not.ok(offers.includes(offerId));
      offers.push(offerId);
      log.push(`payment ${i}: ${offerId.slice(0, 8)} offered, payer gone`);

      // The payee starts only now, and completes the payment with the hub, through kills.
      payee = spawnRole(fixture, paths.B);
      payeeRuns.push(payee);
      const duringPayee = random() < 0.7 ? chaos(pick(['relay', 'S', 'B'] as const), Math.floor(random() * 600)) : Promise.resolve();
      await until(() => paidAtPayee(offerId), `the payee to be paid for payment ${i}`, WAIT_MS);
      await duringPayee;
      // The payee goes offline: gracefully or not.
      await payee.kill(random() < 0.5 ? 'SIGKILL' : 'SIGTERM');
      payee = undefined;
    }

    // Every payment completed at the payer, with a receipt that verifies.
    await hub.kill('SIGTERM');
    const S = await w.open.S();
    const A = await w.open.A();
    // Through the query API: a payment completed before the next one started has left the
    // engine's state for the payer's archive, which payments() lists with the rest.
    const payerStatus = (id: string) => A.payments().find((x) => x.offerId === id)?.status ?? 'none';
    await until(() => offers.every((id) => payerStatus(id) === 'completed'), 'every payment to be completed at the payer', WAIT_MS).catch(
      (e: Error) => {
        const hubStatus = (id: string) => S.payments().find((x) => x.offerId === id)?.status ?? 'none';
        throw new Error(
          `${e.message} (${offers.map((id) => `${id.slice(0, 8)}: payer ${payerStatus(id)}, hub ${hubStatus(id)}`).join('; ')})`,
        );
      },
    );
    for (const id of offers) {
      const p = A.payments().find((x) => x.offerId === id)!;
      assert.ok(verifyReceipt(hexToBytes(p.receipt!.receipt), w.addr.B), `receipt of ${id}`);
    }
    const B = await w.open.B();
    const n = offers.length;
    assert.equal(A.engine.channel.enforceable.state.balances, [600_000 - n * (AMOUNT + FEE), 399_000 + n * (AMOUNT + FEE)]);
    assert.equal(B.engine.channel.enforceable.state.balances, [700_000 - n * AMOUNT, 299_000 + n * AMOUNT]);
    // The payee's last acknowledgement may still wait in the hub's mailbox (the payee posted it
    // and went offline): the hub, back online, must take it; then both views agree exactly.
    const agrees = () =>
      [...S.engine.peers.values()].every(
        (peer) =>
          JSON.stringify(peer.channel.enforceable.state) ===
          JSON.stringify((peer.channel.me === 1 ? A.engine.channel : B.engine.channel).enforceable.state),
      );
    await until(agrees, 'the hub to take every message its peers left in its mailbox', WAIT_MS).catch(() => undefined);
    for (const peer of S.engine.peers.values()) {
      const mine = peer.channel.me === 1 ? A.engine.channel : B.engine.channel;
      assert.equal(peer.channel.enforceable.state, mine.enforceable.state, 'the hub agrees with each peer');
    }
    await Promise.all([A.close(), B.close(), S.close()]);
    console.log(`soak: ${n} payments; restarts: relay ${runs.relay}, hub ${runs.S}, payee ${runs.B} (SOAK_SEED=${SEED})`);
  } catch (e) {
    console.error(`soak failed with SOAK_SEED=${SEED}\n${log.join('\n')}`);
    throw e;
  } finally {
    await payee?.kill('SIGKILL');
    await hub.kill('SIGKILL');
    await relay.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
