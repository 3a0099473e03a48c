/**
 * Client rows: CPU of seal + open of a 1 KiB envelope against
 * its elliptic-curve floor, and one full async payment by offer (A, S, B,
 * relay on loopback) against the cost of the point multiplications it
 * performs, counted per role by the EC-count hook (load/ec-count.mjs).
 * @module
 */
import { EC_COUNT, progress, startRelayProc, type Sizes } from './context.js';
import { row, type Row } from './report.js';
import { spawnWorker } from './rpc.js';

/** Envelope body giving a ~1 KiB envelope (SPEC 3: 89-byte header, padding bucket, 16-byte tag). */
const BODY_BYTES = 700;

interface SealOpen {
  envelopeBytes: number;
  counts: Record<string, number>;
  sealOpenMs: number;
  ecdhMs: number;
  signMs: number;
  verifyMs: number;
  signCounts: Record<string, number>;
  ops: Record<string, number>;
  nativeOps: Record<string, number> | null;
  backend: string;
}

const fmtCounts = (c: Record<string, number>): string =>
  Object.entries(c)
    .sort()
    .map(([k, v]) => `${k}×${v}`)
    .join(' ');

const sumRole = (c: Record<string, number> | undefined): number => Object.values(c ?? {}).reduce((a, b) => a + b, 0);

/** Sum of count × CPU ms of each operation kind. */
function ecFloor(counts: Record<string, number>, ops: Record<string, number>): number {
  let ms = 0;
  for (const [k, n] of Object.entries(counts)) {
    const kind = k.includes(':') ? k.slice(k.indexOf(':') + 1) : k;
    ms += n * (ops[kind] ?? 0);
  }
  return ms;
}

