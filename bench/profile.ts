/**
 * Summarizes a V8 `.cpuprofile` (from `BENCH_PROFILE=<dir> npm run bench`
 * or `node --cpu-prof`): self time by function and by package, so a missed
 * target can be explained from data. Usage:
 * `node --import tsx bench/profile.ts <file.cpuprofile> [top=25]`.
 * @module
 */
import fs from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time (ms) by function and by package of one profile. */
export function summarize(p: Profile): { total: number; byFunction: [string, number][]; byPackage: [string, number][] } {
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  const fn = new Map<string, number>();
  const pkg = new Map<string, number>();
  let total = 0;
  for (const n of p.nodes) {
    const ms = self.get(n.id) ?? 0;
    if (!ms) continue;
    total += ms;
    const url = n.callFrame.url;
    const file = url.replace(/^.*\/work\/main\//, '').replace(/^file:\/\//, '');
    const name = `${n.callFrame.functionName || '(anonymous)'} ${file ? `${file}:${n.callFrame.lineNumber + 1}` : ''}`.trim();
    fn.set(name, (fn.get(name) ?? 0) + ms);
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    const where = m
      ? m[1]!
      : url.startsWith('node:')
        ? 'node core (js)'
        : url === ''
          ? `(${n.callFrame.functionName || 'native'})`
          : file.split('/')[0]!;
    pkg.set(where, (pkg.get(where) ?? 0) + ms);
  }
  const sort = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]);
  return { total, byFunction: sort(fn), byPackage: sort(pkg) };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, ''))) {
  const [target, top = '25'] = process.argv.slice(2);
  if (!target) {
    console.error('usage: node --import tsx bench/profile.ts <file.cpuprofile | directory> [top]');
    process.exit(2);
  }
  // A directory (as BENCH_PROFILE writes) is summarised file by file.
  const files = fs.statSync(target).isDirectory()
    ? fs
        .readdirSync(target)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => `${target}/${f}`)
    : [target];
  for (const file of files) {
    const s = summarize(JSON.parse(fs.readFileSync(file, 'utf8')) as Profile);
    const pct = (ms: number): string => `${((100 * ms) / s.total).toFixed(1)}%`;
    console.log(`${file}\ntotal sampled ${s.total.toFixed(0)} ms\n\nby package:`);
    for (const [k, v] of s.byPackage.slice(0, 15)) console.log(`  ${pct(v).padStart(6)}  ${k}`);
    console.log('\nby function (self):');
    for (const [k, v] of s.byFunction.slice(0, Number(top))) console.log(`  ${pct(v).padStart(6)}  ${k}`);
    console.log('');
  }
}
