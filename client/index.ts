/**
 * `ln-mailbox`: the wallet SDK (mailbox client and the Payer, Hub and Payee roles).
 * This file only re-exports.
 * @module
 */
export * from '../protocol/index.js';
