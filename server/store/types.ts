/**
 * The relay's storage interface (SPEC 5.12, "Storage contract").
 *
 * One interface, many backends, one conformance suite, in the style of
 * abstract-level: the LevelDB backend (`level/store.ts`) is the embedded
 * default, PostgreSQL (`pg/store.ts`) serves several relay instances, and
 * every backend must pass `storeConformance` (`conformance.ts`, exported
 * from `ln-mailbox/server`).
 *
 * Ids and mailboxes cross this interface as 64-char lowercase hex; times are
 * milliseconds since the epoch and are always passed in by the caller, so a
 * test can drive expiry with a fake clock.
 * @module
 */
import type { EnvelopeStatus } from '../../protocol/relay.js';
import type { StoreHealth } from './health.js';

/** A live envelope as read from the store (listing, backlog, live push). */
export interface StoredEnvelope {
  /** `sha256(envelope)`, 64 hex. */
  id: string;
  /** Per-mailbox sequence number: the cursor. */
  seq: number;
  /** The envelope bytes exactly as posted. */
  envelope: Uint8Array;
  /** Expiry time, ms since the epoch. */
  expiresAt: number;
}

/** What a sender asks the store to keep. */
export interface AppendRequest {
  /** `sha256(envelope)`, 64 hex; the caller computes it once. */
  id: string;
  /** Recipient mailbox id, 64 hex (already checked against the envelope header). */
  mailbox: string;
  envelope: Uint8Array;
  /** Absolute expiry, ms since the epoch (the caller has clamped the TTL). */
  expiresAt: number;
  /** `sha256(retraction secret)`, 64 hex, when the sender may retract. */
  retractionHash?: string;
}

/** Per-mailbox quota enforced atomically with the append. */
export interface MailboxQuota {
  maxEnvelopes: number;
  maxBytes: number;
}

/** Result of {@link RelayStore.append}. */
export interface AppendResult {
  /** False when an envelope with this id was already known (live or tombstone): nothing was written. */
  created: boolean;
  seq: number;
  expiresAt: number;
}

/** A page of live envelopes in seq order. */
export interface ListResult {
  envelopes: StoredEnvelope[];
  /** True when more live envelopes with a higher seq may exist. */
  more: boolean;
}

/** Outcome of a successful retraction. */
export type RetractOutcome = 'retracted' | 'expired';

/** Result of one expiry sweep round. */
export interface SweepResult {
  /** Live envelopes turned into `expired` tombstones. */
  expired: number;
  /** Tombstones whose retention ended and that were deleted. */
  purged: number;
  /** True when the round hit its limit and more work is due now. */
  more: boolean;
}

/** Live usage of one mailbox, kept in memory (O(1)). */
export interface MailboxUsage {
  /** Live (queued or delivered) envelopes. */
  count: number;
  /** Sum of their sizes in bytes. */
  bytes: number;
  /** Highest seq ever assigned in this mailbox (0 when none). */
  lastSeq: number;
}

/** Totals over all mailboxes, for metrics. */
export interface StoreTotals {
  envelopes: number;
  bytes: number;
  mailboxes: number;
}

/** Called once per newly stored envelope, after its batch is durable, in seq order. */
export type AppendListener = (mailbox: string, envelope: StoredEnvelope) => void;

/**
 * The storage contract of the relay. Every method that writes resolves only
 * after the write is durable (synced), except {@link markDelivered}, whose
 * loss on a crash merely reverts a status from `delivered` to `queued`.
 *
 * Errors: `MAILBOX_FULL`, `ENVELOPE_NOT_FOUND`, `RETRACT_FORBIDDEN`,
 * `RETRACT_TOO_LATE`, `RECORD_LIMIT` as documented per method; any I/O failure or use after
 * close rejects with `STORE_UNAVAILABLE` (cause kept) and loses nothing that
 * was already acknowledged. A backend with a free-space reserve refuses
 * appends and record puts below it with `STORE_FULL`, and still performs every other write.
 */
