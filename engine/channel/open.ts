/**
 * Channel opening with both keys at hand: produces both parties' views of a
 * channel whose state 0 is fully co-signed (settlement 0 and update 0).
 *
 * For tests and setups where one operator controls both keys. Between
 * independent parties a channel is opened over the mailbox (SPEC 6.17,
 * engine/payment/open/), co-signing state 0 through the same state machine,
 * signatures and committed nonces as every later state.
 * @module
 */
import type { NonceStore } from '../../crypto/nonce.js';
import { Channel } from './channel.js';
import { initialState, type ChannelParams, type StateRecord } from './state.js';

/** Opens a channel between party 0 (`sk0`, nonces in `nonces0`) and party 1. Returns `[view of party 0, view of party 1]`. */
export async function openChannelPair(
  params: ChannelParams,
  balances: [number, number],
  sk0: Uint8Array,
  sk1: Uint8Array,
  nonces0: NonceStore,
  nonces1: NonceStore,
): Promise<[Channel, Channel]> {
  const state0 = initialState(params, balances);
  const unsigned = () => ({ state: state0, settleSigs: [null, null], updateNonces: [null, null], updateSigs: [null, null] }) as StateRecord;
  // Each view starts with state 0 both as its (unsigned) base and as the state
  // being negotiated, and co-signs it like any later state.
  const views = ([0, 1] as const).map((me) => new Channel(params, me, unsigned(), unsigned())) as [Channel, Channel];
  const [a, b] = views;
  const sa = a.signSettlement(sk0);
  const sb = b.signSettlement(sk1);
  a.receiveSettlementSig(sb);
  b.receiveSettlementSig(sa);
  a.receiveUpdateNonce(await b.commitUpdateNonce(nonces1, sk1));
  b.receiveUpdateNonce(await a.commitUpdateNonce(nonces0, sk0));
  const ua = await a.signUpdate(nonces0, sk0);
  const ub = await b.signUpdate(nonces1, sk1);
  a.receiveUpdateSig(ub);
  b.receiveUpdateSig(ua);
  if (a.pending || b.pending) throw new Error('unreachable: state 0 not promoted');
  return views;
}
