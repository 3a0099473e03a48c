/**
 * The channel of a one-channel role (the payer, the payee) and how it gets
 * one: a role starts with no channel, opens one with its hub (SPEC 6.17,
 * wallet-open.ts), and from then on runs its payments over it. The slot
 * holds the channel, the open in progress and the hub's last terms, and
 * routes the open messages; the role engine persists it with the rest.
 * @module
 */
import { ErrorCode } from '../../../base/errors.js';
import { PaymentType, type PaymentMessage } from '../../../protocol/payment.js';
import { verifyTerms, type HubTerms } from '../../../protocol/terms.js';
import { bytesToHex } from '../../../base/bytes.js';
import type { BitcoinTx } from '../../bitcoin/transaction.js';
import { Channel, type StoredChannel } from '../../channel/channel.js';
import { inline, type ChannelOut } from '../engine.js';
import type { Party } from '../../channel/state.js';
import type { Signer } from '../ptlc-exchange.js';
import { reject } from '../refusal.js';
import type { Step, StepContext } from '../types.js';
import type { FundingCheck, FundingOrder } from './common.js';
import {
  knownTerms,
  walletCancelOpen,
  walletExpireOpen,
  walletFundingChecks,
  walletFundingOrders,
  walletNoteFunded,
  walletNoteFundingTx,
  walletOnAccept,
  walletOnFunding,
  walletOnReject,
  walletOnSigned,
  walletOnTerms,
  walletOpen,
  type OpenOrder,
  type WalletOpen,
  type WalletOpenContext,
} from './wallet-open.js';

/** Persisted form of a {@link WalletSlot} (fields of the role's state). */
export interface WalletSlotJson {
  /** The role's channel, once it has one. */
  channel?: StoredChannel;
  /** The open in progress. */
  open?: WalletOpen;
  /** The hub's last signed terms (hex). */
  terms?: string;
}

/** A one-channel role's channel, its open in progress and its hub's terms. */
export class WalletSlot {
  #channel: Channel | undefined;
  readonly state: { open?: WalletOpen; terms?: string } = {};

  /** `hub`: the hub's identity key and address; `party`: the role's party in its channel (the payer 0, the payee 1). */
  constructor(
    readonly hub: { key: Uint8Array; address: string },
    private readonly signer: Signer,
    readonly party: Party,
    channel: Channel | undefined,
    saved: WalletSlotJson = {},
  ) {
    if (channel && channel.me !== party) reject(`this role is party ${party} of its channel`, ErrorCode.INVALID_RANGE);
    this.#channel = channel;
    if (saved.open) this.state.open = structuredClone(saved.open);
    if (saved.terms) this.state.terms = saved.terms;
  }

  /** The channel, or undefined while the role has none. */
  get current(): Channel | undefined {
    return this.#channel;
  }

  /** The channel; refused (PAYMENT_REJECTED) while the role has none. */
  get channel(): Channel {
    return this.#channel ?? reject('no channel yet: open one with the hub first');
  }

  /** The hub's terms the role holds, if still valid at `now`. */
  terms(now: number): HubTerms | undefined {
    return knownTerms(this.context(), now);
  }

  /**
   * Keeps the hub's signed terms `doc`, read outside an open (the hub's
   * relay record), when they check (signed by the hub, unexpired at `now`)
   * and the slot holds no valid terms or older ones. Refused
   * (PAYMENT_BAD_MESSAGE, INVALID_SIGNATURE) when they do not check.
   * @returns whether the slot took them.
   */
  noteTerms(doc: Uint8Array, now: number): boolean {
    const t = verifyTerms(doc, this.hub.key, now);
    const held = this.terms(now);
    if (held && held.issued >= t.issued) return false;
    this.state.terms = bytesToHex(doc);
    return true;
  }

  private context(): WalletOpenContext {
    return {
      hubKey: this.hub.key,
      hubAddress: this.hub.address,
      signer: this.signer,
      state: this.state,
      hasChannel: this.#channel !== undefined,
      install: (ch) => {
        if (ch.me !== this.party) reject(`this role is party ${this.party} of its channel`, ErrorCode.OPEN_REFUSED);
        this.#channel = ch;
      },
    };
  }

  /** Starts an open (see {@link walletOpen}); the order's side is fixed by the role. */
  open(order: Omit<OpenOrder, 'hubFunds'>, ctx: StepContext): { openId: string; step: Step } {
    return walletOpen(this.context(), { ...order, hubFunds: this.party === 1 }, ctx);
  }

  /** Gives up the open in progress (not once funded). */
  cancelOpen(reason: string): Step {
    return walletCancelOpen(this.context(), reason);
  }

  /** Handles an open message from the hub, or returns undefined when `m` is not one (a REJECT not about the open included). */
  async dispatch(m: PaymentMessage, ctx: StepContext): Promise<Step | undefined> {
    const c = this.context();
    switch (m.type) {
      case PaymentType.TERMS:
        return walletOnTerms(c, m, ctx);
      case PaymentType.OPEN_ACCEPT:
        return await walletOnAccept(c, m);
      case PaymentType.OPEN_SIGNED:
        return walletOnSigned(c, m);
      case PaymentType.FUNDING:
        return walletOnFunding(c, m);
      case PaymentType.REJECT:
        return walletOnReject(c, m);
      default:
        return undefined;
    }
  }

  /** Funding transactions the role must build. */
  fundingOrders(now: number): FundingOrder[] {
    return walletFundingOrders(this.context(), now);
  }

  /** Funding outpoints to watch. */
  fundingChecks(): FundingCheck[] {
    return walletFundingChecks(this.context());
  }

  /** See {@link walletNoteFunded}. */
  noteFunded(channelId: string, tx: BitcoinTx, vout: number): Step {
    return walletNoteFunded(this.context(), channelId, tx, vout);
  }

  /** See {@link walletNoteFundingTx}. */
  noteFundingTx(channelId: string, found: { tx: BitcoinTx; height: number | null } | null, ctx: StepContext): Step {
    return walletNoteFundingTx(this.context(), channelId, found, ctx);
  }

  /** See {@link walletExpireOpen}. */
  expire(now: number): Step {
    return walletExpireOpen(this.context(), now);
  }

  /** Puts the slot back in the state of `j`. */
  restore(j: WalletSlotJson, resolve?: (id: string) => Channel | undefined): void {
    if (!j.channel) this.#channel = undefined;
    else this.#channel = Channel.fromStored(j.channel, this.#channel, resolve);
    if (j.open) this.state.open = structuredClone(j.open);
    else delete this.state.open;
    if (j.terms) this.state.terms = j.terms;
    else delete this.state.terms;
  }

  /** Persisted form. */
  toJSON(out: ChannelOut = inline): WalletSlotJson {
    return {
      ...(this.#channel ? { channel: out(this.#channel) } : {}),
      ...(this.state.open ? { open: structuredClone(this.state.open) } : {}),
      ...(this.state.terms ? { terms: this.state.terms } : {}),
    };
  }
}
