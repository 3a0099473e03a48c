/**
 * Hub row: payments per second the hub (S) completes on one core, with
 * many payees. The relay, the hub, the payers and the payees each run in
 * their own process (the payers all in one, the payees all in another);
 * the payers pay continuously in a closed loop (one payment in flight per
 * payer). The figure is measured in the hub process: its CPU time
 * (`process.cpuUsage()`, all threads) over the window ÷ the payments it
 * saw paid in that window. The baseline is the same payments' hub EC
 * operations (counted by the EC-count hook loaded into the hub) at
 * libsecp256k1's per-operation cost, measured in the same run. With
 * BENCH_PROFILE=<dir> the hub also writes a V8 CPU profile of the window
 * there, summarised in the progress log.
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import { EC_COUNT, progress, startRelayProc, type Sizes } from './context.js';
import { summarize } from './profile.js';
import { percentile, row, type Row } from './report.js';
import { spawnWorker, type Worker } from './rpc.js';
import type { HubMark, HubSpec, PeerSpec } from './servers/hub-spec.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sum of count × per-op CPU ms; kinds libsecp256k1 lacks (noble's variable-time ones) at noble's cost. */
export function ecMs(counts: Record<string, number>, native: Record<string, number>, noble: Record<string, number>): number {
  let ms = 0;
  for (const [k, n] of Object.entries(counts)) {
    const kind = k.slice(k.indexOf(':') + 1);
    ms += n * (native[kind] ?? noble[kind] ?? 0);
  }
  return ms;
}

