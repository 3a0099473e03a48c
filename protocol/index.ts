/**
 * `ln-mailbox/protocol`: the wire contract. Pure codecs and validators for
 * envelopes, mailbox addresses, relay frames and payment messages.
 * This file only re-exports.
 * @module
 */
export * from '../base/errors.js';
export * from '../base/bytes.js';
export * from './envelope.js';
export * from './relay.js';
export * from './codec.js';
export * from './payment.js';
export * from './padding.js';
export * from './inner.js';
export * from './seal.js';
export * from './address.js';
export * from './receipt.js';
