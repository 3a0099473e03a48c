/**
 * The stage of `ln-mailbox demo`: the three parties (keys, stores, mailbox
 * addresses), their co-signed channels, the role runtimes as they go online
 * and offline, the wiring of their events to the narration, and the step
 * clock that fails a step which takes too long (so a stuck demo exits
 * non-zero with the step and what it waited for, instead of hanging).
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { schnorr } from '@noble/curves/secp256k1.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { encodeMailboxAddress } from '../protocol/address.js';
import { bytesToHex } from '../protocol/bytes.js';
import { isLnMailboxError } from '../protocol/errors.js';
import { PaymentType } from '../protocol/payment.js';
import { LevelKv } from '../client/kv.js';
import { KvNonceStore } from '../client/nonce-store.js';
import { HubNode, PayeeNode, PayerNode } from '../client/roles.js';
import type { RoleEngine, RoleRuntime } from '../client/runtime.js';
import type { Channel } from '../src/channel/channel.js';
import { openChannelPair } from '../src/channel/open.js';
import type { ChannelParams } from '../src/channel/state.js';
import type { PaymentEvent } from '../src/payment/types.js';
import { Narrator, type Role } from './demo-narrator.js';

/** Funding of each channel, sats. */
export const FUNDING = 1_000_000;
/** The hub's published fee policy: base sats + ppm of the amount. */
export const HUB_FEE = { base: 10, ppm: 1000 };
/** The fixed chain height every role sees (the demo has no chain). */
const HEIGHT = 800_000;

/** A failed or timed-out step: its message is all the user needs (no stack trace). */
export class DemoError extends Error {}

/** `CODE: message` for typed errors, the message otherwise. */
export const errText = (e: unknown): string => (isLnMailboxError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e));

/** Keys and store directory of one role. Secret keys never leave this process and are never printed. */
export interface Party { idSk: Uint8Array; idPk: Uint8Array; chSk: Uint8Array; chPk: Uint8Array; dir: string; address: string }

function party(root: string, name: Role, relay: string): Party {
  const idSk = schnorr.utils.randomSecretKey();
  const chSk = schnorr.utils.randomSecretKey();
  const idPk = schnorr.getPublicKey(idSk);
  const dir = path.join(root, name);
  fs.mkdirSync(dir);
  return { idSk, idPk, chSk, chPk: schnorr.getPublicKey(chSk), dir, address: encodeMailboxAddress({ publicKey: idPk, relays: [relay] }) };
}

function channelParams(k0: Uint8Array, k1: Uint8Array, csvDelay: number): ChannelParams {
  return { channelId: randomBytes(32), funding: { txid: randomBytes(32), vout: 0, amount: FUNDING }, keys: [k0, k1], csvDelay, fees: { update: 500, settlement: 500, ptlc: 300 } };
}

/** The running scenario: parties, channels, nodes, what each has seen, and the step clock. */
export class Stage {
  readonly say = new Narrator();
  readonly events: Record<Role, PaymentEvent[]> = { A: [], S: [], B: [] };
  readonly sent: { from: Role; type: number; id: string }[] = [];
  readonly errors: string[] = [];
  nodes: { A?: PayerNode; S?: HubNode; B?: PayeeNode } = {};
  /** Balances of state 0 (A–S, S–B), copied before the engines move the channels on. */
  readonly start: [[number, number], [number, number]];
  #deadline = 0;
  #stepName = '';

  private constructor(readonly relayUrl: string, readonly p: Record<Role, Party>, readonly asParams: ChannelParams, readonly sbParams: ChannelParams,
    readonly init: { asA: Channel; asS: Channel; sbS: Channel; sbB: Channel }, readonly stepMs: number) {
    const [a, s1] = init.asA.enforceable.state.balances, [s2, b] = init.sbB.enforceable.state.balances;
    this.start = [[a, s1], [s2, b]];
  }

  /**
   * Creates keys, stores (subdirectories of `root`) and mailbox addresses on
   * `relayUrl`, and opens both channels at a co-signed state 0, each party
   * with its own persistent nonce store. `stepMs` is the per-step time limit.
   */
  static async create(root: string, relayUrl: string, stepMs: number): Promise<Stage> {
    const p = { A: party(root, 'A', relayUrl), S: party(root, 'S', relayUrl), B: party(root, 'B', relayUrl) };
    const asParams = channelParams(p.A.chPk, p.S.chPk, 288);
    const sbParams = channelParams(p.S.chPk, p.B.chPk, 24);
    const kv = { A: new LevelKv(p.A.dir), S: new LevelKv(p.S.dir), B: new LevelKv(p.B.dir) };
    try {
      const [asA, asS] = await openChannelPair(asParams, [600_000, 399_000], p.A.chSk, p.S.chSk, new KvNonceStore(kv.A), new KvNonceStore(kv.S));
      const [sbS, sbB] = await openChannelPair(sbParams, [700_000, 299_000], p.S.chSk, p.B.chSk, new KvNonceStore(kv.S), new KvNonceStore(kv.B));
      return new Stage(relayUrl, p, asParams, sbParams, { asA, asS, sbS, sbB }, stepMs);
    } finally {
      // The role runtimes open these stores again, one process-wide handle at a time.
      await Promise.all(Object.values(kv).map((k) => k.close()));
    }
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
      const v = await this.guard(probe().catch(() => undefined), what);
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
    return (['A', 'S', 'B'] as const).find((r) => this.p[r].address === addr) ?? '?';
  }

