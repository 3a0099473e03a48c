/**
 * The stage of `ln-mailbox demo`: the parties A, S, B (keys, stores,
 * mailbox addresses, on-chain wallets), the chain simulator they share over
 * Esplora HTTP, the role runtimes as they go online and offline, the wiring
 * of their events to the narration, and the step clock that fails a step
 * which takes too long (so a stuck demo exits non-zero with the step and
 * what it waited for, instead of hanging). Every channel is opened the way
 * strangers open one (SPEC 6.17): the hub's signed terms, OPEN, state 0
 * co-signed, a funding PSBT funded and signed by the funder's own wallet,
 * confirmations.
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { getPublicKey, randomSecretKey } from '../crypto/bip340.js';
import { encodeMailboxAddress } from '../protocol/address.js';
import { bytesToHex } from '../base/bytes.js';
import { isLnMailboxError } from '../base/errors.js';
import { EsploraChainSource } from '../client/chain/esplora.js';
import { SingleKeyWallet } from '../client/chain/single-key-wallet.js';
import { LevelKv } from '../client/mailbox/kv.js';
import { HubNode, PayeeNode, PayerNode } from '../client/wallet/roles.js';
import type { RoleEngine, RoleRuntime } from '../client/wallet/runtime.js';
import type { Channel } from '../engine/channel/channel.js';
import type { ChannelParams } from '../engine/channel/state.js';
import type { PaymentEvent } from '../engine/payment/types.js';
import { ChainModel } from '../sim/chain-model.js';
import { startEsploraServer, type EsploraServer } from '../sim/esplora-server.js';
import { Narrator, ROLES, type ChannelRow, type EventContext, type Role } from './demo-narrator.js';

/** What A puts into A–S, and what S puts into S–B (the payee's channel is funded by the hub), sats. */
export const FUNDING = { as: 1_000_000, sb: 800_000 };
/** CSV delays: the payer's channel longest (the hub must outlast a stale state), the payee's shorter. */
export const CSV = { as: 144, sb: 24 };
/** The hub's published fee policy: base sats + ppm of the amount. */
export const HUB_FEE = { base: 10, ppm: 1000 };
/** What the hub offers in its signed terms (SPEC 6.17). */
export const TERMS = {
  csvMin: 12,
  csvMax: 500,
  minCapacity: 100_000,
  maxCapacity: 5_000_000,
  maxHubFunded: 2_000_000,
  updateFee: 500,
  settlementFee: 500,
  ptlcFee: 300,
  minConf: 2,
  maxPendingOpens: 1,
  openTimeout: 3600,
};
/** The chain's height when the demo starts. */
const HEIGHT = 800_000;

/** A failed or timed-out step: its message is all the user needs (no stack trace). */
export class DemoError extends Error {}

/** `CODE: message` for typed errors, the message otherwise. */
export const errText = (e: unknown): string =>
  isLnMailboxError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);

/** Keys, store directory and on-chain wallet of one role. Secret keys never leave this process and are never printed. */
export interface Party {
  idSk: Uint8Array;
  idPk: Uint8Array;
  chSk: Uint8Array;
  dir: string;
  address: string;
  wallet: SingleKeyWallet;
}

/** Hex of bytes (record keys and points). */
const hex = (b: Uint8Array): string => bytesToHex(b);

/** The running scenario: chain, parties, nodes, what each has seen, and the step clock. */
export class Stage {
  readonly say = new Narrator();
  readonly events: Record<Role, PaymentEvent[]> = { A: [], S: [], B: [] };
  readonly sent: { from: Role; to: Role | '?'; type: number; id: string }[] = [];
  /** Every message a role handled: who sent it (the authenticated inner-message key), its type and envelope. */
  readonly received: { to: Role; from: Role | '?'; type: number; id: string }[] = [];
  readonly errors: string[] = [];
  /** Every transaction a role's watchtower broadcast. */
  readonly broadcasts: { role: Role; kind: string; label: string; txid: string; bumped: boolean }[] = [];
  /** Envelopes posted to a role while it was offline: when it comes online the relay pushes them. */
  readonly #waiting = new Set<string>();
  nodes: { A?: PayerNode; S?: HubNode; B?: PayeeNode } = {};
  /** The last runtime of each role, kept after it goes offline: its engine holds what it last stored. */
  readonly last: { A?: PayerNode; S?: HubNode; B?: PayeeNode } = {};
  /** The two channels' parameters, once open. */
  params: { as?: ChannelParams; sb?: ChannelParams } = {};
  /** Balances of state 0 (A–S, S–B), copied before the engines move the channels on. */
  start: [[number, number], [number, number]] = [
    [0, 0],
    [0, 0],
  ];
  #deadline = 0;
  #stepName = '';
  #miner: ReturnType<typeof setInterval> | undefined;

