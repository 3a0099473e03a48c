/**
 * The three roles a wallet embeds, each a {@link RoleRuntime} around a pure
 * engine: {@link PayerNode} (A), {@link HubNode} (S), {@link PayeeNode} (B) and,
 * for the S→P→B privacy hop, {@link RouterNode} (P).
 * Each restores its engine from the store when there is saved state, so a
 * role killed at any step resumes where it stopped.
 * @module
 */
import { decodeMailboxAddress } from '../../protocol/address.js';
import { ErrorCode, LnMailboxError } from '../../base/errors.js';
import { Channel, type ChannelJson } from '../../engine/channel/channel.js';
import { hubFee, type FeePolicy } from '../../engine/payment/fee.js';
import { Hub, type HubConfig, type HubJson } from '../../engine/payment/hub/hub.js';
import type { PeerChannel } from '../../engine/payment/peers.js';
import { Payee, type PayeeConfig, type PayeeJson } from '../../engine/payment/payee/payee.js';
import { Payer, type PayerConfig, type PayerJson } from '../../engine/payment/payer/payer.js';
import { Router, type RouterConfig, type RouterJson } from '../../engine/payment/router.js';
import { KvNonceStore } from './nonce-store.js';
import { pickTicket, relayTicketSource, type TicketSource } from './tickets.js';
import { TICKETS_RECORD } from '../../protocol/receipt.js';
import type { PayerPayment } from '../../engine/payment/payer/payer.js';
import { RoleRuntime, type RuntimeOptions } from './runtime.js';

/** Options of {@link PayerNode.open}. */
export interface PayerNodeOptions extends RuntimeOptions {
  /** Hub and channel key; the identity key is the runtime's `identityKey`. */
  config: Omit<PayerConfig, 'identityKey'>;
  /** The channel with the hub, used only on first start (later it is restored from the store). */
  channel: Channel;
  /** The hub's published fee policy: `base + amount·ppm/1e6` sats (default: no fee). */
  hubFee?: FeePolicy;
  /** Where payees' receipt tickets are read (default: the `receipt-tickets` record on the payee's relays). */
  tickets?: TicketSource;
}

/** The payer (A): pays a payee who is offline, through its hub. */
export class PayerNode extends RoleRuntime<Payer> {
  #fee: FeePolicy = { base: 0, ppm: 0 };
  #tickets: TicketSource = relayTicketSource();

  /** Opens (or restores) the payer and starts listening to its mailbox. */
  static async open(o: PayerNodeOptions): Promise<PayerNode> {
    const nonces = new KvNonceStore(o.kv);
    const saved = (await RoleRuntime.loadState(o.kv)) as PayerJson | undefined;
    const config: PayerConfig = { ...o.config, identityKey: o.identityKey };
    const engine = saved
      ? new Payer(config, Channel.fromJSON(saved.channel), nonces, saved.payments, saved.requests ?? {})
      : new Payer(config, o.channel, nonces);
    const node = new PayerNode(engine, o);
    if (o.hubFee) node.#fee = o.hubFee;
    node.#tickets = o.tickets ?? relayTicketSource(o.client?.fetch);
    await node.start();
    return node;
  }

