/**
 * The open side of the wallet roles (Payer, Payee): each holds one channel
 * with its hub in a {@link WalletSlot}, opened over the mailbox (SPEC 6.17).
 * The steps of the open are the slot's; this base class makes each an
 * all-or-nothing engine call, once, for both roles.
 * @module
 */
import type { BitcoinTx } from '../../bitcoin/transaction.js';
import type { Channel } from '../../channel/channel.js';
import { PaymentEngine } from '../engine.js';
import { step, type Step, type StepContext } from '../types.js';
import type { FundingCheck, FundingOrder, OpeningEngine } from './common.js';
import type { OpenOrder } from './wallet-open.js';
import type { WalletSlot } from './wallet-slot.js';

/** A wallet role engine: a {@link PaymentEngine} with one channel with its hub, opened through its slot. */
export abstract class WalletEngine<J> extends PaymentEngine<J> implements OpeningEngine {
  /** The channel with the hub, the open in progress and the hub's terms. */
  abstract readonly slot: WalletSlot;

  /** The channel with the hub (throws PAYMENT_REJECTED while there is none). */
  get channel(): Channel {
    return this.slot.channel;
  }

  /**
   * Opens a channel with the hub (SPEC 6.17): OPEN (or TERMS_REQUEST first).
   * The payer funds it (through the runtime's FundingWallet once state 0 is
   * signed); the payee asks the hub to. All or nothing.
   */
  openChannel(order: Omit<OpenOrder, 'hubFunds'>, ctx: StepContext): Promise<{ openId: string; step: Step }> {
    return this.atomic(async () => this.slot.open(order, ctx));
  }

  /** Gives up the open in progress (not once funded). All or nothing. */
  cancelOpen(reason: string): Promise<Step> {
    return this.atomic(async () => this.slot.cancelOpen(reason));
  }

  /**
   * Keeps the hub's signed terms `doc`, read from the hub's relay record
   * outside an open, when they check and are newer than the valid terms the
   * slot holds (see {@link WalletSlot.noteTerms}): a payer's hub fee follows
   * them. The step sends nothing (a `terms_received` event when they were
   * taken); persisting it stores them. All or nothing.
   */
  noteTerms(doc: Uint8Array, ctx: StepContext): Promise<Step> {
    return this.atomic(async () => {
      const s = step();
      if (this.slot.noteTerms(doc, ctx.now)) s.events.push({ kind: 'terms_received', serial: this.slot.terms(ctx.now)!.serial });
      return s;
    });
  }

  /** Funding transactions this role must build (none for a payee: the hub funds). */
  fundingOrders(now: number): FundingOrder[] {
    return this.slot.fundingOrders(now);
  }

  /** Funding outpoints to watch. */
  fundingChecks(): FundingCheck[] {
    return this.slot.fundingChecks();
  }

  /** Our funding transaction is built and signed (refused for an open we do not fund). All or nothing. */
  noteFunded(channelId: string, tx: BitcoinTx, vout: number): Promise<Step> {
    return this.atomic(async () => this.slot.noteFunded(channelId, tx, vout));
  }

  /** What the chain source says of the funding transaction. All or nothing. */
  noteFundingTx(channelId: string, found: { tx: BitcoinTx; height: number | null } | null, ctx: StepContext): Promise<Step> {
    return this.atomic(async () => this.slot.noteFundingTx(channelId, found, ctx));
  }

  /** Ends an open past its deadlines. All or nothing. */
  expireOpens(ctx: StepContext): Promise<Step> {
    return this.atomic(async () => this.slot.expire(ctx.now));
  }
}
