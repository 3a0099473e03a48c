/**
 * The role runtime: wires a pure payment engine (engine/payment) to a mailbox
 * and to a persistent store, so a wallet role survives restarts mid-protocol.
 *
 * For every envelope pushed to our mailbox:
 *   open (decrypt, check the sender's signature) → decode → engine step →
 *   ONE atomic write of the engine state and the sealed outgoing envelopes
 *   (the outbox) → the envelope is acknowledged → the outbox is posted.
 * Outgoing envelopes are sealed once and stored, so a retry after a crash
 * posts the very same bytes (same id: the relay stores it once). A crash at
 * any point replays from a consistent state: before the write, the envelope
 * is delivered again; after it, the outbox is flushed at the next start.
 * @module
 */
import { decodeMailboxAddress } from '../../protocol/address.js';
import { bytesToHex, hexToBytes, utf8 } from '../../base/bytes.js';
import { ErrorCode, LnMailboxError, isLnMailboxError } from '../../base/errors.js';
import { type Channel, isChannelRecordsRef, isChannelRef, type ChannelRecord } from '../../engine/channel/channel.js';
import { byReference, PaymentEngine } from '../../engine/payment/engine.js';
import { isCloseMessage } from '../../engine/payment/close.js';
import { PaymentType, decodePayment, encodePayment } from '../../protocol/payment.js';
import { open, seal } from '../../protocol/seal.js';
import { isLocalFault } from '../../engine/payment/refusal.js';
import type { PaymentEvent, Step, StepContext, Incoming } from '../../engine/payment/types.js';
import { TypedEmitter } from '../mailbox/events.js';
import { compareUtf8, type Kv, type KvOp } from '../mailbox/kv.js';
import { DeferringKv } from '../mailbox/kv-deferred.js';
import { MailboxClient, type MailboxClientOptions, type MailboxMessage, type ProcessedMark } from '../mailbox/mailbox-client.js';
import type { Subscription } from '../mailbox/subscription.js';
import type { ChainSource } from '../chain/source.js';
import { ChainTip } from '../chain/tip.js';
import { Watchtower, towerTermsOp, towerWrites, type WatchtowerOptions } from './watchtower.js';
import { ChannelCopies } from './channel-copies.js';
import type { KvNonceStore } from './nonce-store.js';
import {
  channelInfo,
  hexReplacer,
  messageTypeName,
  sumBalances,
  type Balances,
  type ChannelInfo,
  type PaymentDetails,
  type PaymentHistoryEntry,
  type PaymentRecord,
} from './query.js';
import type { ForeignWatch } from '../../engine/channel/foreign-watch.js';

/**
 * A pure role engine: Payer, Hub, Payee or Router. Every public call of one
 * is all or nothing (see {@link PaymentEngine}): a call that throws leaves
 * the engine as it was, so the runtime persists only after a success and
 * never snapshots on its own.
 */
export type RoleEngine = PaymentEngine<unknown>;

/**
 * A synchronous height source (tests with a fixed height, the in-process
 * simulator). A deployment passes a {@link ChainSource} instead.
 * @deprecated pass a `ChainSource` (e.g. `EsploraChainSource`) as `chain`.
 */
export interface ChainWatcher {
  /** Current best block height. */
  height(): number;
}

/** Events of a role runtime. */
export type RuntimeEvents = {
  /** A payment protocol event of the engine: ids and byte strings are lowercase hex, as in the stored records and history (a `completed` event's receipt is the stored payment's). */
  payment: [PaymentEvent];
  /** A message was posted (type and its name, e.g. `'OFFER'`; destination address; envelope id). */
  sent: [{ type: number; name: string; to: string; id: string }];
  /** A message was received and processed (type and its name; sender key hex; envelope id). */
  received: [{ type: number; name: string; from: string; id: string }];
  /** Something went wrong but the runtime carries on (bad envelope, relay down, …). */
  error: [LnMailboxError | Error];
};

/** Options shared by every role runtime. */
export interface RuntimeOptions {
  /** This role's mailbox secret key (its identity). */
  identityKey: Uint8Array;
  /** This role's mailbox relays. */
  relays: string[];
  /** Persistent store (LevelKv in Node, IndexedDB-backed in browsers). */
  kv: Kv;
  /**
   * The chain: a {@link ChainSource} (its tip height is read at start, which
   * fails with CHAIN_UNREACHABLE when it cannot answer, then polled every
   * `chainPollMs`), or a synchronous {@link ChainWatcher}.
   */
  chain: ChainSource | ChainWatcher;
  /** Tip poll interval when `chain` is a ChainSource, ms. Default 30 000. */
  chainPollMs?: number;
  /** Clock (ms). Default `Date.now`. */
  now?: () => number;
  /** Passed to the {@link MailboxClient} (WebSocket, fetch, reconnect, timeouts). */
  client?: Omit<MailboxClientOptions, 'secretKey' | 'relays' | 'kv' | 'now'>;
  /** Delay before retrying failed posts, ms. Default 1000. */
  retryMs?: number;
  /** When true, {@link RoleRuntime.close} also closes `kv`. Default false (the caller owns it). */
  ownsStore?: boolean;
  /**
   * The watchtower (SPEC 6.18): it runs whenever a {@link ChainSource} is
   * known (`watch.chain`, or `chain` itself when it is one), and enforces
   * every channel of the role on chain. `wallet` pays the fee of enforcement
   * transactions that pay too little (docs/wallet-integration.md, "Enforcement").
   */
  watch?: Partial<Omit<WatchtowerOptions, 'chain'>> & { chain?: ChainSource };
}