  /**
   * Pays `amount` sats to the payee at mailbox address `address`, who may be
   * offline. Resolves with the offer id once the proposal is persisted and
   * queued; follow progress with `on('payment', …)` (`offered`, then
   * `completed` with the receipt when the hub has bought the signature).
   * The payee's receipt ticket (SPEC 6.16) is `opts.ticket`, or one picked
   * from its published batch (`opts.tickets`, else read from its relays).
   */
  async payOffline(
    address: string,
    amount: number,
    opts: { expiresInMs?: number; memo?: string; fee?: number; ticket?: Uint8Array; tickets?: Uint8Array } = {},
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
    return this.serial(async () => {
      const ctx = this.ctx();
      const { offerId, step } = await this.engine.pay(
        {
          payee: { publicKey: dest.publicKey, address },
          amount,
          fee: opts.fee ?? hubFee(amount, this.#fee),
          expiry: ctx.now + (opts.expiresInMs ?? 24 * 3_600_000),
          ticket: chosen,
          ...(opts.memo ? { memo: opts.memo } : {}),
        },
        ctx,
      );
      await this.commit(step);
      return offerId;
    });
  }

  /**
   * The payer's payments, as stored (oldest first), each completed one with
   * its receipt (`receipt.receipt`, hex: check it with `verifyReceipt` and
   * the payee's address, which the record also holds).
   */
  payments(): PayerPayment[] {
    return [...this.engine.payments.values()].map((p) => structuredClone(p));
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
    await this.serial(async () => {
      const r = this.engine.requests.get(requestId);
      const fee = opts.fee ?? (r ? hubFee(r.amount, this.#fee) : 0);
      await this.commit(await this.engine.payRequest(requestId, fee, this.ctx()));
    });
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

/** Options of {@link HubNode.open}. */
export interface HubNodeOptions extends RuntimeOptions {
  /** The hub's parameters; the identity key is the runtime's `identityKey`. */
  config: Omit<HubConfig, 'identityKey'>;
  /** The hub's channels, used only on first start. */
  peers: PeerChannel[];
}

/** The hub (S): always online; co-signs payer states and buys their signatures from payees. */
export class HubNode extends RoleRuntime<Hub> {
  /** Opens (or restores) the hub and starts listening to its mailbox. */
  static async open(o: HubNodeOptions): Promise<HubNode> {
    const nonces = new KvNonceStore(o.kv);
    const saved = (await RoleRuntime.loadState(o.kv)) as HubJson | undefined;
    const config: HubConfig = { ...o.config, identityKey: o.identityKey };
    const engine = saved ? Hub.fromJSON(config, saved, nonces) : new Hub(config, o.peers, nonces);
    const node = new HubNode(engine, o);
    await node.start();
    return node;
  }
}

/** Options of {@link PayeeNode.open}. */
export interface PayeeNodeOptions extends RuntimeOptions {
  /** Hub, channel and invoice parameters; the identity key is the runtime's `identityKey`. */
  config: Omit<PayeeConfig, 'identityKey'>;
  /** The channel with the hub, used only on first start. */
  channel: Channel;
}

/** The payee (B): comes online, is pushed offers, and sells the payer's signature to the hub. */
export class PayeeNode extends RoleRuntime<Payee> {
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
      const { requestId, step } = await this.engine.request(
        {
          payer: { publicKey: payer.publicKey, address: payerAddress },
          amount,
          expiry: ctx.now + (opts.expiresInMs ?? 24 * 3_600_000),
          ...(opts.memo ? { memo: opts.memo } : {}),
        },
        ctx,
      );
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

  /** Receipt tickets issued and not yet used. */
  ticketsLeft(): number {
    return this.engine.tickets.length;
  }

  /** Opens (or restores) the payee and starts listening to its mailbox. */
  static async open(o: PayeeNodeOptions): Promise<PayeeNode> {
    const nonces = new KvNonceStore(o.kv);
    const saved = (await RoleRuntime.loadState(o.kv)) as PayeeJson | undefined;
    const config: PayeeConfig = { ...o.config, identityKey: o.identityKey };
    const engine = saved
      ? new Payee(config, Channel.fromJSON(saved.channel as ChannelJson), nonces, saved.payments, saved.requests ?? {}, saved.tickets ?? [])
      : new Payee(config, o.channel, nonces);
    const node = new PayeeNode(engine, o);
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
    const nonces = new KvNonceStore(o.kv);
    const config: RouterConfig = { ...o.config, identityKey: o.identityKey };
    const saved = (await RoleRuntime.loadState(o.kv)) as RouterJson | undefined;
    const engine = saved ? Router.fromJSON(config, saved, nonces) : new Router(config, o.upstream, o.downstream, nonces);
    const node = new RouterNode(engine, o);
    await node.start();
    return node;
  }
}
