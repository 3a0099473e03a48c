/**
 * The watchtower of a role runtime (SPEC 6.18): polls the chain source for
 * every channel of the role, decides with the pure planner
 * (engine/channel/enforce.ts) and broadcasts what it returns, adding a fee
 * input from the role's own wallet when a transaction pays too little.
 *
 * Persisted in the role's store under `tower/`, so a restart finishes what
 * was started:
 * - `tower/ptlc/<channel>/<ptlc>`: what the role knows of a PTLC (the claim
 *   pre-signature, the secret), written in the same atomic batch as the
 *   engine step that sent or received it ({@link towerWrites});
 * - `tower/tx/<channel>/<label>`: the exact transaction broadcast for a step
 *   (a fee-bumped one included), re-broadcast as it is, so a restart sends
 *   the same txid and never spends a second wallet coin for the same step;
 * - `tower/force/<channel>`: a unilateral close was asked for;
 * - `tower/learned/<channel>/<ptlc>`: a secret read from the peer's claim.
 * @module
 */
import { bytesToHex, hexToBytes, utf8 } from '../../base/bytes.js';
import { ErrorCode, LnMailboxError } from '../../base/errors.js';
import type { Channel } from '../../engine/channel/channel.js';
import {
  outpointKey,
  goOnChainReason,
  planEnforcement,
  type BroadcastAction,
  type ChainView,
  type EnforcePlan,
  type PtlcKnowledge,
  type Sighting,
} from '../../engine/channel/enforce.js';
import { planForeignWatch, type ForeignWatch } from '../../engine/channel/foreign-watch.js';
import { parseTx, serializeTx, type Outpoint, type Prevout } from '../../engine/bitcoin/transaction.js';
import type { Incoming, Step } from '../../engine/payment/types.js';
import { PaymentType, type PaymentMessage } from '../../protocol/payment.js';
import { addWalletFee, feeRateOf, type TxWithPrevouts } from '../chain/fee-bump.js';
import { isFeeRejection, type ChainSource, type FundingWallet } from '../chain/source.js';
import { TypedEmitter } from '../mailbox/events.js';
import type { Kv, KvOp } from '../mailbox/kv.js';

const PREFIX = 'tower/';
/** How many times one pass doubles the fee rate of a refused transaction before it waits for the next pass. */
const MAX_BUMPS = 5;
/** Default {@link WatchtowerOptions.maxFeeRate}, sat/vB. */
export const DEFAULT_MAX_FEE_RATE = 500;
/** Default {@link WatchtowerOptions.maxFeeShare}. */
export const DEFAULT_MAX_FEE_SHARE = 0.25;
const dec = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)) as unknown;
const enc = (v: unknown) => utf8(JSON.stringify(v));

/** Options of a {@link Watchtower}. */
export interface WatchtowerOptions {
  /** Where the tower reads the chain and broadcasts. */
  readonly chain: ChainSource;
  /**
   * The role's wallet: pays the fee of enforcement transactions that pay too
   * little. Without one they go out as they are, and a rebinding update (it
   * pays no fee) cannot go out at all: the role cannot enforce its latest
   * state against an old one. {@link Watchtower.start} then reports an
   * `error` (FUNDING_INVALID) at once, and every pass that needs a bump does.
   */
  readonly wallet?: FundingWallet;
  /** Poll interval, ms. Default 30 000. */
  readonly pollMs?: number;
  /** Confirmation target (blocks) for the fee rate of steps without a deadline. Default 6; claims use 1. */
  readonly feeTargetBlocks?: number;
  /**
   * Slack, in blocks, of the go-on-chain deadlines (SPEC 6.18): a PTLC we
   * receive and hold the secret of goes on chain `csvDelay + margin` blocks
   * before its timeout; one we offered, `margin` blocks after. Default 6.
   */
  readonly goOnChainMargin?: number;
  /**
   * Ceiling on the fee rate (sat/vB) the tower ever asks its wallet for,
   * whatever the chain source's estimate says and however many refusals it
   * met. Default {@link DEFAULT_MAX_FEE_RATE}.
   */
  readonly maxFeeRate?: number;
  /**
   * Ceiling on the absolute fee of one enforcement transaction, as a share
   * of the value it protects (the sum of its channel inputs: the channel, a
   * PTLC output). The wallet's answer is refused when its fee is above it
   * (a no-change bump with a big coin included). Default
   * {@link DEFAULT_MAX_FEE_SHARE}.
   */
  readonly maxFeeShare?: number;
}

