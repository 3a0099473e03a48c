/**
 * The stage of `ln-mailbox demo`: the parties A, S, B and the privacy hop's
 * router P and payee B₂ (keys, stores, mailbox addresses), their co-signed
 * channels A–S, S–B, S–P and P–B₂, the role runtimes as they go online
 * and offline, the wiring of their events to the narration, and the step
 * clock that fails a step which takes too long (so a stuck demo exits
 * non-zero with the step and what it waited for, instead of hanging).
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { getPublicKey, randomSecretKey } from '../crypto/bip340.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { encodeMailboxAddress } from '../protocol/address.js';
import { bytesToHex } from '../base/bytes.js';
import { isLnMailboxError } from '../base/errors.js';
import { LevelKv } from '../client/mailbox/kv.js';
import { KvNonceStore } from '../client/wallet/nonce-store.js';
import { HubNode, PayeeNode, PayerNode, RouterNode } from '../client/wallet/roles.js';
import type { RoleEngine, RoleRuntime } from '../client/wallet/runtime.js';
import type { Channel } from '../engine/channel/channel.js';
import { openChannelPair } from '../engine/channel/open.js';
import type { ChannelParams } from '../engine/channel/state.js';
import type { PaymentEvent } from '../engine/payment/types.js';
import { Narrator, ROLES, type ChannelRow, type EventContext, type Role } from './demo-narrator.js';

/** Funding of each channel, sats. */
export const FUNDING = 1_000_000;
/** The hub's published fee policy: base sats + ppm of the amount. */
export const HUB_FEE = { base: 10, ppm: 1000 };
/** The fixed chain height every role sees (the demo has no chain). */
const HEIGHT = 800_000;

/** A failed or timed-out step: its message is all the user needs (no stack trace). */
export class DemoError extends Error {}

/** `CODE: message` for typed errors, the message otherwise. */
export const errText = (e: unknown): string =>
  isLnMailboxError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);

/** Keys and store directory of one role. Secret keys never leave this process and are never printed. */
export interface Party {
  idSk: Uint8Array;
  idPk: Uint8Array;
  chSk: Uint8Array;
  chPk: Uint8Array;
  dir: string;
  address: string;
}

function party(root: string, name: Role, relay: string): Party {
  const idSk = randomSecretKey();
  const chSk = randomSecretKey();
  const idPk = getPublicKey(idSk);
  const dir = path.join(root, name === 'B₂' ? 'B2' : name);
  fs.mkdirSync(dir);
  return { idSk, idPk, chSk, chPk: getPublicKey(chSk), dir, address: encodeMailboxAddress({ publicKey: idPk, relays: [relay] }) };
}

function channelParams(k0: Uint8Array, k1: Uint8Array, csvDelay: number): ChannelParams {
  return {
    channelId: randomBytes(32),
    funding: { txid: randomBytes(32), vout: 0, amount: FUNDING },
    keys: [k0, k1],
    csvDelay,
    fees: { update: 500, settlement: 500, ptlc: 300 },
  };
}

/** The four channels at state 0, each as both of its parties see it. */
export interface Channels {
  asA: Channel;
  asS: Channel;
  sbS: Channel;
  sbB: Channel;
  spS: Channel;
  spP: Channel;
  pbP: Channel;
  pbB: Channel;
}

/** A PTLC point as one party's channel view held it when the PTLC was extended or committed. */
export interface SeenPoint {
  role: Role;
  channel: string;
  offerId: string;
  point: string;
}

/** Hex of bytes (record keys and points). */
const hex = (b: Uint8Array): string => bytesToHex(b);

