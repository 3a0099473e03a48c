/**
 * Channels between strangers, end to end: the payer A, the hub S and the
 * payee B each run in their own process (fixtures/open-process.ts) with
 * their own keys, LevelDB store, SingleKeyWallet and EsploraChainSource.
 * They share no secret: only the relay (a child process) and the chain
 * simulator this test serves over Esplora HTTP. In every world A opens and
 * funds A–S, B opens S–B (funded by S), both confirm, and A pays B
 * offline. Then, each case in a world of its own, enforcement on chain by
 * the roles' own watchtowers (SPEC 6.18), the payouts read from the chain's
 * UTXO set:
 * (a) A and S close A–S cooperatively: the chain pays each exactly its balance;
 * (b) A broadcasts its old state 0 and disappears: S's watchtower publishes
 *     the latest update over it and settles the latest state;
 * (c) S dies on receiving B's claim (PTLC_FULFILL): B closes alone and
 *     claims its PTLC on chain with the secret;
 * (d) B dies before claiming: S closes alone and refunds the timed-out PTLC;
 * (e) the mempool's minimum fee rate is above what A–S's update pays: S's
 *     watchtower bumps it with an input and change of its own wallet.
 */
import fs from 'node:fs';
import os from 'node:os';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex } from '../../base/bytes.js';
import type { OpenCrash } from './fixtures/open-process.js';
import { TERMS, startOpenWorld, writeConfig, type Line, type OpenWorld, type Party, type Proc } from './open-world.js';
import { until } from './world.js';

const t = suite('e2e/strangers');
const WAIT_MS = 60_000;
/** What A pays B, and the hub's fee for it under its terms (10 sats + 1000 ppm). */
const AMOUNT = 40_000;
const FEE = 10 + Math.floor((AMOUNT * 1000) / 1e6);
let w: OpenWorld;

t.before(async () => {
  w = await startOpenWorld();
});
t.after(async () => {
  await w.close();
});

/** Three strangers with their channels open and confirmed. */
interface Trio {
  A: Party;
  S: Party;
  B: Party;
  a: Proc;
  s: Proc;
  b: Proc;
  /** A–S and S–B channel ids (hex). */
  as: string;
  sb: string;
  cfgDir: string;
  dispose(): Promise<void>;
}

