/**
 * The chain side of channel opens (SPEC 6.17) for a role runtime: it builds
 * the funding transactions the engine asks for as PSBTs (BIP174) that the
 * role's {@link FundingWallet} funds and signs, stores them through the
 * engine before it publishes them, and watches funding outpoints through the
 * role's own {@link ChainSource} until they have the confirmations the
 * hub's terms ask for. Every pass is restart-safe: a funding transaction is
 * stored before it is broadcast and broadcast again while the chain does not
 * know it; a role killed before storing it builds a new one (its coins were
 * never spent).
 * @module
 */
import { ErrorCode, fail } from '../../base/errors.js';
import { checkFundingTx } from '../../engine/bitcoin/funding.js';
import { encodePsbt, extractPsbtTx } from '../../engine/bitcoin/psbt.js';
import { parseTx, type BitcoinTx } from '../../engine/bitcoin/transaction.js';
import type { FundingOrder, OpeningEngine } from '../../engine/payment/open/common.js';
import type { Step, StepContext } from '../../engine/payment/types.js';
import type { ChainSource, FundingWallet } from '../chain/source.js';

/** An unsigned PSBT with one output, the channel's funding output: the wallet adds inputs and change. */
export function fundingPsbt(order: Pick<FundingOrder, 'script' | 'amount'>): Uint8Array {
  return encodePsbt({ version: 2, lockTime: 0, inputs: [], outputs: [{ amount: BigInt(order.amount), script: order.script }] });
}

/**
 * The transaction of a PSBT the wallet funded and signed, and the index of
 * its funding output: exactly one output carries the funding script, paying
 * exactly `order.amount`, every input signed (FUNDING_INVALID otherwise).
 */
export function fundedTx(psbt: Uint8Array, order: Pick<FundingOrder, 'script' | 'amount'>): { tx: BitcoinTx; vout: number } {
  let tx: BitcoinTx;
  try {
    tx = extractPsbtTx(psbt);
  } catch (e) {
    return fail(ErrorCode.FUNDING_INVALID, `the wallet's PSBT is not a complete transaction: ${(e as Error).message}`);
  }
  return { tx, vout: checkFundingTx(tx, order.script, order.amount).outpoint.vout };
}

/** What the driver needs of the role runtime. */
export interface OpenDriverHost {
  readonly engine: OpeningEngine & { fingerprint(): string };
  serial<T>(fn: () => Promise<T>): Promise<T>;
  commit(step: Step): Promise<void>;
  ctx(): StepContext;
  /** Reports an error the driver carries on after. */
  report(e: Error): void;
}

/** Options of an {@link OpenDriver}. */
export interface OpenDriverOptions {
  chain: ChainSource;
  /** The role's wallet; needed by a role that funds (the payer; a hub that funds payees' channels). */
  wallet?: FundingWallet;
  /** Confirmation target of funding transactions, blocks (fee estimate). Default 6. */
  targetBlocks?: number;
  /** How often the driver looks at the chain, ms. Default 2000. */
  pollMs?: number;
}

/** Runs the chain side of a role's opens: {@link OpenDriver.tick} once, or {@link OpenDriver.start} every `pollMs`. */
export class OpenDriver {
  #timer: ReturnType<typeof setInterval> | undefined;
  #running: Promise<void> | undefined;

  constructor(
    private readonly host: OpenDriverHost,
    private readonly o: OpenDriverOptions,
  ) {}

  /** Starts polling. */
  start(): void {
    this.#timer ??= setInterval(() => void this.tick(), this.o.pollMs ?? 2000);
  }

  /** Stops polling and waits for a pass in progress. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** One pass (one at a time): expire stale opens, build what must be funded, look up funding outpoints. Errors are emitted, not thrown. */
  tick(): Promise<void> {
    this.#running ??= this.#pass()
      .catch((e) => void this.host.report(e as Error))
      .finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** Runs one engine step in the runtime's order (see {@link OpenDriver.apply}). */
  private step(fn: (ctx: StepContext) => Promise<Step>, height?: number): Promise<void> {
    return this.host.serial(() => this.apply(fn, height));
  }

  /** Runs one engine step, the caller holding the runtime's order; persists it only when it changed something (most passes change nothing). */
  private async apply(fn: (ctx: StepContext) => Promise<Step>, height?: number): Promise<void> {
    const ctx = this.host.ctx();
    const before = this.host.engine.fingerprint();
    const s = await fn(height === undefined ? ctx : { ...ctx, height });
    if (s.send.length || s.events.length || s.retract.length || this.host.engine.fingerprint() !== before) await this.host.commit(s);
  }

  /**
   * Looks at the chain now for the funding of `channelId` (hex), if it is an
   * open waiting for its confirmations. The peer counts confirmations on
   * its own chain source and may use the channel as soon as it sees them,
   * before this role's next poll: a message on a channel that is still
   * opening here gets this check first, so it is not refused as one on an
   * unknown channel. The caller holds the runtime's order (it is handling a
   * message). A chain that cannot be reached is reported, not thrown.
   */
  async confirmNow(channelId: string): Promise<void> {
    const c = this.host.engine.fundingChecks().find((x) => x.channelId === channelId);
    if (c === undefined) return;
    try {
      const { chain } = this.o;
      const tip = await chain.tipHeight();
      const found = await chain.getTx(c.txid);
      if (found) await this.apply((ctx) => this.host.engine.noteFundingTx(c.channelId, { tx: found.tx, height: found.height }, ctx), tip);
    } catch (e) {
      this.host.report(e as Error);
    }
  }

  async #pass(): Promise<void> {
    const { chain, wallet } = this.o;
    const e = this.host.engine;
    await this.step((ctx) => e.expireOpens(ctx));
    for (const order of e.fundingOrders(this.host.ctx().now)) {
      if (!wallet) {
        this.host.report(new Error(`channel ${order.channelId} waits for funding, and this role has no FundingWallet`));
        continue;
      }
      const feeRate = await chain.feeRate(this.o.targetBlocks ?? 6);
      const psbt = await wallet.fundPsbt(fundingPsbt(order), { feeRate, change: true });
      const { tx, vout } = fundedTx(psbt, order);
      // Stored (and FUNDING queued) before it is published: a restart publishes it again.
      await this.step(() => e.noteFunded(order.channelId, tx, vout));
      await chain.broadcast(tx).catch((err) => void this.host.report(err as Error));
    }
    const checks = e.fundingChecks();
    if (checks.length === 0) return;
    const tip = await chain.tipHeight();
    for (const c of checks) {
      const found = await chain.getTx(c.txid);
      if (!found && c.tx) await chain.broadcast(parseTx(c.tx)).catch((err) => void this.host.report(err as Error));
      await this.step((ctx) => e.noteFundingTx(c.channelId, found ? { tx: found.tx, height: found.height } : null, ctx), tip);
    }
  }
}
