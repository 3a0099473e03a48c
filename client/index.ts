/**
 * `ln-mailbox`: the wallet SDK (mailbox client and the Payer, Hub and Payee roles).
 * This file only re-exports.
 * @module
 */
export * from '../protocol/index.js';
export * from './mailbox/kv.js';
export { TypedEmitter, type EventMap, type Listener } from './mailbox/events.js';
export { DEFAULT_BACKOFF, type BackoffOptions } from './mailbox/backoff.js';
export { normalizeRelayUrl, type FetchLike } from './mailbox/relay-http.js';
export type { WebSocketLike, WebSocketConstructor } from './mailbox/relay-socket.js';
export { Subscription, type SubscriptionEvents } from './mailbox/subscription.js';
export * from './mailbox/mailbox-client.js';
export { KvNonceStore } from './wallet/nonce-store.js';
export { RoleRuntime, type RoleEngine, type ChainWatcher, type RuntimeEvents, type RuntimeOptions } from './wallet/runtime.js';
export * from './wallet/roles.js';
export { Channel, type ChannelJson, type StateRecord } from '../engine/channel/channel.js';
export { openChannelPair } from '../engine/channel/open.js';
export type { ChannelParams, ChannelState } from '../engine/channel/state.js';
export type { PaymentEvent, Receipt, StepContext } from '../engine/payment/types.js';
export type { HubConfig } from '../engine/payment/hub/hub.js';
export type { HubPeer } from '../engine/payment/peers.js';
export type { PayerConfig } from '../engine/payment/payer/payer.js';
export type { PayeeConfig } from '../engine/payment/payee/payee.js';
export type { RouterConfig } from '../engine/payment/router.js';
/** The Bitcoin layer (BIP118 sighash, eltoo update/settlement, PTLC claim/refund), for enforcing states on chain. */
export * as bitcoin from '../engine/bitcoin/index.js';
export { eltooTerms, settlementSpec, ptlcOf, ptlcPublicKey, ptlcSecretKey, payoutScript } from '../engine/channel/onchain.js';
