import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hexToBytes } from '../../base/bytes.js';
import { verifyReceipt } from '../../protocol/receipt.js';
import { LevelKv } from '../../client/mailbox/kv.js';
import { RoleRuntime, type RoleEngine } from '../../client/wallet/runtime.js';
import { listedPeers, type HubJson } from '../../engine/payment/hub/hub.js';
import type { PayeeJson } from '../../engine/payment/payee/payee.js';
import type { PayerJson } from '../../engine/payment/payer/payer.js';
import { inlined, type ChannelJson } from '../../engine/channel/channel.js';
import type { CrashSpec } from './fixtures/role-process.js';
import { HUB_FEE, makeE2E, spawnRelay, until, type RelayProc } from './world.js';
import { buildRoleFixture, h, roleConfig, spawnRole, typeName, type Line, type Role, type RoleProc } from './role-procs.js';

const t = suite('e2e/kill-matrix');
const SOAK = process.env.LNMB_SOAK === '1';
const AMOUNT = 40_000;
const FEE = HUB_FEE.base + Math.floor((AMOUNT * HUB_FEE.ppm) / 1e6);
const PARALLEL = Number(process.env.LNMB_KILL_PARALLEL ?? 2);
const WAIT_MS = 60_000;
const _here = path.dirname(fileURLToPath(import.meta.url));
let relay: RelayProc;
/** The role fixture bundled once (esbuild): a restart costs a plain `node` start, not a tsx compile. */
let fixture: string;

type Dir = 'received' | 'sent';
const NAME: Record<Role, string> = { A: 'payer', S: 'hub', B: 'payee' };

/** The messages each role handles or sends in an offer payment, in protocol order (SPEC 6.8). */
const POINTS: Record<Role, [Dir, string][]> = {
  A: [
    ['sent', 'UPDATE_PROPOSE'],
    ['received', 'UPDATE_ACCEPT'],
    ['sent', 'OFFER'],
    ['received', 'COMPLETION'],
  ],
  S: [
    ['received', 'UPDATE_PROPOSE'],
    ['sent', 'UPDATE_ACCEPT'],
    ['received', 'INVOICE'],
    ['sent', 'PTLC_ADD'],
    ['received', 'PTLC_ACCEPT'],
    ['sent', 'PTLC_COMMIT'],
    ['received', 'PTLC_FULFILL'],
    ['sent', 'PTLC_SETTLE'],
    ['sent', 'COMPLETION'],
    ['received', 'PTLC_SETTLE_ACK'],
  ],
  B: [
    ['received', 'OFFER'],
    ['sent', 'INVOICE'],
    ['received', 'PTLC_ADD'],
    ['sent', 'PTLC_ACCEPT'],
    ['received', 'PTLC_COMMIT'],
    ['sent', 'PTLC_FULFILL'],
    ['received', 'PTLC_SETTLE'],
    ['sent', 'PTLC_SETTLE_ACK'],
  ],
};
/** Atomic state writes of each role's run: A pays, then handles UPDATE_ACCEPT and COMPLETION; S and B one per message received. */
const STEPS: Record<Role, number> = { A: 3, S: 5, B: 4 };
/** Envelopes each role posts in a run without crashes. */
const POSTS: Record<Role, number> = { A: 2, S: 5, B: 4 };
/** Who sends each message type of the flow (each must be posted as exactly one envelope). */
const SENDER: Record<string, Role> = {
  UPDATE_PROPOSE: 'A',
  UPDATE_ACCEPT: 'S',
  OFFER: 'A',
  INVOICE: 'B',
  PTLC_ADD: 'S',
  PTLC_ACCEPT: 'B',
  PTLC_COMMIT: 'S',
  PTLC_FULFILL: 'B',
  PTLC_SETTLE: 'S',
  PTLC_SETTLE_ACK: 'B',
  COMPLETION: 'S',
};

