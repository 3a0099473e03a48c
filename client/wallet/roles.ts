/**
 * The three roles a wallet embeds, each a {@link RoleRuntime} around a pure
 * engine: {@link PayerNode} (A), {@link HubNode} (S), {@link PayeeNode} (B) and,
 * for the S→P→B privacy hop, {@link RouterNode} (P).
 * Each restores its engine from the store when there is saved state, so a
 * role killed at any step resumes where it stopped.
 * @module
 */
import { decodeMailboxAddress } from '../../protocol/address.js';
import { getPublicKey } from '../../crypto/bip340.js';
import { signTerms, TERMS_RECORD, verifyTerms, type HubTerms } from '../../protocol/terms.js';
import type { Channel } from '../../engine/channel/channel.js';
import { requireFundingOutpoint } from '../../engine/channel/state.js';
import { hexToBytes } from '../../base/bytes.js';
import { PaymentType } from '../../protocol/payment.js';
import { foreignWatch, type ForeignWatch } from '../../engine/channel/foreign-watch.js';
import { ErrorCode, LnMailboxError } from '../../base/errors.js';
import { hubFee, type FeePolicy } from '../../engine/payment/fee.js';
import { Hub, type HubConfig, type HubJson } from '../../engine/payment/hub/hub.js';
import type { PeerChannel } from '../../engine/payment/peers.js';
import { Payee, type PayeeConfig, type PayeeJson, type PayeePayment } from '../../engine/payment/payee/payee.js';
import { Payer, type PayerConfig, type PayerJson } from '../../engine/payment/payer/payer.js';
import { Router, type RouterConfig, type RouterJson } from '../../engine/payment/router.js';
import { KvNonceStore } from './nonce-store.js';
import { OpeningRuntime, WalletRuntime, type OpeningOptions } from './opening.js';
import { pickTicket, relayTicketSource, type TicketSource } from './tickets.js';
import { TICKETS_RECORD } from '../../protocol/receipt.js';
import type { PayerPayment } from '../../engine/payment/payer/payer.js';
import type { PaymentDetails } from './query.js';
import { RoleRuntime, type CloseOptions, type CloseResult, type RuntimeOptions } from './runtime.js';
import { towerTerms } from './watchtower.js';
import { checkHubOptions, checkPayeeOptions, checkPayerOptions, checkRuntimeOptions } from './options.js';

/** Options of {@link PayerNode.open}. */
export interface PayerNodeOptions extends RuntimeOptions, OpeningOptions {
  /** Hub and channel key; the identity key is the runtime's `identityKey`. */
  config: Omit<PayerConfig, 'identityKey'>;
  /**
   * A ready-made channel with the hub, used only on first start: for tests
   * and setups where one operator holds both keys. A payer normally starts
   * without one and calls {@link WalletRuntime.openChannel}.
   */
  channel?: Channel;
  /**
   * Overrides the hub's fee policy (`base + amount·ppm/1e6` sats). By
   * default the payer pays the fee of the hub's signed terms (SPEC 6.17),
   * fetched when it opened its channel, and read again from the hub's relay
   * record `hub-terms` once those have expired.
   */
  hubFee?: FeePolicy;
  /** Where payees' receipt tickets are read (default: the `receipt-tickets` record on the payee's relays). */
  tickets?: TicketSource;
}

/** The payer (A): opens its channel with its hub, and pays payees who are offline through it. */
export class PayerNode extends WalletRuntime<Payer> {
  #fee: FeePolicy | undefined;
  #tickets: TicketSource = relayTicketSource();

  /** Opens (or restores) the payer and starts listening to its mailbox. */
  static async open(o: PayerNodeOptions): Promise<PayerNode> {
    checkPayerOptions(o);
    const nonces = new KvNonceStore(o.kv);
    const saved = (await RoleRuntime.loadState(o.kv)) as PayerJson | undefined;
    const config: PayerConfig = { ...o.config, identityKey: o.identityKey };
    const engine = saved ? Payer.fromJSON(config, saved, nonces) : new Payer(config, o.channel, nonces);
    const node = new PayerNode(engine, o);
    node.batchNonces(nonces);
    if (o.hubFee) node.#fee = o.hubFee;
    node.attachTower(o.config.channelKey);
    node.#tickets = o.tickets ?? relayTicketSource(o.client?.fetch);
    await node.start();
    return node;
  }

