/**
 * Channel opens (SPEC 6.17) in the role runtimes: {@link OpeningRuntime}
 * runs the open driver (funding through the role's FundingWallet,
 * confirmations through its ChainSource) next to the mailbox, and
 * {@link WalletRuntime} gives the payer and the payee `openChannel` and
 * `channelReady`. A role starts with its identity key and its store only,
 * opens its channel, and after a restart resumes the open where it stopped.
 * @module
 */
import { ErrorCode, fail } from '../../base/errors.js';
import type { Channel } from '../../engine/channel/channel.js';
import type { OpeningEngine } from '../../engine/payment/open/common.js';
import type { WalletSlot } from '../../engine/payment/open/wallet-slot.js';
import type { Incoming, Step, StepContext } from '../../engine/payment/types.js';
import { bytesToHex } from '../../base/bytes.js';
import type { FundingWallet } from '../chain/source.js';
import { TERMS_RECORD, verifyTerms } from '../../protocol/terms.js';
import { fetchRecord } from '../mailbox/records.js';
import { OpenDriver } from './open-driver.js';
import { openInfo, type OpenInfo } from './query.js';
import { RoleRuntime, type CloseOptions, type CloseResult, type RoleEngine, type RuntimeOptions } from './runtime.js';

/**
 * What a role that opens channels needs beyond its runtime options: its
 * on-chain wallet. Funding transactions are looked up and published through
 * the runtime's `chain` when it is a ChainSource (no open completes over a
 * bare height watcher).
 */
export interface OpeningOptions {
  /** The role's on-chain wallet: it funds channels (PSBT) and names where closed channels pay the role. */
  fundingWallet?: FundingWallet;
  /** How often the open driver looks at the chain, ms (default 2000). */
  openPollMs?: number;
}

/** A role runtime whose engine opens channels: runs the open driver while the role runs. */
export class OpeningRuntime<E extends RoleEngine & OpeningEngine> extends RoleRuntime<E> {
  #driver: OpenDriver | undefined;
  /** The role's on-chain wallet, if it has one. */
  protected readonly fundingWallet: FundingWallet | undefined;
  /** The `fetch` the mailbox client was given, for reading relay records. */
  protected readonly recordFetch: typeof fetch | undefined;

  constructor(engine: E, o: RuntimeOptions & OpeningOptions) {
    super(engine, o);
    this.fundingWallet = o.fundingWallet;
    this.recordFetch = (o.client as { fetch?: typeof fetch } | undefined)?.fetch;
    if (this.chainSource)
      this.#driver = new OpenDriver(
        {
          engine,
          serial: (fn) => this.serial(fn),
          commit: async (s: Step) => void (await this.commit(s)),
          ctx: (): StepContext => this.ctx(),
          report: (e) => this.emit('error', e),
        },
        {
          chain: this.chainSource,
          ...(o.fundingWallet ? { wallet: o.fundingWallet } : {}),
          ...(o.openPollMs ? { pollMs: o.openPollMs } : {}),
        },
      );
  }

  /** Starts the mailbox, then the open driver. */
  override async start(): Promise<void> {
    await super.start();
    this.#driver?.start();
  }

  /**
   * A message on a channel that is still opening here (its peer saw the
   * funding confirmed first, on its own chain source): look at the chain
   * before the engine decides, rather than refuse it as one on an unknown
   * channel.
   */
  protected override async beforeHandle(inc: Incoming): Promise<void> {
    if (this.#driver === undefined) return;
    // A message names its channel as `channelId`, an invoice the payee's channel as `payeeChannel`.
    const m = inc.message as { channelId?: unknown; payeeChannel?: unknown };
    for (const id of [m.channelId, m.payeeChannel]) if (id instanceof Uint8Array) await this.#driver.confirmNow(bytesToHex(id));
  }

  /** Runs one pass of the open driver now (a wallet that just woke up, or a test that just mined a block). */
  async syncOpens(): Promise<void> {
    await this.#driver?.tick();
  }

  /** Stops the open driver, then the mailbox. */
  override async close(opts: CloseOptions = {}): Promise<CloseResult> {
    await this.#driver?.stop();
    return super.close(opts);
  }
}

