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
import { paymentRoles, until } from './payment-roles.js';
import { serve } from '../rpc.js';

declare global {
  var __lnmbEcCounts: Record<string, number> | undefined;
  var __lnmbEcRole: (() => string) | undefined;
  var __lnmbEcTraces: Record<string, number> | undefined;
}

const als = new AsyncLocalStorage<string>();
globalThis.__lnmbEcRole = () => als.getStore() ?? 'setup';

const has = (list: { kind: string }[], kind: string): boolean => list.some((e) => e.kind === kind);

serve({
  async run(relayUrl: string, amount: number) {
    const w = await paymentRoles(relayUrl);
    // A node derives its own public keys once, at start: warm each role's key cache
    // (partitioned by the role label, see crypto/secp.ts cacheScope) before counting.
    for (const role of ['A', 'S', 'B'] as const) als.run(role, () => w.secretKeys[role].forEach((k) => getPublicKey(k)));
    // Channel opening is set-up, not the payment.
    for (const k of Object.keys(globalThis.__lnmbEcCounts ?? {})) delete globalThis.__lnmbEcCounts![k];
    globalThis.__lnmbEcTraces = {};
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const S = await als.run('S', () => w.open.S());
    const A = await als.run('A', () => w.open.A());
    const sent: number[] = [];
    A.on('sent', (e) => sent.push(e.type));
    await als.run('A', () => A.payOffline(w.addr.B, amount, { memo: 'bench' }));
    await until(() => sent.includes(PaymentType.OFFER), 'the offer to be posted', 60_000);
    await A.close(); // A goes offline before B is ever online
    const B = await als.run('B', () => w.open.B());
    await until(() => has(w.events.B, 'paid') && has(w.events.S, 'paid'), 'B and S to settle', 60_000);
    const A2 = await als.run('A', () => w.open.A());
    await until(() => has(w.events.A, 'completed'), 'A to receive the completion', 60_000);
    const wallMs = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const counts = { ...(globalThis.__lnmbEcCounts ?? {}) };
    // LNMB_EC_TRACE=<file>: the call sites behind each counted operation (see ec-count.mjs).
    if (process.env.LNMB_EC_TRACE) fs.writeFileSync(process.env.LNMB_EC_TRACE, JSON.stringify(globalThis.__lnmbEcTraces, null, 1));
    await Promise.all([A2.close(), B.close(), S.close()]);
    return { wallMs, clientCpuMs: (c.user + c.system) / 1000, counts };
  },
});
