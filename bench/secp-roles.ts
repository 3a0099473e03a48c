/**
 * The secp256k1 backend on one async payment by offer: the payment of
 * client.ts run twice per backend (libsecp256k1, then noble forced with
 * LNMB_SECP=noble), each in fresh processes with the EC-count hook, printing
 * EC operations per role and the clients' CPU. Each worker runs twice (the
 * first warms up); each run makes two payments over the same fresh channels
 * and counts both: the first payment ("first", which also derives what a
 * channel needs once, such as its PTLC keys) and the one after it ("later",
 * as every further payment over those channels).
 * Run: `node --import tsx bench/secp-roles.ts [runs]`.
 * @module
 */
import { EC_COUNT, startRelayProc } from './context.js';
import { spawnWorker } from './rpc.js';

type Pay = { wallMs: number; clientCpuMs: number; counts: Record<string, number> };
type Two = { first: Pay; later: Pay };

async function once(backend: 'libsecp256k1' | 'noble'): Promise<Two> {
  if (backend === 'noble') process.env.LNMB_SECP = 'noble';
  else delete process.env.LNMB_SECP;
  const relay = await startRelayProc(EC_COUNT);
  const pay = spawnWorker('load/payment.ts', EC_COUNT);
  try {
    await pay.call<Two>('runTwice', relay.url, 50_000);
    return await pay.call<Two>('runTwice', relay.url, 50_000);
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
    const two = await once(b);
    res[b]!.push(two.first);
    for (const which of ['first', 'later'] as const) {
      const r = two[which];
      const roles = perRole(r.counts);
      console.log(
        `${b} ${which}: client CPU ${r.clientCpuMs.toFixed(0)} ms, wall ${r.wallMs.toFixed(0)} ms; ${Object.entries(roles)
          .map(([role, c]) => `${role} ${sum(c)} ${JSON.stringify(c)}`)
          .join('; ')}`,
      );
    }
  }
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const n = res.libsecp256k1!.map((r) => r.clientCpuMs);
const j = res.noble!.map((r) => r.clientCpuMs);
console.log(
  `client CPU per first payment: libsecp256k1 median ${med(n).toFixed(0)} ms [${n.map((x) => x.toFixed(0)).join(', ')}], noble median ${med(j).toFixed(0)} ms [${j.map((x) => x.toFixed(0)).join(', ')}]`,
);
process.exit(0);