// Test runs (LNMB_CHECK_STEPS=1, set by the test runner for itself and the processes it
// starts) check every engine step's rollback journal against a copy of the whole state.
if ((globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.LNMB_CHECK_STEPS === '1')
  PaymentEngine.checkSteps = true;

/** `v` as JSON with every object's keys sorted (two states compared whatever order their maps were filled in). */
function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
}

/** The role engine's state, each channel in it a reference ({@link CHANNEL}). */
const STATE_KEY = 'role/state';
/**
 * Each channel of the role by id (hex), as the engine's record of it (the
 * channel and, at a hub, its peer), written in the same batch as the state
 * and only when it changed.
 */
const CHANNEL = 'role/channel/';
const OUTBOX = 'role/outbox/';
const POSTED = 'role/posted/';
const DEFERRED = 'role/deferred/';
const HISTORY = 'role/history/';
/** Finished payments an engine moved out of its state (`Step.archive`), in the order they finished (`<time>-<seq>-<id>`). */
const ARCHIVE = 'role/payment/';
/** Finished request-flow records (SPEC 6.14) a wallet engine moved out of its state (`Step.archive`, kind `request`); not listed as payments. */
const ARCHIVE_REQUEST = 'role/request/';

/**
 * Events that promise something durable: they are emitted only once every
 * message and retraction of the step that produced them was accepted by a
 * relay (`offered`: the OFFER is stored on at least one of the payee's
 * relays; `cancelled`: the OFFER_VOID is stored and the offer envelope
 * retracted, or already delivered). They are persisted with the outbox, so
 * one still pending at a restart is emitted once the restarted role has
 * posted what was left.
 */
const DURABLE_EVENTS: ReadonlySet<PaymentEvent['kind']> = new Set(['offered', 'cancelled', 'request_sent']);

interface OutboxEntry {
  to: string;
  type: number;
  envelope: string;
  tag?: string;
  retractionSecret?: string;
  ttlSeconds?: number;
  /** The step the entry came from, when that step holds back durable events. */
  group?: string;
}

type RetractEntry = { retract: string; group?: string };

/** What {@link RoleRuntime.close} reports: whether the outbox was fully posted before closing. */
export interface CloseResult {
  /** True when nothing was left to post (every message and retraction is on a relay). */
  drained: boolean;
  /** Outbox entries still waiting for a relay; they are posted at the next start. */
  pending: number;
}

/** Options of {@link RoleRuntime.close}. */
export interface CloseOptions {
  /**
   * How long to keep trying to post the outbox before closing, ms (default
   * 5000; 0 closes at once). A role that goes offline while its outbox is
   * not empty leaves its messages for the next start.
   */
  drainMs?: number;
}

/** The outbox in key order (the order it is posted): each entry's key and decoded record. */
async function* outboxEntries(kv: Kv): AsyncGenerator<[string, OutboxEntry | RetractEntry]> {
  for await (const [key, raw] of kv.entries(OUTBOX)) {
    yield [key, JSON.parse(new TextDecoder().decode(raw)) as OutboxEntry | RetractEntry];
  }
}

/** Relay answers after which retrying a retraction cannot help: the envelope was delivered, expired, or is not ours to retract. */
const FINAL_RETRACT: ReadonlySet<string> = new Set([ErrorCode.RETRACT_TOO_LATE, ErrorCode.ENVELOPE_NOT_FOUND, ErrorCode.RETRACT_FORBIDDEN]);