/** The running scenario: parties, channels, nodes, what each has seen, and the step clock. */
export class Stage {
  readonly say = new Narrator();
  readonly events: Record<Role, PaymentEvent[]> = { A: [], S: [], B: [], P: [], 'B₂': [] };
  readonly sent: { from: Role; to: Role | '?'; type: number; id: string }[] = [];
  /** Every message a role handled: who sent it (the authenticated inner-message key), its type and envelope. */
  readonly received: { to: Role; from: Role | '?'; type: number; id: string }[] = [];
  /** PTLC points read from each party's channel state as the PTLC was extended or committed. */
  readonly points: SeenPoint[] = [];
  readonly errors: string[] = [];
  /** Envelopes posted to a role while it was offline: when it comes online the relay pushes them. */
  readonly #waiting = new Set<string>();
  nodes: { A?: PayerNode; S?: HubNode; B?: PayeeNode; P?: RouterNode; 'B₂'?: PayeeNode } = {};
  /** The last runtime of each role, kept after it goes offline: its engine holds what it last stored. */
  readonly last: { A?: PayerNode; S?: HubNode; B?: PayeeNode; P?: RouterNode; 'B₂'?: PayeeNode } = {};
  /** Balances of state 0 (A–S, S–B), copied before the engines move the channels on. */
  readonly start: [[number, number], [number, number]];
  #deadline = 0;
  #stepName = '';

  private constructor(
    readonly relayUrl: string,
    readonly p: Record<Role, Party>,
    readonly params: { as: ChannelParams; sb: ChannelParams; sp: ChannelParams; pb: ChannelParams },
    readonly init: Channels,
    readonly stepMs: number,
  ) {
    const [a, s1] = init.asA.enforceable.state.balances,
      [s2, b] = init.sbB.enforceable.state.balances;
    this.start = [
      [a, s1],
      [s2, b],
    ];
  }

  get asParams(): ChannelParams {
    return this.params.as;
  }

  get sbParams(): ChannelParams {
    return this.params.sb;
  }