  /**
   * The hub's fee policy as the payer knows it now: the override, else the
   * fee of the hub's terms it holds (no fee when neither is known or the
   * terms have expired). Payments use {@link currentHubFee}, which fetches
   * fresh terms instead of paying no fee.
   */
  hubFeePolicy(): FeePolicy {
    if (this.#fee) return this.#fee;
    const t = this.engine.slot.terms(this.ctx().now);
    return t ? { base: t.feeBase, ppm: t.feePpm } : { base: 0, ppm: 0 };
  }

  /**
   * The hub's fee policy a payment pays: the override, else the fee of the
   * hub's terms the payer holds; when those are missing or expired, the
   * hub's current terms are read from its relay record `hub-terms`, checked
   * and kept (persisted) first.
   * @throws LnMailboxError PAYMENT_REJECTED when no valid terms of the hub
   *   can be had: the payer does not guess the hub's fee (a fee the hub
   *   does not ask for would be refused, or overpaid).
   */
  async currentHubFee(): Promise<FeePolicy> {
    if (this.#fee) return this.#fee;
    const known = this.engine.slot.terms(this.ctx().now);
    if (known) return { base: known.feeBase, ppm: known.feePpm };
    const doc = await this.fetchTerms();
    const t =
      doc &&
      (await this.serial(async () => {
        const ctx = this.ctx();
        await this.commit(await this.engine.noteTerms(doc, ctx));
        return this.engine.slot.terms(ctx.now);
      }));
    if (!t)
      throw new LnMailboxError(
        ErrorCode.PAYMENT_REJECTED,
        'the hub’s terms have expired or are unknown and its relay record `hub-terms` gave no valid ones: the hub fee is unknown (pass `fee`, or set `hubFee`)',
      );
    return { base: t.feeBase, ppm: t.feePpm };
  }

  /**
   * Pays `amount` sats to the payee at mailbox address `address`, who may be
   * offline. Resolves with the offer id once the proposal is persisted and
   * stored on at least one of the hub's relays; follow progress with
   * `on('payment', …)` (`offered` once the offer is stored on one of the
   * payee's relays: the payer may go offline then; `completed` with the
   * receipt when the hub has bought the signature).
   * The payee's receipt ticket (SPEC 6.16) is `opts.ticket`, or one picked
   * from its published batch (`opts.tickets`, else read from its relays).
   * @throws LnMailboxError RELAY_UNREACHABLE when no relay of the hub took
   *   the proposal within `opts.postTimeoutMs` (default 10 000 ms): the
   *   payment is then persisted as `proposed` and stays queued (the runtime
   *   retries; `pendingOutbox` shows it; `cancel(offerId)` withdraws it);
   *   the error's message names the offer id and `offerId` holds it.
   * @throws LnMailboxError PAYMENT_REJECTED when no `fee` is given and the
   *   hub's fee is unknown (see {@link currentHubFee}).
   */
  async payOffline(
    address: string,
    amount: number,
    opts: {
      expiresInMs?: number;
      memo?: string;
      fee?: number;
      ticket?: Uint8Array;
      tickets?: Uint8Array;
      postTimeoutMs?: number;
    } = {},
  ): Promise<string> {
    const dest = decodeMailboxAddress(address);
    let ticket = opts.ticket;
    if (!ticket) {
      const batch = opts.tickets ?? (await this.#tickets(address));
      if (!batch) throw new LnMailboxError(ErrorCode.PAYMENT_REJECTED, 'the payee published no receipt tickets');
      const used = new Set([...this.engine.payments.values()].flatMap((p) => (p.ticket ? [p.ticket] : [])));
      ticket = pickTicket(batch, address, used);
    }
    const chosen = ticket;
    const policy = opts.fee === undefined ? await this.currentHubFee() : undefined;
    const { offerId, keys } = await this.serial(async () => {
      const ctx = this.ctx();
      const { offerId, step } = await this.engine.pay(
        {
          payee: { publicKey: dest.publicKey, address },
          amount,
          fee: opts.fee ?? hubFee(amount, policy!),
          expiry: ctx.now + (opts.expiresInMs ?? 24 * 3_600_000),
          ticket: chosen,
          ...(opts.memo ? { memo: opts.memo } : {}),
        },
        ctx,
      );
      return { offerId, keys: await this.commit(step) };
    });
    if (!(await this.waitPosted(keys, opts.postTimeoutMs ?? 10_000))) {
      const e = new LnMailboxError(
        ErrorCode.RELAY_UNREACHABLE,
        `payment ${offerId} is queued: no relay of the hub took its proposal yet (retried until one does; cancel(offerId) withdraws it)`,
      );
      throw Object.assign(e, { offerId });
    }
    return offerId;
  }

  /**
   * The payer's payments, as stored (oldest first), each completed one with
   * its receipt (`receipt.receipt`, hex: check it with `verifyReceipt` and
   * the payee's address, which the record also holds).
   */
  override payments(): PayerPayment[] {
    return super.payments() as unknown as PayerPayment[];
  }

  /**
   * A stored payment with its history (see {@link RoleRuntime.getPayment}),
   * as the payer's record: a completed one holds its `receipt`, equal field
   * for field to the `completed` event's (hex).
   */
  override async getPayment(id: string): Promise<PaymentDetails<PayerPayment> | undefined> {
    return (await super.getPayment(id)) as PaymentDetails<PayerPayment> | undefined;
  }

  /** Cancels a payment the hub has not yet extended; its envelope is retracted and the payee told. */
  async cancel(offerId: string): Promise<void> {
    await this.serial(async () => this.commit(await this.engine.cancel(offerId)));
  }

  /**
   * Pays a payee's pre-signed request (the request flow, SPEC 6.14) (received as a
   * `request_received` event) through the hub; the payee may be offline. The
   * `request_paid` event follows when the hub's signature is bought; the
   * payer keeps the completed update for the payee and forwards it.
   */
  async payRequest(requestId: string, opts: { fee?: number } = {}): Promise<void> {
    const policy = opts.fee === undefined && this.engine.requests.has(requestId) ? await this.currentHubFee() : undefined;
    await this.serial(async () => {
      const r = this.engine.requests.get(requestId);
      const fee = opts.fee ?? (r && policy ? hubFee(r.amount, policy) : 0);
      await this.commit(await this.engine.payRequest(requestId, fee, this.ctx()));
    });
  }

  /**
   * The payees' channels this payer watches (SPEC 6.18): for each request it
   * bought (it holds the complete S–B update n) whose payee sent a
   * `TOWER_TERMS` that matches the signatures.
   */
  protected override async towerForeign(): Promise<ForeignWatch[]> {
    const held = await this.serial(async () =>
      [...this.engine.requests.values()].filter((r) => r.hubUpdateSig !== undefined).map((r) => structuredClone(r)),
    );
    const out: ForeignWatch[] = [];
    for (const r of held) {
      const t = await towerTerms(this.kv, r.requestId, r.payeeKey);
      if (t === undefined || t.channelId !== r.channelId) continue;
      const w = foreignWatch({
        id: r.requestId,
        stateKeys: [hexToBytes(r.hubChannelKey, 32), hexToBytes(r.payeeChannelKey, 32)],
        funding: { txid: hexToBytes(t.fundingTxid, 32), vout: t.fundingVout, amount: t.fundingAmount },
        updateFee: t.updateFee,
        csvDelay: t.csvDelay,
        n: r.n,
        updateSigs: { a: hexToBytes(r.hubUpdateSig!, 65), b: hexToBytes(r.payeeUpdateSig, 65) },
      });
      if (w) out.push(w);
    }
    return out;
  }

  /**
   * Cancels every offer whose expiry has passed without the payee invoicing,
   * so its pending state stops blocking the channel. Call it when the wallet
   * wakes up, ideally after its mailbox backlog was read (a completion that
   * overtakes the cancellation still completes the payment). Resolves with the
   * cancelled offer ids.
   */
  async cancelExpired(): Promise<string[]> {
    return this.serial(async () => {
      const ids = this.engine.expiredOffers(this.ctx().now);
      // One payment in flight per channel, so at most one cancellation is started.
      const first = ids[0];
      if (first !== undefined) await this.commit(await this.engine.cancel(first));
      return first === undefined ? [] : [first];
    });
  }
}

/**
 * What a hub offers in its terms (SPEC 6.17) beside what its configuration
 * already says (channel key, fee, timeout delta): see `HubTerms`.
 */
export type HubTermsPolicy = Omit<
  HubTerms,
  'hubKey' | 'channelKey' | 'feeBase' | 'feePpm' | 'maxTimeoutDelta' | 'issued' | 'expiry' | 'serial'
> & {
  /**
   * How long the signed terms stay valid, ms (default 30 days). The hub signs
   * new ones at start and while it runs once less than half of it is left
   * (see {@link HubNode.renewTerms}).
   */
  validityMs?: number;
};

const TERMS_KEY = 'hub/terms';
/** The terms the stored ones replaced: an OPEN may still name them while they are unexpired, across a restart too. */
const PREVIOUS_TERMS_KEY = 'hub/terms-previous';
const DEFAULT_TERMS_VALIDITY_MS = 30 * 24 * 3_600_000;

/**
 * The hub's signed terms: the ones in its store while they state the same
 * policy and have more than half their validity left (a restart does not
 * change them, so an open under way across it still names the current
 * terms), else newly signed ones, stored; with the terms the stored ones
 * replaced (`previous`) while those are unexpired.
 */
async function hubTermsDoc(o: HubNodeOptions, now: number): Promise<{ doc: Uint8Array; previous?: Uint8Array }> {
  const { validityMs = DEFAULT_TERMS_VALIDITY_MS, ...policy } = o.terms!;
  const t: HubTerms = {
    ...policy,
    hubKey: getPublicKey(o.identityKey),
    channelKey: getPublicKey(o.config.channelKey),
    feeBase: o.config.fee.base,
    feePpm: o.config.fee.ppm,
    maxTimeoutDelta: o.config.maxTimeoutDelta,
    serial: Math.floor(now / 1000) >>> 0,
    issued: now,
    expiry: now + validityMs,
  };
  const unexpired = (doc: Uint8Array | undefined): HubTerms | undefined => {
    if (!doc) return undefined;
    try {
      return verifyTerms(doc, t.hubKey, now);
    } catch {
      return undefined; // expired or not ours
    }
  };
  const stored = await o.kv.get(TERMS_KEY);
  const old = unexpired(stored);
  if (stored && old) {
    const same = (Object.keys(t) as (keyof HubTerms)[]).every(
      (k) => k === 'serial' || k === 'issued' || k === 'expiry' || String(old[k]) === String(t[k]),
    );
    if (same && old.expiry - now > validityMs / 2) {
      const previous = await o.kv.get(PREVIOUS_TERMS_KEY);
      return unexpired(previous) ? { doc: stored, previous: previous! } : { doc: stored };
    }
  }
  // Two terms signed within the same second would share a serial: the new ones take the next.
  if (old && t.serial <= old.serial) t.serial = (old.serial + 1) >>> 0;
  const doc = signTerms(t, o.identityKey);
  await o.kv.batch([
    { type: 'put', key: TERMS_KEY, value: doc },
    stored && old ? { type: 'put', key: PREVIOUS_TERMS_KEY, value: stored } : { type: 'del', key: PREVIOUS_TERMS_KEY },
  ]);
  return stored && old ? { doc, previous: stored } : { doc };
}

/** Options of {@link HubNode.open}. */
export interface HubNodeOptions extends RuntimeOptions, OpeningOptions {
  /**
   * The hub's parameters; the identity key is the runtime's `identityKey`
   * (its `terms` and `payout` are filled in from `terms` and the FundingWallet).
   */
  config: Omit<HubConfig, 'identityKey'>;
  /** What the hub offers to openers; without it the hub opens no channel. */
  terms?: HubTermsPolicy;
  /** Publish the signed terms as the relay record `hub-terms` at start and at each renewal (default true); TERMS_REQUEST is answered either way. */
  publishTerms?: boolean;
  /**
   * How often, ms, the running hub looks whether its terms need renewing
   * (see {@link HubNode.renewTerms}); default the smaller of one hour and a
   * quarter of `terms.validityMs`.
   */
  termsRenewMs?: number;
  /**
   * Ready-made channels, used only on first start: for tests and setups
   * where one operator holds both keys. A hub normally starts with none and
   * accepts opens (SPEC 6.17).
   */
  peers?: PeerChannel[];
}

/** The hub (S): always online; accepts channel opens, co-signs payer states and buys their signatures from payees. */
export class HubNode extends OpeningRuntime<Hub> {
  #opts: HubNodeOptions | undefined;
  #renewTimer: ReturnType<typeof setInterval> | undefined;

  /** The hub's signed terms (publish or hand them out; the hub answers TERMS_REQUEST with them). */
  get terms(): Uint8Array | undefined {
    return this.engine.terms?.doc;
  }

  /** Opens (or restores) the hub, signs its terms, and starts listening to its mailbox. */
  static async open(o: HubNodeOptions): Promise<HubNode> {
    checkHubOptions(o);
    const nonces = new KvNonceStore(o.kv);
    const saved = (await RoleRuntime.loadState(o.kv)) as HubJson | undefined;
    const payout = o.config.payout ?? (await o.fundingWallet?.payoutScript());
    const config: HubConfig = { ...o.config, identityKey: o.identityKey, ...(payout ? { payout } : {}) };
    if (o.terms) {
      const { doc, previous } = await hubTermsDoc(o, (o.now ?? Date.now)());
      config.terms = doc;
      if (previous) config.previousTerms = previous;
    }
    const engine = saved ? Hub.fromJSON(config, saved, nonces) : new Hub(config, o.peers ?? [], nonces);
    const node = new HubNode(engine, o);
    node.batchNonces(nonces);
    node.#opts = o;
    node.attachTower(o.config.channelKey);
    await node.start();
    if (config.terms && o.publishTerms !== false) await node.publishTerms();
    if (o.terms) {
      const every = o.termsRenewMs ?? Math.min(3_600_000, Math.floor((o.terms.validityMs ?? DEFAULT_TERMS_VALIDITY_MS) / 4));
      node.#renewTimer = setInterval(
        () => {
          node.renewTerms().catch((e: unknown) => node.emit('error', e as Error));
        },
        Math.max(1, every),
      );
      node.#renewTimer.unref?.();
    }
    return node;
  }

  /**
   * One renewal pass now (the hub runs one every `termsRenewMs` on its own):
   * once less than half of the terms' validity is left (or they changed),
   * signs new terms, stores them, makes them the ones the hub answers
   * TERMS_REQUEST with and opens under, and republishes the relay record
   * `hub-terms` (unless `publishTerms` is false). The terms they replace stay
   * accepted in OPENs while they are unexpired (SPEC 6.17.1).
   * Resolves with whether the terms changed; false for a hub without terms.
   */
  async renewTerms(): Promise<boolean> {
    const o = this.#opts;
    if (!o?.terms) return false;
    const renewed = await this.serial(async () => {
      const now = this.ctx().now;
      const { doc } = await hubTermsDoc(o, now);
      return this.engine.renewTerms(doc, now);
    });
    if (renewed && o.publishTerms !== false) await this.publishTerms();
    return renewed;
  }

  /** Stops the terms renewal, then the runtime (see {@link OpeningRuntime.close}). */
  override async close(opts: CloseOptions = {}): Promise<CloseResult> {
    if (this.#renewTimer) clearInterval(this.#renewTimer);
    this.#renewTimer = undefined;
    return super.close(opts);
  }

  /** Publishes the signed terms as the relay record `hub-terms` of the hub's mailbox (errors reported, not thrown: TERMS_REQUEST still answers). */
  async publishTerms(): Promise<void> {
    const doc = this.terms;
    if (!doc) return;
    await this.client.publishRecord(TERMS_RECORD, doc).catch((e: unknown) => this.emit('error', e as Error));
  }
}

/** Options of {@link PayeeNode.open}. */
export interface PayeeNodeOptions extends RuntimeOptions, OpeningOptions {
  /** Hub, channel and invoice parameters; the identity key is the runtime's `identityKey`. */
  config: Omit<PayeeConfig, 'identityKey'>;
  /**
   * A ready-made channel with the hub, used only on first start: for tests
   * and setups where one operator holds both keys. A payee normally starts
   * without one and calls {@link WalletRuntime.openChannel} (the hub funds it).
   */
  channel?: Channel;
  /**
   * How often, while online, the payee cancels requests whose expiry passed
   * unpaid (`cancelExpiredRequests`), ms; it also does so each time it has
   * caught up with a relay's backlog. Default 60,000; 0 turns both off (the
   * wallet then calls `cancelExpiredRequests` itself).
   */
  requestSweepMs?: number;
}

/** The payee (B): opens its channel with its hub, comes online, is pushed offers, and sells the payer's signature to the hub. */
export class PayeeNode extends WalletRuntime<Payee> {
  #sweepMs = 60_000;
  #sweep: ReturnType<typeof setInterval> | undefined;

  /** Starts, then cancels expired requests every `requestSweepMs` while online (see {@link PayeeNodeOptions.requestSweepMs}). */
  override async start(): Promise<void> {
    await super.start();
    if (this.#sweepMs > 0) {
      this.#sweep = setInterval(() => this.onCaughtUp(), this.#sweepMs);
      this.#sweep.unref?.();
    }
  }

  /** Caught up with a relay's backlog (or the sweep timer fired): a request that expired unpaid stops blocking the channel. */
  protected override onCaughtUp(): void {
    if (this.#sweepMs <= 0 || this.engine.slot.current === undefined) return;
    if (this.engine.expiredRequests(this.ctx().now).length === 0) return;
    this.cancelExpiredRequests().catch((e: unknown) => this.emit('error', e as Error));
  }

  /** Stops the request sweep, then closes like every role. */
  override async close(opts: CloseOptions = {}): Promise<CloseResult> {
    if (this.#sweep) clearInterval(this.#sweep);
    this.#sweep = undefined;
    return super.close(opts);
  }

  /**
   * The request flow (the payee pre-signs, SPEC 6.14): asks the hub to co-sign a state paying
   * `amount` to us and sends the pre-signed update to the payer at
   * `payerAddress`, who can pay it while we are offline. Resolves with the
   * request id once the request is persisted; `paid` follows when we are
   * next online after the payer paid.
   */
  async requestPayment(payerAddress: string, amount: number, opts: { expiresInMs?: number; memo?: string } = {}): Promise<string> {
    const payer = decodeMailboxAddress(payerAddress);
    return this.serial(async () => {
      const ctx = this.ctx();
      // The payer watches our channel from its funding outpoint: a request needs a funded channel.
      const p = this.engine.channel.params;
      const funding = requireFundingOutpoint(p);
      const { requestId, step } = await this.engine.request(
        {
          payer: { publicKey: payer.publicKey, address: payerAddress },
          amount,
          expiry: ctx.now + (opts.expiresInMs ?? 24 * 3_600_000),
          ...(opts.memo ? { memo: opts.memo } : {}),
        },
        ctx,
      );
      // What the payer needs to watch our channel for us while we are away (SPEC 6.18).
      step.send.push({
        to: payerAddress,
        message: {
          type: PaymentType.TOWER_TERMS,
          requestId: hexToBytes(requestId, 32),
          channelId: p.channelId,
          fundingTxid: funding.txid,
          fundingVout: funding.vout,
          fundingAmount: p.funding.amount,
          updateFee: p.fees.update,
          csvDelay: p.csvDelay,
        },
      });
      await this.commit(step);
      return requestId;
    });
  }

  /**
   * Cancels a request we sent that no payer has paid yet (SPEC 6.14,
   * cancellation), freeing our channel: the hub co-signs a state that
   * supersedes the request's, unless the payer's payment reached it first
   * (then `paid` follows instead). On `cancelled` the payer is told and the
   * request envelope retracted.
   */
  async cancelRequest(requestId: string): Promise<void> {
    await this.serial(async () => this.commit(await this.engine.cancelRequest(requestId)));
  }

  /**
   * Cancels the request whose expiry has passed without a payer paying it,
   * so that its pending state stops blocking our channel (one request is
   * pending at a time). Call it when the wallet wakes up, after its mailbox
   * backlog was read. Resolves with the ids whose cancellation was started.
   */
  async cancelExpiredRequests(): Promise<string[]> {
    return this.serial(async () => {
      const first = this.engine.expiredRequests(this.ctx().now)[0];
      if (first !== undefined) await this.commit(await this.engine.cancelRequest(first));
      return first === undefined ? [] : [first];
    });
  }

  /**
   * Tops the receipt tickets up to `target` (SPEC 6.16), persists them, and
   * publishes the signed batch as the `receipt-tickets` record on our relays
   * (SPEC 5.13; at least one must store it). Call it whenever the
   * wallet is online; payers need an unused ticket to pay us while we are
   * offline. Resolves with the batch bytes.
   */
  async publishTickets(target = 32): Promise<Uint8Array> {
    const batch = await this.serial(async () => {
      const b = await this.engine.issueTickets(target, this.ctx().now);
      await this.commit({ send: [], retract: [], events: [] });
      return b;
    });
    await this.client.publishRecord(TICKETS_RECORD, batch);
    return batch;
  }

  /** The payee's payments (incoming offers), as stored (oldest first), each with its amount, memo and status. */
  override payments(): PayeePayment[] {
    return super.payments() as unknown as PayeePayment[];
  }

  /** A stored payment with its history (see {@link RoleRuntime.getPayment}), as the payee's record. */
  override async getPayment(id: string): Promise<PaymentDetails<PayeePayment> | undefined> {
    return (await super.getPayment(id)) as PaymentDetails<PayeePayment> | undefined;
  }

  /** Receipt tickets issued and not yet used. */
  ticketsLeft(): number {
    return this.engine.tickets.length;
  }

  /** Opens (or restores) the payee and starts listening to its mailbox. */
  static async open(o: PayeeNodeOptions): Promise<PayeeNode> {
    checkPayeeOptions(o);
    const nonces = new KvNonceStore(o.kv);
    const saved = (await RoleRuntime.loadState(o.kv)) as PayeeJson | undefined;
    const config: PayeeConfig = { ...o.config, identityKey: o.identityKey };
    const engine = saved ? Payee.fromJSON(config, saved, nonces) : new Payee(config, o.channel, nonces);
    const node = new PayeeNode(engine, o);
    node.batchNonces(nonces);
    if (o.requestSweepMs !== undefined) node.#sweepMs = o.requestSweepMs;
    node.attachTower(o.config.channelKey);
    await node.start();
    return node;
  }
}

/** Options of {@link RouterNode.open}. */
export interface RouterNodeOptions extends RuntimeOptions {
  /** Router parameters; the identity key is the runtime's `identityKey`. */
  config: Omit<RouterConfig, 'identityKey'>;
  /** The channel with the hub (the router is party 1), used only on first start. */
  upstream: PeerChannel;
  /** The channels with payees (the router is party 0), used only on first start. */
  downstream: PeerChannel[];
}

/** The router (P) of the S→P→B privacy hop: forwards a payee's invoice to the hub and the PTLC back. */
export class RouterNode extends RoleRuntime<Router> {
  /** Opens (or restores) the router and starts listening to its mailbox. */
  static async open(o: RouterNodeOptions): Promise<RouterNode> {
    checkRuntimeOptions('RouterNode', o);
    const nonces = new KvNonceStore(o.kv);
    const config: RouterConfig = { ...o.config, identityKey: o.identityKey };
    const saved = (await RoleRuntime.loadState(o.kv)) as RouterJson | undefined;
    const engine = saved ? Router.fromJSON(config, saved, nonces) : new Router(config, o.upstream, o.downstream, nonces);
    const node = new RouterNode(engine, o);
    node.batchNonces(nonces);
    node.attachTower(o.config.channelKey);
    await node.start();
    return node;
  }
}
