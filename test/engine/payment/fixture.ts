/**
 * A three-party world (payer A, hub S, payee B) for the pure payment engines:
 * real keys, real channels co-signed at state 0, and a router that carries
 * every message through the real wire codec (encode → decode), as the
 * runtimes do inside sealed envelopes.
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { encodeMailboxAddress } from '../../../protocol/address.js';
import { bytesToHex, hexToBytes } from '../../../base/bytes.js';
import {
  PaymentType,
  decodePayment,
  encodeChannelState,
  encodePayment,
  invoiceSigHash,
  type InvoiceFields,
  type PaymentMessage,
  type PaymentMessageOf,
} from '../../../protocol/payment.js';
import { ErrorCode, LnMailboxError } from '../../../base/errors.js';
import { MemoryNonceStore, signWithCommittedNonce, ticketNonceId } from '../../../crypto/nonce.js';
import { receiptSecretKey } from '../../../protocol/receipt.js';
import { adaptorPoint } from '../../../crypto/adaptor.js';
import { openChannelPair } from '../../../engine/channel/open.js';
import type { ChannelParams, ChannelState } from '../../../engine/channel/state.js';
import { Channel } from '../../../engine/channel/channel.js';
import { Payer } from '../../../engine/payment/payer/payer.js';
import { Hub, type HubPayment, type HubRequest } from '../../../engine/payment/hub/hub.js';
import { Payee } from '../../../engine/payment/payee/payee.js';
import { Router, type RouterPayment } from '../../../engine/payment/router.js';
import type { Outbound, PaymentEvent, Step, StepContext } from '../../../engine/payment/types.js';
import { hubFee } from '../../../engine/payment/fee.js';

/**
 * Fault injection for a store: `store` forwards every method call to the
 * wrapped object; once armed with `k`, the k-th method call (counting any
 * method, whatever its name) throws STORE_UNAVAILABLE ('disk full'), either
 * instead of the call ('before': nothing written) or after it went through
 * ('after': e.g. the nonce is burned but the caller sees a failure).
 */
export interface Faults<T extends object> {
  store: T;
  arm(k: number, when?: 'before' | 'after'): void;
  disarm(): void;
  /** Method calls counted since the last arm. */
  readonly calls: number;
  /** True once the armed fault has fired. */
  readonly fired: boolean;
}

export function faultyStore<T extends object>(inner: T): Faults<T> {
  let armed: { k: number; when: 'before' | 'after' } | undefined;
  let calls = 0;
  let fired = false;
  const boom = () => new LnMailboxError(ErrorCode.STORE_UNAVAILABLE, 'disk full');
  const store = new Proxy(inner, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (!armed) return (v as (...a: unknown[]) => unknown).apply(target, args);
        const hit = ++calls === armed.k;
        if (hit && armed.when === 'before') {
          fired = true;
          throw boom();
        }
        const r = (v as (...a: unknown[]) => unknown).apply(target, args);
        if (!hit) return r;
        fired = true;
        return Promise.resolve(r).then(() => Promise.reject(boom()));
      };
    },
  });
  return {
    store,
    arm(k, when = 'before') {
      armed = { k, when };
      calls = 0;
      fired = false;
    },
    disarm() {
      armed = undefined;
    },
    get calls() {
      return calls;
    },
    get fired() {
      return fired;
    },
  };
}

export interface Party {
  idSk: Uint8Array;
  idPk: Uint8Array;
  chSk: Uint8Array;
  chPk: Uint8Array;
  address: string;
  nonces: MemoryNonceStore;
  /** Fault injection on `nonces` (disarmed: a plain pass-through). */
  faults: Faults<MemoryNonceStore>;
}

export function party(relay: string): Party {
  const idSk = schnorr.utils.randomSecretKey();
  const chSk = schnorr.utils.randomSecretKey();
  const idPk = schnorr.getPublicKey(idSk);
  const faults = faultyStore(new MemoryNonceStore());
  return {
    idSk,
    idPk,
    chSk,
    chPk: schnorr.getPublicKey(chSk),
    nonces: faults.store,
    faults,
    address: encodeMailboxAddress({ publicKey: idPk, relays: [relay] }),
  };
}

