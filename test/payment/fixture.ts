/**
 * A three-party world (payer A, hub S, payee B) for the pure payment engines:
 * real keys, real channels co-signed at state 0, and a router that carries
 * every message through the real wire codec (encode → decode), as the
 * runtimes do inside sealed envelopes.
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { encodeMailboxAddress } from '../../protocol/address.js';
import { bytesToHex } from '../../protocol/bytes.js';
import {
  PaymentType, decodePayment, encodeChannelState, encodePayment, invoiceSigHash, type InvoiceFields, type PaymentMessage, type PaymentMessageOf,
} from '../../protocol/payment.js';
import { MemoryNonceStore } from '../../src/crypto/nonce.js';
import { openChannelPair } from '../../src/channel/open.js';
import type { ChannelParams, ChannelState } from '../../src/channel/state.js';
import { Channel } from '../../src/channel/channel.js';
import { Payer } from '../../src/payment/payer.js';
import { Hub } from '../../src/payment/hub.js';
import { Payee } from '../../src/payment/payee.js';
import { Router } from '../../src/payment/router.js';
import type { Outbound, PaymentEvent, Step, StepContext } from '../../src/payment/types.js';

export interface Party {
  idSk: Uint8Array;
  idPk: Uint8Array;
  chSk: Uint8Array;
  chPk: Uint8Array;
  address: string;
  nonces: MemoryNonceStore;
}

export function party(relay: string): Party {
  const idSk = schnorr.utils.randomSecretKey();
  const chSk = schnorr.utils.randomSecretKey();
  const idPk = schnorr.getPublicKey(idSk);
  return {
    idSk, idPk, chSk, chPk: schnorr.getPublicKey(chSk), nonces: new MemoryNonceStore(),
    address: encodeMailboxAddress({ publicKey: idPk, relays: [relay] }),
  };
}

export function channelParams(k0: Uint8Array, k1: Uint8Array, over: Partial<ChannelParams> = {}): ChannelParams {
  return {
    channelId: randomBytes(32), funding: { txid: randomBytes(32), vout: 0, amount: 1_000_000 }, keys: [k0, k1],
    csvDelay: 144, fees: { update: 500, settlement: 500, ptlc: 300 }, ...over,
  };
}

export interface World {
  A: Party; S: Party; B: Party;
  payer: Payer; hub: Hub; payee: Payee;
  asParams: ChannelParams; sbParams: ChannelParams;
  ctx: StepContext;
  /** Every message delivered so far, in order, with its sender role. */
  log: { from: 'A' | 'S' | 'B'; to: 'A' | 'S' | 'B'; message: PaymentMessage }[];
  events: PaymentEvent[];
  retracted: string[];
  /** Messages posted but not yet delivered (a mailbox per role). */
  queue: { from: 'A' | 'S' | 'B'; out: Outbound }[];
}

export async function makeWorld(opts: { asCsv?: number; payeeDelta?: number; hubMaxDelta?: number } = {}): Promise<World> {
  const relay = 'http://127.0.0.1:1';
  const A = party(relay), S = party(relay), B = party(relay);
  const asParams = channelParams(A.chPk, S.chPk, { csvDelay: opts.asCsv ?? 288 });
  const sbParams = channelParams(S.chPk, B.chPk, { csvDelay: 24 });
  const [aView, sViewA] = await openChannelPair(asParams, [600_000, 399_000], A.chSk, S.chSk, A.nonces, S.nonces);
  const [sViewB, bView] = await openChannelPair(sbParams, [700_000, 299_000], S.chSk, B.chSk, S.nonces, B.nonces);
  const payer = new Payer({ identityKey: A.idSk, hubKey: S.idPk, hubAddress: S.address, channelKey: A.chSk }, aView, A.nonces);
  const hub = new Hub(
    { identityKey: S.idPk, address: S.address, channelKey: S.chSk, fee: { base: 10, ppm: 1000 }, safetyMargin: 6, maxTimeoutDelta: opts.hubMaxDelta ?? 100 },
    [{ channel: sViewA, peerKey: A.idPk, peerAddress: A.address }, { channel: sViewB, peerKey: B.idPk, peerAddress: B.address }],
    S.nonces,
  );
  const payee = new Payee(
    { identityKey: B.idSk, address: B.address, channelKey: B.chSk, hubKey: S.idPk, hubAddress: S.address, timeoutDelta: opts.payeeDelta ?? 40, invoiceTtlMs: 3_600_000 },
    bView, B.nonces,
  );
  return { A, S, B, payer, hub, payee, asParams, sbParams, ctx: { now: 1_700_000_000_000, height: 800_000 }, log: [], events: [], retracted: [], queue: [] };
}