/** One crash: R kills itself (`self`), or this test kills R `delayMs` after R printed a line. */
type Kill = { self: CrashSpec } | { line: { at: Dir; type: string }; delayMs: number };
function describe(k: Kill): string {
  if (!('self' in k)) return `line ${k.line.at} ${k.line.type} +${k.delayMs} ms`;
  const c = k.self;
  if (!('type' in c)) return `${c.at} ${c.nth}`;
  return `${c.at} ${c.type}${(c.nth ?? 1) > 1 ? ` #${c.nth}` : ''}`;
}

/** A message a role sent or received, from its in-process events or its printed lines. */
interface Msg {
  dir: Dir;
  type: string;
  id: string;
}

async function readStore(dir: string): Promise<{ state: unknown; outbox: unknown[] }> {
  const kv = new LevelKv(dir);
  try {
    return { state: await RoleRuntime.loadState(kv), outbox: await RoleRuntime.pendingOutbox(kv) };
  } finally {
    await kv.close();
  }
}

/**
 * One payment with role R in its own process, killed at each of `kills` in
 * turn (one run per kill), then run to the end. Everything the header
 * promises is checked on the three stores once every role has stopped.
 */
async function scenario(R: Role, kills: Kill[], trace: Line[] = []): Promise<void> {
  const w = await makeE2E({ A: [relay.url], S: [relay.url], B: [relay.url] });
  const cfgDir = fs.mkdtempSync(os.tmpdir() + '/lnmb-e2e-kill-');
  const configPath = path.join(cfgDir, 'config.json');
  fs.writeFileSync(configPath, JSON.stringify(roleConfig(w, R, relay.url, AMOUNT)));

  // The two other roles, in this process.
  const msgs: Record<Role, Msg[]> = { A: [], S: [], B: [] };
  const errors: string[] = [];
  const local = new Map<Role, RoleRuntime<RoleEngine>>();
  for (const role of ['S', 'B', 'A'] as const) {
    if (role === R) continue;
    const n = (await w.open[role]()) as unknown as RoleRuntime<RoleEngine>;
    n.on('sent', (e) => msgs[role].push({ dir: 'sent', type: typeName(e.type), id: e.id }));
    n.on('received', (e) => msgs[role].push({ dir: 'received', type: typeName(e.type), id: e.id }));
    n.on('error', (e) => errors.push(`${role}: ${e.message}`));
    local.set(role, n);
  }
  let closing: Promise<unknown> | undefined;
  const closeLocal = () => (closing ??= Promise.all([...local.values()].map((n) => n.close())));
  const runs: RoleProc[] = [];
  const lines = () => runs.flatMap((r) => r.lines);
  const events = (role: Role): { kind: string; offerId?: string }[] => (role === R ? lines() : w.events[role]);
  // A role is done when it emitted its final event, or (R only) when a restart
  // found the payment in its final status: a crash after a step's write and
  // before its events loses the events, not the state.
  const reached = (role: Role, event: string, status: string): boolean =>
    events(role).some((e) => e.kind === event) ||
    (role === R && lines().some((l) => l.kind === 'started' && Object.values(l.statuses ?? {}).includes(status)));
  const sentBy = (role: Role, type: string): Set<string> =>
    new Set(
      (role === R ? lines().filter((l) => l.kind === 'sent') : msgs[role].filter((m) => m.dir === 'sent'))
        .filter((m) => m.type === type)
        .map((m) => m.id!),
    );
  let stage = 'start';
  const mark = (kind: string) => trace.push({ kind, t: Date.now() });
  mark('opened');
  try {
    if (R !== 'A')
      await (local.get('A') as unknown as { payOffline(to: string, amount: number): Promise<string> }).payOffline(w.addr.B, AMOUNT);

    for (const [i, k] of kills.entries()) {
      // In a chain of kills, a point that an earlier run already went past is
      // skipped (a role's posts and receipts may interleave in either order).
      const c = 'self' in k ? k.self : undefined;
      if (i > 0 && c && 'type' in c && lines().some((l) => l.kind === c.at && l.type === c.type)) continue;
      stage = `run ${runs.length + 1}: kill at ${describe(k)}`;
      let crashPath: string | undefined;
      if ('self' in k) {
        crashPath = path.join(cfgDir, `crash-${i}.json`);
        fs.writeFileSync(crashPath, JSON.stringify(k.self));
      }
      const run = spawnRole(fixture, configPath, crashPath);
      runs.push(run);
      if ('self' in k) {
        await until(run.done, `${NAME[R]} to reach its crash point`, WAIT_MS);
        assert.is(run.proc.signalCode, 'SIGKILL', `${NAME[R]} died by SIGKILL`);
        assert.ok(
          run.lines.some((l) => l.kind === 'crash'),
          `${NAME[R]} reached its crash point`,
        );
      } else {
        const { at, type } = k.line;
        await until(() => run.lines.some((l) => l.kind === at && l.type === type), `${NAME[R]} to print ${at} ${type}`, WAIT_MS);
        await new Promise((r) => setTimeout(r, k.delayMs));
        await run.kill('SIGKILL');
        assert.is(run.proc.signalCode, 'SIGKILL');
      }
    }

    stage = 'final run';
    mark('final run');
    const last = spawnRole(fixture, configPath);
    runs.push(last);
    try {
      await until(() => reached('A', 'completed', 'completed'), 'the payer to complete', WAIT_MS);
      await until(() => reached('B', 'paid', 'paid'), 'the payee to be paid', WAIT_MS);
      await until(() => reached('S', 'paid', 'settled'), 'the hub to settle', WAIT_MS);
      // Nothing left behind: the final run posted what its predecessors left in the outbox.
      await until(() => last.lines.some((l) => l.kind === 'flushed'), `the final ${NAME[R]} run to flush its outbox`, WAIT_MS);
    } finally {
      await last.kill('SIGTERM');
      await closeLocal();
    }
    assert.ok(!last.proc.signalCode || last.proc.signalCode === 'SIGTERM', `the final ${NAME[R]} run ended cleanly`);

    stage = 'checks';
    mark('checks');
    const [a, s, b] = await Promise.all([readStore(w.A.dir), readStore(w.S.dir), readStore(w.B.dir)]);
    const A = a.state as PayerJson,
      S = s.state as HubJson,
      B = b.state as PayeeJson;
    const offerIds = Object.keys(A.payments);
    assert.is(offerIds.length, 1, 'the payer made one payment');
    const offerId = offerIds[0]!;
    assert.is(A.payments[offerId]!.status, 'completed', 'payer completed');
    assert.equal(Object.keys(B.payments), [offerId], 'the payee knows one payment');
    assert.is(B.payments[offerId]!.status, 'paid', 'payee paid');
    assert.equal(Object.keys(S.payments), [offerId], 'the hub knows one payment');
    assert.is(S.payments[offerId]!.status, 'settled', 'hub settled');
    // Proof of payment: the payer's stored receipt verifies from B's address alone, whoever
    // was killed where; B's ticket for it is burned (no longer offered).
    const receipt = A.payments[offerId]!.receipt;
    assert.ok(receipt && verifyReceipt(hexToBytes(receipt.receipt), w.addr.B), "the payer holds B's receipt");
    assert.not.ok((B.tickets ?? []).includes(A.payments[offerId]!.ticket!), 'the burned ticket is not offered again');

    const sA = inlined(listedPeers(S)[h(w.asParams.channelId)]!.channel),
      sB = inlined(listedPeers(S)[h(w.sbParams.channelId)]!.channel);
    const settledChannel = (name: string, x: ChannelJson, y: ChannelJson, balances: [number, number]) => {
      for (const c of [x, y]) {
        assert.is(c.pending, undefined, `${name}: no pending state`);
        assert.equal(c.enforceable.state.ptlcs, [], `${name}: no PTLC left`);
      }
      // The same state, fully signed, at both sides (each keeps its own nonce id).
      const signed = (c: ChannelJson) => ({ ...c.enforceable, myNonceId: undefined });
      assert.equal(signed(x), signed(y), `${name}: the same enforceable state on both sides`);
      assert.ok(
        x.enforceable.updateSigs.every((sig) => sig !== null),
        `${name}: the state is signed by both`,
      );
      assert.equal(x.enforceable.state.balances, balances, `${name}: balances moved by exactly the amount`);
    };
    settledChannel('A–S', inlined(A.channel!), sA, [600_000 - AMOUNT - FEE, 399_000 + AMOUNT + FEE]);
    settledChannel('S–B', sB, inlined(B.channel!), [700_000 - AMOUNT, 299_000 + AMOUNT]);
    for (const [name, st] of [
      ['payer', a],
      ['hub', s],
      ['payee', b],
    ] as const)
      assert.equal(st.outbox, [], `${name}: outbox drained`);

    // Each message of the flow was posted as exactly one envelope; nothing was refused.
    for (const [type, role] of Object.entries(SENDER)) assert.is(sentBy(role, type).size, 1, `${NAME[role]} posted one ${type} envelope`);
    for (const role of ['A', 'S', 'B'] as const)
      for (const type of ['REJECT', 'PTLC_FAIL']) assert.is(sentBy(role, type).size, 0, `${NAME[role]} sent no ${type}`);
    // (The events of a step whose write landed just before a kill are lost, hence "at most".)
    assert.ok(events('S').filter((e) => e.kind === 'ptlc_extended').length <= 1, 'the hub extended at most one PTLC');
    assert.ok(events('B').filter((e) => e.kind === 'invoiced').length <= 1, 'the payee invoiced at most once');
    for (const role of ['A', 'S', 'B'] as const)
      assert.ok(
        !events(role).some((e) => e.kind === 'rejected' || e.kind === 'cancelled' || e.kind === 'voided'),
        `${NAME[role]}: no rejection`,
      );
  } catch (e) {
    // What each store holds now: payment statuses, channel state numbers.
    await Promise.all(runs.map((r) => r.kill('SIGKILL')));
    await closeLocal();
    const summary = async (role: Role): Promise<string> => {
      const j = (await readStore(w[role].dir)) as {
        state: { payments?: Record<string, { status: string }>; channel?: ChannelJson; peers?: Record<string, { channel: ChannelJson }> };
        outbox: string[];
      };
      const chans = j.state.channel ? [j.state.channel] : Object.values(j.state.peers ?? {}).map((p) => p.channel);
      const ch = chans.map((c) => `enforceable ${c.enforceable.state.n}${c.pending ? `, pending ${c.pending.state.n}` : ''}`).join(' / ');
      return `  ${NAME[role]} store: ${Object.values(j.state.payments ?? {})
        .map((p) => p.status)
        .join(', ')}; ${ch}; outbox ${j.outbox.length}`;
    };
    const stores = (await Promise.all((['A', 'S', 'B'] as const).map(summary))).join('\n');
    const show = (l: Line) => [l.kind, l.type, l.reason && `(${l.reason})`, l.message && `(${l.message})`].filter(Boolean).join(' ');
    const trail = runs.map((r, i) => `  run ${i + 1}: ${r.lines.map(show).join(', ')}`).join('\n');
    const others = [...local.keys()]
      .map(
        (role) =>
          `  ${NAME[role]} (in process): ${[...msgs[role].map((m) => `${m.dir} ${m.type}`), '| events:', ...w.events[role].map((e) => (e.kind === 'ignored' ? `ignored (${e.reason})` : e.kind))].join(', ')}`,
      )
      .join('\n');
    throw new Error(
      `${NAME[R]} killed at [${kills.map(describe).join('; ')}], failed at ${stage}: ${(e as Error).message}\n` +
        `${NAME[R]} runs:\n${trail}\n${others}\n${stores}\n  errors of the in-process roles: ${errors.slice(0, 10).join(' | ') || 'none'}`,
      { cause: e },
    );
  } finally {
    trace.push(...lines());
    trace.sort((x, y) => x.t! - y.t!);
    await Promise.all(runs.map((r) => r.kill('SIGKILL')));
    for (const d of [cfgDir, w.A.dir, w.S.dir, w.B.dir]) fs.rmSync(d, { recursive: true, force: true });
  }
}

