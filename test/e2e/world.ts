/**
 * End-to-end world: a relay in a child process, and the three roles (A, S, B)
 * as separate runtimes with separate LevelDB stores, talking only through
 * the relay over real HTTP and WebSockets.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { randomBytes } from '@noble/hashes/utils.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { encodeMailboxAddress } from '../../protocol/address.js';
import { LevelKv, type Kv } from '../../client/mailbox/kv.js';
import { KvNonceStore } from '../../client/wallet/nonce-store.js';
import { HubNode, PayeeNode, PayerNode, type PayeeNodeOptions } from '../../client/wallet/roles.js';
import type { RoleRuntime, RoleEngine } from '../../client/wallet/runtime.js';
import type { Channel } from '../../engine/channel/channel.js';
import { openChannelPair } from '../../engine/channel/open.js';
import type { ChannelParams } from '../../engine/channel/state.js';
import type { PaymentEvent } from '../../engine/payment/types.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** A relay child process. */
export interface RelayProc {
  url: string;
  port: number;
  dir: string;
  proc: ChildProcess;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Spawns `node --import tsx relay-process.ts <dir> <port>` and waits for its URL. */
export async function spawnRelay(dir = fs.mkdtempSync(os.tmpdir() + '/lnmb-e2e-relay-'), port = 0): Promise<RelayProc> {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'fixtures', 'relay-process.ts'), dir, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) resolve(buf.slice(0, i));
    });
    proc.once('exit', (code) => reject(new Error(`relay exited early with ${code}`)));
  });
  const { url, port: p } = JSON.parse(line) as { url: string; port: number };
  return {
    url,
    port: p,
    dir,
    proc,
    kill: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill(signal);
      }),
  };
}

/** Keys and a store of one role. */
export interface RoleKeys {
  idSk: Uint8Array;
  idPk: Uint8Array;
  chSk: Uint8Array;
  chPk: Uint8Array;
  dir: string;
}

/** Fresh identity and channel keys, and a store directory, for one role. */
export function keys(): RoleKeys {
  const idSk = schnorr.utils.randomSecretKey();
  const chSk = schnorr.utils.randomSecretKey();
  return {
    idSk,
    idPk: schnorr.getPublicKey(idSk),
    chSk,
    chPk: schnorr.getPublicKey(chSk),
    dir: fs.mkdtempSync(os.tmpdir() + '/lnmb-e2e-role-'),
  };
}

/** Parameters of a new 1,000,000-sat channel between channel keys `k0` and `k1`. */
export function params(k0: Uint8Array, k1: Uint8Array, csvDelay: number): ChannelParams {
  return {
    channelId: randomBytes(32),
    funding: { txid: randomBytes(32), vout: 0, amount: 1_000_000 },
    keys: [k0, k1],
    csvDelay,
    fees: { update: 500, settlement: 500, ptlc: 300 },
  };
}

export const HUB_FEE = { base: 10, ppm: 1000 };
/** Mailbox-client options of every e2e role (fast reconnects). */
export const client = { WebSocket: WebSocket as never, reconnect: { minMs: 50, maxMs: 500 } };
/** The chain watcher of every e2e role: a fixed height. */
export const chain = { height: () => 800_000 };

/** Everything needed to (re)open the three roles. */
export interface E2E {
  A: RoleKeys;
  S: RoleKeys;
  B: RoleKeys;
  addr: { A: string; S: string; B: string };
  open: { A(): Promise<PayerNode>; S(): Promise<HubNode>; B(extra?: Partial<PayeeNodeOptions>): Promise<PayeeNode> };
  events: { A: PaymentEvent[]; S: PaymentEvent[]; B: PaymentEvent[] };
  asParams: ChannelParams;
  sbParams: ChannelParams;
  /** B's view of the S–B channel at state 0 (for a payee run in another process: `toJSON()` it before B first opens). */
  payeeChannel: Channel;
  /**
   * Every party's view of its channels at state 0, for a role run in another
   * process (`toJSON()` them before that role first opens in this one):
   * A's and S's views of A–S, S's and B's views of S–B.
   */
  channels: { A: Channel; SA: Channel; SB: Channel; B: Channel };
  /**
   * B's receipt-ticket batch (SPEC 6.16): B was online once, at set-up, and
   * published it as its `receipt-tickets` record on its relays, where A reads it.
   */
  tickets: Uint8Array;
}