  roleOfKey(hex: string): Role | '?' {
    return (['A', 'S', 'B'] as const).find((r) => bytesToHex(this.p[r].idPk) === hex) ?? '?';
  }

  /** The hub's view of its channel with `params`. */
  hubChannel(params: ChannelParams): Channel {
    return this.nodes.S!.engine.peers.get(bytesToHex(params.channelId))!.channel;
  }

  /** The state number an event concerns, read from the engine when the event fires. */
  #stateOf(role: Role, e: PaymentEvent): number | undefined {
    if (role === 'A') return this.nodes.A?.engine.channel.topN;
    if (role === 'B') return this.nodes.B?.engine.channel.enforceable.state.n;
    if (!this.nodes.S) return undefined;
    return e.kind === 'proposed' ? this.hubChannel(this.asParams).topN : this.hubChannel(this.sbParams).enforceable.state.n;
  }

  /**
   * Wires a node's events to the narration. Payment events are printed on the
   * next turn of the event loop, so that the line saying which message was
   * pushed to a role comes before the lines saying what the role did with it.
   */
  attach<T extends RoleRuntime<RoleEngine>>(role: Role, node: T): T {
    let queue: [PaymentEvent, number | undefined][] = [];
    const drain = () => {
      for (const [e, n] of queue) this.say.event(role, e, n);
      queue = [];
    };
    node.on('payment', (e) => {
      this.events[role].push(e);
      if (queue.length === 0) setImmediate(drain);
      queue.push([e, this.#stateOf(role, e)]);
    });
    node.on('sent', (e) => {
      this.sent.push({ from: role, type: e.type, id: e.id });
      const to = this.roleOfAddress(e.to);
      const offline = (to === 'A' || to === 'B') && !this.nodes[to] ? `waits in ${to}'s mailbox` : '';
      this.say.sent(role, to, e.type, e.id, offline);
    });
    node.on('received', (e) => {
      // Messages that waited for an offline recipient: show that the relay pushed them.
      if (e.type === PaymentType.OFFER || e.type === PaymentType.COMPLETION || e.type === PaymentType.OFFER_VOID)
        this.say.pushed(role, this.roleOfKey(e.from), e.type, e.id);
    });
    node.on('error', (e) => this.errors.push(`${role}: ${errText(e)}`));
    return node;
  }

  #base(r: Role) {
    return {
      identityKey: this.p[r].idSk, relays: [this.relayUrl], kv: new LevelKv(this.p[r].dir), ownsStore: true,
      chain: { height: () => HEIGHT }, client: { WebSocket: WebSocket as never, reconnect: { minMs: 50, maxMs: 500 } },
    };
  }

  async openA(): Promise<PayerNode> {
    const { A, S } = this.p;
    const node = await this.guard(PayerNode.open({
      ...this.#base('A'), config: { hubKey: S.idPk, hubAddress: S.address, channelKey: A.chSk }, channel: this.init.asA, hubFee: HUB_FEE,
    }), 'opening A');
    return (this.nodes.A = this.attach('A', node));
  }

  async openS(): Promise<HubNode> {
    const { A, S, B } = this.p;
    const node = await this.guard(HubNode.open({
      ...this.#base('S'),
      config: { identityKey: S.idPk, address: S.address, channelKey: S.chSk, fee: HUB_FEE, safetyMargin: 6, maxTimeoutDelta: 100 },
      peers: [{ channel: this.init.asS, peerKey: A.idPk, peerAddress: A.address }, { channel: this.init.sbS, peerKey: B.idPk, peerAddress: B.address }],
    }), 'opening S');
    return (this.nodes.S = this.attach('S', node));
  }

  async openB(): Promise<PayeeNode> {
    const { S, B } = this.p;
    const node = await this.guard(PayeeNode.open({
      ...this.#base('B'),
      config: { identityKey: B.idSk, address: B.address, channelKey: B.chSk, hubKey: S.idPk, hubAddress: S.address, timeoutDelta: 40, invoiceTtlMs: 3_600_000 },
      channel: this.init.sbB,
    }), 'opening B');
    return (this.nodes.B = this.attach('B', node));
  }

  /** Takes a role offline: closes its sockets and its store (its state is on disk). */
  async close(role: Role): Promise<void> {
    const node = this.nodes[role];
    delete this.nodes[role];
    if (node) await this.guard(node.close(), `closing ${role}`);
  }

  async closeAll(): Promise<void> {
    this.#deadline = Date.now() + this.stepMs;
    this.#stepName = 'clean-up';
    for (const r of ['A', 'B', 'S'] as const) await this.close(r).catch(() => undefined);
  }
}