/** Client rows; returns the worker's BIP340 verify rate too (the auth baseline). */
export async function benchClient(s: Sizes): Promise<{ rows: Row[]; verifyRate: number }> {
  const crypto = spawnWorker('load/crypto.ts', EC_COUNT);
  let so: SealOpen;
  let verifyRate: number;
  try {
    verifyRate = await crypto.call<number>('verifyRate', s.cryptoMinMs);
    so = await crypto.call<SealOpen>('sealOpen', s.cryptoMinMs, BODY_BYTES);
  } finally {
    await crypto.stop();
  }
  const one = so.ecdhMs + so.signMs + so.verifyMs;
  const two = one + so.ecdhMs;
  const noteSeal = `backend ${so.backend}; envelope ${so.envelopeBytes} B; seal+open point multiplications: ${fmtCounts(so.counts)} (the same kinds and counts as the floor's: the backend's signer computes d·G and k·G where seal computes the ephemeral key and the signature's k·G); the backend's BIP340 sign alone: ${fmtCounts(so.signCounts)}; ECDH ${so.ecdhMs.toFixed(3)} ms, sign ${so.signMs.toFixed(3)} ms, verify ${so.verifyMs.toFixed(3)} ms`;
  const rows: Row[] = [
    row({
      name: 'client seal + open, 1 KiB envelope',
      value: so.sealOpenMs,
      unit: 'CPU ms',
      baseline: '1 ECDH + 1 BIP340 sign + 1 verify',
      baselineValue: one,
      // An earlier yardstick: an envelope needs two ECDH (seal and open), so the row below, against
      // the honest floor, is the one judged.
      target: 'report',
      pass: null,
      note: noteSeal,
    }),
    row({
      name: 'client seal + open vs its 2-ECDH floor',
      value: so.sealOpenMs,
      unit: 'CPU ms',
      baseline: '2 ECDH + 1 sign + 1 verify (same backend)',
      baselineValue: two,
      target: '≤ 1.1×',
      pass: so.sealOpenMs / two <= 1.1,
      note: noteSeal,
    }),
  ];

  // One full payment: relay and clients both instrumented.
  const relay = await startRelayProc(EC_COUNT);
  const pay = spawnWorker('load/payment.ts', EC_COUNT);
  try {
    type Pay = { wallMs: number; clientCpuMs: number; counts: Record<string, number> };
    // Two payments, each in a fresh world: the first pays for JIT warm-up and first-use
    // initialisation (reported in the note), the second is the row. A failed attempt is
    // retried once (the flow flaked once, see docs/performance.md).
    const attempt = async (): Promise<{ r: Pay; relayCpu0: number; relayEc0: Record<string, number> }> => {
      for (let tries = 0; ; tries++) {
        const relayCpu0 = (await relay.worker.call<{ cpuUs: number }>('usage')).cpuUs;
        const relayEc0 = await relay.worker.call<Record<string, number>>('ecCounts');
        try {
          return { r: await pay.call<Pay>('run', relay.url, 50_000), relayCpu0, relayEc0 };
        } catch (e) {
          if (tries >= 1) throw e;
          progress(`payment attempt failed (${(e as Error).message.split('\n')[0]}); retrying`);
        }
      }
    };
    const cold = await attempt();
    const coldRelayMs = ((await relay.worker.call<{ cpuUs: number }>('usage')).cpuUs - cold.relayCpu0) / 1000;
    const { r, relayCpu0, relayEc0 } = await attempt();
    const relayCpuMs = ((await relay.worker.call<{ cpuUs: number }>('usage')).cpuUs - relayCpu0) / 1000;
    const relayEc1 = await relay.worker.call<Record<string, number>>('ecCounts');
    const counts: Record<string, number> = { ...r.counts };
    for (const [k, v] of Object.entries(relayEc1)) {
      const d = v - (relayEc0[k] ?? 0);
      if (d) counts[k.replace(/^all:/, 'relay:')] = d;
    }
    const byRole: Record<string, Record<string, number>> = {};
    for (const [k, v] of Object.entries(counts)) {
      const [role, kind] = k.split(':') as [string, string];
      (byRole[role] ??= {})[kind] = v;
    }
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const floor = ecFloor(counts, so.ops);
    const cpu = r.clientCpuMs + relayCpuMs;
    const roles = Object.entries(byRole)
      .map(([role, c]) => `${role}: ${fmtCounts(c)}`)
      .join('; ');
    progress(
      `payment: wall ${r.wallMs.toFixed(0)} ms, CPU ${cpu.toFixed(0)} ms (clients ${r.clientCpuMs.toFixed(0)}, relay ${relayCpuMs.toFixed(0)}), EC floor ${floor.toFixed(1)} ms for ${total} ops; ${roles}`,
    );
    rows.push(
      row({
        name: `one async payment by offer, total CPU (A+S+B+relay), ${total} EC ops`,
        value: cpu,
        unit: 'CPU ms',
        baseline: 'its counted EC operations, measured alone',
        baselineValue: floor,
        target: 'report',
        pass: null,
        note: `EC ops per role — ${roles}; per-op CPU ms: ${Object.entries(so.ops)
          .map(([k, v]) => `${k} ${v.toFixed(3)}`)
          .join(
            ', ',
          )}; clients ${r.clientCpuMs.toFixed(0)} ms, relay ${relayCpuMs.toFixed(0)} ms; first (cold) payment in the same processes: CPU ${(cold.r.clientCpuMs + coldRelayMs).toFixed(0)} ms, wall ${cold.r.wallMs.toFixed(0)} ms`,
      }),
      row({
        name: 'one async payment by offer, clients CPU (A+S+B) ÷ the same EC operations on noble',
        value: r.clientCpuMs,
        unit: 'CPU ms',
        baseline: 'A+S+B counted EC ops × noble per-op CPU',
        baselineValue: ecFloor(Object.fromEntries(Object.entries(counts).filter(([k]) => /^[ASB]:/.test(k))), so.ops),
        target: 'report',
        pass: null,
        note: `backend ${so.backend}; A, S and B share one process (the hub alone: the hub part's row); libsecp256k1 per-op CPU ms: ${
          so.nativeOps
            ? Object.entries(so.nativeOps)
                .map(([k, v]) => `${k} ${v.toFixed(4)}`)
                .join(', ')
            : 'not loaded'
        }`,
      }),
      row({
        name: 'EC operations per async payment by offer: hub / payee / payer',
        value: sumRole(byRole.S),
        unit: 'ops (hub)',
        baseline: null,
        baselineValue: null,
        target: '≤ 50 / 40 / 30',
        pass: sumRole(byRole.S) <= 50 && sumRole(byRole.B) <= 40 && sumRole(byRole.A) <= 30,
        note: `hub ${sumRole(byRole.S)}, payee ${sumRole(byRole.B)}, payer ${sumRole(byRole.A)} (docs/performance.md explains each)`,
      }),
      row({
        name: 'one async payment by offer, wall time (A offline before B online; loopback)',
        value: r.wallMs,
        unit: 'ms',
        baseline: null,
        baselineValue: null,
        target: 'report',
        pass: null,
        note: `cold first payment: ${cold.r.wallMs.toFixed(0)} ms`,
      }),
    );
  } finally {
    await pay.stop();
    await relay.stop();
  }
  return { rows, verifyRate };
}
