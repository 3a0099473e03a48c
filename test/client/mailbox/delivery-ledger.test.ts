import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryKv } from '../../../client/mailbox/kv.js';
import { DeliveryLedger } from '../../../client/mailbox/delivery-ledger.js';

const t = suite('client/ledger');
const A = 'aa'.repeat(32);
const B = 'bb'.repeat(32);
const ID1 = '11'.repeat(32);
const ID2 = '22'.repeat(32);

t('processed ids: per mailbox, with expiry and pruning', async () => {
  const kv = new MemoryKv();
  const a = new DeliveryLedger(kv, A);
  const b = new DeliveryLedger(kv, B);
  assert.not.ok(await a.isProcessed(ID1, 0));
  await a.markProcessed(ID1, 1000);
  await a.markProcessed(ID2, 5000);
  assert.ok(await a.isProcessed(ID1, 999));
  assert.not.ok(await a.isProcessed(ID1, 1000), 'expired at keepUntil');
  assert.not.ok(await b.isProcessed(ID1, 0), 'another mailbox in the same store is separate');
  await b.markProcessed(ID1, 100);
  assert.is(await a.prune(2000), 1);
  assert.not.ok(await a.isProcessed(ID1, 0), 'pruned');
  assert.ok(await a.isProcessed(ID2, 2000), 'live entry kept');
  assert.ok(await b.isProcessed(ID1, 50), "pruning one mailbox leaves the other's entries");
});

t('cursors: per relay, default 0, survive a new ledger on the same store', async () => {
  const kv = new MemoryKv();
  const a = new DeliveryLedger(kv, A);
  assert.is(await a.cursor('http://r1'), 0);
  await a.setCursor('http://r1', 42);
  await a.setCursor('http://r2', 2 ** 40);
  const again = new DeliveryLedger(kv, A);
  assert.is(await again.cursor('http://r1'), 42);
  assert.is(await again.cursor('http://r2'), 2 ** 40);
  assert.is(await new DeliveryLedger(kv, B).cursor('http://r1'), 0);
});

t('a corrupt entry reads as absent rather than crashing', async () => {
  const kv = new MemoryKv();
  const a = new DeliveryLedger(kv, A);
  await kv.put(`lnmb/mailbox/${A}/cursor/http://r1`, new Uint8Array([1, 2, 3]));
  await kv.put(`lnmb/mailbox/${A}/seen/${ID1}`, new Uint8Array([1]));
  assert.is(await a.cursor('http://r1'), 0);
  assert.not.ok(await a.isProcessed(ID1, 0));
  assert.is(await a.prune(0), 1, 'corrupt seen entries are pruned');
});

t.run();