  /**
   * Creates keys, stores (subdirectories of `root`) and mailbox addresses on
   * `relayUrl`, and opens the four channels at a co-signed state 0, each party
   * with its own persistent nonce store. `stepMs` is the per-step time limit.
   * CSV delays as a real deployment would pick them: the payer's channel
   * longest (the hub must outlast a stale state), the router's payee channel shortest.
   */
  static async create(root: string, relayUrl: string, stepMs: number): Promise<Stage> {
    const p = Object.fromEntries(ROLES.map((r) => [r, party(root, r, relayUrl)])) as Record<Role, Party>;
    const params = {
      as: channelParams(p.A.chPk, p.S.chPk, 288),
      sb: channelParams(p.S.chPk, p.B.chPk, 24),
      sp: channelParams(p.S.chPk, p.P.chPk, 24),
      pb: channelParams(p.P.chPk, p['B₂'].chPk, 12),
    };
    const kv = Object.fromEntries(ROLES.map((r) => [r, new LevelKv(p[r].dir)])) as Record<Role, LevelKv>;
    const nonces = (r: Role) => new KvNonceStore(kv[r]);
    try {
      const [asA, asS] = await openChannelPair(params.as, [600_000, 399_000], p.A.chSk, p.S.chSk, nonces('A'), nonces('S'));
      const [sbS, sbB] = await openChannelPair(params.sb, [700_000, 299_000], p.S.chSk, p.B.chSk, nonces('S'), nonces('B'));
      const [spS, spP] = await openChannelPair(params.sp, [700_000, 299_000], p.S.chSk, p.P.chSk, nonces('S'), nonces('P'));
      const [pbP, pbB] = await openChannelPair(params.pb, [800_000, 199_000], p.P.chSk, p['B₂'].chSk, nonces('P'), nonces('B₂'));
      return new Stage(relayUrl, p, params, { asA, asS, sbS, sbB, spS, spP, pbP, pbB }, stepMs);
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

  /** The router's view of its channel with the hub, and with B₂. */
  routerChannels(): { up: Channel; down: Channel } {
    const P = this.nodes.P!.engine;
    return { up: P.upstream.channel, down: P.downstream.get(hex(this.params.pb.channelId))!.channel };
  }

  /**
   * Channels by name, both views each: from each role's last runtime (online
   * or not: its engine holds what it last stored), or its state-0 view when
   * the role has never been online.
   */
  rows(which: ('A–S' | 'S–B' | 'S–P' | 'P–B₂')[]): ChannelRow[] {
    const l = this.last,
      i = this.init;
    const hub = (params: ChannelParams, fallback: Channel) => l.S?.engine.peers.get(hex(params.channelId))?.channel ?? fallback;
    const all: Record<string, ChannelRow> = {
      'A–S': { name: 'A–S', parties: ['A', 'S'], views: [l.A?.engine.channel ?? i.asA, hub(this.params.as, i.asS)] },
      'S–B': { name: 'S–B', parties: ['S', 'B'], views: [hub(this.params.sb, i.sbS), l.B?.engine.channel ?? i.sbB] },
      'S–P': { name: 'S–P', parties: ['S', 'P'], views: [hub(this.params.sp, i.spS), l.P?.engine.upstream.channel ?? i.spP] },
      'P–B₂': {
        name: 'P–B₂',
        parties: ['P', 'B₂'],
        views: [l.P?.engine.downstream.get(hex(this.params.pb.channelId))?.channel ?? i.pbP, l['B₂']?.engine.channel ?? i.pbB],
      },
    };
    return which.map((w) => all[w]!);
  }

  /** The hub's channel a payment or a payment request went out on, by its id: name, peer and channel. */
  #hubOut(id: string): { channel: string; peer: Role; ch: Channel; request: boolean } | undefined {
    const S = this.nodes.S?.engine;
    const req = S?.requests.get(id);
    const out = req?.payeeChannel ?? S?.payments.get(id)?.payeeChannel;
    if (!S || out === undefined) return undefined;
    const peer = out === hex(this.params.sp.channelId) ? 'P' : 'B';
    return { channel: `S–${peer}`, peer, ch: S.peers.get(out)!.channel, request: req !== undefined };
  }

  /** What an event concerns (state number, channel, counterparty), read from the engine when the event fires. */
  #contextOf(role: Role, e: PaymentEvent): EventContext {
    const id = 'offerId' in e ? e.offerId : '';
    switch (role) {
      case 'A':
        return { n: this.nodes.A?.engine.channel.topN, channel: 'A–S', peer: 'S' };
      case 'B': {
        const B = this.nodes.B?.engine;
        if (!B) return {};
        const request = B.requests.has(id);
        return { n: e.kind === 'request_sent' ? B.channel.topN : B.channel.enforceable.state.n, channel: 'S–B', peer: 'S', request };
      }
      case 'B₂':
        return { n: this.nodes['B₂']?.engine.channel.enforceable.state.n, channel: 'P–B₂', peer: 'P' };
      case 'P':
        return this.nodes.P ? { n: this.routerChannels().down.enforceable.state.n, channel: 'P–B₂', peer: 'B₂' } : {};
      case 'S': {
        if (!this.nodes.S) return {};
        if (e.kind === 'proposed' || e.kind === 'cancelled') return { n: this.hubChannel(this.params.as).topN, channel: 'A–S', peer: 'A' };
        const out = this.#hubOut(id);
        return out ? { n: out.ch.enforceable.state.n, channel: out.channel, peer: out.peer, request: out.request } : {};
      }
    }
  }

