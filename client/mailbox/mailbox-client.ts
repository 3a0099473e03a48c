/**
 * The mailbox client wallets embed (SPEC 5):
 * post sealed envelopes to every relay of a destination, ask their status,
 * retract them, publish this mailbox's records (SPEC 5.13), and read this client's own mailbox — pushed over WebSocket
 * ({@link MailboxClient.subscribe}) or pulled over HTTP
 * ({@link MailboxClient.fetchBacklog}) — with de-duplication by envelope id
 * across relays and restarts, and acknowledgement only after the handler has
 * persisted its effects. It never decrypts: envelopes are opaque bytes here.
 * Runs in browsers and Node: `WebSocket` and `fetch` are injectable.
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeMailboxAddress, encodeMailboxAddress } from '../../protocol/address.js';
import { abytes, bytesToHex, equalBytes, hexToBytes } from '../../base/bytes.js';
import { envelopeId, parseEnvelopeHeader } from '../../protocol/envelope.js';
import { ErrorCode, LnMailboxError, fail, isLnMailboxError } from '../../base/errors.js';
import { getPublicKey } from '../../crypto/bip340.js';
import { MAX_ACK_IDS, solvePow, type EnvelopeStatus, type RelayInfo } from '../../protocol/relay.js';
import { backoffOptions, type BackoffOptions } from './backoff.js';
import { MemoryKv, type Kv, type KvOp } from './kv.js';
import { DeliveryLedger } from './delivery-ledger.js';
import { normalizeRelayUrl } from '../../protocol/address.js';
import { defaultTransport, type FetchLike, type HttpTransport } from './http-transport.js';
import { RelayHttp, type PostHeaders } from './relay-http.js';
import type { PushedEnvelope, WebSocketConstructor } from './relay-socket.js';
import { drainOverHttp, type BacklogResult } from './http-backlog.js';
import { Subscription, type DeliveryOutcome } from './subscription.js';
import { aggregate, asError } from './relay-errors.js';
import { deleteRecordEverywhere, publishRecordEverywhere } from './records.js';

/** Options of {@link MailboxClient}. */
export interface MailboxClientOptions {
  /** This mailbox's 32-byte secp256k1 secret key; its x-only public key is the mailbox id. Copied. */
  secretKey: Uint8Array;
  /** Base URLs of the relays holding this client's mailbox (the relays of its mailbox address). */
  relays: readonly string[];
  /** Where cursors and processed ids persist. Default: a {@link MemoryKv} (nothing survives a restart). */
  kv?: Kv;
  /** WebSocket implementation. Default `globalThis.WebSocket`; in Node pass `WebSocket` from `ws`. */
  WebSocket?: WebSocketConstructor;
  /**
   * fetch implementation. Default: Node's own `node:http` in Node (cheaper per
   * request than its `fetch`; `LNMB_HTTP=fetch` opts out), `globalThis.fetch` elsewhere.
   */
  fetch?: FetchLike;
  /** Clock in ms since epoch, for de-dup expiry and the info cache. Default `Date.now`. */
  now?: () => number;
  /** Reconnect backoff bounds. Default `{ minMs: 250, maxMs: 3000 }` (back within seconds of a relay restart). */
  reconnect?: Partial<BackoffOptions>;
  /** Per-HTTP-request timeout, and the time a WebSocket has to reach `ready`. Default 10 000 ms. */
  timeoutMs?: number;
  /** Minimum time a processed envelope id is remembered. Default 31 days (above the default relay max TTL of 30 days). */
  dedupRetentionMs?: number;
}

/** Where to post: a decoded `MailboxAddress` (or the `lnmb1…` string itself), or just a key and its relays. */
export interface Destination {
  /** Recipient x-only public key (32 bytes). */
  publicKey: Uint8Array;
  /** The recipient's relay base URLs (one or more). */
  relays: readonly string[];
}

/** Options of {@link MailboxClient.post}. */
export interface PostOptions {
  /** Requested time-to-live in whole seconds; the relay enforces its maximum. */
  ttlSeconds?: number;
  /** 32 random bytes; the relay stores `sha256(secret)` so only this holder can retract. */
  retractionSecret?: Uint8Array;
}

