/** The hub's fee: the one function the hub checks with and wallets offer with. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hubFee } from '../../../engine/payment/fee.js';

const t = suite('payment/fee');

t('base plus ppm of the amount, the proportional part rounded down', () => {
  assert.is(hubFee(50_000, { base: 10, ppm: 1000 }), 60);
  assert.is(hubFee(12_345, { base: 10, ppm: 1000 }), 22);
  assert.is(hubFee(999, { base: 0, ppm: 1000 }), 0);
  assert.is(hubFee(1_000_000, { base: 0, ppm: 1 }), 1);
  assert.is(hubFee(0, { base: 7, ppm: 5000 }), 7);
});

t.run();