export function channelParams(k0: Uint8Array, k1: Uint8Array, over: Partial<ChannelParams> = {}): ChannelParams {
  return {
    channelId: randomBytes(32),
    funding: { txid: randomBytes(32), vout: 0, amount: 1_000_000 },
    keys: [k0, k1],
    csvDelay: 144,
    fees: { update: 500, settlement: 500, ptlc: 300 },
    ...over,
  };
}

export interface World {
  A: Party;
  S: Party;
  B: Party;
  payer: Payer;
  hub: Hub;
  payee: Payee;
  asParams: ChannelParams;
  sbParams: ChannelParams;
  ctx: StepContext;
  /** Every message delivered so far, in order, with its sender role. */
  log: { from: 'A' | 'S' | 'B'; to: 'A' | 'S' | 'B'; message: PaymentMessage }[];
  events: PaymentEvent[];
  retracted: string[];
  /** Messages posted but not yet delivered (a mailbox per role). */
  queue: { from: 'A' | 'S' | 'B'; out: Outbound }[];
  /** Finished payments the hub moved out of its state (its steps' `archive`), as the runtime stores them. */
  archive: Map<string, HubPayment>;
  /** Finished records the payer and the payee moved out of their state (their steps' `archive`), by role and id. */
  walletArchive: { A: Map<string, object>; B: Map<string, object> };
}

export async function makeWorld(opts: { asCsv?: number; payeeDelta?: number; hubMaxDelta?: number } = {}): Promise<World> {
  const relay = 'http://127.0.0.1:1';
  const A = party(relay),
    S = party(relay),
    B = party(relay);
  const asParams = channelParams(A.chPk, S.chPk, { csvDelay: opts.asCsv ?? 288 });
  const sbParams = channelParams(S.chPk, B.chPk, { csvDelay: 24 });
  const [aView, sViewA] = await openChannelPair(asParams, [600_000, 399_000], A.chSk, S.chSk, A.nonces, S.nonces);
  const [sViewB, bView] = await openChannelPair(sbParams, [700_000, 299_000], S.chSk, B.chSk, S.nonces, B.nonces);
  const payer = new Payer({ identityKey: A.idSk, hubKey: S.idPk, hubAddress: S.address, channelKey: A.chSk }, aView, A.nonces);
  const hub = new Hub(
    {
      identityKey: S.idSk,
      channelKey: S.chSk,
      fee: { base: 10, ppm: 1000 },
      safetyMargin: 6,
      maxTimeoutDelta: opts.hubMaxDelta ?? 100,
    },
    [
      { channel: sViewA, peerKey: A.idPk, peerAddress: A.address },
      { channel: sViewB, peerKey: B.idPk, peerAddress: B.address },
    ],
    S.nonces,
  );
  const payee = new Payee(
    {
      identityKey: B.idSk,
      address: B.address,
      channelKey: B.chSk,
      hubKey: S.idPk,
      hubAddress: S.address,
      timeoutDelta: opts.payeeDelta ?? 40,
      invoiceTtlMs: 3_600_000,
    },
    bView,
    B.nonces,
  );
  return {
    A,
    S,
    B,
    payer,
    hub,
    payee,
    asParams,
    sbParams,
    ctx: { now: 1_700_000_000_000, height: 800_000 },
    log: [],
    events: [],
    retracted: [],
    queue: [],
    archive: new Map(),
    walletArchive: { A: new Map(), B: new Map() },
  };
}

/** Queues a step's output as sent by `from`. */
export function post(w: World, from: 'A' | 'S' | 'B', s: Step): void {
  for (const out of s.send) w.queue.push({ from, out });
  w.events.push(...s.events);
  w.retracted.push(...s.retract);
  for (const a of s.archive ?? [])
    if (from === 'S') w.archive.set(a.id, a.record as HubPayment);
    else w.walletArchive[from].set(a.id, a.record);
}