/** Runs the scenarios `PARALLEL` at a time; fails with every failure, not just the first. */
async function matrix(cases: { R: Role; kills: Kill[] }[]): Promise<void> {
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++]!;
      const t0 = Date.now();
      const trace: Line[] = [];
      try {
        await scenario(c.R, c.kills, trace);
        if (process.env.LNMB_KILL_VERBOSE) console.log(`  ${NAME[c.R]} ${c.kills.map(describe).join('; ')}: ${Date.now() - t0} ms`);
        if (process.env.LNMB_KILL_VERBOSE === '2') console.log(trace.map((l) => `    +${l.t! - t0} ${l.kind} ${l.type ?? ''}`).join('\n'));
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  if (failures.length) assert.unreachable(`${failures.length}/${cases.length} crash scenarios failed:\n\n${failures.join('\n\n')}`);
}

/** LNMB_KILL_CASE='{"R":"S","kills":[{"self":{"at":"step","nth":4}}]}' runs that one payment only (replays a failure). */
const ONE = process.env.LNMB_KILL_CASE ? (JSON.parse(process.env.LNMB_KILL_CASE) as { R: Role; kills: Kill[] }) : undefined;

t.before(async () => {
  // The relay fsyncs every append: on tmpfs when there is one, so the matrix is not bound by the disk.
  const shm = '/dev/shm';
  relay = await spawnRelay(fs.existsSync(shm) && process.env.LNMB_KILL_SHM !== '0' ? fs.mkdtempSync(shm + '/lnmb-e2e-relay-') : undefined);
  fixture = await buildRoleFixture();
});
t.after(async () => {
  await relay.kill();
  fs.rmSync(relay.dir, { recursive: true, force: true });
  fs.rmSync(path.dirname(fixture), { recursive: true, force: true });
});

