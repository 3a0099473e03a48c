/**
 * The secp256k1 backend on one async payment by offer: the payment of
 * client.ts run twice per backend (libsecp256k1, then noble forced with
 * LNMB_SECP=noble), each in fresh processes with the EC-count hook, printing
 * EC operations per role and the clients' CPU. The second payment of each
 * pair is the figure (the first warms up). Run: `node --import tsx bench/secp-roles.ts [runs]`.
 * @module
 */
import { EC_COUNT, startRelayProc } from './context.js';
import { spawnWorker } from './rpc.js';

type Pay = { wallMs: number; clientCpuMs: number; counts: Record<string, number> };

async function once(backend: 'libsecp256k1' | 'noble'): Promise<Pay> {
  if (backend === 'noble') process.env.LNMB_SECP = 'noble';
  else delete process.env.LNMB_SECP;
  const relay = await startRelayProc(EC_COUNT);
  const pay = spawnWorker('load/payment.ts', EC_COUNT);
  try {
    await pay.call<Pay>('run', relay.url, 50_000);
    return await pay.call<Pay>('run', relay.url, 50_000);
  } finally {
    await pay.stop();
    await relay.stop();
  }
}

const perRole = (c: Record<string, number>): Record<string, Record<string, number>> => {
  const out: Record<string, Record<string, number>> = {};
  for (const [k, v] of Object.entries(c)) {
    const [role, kind] = k.split(':') as [string, string];
    (out[role] ??= {})[kind] = v;
  }
  return out;
};
const sum = (o: Record<string, number>): number => Object.values(o).reduce((a, b) => a + b, 0);

const runs = Number(process.argv[2] ?? 3);
const res: Record<string, Pay[]> = { libsecp256k1: [], noble: [] };
for (let i = 0; i < runs; i++)
  for (const b of ['libsecp256k1', 'noble'] as const) {
    const r = await once(b);
    res[b]!.push(r);
    const roles = perRole(r.counts);
    console.log(
      `${b}: client CPU ${r.clientCpuMs.toFixed(0)} ms, wall ${r.wallMs.toFixed(0)} ms; ${Object.entries(roles)
        .map(([role, c]) => `${role} ${sum(c)} ${JSON.stringify(c)}`)
        .join('; ')}`,
    );
  }
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const n = res.libsecp256k1!.map((r) => r.clientCpuMs);
const j = res.noble!.map((r) => r.clientCpuMs);
console.log(
  `client CPU per payment: libsecp256k1 median ${med(n).toFixed(0)} ms [${n.map((x) => x.toFixed(0)).join(', ')}], noble median ${med(j).toFixed(0)} ms [${j.map((x) => x.toFixed(0)).join(', ')}]`,
);
process.exit(0);
