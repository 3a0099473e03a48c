/**
 * One full async payment by an offer (A pre-signs, B sells its receipt s_B to S)
 * with A, S and B as separate runtimes in this process and the relay in
 * another (the roles set up by payment-roles.ts). Started with the
 * EC-count hook; an AsyncLocalStorage label tags every point
 * multiplication with the role whose code (or socket callback) ran it.
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import { PaymentType } from '../../protocol/payment.js';
import { getPublicKey } from '../../crypto/bip340.js';
import type { HubNode } from '../../client/wallet/roles.js';
import { paymentRoles, until } from './payment-roles.js';
import { serve } from '../rpc.js';

declare global {
  var __lnmbEcCounts: Record<string, number> | undefined;
  var __lnmbEcRole: (() => string) | undefined;
  var __lnmbEcTraces: Record<string, number> | undefined;
}

const als = new AsyncLocalStorage<string>();
globalThis.__lnmbEcRole = () => als.getStore() ?? 'setup';

const count = (list: { kind: string }[], kind: string): number => list.filter((e) => e.kind === kind).length;

type Roles = Awaited<ReturnType<typeof paymentRoles>>;
type Counts = Record<string, number>;

async function setUp(relayUrl: string): Promise<Roles> {
  const w = await paymentRoles(relayUrl, (role, fn) => als.run(role, fn));
  // A node derives its own public keys once, at start: warm each role's key cache
  // (partitioned by the role label, see crypto/secp.ts cacheScope) before counting.
  for (const role of ['A', 'S', 'B'] as const) als.run(role, () => w.secretKeys[role].forEach((k) => getPublicKey(k)));
  return w;
}

function resetCounts(): void {
  for (const k of Object.keys(globalThis.__lnmbEcCounts ?? {})) delete globalThis.__lnmbEcCounts![k];
  globalThis.__lnmbEcTraces = {};
}

/**
 * Payment number `i` over the roles' channels: A pays B's offer through S and goes offline
 * before B is online; B comes online and is paid; A comes back for its completion. S is
 * started if not given, and stays online. Returns S and the roles to close.
 */
async function payOnce(w: Roles, i: number, amount: number, hub?: HubNode): Promise<{ S: HubNode; close: () => Promise<unknown> }> {
  const S = hub ?? (await als.run('S', () => w.open.S()));
  const A = await als.run('A', () => w.open.A());
  const sent: number[] = [];
  A.on('sent', (e) => sent.push(e.type));
  await als.run('A', () => A.payOffline(w.addr.B, amount, { memo: 'bench' }));
  await until(() => sent.includes(PaymentType.OFFER), 'the offer to be posted', 60_000);
  await A.close(); // A goes offline before B is ever online
  const B = await als.run('B', () => w.open.B());
  await until(() => count(w.events.B, 'paid') >= i && count(w.events.S, 'paid') >= i, 'B and S to settle', 60_000);
  const A2 = await als.run('A', () => w.open.A());
  await until(() => count(w.events.A, 'completed') >= i, 'A to receive the completion', 60_000);
  return { S, close: () => Promise.all([A2.close(), B.close()]) };
}

function snapshot(): { counts: Counts; traces: Counts } {
  return { counts: { ...(globalThis.__lnmbEcCounts ?? {}) }, traces: { ...(globalThis.__lnmbEcTraces ?? {}) } };
}

serve({
  /** One payment over fresh channels (opened at set-up, not counted). */
  async run(relayUrl: string, amount: number) {
    const w = await setUp(relayUrl);
    // Channel opening is set-up, not the payment.
    resetCounts();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const { S, close } = await payOnce(w, 1, amount);
    const wallMs = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const { counts, traces } = snapshot();
    // LNMB_EC_TRACE=<file>: the call sites behind each counted operation (see ec-count.mjs).
    if (process.env.LNMB_EC_TRACE) fs.writeFileSync(process.env.LNMB_EC_TRACE, JSON.stringify(traces, null, 1));
    await close();
    await S.close();
    return { wallMs, clientCpuMs: (c.user + c.system) / 1000, counts };
  },
  /**
   * Two payments over the same channels, each counted: the first as `run` does (it also
   * derives what a channel needs once: the PTLC keys of its first PTLC), the second with S
   * still online and A and B started again, as every later payment over these channels.
   * LNMB_EC_TRACE=<file> gets the second payment's call sites (<file>.first.json the first's).
   */
  async runTwice(relayUrl: string, amount: number) {
    const w = await setUp(relayUrl);
    resetCounts();
    let c0 = process.cpuUsage();
    let t0 = performance.now();
    const one = await payOnce(w, 1, amount);
    await one.close();
    const first = { wallMs: performance.now() - t0, clientCpuMs: cpuMs(process.cpuUsage(c0)), ...snapshot() };
    resetCounts();
    c0 = process.cpuUsage();
    t0 = performance.now();
    const two = await payOnce(w, 2, amount, one.S);
    const later = { wallMs: performance.now() - t0, clientCpuMs: cpuMs(process.cpuUsage(c0)), ...snapshot() };
    if (process.env.LNMB_EC_TRACE) {
      fs.writeFileSync(process.env.LNMB_EC_TRACE, JSON.stringify(later.traces, null, 1));
      fs.writeFileSync(`${process.env.LNMB_EC_TRACE}.first.json`, JSON.stringify(first.traces, null, 1));
    }
    await two.close();
    await two.S.close();
    const strip = ({ traces: _t, ...r }: typeof first) => r;
    return { first: strip(first), later: strip(later) };
  },
});

const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;