  private constructor(
    readonly relayUrl: string,
    readonly p: Record<Role, Party>,
    readonly model: ChainModel,
    readonly esplora: EsploraServer,
    readonly chain: EsploraChainSource,
    readonly stepMs: number,
  ) {}

  get asParams(): ChannelParams {
    return this.params.as!;
  }

  get sbParams(): ChannelParams {
    return this.params.sb!;
  }

  /**
   * Starts the chain simulator and serves it over Esplora HTTP; creates keys,
   * stores (subdirectories of `root`), mailbox addresses on `relayUrl` and a
   * single-key wallet per role, and gives the two funders (A and S) coins.
   * `stepMs` is the per-step time limit.
   */
  static async create(root: string, relayUrl: string, stepMs: number): Promise<Stage> {
    const model = new ChainModel({ height: HEIGHT, minFeeRate: 1 });
    const esplora = await startEsploraServer(model, { port: 0 });
    const chain = new EsploraChainSource(esplora.url);
    const party = (name: Role): Party => {
      const idSk = randomSecretKey();
      const idPk = getPublicKey(idSk);
      const dir = path.join(root, name);
      fs.mkdirSync(dir);
      const wallet = new SingleKeyWallet(randomSecretKey(), chain, { minConfirmations: 1 });
      return { idSk, idPk, chSk: randomSecretKey(), dir, address: encodeMailboxAddress({ publicKey: idPk, relays: [relayUrl] }), wallet };
    };
    const p = Object.fromEntries(ROLES.map((r) => [r, party(r)])) as Record<Role, Party>;
    model.fundScript(p.A.wallet.scriptPubKey, 2_000_000);
    model.fundScript(p.S.wallet.scriptPubKey, 3_000_000);
    model.fundScript(p.B.wallet.scriptPubKey, 100_000);
    model.mine(1);
    return new Stage(relayUrl, p, model, esplora, chain, stepMs);
  }

  /** Mines a block every `ms` until {@link stopMining} (the chain confirms what the parties broadcast). */
  startMining(ms = 100): void {
    this.stopMining();
    this.#miner = setInterval(() => this.model.mine(1), ms);
  }

