import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TypedEmitter } from '../../../client/mailbox/events.js';

type Ev = { tick: [n: number]; error: [e: Error] };
class Clock extends TypedEmitter<Ev> {
  fire<K extends keyof Ev>(k: K, ...a: Ev[K]): void {
    this.emit(k, ...a);
  }
}

const t = suite('client/events');

t('on, once, off and the returned unsubscribe', () => {
  const c = new Clock();
  const got: string[] = [];
  const l = (n: number): void => void got.push(`a${n}`);
  c.on('tick', l);
  const offB = c.on('tick', (n) => void got.push(`b${n}`));
  c.once('tick', (n) => void got.push(`once${n}`));
  c.fire('tick', 1);
  c.off('tick', l);
  c.fire('tick', 2);
  offB();
  c.fire('tick', 3);
  assert.equal(got, ['a1', 'b1', 'once1', 'b2']);
});

t('an error event without listeners is dropped, not thrown', () => {
  const c = new Clock();
  c.fire('error', new Error('x'));
});

t('a throwing listener does not stop the others', async () => {
  const c = new Clock();
  let second = false;
  c.on('tick', () => {
    throw new Error('boom');
  });
  c.on('tick', () => {
    second = true;
  });
  // The listener's error is rethrown in a microtask; catch it here.
  const caught = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve));
  c.fire('tick', 1);
  assert.ok(second);
  assert.is(((await caught) as Error).message, 'boom');
});

t.run();