/** The hub's request `id`: in its state, or archived once finished. */
export function hubRequest(w: Pick<World, 'hub' | 'archive'>, id: string): HubRequest | undefined {
  return w.hub.requests.get(id) ?? (w.archive.get(id) as unknown as HubRequest | undefined);
}

/** The hub's payment `id`: in its state, or archived once finished. */
export function hubPayment(w: Pick<World, 'hub' | 'archive'>, id: string): HubPayment | undefined {
  return w.hub.payments.get(id) ?? w.archive.get(id);
}

function roleOf(w: World, address: string): 'A' | 'S' | 'B' {
  if (address === w.A.address) return 'A';
  if (address === w.S.address) return 'S';
  if (address === w.B.address) return 'B';
  throw new Error(`unknown address ${address}`);
}

/** The recipient role of a queued message. */
export function recipient(w: World, q: { out: Outbound }): 'A' | 'S' | 'B' {
  return roleOf(w, q.out.to);
}

/**
 * Hands queued message `i` to its recipient's engine through the wire codec
 * and returns the step without posting it (or the error the engine threw).
 * The message is taken off the queue and logged.
 */
export async function handleQueued(
  w: World,
  i: number,
): Promise<{ item: { from: 'A' | 'S' | 'B'; out: Outbound }; to: 'A' | 'S' | 'B'; step?: Step; error?: unknown }> {
  const [item] = w.queue.splice(i, 1) as [{ from: 'A' | 'S' | 'B'; out: Outbound }];
  const to = roleOf(w, item.out.to);
  const wire = decodePayment(item.out.message.type, encodePayment(item.out.message));
  w.log.push({ from: item.from, to, message: wire });
  const inc = { from: w[item.from].idPk, message: wire };
  const engine = to === 'A' ? w.payer : to === 'S' ? w.hub : w.payee;
  try {
    return { item, to, step: await engine.handle(inc, w.ctx) };
  } catch (error) {
    return { item, to, error };
  }
}

/** Delivers one queued message through the wire codec to its recipient's engine. */
export async function deliverOne(w: World, filter: (to: 'A' | 'S' | 'B') => boolean = () => true): Promise<boolean> {
  const i = w.queue.findIndex((q) => filter(roleOf(w, q.out.to)));
  if (i < 0) return false;
  const r = await handleQueued(w, i);
  if (r.error !== undefined) throw r.error;
  post(w, r.to, r.step!);
  return true;
}

/** Delivers until no message for the online roles is left. */
export async function run(w: World, online: ('A' | 'S' | 'B')[] = ['A', 'S', 'B']): Promise<void> {
  for (let i = 0; i < 1000; i++) if (!(await deliverOne(w, (to) => online.includes(to)))) return;
  throw new Error('message loop did not settle');
}

export const kinds = (w: World) => w.events.map((e) => e.kind);
export const hex = bytesToHex;

/** B requests from A (SPEC 6.14) `amount` through the hub; returns the request id. */
export async function prepareRequest(w: World, amount: number, over: { expiry?: number } = {}): Promise<string> {
  const { requestId, step } = await w.payee.request(
    { payer: { publicKey: w.A.idPk, address: w.A.address }, amount, expiry: over.expiry ?? w.ctx.now + 3_600_000, memo: 'rent' },
    w.ctx,
  );
  post(w, 'B', step);
  return requestId;
}

/**
 * Delivers messages to the `online` roles until one of type `type` is queued
 * (not delivered); returns its queue entry.
 */
export async function until(w: World, type: number, online: ('A' | 'S' | 'B')[] = ['A', 'S', 'B']): Promise<World['queue'][number]> {
  for (let i = 0; i < 200; i++) {
    const q = w.queue.find((x) => x.out.message.type === type);
    if (q) return q;
    if (!(await deliverOne(w, (to) => online.includes(to)))) break;
  }
  throw new Error(`no message of type ${type} was queued`);
}

/** Takes the queued message `q` out of the queue; returns its message. */
export function take<T extends PaymentMessage>(w: World, q: World['queue'][number]): T {
  w.queue.splice(w.queue.indexOf(q), 1);
  return q.out.message as T;
}