/** Options of {@link WalletRuntime.openChannel}. */
export interface OpenChannelOptions {
  /** Funding amount, sats (the channel's capacity before its update and settlement fees). */
  amount: number;
  /**
   * Settlement CSV delay in blocks. Default: for a channel the hub funds (a
   * payee's), the smallest the hub's terms allow; for one the wallet funds (a
   * payer's), twice the terms' `maxTimeoutDelta` within their bounds, so that
   * the hub accepts the PTLC timeouts its payments need.
   */
  csvDelay?: number;
  /** Where this role's coins go on close; default the FundingWallet's payout script. */
  payout?: Uint8Array;
  /** Largest share of `amount` the hub's channel fees may take (`updateFee + settlementFee + ptlcFee`); default 0.02. Terms above it are refused (OPEN_REFUSED). */
  maxFeeShare?: number;
}

/** The engine of a one-channel role (payer, payee). */
type WalletEngine = RoleEngine &
  OpeningEngine & {
    slot: WalletSlot;
    openChannel(
      order: { amount: number; csvDelay?: number; payout: Uint8Array; replyTo: string; maxFeeShare?: number },
      ctx: StepContext,
    ): Promise<{ openId: string; step: Step }>;
    cancelOpen(reason: string): Promise<Step>;
  };

/** The payer's and the payee's runtime: one channel with the hub, opened through the mailbox. */
export class WalletRuntime<E extends WalletEngine> extends OpeningRuntime<E> {
  /**
   * Opens the role's channel with its hub (SPEC 6.17): reads the hub's
   * terms (its relay record `hub-terms`, else asks the hub), then OPEN, state 0, funding (the payer funds through its
   * FundingWallet; the hub funds a payee's channel) and confirmations.
   * Resolves with the open id once the first message is persisted and
   * queued; {@link channelReady} resolves when the channel is usable.
   */
  async openChannel(opts: OpenChannelOptions): Promise<string> {
    const payout = opts.payout ?? (await this.fundingWallet?.payoutScript());
    if (!payout) fail(ErrorCode.OPEN_REFUSED, 'no payout script: pass one, or give the role a FundingWallet');
    const terms = await this.fetchTerms();
    return this.serial(async () => {
      const { openId, step } = await this.engine.openChannel(
        {
          amount: opts.amount,
          payout,
          replyTo: this.client.address(),
          ...(opts.csvDelay !== undefined ? { csvDelay: opts.csvDelay } : {}),
          ...(opts.maxFeeShare !== undefined ? { maxFeeShare: opts.maxFeeShare } : {}),
          ...(terms ? { terms } : {}),
        },
        this.ctx(),
      );
      await this.commit(step);
      return openId;
    });
  }

  /**
   * The hub's terms from its relay record `hub-terms`, if they are there and
   * check (signed by the hub's identity key, not expired); else undefined,
   * and the open asks the hub (TERMS_REQUEST).
   */
  protected async fetchTerms(): Promise<Uint8Array | undefined> {
    const hub = this.engine.slot.hub;
    try {
      const doc = await fetchRecord(hub.address, TERMS_RECORD, this.recordFetch ? { fetch: this.recordFetch } : {});
      if (!doc) return undefined;
      verifyTerms(doc, hub.key, this.ctx().now);
      return doc;
    } catch (e) {
      this.emit('error', e as Error);
      return undefined;
    }
  }

  /** Gives up the open in progress (not once funded); the hub is told. */
  async cancelOpen(reason = 'cancelled by the wallet'): Promise<void> {
    await this.serial(async () => this.commit(await this.engine.cancelOpen(reason)));
  }

  /**
   * The channel open in progress, if any (a copy): what a wallet shows while
   * it waits, and what tells a restarted wallet not to open again.
   */
  openInProgress(): OpenInfo | undefined {
    const o = this.engine.slot.state.open;
    return o ? openInfo(o) : undefined;
  }

  /** The role's channel once it has one (undefined while opening or before). */
  get channel(): Channel | undefined {
    return this.engine.slot.current;
  }

  /** Resolves with the channel once it is usable (at once if it is); rejects if the open is aborted. */
  channelReady(): Promise<Channel> {
    const now = this.engine.slot.current;
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const off = this.on('payment', (e) => {
        if (e.kind === 'channel_ready') {
          off();
          resolve(this.engine.slot.channel);
        } else if (e.kind === 'open_aborted') {
          off();
          reject(new Error(`channel open aborted: ${e.reason}`));
        }
      });
    });
  }
}
