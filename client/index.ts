/**
 * `ln-mailbox`: the wallet SDK (mailbox client and the Payer, Hub and Payee roles).
 * This file only re-exports.
 * @module
 */
export * from '../protocol/index.js';
export * from './kv.js';
export { TypedEmitter, type EventMap, type Listener } from './events.js';
export { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export { normalizeRelayUrl, type FetchLike } from './relay-http.js';
export type { WebSocketLike, WebSocketConstructor } from './relay-socket.js';
export { Subscription, type SubscriptionEvents } from './subscription.js';
export * from './mailbox-client.js';
export { KvNonceStore } from './nonce-store.js';
export { RoleRuntime, type RoleEngine, type ChainWatcher, type RuntimeEvents, type RuntimeOptions } from './runtime.js';
export * from './roles.js';
export { Channel, type ChannelJson, type StateRecord } from '../src/channel/channel.js';
export { openChannelPair } from '../src/channel/open.js';
export type { ChannelParams, ChannelState } from '../src/channel/state.js';
export type { PaymentEvent, Receipt, StepContext } from '../src/payment/types.js';
export type { HubConfig, HubPeer } from '../src/payment/hub.js';
export type { PayerConfig } from '../src/payment/payer.js';
export type { PayeeConfig } from '../src/payment/payee.js';
export type { RouterConfig } from '../src/payment/router.js';
/** The Bitcoin layer (BIP118 sighash, eltoo update/settlement, PTLC claim/refund), for enforcing states on chain. */
export * as bitcoin from '../src/bitcoin/index.js';
export { eltooParams, settlementSpec, ptlcOf, ptlcPublicKey, ptlcSecretKey, payoutScript } from '../src/channel/txs.js';