/** Hands `message` from `from` to its recipient's engine through the wire codec, as {@link deliverOne} does. */
export async function inject(w: World, from: 'A' | 'S' | 'B', to: 'A' | 'S' | 'B', message: PaymentMessage): Promise<void> {
  w.queue.unshift({ from, out: { to: w[to].address, message } });
  await deliverOne(w, (r) => r === to);
}

/** The invoice `inv` with `over` applied, signed again by `signer` (an identity secret key). */
export function resignInvoice(
  inv: PaymentMessageOf<typeof PaymentType.INVOICE>,
  signer: Uint8Array,
  over: Partial<InvoiceFields> = {},
): PaymentMessageOf<typeof PaymentType.INVOICE> {
  const { signature: _old, type: _type, ...fields } = { ...inv, ...over };
  return { type: PaymentType.INVOICE, ...fields, signature: schnorr.sign(invoiceSigHash(fields), signer) };
}

/**
 * A dishonest party's own proposal: state `build(channel)` proposed on a copy
 * of that party's channel (the engine would refuse to make it), with a valid
 * settlement signature and a committed update nonce, as a peer would check them.
 */
export async function forgeState(
  ch: Channel,
  me: Party,
  build: (copy: Channel) => ChannelState,
): Promise<{
  state: ChannelState;
  encoded: Uint8Array;
  settleSig: Uint8Array;
  updateNonce: Uint8Array;
  receiptPoint: Uint8Array;
  updatePresig: Uint8Array;
}> {
  const copy = Channel.fromJSON(JSON.parse(JSON.stringify(ch.toJSON())));
  const state = build(copy);
  copy.propose(state);
  // A payer's proposal carries its update pre-signed to a receipt point instead of a nonce (SPEC 6.16).
  const other = Channel.fromJSON(JSON.parse(JSON.stringify(ch.toJSON())));
  other.propose(state);
  const receiptPoint = adaptorPoint(randomBytes(32));
  return {
    state,
    encoded: encodeChannelState(state),
    settleSig: copy.signSettlement(me.chSk),
    updateNonce: await copy.commitUpdateNonce(me.nonces, me.chSk),
    receiptPoint,
    updatePresig: other.presignUpdate(me.chSk, receiptPoint),
  };
}

/** The hub's view of its channel with the payer and with the payee. */
export const hubChannels = (w: World) => ({
  as: w.hub.peers.get(bytesToHex(w.asParams.channelId))!.channel,
  sb: w.hub.peers.get(bytesToHex(w.sbParams.channelId))!.channel,
});

/**
 * An engine's persisted state as a string, to show that a refused message
 * changed nothing — leaving out `seenN`: a refused proposal that carries the
 * peer's valid settlement signature marks its number as the peer's, by design.
 */
export const stateOf = (e: { toJSON(): unknown }) => JSON.stringify(e.toJSON(), (k, v: unknown) => (k === 'seenN' ? undefined : v));

/** Every engine's persisted state (see {@link stateOf}), to show that a refused message changed nothing. */
export const snapshot = (w: World) =>
  stateOf({ toJSON: () => ({ payer: w.payer.toJSON(), hub: w.hub.toJSON(), payee: w.payee.toJSON() }) });

/** Roles of the router world: payer A, hub S, router P, payees B and C behind P. */
export type HopRole = 'A' | 'S' | 'P' | 'B' | 'C';

/**
 * The privacy-hop world S→P→B: A–S, S–P (P party 1) and P–B, P–C (P party 0).
 * Messages go through the wire codec; `run` delivers in FIFO order until the
 * queue is empty (or only messages for roles outside `online` are left).
 */