/** True when at least one relay gave a final answer to a retraction (see {@link FINAL_RETRACT}). */
function isFinalRetractError(e: unknown): boolean {
  if (!isLnMailboxError(e)) return false;
  if (FINAL_RETRACT.has(e.code)) return true;
  const each = e.cause instanceof AggregateError ? (e.cause.errors as unknown[]) : [];
  return each.some((x) => isLnMailboxError(x) && FINAL_RETRACT.has(x.code));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs one engine against its mailbox. Use the role classes (PayerNode, HubNode, PayeeNode). */
export class RoleRuntime<E extends RoleEngine> extends TypedEmitter<RuntimeEvents> {
  readonly client: MailboxClient;
  #sub: Subscription | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #seq = 0;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** Set when a step could not be stored nor undone: every later call is refused. */
  #halted: LnMailboxError | undefined;
  #flushing: Promise<void> | undefined;
  #again = false;
  /** The archived payments (see {@link ARCHIVE}), by id, loaded at {@link start}, oldest first. */
  readonly #archived = new Map<string, PaymentRecord>();
  /** The watchtower's copies of the channels, remade only for channels that changed. */
  readonly #towerCopies = new ChannelCopies();
  /** The engine's nonce store, when its writes ride in the steps' batches (see {@link RoleRuntime.batchNonces}). */
  #nonces: KvNonceStore | undefined;
  /** The version of each channel last written to the store (see {@link RoleRuntime.#stateOps}). */
  readonly #stored = new WeakMap<Channel, number>();
  /**
   * The role's store. The writes whose loss only repeats work (an outbox
   * entry's removal once posted, the relays' cursors) are held and ride in
   * the next step's batch (see {@link DeferringKv}).
   */
  readonly #kv: DeferringKv;
  /**
   * The outbox and the held-back event groups (by store key), kept in
   * memory so that posting never scans the store: loaded once
   * ({@link RoleRuntime.#load}, merged with what this runtime wrote in the
   * meantime), then kept in step with every write. Only a flush pass and the
   * release of a group remove from them, and both wait for the load.
   */
  readonly #outbox = new Map<string, OutboxEntry | RetractEntry>();
  readonly #deferred = new Map<string, PaymentEvent[]>();
  #loaded: Promise<void> | undefined;
  /** True once {@link RoleRuntime.#load} has read the whole store. */
  #outboxLoaded = false;

  /** The role engine (its state is what `toJSON` persists). */
  readonly engine: E;
  /** The role's watchtower, when a chain source is known (see {@link RuntimeOptions.watch}). */
  tower: Watchtower | undefined;
  #channelKey: Uint8Array | undefined;
  /** The chain source, when `chain` was one (watchers and wallets use it). */
  readonly chainSource: ChainSource | undefined;
  readonly #tip: ChainTip | ChainWatcher;

  constructor(
    engine: E,
    private readonly o: RuntimeOptions,
  ) {
    super();
    this.engine = engine;
    const isSource = typeof (o.chain as ChainSource).tipHeight === 'function';
    this.chainSource = isSource ? (o.chain as ChainSource) : undefined;
    this.#tip = isSource
      ? new ChainTip(o.chain as ChainSource, {
          ...(o.chainPollMs === undefined ? {} : { pollMs: o.chainPollMs }),
          onError: (e) => this.emit('error', e as Error),
        })
      : (o.chain as ChainWatcher);
    this.#kv = new DeferringKv(o.kv, { onError: (e) => this.emit('error', e) });
    this.client = new MailboxClient({
      ...o.client,
      secretKey: o.identityKey,
      relays: o.relays,
      kv: this.#kv,
      ...(o.now ? { now: o.now } : {}),
    });
  }

  /**
   * Makes the engine's nonce store write its records in the atomic batch of
   * the step that made them (one write, one fsync, with the message that
   * carries the nonce or its signature), instead of one write each. Called
   * by the role constructors, with the store they gave the engine.
   */
  protected batchNonces(store: KvNonceStore): void {
    this.#nonces = store;
  }

  /** Loads the persisted engine state (or undefined on first start). */
  static async loadState(kv: Kv): Promise<unknown> {
    const raw = await kv.get(STATE_KEY);
    if (!raw) return undefined;
    const records = new Map<string, ChannelRecord>();
    for await (const [key, value] of kv.entries(CHANNEL))
      records.set(key.slice(CHANNEL.length), JSON.parse(new TextDecoder().decode(value)) as ChannelRecord);
    const lost = (what: string) => new LnMailboxError(ErrorCode.STORE_UNAVAILABLE, `${what}: missing from the store`);
    // A state written before channels had their own records holds them inline: they load as they are.
    return JSON.parse(new TextDecoder().decode(raw), (_k, v: unknown) => {
      if (isChannelRef(v)) {
        const r = records.get(v.$channel);
        if (r === undefined) throw lost(`the record of channel ${v.$channel}`);
        return r.channel;
      }
      if (isChannelRecordsRef(v)) {
        if (records.size !== v.$channelRecords) throw lost(`${v.$channelRecords - records.size} of ${v.$channelRecords} channel records`);
        return Object.fromEntries(records);
      }
      return v;
    });
  }

  /**
   * What a role's store still has to send (its outbox), in the order it is
   * posted (messages oldest first, then retractions): each sealed message's
   * destination address and payment message type, or a retraction's tag.
   * A wallet can show it ("2 messages waiting for a relay"); the entries are
   * posted at the next start or retry.
   */
  static async pendingOutbox(kv: Kv): Promise<({ to: string; type: number } | { retract: string })[]> {
    const out: ({ to: string; type: number } | { retract: string })[] = [];
    for await (const [, entry] of outboxEntries(kv)) {
      out.push('retract' in entry ? { retract: entry.retract } : { to: entry.to, type: entry.type });
    }
    return out;
  }

  /** The step context now. */
  ctx(): StepContext {
    return { now: (this.o.now ?? Date.now)(), height: this.#tip.height() };
  }

  /**
   * Creates the watchtower of this role (its channels, signed with
   * `channelKey`) when a chain source is known. The role classes call it
   * before {@link start}.
   */
  protected attachTower(channelKey: Uint8Array): void {
    this.#channelKey = channelKey;
    const chain = this.o.watch?.chain ?? this.chainSource;
    if (chain === undefined) return;
    const { chain: _c, ...rest } = this.o.watch ?? {};
    this.tower = new Watchtower(
      {
        channelKey,
        channels: () => this.serial(async () => this.#towerCopies.of(this.engine.channels())),
        noteUpdateOnChain: (id, h) => this.noteUpdateOnChain(id, h),
        noteSecretOnChain: (id, ptlc, secret) =>
          this.serial(async () => void (await this.commit(await this.engine.noteSecretOnChain(id, ptlc, secret)))),
        noteUpdateSigsOnChain: (id, n, sigs) =>
          this.serial(async () => {
            let s: Step;
            try {
              s = await this.engine.noteUpdateSigsOnChain(id, n, sigs);
            } catch (e) {
              // Refused (what the chain shows does not complete a payment): reported once, not retried.
              if (isLocalFault(e)) throw e;
              this.emit('error', e as Error);
              return;
            }
            await this.commit(s);
          }),
        foreign: () => this.towerForeign(),
      },
      this.#kv,
      { ...rest, chain },
    );
    this.tower.on('error', (e) => this.emit('error', e));
  }

  /** The role's store. */
  protected get kv(): Kv {
    return this.#kv;
  }

  /** Channels the watchtower watches for someone else (the payer overrides it: its requests' payees, SPEC 6.18). */
  protected async towerForeign(): Promise<ForeignWatch[]> {
    return [];
  }

  /** Persists the current state (first start) and begins: flushes the outbox, subscribes to the mailbox, starts the watchtower. */
  async start(): Promise<void> {
    if (this.#tip instanceof ChainTip) await this.#tip.start();
    for await (const [, raw] of this.#kv.entries(ARCHIVE)) {
      const p = JSON.parse(new TextDecoder().decode(raw)) as PaymentRecord;
      this.#archived.delete(p.offerId); // a reused id: its latest record, in its latest place
      this.#archived.set(p.offerId, p);
    }
    const state = this.#stateOps();
    await this.#kv.batch(state.ops);
    state.written();
    await this.#checkStored();
    this.tower?.start();
    void this.flush();
    this.#sub = this.client.subscribe((m) => this.serial(() => this.onEnvelope(m)));
    this.#sub.on('error', (_relay, e) => this.emit('error', e));
    this.#sub.on('backlog_end', () => this.onCaughtUp());
  }

  /**
   * Called each time a relay's backlog has been read and handled (the role
   * has caught up with what waited for it there). By default nothing; the
   * payee cancels its expired requests then.
   */
  protected onCaughtUp(): void {}

  /**
   * Stops: first tries, for at most `drainMs`, to post what the outbox still
   * holds (so a payer that closes right after `proposed` still gets its
   * messages out), then closes sockets and timers. State is already on disk.
   * Resolves with whether the outbox was drained; what is left is posted at
   * the next start.
   */
  async close(opts: CloseOptions = {}): Promise<CloseResult> {
    if (this.#closed) return { drained: (await this.pending()) === 0, pending: await this.pending() };
    const drainMs = opts.drainMs ?? 5000;
    const deadline = Date.now() + drainMs;
    let left = await this.pending();
    while (left > 0 && Date.now() < deadline) {
      const remaining = deadline - Date.now();
      await Promise.race([this.flush(), sleep(remaining)]);
      left = await this.pending();
      if (left > 0 && Date.now() < deadline) await sleep(Math.min(200, deadline - Date.now()));
    }
    this.#closed = true;
    if (this.#tip instanceof ChainTip) this.#tip.stop();
    if (this.#retry) clearTimeout(this.#retry);
    await this.tower?.close();
    await this.#sub?.close();
    await this.#chain; // every call queued before the close has run
    await this.#flushing;
    left = await this.pending();
    // The held writes (posted entries' removals, cursors): a failure here only repeats work at the next start.
    await this.#kv.flush().catch((e: unknown) => this.emit('error', e as Error));
    this.#kv.stop();
    if (this.o.ownsStore) await this.o.kv.close();
    return { drained: left === 0, pending: left };
  }

  /** How many outbox entries (messages and retractions) still wait for a relay. */
  async pending(): Promise<number> {
    await this.#load();
    return this.#outbox.size;
  }

  /** Loads the stored outbox and held-back groups into memory, once (again after a failed attempt). */
  #load(): Promise<void> {
    this.#loaded ??= (async () => {
      for await (const [key, entry] of outboxEntries(this.#kv)) if (!this.#outbox.has(key)) this.#outbox.set(key, entry);
      for await (const [key, raw] of this.#kv.entries(DEFERRED))
        if (!this.#deferred.has(key)) this.#deferred.set(key, JSON.parse(new TextDecoder().decode(raw)) as PaymentEvent[]);
      this.#outboxLoaded = true;
    })().catch((e: unknown) => {
      this.#loaded = undefined;
      throw e;
    });
    return this.#loaded;
  }

  /**
   * Resolves true once the outbox entries `keys` (what {@link commit}
   * returned) were all accepted by a relay, false when `ms` passed first or
   * the runtime closed.
   */
  async waitPosted(keys: string[], ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    await this.#load();
    for (;;) {
      if (!keys.some((k) => this.#outbox.has(k))) return true;
      if (this.#closed || Date.now() >= deadline) return false;
      await sleep(Math.min(100, deadline - Date.now()));
    }
  }

  /** Runs `fn` after every earlier engine call: one step at a time, in order. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    // The nonce records a call makes ride in the batch of the step it persists (see KvNonceStore.hold).
    const run = async () => {
      if (this.#halted) throw this.#halted;
      this.#nonces?.hold();
      try {
        return await fn();
      } finally {
        await this.#nonces?.release();
      }
    };
    const p = this.#chain.then(run, run);
    this.#chain = p.catch(() => undefined);
    return p;
  }

  /**
   * Records, from the wallet's chain watcher, that an update transaction of
   * channel `channelId` (hex) confirmed at block `height`. The channel is
   * closing from then on: the role starts, accepts and extends no new
   * payment over it, and the hub's timelock rule counts from that height.
   * Persisted before it resolves.
   */
  async noteUpdateOnChain(channelId: string, height: number): Promise<void> {
    await this.serial(async () => this.commit(await this.engine.noteUpdateOnChain(channelId, height)));
  }

  /**
   * Closes channel `channelId` (hex) (SPEC 6.18).
   * - `cooperative: true`: signs the close of our latest enforceable state
   *   and sends it to the peer (refused while a payment is in flight on the
   *   channel); once the peer's signature is back, the watchtower broadcasts
   *   the close, which pays each party its balance to its payout script.
   * - `cooperative: false`: the watchtower publishes our latest update now
   *   and its settlement after the CSV delay (then claims and refunds PTLCs
   *   as they come).
   * Needs a watchtower (a chain source) to broadcast; the cooperative
   * signature exchange itself runs without one.
   */
  async closeChannel(channelId: string, opts: { cooperative: boolean }): Promise<void> {
    if (opts.cooperative) {
      const key = this.#channelKey;
      if (key === undefined) throw new LnMailboxError(ErrorCode.INVALID_RANGE, 'closeChannel: this runtime has no channel key');
      await this.serial(async () => this.commit(await this.engine.proposeClose(channelId, key)));
    } else {
      if (this.tower === undefined)
        throw new LnMailboxError(ErrorCode.CHAIN_UNREACHABLE, 'closeChannel: no chain source to broadcast through');
      await this.tower.forceClose(channelId);
    }
    void this.tower?.tick().catch((e: unknown) => this.emit('error', e as Error));
  }

  /**
   * Applies a step produced by a successful local call (pay, cancel):
   * persist, then post. Resolves with the outbox keys of the step's messages
   * and retractions (see {@link waitPosted}).
   */
  async commit(step: Step): Promise<string[]> {
    const keys = await this.persist(step);
    void this.flush();
    return keys;
  }

  private async onEnvelope(m: MailboxMessage): Promise<void> {
    let inc: Incoming;
    try {
      const opened = open(m.envelope, this.o.identityKey, { recipientPublicKey: this.client.publicKey });
      inc = { from: opened.sender, message: decodePayment(opened.type, opened.body) };
    } catch (e) {
      // Undecryptable or malformed mail is acknowledged (dropped): redelivering it cannot help.
      this.emit('error', e as Error);
      return;
    }
    if (inc.message.type === PaymentType.TOWER_TERMS) {
      // Not a step of the engine: what the watchtower needs to watch a payee's channel (SPEC 6.18).
      await this.#kv.batch([...towerTermsOp(inc), ...(m.processed ? [m.processed.op] : [])]);
      m.processed?.taken();
      this.emit('received', { type: inc.message.type, name: messageTypeName(inc.message.type), from: bytesToHex(inc.from), id: m.id });
      return;
    }
    await this.beforeHandle(inc);
    let step: Step;
    try {
      step =
        isCloseMessage(inc.message) && this.#channelKey !== undefined
          ? await this.engine.handleClose(inc, this.#channelKey)
          : await this.engine.handle(inc, this.ctx()); // all or nothing: a throw left the engine as it was
    } catch (e) {
      // A bug or our own store failing: do not ack, let it be redelivered.
      if (isLocalFault(e)) throw e;
      this.emit('error', e as LnMailboxError);
      return;
    }
    await this.persist(step, inc, m.processed);
    this.emit('received', { type: inc.message.type, name: messageTypeName(inc.message.type), from: bytesToHex(inc.from), id: m.id });
    void this.flush();
    // A close just signed by both: broadcast it now rather than at the next poll.
    if (isCloseMessage(inc.message)) void this.tower?.tick().catch((e: unknown) => this.emit('error', e as Error));
  }

  /**
   * Runs before the engine handles an incoming message, in the runtime's
   * order. By default nothing; a role that opens channels looks at the chain
   * for a channel that is still opening here (see `OpeningRuntime`).
   */
  protected async beforeHandle(_inc: Incoming): Promise<void> {}

  /**
   * The writes of the engine's state: the state with each channel as a
   * reference, and the record of every channel whose version differs from
   * the one last written (all of them at the first write). `written` is
   * called once the batch holding them is stored. A step therefore writes
   * only the channels it changed, however many the role has.
   */
  #stateOps(): { ops: KvOp[]; written: () => void } {
    const ops: KvOp[] = [{ type: 'put', key: STATE_KEY, value: utf8(JSON.stringify(this.engine.toJSON(byReference))) }];
    const fresh: [Channel, number][] = [];
    for (const c of this.engine.channels()) {
      if (this.#stored.get(c) === c.version) continue;
      fresh.push([c, c.version]);
      ops.push({ type: 'put', key: CHANNEL + bytesToHex(c.params.channelId), value: utf8(JSON.stringify(this.engine.channelRecord(c))) });
    }
    return {
      ops,
      written: () => {
        for (const [c, v] of fresh) this.#stored.set(c, v);
      },
    };
  }

  /**
   * With {@link PaymentEngine.checkSteps} (the test suites), reads the state
   * back from the store after every write and compares it with the engine:
   * a channel whose change was not written would otherwise be found only
   * after a restart, as lost money. Checks the outbox held in memory against
   * the store's the same way. Throws (a local fault) on a difference.
   */
  async #checkStored(): Promise<void> {
    if (!PaymentEngine.checkSteps) return;
    const stored = canonicalJson(await RoleRuntime.loadState(this.#kv));
    if (stored !== canonicalJson(this.engine.toJSON()))
      throw new Error('state check: the store does not give back the engine state it was written from');
    if (!this.#outboxLoaded) return;
    // Both read at one instant: the memory now, the store's snapshot as its iterator opens (synchronously, below).
    const inMemory = [...this.#outbox.keys()].sort(compareUtf8).join();
    const inStore: string[] = [];
    for await (const [key] of this.#kv.entries(OUTBOX)) inStore.push(key);
    if (inStore.join() !== inMemory) throw new Error('state check: the outbox in memory is not the outbox in the store');
  }

  /**
   * Writes a step in one atomic batch: the state and the channels it changed,
   * what the watchtower learned, archived payments, history, the outbox, the
   * nonce records the step made, and, for a step that handled an envelope,
   * the envelope's processed mark.
   */
  private async persist(step: Step, inc?: Incoming, processed?: ProcessedMark): Promise<string[]> {
    const keys: string[] = [];
    const state = this.#stateOps();
    const ops: KvOp[] = state.ops;
    ops.push(...towerWrites(step, inc)); // what the watchtower must know of PTLCs, with the step that taught it
    const now = (this.o.now ?? Date.now)();
    const archived: PaymentRecord[] = [];
    for (const a of step.archive ?? []) {
      const record = JSON.parse(JSON.stringify(a.record, hexReplacer)) as PaymentRecord;
      if (a.kind !== 'request') archived.push(record);
      const key = `${a.kind === 'request' ? ARCHIVE_REQUEST : ARCHIVE}${String(now).padStart(15, '0')}-${String(this.#seq++).padStart(6, '0')}-${a.id}`;
      ops.push({ type: 'put', key, value: utf8(JSON.stringify(record)) });
    }
    const held = step.events.filter((ev) => DURABLE_EVENTS.has(ev.kind));
    const group =
      held.length > 0 && step.send.length + step.retract.length > 0
        ? `${String(now).padStart(15, '0')}-${String(this.#seq++).padStart(6, '0')}`
        : undefined;
    const heldJson = group === undefined ? '' : JSON.stringify(held, hexReplacer);
    if (group !== undefined) ops.push({ type: 'put', key: DEFERRED + group, value: utf8(heldJson) });
    const outbox: [string, OutboxEntry | RetractEntry][] = [];
    for (const ev of step.events) if (group === undefined || !DURABLE_EVENTS.has(ev.kind)) ops.push(...this.#historyOps(ev, now));
    for (const out of step.send) {
      const dest = decodeMailboxAddress(out.to);
      const envelope = seal({
        senderSecretKey: this.o.identityKey,
        senderPublicKey: this.client.publicKey,
        recipient: dest.publicKey,
        type: out.message.type,
        body: encodePayment(out.message),
        timestamp: now,
      });
      const entry: OutboxEntry = {
        to: out.to,
        type: out.message.type,
        envelope: bytesToHex(envelope),
        ...(out.tag ? { tag: out.tag } : {}),
        ...(out.retractionSecret ? { retractionSecret: bytesToHex(out.retractionSecret) } : {}),
        ...(out.ttlSeconds ? { ttlSeconds: out.ttlSeconds } : {}),
        ...(group ? { group } : {}),
      };
      const key = `${OUTBOX}${String(now).padStart(15, '0')}-${String(this.#seq++).padStart(6, '0')}`;
      keys.push(key);
      outbox.push([key, entry]);
      ops.push({ type: 'put', key, value: utf8(JSON.stringify(entry)) });
    }
    for (const tag of step.retract) {
      const key = `${OUTBOX}retract-${tag}`;
      const entry: RetractEntry = { retract: tag, ...(group ? { group } : {}) };
      keys.push(key);
      outbox.push([key, entry]);
      ops.push({ type: 'put', key, value: utf8(JSON.stringify(entry)) });
    }
    const nonceOps = this.#nonces?.heldOps() ?? [];
    ops.push(...nonceOps);
    if (processed) ops.push(processed.op);
    try {
      await this.#kv.batch(ops);
    } catch (e) {
      this.#stepNotStored(e);
      throw e;
    }
    this.engine.keepLast();
    this.#nonces?.written(nonceOps);
    processed?.taken();
    state.written();
    for (const [key, entry] of outbox) this.#outbox.set(key, entry);
    if (group !== undefined) this.#deferred.set(DEFERRED + group, JSON.parse(heldJson) as PaymentEvent[]);
    await this.#checkStored();
    for (const p of archived) {
      this.#archived.delete(p.offerId);
      this.#archived.set(p.offerId, p);
    }
    for (const ev of step.events) if (group === undefined || !DURABLE_EVENTS.has(ev.kind)) this.emit('payment', ev);
    return keys;
  }

  /**
   * A step's write failed, so nothing of it is stored: its messages, its
   * outbox, its processed mark. The engine is put back as it was before the
   * step, so that memory never runs ahead of the store. Otherwise the
   * message would be ignored as a duplicate when it is delivered again, with
   * its answers lost, and the watchtower and the open driver would act on a
   * state that a restart does not find. The message stays unacknowledged
   * and is handled again; a local call throws and can be retried. The
   * step's nonce records are still written (`serial` releases them), which
   * is the safe direction. When the engine cannot be put back, the runtime
   * stops: a new one started from the store carries on from what is stored.
   */
  #stepNotStored(e: unknown): void {
    if (this.engine.undoLast()) return;
    this.#halted = new LnMailboxError(
      ErrorCode.STORE_UNAVAILABLE,
      'a step could not be stored and the engine could not be put back: this runtime stopped; start a new one from the same store',
      { cause: e },
    );
    this.emit('error', this.#halted);
    void this.close({ drainMs: 0 }).catch((err: unknown) => this.emit('error', err as Error));
  }

  /** The history record of a payment event (events without a payment id have none). */
  #historyOps(ev: PaymentEvent, at: number): KvOp[] {
    if (!('offerId' in ev)) return [];
    const entry: PaymentHistoryEntry = { at, event: JSON.parse(JSON.stringify(ev, hexReplacer)) as PaymentHistoryEntry['event'] };
    const key = `${HISTORY}${ev.offerId}/${String(at).padStart(15, '0')}-${String(this.#seq++).padStart(6, '0')}`;
    return [{ type: 'put', key, value: utf8(JSON.stringify(entry)) }];
  }

  /** The channels of this role, as a wallet shows them (amounts in sats, ids hex). */
  channels(): ChannelInfo[] {
    return this.engine.channels().map(channelInfo);
  }

  /**
   * This role's balances over all its channels: what is ours whatever
   * becomes of the payments in flight (`settled`), and what is in flight
   * (`inFlight.outgoing`, `inFlight.incoming`). See {@link Balances}.
   */
  balances(): Balances {
    return sumBalances(this.channels());
  }

  /**
   * The payments this role stores (oldest first), copies: each role's record
   * type has more fields. Finished ones its engine archived come first (in
   * the order they finished), then those in its state.
   */
  payments(): PaymentRecord[] {
    const m = (this.engine as unknown as { payments?: Map<string, PaymentRecord> }).payments ?? new Map<string, PaymentRecord>();
    const archived = [...this.#archived.values()].filter((p) => !m.has(p.offerId));
    return [...archived, ...m.values()].map((p) => JSON.parse(JSON.stringify(p, hexReplacer)) as PaymentRecord);
  }

  /**
   * A stored payment (by offer or request id, hex) with its history: every
   * `payment` event of it this role emitted, with the time, byte fields as
   * hex. Undefined for an unknown id.
   */
  async getPayment(id: string): Promise<PaymentDetails | undefined> {
    const payment = this.payments().find((p) => p.offerId === id);
    if (payment === undefined) return undefined;
    const history: PaymentHistoryEntry[] = [];
    for await (const [, raw] of this.#kv.entries(`${HISTORY}${id}/`))
      history.push(JSON.parse(new TextDecoder().decode(raw)) as PaymentHistoryEntry);
    return { payment, history };
  }

  /** Emits the held-back events of every group whose outbox entries are all posted. */
  async #releaseDeferred(): Promise<void> {
    if (this.#deferred.size === 0) return;
    const open = new Set<string>();
    for (const entry of this.#outbox.values()) if (entry.group) open.add(entry.group);
    for (const key of [...this.#deferred.keys()].sort(compareUtf8)) {
      const events = this.#deferred.get(key);
      if (events === undefined || open.has(key.slice(DEFERRED.length))) continue;
      const now = (this.o.now ?? Date.now)();
      await this.#kv.batch([{ type: 'del', key }, ...events.flatMap((ev) => this.#historyOps(ev, now))]);
      this.#deferred.delete(key);
      for (const ev of events) this.emit('payment', ev);
    }
  }

  /**
   * Posts every outbox entry; failures stay queued and are retried. One pass
   * runs at a time; a call during a pass schedules one more pass after it.
   */
  flush(): Promise<void> {
    if (this.#flushing) {
      this.#again = true;
      return this.#flushing;
    }
    this.#flushing = (async () => {
      do {
        this.#again = false;
        await this.#flushPass();
      } while (this.#again && !this.#closed);
    })().finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  async #flushPass(): Promise<void> {
    if (this.#closed) return;
    let failed = false;
    try {
      await this.#load();
      for (const key of [...this.#outbox.keys()].sort(compareUtf8)) {
        const entry = this.#outbox.get(key);
        if (this.#closed) return;
        if (entry === undefined) continue;
        try {
          let posted: KvOp[] = [];
          if ('retract' in entry) await this.retract(entry.retract);
          else posted = await this.post(entry);
          // Lost to a crash, these writes only post the entry again: they ride in the next batch.
          this.#kv.defer([{ type: 'del', key }, ...posted]);
          this.#outbox.delete(key);
        } catch (e) {
          failed = true;
          if (!this.#closed) this.emit('error', e as Error);
        }
      }
      await this.#releaseDeferred();
    } catch (e) {
      if (this.#closed) return;
      failed = true;
      this.emit('error', e as Error);
    }
    if (failed && !this.#closed) {
      if (this.#retry) clearTimeout(this.#retry);
      this.#retry = setTimeout(() => void this.flush(), this.o.retryMs ?? 1000);
    }
  }

  /** Posts an outbox entry; resolves with the record of where it went, for a later retraction (to write with the entry's removal). */
  private async post(e: OutboxEntry): Promise<KvOp[]> {
    const dest = decodeMailboxAddress(e.to);
    const secret = e.retractionSecret ? hexToBytes(e.retractionSecret, 32) : undefined;
    const res = await this.client.post(dest, hexToBytes(e.envelope), {
      ...(e.ttlSeconds ? { ttlSeconds: e.ttlSeconds } : {}),
      ...(secret ? { retractionSecret: secret } : {}),
    });
    this.emit('sent', { type: e.type, name: messageTypeName(e.type), to: e.to, id: res.id });
    if (!e.tag || !e.retractionSecret) return [];
    return [
      { type: 'put', key: POSTED + e.tag, value: utf8(JSON.stringify({ id: res.id, relays: dest.relays, secret: e.retractionSecret })) },
    ];
  }

  private async retract(tag: string): Promise<void> {
    const raw = await this.#kv.get(POSTED + tag);
    if (!raw) return; // never posted: nothing to retract
    const p = JSON.parse(new TextDecoder().decode(raw)) as { id: string; relays: string[]; secret: string };
    try {
      await this.client.retract(p.relays, p.id, hexToBytes(p.secret, 32));
    } catch (e) {
      // Already delivered (or gone) on some relay: the void message, posted
      // in the same step, tells the payee instead. A relay that could not be
      // reached leaves the retraction queued: it is retried.
      if (!isFinalRetractError(e)) throw e;
    }
    await this.#kv.del(POSTED + tag);
  }
}