const randomDelay = () => Math.floor(Math.random() * 40);

if (ONE) t(`replay: ${NAME[ONE.R]} killed at ${ONE.kills.map(describe).join('; ')}`, () => matrix([ONE]));
const ROLES = ONE ? [] : ((process.env.LNMB_KILL_ROLES ?? 'ASB').split('') as Role[]);
for (const R of ROLES) {
  t(`${NAME[R]} SIGKILLed at each message it receives or sends, restarted on its store: the payment completes once`, async () => {
    await matrix(POINTS[R].map(([at, type]) => ({ R, kills: [{ self: { at, type } }] })));
  });

  t(`${NAME[R]} SIGKILLed before each of its step writes (nonces burned, step unsaved): the payment completes once`, async () => {
    await matrix(Array.from({ length: STEPS[R] }, (_, i) => ({ R, kills: [{ self: { at: 'step' as const, nth: i + 1 } }] })));
  });

  if (SOAK) {
    t(`soak: ${NAME[R]} SIGKILLed by the test at random delays after each message line`, async () => {
      const cases = [];
      for (let draw = 0; draw < 3; draw++)
        for (const [at, type] of POINTS[R]) cases.push({ R, kills: [{ line: { at, type }, delayMs: randomDelay() }] });
      await matrix(cases);
    });

    t(`soak: ${NAME[R]} SIGKILLed before each envelope it posts (outbox written, maybe acknowledged)`, async () => {
      await matrix(Array.from({ length: POSTS[R] }, (_, i) => ({ R, kills: [{ self: { at: 'post' as const, nth: i + 1 } }] })));
    });

    t(`soak: ${NAME[R]} SIGKILLed at every one of its points in turn, in one payment`, async () => {
      // Each run starts where the last one died; the k-th run dies at the k-th point.
      await matrix([{ R, kills: POINTS[R].map(([at, type]) => ({ self: { at, type } })) }]);
    });
  }
}

t.run();