/** What the tower tells its runtime. */
export type WatchtowerEvents = {
  /** A transaction went out (or went out again) for a channel. */
  broadcast: [{ channelId: string; label: string; kind: BroadcastAction['kind']; txid: string; bumped: boolean }];
  /** A PTLC secret read from the peer's claim on chain (the engine decides what it buys with it). */
  secret: [{ channelId: string; ptlcId: string; secret: Uint8Array }];
  /** A channel's on-chain phase changed. */
  phase: [{ channelId: string; phase: EnforcePlan['phase'] }];
  /** The tower closes a channel unilaterally on its own, because a PTLC would otherwise be lost off chain (why). */
  closing: [{ channelId: string; reason: string }];
  /** Something failed; the tower carries on and retries at the next tick. */
  error: [Error];
};

/** How the tower sees its role: channels, its channel key, and what to do when an update confirms. */
export interface TowerHost {
  /** A consistent snapshot of the role's channels (taken between engine steps). */
  channels(): Promise<Channel[]>;
  /** The role's channel secret key. */
  readonly channelKey: Uint8Array;
  /** Records that an update of `channelId` confirmed at `height` (the engine's `noteUpdateOnChain`). */
  noteUpdateOnChain(channelId: string, height: number): Promise<void>;
  /**
   * Hands the engine a PTLC secret read from a claim on chain (the hub
   * completes the payer's update with it). Called before the secret is
   * recorded as learned, so a crash in between hands it over again.
   */
  noteSecretOnChain?(channelId: string, ptlcId: string, secret: Uint8Array): Promise<void>;
  /**
   * Hands the engine the two signatures of update `n` of `channelId` seen on
   * chain (a payer whose completion never came reads its receipt there).
   * Called before the update is recorded as read, so a crash in between
   * hands it over again.
   */
  noteUpdateSigsOnChain?(channelId: string, n: number, sigs: readonly [Uint8Array, Uint8Array]): Promise<void>;
  /** Channels watched for someone else (the payer for the payees of the requests it paid, SPEC 6.18). */
  foreign?(): Promise<ForeignWatch[]>;
}

interface StoredTx {
  raw: string;
  prevouts: { amount: string; script: string }[];
  bumped: boolean;
}

/**
 * The store writes that record what a step taught the tower about PTLCs:
 * the offerer's claim pre-signature (a `PTLC_ADD` sent or received) and the
 * secret (a `PTLC_FULFILL` sent or received, or a secret the step learned
 * without sending it yet, {@link Step.secrets}). The runtime adds them to the
 * step's own atomic batch.
 */
export function towerWrites(step: Step, inc?: Incoming): KvOp[] {
  const ops: KvOp[] = [];
  const msgs: PaymentMessage[] = [...step.send.map((s) => s.message), ...(inc ? [inc.message] : [])];
  for (const m of msgs) {
    if (m.type === PaymentType.PTLC_ADD) ops.push(knowledgeOp(m.channelId, m.offerId, { presig: bytesToHex(m.claimPresig) }));
    else if (m.type === PaymentType.PTLC_FULFILL) ops.push(knowledgeOp(m.channelId, m.offerId, { secret: bytesToHex(m.secret) }));
  }
  for (const k of step.secrets ?? []) ops.push(knowledgeOp(k.channelId, k.ptlcId, { secret: bytesToHex(k.secret) }));
  return ops;
}

/** Where the runtime keeps a `TOWER_TERMS` received (by request id, with its sender), until the request is paid. */
export function towerTermsOp(inc: Incoming): KvOp[] {
  const m = inc.message;
  if (m.type !== PaymentType.TOWER_TERMS) return [];
  const v: StoredTowerTerms = {
    from: bytesToHex(inc.from),
    channelId: bytesToHex(m.channelId),
    fundingTxid: bytesToHex(m.fundingTxid),
    fundingVout: m.fundingVout,
    fundingAmount: m.fundingAmount,
    updateFee: m.updateFee,
    csvDelay: m.csvDelay,
  };
  // Keyed by sender too: only the payee's own terms count, and nobody else can overwrite them.
  return [{ type: 'put', key: `${PREFIX}terms/${bytesToHex(m.requestId)}/${v.from}`, value: enc(v) }];
}

