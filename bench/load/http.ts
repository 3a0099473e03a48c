/**
 * HTTP ingest load generator (its own process): `concurrency` closed-loop
 * senders, each POSTing fresh 1 KiB envelopes over a keep-alive agent,
 * round-robin over `mailboxes`, until `durationMs` passes or `stop` is
 * called. Records every request's start (epoch ms) and latency so the
 * coordinator can cut windows (e.g. "while the sweeper runs").
 * @module
 */
import http from 'node:http';
import { idOf, syntheticEnvelope } from '../envelopes.js';
import { serve } from '../rpc.js';

/** Options of one load run. */
export interface HttpLoadOptions {
  url: string;
  mailboxes: string[];
  concurrency: number;
  durationMs: number;
  size?: number;
  /** Return per-request samples (start epoch ms, latency ms). */
  samples?: boolean;
}

/** Outcome of one load run. */
export interface HttpLoadResult {
  ok: number;
  failed: number;
  statuses: Record<string, number>;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  samples?: [number, number][];
}

let stopping = false;

function post(agent: http.Agent, url: URL, mailbox: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: `/v1/mailboxes/${mailbox}/envelopes`,
        headers: { 'content-type': 'application/octet-stream', 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function run(o: HttpLoadOptions): Promise<HttpLoadResult> {
  stopping = false;
  const url = new URL(o.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
  const origin = performance.timeOrigin;
  const lat: number[] = [];
  const samples: [number, number][] = [];
  const statuses: Record<string, number> = {};
  let ok = 0;
  let failed = 0;
  let i = 0;
  const t0 = performance.now();
  const end = t0 + o.durationMs;
  const sender = async (): Promise<void> => {
    while (!stopping && performance.now() < end) {
      const mailbox = o.mailboxes[i++ % o.mailboxes.length]!;
      const body = syntheticEnvelope(mailbox, o.size);
      const s = performance.now();
      let status = 0;
      try {
        status = await post(agent, url, mailbox, body);
      } catch {
        status = 0;
      }
      const d = performance.now() - s;
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === 201) {
        ok++;
        lat.push(d);
        if (o.samples) samples.push([origin + s, d]);
      } else failed++;
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, sender));
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  lat.sort((a, b) => a - b);
  const pct = (p: number): number => lat[Math.min(lat.length - 1, Math.max(0, Math.ceil(p * lat.length) - 1))] ?? NaN;
  const out: HttpLoadResult = { ok, failed, statuses, seconds, perSecond: ok / seconds, p50: pct(0.5), p99: pct(0.99) };
  if (o.samples) out.samples = samples;
  return out;
}

/** Outcome of an open-loop run: each envelope's id and the epoch ms its POST was sent. */
export interface OpenLoopResult {
  posted: number;
  failed: number;
  achievedRate: number;
  sent: [string, number][];
}

/**
 * Open loop: POSTs fresh 1 KiB envelopes at `rate`/s for `durationMs`,
 * round-robin over `targets` ([relay URL, mailbox] pairs: several relays
 * may share the load), whatever the answers' latency; records when each
 * was sent (epoch ms, same machine clock as the subscribers' processes).
 */
async function openLoop(targets: [string, string][], rate: number, durationMs: number): Promise<OpenLoopResult> {
  const agents = new Map<string, http.Agent>();
  const agentOf = (url: string): http.Agent => {
    let a = agents.get(url);
    if (!a) agents.set(url, (a = new http.Agent({ keepAlive: true, maxSockets: 256 })));
    return a;
  };
  const origin = performance.timeOrigin;
  const sent: [string, number][] = [];
  let posted = 0;
  let failed = 0;
  const inflight = new Set<Promise<void>>();
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - t0;
      if (elapsed >= durationMs) {
        clearInterval(timer);
        return resolve();
      }
      // Catch up to the schedule: rate·elapsed envelopes by now.
      const due = Math.floor((rate * elapsed) / 1000) - posted;
      for (let i = 0; i < due; i++) {
        const [url, mailbox] = targets[posted++ % targets.length]!;
        const body = syntheticEnvelope(mailbox);
        sent.push([idOf(body), origin + performance.now()]);
        const p = post(agentOf(url), new URL(url), mailbox, body)
          .then((st) => {
            if (st !== 201) failed++;
          })
          .catch(() => void failed++)
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
    }, 5);
  });
  await Promise.all(inflight);
  for (const a of agents.values()) a.destroy();
  return { posted, failed, achievedRate: posted / (durationMs / 1000), sent };
}

serve({
  run,
  openLoop,
  stop(): void {
    stopping = true;
  },
});
