import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backoffDelay, backoffOptions, DEFAULT_BACKOFF } from '../../../client/mailbox/backoff.js';
import { ErrorCode } from '../../../protocol/index.js';
import { throwsCode } from '../../helpers.js';

const t = suite('client/backoff');
const o = { minMs: 100, maxMs: 1000 };

t('doubles per attempt, capped at maxMs', () => {
  // random = 1-ε gives the top of the window, 0 the bottom (half of it).
  const top = (a: number): number => backoffDelay(a, o, () => 0.999999);
  const bottom = (a: number): number => backoffDelay(a, o, () => 0);
  assert.equal([0, 1, 2, 3, 4, 5, 50, 5000].map(top), [100, 200, 400, 800, 1000, 1000, 1000, 1000]);
  assert.equal([0, 1, 2, 3, 4].map(bottom), [50, 100, 200, 400, 500]);
});

t('jitter stays within [d/2, d] and actually varies', () => {
  let seed = 1;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(3, o, rnd);
    assert.ok(d >= 400 && d <= 800, `delay ${d} outside [400, 800]`);
    seen.add(d);
  }
  assert.ok(seen.size > 50, 'jitter spreads delays');
  // A broken random source cannot push the delay out of bounds.
  assert.is(
    backoffDelay(0, o, () => 7),
    50,
  );
  assert.is(
    backoffDelay(0, o, () => Number.NaN),
    50,
  );
});

t('options: defaults and validation', () => {
  assert.equal(backoffOptions(undefined), { ...DEFAULT_BACKOFF });
  assert.equal(backoffOptions({ minMs: 10 }), { minMs: 10, maxMs: DEFAULT_BACKOFF.maxMs });
  assert.ok(DEFAULT_BACKOFF.maxMs <= 5000, 'a role reconnects within a few seconds of a relay restart');
  assert.equal(backoffOptions({ minMs: 60_000 }), { minMs: 60_000, maxMs: 60_000 });
  throwsCode(() => backoffOptions({ minMs: 5, maxMs: 1 }), ErrorCode.INVALID_RANGE);
  throwsCode(() => backoffOptions({ minMs: -1 }), ErrorCode.INVALID_RANGE);
  throwsCode(() => backoffOptions({ maxMs: Infinity }), ErrorCode.INVALID_TYPE);
  throwsCode(() => backoffOptions('fast' as never), ErrorCode.INVALID_TYPE);
  throwsCode(() => backoffDelay(-1, o), ErrorCode.INVALID_RANGE);
  throwsCode(() => backoffDelay(1.5, o), ErrorCode.INVALID_RANGE);
});

t.run();