/** A stored `TOWER_TERMS` (see {@link towerTermsOp}). */
export interface StoredTowerTerms {
  from: string;
  channelId: string;
  fundingTxid: string;
  fundingVout: number;
  fundingAmount: number;
  updateFee: number;
  csvDelay: number;
}

/** The `TOWER_TERMS` that `from` (hex identity key) sent for request `requestId` (hex), if any. */
export async function towerTerms(kv: Kv, requestId: string, from: string): Promise<StoredTowerTerms | undefined> {
  const raw = await kv.get(`${PREFIX}terms/${requestId}/${from}`);
  return raw === undefined ? undefined : (dec(raw) as StoredTowerTerms);
}

function knowledgeOp(channelId: Uint8Array, id: Uint8Array, v: { presig?: string; secret?: string }): KvOp {
  const which = v.presig !== undefined ? 'presig' : 'secret';
  const value = v[which]!;
  // One key per candidate: a wrong one (anyone can name a PTLC in a message) never overwrites the right one.
  return { type: 'put', key: `${PREFIX}ptlc/${bytesToHex(channelId)}/${bytesToHex(id)}/${which}/${value.slice(0, 32)}`, value: enc(value) };
}

/** Watches and enforces every channel of one role. */
export class Watchtower extends TypedEmitter<WatchtowerEvents> {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(
    private readonly host: TowerHost,
    private readonly kv: Kv,
    private readonly o: WatchtowerOptions,
  ) {
    super();
  }

  /**
   * Starts polling: a tick now, then every `pollMs`. Without a wallet it
   * first emits an `error` (FUNDING_INVALID): the tower watches but cannot
   * enforce a rebinding update nor bump a fee.
   */
  start(): void {
    this.#closed = false;
    if (this.o.wallet === undefined)
      this.emit(
        'error',
        new LnMailboxError(
          ErrorCode.FUNDING_INVALID,
          'watchtower: the role has a chain source but no wallet: it cannot pay the fee of a rebinding update nor bump one, so it cannot enforce its latest state; give it a FundingWallet (watch.wallet)',
        ),
      );
    const loop = () => {
      if (this.#closed) return;
      void this.tick()
        .catch((e: unknown) => this.emit('error', e as Error))
        .finally(() => {
          if (!this.#closed) this.#timer = setTimeout(loop, this.o.pollMs ?? 30_000);
        });
    };
    loop();
  }

  /** Stops polling and waits for a tick under way. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running?.catch(() => undefined);
  }

  /** Asks for a unilateral close of `channelId` (hex): the tower publishes the latest update at its next tick. Persisted. */
  async forceClose(channelId: string): Promise<void> {
    await this.kv.put(`${PREFIX}force/${channelId}`, enc(true));
  }

  /** Secrets the tower read from the chain, by channel and PTLC id (hex). */
  async learnedSecrets(): Promise<{ channelId: string; ptlcId: string; secret: Uint8Array }[]> {
    const out: { channelId: string; ptlcId: string; secret: Uint8Array }[] = [];
    for await (const [k, v] of this.kv.entries(`${PREFIX}learned/`)) {
      const [channelId, ptlcId] = k.slice(`${PREFIX}learned/`.length).split('/') as [string, string];
      out.push({ channelId, ptlcId, secret: hexToBytes(dec(v) as string, 32) });
    }
    return out;
  }

  /**
   * One pass over every channel: read the chain, plan, tell the engine of
   * an update on chain, record learned secrets, broadcast. Passes never
   * overlap (a call during one waits for it and runs after). Resolves with
   * each channel's plan.
   */
  tick(): Promise<Map<string, EnforcePlan>> {
    const run = (this.#running ?? Promise.resolve()).catch(() => undefined).then(() => this.#pass());
    this.#running = run.then(() => undefined);
    return run;
  }

  async #pass(): Promise<Map<string, EnforcePlan>> {
    const out = new Map<string, EnforcePlan>();
    const tip = await this.o.chain.tipHeight();
    for (const ch of await this.host.channels()) {
      const id = bytesToHex(ch.params.channelId);
      try {
        out.set(id, await this.#channel(ch, id, tip));
      } catch (e) {
        this.emit('error', e as Error);
      }
    }
    for (const w of (await this.host.foreign?.()) ?? [])
      await this.#guard(async () => {
        const plan = await this.#follow((view) => planForeignWatch(w, view), tip);
        for (const a of plan.broadcasts) await this.#publish(`foreign-${w.id}`, a);
      });
    return out;
  }

  /** Plans again and again, looking up the spender of every new outpoint the plan watches, until none is new. */
  async #follow<P extends { watch: readonly Outpoint[] }>(planFn: (view: ChainView) => P, tip: number): Promise<P> {
    const spent = new Map<string, Sighting>();
    const asked = new Set<string>();
    let plan = planFn({ tip, spent });
    for (let round = 0; round < 64; round++) {
      const fresh = plan.watch.filter((o) => !asked.has(outpointKey(o)));
      if (fresh.length === 0) break;
      for (const o of fresh) {
        asked.add(outpointKey(o));
        const s = await this.o.chain.spenderOf(o);
        if (s !== null) spent.set(outpointKey(o), { tx: s.tx, height: s.height });
      }
      plan = planFn({ tip, spent });
    }
    return plan;
  }