export async function hopWorld() {
  const relay = 'http://127.0.0.1:1';
  const A = party(relay),
    S = party(relay),
    P = party(relay),
    B = party(relay),
    C = party(relay);
  const as = channelParams(A.chPk, S.chPk, { csvDelay: 288 });
  const sp = channelParams(S.chPk, P.chPk, { csvDelay: 24 });
  const pb = channelParams(P.chPk, B.chPk, { csvDelay: 12 });
  const pc = channelParams(P.chPk, C.chPk, { csvDelay: 12 });
  const [aV, sA] = await openChannelPair(as, [600_000, 399_000], A.chSk, S.chSk, A.nonces, S.nonces);
  const [sP, pS] = await openChannelPair(sp, [700_000, 299_000], S.chSk, P.chSk, S.nonces, P.nonces);
  const [pB, bV] = await openChannelPair(pb, [800_000, 199_000], P.chSk, B.chSk, P.nonces, B.nonces);
  const [pC, cV] = await openChannelPair(pc, [800_000, 199_000], P.chSk, C.chSk, P.nonces, C.nonces);
  const payee = (X: Party, view: typeof bV) =>
    new Payee(
      {
        identityKey: X.idSk,
        address: X.address,
        channelKey: X.chSk,
        hubKey: P.idPk,
        hubAddress: P.address,
        routedHubs: [S.idPk],
        timeoutDelta: 20,
        invoiceTtlMs: 3_600_000,
      },
      view,
      X.nonces,
    );
  const engines = {
    A: new Payer({ identityKey: A.idSk, hubKey: S.idPk, hubAddress: S.address, channelKey: A.chSk }, aV, A.nonces),
    S: new Hub(
      { identityKey: S.idSk, channelKey: S.chSk, fee: { base: 10, ppm: 1000 }, safetyMargin: 6, maxTimeoutDelta: 100 },
      [
        { channel: sA, peerKey: A.idPk, peerAddress: A.address },
        { channel: sP, peerKey: P.idPk, peerAddress: P.address },
      ],
      S.nonces,
    ),
    P: new Router(
      { identityKey: P.idSk, address: P.address, channelKey: P.chSk, cltvDelta: 30 },
      { channel: pS, peerKey: S.idPk, peerAddress: S.address },
      [
        { channel: pB, peerKey: B.idPk, peerAddress: B.address },
        { channel: pC, peerKey: C.idPk, peerAddress: C.address },
      ],
      P.nonces,
    ),
    B: payee(B, bV),
    C: payee(C, cV),
  };
  const parties: Record<HopRole, Party> = { A, S, P, B, C };
  const ctx = { now: 1_700_000_000_000, height: 800_000 };
  const queue: { from: HopRole; to: HopRole; message: PaymentMessage }[] = [];
  const seen: Record<HopRole, PaymentMessage[]> = { A: [], S: [], P: [], B: [], C: [] };
  const events: Record<HopRole, PaymentEvent[]> = { A: [], S: [], P: [], B: [], C: [] };
  /** Finished payments each role's engine moved out of its state (its steps' `archive`), by id. */
  const archive: Record<HopRole, Map<string, object>> = { A: new Map(), S: new Map(), P: new Map(), B: new Map(), C: new Map() };
  /** The router's payment `id`: in its state, or archived once finished. */
  const routerPayment = (id: string): RouterPayment | undefined =>
    engines.P.payments.get(id) ?? (archive.P.get(id) as RouterPayment | undefined);
  const roleOf = (addr: string) => (Object.keys(parties) as HopRole[]).find((r) => parties[r].address === addr)!;
  const post = (from: HopRole, s: Step) => {
    for (const o of s.send) queue.push({ from, to: roleOf(o.to), message: o.message });
    events[from].push(...s.events);
    for (const a of s.archive ?? []) archive[from].set(a.id, a.record);
  };
  /** Delivers `message` from `from` to `to` now (not queued), through the wire codec. */
  const deliver = async (from: HopRole, to: HopRole, message: PaymentMessage) => {
    const msg = decodePayment(message.type, encodePayment(message));
    seen[to].push(msg);
    post(to, await engines[to].handle({ from: parties[from].idPk, message: msg }, ctx));
  };
  /**
   * Delivers in order to the roles in `online` until nothing is left for
   * them; or, given a predicate, in order until the next message matches it
   * (that message stays queued).
   */
  const run = async (arg: HopRole[] | ((q: (typeof queue)[number]) => boolean) = ['A', 'S', 'P', 'B', 'C']) => {
    const online = Array.isArray(arg) ? arg : (['A', 'S', 'P', 'B', 'C'] as HopRole[]);
    const stop = typeof arg === 'function' ? arg : () => false;
    for (let i = 0; i < 500; i++) {
      const j = queue.findIndex((q) => online.includes(q.to));
      if (j < 0 || stop(queue[j]!)) return;
      const [q] = queue.splice(j, 1);
      await deliver(q!.from, q!.to, q!.message);
    }
    throw new Error('message loop did not settle');
  };
  return { engines, parties, ctx, post, deliver, run, queue, seen, events, archive, routerPayment, as, sp, pb, pc };
}
export type HopWorld = Awaited<ReturnType<typeof hopWorld>>;

