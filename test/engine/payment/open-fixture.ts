/**
 * A world for channel opens (SPEC 6.17) between the pure engines: a hub with
 * signed terms and no channel, a payer and a payee with no channel, their
 * wallets (SingleKeyWallet) and chain sources (EsploraChainSource) over the
 * chain simulator served on loopback, and a router that carries every
 * message through the real wire codec. The open driver (client) runs the
 * chain side of each role as a runtime would.
 */
import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8 } from '../../../base/bytes.js';
import { getPublicKey } from '../../../crypto/bip340.js';
import { MemoryNonceStore } from '../../../crypto/nonce.js';
import { encodeMailboxAddress } from '../../../protocol/address.js';
import { decodePayment, encodePayment, PaymentType, type PaymentMessage, type PaymentMessageOf } from '../../../protocol/payment.js';
import { signTerms, type HubTerms } from '../../../protocol/terms.js';
import { EsploraChainSource } from '../../../client/chain/esplora.js';
import { SingleKeyWallet } from '../../../client/chain/single-key-wallet.js';
import { OpenDriver } from '../../../client/wallet/open-driver.js';
import { Hub } from '../../../engine/payment/hub/hub.js';
import type { OpeningEngine } from '../../../engine/payment/open/common.js';
import { Payee } from '../../../engine/payment/payee/payee.js';
import { Payer } from '../../../engine/payment/payer/payer.js';
import type { PaymentEngine } from '../../../engine/payment/engine.js';
import type { PaymentEvent, Step, StepContext } from '../../../engine/payment/types.js';
import { ChainModel } from '../../../sim/chain-model.js';
import { startEsploraServer, type EsploraServer } from '../../../sim/esplora-server.js';

export type Role = 'A' | 'S' | 'B';
const sk = (label: string, seed: string) => sha256(utf8(`ln-mailbox/test/open/${seed}/${label}`));

/** The terms of the test hub (its keys and fee are filled in). */
export const POLICY = {
  serial: 1,
  feeBase: 10,
  feePpm: 1000,
  csvMin: 12,
  csvMax: 500,
  maxTimeoutDelta: 100,
  minCapacity: 100_000,
  maxCapacity: 5_000_000,
  maxHubFunded: 2_000_000,
  updateFee: 500,
  settlementFee: 500,
  ptlcFee: 300,
  minConf: 3,
  maxPendingOpens: 1,
  openTimeout: 3600,
};

/** One message in flight, as the runtime would seal it. */
export interface Wire {
  from: Role;
  to: Role;
  message: PaymentMessage;
}

export interface OpenWorld {
  model: ChainModel;
  server: EsploraServer;
  chain: EsploraChainSource;
  keys: Record<Role, { id: Uint8Array; idPub: Uint8Array; ch: Uint8Array; chPub: Uint8Array; address: string }>;
  terms: HubTerms;
  termsDoc: Uint8Array;
  hub: Hub;
  payer: Payer;
  payee: Payee;
  wallets: { A: SingleKeyWallet; S: SingleKeyWallet; B: SingleKeyWallet };
  engines: Record<Role, PaymentEngine<unknown> & OpeningEngine>;
  events: Record<Role, PaymentEvent[]>;
  /** Messages sent and not yet delivered, in order. */
  queue: Wire[];
  /** Every message ever sent. */
  sent: Wire[];
  clock: { now: number };
  ctx(): StepContext;
  /** Queues a step's messages (the runtime's outbox) and records its events. */
  commit(role: Role, s: Step): void;
  /** Delivers one queued message (the first, or the one `pick` selects); returns the receiver's step. */
  deliverOne(pick?: (w: Wire) => boolean): Promise<Step>;
  /** Delivers until the queue is empty. */
  deliverAll(): Promise<void>;
  /** One pass of each role's open driver. */
  chainPass(...roles: Role[]): Promise<void>;
  close(): Promise<void>;
}

const addr = (pub: Uint8Array) => encodeMailboxAddress({ publicKey: pub, relays: ['http://127.0.0.1:9'] });