/**
 * Sets up keys, stores and co-signed channels (state 0). `relays.B` lets the
 * payee's address name several relays (some may be down).
 */
export async function makeE2E(
  relays: { A: string[]; S: string[]; B: string[] },
  opts: { wrapKv?: (role: 'A' | 'S' | 'B', kv: Kv) => Kv } = {},
): Promise<E2E> {
  const A = keys(),
    S = keys(),
    B = keys();
  const addr = {
    A: encodeMailboxAddress({ publicKey: A.idPk, relays: relays.A }),
    S: encodeMailboxAddress({ publicKey: S.idPk, relays: relays.S }),
    B: encodeMailboxAddress({ publicKey: B.idPk, relays: relays.B }),
  };
  const asParams = params(A.chPk, S.chPk, 288);
  const sbParams = params(S.chPk, B.chPk, 24);
  // Open the channels with each party's own persistent nonce store.
  const kvs = { A: new LevelKv(A.dir), S: new LevelKv(S.dir), B: new LevelKv(B.dir) };
  const [aCh, sChA] = await openChannelPair(asParams, [600_000, 399_000], A.chSk, S.chSk, new KvNonceStore(kvs.A), new KvNonceStore(kvs.S));
  const [sChB, bCh] = await openChannelPair(sbParams, [700_000, 299_000], S.chSk, B.chSk, new KvNonceStore(kvs.S), new KvNonceStore(kvs.B));
  await Promise.all(Object.values(kvs).map((k) => k.close()));
  const events = { A: [] as PaymentEvent[], S: [] as PaymentEvent[], B: [] as PaymentEvent[] };
  const track = <T extends RoleRuntime<RoleEngine>>(n: T, list: PaymentEvent[]): T => {
    n.on('payment', (e) => list.push(e));
    return n;
  };
  const wrap = opts.wrapKv ?? ((_: string, kv: Kv) => kv);
  const base = (k: RoleKeys, r: string[]) => ({
    identityKey: k.idSk,
    relays: r,
    kv: wrap(k === A ? 'A' : k === S ? 'S' : 'B', new LevelKv(k.dir)),
    chain,
    client,
    ownsStore: true,
  });
  const openB = async (extra: Partial<PayeeNodeOptions> = {}) =>
    track(
      await PayeeNode.open({
        ...base(B, relays.B),
        config: {
          address: addr.B,
          channelKey: B.chSk,
          hubKey: S.idPk,
          hubAddress: addr.S,
          timeoutDelta: 40,
          invoiceTtlMs: 3_600_000,
        },
        channel: bCh,
        ...extra,
      }),
      events.B,
    );
  // B is online once before anything else: it issues its receipt tickets and publishes them.
  const first = await openB();
  const tickets = await first.publishTickets(16);
  await first.close();
  return {
    tickets,
    A,
    S,
    B,
    addr,
    events,
    asParams,
    sbParams,
    payeeChannel: bCh,
    channels: { A: aCh, SA: sChA, SB: sChB, B: bCh },
    open: {
      A: async () =>
        track(
          await PayerNode.open({
            ...base(A, relays.A),
            config: { hubKey: S.idPk, hubAddress: addr.S, channelKey: A.chSk },
            channel: aCh,
            hubFee: HUB_FEE,
          }),
          events.A,
        ),
      S: async () =>
        track(
          await HubNode.open({
            ...base(S, relays.S),
            config: { channelKey: S.chSk, fee: HUB_FEE, safetyMargin: 6, maxTimeoutDelta: 100 },
            peers: [
              { channel: sChA, peerKey: A.idPk, peerAddress: addr.A },
              { channel: sChB, peerKey: B.idPk, peerAddress: addr.B },
            ],
          }),
          events.S,
        ),
      B: openB,
    },
  };
}

/** Waits until `pred` holds (polling), or fails after `ms`. */
export async function until(pred: () => boolean, what: string, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Closes a role runtime and its store. */
export async function stop(n: { close(): Promise<unknown> }, kv?: { close(): Promise<void> }): Promise<void> {
  await n.close();
  await kv?.close();
}
