/**
 * The chain simulator lives in sim/chain-model.ts; this module keeps the old
 * import path of the engine suites working and adds the uvu assertion they
 * share.
 */
import * as assert from 'uvu/assert';
import { ChainRejection, type RejectReason } from '../../../sim/chain-model.js';

export {
  ChainModel,
  ChainRejection,
  MTP,
  at,
  outpointOf,
  type BlockContext,
  type ModelTx,
  type ModelUtxo,
  type RejectReason,
} from '../../../sim/chain-model.js';
export { keyPathOutput, signKeyPath } from '../../../sim/key-path.js';

/** Asserts that `fn` is refused by the chain model for `reason`. */
export function rejects(fn: () => unknown, reason: RejectReason, msg?: string): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, ChainRejection, msg);
    assert.is((e as ChainRejection).reason, reason, `${msg ?? ''} ${(e as Error).message}`);
    return;
  }
  assert.unreachable(`${msg ?? ''}: expected rejection ${reason}`);
}