/** Per-relay outcome of a post. */
export type RelayPostResult =
  | { relay: string; ok: true; created: boolean; seq: number; expiresAt: string }
  | { relay: string; ok: false; error: LnMailboxError };

/** Result of {@link MailboxClient.post}: at least one entry of `results` is `ok`. */
export interface PostResult {
  /** Envelope id (64 hex): `sha256(envelope)`. */
  id: string;
  results: RelayPostResult[];
}

/** Per-relay outcome of a retraction. */
export type RelayRetractResult = { relay: string; ok: true; status: EnvelopeStatus } | { relay: string; ok: false; error: LnMailboxError };

/** Result of {@link MailboxClient.retract}: at least one entry of `results` is `ok`. */
export interface RetractResult {
  id: string;
  results: RelayRetractResult[];
}

/** An envelope delivered to this mailbox. */
export interface MailboxMessage {
  /** Envelope id (64 hex), verified against the bytes. */
  id: string;
  /** The sealed envelope; open it with `open(envelope, secretKey)`. */
  envelope: Uint8Array;
  /** Normalized base URL of the relay it came from. */
  relay: string;
  /** That relay's sequence number for it. */
  seq: number;
  /** When that relay would drop it (ISO 8601). */
  expiresAt: string;
  /**
   * The store write that records this envelope as processed, for a handler
   * that persists its effects in the client's own store (the `kv` it was
   * given): added to the handler's atomic batch, followed by
   * {@link ProcessedMark.taken}, effects and mark land in one write, and the
   * envelope can never be processed twice, even after a crash. Set on
   * every envelope the client delivers (pushed or read with
   * {@link MailboxClient.fetchBacklog}); optional for messages built by hand.
   */
  processed?: ProcessedMark;
}

/** See {@link MailboxMessage.processed}. */
export interface ProcessedMark {
  /** The write to add to the handler's batch. */
  readonly op: KvOp;
  /** Tells the client the batch holding {@link op} is durable: it writes no mark of its own. */
  taken(): void;
}

/**
 * Processes one envelope. It must persist its effects before its promise
 * resolves: the envelope is acknowledged (deleted on the relay) right after.
 * If it throws, the envelope is not acknowledged and will be delivered again.
 * Unless it writes {@link MailboxMessage.processed} with its effects, it may
 * see an envelope again after a crash between its return and the client
 * recording the id, so its effects should be idempotent.
 */
export type EnvelopeHandler = (msg: MailboxMessage) => Promise<void> | void;

/** Options of {@link MailboxClient.subscribe}. */
export interface SubscribeOptions {
  /** Read only from these relays (default: all of the client's relays). */
  relays?: readonly string[];
}

/** Options of {@link MailboxClient.fetchBacklog}. */
export interface FetchBacklogOptions {
  /** Read only from these relays (default: all of the client's relays). */
  relays?: readonly string[];
  /** Envelopes per page (1..1000). Default 100. */
  pageSize?: number;
}

export type { BacklogResult } from './http-backlog.js';

const DAY_MS = 86_400_000;
const INFO_TTL_MS = 10 * 60_000;

function relayList(relays: unknown, what: string): string[] {
  if (!Array.isArray(relays)) fail(ErrorCode.INVALID_TYPE, `${what}: expected an array of relay URLs`);
  if (relays.length === 0) fail(ErrorCode.INVALID_LENGTH, `${what}: expected at least one relay`);
  return [...new Set(relays.map(normalizeRelayUrl))];
}

function idHexOf(id: unknown): string {
  if (id instanceof Uint8Array) return bytesToHex(abytes(id, 32, 'id'));
  return bytesToHex(hexToBytes(id, 32, 'id'));
}

/** The mailbox client. One instance per mailbox key; share its `kv` with the role runtime. */
export class MailboxClient {
  /** This mailbox's x-only public key. */
  readonly publicKey: Uint8Array;
  /** This mailbox's id: the public key as 64 lowercase hex. */
  readonly mailboxId: string;
  /** Normalized base URLs of this mailbox's relays. */
  readonly relays: readonly string[];
  readonly #sk: Uint8Array;
  readonly #kv: Kv;
  readonly #ledger: DeliveryLedger;
  readonly #WebSocket: WebSocketConstructor | undefined;
  readonly #transport: HttpTransport | undefined;
  readonly #now: () => number;
  readonly #backoff: BackoffOptions;
  readonly #timeoutMs: number;
  readonly #retentionMs: number;
  readonly #info = new Map<string, { info: RelayInfo; at: number }>();
  /** The single delivery queue: handlers run one at a time, in arrival order, whatever the relay. */
  #queue: Promise<unknown> = Promise.resolve();