/** Queues a step's output as sent by `from`. */
export function post(w: World, from: 'A' | 'S' | 'B', s: Step): void {
  for (const out of s.send) w.queue.push({ from, out });
  w.events.push(...s.events);
  w.retracted.push(...s.retract);
}

function roleOf(w: World, address: string): 'A' | 'S' | 'B' {
  if (address === w.A.address) return 'A';
  if (address === w.S.address) return 'S';
  if (address === w.B.address) return 'B';
  throw new Error(`unknown address ${address}`);
}

/** Delivers one queued message through the wire codec to its recipient's engine. */
export async function deliverOne(w: World, filter: (to: 'A' | 'S' | 'B') => boolean = () => true): Promise<boolean> {
  const i = w.queue.findIndex((q) => filter(roleOf(w, q.out.to)));
  if (i < 0) return false;
  const [{ from, out }] = w.queue.splice(i, 1) as [{ from: 'A' | 'S' | 'B'; out: Outbound }];
  const to = roleOf(w, out.to);
  const wire = decodePayment(out.message.type, encodePayment(out.message));
  w.log.push({ from, to, message: wire });
  const inc = { from: w[from].idPk, message: wire };
  const engine = to === 'A' ? w.payer : to === 'S' ? w.hub : w.payee;
  post(w, to, await engine.handle(inc, w.ctx));
  return true;
}

/** Delivers until no message for the online roles is left. */
export async function run(w: World, online: ('A' | 'S' | 'B')[] = ['A', 'S', 'B']): Promise<void> {
  for (let i = 0; i < 1000; i++) if (!(await deliverOne(w, (to) => online.includes(to)))) return;
  throw new Error('message loop did not settle');
}

export const kinds = (w: World) => w.events.map((e) => e.kind);
export const hex = bytesToHex;

/** A starts paying B `amount` plus the hub's fee (unless `fee` is given); returns the offer id. */
export async function startPayment(w: World, amount: number, over: { expiry?: number; fee?: number; memo?: string } = {}): Promise<string> {
  const { offerId, step } = await w.payer.pay(
    {
      payee: { publicKey: w.B.idPk, address: w.B.address }, amount, fee: over.fee ?? w.hub.feeFor(amount),
      expiry: over.expiry ?? w.ctx.now + 3_600_000, memo: over.memo ?? 'coffee',
    },
    w.ctx,
  );
  post(w, 'A', step);
  return offerId;
}