  /**
   * Records the point a PTLC for `offerId` is locked to, as `role`'s view of
   * `channel` holds it: in the pending state when just extended, in the
   * enforceable one when committed (the pending one may already settle it).
   */
  #notePoint(role: Role, channel: string, ch: Channel | undefined, offerId: string): void {
    const states = ch ? [ch.pending?.state, ch.enforceable.state] : [];
    const ptlc = states.flatMap((st) => st?.ptlcs ?? []).find((p) => hex(p.id) === offerId);
    if (ptlc) this.points.push({ role, channel, offerId, point: hex(ptlc.point) });
  }

  /** Both ends of every PTLC hop: the sender when it extends, the receiver when its state holds the PTLC. */
  #watchPoints(role: Role, e: PaymentEvent): void {
    if (e.kind === 'ptlc_extended' && role === 'S') {
      const out = this.#hubOut(e.offerId);
      this.#notePoint('S', out?.channel ?? '?', out?.ch, e.offerId);
    } else if (e.kind === 'ptlc_extended' && role === 'P') {
      // P extends downstream only once S's PTLC is enforceable by P: its upstream view holds it.
      const { up, down } = this.routerChannels();
      this.#notePoint('P', 'S–P', up, e.offerId);
      this.#notePoint('P', 'P–B₂', down, e.offerId);
    } else if (e.kind === 'ptlc_committed' && (role === 'B' || role === 'B₂')) {
      this.#notePoint(role, role === 'B' ? 'S–B' : 'P–B₂', this.nodes[role]?.engine.channel, e.offerId);
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
      this.#watchPoints(role, e);
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
    return node;
  }

  #base(r: Role) {
    return {
      identityKey: this.p[r].idSk,
      relays: [this.relayUrl],
      kv: new LevelKv(this.p[r].dir),
      ownsStore: true,
      chain: { height: () => HEIGHT },
      client: { WebSocket: WebSocket as never, reconnect: { minMs: 50, maxMs: 500 } },
    };
  }

  async openA(): Promise<PayerNode> {
    const { A, S } = this.p;
    const node = await this.guard(
      PayerNode.open({
        ...this.#base('A'),
        config: { hubKey: S.idPk, hubAddress: S.address, channelKey: A.chSk },
        channel: this.init.asA,
        hubFee: HUB_FEE,
      }),
      'opening A',
    );
    return (this.last.A = this.nodes.A = this.attach('A', node));
  }

  async openS(): Promise<HubNode> {
    const { A, S, B, P } = this.p;
    const node = await this.guard(
      HubNode.open({
        ...this.#base('S'),
        config: { channelKey: S.chSk, fee: HUB_FEE, safetyMargin: 6, maxTimeoutDelta: 100 },
        peers: [
          { channel: this.init.asS, peerKey: A.idPk, peerAddress: A.address },
          { channel: this.init.sbS, peerKey: B.idPk, peerAddress: B.address },
          { channel: this.init.spS, peerKey: P.idPk, peerAddress: P.address },
        ],
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
        channel: this.init.sbB,
      }),
      'opening B',
    );
    return (this.last.B = this.nodes.B = this.attach('B', node));
  }

  /** The router P: between S (P is party 1 of S–P) and its payee B₂ (party 0 of P–B₂); 30 blocks between its two timeouts. */
  async openP(): Promise<RouterNode> {
    const { S, P } = this.p;
    const B2 = this.p['B₂'];
    const node = await this.guard(
      RouterNode.open({
        ...this.#base('P'),
        config: { address: P.address, channelKey: P.chSk, cltvDelta: 30 },
        upstream: { channel: this.init.spP, peerKey: S.idPk, peerAddress: S.address },
        downstream: [{ channel: this.init.pbP, peerKey: B2.idPk, peerAddress: B2.address }],
      }),
      'opening P',
    );
    return (this.last.P = this.nodes.P = this.attach('P', node));
  }

  /** B₂: a payee whose partner is the router P, reachable from S's payers through P (`routedHubs`). */
  async openB2(): Promise<PayeeNode> {
    const { S, P } = this.p;
    const B2 = this.p['B₂'];
    const node = await this.guard(
      PayeeNode.open({
        ...this.#base('B₂'),
        config: {
          address: B2.address,
          channelKey: B2.chSk,
          hubKey: P.idPk,
          hubAddress: P.address,
          routedHubs: [S.idPk],
          timeoutDelta: 20,
          invoiceTtlMs: 3_600_000,
        },
        channel: this.init.pbB,
      }),
      'opening B₂',
    );
    return (this.last['B₂'] = this.nodes['B₂'] = this.attach('B₂', node));
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
    for (const r of ['A', 'B', 'B₂', 'P', 'S'] as const) await this.close(r).catch(() => undefined);
  }
}