  stopMining(): void {
    if (this.#miner) clearInterval(this.#miner);
    this.#miner = undefined;
  }

  /**
   * What transaction `txid` pays to each party's payout script of a channel
   * with `params` (the scripts their wallets chose at open), sats; throws
   * when the chain does not know it.
   */
  paidBy(txid: string, params: ChannelParams): [number, number] {
    const got = this.model.getTx(txid);
    if (!got) throw new DemoError(`the chain does not know transaction ${txid}`);
    const to = (script: Uint8Array | undefined) =>
      got.tx.outputs.filter((o) => script !== undefined && hex(o.script) === hex(script)).reduce((s, o) => s + Number(o.amount), 0);
    return [to(params.payout?.[0]), to(params.payout?.[1])];
  }

  /** Starts step `n`: prints its heading and arms its time limit. */
  step(n: number, title: string): void {
    this.say.step(n, title);
    this.#stepName = `step ${n}`;
    this.#deadline = Date.now() + this.stepMs;
  }

  /** Polls `pred` until it holds, or fails the step at its deadline. */
  async until(pred: () => boolean, what: string): Promise<void> {
    while (!pred()) {
      if (Date.now() > this.#deadline) throw this.#timeout(`waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 15));
    }
  }

  #timeout(what: string): DemoError {
    return new DemoError(`${this.#stepName}: timed out after ${this.stepMs / 1000} s ${what}`);
  }

  /** Asks `probe` (one request at a time) until its answer passes `ok`, or fails the step at its deadline. */
  async poll<T>(probe: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
    for (;;) {
      const v = await this.guard(
        probe().catch(() => undefined),
        what,
      );
      if (v !== undefined && ok(v)) return v;
      if (Date.now() > this.#deadline) throw this.#timeout(`waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Awaits `p`, or fails the step at its deadline. */
  async guard<T>(p: Promise<T>, what: string): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.#timeout(`(${what})`)), Math.max(0, this.#deadline - Date.now()));
    });
    try {
      return await Promise.race([p, limit]);
    } finally {
      clearTimeout(timer);
    }
  }

  check(ok: boolean, what: string): asserts ok {
    if (!ok) throw new DemoError(`${this.#stepName}: check failed: ${what}`);
  }

  has(role: Role, kind: PaymentEvent['kind'], offerId?: string): boolean {
    return this.events[role].some((e) => e.kind === kind && (offerId === undefined || ('offerId' in e && e.offerId === offerId)));
  }

  roleOfAddress(addr: string): Role | '?' {
    return ROLES.find((r) => this.p[r].address === addr) ?? '?';
  }

  roleOfKey(key: string): Role | '?' {
    return ROLES.find((r) => hex(this.p[r].idPk) === key) ?? '?';
  }

  /** The hub's view of its channel with `params`. */
  hubChannel(params: ChannelParams): Channel {
    return this.nodes.S!.engine.peers.get(hex(params.channelId))!.channel;
  }

  /** Channels by name, both views each, from each role's last runtime (online or not: its engine holds what it last stored). */
  rows(which: ('A–S' | 'S–B')[]): ChannelRow[] {
    const l = this.last;
    const hub = (params: ChannelParams) => l.S!.engine.peers.get(hex(params.channelId))!.channel;
    const all: Record<string, ChannelRow> = {
      'A–S': { name: 'A–S', parties: ['A', 'S'], views: [l.A!.engine.channel, hub(this.asParams)] },
      'S–B': { name: 'S–B', parties: ['S', 'B'], views: [hub(this.sbParams), l.B!.engine.channel] },
    };
    return which.map((w) => all[w]!);
  }

  /** What an event concerns (state number, channel, counterparty), read from the engine when the event fires. */
  #contextOf(role: Role, e: PaymentEvent): EventContext {
    const id = 'offerId' in e ? e.offerId : '';
    switch (role) {
      case 'A':
        return { n: this.nodes.A?.engine.slot.current?.topN, channel: 'A–S', peer: 'S' };
      case 'B': {
        const B = this.nodes.B?.engine;
        const ch = B?.slot.current;
        if (!B || !ch) return { channel: 'S–B', peer: 'S' };
        const request = B.requests.has(id);
        return { n: e.kind === 'request_sent' ? ch.topN : ch.enforceable.state.n, channel: 'S–B', peer: 'S', request };
      }
      case 'S': {
        const S = this.nodes.S?.engine;
        if (!S || !this.params.as) return {};
        if (e.kind === 'proposed' || e.kind === 'cancelled') return { n: this.hubChannel(this.asParams).topN, channel: 'A–S', peer: 'A' };
        // A finished payment or request may already have left the engine's state (archived in the
        // step that finished it): the runtime's listing still has its record.
        const archived = this.nodes.S!.payments().find((p) => p.offerId === id) as
          | { payeeChannel?: string; requestId?: string }
          | undefined;
        const out = S.requests.get(id)?.payeeChannel ?? S.payments.get(id)?.payeeChannel ?? archived?.payeeChannel;
        const ch = out === undefined ? undefined : S.peers.get(out)?.channel;
        const request = S.requests.has(id) || archived?.requestId !== undefined;
        return ch ? { n: ch.enforceable.state.n, channel: 'S–B', peer: 'B', request } : {};
      }
    }
  }