/** B asks A (mode 2) for `amount` through the hub; returns the request id. */
export async function prepareRequest(w: World, amount: number, over: { expiry?: number } = {}): Promise<string> {
  const { requestId, step } = await w.payee.request(
    { payer: { publicKey: w.A.idPk, address: w.A.address }, amount, expiry: over.expiry ?? w.ctx.now + 3_600_000, memo: 'rent' }, w.ctx,
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
  inv: PaymentMessageOf<typeof PaymentType.INVOICE>, signer: Uint8Array, over: Partial<InvoiceFields> = {},
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
  ch: Channel, me: Party, build: (copy: Channel) => ChannelState,
): Promise<{ state: ChannelState; encoded: Uint8Array; settleSig: Uint8Array; updateNonce: Uint8Array }> {
  const copy = Channel.fromJSON(JSON.parse(JSON.stringify(ch.toJSON())));
  const state = build(copy);
  copy.propose(state);
  return { state, encoded: encodeChannelState(state), settleSig: copy.signSettlement(me.chSk), updateNonce: await copy.commitUpdateNonce(me.nonces, me.chSk) };
}

/** The hub's view of its channel with the payer and with the payee. */
export const hubChannels = (w: World) => ({
  as: w.hub.peers.get(bytesToHex(w.asParams.channelId))!.channel,
  sb: w.hub.peers.get(bytesToHex(w.sbParams.channelId))!.channel,
});

/** Every engine's persisted state, to show that a refused message changed nothing. */
export const snapshot = (w: World) => JSON.stringify({ payer: w.payer.toJSON(), hub: w.hub.toJSON(), payee: w.payee.toJSON() });

/** A role of the privacy-hop world. */
export type HopRole = 'A' | 'S' | 'P' | 'B';

/**
 * The privacy hop S→P→B: payer A and hub S as in {@link makeWorld}, the payee B
 * behind a router P. `run(stop)` delivers in order (through the wire codec)
 * until the queue is empty or the next message matches `stop`, which stays queued.
 */
export async function hopWorld() {
  const relay = 'http://127.0.0.1:1';
  const A = party(relay), S = party(relay), P = party(relay), B = party(relay);
  const as = channelParams(A.chPk, S.chPk, { csvDelay: 288 });
  const sp = channelParams(S.chPk, P.chPk, { csvDelay: 24 });
  const pb = channelParams(P.chPk, B.chPk, { csvDelay: 12 });
  const [aV, sA] = await openChannelPair(as, [600_000, 399_000], A.chSk, S.chSk, A.nonces, S.nonces);
  const [sP, pS] = await openChannelPair(sp, [700_000, 299_000], S.chSk, P.chSk, S.nonces, P.nonces);
  const [pB, bV] = await openChannelPair(pb, [800_000, 199_000], P.chSk, B.chSk, P.nonces, B.nonces);
  const engines = {
    A: new Payer({ identityKey: A.idSk, hubKey: S.idPk, hubAddress: S.address, channelKey: A.chSk }, aV, A.nonces),
    S: new Hub(
      { identityKey: S.idPk, address: S.address, channelKey: S.chSk, fee: { base: 10, ppm: 1000 }, safetyMargin: 6, maxTimeoutDelta: 100 },
      [{ channel: sA, peerKey: A.idPk, peerAddress: A.address }, { channel: sP, peerKey: P.idPk, peerAddress: P.address }], S.nonces,
    ),
    P: new Router({ identityKey: P.idSk, address: P.address, channelKey: P.chSk, cltvDelta: 30 },
      { channel: pS, peerKey: S.idPk, peerAddress: S.address }, [{ channel: pB, peerKey: B.idPk, peerAddress: B.address }], P.nonces),
    B: new Payee({ identityKey: B.idSk, address: B.address, channelKey: B.chSk, hubKey: P.idPk, hubAddress: P.address, routedHubs: [S.idPk], timeoutDelta: 20, invoiceTtlMs: 3_600_000 }, bV, B.nonces),
  };
  const parties: Record<HopRole, Party> = { A, S, P, B };
  const ctx = { now: 1_700_000_000_000, height: 800_000 };
  const queue: { from: HopRole; to: HopRole; message: PaymentMessage }[] = [];
  const seen: Record<HopRole, PaymentMessage[]> = { A: [], S: [], P: [], B: [] };
  const events: Record<HopRole, PaymentEvent[]> = { A: [], S: [], P: [], B: [] };
  const roleOf = (addr: string) => (Object.keys(parties) as HopRole[]).find((r) => parties[r].address === addr)!;
  const post = (from: HopRole, s: Step) => {
    for (const o of s.send) queue.push({ from, to: roleOf(o.to), message: o.message });
    events[from].push(...s.events);
  };
  const run = async (stop: (q: (typeof queue)[number]) => boolean = () => false) => {
    for (let i = 0; i < 500 && queue.length && !stop(queue[0]!); i++) {
      const q = queue.shift()!;
      const msg = decodePayment(q.message.type, encodePayment(q.message));
      seen[q.to].push(msg);
      post(q.to, await engines[q.to].handle({ from: parties[q.from].idPk, message: msg }, ctx));
    }
  };
  return { engines, parties, ctx, queue, post, run, seen, events, as, sp, pb };
}

/** A starts paying B (behind P) `amount` plus the hub's fee; returns the offer id. */
export async function hopPay(w: Awaited<ReturnType<typeof hopWorld>>, amount: number): Promise<string> {
  const { offerId, step } = await w.engines.A.pay(
    { payee: { publicKey: w.parties.B.idPk, address: w.parties.B.address }, amount, fee: w.engines.S.feeFor(amount), expiry: w.ctx.now + 3_600_000 }, w.ctx,
  );
  w.post('A', step);
  return offerId;
}

/** The role whose mailbox is `address`. */
export function roleAt(w: World, address: string): 'A' | 'S' | 'B' {
  for (const r of ['A', 'S', 'B'] as const) if (w[r].address === address) return r;
  throw new Error(`unknown address ${address}`);
}
