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