/** A V8 `.cpuprofile`, as far as the grouping reads it. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** What a frame's self time is spent on: `name` is "function url". */
function groupOf(name: string): string {
  if (/wasm:\/\/|tiny-secp256k1/.test(name)) return 'WASM secp (libsecp256k1)';
  if (/classic-level|abstract-level|\/level\/|client\/mailbox\/kv/.test(name)) return 'LevelDB';
  // noble's hex helpers are codecs here (the hex of serialized state), not hashing.
  if (/^(bytesToHex|hexToBytes|encodeUtf8String|decodeUtf8String) /.test(name)) return 'JSON/codecs';
  if (/@noble\/curves/.test(name)) return 'noble curves (JS field/scalar arithmetic)';
  if (/micro-packed|@scure\/btc-signer/.test(name)) return 'JSON/codecs';
  if (/@noble\/(hashes|ciphers)|@scure/.test(name)) return 'noble hashes/ciphers';
  if (/node_modules\/ws\//.test(name)) return 'ws';
  if (/^\(garbage collector\)/.test(name)) return 'GC';
  if (/^\(idle\)/.test(name)) return 'idle';
  if (/^\(program\)/.test(name)) return 'V8 (program)';
  // The engine's all-or-nothing snapshot of its whole state before every step (structuredClone runs as its self time).
  if (/^atomic .*engine\/payment\/engine/.test(name)) return 'engine state snapshot (structuredClone)';
  if (/^(persist|toJSON|fromJSON|recordToJson|JSON\.|stringify|parse) |codec|encode|decode|hexReplacer|base\/bytes|protocol\//.test(name))
    return 'JSON/codecs';
  if (/node:net|stream_base|^writev |^(writeBuffer|writeUtf8String|readableAddChunk) /.test(name)) return 'sockets (node:net)';
  if (/node:/.test(name)) return 'node core (JS)';
  if (/engine\//.test(name)) return 'engine (JS)';
  if (/client\//.test(name)) return 'client runtime (JS)';
  return 'other';
}

/**
 * Self time of a profile grouped by what it is spent on (LevelDB, WASM secp,
 * noble, JSON/codecs, ws, …). A nameless native frame (a binding such as
 * LevelDB's) counts for the group of the function that called it.
 */
export function profileGroups(file: string): { total: number; busy: number; groups: [string, number][]; top: [string, number][] } {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const s = summarize(p);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  const groups = new Map<string, number>();
  let idle = 0;
  for (const [id, ms] of self) {
    let n = byId.get(id)!;
    while (!n.callFrame.functionName && !n.callFrame.url && parent.has(n.id)) n = byId.get(parent.get(n.id)!)!;
    const g = groupOf(`${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url}`);
    if (g === 'idle') idle += ms;
    groups.set(g, (groups.get(g) ?? 0) + ms);
  }
  return { total: s.total, busy: s.total - idle, groups: [...groups].sort((a, b) => b[1] - a[1]), top: s.byFunction.slice(0, 15) };
}

/** One hub run: its CPU, payments and EC operations over the measured window. */
interface HubRun {
  paid: number;
  cpuMs: number;
  /** Of `cpuMs`: kernel time per payment. */
  sysMs: number;
  /** Of `cpuMs`: the main thread's and the other threads' per payment, where `/proc` tells. */
  threadMs: { main: number; other: number } | undefined;
  wallS: number;
  ec: Record<string, number>;
  ecOps: number;
  latencies: number[];
  errors: number;
  load: [number, number];
  profFile: string | null;
}

/**
 * Sets up a relay, a hub holding `idle` further channels no payment uses,
 * and the payers and payees, then runs the closed loop and measures the
 * window (with a CPU profile of the hub when `profile` and BENCH_PROFILE).
 */
async function hubRun(s: Sizes, idle: number, profile: boolean): Promise<HubRun> {
  const relay = await startRelayProc();
  const hub = spawnWorker('servers/hub.ts', EC_COUNT);
  const payeeW = spawnWorker('load/hub-peers.ts');
  const payerW = spawnWorker('load/hub-peers.ts');
  const workers: Worker[] = [payerW, payeeW];
  let looping = false;
  try {
    const t0 = performance.now();
    const set = await hub.call<{ hub: HubSpec; payers: PeerSpec[]; payees: PeerSpec[] }>(
      'setup',
      relay.url,
      s.hubPayers,
      s.hubPayees,
      idle,
    );
    const targets = await payeeW.call<{ address: string; batch: string }[]>('payees', relay.url, set.hub, set.payees, s.hubTickets);
    await payerW.call('payers', relay.url, set.hub, set.payers);
    progress(
      `hub: ${s.hubPayers} payers, ${s.hubPayees} payees${idle ? `, ${idle} idle channels` : ''} set up in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    await payerW.call('start', targets, 60_000);
    looping = true;
    await sleep(s.hubWarmMs);
    const prof = profile ? process.env.BENCH_PROFILE : undefined;
    if (prof) await hub.call('profileStart');
    const load0 = os.loadavg()[0]!;
    const m0 = await hub.call<HubMark>('mark');
    await sleep(s.hubMs);
    const m1 = await hub.call<HubMark>('mark');
    const profFile = prof ? await hub.call<string>('profileStop', prof) : null;
    const load1 = os.loadavg()[0]!;
    looping = false;
    const loop = await payerW.call<{ completed: number; failed: string[]; latencies: number[]; errors: number; lastError: string }>('stop');
    if (loop.failed.length) throw new Error(`hub: ${loop.failed.length} payment(s) failed: ${loop.failed.slice(0, 3).join('; ')}`);
    const paid = m1.paid - m0.paid;
    if (paid <= 0) throw new Error(`hub: no payment completed in the ${s.hubMs} ms window (${loop.completed} in all)`);
    const ec: Record<string, number> = {};
    for (const [k, v] of Object.entries(m1.ec)) if (v - (m0.ec[k] ?? 0)) ec[k] = (v - (m0.ec[k] ?? 0)) / paid;
    return {
      paid,
      cpuMs: (m1.cpuUs - m0.cpuUs) / 1000 / paid,
      sysMs: (m1.sysUs - m0.sysUs) / 1000 / paid,
      threadMs:
        m0.threads && m1.threads
          ? { main: (m1.threads.mainUs - m0.threads.mainUs) / 1000 / paid, other: (m1.threads.otherUs - m0.threads.otherUs) / 1000 / paid }
          : undefined,
      wallS: (m1.wallMs - m0.wallMs) / 1000,
      ec,
      ecOps: Object.values(ec).reduce((a, b) => a + b, 0),
      latencies: loop.latencies.sort((a, b) => a - b),
      errors: m1.errors - m0.errors,
      load: [load0, load1],
      profFile,
    };
  } finally {
    if (looping) await payerW.call('stop').catch(() => undefined);
    for (const w of [payerW, payeeW]) await w.call('close').catch(() => undefined);
    await hub.call('close').catch(() => undefined);
    await Promise.all([...workers, hub].map((w) => w.stop()));
    await relay.stop();
  }
}

/** The hub rows. */
export async function benchHub(s: Sizes): Promise<Row[]> {
  const r = await hubRun(s, 0, true);
  const { paid, cpuMs, wallS, ec, ecOps, profFile } = r;
  const [load0, load1] = r.load;
  const lat = r.latencies;
  const crypto = spawnWorker('load/crypto.ts');
  try {
    const noble = await crypto.call<Record<string, number>>('opCosts', s.cryptoMinMs);
    const native = (await crypto.call<Record<string, number> | null>('nativeOpCosts', s.cryptoMinMs)) ?? noble;
    const floorMs = ecMs(ec, native, noble);
    const fmtEc = Object.entries(ec)
      .sort()
      .map(([k, v]) => `${k.slice(k.indexOf(':') + 1)}×${v.toFixed(1)}`)
      .join(' ');
    let profNote = '';
    if (profFile) {
      const p = profileGroups(profFile);
      const pct = (ms: number): string => `${((100 * ms) / p.busy).toFixed(1)}%`;
      profNote = `; hub profile (${profFile}) self time, % of busy samples: ${p.groups
        .filter(([g]) => g !== 'idle')
        .map(([g, ms]) => `${g} ${pct(ms)}`)
        .join(', ')}`;
      progress(
        `hub profile ${profFile}, ${p.total.toFixed(0)} ms sampled, ${p.busy.toFixed(0)} ms busy (shares of busy)\n  ${p.groups
          .filter(([g]) => g !== 'idle')
          .map(([g, ms]) => `${pct(ms).padStart(6)}  ${g}`)
          .join('\n  ')}`,
      );
      progress(`hub profile top functions (self):\n  ${p.top.map(([f, ms]) => `${pct(ms).padStart(6)}  ${f}`).join('\n  ')}`);
    }
    progress(
      `hub: ${paid} payments in ${wallS.toFixed(1)} s (${(paid / wallS).toFixed(1)}/s wall), hub CPU ${cpuMs.toFixed(1)} ms per payment (kernel ${r.sysMs.toFixed(1)}${r.threadMs ? `, main thread ${r.threadMs.main.toFixed(1)}, other threads ${r.threadMs.other.toFixed(1)}` : ''}) → ${(1000 / cpuMs).toFixed(1)} payments/s on one core; hub EC ops per payment ${ecOps.toFixed(1)} (${fmtEc}) = ${floorMs.toFixed(1)} ms at libsecp256k1 cost`,
    );
    const nobleMs = ecMs(ec, noble, noble);
    // The same set-up again with idle channels at the hub: a step pays for the channels it touches.
    const crowded = s.hubIdle > 0 ? await hubRun(s, s.hubIdle, false) : undefined;
    if (crowded)
      progress(
        `hub with ${s.hubIdle} idle channels: ${crowded.paid} payments, hub CPU ${crowded.cpuMs.toFixed(1)} ms per payment (${(crowded.cpuMs / cpuMs).toFixed(2)}× the run without)`,
      );
    const rows = [
      row({
        name: 'hub CPU per mode-1 payment ÷ the same hub EC operations done with noble',
        value: cpuMs,
        unit: 'CPU ms',
        baseline: `the same payments' hub EC ops (${ecOps.toFixed(0)} per payment) at noble's per-op cost`,
        baselineValue: nobleMs > 0 ? nobleMs : null,
        target: '≤ 0.25×',
        pass: nobleMs > 0 ? cpuMs / nobleMs <= 0.25 : null,
        note: `hub alone in its process, CPU of all its threads over the window; noble per-op CPU ms: ${Object.entries(noble)
          .map(([k, v]) => `${k} ${v.toFixed(3)}`)
          .join(', ')}`,
      }),
      row({
        name: 'hub payments/s on one core (1000 ÷ hub CPU ms per payment)',
        value: 1000 / cpuMs,
        unit: 'payments/s',
        baseline: floorMs > 0 ? `the same payments' hub EC ops (${ecOps.toFixed(0)} per payment) at libsecp256k1 per-op cost` : null,
        baselineValue: floorMs > 0 ? 1000 / floorMs : null,
        target: 'report',
        pass: null,
        note: `hub alone in its process (HubNode, LevelDB, shipped defaults); ${s.hubPayers} payers in one process, ${s.hubPayees} payees in another, relay in a fourth; closed loop, one payment in flight per payer (${s.hubPayers} in all), ${s.hubWarmMs} ms warm-up then a ${s.hubMs} ms window: ${paid} payments paid by the hub; hub CPU ${cpuMs.toFixed(1)} ms per payment (all threads; ${r.sysMs.toFixed(1)} ms of it in the kernel${r.threadMs ? `; main thread ${r.threadMs.main.toFixed(1)} ms, other threads ${r.threadMs.other.toFixed(1)} ms` : ''}); wall-clock ${(paid / wallS).toFixed(1)} payments/s for the whole set-up (all processes share the machine's ${os.cpus().length} cores, load average ${load0.toFixed(1)}–${load1.toFixed(1)}); payer-side latency p50 ${percentile(lat, 50).toFixed(0)} ms, p99 ${percentile(lat, 99).toFixed(0)} ms; hub EC ops per payment ${fmtEc} = ${floorMs.toFixed(1)} ms (per-op ms: ${Object.entries(
          native,
        )
          .map(([k, v]) => `${k} ${v.toFixed(3)}`)
          .join(', ')}); hub errors in the window ${r.errors}${profNote}`,
      }),
    ];
    if (crowded)
      rows.push(
        row({
          name: `hub CPU per payment holding ${s.hubIdle + s.hubPayers + s.hubPayees} channels ÷ holding ${s.hubPayers + s.hubPayees}`,
          value: crowded.cpuMs,
          unit: 'CPU ms',
          baseline: `the run above (${s.hubPayers + s.hubPayees} channels, the same payers and payees)`,
          baselineValue: cpuMs,
          target: 'report (≈ 1×: a step pays for the channels it touches)',
          pass: null,
          note: `the same set-up with ${s.hubIdle} further channels co-signed at state 0 whose peers never come online; ${crowded.paid} payments in the window, hub EC ops per payment ${crowded.ecOps.toFixed(1)}, load average ${crowded.load[0].toFixed(1)}–${crowded.load[1].toFixed(1)}, hub errors ${crowded.errors}`,
        }),
      );
    return rows;
  } finally {
    await crypto.stop();
  }
}