  /**
   * Wires a node's events to the narration. Payment events are printed on the
   * next turn of the event loop, so that the line saying which message was
   * pushed to a role comes before the lines saying what the role did with it.
   */
  attach<T extends RoleRuntime<RoleEngine>>(role: Role, node: T): T {
    let queue: [PaymentEvent, EventContext][] = [];
    const drain = () => {
      for (const [e, c] of queue) this.say.event(role, e, c);
      queue = [];
    };
    node.on('payment', (e) => {
      this.events[role].push(e);
      if (queue.length === 0) setImmediate(drain);
      queue.push([e, this.#contextOf(role, e)]);
    });
    node.on('sent', (e) => {
      const to = this.roleOfAddress(e.to);
      this.sent.push({ from: role, to, type: e.type, id: e.id });
      const offline = to !== '?' && !this.nodes[to] ? `waits in ${to}'s mailbox` : '';
      if (offline) this.#waiting.add(e.id);
      this.say.sent(role, to, e.type, e.id, offline);
    });
    node.on('received', (e) => {
      const from = this.roleOfKey(e.from);
      this.received.push({ to: role, from, type: e.type, id: e.id });
      // Messages that waited for an offline recipient: show that the relay pushed them.
      if (this.#waiting.delete(e.id)) this.say.pushed(role, from, e.type, e.id);
    });
    node.on('error', (e) => this.errors.push(`${role}: ${errText(e)}`));
    node.tower?.on('broadcast', (b) => {
      if (this.broadcasts.some((x) => x.role === role && x.txid === b.txid)) return; // the same transaction again
      this.broadcasts.push({ role, kind: b.kind, label: b.label, txid: b.txid, bumped: b.bumped });
      this.say.say(
        role,
        `watchtower broadcasts ${b.label.split(':').slice(0, 2).join(' ')} ${b.txid.slice(0, 16)}…${b.bumped ? ' (fee input and change from its own wallet)' : ''}`,
      );
    });
    return node;
  }

  #base(r: Role) {
    const me = this.p[r];
    return {
      identityKey: me.idSk,
      relays: [this.relayUrl],
      kv: new LevelKv(me.dir),
      ownsStore: true,
      chain: this.chain,
      chainPollMs: 100,
      openPollMs: 100,
      fundingWallet: me.wallet,
      // The watchtower (SPEC 6.18): polls the chain, enforces the latest state, pays bump fees from the role's wallet.
      watch: { wallet: me.wallet, pollMs: 100 },
      client: { WebSocket: WebSocket as never, reconnect: { minMs: 50, maxMs: 500 } },
      retryMs: 200,
    };
  }

  /** The payer A: it knows S only by its mailbox address and identity key; it reads S's fee from S's signed terms. */
  async openA(): Promise<PayerNode> {
    const { A, S } = this.p;
    const node = await this.guard(
      PayerNode.open({ ...this.#base('A'), config: { hubKey: S.idPk, hubAddress: S.address, channelKey: A.chSk } }),
      'opening A',
    );
    return (this.last.A = this.nodes.A = this.attach('A', node));
  }

  /** The hub S: no channel at first start; it signs and publishes its terms, and accepts opens while it runs. */
  async openS(): Promise<HubNode> {
    const { S } = this.p;
    const node = await this.guard(
      HubNode.open({
        ...this.#base('S'),
        config: { channelKey: S.chSk, fee: HUB_FEE, safetyMargin: 6, maxTimeoutDelta: 100 },
        terms: TERMS,
      }),
      'opening S',
    );
    return (this.last.S = this.nodes.S = this.attach('S', node));
  }

  async openB(): Promise<PayeeNode> {
    const { S, B } = this.p;
    const node = await this.guard(
      PayeeNode.open({
        ...this.#base('B'),
        config: {
          address: B.address,
          channelKey: B.chSk,
          hubKey: S.idPk,
          hubAddress: S.address,
          timeoutDelta: 40,
          invoiceTtlMs: 3_600_000,
        },
      }),
      'opening B',
    );
    return (this.last.B = this.nodes.B = this.attach('B', node));
  }

  /** Takes a role offline: closes its sockets and its store (its state is on disk). */
  async close(role: Role): Promise<void> {
    const node = this.nodes[role];
    delete this.nodes[role];
    if (node) await this.guard(node.close(), `closing ${role}`);
  }

  async closeAll(): Promise<void> {
    this.stopMining();
    this.#deadline = Date.now() + this.stepMs;
    this.#stepName = 'clean-up';
    for (const r of ['A', 'B', 'S'] as const) await this.close(r).catch(() => undefined);
    await this.esplora.close().catch(() => undefined);
  }
}
