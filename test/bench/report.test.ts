import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { percentile, row, table } from '../../bench/report.js';

const t = suite('bench/report');

t('percentile is nearest-rank on a sorted array', () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.is(percentile(xs, 50), 50);
  assert.is(percentile(xs, 99), 99);
  assert.is(percentile(xs, 100), 100);
  assert.is(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});

t('row computes ratio = value / baseline, null without a baseline', () => {
  const r = row({ name: 'x', value: 80, unit: '/s', baseline: 'b', baselineValue: 100, target: '≥ 0.8×', pass: true });
  assert.is(r.ratio, 0.8);
  const n = row({ name: 'y', value: 3, unit: 'ms', baseline: null, baselineValue: null, target: null });
  assert.is(n.ratio, null);
  assert.is(n.pass, null);
});

t('table renders one line per row with ratio and pass', () => {
  const out = table([
    row({ name: 'ingest', value: 2000, unit: 'env/s', baseline: 'express', baselineValue: 2500, target: '≥ 0.8×', pass: true }),
    row({ name: 'p99', value: 12.5, unit: 'ms', baseline: null, baselineValue: null, target: '≤ 10 ms', pass: false }),
  ]).split('\n');
  assert.is(out.length, 4);
  assert.match(out[2]!, /\| ingest \| 2,000 env\/s \| express: 2,500 env\/s \| 0\.800× \| ≥ 0\.8× \| yes \|/);
  assert.match(out[3]!, /\| p99 \| 12\.5 ms \| – \| – \| ≤ 10 ms \| no \|/);
});

t.run();