/**
 * A second payer A2 of the hub in a hop world (its own A–S channel), paying
 * `payee` behind P. A2 is outside the world's roles: `send` delivers its own
 * messages at once to their recipients (with A2 as the sender), and `toA2`
 * hands it every queued message for it (those have no role in the world).
 */
export async function hopSecondPayer(w: HopWorld, payee: 'B' | 'C' = 'C') {
  const A2 = party('http://127.0.0.1:1');
  const S = w.parties.S;
  const params = channelParams(A2.chPk, S.chPk, { csvDelay: 288 });
  const [a2View, sView] = await openChannelPair(params, [600_000, 399_000], A2.chSk, S.chSk, A2.nonces, S.nonces);
  w.engines.S.peers.set(bytesToHex(params.channelId), { channel: sView, peerKey: A2.idPk, peerAddress: A2.address });
  const payer = new Payer({ identityKey: A2.idSk, hubKey: S.idPk, hubAddress: S.address, channelKey: A2.chSk }, a2View, A2.nonces);
  const roleAt = (addr: string) => (['S', 'P', 'B', 'C'] as const).find((r) => w.parties[r].address === addr)!;
  const send = async (s: Step) => {
    for (const o of s.send) {
      const to = roleAt(o.to);
      w.post(to, await w.engines[to].handle({ from: A2.idPk, message: o.message }, w.ctx));
    }
  };
  const toA2 = async () => {
    for (;;) {
      const i = w.queue.findIndex((q) => q.to === undefined);
      if (i < 0) return;
      const message: PaymentMessage = w.queue.splice(i, 1)[0]!.message;
      await send(await payer.handle({ from: S.idPk, message }, w.ctx));
    }
  };
  const pay = async (amount: number) => {
    const { offerId, step } = await payer.pay(
      {
        payee: { publicKey: w.parties[payee].idPk, address: w.parties[payee].address },
        ticket: await ticketFor(w.engines[payee]),
        amount,
        fee: hubFee(amount, w.engines.S.config.fee),
        expiry: w.ctx.now + 3_600_000,
      },
      w.ctx,
    );
    await send(step);
    return offerId;
  };
  return { payer, pay, send, toA2, params };
}

/**
 * One fresh receipt ticket of `payee` (SPEC 6.16): the payee tops its tickets up by one and
 * the newest is returned, as a payer would pick an unused one from the published batch.
 */
export async function ticketFor(payee: Payee): Promise<Uint8Array> {
  await payee.issueTickets(payee.tickets.length + 1, 1_700_000_000_000);
  return hexToBytes(payee.tickets[payee.tickets.length - 1]!, 32);
}

/** s_B of an offer B burned a ticket for: what B reveals (signing the bound message again is idempotent). */
export async function payeeReceiptSecret(w: World, offerId: string): Promise<Uint8Array> {
  const p = w.payee.payments.get(offerId)!;
  const sig = await signWithCommittedNonce(
    w.B.nonces,
    ticketNonceId(hexToBytes(p.ticket, 32)),
    receiptSecretKey(w.B.idSk),
    hexToBytes(p.receiptMessage, 32),
  );
  return sig.slice(32, 64);
}

