/**
 * `ln-mailbox`: the wallet SDK. What a wallet or an LSP embeds: the mailbox
 * client, the role runtimes (payer, payee, hub, router), their persistent
 * stores, channels, and the few wire names a wallet branches on.
 *
 * The rest has its own entry: the wire contract (codecs, seal/open, relay
 * frames) is `ln-mailbox/protocol`, the Bitcoin layer (eltoo and PTLC
 * transactions, BIP118 sighash) is `ln-mailbox/bitcoin`, the relay is
 * `ln-mailbox/server`. This file only re-exports, and
 * `test/client/public-surface.test.ts` holds the list, so that a name joins
 * the surface on purpose.
 * @module
 */

// Errors and hex: every failure is an LnMailboxError with a stable code.
export { ErrorCode, LnMailboxError, isLnMailboxError } from '../base/errors.js';
export { bytesToHex, hexToBytes } from '../base/bytes.js';

// Identity: keys and mailbox addresses.
export { getPublicKey, randomSecretKey } from '../crypto/bip340.js';
export { decodeMailboxAddress, encodeMailboxAddress, type MailboxAddress } from '../protocol/address.js';

// The mailbox transport.
export {
  MailboxClient,
  type Destination,
  type EnvelopeHandler,
  type FetchBacklogOptions,
  type MailboxClientOptions,
  type MailboxMessage,
  type ProcessedMark,
  type PostOptions,
  type PostResult,
  type RelayPostResult,
  type RelayRetractResult,
  type RetractResult,
  type SubscribeOptions,
  type BacklogResult,
} from './mailbox/mailbox-client.js';
export type { Subscription, SubscriptionEvents } from './mailbox/subscription.js';
export { fetchRecord, type FetchRecordOptions } from './mailbox/records.js';
export { LevelKv, MemoryKv, type Kv, type KvOp, type LevelKvOptions } from './mailbox/kv.js';
export type { BackoffOptions } from './mailbox/backoff.js';
export type { FetchLike } from './mailbox/relay-http.js';
export type { WebSocketConstructor, WebSocketLike } from './mailbox/relay-socket.js';

// The wallet runtime: one node per role.
export {
  HubNode,
  PayeeNode,
  PayerNode,
  RouterNode,
  type HubNodeOptions,
  type HubTermsPolicy,
  type PayeeNodeOptions,
  type PayerNodeOptions,
  type RouterNodeOptions,
} from './wallet/roles.js';
// Opening channels (SPEC 6.17): the hub's signed terms, the open API of the wallet roles.
export { TERMS_RECORD, verifyTerms, type HubTerms } from '../protocol/terms.js';
export type { OpenChannelOptions, OpeningOptions, OpeningRuntime, WalletRuntime } from './wallet/opening.js';
export type { ChainWatcher, CloseOptions, CloseResult, RoleRuntime, RuntimeEvents, RuntimeOptions } from './wallet/runtime.js';
// The wallet query API: channels, balances (settled apart from in flight), payments and their history.
export type { Balances, ChannelInfo, OpenInfo, PaymentDetails, PaymentHistoryEntry, PaymentRecord } from './wallet/query.js';
export { KvNonceStore } from './wallet/nonce-store.js';
export { Watchtower, type TowerHost, type WatchtowerEvents, type WatchtowerOptions } from './wallet/watchtower.js';
export type { BroadcastAction, ChainPhase, EnforcePlan } from '../engine/channel/enforce.js';

// The chain: a source (Esplora REST), its cached tip, the funding wallet contract.
export {
  ChainRejectedError,
  type ChainSource,
  type ChainTx,
  type ChainUtxo,
  type FundOptions,
  type FundingWallet,
  type TxStatus,
} from './chain/source.js';
export { EsploraChainSource, type EsploraChainSourceOptions } from './chain/esplora.js';
export { ChainTip, type ChainTipOptions } from './chain/tip.js';
export { confirmationsAt, fundingStatus, type FundingStatus } from './chain/confirmations.js';
export {
  SingleKeyWallet,
  scriptForAddress,
  type BitcoinNetwork,
  type FundResult,
  type SingleKeyWalletOptions,
} from './chain/single-key-wallet.js';

// Channels, and the bridge from a channel state to its transactions.
export { Channel, type ChannelJson, type StateRecord } from '../engine/channel/channel.js';
export { openChannelPair } from '../engine/channel/open.js';
export type { ChannelParams, ChannelState } from '../engine/channel/state.js';
export { eltooTerms, ptlcOf, settlementSpec } from '../engine/channel/onchain.js';

// Payments: configuration, fees, events, receipts.
export { hubFee, type FeePolicy } from '../engine/payment/fee.js';
export type { PaymentEvent, Receipt, StepContext } from '../engine/payment/types.js';
export type { HubConfig } from '../engine/payment/hub/hub.js';
export type { PeerChannel } from '../engine/payment/peers.js';
export type { PaymentOrder, PayerConfig } from '../engine/payment/payer/payer.js';
export type { PayeeConfig } from '../engine/payment/payee/payee.js';
export type { RouterConfig } from '../engine/payment/router.js';
export { PaymentType, decodePayment, type PaymentMessage } from '../protocol/payment.js';

// Proof of payment: a receipt is checked against the payee's address alone, by anyone.
export { verifyReceipt, type PaymentReceipt, type ReceiptFields } from '../protocol/receipt.js';
export type { PayerPayment, PayerStatus } from '../engine/payment/payer/payer.js';
export type { PayeePayment, PayeeStatus } from '../engine/payment/payee/payee.js';
export type { TicketSource } from './wallet/tickets.js';