  /**
   * @throws LnMailboxError INVALID_TYPE / INVALID_LENGTH / INVALID_SECRET_KEY / ADDRESS_BAD_RELAY_URL / INVALID_RANGE
   */
  constructor(o: MailboxClientOptions) {
    if (typeof o !== 'object' || o === null) fail(ErrorCode.INVALID_TYPE, 'MailboxClient: expected an options object');
    this.#sk = Uint8Array.from(abytes(o.secretKey, 32, 'secretKey'));
    try {
      this.publicKey = getPublicKey(this.#sk);
    } catch (e) {
      fail(ErrorCode.INVALID_SECRET_KEY, 'secretKey: not a valid secp256k1 secret key', e);
    }
    this.mailboxId = bytesToHex(this.publicKey);
    this.relays = Object.freeze(relayList(o.relays, 'relays'));
    this.#kv = o.kv ?? new MemoryKv();
    this.#ledger = new DeliveryLedger(this.#kv, this.mailboxId);
    const g = globalThis as { WebSocket?: unknown };
    this.#WebSocket = (o.WebSocket ?? g.WebSocket) as WebSocketConstructor | undefined;
    if (this.#WebSocket !== undefined && typeof this.#WebSocket !== 'function')
      fail(ErrorCode.INVALID_TYPE, 'WebSocket: expected a constructor');
    this.#transport = defaultTransport(o.fetch);
    this.#now = o.now ?? Date.now;
    if (typeof this.#now !== 'function') fail(ErrorCode.INVALID_TYPE, 'now: expected a function');
    this.#backoff = backoffOptions(o.reconnect);
    this.#timeoutMs = o.timeoutMs ?? 10_000;
    this.#retentionMs = o.dedupRetentionMs ?? 31 * DAY_MS;
    for (const [k, v] of [
      ['timeoutMs', this.#timeoutMs],
      ['dedupRetentionMs', this.#retentionMs],
    ] as const)
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(ErrorCode.INVALID_RANGE, `${k}: expected a positive number`);
  }

  /**
   * This mailbox's address (`lnmb1…`, bech32m) naming its key and relays: the
   * string a payee shares so that others can {@link post} to it.
   * @throws LnMailboxError ADDRESS_BAD_RELAY_URL / INVALID_LENGTH when the relays do not fit an address
   */
  address(): string {
    return encodeMailboxAddress({ publicKey: this.publicKey, relays: [...this.relays] });
  }

  #http(relay: string): RelayHttp {
    if (this.#transport === undefined) fail(ErrorCode.INVALID_TYPE, 'no fetch implementation: pass options.fetch');
    return new RelayHttp(relay, this.#transport, this.#timeoutMs);
  }

  async #relayInfo(http: RelayHttp, fresh: boolean): Promise<RelayInfo> {
    const cached = this.#info.get(http.relay);
    if (!fresh && cached !== undefined && this.#now() - cached.at < INFO_TTL_MS) return cached.info;
    const info = await http.info();
    this.#info.set(http.relay, { info, at: this.#now() });
    return info;
  }

  /**
   * Posts a sealed envelope to every relay of `dest`, concurrently. Resolves
   * once every relay has answered (or timed out), if at least one stored it
   * (201, or 200 when it already had it); otherwise rejects. Solves the
   * relay's proof of work when its `/v1/info` asks for one (info is cached
   * per relay for 10 minutes and refreshed on POW_REQUIRED).
   * @param dest a `MailboxAddress`, its `lnmb1…` string, or `{ publicKey, relays }`
   * @throws LnMailboxError input errors (ADDRESS_* for a bad address string, INVALID_*, ENVELOPE_*, MAILBOX_MISMATCH
   *   when the envelope is sealed to another key, TTL_INVALID); when no relay
   *   stored it, the relays' common code (e.g. MAILBOX_FULL, RELAY_UNREACHABLE)
   *   or ALL_RELAYS_FAILED, with `cause` an AggregateError of the per-relay errors
   */
  async post(dest: Destination | string, envelope: Uint8Array, opts: PostOptions = {}): Promise<PostResult> {
    if (typeof dest === 'string') dest = decodeMailboxAddress(dest);
    if (typeof dest !== 'object' || dest === null) fail(ErrorCode.INVALID_TYPE, 'dest: expected { publicKey, relays } or a MailboxAddress');
    const recipient = abytes(dest.publicKey, 32, 'dest.publicKey');
    const relays = relayList(dest.relays, 'dest.relays');
    abytes(envelope, undefined, 'envelope');
    // Size is the relay's call (its limit is configurable); check version and shape here.
    const header = parseEnvelopeHeader(envelope, Number.MAX_SAFE_INTEGER);
    // Posting an envelope sealed to someone else would park it where its recipient never looks.
    if (!equalBytes(header.recipient, recipient))
      fail(ErrorCode.MAILBOX_MISMATCH, 'envelope is sealed to a different key than dest.publicKey');
    if (typeof opts !== 'object' || opts === null) fail(ErrorCode.INVALID_TYPE, 'opts: expected an object');
    const headers: PostHeaders = {};
    if (opts.ttlSeconds !== undefined) {
      if (!Number.isSafeInteger(opts.ttlSeconds) || opts.ttlSeconds <= 0)
        fail(ErrorCode.TTL_INVALID, 'ttlSeconds: expected a positive integer');
      headers.ttlSeconds = opts.ttlSeconds;
    }
    if (opts.retractionSecret !== undefined)
      headers.retractionHash = bytesToHex(sha256(abytes(opts.retractionSecret, 32, 'retractionSecret')));
    const body = Uint8Array.from(envelope); // our own copy: the caller may reuse its buffer meanwhile
    const idBytes = envelopeId(body);
    const id = bytesToHex(idBytes);
    const mailbox = bytesToHex(recipient);
    const nonces = new Map<number, string>();
    const powFor = (bits: number): string | undefined => {
      if (bits <= 0) return undefined;
      let n = nonces.get(bits);
      if (n === undefined) nonces.set(bits, (n = bytesToHex(solvePow(idBytes, bits))));
      return n;
    };
    const results = await Promise.all(
      relays.map(async (relay): Promise<RelayPostResult> => {
        try {
          const http = this.#http(relay);
          let info = await this.#relayInfo(http, false);
          let posted: Awaited<ReturnType<RelayHttp['postEnvelope']>>;
          try {
            posted = await http.postEnvelope(mailbox, body, { ...headers, pow: powFor(info.powBits) });
          } catch (e) {
            if (!isLnMailboxError(e, ErrorCode.POW_REQUIRED)) throw e;
            // The relay raised its difficulty since we cached its info: refresh once and retry.
            info = await this.#relayInfo(http, true);
            posted = await http.postEnvelope(mailbox, body, { ...headers, pow: powFor(info.powBits) });
          }
          return { relay, ok: true, created: posted.created, seq: posted.seq, expiresAt: posted.expiresAt };
        } catch (e) {
          return { relay, ok: false, error: asError(e) };
        }
      }),
    );
    if (!results.some((r) => r.ok))
      throw aggregate(
        'post',
        results.filter((r): r is Extract<RelayPostResult, { ok: false }> => !r.ok),
      );
    return { id, results };
  }

  /**
   * The status of envelope `id` on one relay (the id is the capability; no auth).
   * @throws LnMailboxError ENVELOPE_NOT_FOUND (unknown, or its tombstone expired), RELAY_UNREACHABLE, …
   */
  async status(relay: string, id: string | Uint8Array): Promise<EnvelopeStatus> {
    const idHex = idHexOf(id);
    return this.#http(normalizeRelayUrl(relay)).status(idHex);
  }

  /**
   * How far this mailbox has been read on `relay`: the highest sequence
   * number the relay confirmed an ack for, as persisted in the store (0 before
   * the first). A later `subscribe` or `fetchBacklog` resumes after it.
   * @throws LnMailboxError ADDRESS_BAD_RELAY_URL, or the store's error
   */
  async cursor(relay: string): Promise<number> {
    return this.#ledger.cursor(normalizeRelayUrl(relay));
  }

  /**
   * Retracts envelope `id` on each relay (DELETE with the retraction secret
   * given at post time). Resolves if at least one relay retracted it; the
   * per-relay results say where (a relay that never stored it answers
   * ENVELOPE_NOT_FOUND).
   * @param relays relay URLs, or the destination the envelope was posted to
   * @throws LnMailboxError when no relay retracted it: the common code
   *   (RETRACT_FORBIDDEN, RETRACT_TOO_LATE, ENVELOPE_NOT_FOUND, …) or ALL_RELAYS_FAILED
   */
  async retract(relays: readonly string[] | Destination, id: string | Uint8Array, secret: Uint8Array): Promise<RetractResult> {
    const list = relayList(Array.isArray(relays) ? relays : (relays as Destination | null)?.relays, 'relays');
    const idHex = idHexOf(id);
    const secretHex = bytesToHex(abytes(secret, 32, 'secret'));
    const results = await Promise.all(
      list.map(async (relay): Promise<RelayRetractResult> => {
        try {
          return { relay, ok: true, status: await this.#http(relay).retract(idHex, secretHex) };
        } catch (e) {
          return { relay, ok: false, error: asError(e) };
        }
      }),
    );
    if (!results.some((r) => r.ok))
      throw aggregate(
        'retract',
        results.filter((r): r is Extract<RelayRetractResult, { ok: false }> => !r.ok),
      );
    return { id: idHex, results };
  }

  /**
   * Publishes `body` as record `name` of this mailbox (SPEC 5.13) on every
   * relay of the client, replacing what was there; anyone holding the
   * mailbox address can then read it with `fetchRecord`, also while this
   * client is offline. Resolves once every relay answered, if at least one
   * stored it. The relays vouch for nothing: publish signed bytes.
   * @param name 1..32 of `[a-z0-9-]`, starting with `[a-z0-9]` (e.g. `hub-terms`)
   * @param body at most 16 KiB
   * @throws LnMailboxError INVALID_TYPE, BAD_REQUEST (name), BODY_TOO_LARGE before anything is sent; when no
   *   relay stored it, their common code (RECORD_LIMIT, RELAY_UNREACHABLE, …) or ALL_RELAYS_FAILED
   */
  async publishRecord(name: string, body: Uint8Array): Promise<void> {
    await publishRecordEverywhere(this.#recordOwner(), name, body);
  }

  /**
   * Deletes record `name` of this mailbox on every relay of the client.
   * Resolves if at least one relay confirmed (also when it had none).
   * @throws LnMailboxError as {@link publishRecord}
   */
  async deleteRecord(name: string): Promise<void> {
    await deleteRecordEverywhere(this.#recordOwner(), name);
  }

  #recordOwner() {
    return { relays: this.relays, mailboxId: this.mailboxId, secretKey: this.#sk, http: (relay: string) => this.#http(relay) };
  }

  /**
   * Runs one delivery through the single queue: skip if its connection is
   * gone, ack-only if its id was processed before, else the handler, then
   * record the id. Never rejects.
   */
  #deliver(
    handler: EnvelopeHandler,
    env: PushedEnvelope,
    alive: () => boolean,
  ): Promise<{ outcome: DeliveryOutcome; error?: LnMailboxError }> {
    const run = async (): Promise<{ outcome: DeliveryOutcome; error?: LnMailboxError }> => {
      if (!alive()) return { outcome: 'skipped' };
      const now = this.#now();
      try {
        if (await this.#ledger.isProcessed(env.id, now)) return { outcome: 'duplicate' };
      } catch (e) {
        return { outcome: 'failed', error: asError(e) };
      }
      const expires = Date.parse(env.expiresAt);
      const op = this.#ledger.processedOp(env.id, Math.max(Number.isFinite(expires) ? expires : 0, now + this.#retentionMs));
      let taken = false;
      const processed: ProcessedMark = { op, taken: () => void (taken = true) };
      try {
        await handler({ id: env.id, envelope: env.envelope, relay: env.relay, seq: env.seq, expiresAt: env.expiresAt, processed });
      } catch (e) {
        const msg = `handler failed on envelope ${env.id} from ${env.relay}: ${(e as Error)?.message ?? e}`;
        return { outcome: 'failed', error: new LnMailboxError(ErrorCode.HANDLER_FAILED, msg, { cause: e }) };
      }
      try {
        if (!taken) await this.#kv.batch([op]);
      } catch (e) {
        // Effects are persisted but the id is not: don't ack, so a redelivery (which the
        // handler must tolerate) is the worst case, never a loss.
        return { outcome: 'failed', error: asError(e) };
      }
      return { outcome: 'handled' };
    };
    const p = this.#queue.then(run);
    this.#queue = p;
    return p;
  }

  #checkHandler(handler: unknown): EnvelopeHandler {
    if (typeof handler !== 'function') fail(ErrorCode.INVALID_TYPE, 'handler: expected a function');
    return handler as EnvelopeHandler;
  }

  #pick(relays: readonly string[] | undefined): string[] {
    if (relays === undefined) return [...this.relays];
    return relayList(relays, 'relays');
  }

  /**
   * Subscribes to this mailbox on every relay over WebSocket: auth, resume
   * from the persisted cursor, backlog, then live pushes, reconnecting with
   * backoff forever until `close()`. The handler is called once per envelope
   * id, one call at a time, in arrival order; an envelope is acked on a relay
   * only after the handler resolved and its id was recorded. Events:
   * `ready`, `backlog_end`, `disconnected`, `error` (never fatal).
   * @throws LnMailboxError INVALID_TYPE when there is no WebSocket implementation
   */
  subscribe(handler: EnvelopeHandler, opts: SubscribeOptions = {}): Subscription {
    const h = this.#checkHandler(handler);
    if (typeof this.#WebSocket !== 'function')
      fail(ErrorCode.INVALID_TYPE, 'no WebSocket implementation: pass options.WebSocket (e.g. from "ws"), or use fetchBacklog()');
    const sub = new Subscription(
      this.#pick(opts.relays),
      {
        WebSocket: this.#WebSocket,
        secretKey: this.#sk,
        mailbox: this.publicKey,
        ledger: this.#ledger,
        backoff: this.#backoff,
        connectTimeoutMs: this.#timeoutMs,
      },
      (env, alive) => this.#deliver(h, env, alive),
    );
    sub.start();
    // Forget processed ids nobody can redeliver any more.
    void this.#ledger.prune(this.#now()).catch((e) => sub.report(this.relays[0]!, asError(e)));
    return sub;
  }

  /**
   * Reads the backlog over HTTP, for environments without WebSocket (or a
   * one-shot poll): per relay, challenge → session token → list after the
   * persisted cursor → handler (same queue and de-dup as `subscribe`) → ack
   * → advance cursor, page by page. Relays are read concurrently; a relay
   * stops at its first failure, keeping what was acked.
   * @throws LnMailboxError only when every relay failed: their common code or ALL_RELAYS_FAILED
   */
  async fetchBacklog(handler: EnvelopeHandler, opts: FetchBacklogOptions = {}): Promise<BacklogResult[]> {
    const h = this.#checkHandler(handler);
    const relays = this.#pick(opts.relays);
    const pageSize = opts.pageSize ?? 100;
    if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > MAX_ACK_IDS)
      fail(ErrorCode.INVALID_RANGE, `pageSize: expected 1..${MAX_ACK_IDS}`);
    const results = await Promise.all(
      relays.map((relay) =>
        drainOverHttp({
          http: this.#http(relay),
          mailbox: this.publicKey,
          secretKey: this.#sk,
          ledger: this.#ledger,
          pageSize,
          deliver: (env) => this.#deliver(h, env, () => true),
        }),
      ),
    );
    const failed = results.filter((r): r is BacklogResult & { error: LnMailboxError } => r.error !== undefined);
    if (failed.length === results.length)
      throw aggregate(
        'fetchBacklog',
        failed.map((r) => ({ relay: r.relay, error: r.error })),
      );
    return results;
  }
}
