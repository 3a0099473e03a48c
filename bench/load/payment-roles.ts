/**
 * The three wallet roles of one offer payment (payer A, hub S, payee B),
 * set up from the library alone for the payment bench: fresh keys, a
 * LevelDB store per role in a temporary directory, the A–S and S–B channels
 * co-signed at state 0, and an `open` per role that (re)starts its runtime
 * on its store, so a role can go offline and come back.
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { randomBytes } from '@noble/hashes/utils.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { encodeMailboxAddress } from '../../protocol/address.js';
import { LevelKv } from '../../client/mailbox/kv.js';
import { KvNonceStore } from '../../client/wallet/nonce-store.js';
import { HubNode, PayeeNode, PayerNode } from '../../client/wallet/roles.js';
import { signSettlement } from '../../engine/channel/onchain.js';
import { openChannelPair } from '../../engine/channel/open.js';
import type { ChannelParams } from '../../engine/channel/state.js';
import type { FeePolicy } from '../../engine/payment/fee.js';
import type { PaymentEvent } from '../../engine/payment/types.js';

/** The hub's fee policy in the bench. */
const HUB_FEE: FeePolicy = { base: 10, ppm: 1000 };

interface Keys {
  idSk: Uint8Array;
  idPk: Uint8Array;
  chSk: Uint8Array;
  chPk: Uint8Array;
  dir: string;
}

function keys(): Keys {
  const idSk = schnorr.utils.randomSecretKey();
  const chSk = schnorr.utils.randomSecretKey();
  return {
    idSk,
    idPk: schnorr.getPublicKey(idSk),
    chSk,
    chPk: schnorr.getPublicKey(chSk),
    dir: fs.mkdtempSync(path.join(os.tmpdir(), 'lnmb-bench-role-')),
  };
}

function params(k0: Uint8Array, k1: Uint8Array, csvDelay: number): ChannelParams {
  return {
    channelId: randomBytes(32),
    funding: { txid: randomBytes(32), vout: 0, amount: 1_000_000 },
    keys: [k0, k1],
    csvDelay,
    fees: { update: 500, settlement: 500, ptlc: 300 },
  };
}

/** Payer, hub and payee of one payment, all with mailboxes on `relayUrl`. */
export interface PaymentRoles {
  addr: { A: string; S: string; B: string };
  /** Starts (or restarts, on its store) each role's runtime. */
  open: { A(): Promise<PayerNode>; S(): Promise<HubNode>; B(): Promise<PayeeNode> };
  /** Each role's own secret keys (identity, channel): a running node has derived their public keys long before a payment. */
  secretKeys: { A: Uint8Array[]; S: Uint8Array[]; B: Uint8Array[] };
  /** Payment events of each role, across restarts. */
  events: { A: PaymentEvent[]; S: PaymentEvent[]; B: PaymentEvent[] };
}

/** Runs `fn` as the work of `role` (the EC-count bench labels it; by default it just runs it). */
export type AsRole = <T>(role: 'A' | 'S' | 'B', fn: () => T) => T;

/**
 * Sets up the three roles and their channels (state 0) with mailboxes on `relayUrl`.
 * `as` labels each role's own set-up work (its side of the channel opening, B's first
 * start), so that a process-wide cache partitioned by role holds what that role's
 * process would hold after its set-up.
 */
export async function paymentRoles(relayUrl: string, as: AsRole = (_role, fn) => fn()): Promise<PaymentRoles> {
  const A = keys(),
    S = keys(),
    B = keys();
  const address = (k: Keys) => encodeMailboxAddress({ publicKey: k.idPk, relays: [relayUrl] });
  const addr = { A: address(A), S: address(S), B: address(B) };
  const asP = params(A.chPk, S.chPk, 288),
    sbP = params(S.chPk, B.chPk, 24);
  const kvs = { A: new LevelKv(A.dir), S: new LevelKv(S.dir), B: new LevelKv(B.dir) };
  const [aCh, sChA] = await openChannelPair(asP, [600_000, 399_000], A.chSk, S.chSk, new KvNonceStore(kvs.A), new KvNonceStore(kvs.S));
  const [sChB, bCh] = await openChannelPair(sbP, [700_000, 299_000], S.chSk, B.chSk, new KvNonceStore(kvs.S), new KvNonceStore(kvs.B));
  // openChannelPair runs both sides at once: each side signed settlement 0 at the opening,
  // deriving both parties' state keys and its own state secret key; do it again as that role.
  as('A', () => signSettlement(asP, aCh.enforceable.state, A.chSk));
  as('S', () => signSettlement(asP, sChA.enforceable.state, S.chSk));
  as('S', () => signSettlement(sbP, sChB.enforceable.state, S.chSk));
  as('B', () => signSettlement(sbP, bCh.enforceable.state, B.chSk));
  await Promise.all(Object.values(kvs).map((k) => k.close()));
  const events: PaymentRoles['events'] = { A: [], S: [], B: [] };
  const base = (k: Keys) => ({
    identityKey: k.idSk,
    relays: [relayUrl],
    kv: new LevelKv(k.dir),
    chain: { height: () => 800_000 },
    ownsStore: true,
    client: { WebSocket: WebSocket as never, reconnect: { minMs: 50, maxMs: 500 } },
  });
  const track = <T extends PayerNode | HubNode | PayeeNode>(n: T, list: PaymentEvent[]): T => {
    n.on('payment', (e) => list.push(e));
    return n;
  };
  const openB = async () =>
    track(
      await PayeeNode.open({
        ...base(B),
        config: {
          address: addr.B,
          channelKey: B.chSk,
          hubKey: S.idPk,
          hubAddress: addr.S,
          timeoutDelta: 40,
          invoiceTtlMs: 3_600_000,
        },
        channel: bCh,
      }),
      events.B,
    );
  // B was online once at set-up: it published its receipt tickets (SPEC 6.16) on its relay.
  await as('B', async () => {
    const first = await openB();
    await first.publishTickets(4);
    await first.close();
  });
  return {
    addr,
    events,
    secretKeys: { A: [A.idSk, A.chSk], S: [S.idSk, S.chSk], B: [B.idSk, B.chSk] },
    open: {
      A: async () =>
        track(
          await PayerNode.open({
            ...base(A),
            config: { hubKey: S.idPk, hubAddress: addr.S, channelKey: A.chSk },
            channel: aCh,
            hubFee: HUB_FEE,
          }),
          events.A,
        ),
      S: async () =>
        track(
          await HubNode.open({
            ...base(S),
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

/** Waits until `pred` holds (polling every 20 ms), or fails after `ms`. */
export async function until(pred: () => boolean, what: string, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