/** A starts paying B `amount` plus the hub's fee (unless `fee` is given); returns the offer id. */
export async function startPayment(w: World, amount: number, over: { expiry?: number; fee?: number; memo?: string } = {}): Promise<string> {
  const { offerId, step } = await w.payer.pay(
    {
      payee: { publicKey: w.B.idPk, address: w.B.address },
      ticket: await ticketFor(w.payee),
      amount,
      fee: over.fee ?? hubFee(amount, w.hub.config.fee),
      expiry: over.expiry ?? w.ctx.now + 3_600_000,
      memo: over.memo ?? 'coffee',
    },
    w.ctx,
  );
  post(w, 'A', step);
  return offerId;
}

/** The hub's view of the A–S and S–B channels. */
export const hubAS = (w: World) => w.hub.peers.get(bytesToHex(w.asParams.channelId))!.channel;
export const hubSB = (w: World) => w.hub.peers.get(bytesToHex(w.sbParams.channelId))!.channel;

/**
 * Every BIP340 signature carried by a message of `msgs` or held in a state
 * record of `records`, grouped by nonce (R.x): a nonce that appears with two
 * different s values signed two different messages (the key is then lost).
 * Returns the reused nonces (hex).
 */
export function reusedNonces(msgs: unknown[], records: unknown[] = []): string[] {
  const byR = new Map<string, Set<string>>();
  const visit = (v: unknown, name: string): void => {
    if (v instanceof Uint8Array) {
      if (/sig/i.test(name) && (v.length === 64 || v.length === 65)) {
        const R = bytesToHex(v.subarray(0, 32));
        if (!byR.has(R)) byR.set(R, new Set());
        byR.get(R)!.add(bytesToHex(v.subarray(32, 64)));
      }
      return;
    }
    if (typeof v === 'string' && /sig/i.test(name) && /^[0-9a-f]{128,130}$/.test(v)) {
      visit(
        Uint8Array.from(
          v
            .slice(0, 128)
            .match(/../g)!
            .map((x) => parseInt(x, 16)),
        ),
        name,
      );
      return;
    }
    if (Array.isArray(v)) v.forEach((x) => visit(x, name));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) visit(x, k);
  };
  msgs.forEach((m) => visit(m, ''));
  records.forEach((r) => visit(r, ''));
  return [...byR].filter(([, s]) => s.size > 1).map(([R]) => R);
}

/** The paths at which two JSON-safe values differ (at most `max`), for short failure messages. */
export function jsonDiff(a: unknown, b: unknown, path = '$', out: string[] = [], max = 8): string[] {
  if (out.length >= max) return out;
  if (a === b) return out;
  if (a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) jsonDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`, out, max);
    return out;
  }
  const show = (v: unknown) => (v === undefined ? 'absent' : JSON.stringify(v).slice(0, 40));
  out.push(`${path}: ${show(a)} → ${show(b)}`);
  return out;
}

/** The name of a payment message type number (for failure messages). */
export const typeName = (n: number): string => Object.entries(PaymentType).find(([, v]) => v === n)?.[0] ?? String(n);

/** A starts paying B (behind P) `amount` plus the hub's fee; returns the offer id. */
export async function hopPay(w: Awaited<ReturnType<typeof hopWorld>>, amount: number): Promise<string> {
  const { offerId, step } = await w.engines.A.pay(
    {
      payee: { publicKey: w.parties.B.idPk, address: w.parties.B.address },
      ticket: await ticketFor(w.engines.B),
      amount,
      fee: hubFee(amount, w.engines.S.config.fee),
      expiry: w.ctx.now + 3_600_000,
    },
    w.ctx,
  );
  w.post('A', step);
  return offerId;
}

/** The role whose mailbox is `address`. */
export function roleAt(w: World, address: string): 'A' | 'S' | 'B' {
  for (const r of ['A', 'S', 'B'] as const) if (w[r].address === address) return r;
  throw new Error(`unknown address ${address}`);
}