  async #channel(ch: Channel, id: string, tip: number): Promise<EnforcePlan> {
    const ptlcs = await this.#knowledge(id);
    let force = (await this.kv.get(`${PREFIX}force/${id}`)) !== undefined;
    if (!force) {
      // A PTLC that would be lost off chain (SPEC 6.18): close unilaterally, persisted like an asked-for close.
      const why = goOnChainReason(ch, ptlcs, tip, this.o.goOnChainMargin);
      if (why !== undefined) {
        await this.forceClose(id);
        this.emit('closing', { channelId: id, reason: why });
        force = true;
      }
    }
    const input = { channel: ch, channelKey: this.host.channelKey, ptlcs, force };
    // Follow the chain: every answer may reveal a further output to watch.
    const plan = await this.#follow((view) => planEnforcement({ ...input, view }), tip);
    // Enforcement first, and never held up by bookkeeping: a rebinding update that waited for the
    // engine to record the close (or for the store) would let an old state settle.
    for (const a of plan.broadcasts) await this.#guard(() => this.#publish(id, a));
    await this.#guard(async () => {
      const phaseKey = `${PREFIX}phase/${id}`;
      const before = await this.kv.get(phaseKey);
      if (before === undefined || dec(before) !== plan.phase) {
        await this.kv.put(phaseKey, enc(plan.phase));
        this.emit('phase', { channelId: id, phase: plan.phase });
      }
    });
    const height = plan.updateHeight;
    if (height !== undefined && (ch.closing === undefined || height < ch.closing.height))
      await this.#guard(() => this.host.noteUpdateOnChain(id, height));
    if (this.host.noteUpdateSigsOnChain)
      for (const u of plan.signedUpdates ?? [])
        await this.#guard(async () => {
          const key = `${PREFIX}update-read/${id}/${u.n}`;
          if ((await this.kv.get(key)) !== undefined) return;
          await this.host.noteUpdateSigsOnChain!(id, u.n, u.sigs);
          await this.kv.put(key, enc('1'));
        });
    for (const l of plan.learned)
      await this.#guard(async () => {
        const key = `${PREFIX}learned/${id}/${l.id}`;
        if ((await this.kv.get(key)) !== undefined) return;
        await this.host.noteSecretOnChain?.(id, l.id, l.secret);
        await this.kv.put(key, enc(bytesToHex(l.secret)));
        this.emit('secret', { channelId: id, ptlcId: l.id, secret: l.secret });
      });
    return plan;
  }

  /** Runs one piece of a pass; a failure is reported and the pass goes on (it is tried again at the next tick). */
  async #guard(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.emit('error', e as Error);
    }
  }

  async #knowledge(channelId: string): Promise<Map<string, PtlcKnowledge>> {
    const m = new Map<string, { presigs: Uint8Array[]; secrets: Uint8Array[] }>();
    const prefix = `${PREFIX}ptlc/${channelId}/`;
    for await (const [k, v] of this.kv.entries(prefix)) {
      const [ptlc, which] = k.slice(prefix.length).split('/') as [string, 'presig' | 'secret'];
      const cur = m.get(ptlc) ?? { presigs: [], secrets: [] };
      (which === 'presig' ? cur.presigs : cur.secrets).push(hexToBytes(dec(v) as string));
      m.set(ptlc, cur);
    }
    return m;
  }

  /**
   * Broadcasts one step: the transaction stored for its label if there is
   * one (the same bytes as before a restart), else the planner's, with a fee
   * input of the wallet when it pays less than the current rate. A refusal
   * that a fee can cure ({@link isFeeRejection}: below the minimum fee rate,
   * an underpaying replacement) is bumped again at twice the rate, up to
   * {@link MAX_BUMPS} times in one pass; any other refusal (not final yet, a
   * missing input, a conflict) is not. The rate never exceeds `maxFeeRate`,
   * and the fee never exceeds `maxFeeShare` of what the transaction protects.
   */
  async #publish(channelId: string, a: BroadcastAction): Promise<void> {
    const key = `${PREFIX}tx/${channelId}/${a.label}`;
    const raw = await this.kv.get(key);
    const maxRate = this.o.maxFeeRate ?? DEFAULT_MAX_FEE_RATE;
    let floor = 0;
    if (raw !== undefined) {
      const stored = fromStored(dec(raw) as StoredTx);
      try {
        await this.#send(channelId, a, stored.t, stored.bumped);
        return;
      } catch (e) {
        if (!isFeeRejection(e) || feeRateOf(stored.t) >= maxRate) throw e;
        floor = feeRateOf(stored.t) * 2;
      }
    }
    const estimate = await this.o.chain.feeRate(a.deadline !== undefined ? 1 : (this.o.feeTargetBlocks ?? 6));
    const rate = Math.min(maxRate, Math.max(estimate, floor));
    let t: TxWithPrevouts = { tx: a.tx, prevouts: a.prevouts };
    let bumped = false;
    if (a.needsFee || feeRateOf(t) < rate) [t, bumped] = [await this.#bump(t, a, rate), true];
    await this.kv.put(key, enc(toStored(t, bumped)));
    // Refused for its fee (below the backend's minimum, or outbid): bump at twice the rate, a few times, up to the ceiling.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#send(channelId, a, t, bumped);
        return;
      } catch (e) {
        if (!isFeeRejection(e) || attempt >= MAX_BUMPS || feeRateOf(t) >= maxRate) throw e;
      }
      t = await this.#bump({ tx: a.tx, prevouts: a.prevouts }, a, Math.min(maxRate, Math.max(rate, feeRateOf(t)) * 2));
      bumped = true;
      await this.kv.put(key, enc(toStored(t, true)));
    }
  }

  async #bump(t: TxWithPrevouts, a: BroadcastAction, feeRate: number): Promise<TxWithPrevouts> {
    if (this.o.wallet === undefined)
      throw new LnMailboxError(ErrorCode.FUNDING_INVALID, `watchtower: ${a.label} needs a fee input and the role has no wallet`);
    const stake = a.prevouts.reduce((s, p) => s + p.amount, 0n);
    const maxFee = Math.floor(Number(stake) * (this.o.maxFeeShare ?? DEFAULT_MAX_FEE_SHARE));
    return addWalletFee(this.o.wallet, t, { feeRate, change: a.bump === 'change', maxFee });
  }

  async #send(channelId: string, a: BroadcastAction, t: TxWithPrevouts, bumped: boolean): Promise<void> {
    const txid = await this.o.chain.broadcast(t.tx);
    this.emit('broadcast', { channelId, label: a.label, kind: a.kind, txid, bumped });
  }
}

function toStored(t: TxWithPrevouts, bumped: boolean): StoredTx {
  return {
    raw: bytesToHex(serializeTx(t.tx)),
    prevouts: t.prevouts.map((p) => ({ amount: p.amount.toString(), script: bytesToHex(p.scriptPubKey) })),
    bumped,
  };
}

function fromStored(s: StoredTx): { t: TxWithPrevouts; bumped: boolean } {
  const prevouts: Prevout[] = s.prevouts.map((p) => ({ amount: BigInt(p.amount), scriptPubKey: hexToBytes(p.script) }));
  return { t: { tx: parseTx(s.raw), prevouts }, bumped: s.bumped };
}
