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
import { decodePayment, encodePayment, type PaymentMessage } from '../../protocol/payment.js';
import { MemoryNonceStore } from '../../src/crypto/nonce.js';
import { openChannelPair } from '../../src/channel/open.js';
import type { ChannelParams } from '../../src/channel/state.js';
import { Payer } from '../../src/payment/payer.js';
import { Hub } from '../../src/payment/hub.js';
import { Payee } from '../../src/payment/payee.js';
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
