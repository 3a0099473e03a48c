/**
 * `ln-mailbox/server`: the relay. This file only re-exports.
 * @module
 */
export {};