export interface RelayStore {
  /** Opens the backend and loads per-mailbox counters. Idempotent. */
  open(): Promise<void>;
  /**
   * Stores an envelope unless its id is already known; assigns the next seq
   * of the mailbox. Identical concurrent appends store it once.
   * @throws LnMailboxError MAILBOX_FULL when the quota would be exceeded
   */
  append(req: AppendRequest, quota: MailboxQuota): Promise<AppendResult>;
  /**
   * Live envelopes of `mailbox` with `seq > after` and `expiresAt > now`, in
   * seq order: at most `limit` of them, and no more once their total size
   * reaches `maxBytes` (at least one is returned when any exists).
   */
  list(mailbox: string, after: number, limit: number, now: number, maxBytes?: number): Promise<ListResult>;
  /** Records that these envelopes were handed to the recipient. Fire-and-forget. */
  markDelivered(ids: readonly string[]): void;
  /**
   * Deletes live envelopes of `mailbox` by id, leaving an `acknowledged`
   * tombstone until their expiry. Unknown ids, ids of other mailboxes and
   * ids already gone are ignored.
   * @returns the ids actually acknowledged now
   */
  ack(mailbox: string, ids: readonly string[]): Promise<string[]>;
  /**
   * Retracts a live envelope whose retraction hash equals `secretHash`.
   * @throws LnMailboxError ENVELOPE_NOT_FOUND, RETRACT_FORBIDDEN, RETRACT_TOO_LATE
   */
  retract(id: string, secretHash: string, now: number): Promise<RetractOutcome>;
  /** Current status of an envelope id, or undefined when unknown (never stored, or tombstone retention over). */
  status(id: string, now: number): Promise<EnvelopeStatus | undefined>;
  /** Expires live envelopes past their TTL and purges old tombstones, at most `limit` index entries. */
  sweep(now: number, limit?: number): Promise<SweepResult>;
  /** Live usage of a mailbox (zeros for an unknown mailbox). */
  usage(mailbox: string): MailboxUsage;
  /** Totals over the whole store. */
  totals(): StoreTotals;
  /** Subscribes to newly stored envelopes (the in-process doorbell). Returns an unsubscribe function. */
  onAppend(listener: AppendListener): () => void;
  /**
   * Stores (or replaces) record `name` of `mailbox` (SPEC 5.13), durably
   * before it resolves. The caller has checked the name and the value's size;
   * the store keeps the bytes as they are. Replacing a record does not count
   * against `maxRecords`; concurrent puts to one mailbox cannot overshoot it.
   * Below a free-space reserve it is refused like a new envelope.
   * @throws LnMailboxError RECORD_LIMIT when `mailbox` already holds `maxRecords` other records;
   *   STORE_FULL, STORE_UNAVAILABLE
   */
  putRecord(mailbox: string, name: string, value: Uint8Array, maxRecords: number): Promise<void>;
  /** The bytes of record `name` of `mailbox`, or undefined when there is none. */
  getRecord(mailbox: string, name: string): Promise<Uint8Array | undefined>;
  /**
   * Deletes record `name` of `mailbox`, durably before it resolves (allowed below the free-space reserve).
   * @returns true when there was one
   */
  deleteRecord(mailbox: string, name: string): Promise<boolean>;
  /** The names of the records of `mailbox`, in ascending (bytewise) order. */
  listRecords(mailbox: string): Promise<string[]>;
  /** Resolves when every write queued so far is durable. */
  flush(): Promise<void>;
  /** Flushes and closes. Further calls reject with STORE_UNAVAILABLE. Idempotent. */
  close(): Promise<void>;
  /**
   * Write health: whether the store acknowledges writes now, free space, and
   * refusal and recovery counts (`health.ts`). A store without it is taken
   * to be always `ok`.
   */
  health?(): StoreHealth;
}

/** Creates a fresh, unopened, empty store: the factory a backend hands to `storeConformance`. */
export type StoreFactory = () => RelayStore | Promise<RelayStore>;