/** Starts S, then A and B, which open and fund their channels; mines until both are usable on all sides. */
async function trio(tag: string, crash: { S?: OpenCrash; B?: OpenCrash } = {}): Promise<Trio> {
  const S = w.party('S', tag),
    A = w.party('A', tag),
    B = w.party('B', tag);
  w.model.fundScript(S.walletScript, 5_000_000);
  w.model.fundScript(A.walletScript, 3_000_000);
  const cfgDir = fs.mkdtempSync(os.tmpdir() + '/lnmb-e2e-strangers-cfg-');
  const procs: Proc[] = [];
  const dispose = async () => {
    w.mining(0);
    for (const p of procs) await p.kill('SIGKILL');
    for (const d of [cfgDir, A.dir, S.dir, B.dir]) fs.rmSync(d, { recursive: true, force: true });
  };
  try {
    w.mining(100);
    const crashOf = (r: 'S' | 'B') => (crash[r] ? writeConfig(cfgDir, `crash-${r}.json`, crash[r]) : undefined);
    const s = w.spawn(writeConfig(cfgDir, 'S.json', w.config('S', S, S)), crashOf('S'));
    procs.push(s);
    await until(() => s.lines.some((l) => l.kind === 'flushed'), 'the hub to start', WAIT_MS);
    const wallet = (role: 'A' | 'B', me: Party, csvDelay: number) => {
      const c = w.config(role, me, S);
      return w.spawn(
        writeConfig(cfgDir, `${role}.json`, { ...c, wallet: { ...c.wallet!, csvDelay } }),
        role === 'B' ? crashOf('B') : undefined,
      );
    };
    const a = wallet('A', A, 144),
      b = wallet('B', B, 12);
    procs.push(a, b);
    const ready = (p: Proc) => p.lines.find((l) => l.kind === 'ready')?.channelId;
    await until(() => ready(a) !== undefined && ready(b) !== undefined, 'both wallets’ channels to be ready', WAIT_MS);
    await until(() => s.lines.filter((l) => l.kind === 'channel_ready').length === 2, 'the hub to count both channels ready', WAIT_MS);
    w.mining(0);
    return { A, S, B, a, s, b, as: ready(a)!, sb: ready(b)!, cfgDir, dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}

/** A pays B offline; waits until A holds its receipt and both channels are settled on both sides. */
async function pay(x: Trio): Promise<void> {
  const { offerId } = (await x.a.run({ cmd: 'pay', to: x.B.address, amount: AMOUNT })) as { offerId?: string };
  await until(() => x.a.lines.some((l) => l.kind === 'completed' && l.offerId === offerId), 'the payer’s payment to complete', WAIT_MS);
  await until(() => x.b.lines.some((l) => l.kind === 'paid' && l.offerId === offerId), 'the payee to be paid', WAIT_MS);
  await until(() => x.s.lines.some((l) => l.kind === 'paid' && l.offerId === offerId), 'the hub to settle with the payee', WAIT_MS);
}

/** The channels as a role process sees them now. */
async function channels(p: Proc): Promise<Record<string, { n: number; balances: [number, number]; ptlcs: number }>> {
  return (await p.run({ cmd: 'state' })).channels as Record<string, { n: number; balances: [number, number]; ptlcs: number }>;
}

/** Sends A's payment to B (the payment then runs through the mailbox); returns its offer id. */
async function startPayment(x: Trio): Promise<string> {
  return (await x.a.run({ cmd: 'pay', to: x.B.address, amount: AMOUNT })).offerId as string;
}

type Broadcast = Line & { txid: string; bumped: boolean };

/** The first transaction of kind `txKind` one of `procs`' watchtowers broadcast, once there is one. */
async function broadcastOf(procs: Proc[], txKind: string): Promise<Broadcast> {
  const find = () => procs.flatMap((p) => p.lines).find((l) => l.kind === 'broadcast' && l.txKind === txKind);
  await until(() => find() !== undefined, `a watchtower to broadcast a ${txKind}`, WAIT_MS);
  return find() as Broadcast;
}

const sawBroadcast = (procs: Proc[], txKind: string) => () =>
  procs.some((p) => p.lines.some((l) => l.kind === 'broadcast' && l.txKind === txKind));

/** Mines a block every `ms` until `pred` holds (the watchtowers poll every 100 ms). */
async function mineUntil(pred: () => boolean, what: string, ms = 150): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out mining until ${what}`);
    w.model.mine(1);
    await new Promise((r) => setTimeout(r, ms));
  }
}

/** True when transaction `txid` is in a block (not only in the mempool). */
const confirmed = (txid: string): boolean => typeof w.model.getTx(txid)?.height === 'number';

/** What transaction `txid` pays to `script` in the chain's UTXO set (its unspent outputs), sats. */
const paidIn = (txid: string, script: Uint8Array): number =>
  w.model
    .utxosOf(script)
    .filter((u) => bytesToHex(u.outpoint.txid) === txid)
    .reduce((sum, u) => sum + Number(u.output.amount), 0);

/**
 * Runs `body` on a fresh trio. On failure it prints what each process
 * printed: its last 40 lines, or every line with DEBUG_STRANGERS set (a
 * failure on a CI machine must explain itself).
 */
async function withTrio(tag: string, crash: { S?: OpenCrash; B?: OpenCrash }, body: (x: Trio) => Promise<void>): Promise<void> {
  const x = await trio(tag, crash);
  try {
    await body(x);
  } catch (e) {
    const keep = process.env.DEBUG_STRANGERS ? Infinity : 40;
    for (const [n, p] of [
      ['A', x.a],
      ['S', x.s],
      ['B', x.b],
    ] as const)
      console.log(
        `--- ${n}\n${p.lines
          .slice(-keep)
          .map((l) => JSON.stringify(l))
          .join('\n')}`,
      );
    throw e;
  } finally {
    await x.dispose();
  }
}

/** The hub's view of a channel, once `pred` holds for it. */
async function hubViewWhen(
  x: Trio,
  id: string,
  pred: (c: { ptlcs: number }) => boolean,
): Promise<{ n: number; balances: [number, number]; ptlcs: number }> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const c = (await channels(x.s))[id]!;
    if (pred(c)) return c;
    if (Date.now() > deadline) throw new Error(`timed out waiting for the hub's view of ${id}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

t('three processes sharing no secret open, fund and confirm their channels over the relay and Esplora; an offline payment completes', () =>
  withTrio('pay', {}, async (x) => {
    await pay(x);
    const [atA, atS, atB] = [await channels(x.a), await channels(x.s), await channels(x.b)];
    assert.equal(atA[x.as]!.balances, [1_000_000 - 1_000 - AMOUNT - FEE, AMOUNT + FEE], 'A–S moved amount + fee to the hub');
    assert.equal(atS[x.as]!.balances, atA[x.as]!.balances, 'the hub’s view of A–S agrees');
    assert.equal(atB[x.sb]!.balances, [800_000 - 1_000 - AMOUNT, AMOUNT], 'S–B moved the amount to the payee');
    assert.equal(atS[x.sb]!.balances, atB[x.sb]!.balances, 'the hub’s view of S–B agrees');
  }),
);

t('(a) a cooperative close of A–S: the chain’s UTXO set pays each party exactly its balance, to the payout script it chose at open', () =>
  withTrio('coop', {}, async (x) => {
    await pay(x);
    const [a, s] = (await channels(x.s))[x.as]!.balances;
    await x.a.run({ cmd: 'close', channel: x.as, cooperative: true });
    const close = await broadcastOf([x.a, x.s], 'close');
    w.model.mine(1);
    assert.ok(confirmed(close.txid), 'the close confirmed');
    assert.is(paidIn(close.txid, x.A.walletScript), a, 'the payer’s balance, to its wallet');
    assert.is(paidIn(close.txid, x.S.walletScript), s, 'the hub’s balance, to its wallet');
  }),
);

t(
  '(b) the payer broadcasts its old state 0 and disappears: the hub’s watchtower beats it with the latest update and settles the latest state',
  () =>
    withTrio('stale', {}, async (x) => {
      await pay(x);
      const latest = (await channels(x.s))[x.as]!;
      const { txid: cheat } = (await x.a.run({ cmd: 'cheat', channel: x.as, n: 0 })) as Broadcast;
      await x.a.kill('SIGKILL');
      w.model.mine(1);
      assert.ok(confirmed(cheat), 'the old update confirmed');
      await broadcastOf([x.s], 'update');
      await mineUntil(sawBroadcast([x.s], 'settlement'), 'the hub settles after the CSV delay', 20);
      const settlement = await broadcastOf([x.s], 'settlement');
      w.model.mine(1);
      assert.ok(confirmed(settlement.txid), 'the latest settlement confirmed');
      assert.is(paidIn(settlement.txid, x.A.walletScript), latest.balances[0], 'the payer gets the latest balance, not state 0’s');
      assert.is(paidIn(settlement.txid, x.S.walletScript), latest.balances[1], 'the hub keeps what it was paid');
    }),
);

t('(c) the hub dies on the payee’s claim: the payee closes alone and claims its PTLC on chain with the secret', () =>
  withTrio('claim', { S: { at: 'received', type: 'PTLC_FULFILL' } }, async (x) => {
    await startPayment(x);
    await until(() => x.s.done() && x.s.lines.some((l) => l.kind === 'crash'), 'the hub to die on PTLC_FULFILL', WAIT_MS);
    const sb = (await channels(x.b))[x.sb]!;
    assert.is(sb.ptlcs, 1, 'the payee holds the PTLC, unsettled');
    await x.b.run({ cmd: 'close', channel: x.sb, cooperative: false });
    await mineUntil(sawBroadcast([x.b], 'claim'), 'the payee claims its PTLC', 250);
    const claim = await broadcastOf([x.b], 'claim');
    w.model.mine(1);
    assert.ok(confirmed(claim.txid), 'the claim confirmed');
    assert.is(paidIn(claim.txid, x.B.walletScript), AMOUNT - TERMS.ptlcFee, 'the PTLC, less its fee, to the payee’s wallet');
    const settlement = await broadcastOf([x.b], 'settlement');
    assert.is(paidIn(settlement.txid, x.B.walletScript), sb.balances[1], 'and its balance from the settlement');
  }),
);

t('(d) the payee never claims: the hub closes alone and refunds the timed-out PTLC on chain', () =>
  withTrio('refund', { B: { at: 'received', type: 'PTLC_COMMIT' } }, async (x) => {
    await startPayment(x);
    await until(() => x.b.done() && x.b.lines.some((l) => l.kind === 'crash'), 'the payee to die on PTLC_COMMIT', WAIT_MS);
    await hubViewWhen(x, x.sb, (c) => c.ptlcs === 1);
    await x.s.run({ cmd: 'close', channel: x.sb, cooperative: false });
    await mineUntil(sawBroadcast([x.s], 'refund'), 'the hub refunds the PTLC after its timeout');
    const refund = await broadcastOf([x.s], 'refund');
    w.model.mine(1);
    assert.ok(confirmed(refund.txid), 'the refund confirmed');
    assert.is(paidIn(refund.txid, x.S.walletScript), AMOUNT - TERMS.ptlcFee, 'the PTLC, less its fee, back to the hub’s wallet');
  }),
);

t('(e) an update below the mempool’s minimum fee rate: the hub closing alone bumps it from its own wallet, and it confirms', () =>
  withTrio('bump', {}, async (x) => {
    await pay(x);
    const res = await fetch(`${w.esplora.url}/sim/min-fee-rate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ satPerVb: 25 }), // the update's 500 sats pay about 3 sat/vB
    });
    assert.is(res.status, 200);
    try {
      await x.s.run({ cmd: 'close', channel: x.as, cooperative: false });
      const update = await broadcastOf([x.s], 'update');
      assert.ok(update.bumped, 'bumped with a fee input');
      w.model.mine(1);
      const mined = w.model.getTx(update.txid)!;
      assert.ok(confirmed(update.txid), 'confirmed');
      assert.is(mined.tx.inputs.length, 2, 'the channel input and the hub’s wallet input');
      assert.is(mined.tx.outputs.length, 2, 'the channel output and the hub’s change');
    } finally {
      w.model.minFeeRate = 1;
    }
  }),
);

t.run();