export async function openWorld(seed = 'default', policy: Partial<typeof POLICY> = {}): Promise<OpenWorld> {
  const model = new ChainModel({ height: 800, minFeeRate: 1 });
  const server = await startEsploraServer(model);
  const chain = new EsploraChainSource(server.url);
  const mk = (r: Role) => {
    const id = sk(`${r}-id`, seed);
    const ch = sk(`${r}-ch`, seed);
    return { id, idPub: getPublicKey(id), ch, chPub: getPublicKey(ch), address: addr(getPublicKey(id)) };
  };
  const keys = { A: mk('A'), S: mk('S'), B: mk('B') };
  const wallets = {
    A: new SingleKeyWallet(sk('A-wallet', seed), chain),
    S: new SingleKeyWallet(sk('S-wallet', seed), chain),
    B: new SingleKeyWallet(sk('B-wallet', seed), chain),
  };
  model.fundScript(wallets.A.scriptPubKey, 3_000_000);
  model.fundScript(wallets.S.scriptPubKey, 10_000_000);
  model.mine(1);
  const clock = { now: 1_800_000_000_000 };
  const p = { ...POLICY, ...policy };
  const terms: HubTerms = {
    ...p,
    hubKey: keys.S.idPub,
    channelKey: keys.S.chPub,
    issued: clock.now - 1000,
    expiry: clock.now + 30 * 86_400_000,
  };
  const termsDoc = signTerms(terms, keys.S.id);
  const hub = new Hub(
    {
      identityKey: keys.S.id,
      channelKey: keys.S.ch,
      fee: { base: p.feeBase, ppm: p.feePpm },
      safetyMargin: 6,
      maxTimeoutDelta: p.maxTimeoutDelta,
      terms: termsDoc,
      payout: await wallets.S.payoutScript(),
    },
    [],
    new MemoryNonceStore(),
  );
  const payer = new Payer(
    { identityKey: keys.A.id, hubKey: keys.S.idPub, hubAddress: keys.S.address, channelKey: keys.A.ch },
    undefined,
    new MemoryNonceStore(),
  );
  const payee = new Payee(
    {
      identityKey: keys.B.id,
      address: keys.B.address,
      channelKey: keys.B.ch,
      hubKey: keys.S.idPub,
      hubAddress: keys.S.address,
      timeoutDelta: 40,
      invoiceTtlMs: 3_600_000,
    },
    undefined,
    new MemoryNonceStore(),
  );
  const engines = { A: payer, S: hub, B: payee } as unknown as OpenWorld['engines'];
  const events: OpenWorld['events'] = { A: [], S: [], B: [] };
  const queue: Wire[] = [];
  const sent: Wire[] = [];
  const roleOf = (address: string): Role => (['A', 'S', 'B'] as const).find((r) => keys[r].address === address)!;
  const ctx = (): StepContext => ({ now: clock.now, height: model.height });
  const commit = (role: Role, s: Step) => {
    for (const o of s.send) {
      const w = { from: role, to: roleOf(o.to), message: o.message };
      queue.push(w);
      sent.push(w);
    }
    events[role].push(...s.events);
  };
  const deliverOne = async (pick?: (w: Wire) => boolean): Promise<Step> => {
    const i = pick ? queue.findIndex(pick) : 0;
    if (i < 0 || queue.length === 0) throw new Error('nothing to deliver');
    const [w] = queue.splice(i, 1);
    const m = decodePayment(w!.message.type, encodePayment(w!.message));
    const s = await engines[w!.to].handle({ from: keys[w!.from].idPub, message: m }, ctx());
    commit(w!.to, s);
    return s;
  };
  const deliverAll = async () => {
    for (let n = 0; queue.length > 0; n++) {
      if (n > 200) throw new Error('message loop');
      await deliverOne();
    }
  };
  const drivers = Object.fromEntries(
    (['A', 'S', 'B'] as const).map((r) => [
      r,
      new OpenDriver(
        {
          engine: engines[r],
          serial: (fn) => fn(),
          commit: async (s) => commit(r, s),
          ctx,
          report: (e) => {
            throw e;
          },
        },
        { chain, wallet: wallets[r] },
      ),
    ]),
  ) as Record<Role, OpenDriver>;
  const chainPass = async (...roles: Role[]) => {
    for (const r of roles.length ? roles : (['A', 'S', 'B'] as const)) await drivers[r].tick();
  };
  return {
    model,
    server,
    chain,
    keys,
    terms,
    termsDoc,
    hub,
    payer,
    payee,
    wallets,
    engines,
    events,
    queue,
    sent,
    clock,
    ctx,
    commit,
    deliverOne,
    deliverAll,
    chainPass,
    close: (() => {
      let closing: Promise<void> | undefined;
      return () => (closing ??= server.close());
    })(),
  };
}

/** The payee asks the hub to fund its channel, and the hub does: the open stands at `funded`, unconfirmed. */
export async function payeeFunded(w: OpenWorld, amount = 800_000, csvDelay = 24): Promise<void> {
  const r = await w.payee.openChannel({ amount, csvDelay, payout: await w.wallets.B.payoutScript(), replyTo: w.keys.B.address }, w.ctx());
  w.commit('B', r.step);
  await w.deliverAll();
  await w.chainPass('S');
  await w.deliverAll();
}

/**
 * An OPEN to the hub from a fresh identity (a stranger), handled at once;
 * resolves with the hub's answer type and, for a REJECT, its code. Names the
 * hub's current terms unless `termsId` is given.
 */
export async function strangerOpen(
  w: OpenWorld,
  o: { amount?: number; hubFunds?: boolean; channelKey?: Uint8Array; termsId?: Uint8Array } = {},
): Promise<{ type: number; code?: string }> {
  const key = () => getPublicKey(new Uint8Array(randomBytes(32)));
  const from = key();
  const message: PaymentMessage = {
    type: PaymentType.OPEN,
    openId: new Uint8Array(randomBytes(32)),
    termsId: o.termsId ?? w.hub.terms!.id,
    replyTo: encodeMailboxAddress({ publicKey: from, relays: ['https://relay.example'] }),
    hubFunds: o.hubFunds ? 1 : 0,
    amount: o.amount ?? 1_000_000,
    csvDelay: 144,
    channelKey: o.channelKey ?? key(),
    payout: new Uint8Array([0x51, 0x20, ...randomBytes(32)]),
  };
  const s = await w.hub.handle({ from, message }, w.ctx());
  const m = s.send[0]!.message;
  return m.type === PaymentType.REJECT ? { type: m.type, code: (m as PaymentMessageOf<typeof PaymentType.REJECT>).code } : { type: m.type };
}
