/**
 * The hub under test (HubNode on a LevelDB store in a temporary directory,
 * shipped defaults), alone in its own process, so `process.cpuUsage()` here
 * is the hub's CPU and nothing else's. Set-up (keys, stores and co-signed
 * state-0 channels of every payer and payee) also happens here, before any
 * measurement: the peers' stores are closed and handed to the peer
 * processes (bench/load/hub-peers.ts) by directory. Exposes CPU and payment
 * counters for the measured window, the EC-operation counts when the
 * EC-count hook is loaded, and a V8 CPU profile of the window.
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Session } from 'node:inspector/promises';
import WebSocket from 'ws';
import { randomBytes } from '@noble/hashes/utils.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToHex } from '../../base/bytes.js';
import { encodeMailboxAddress } from '../../protocol/address.js';
import { LevelKv } from '../../client/mailbox/kv.js';
import { KvNonceStore } from '../../client/wallet/nonce-store.js';
import { HubNode } from '../../client/wallet/roles.js';
import { openChannelPair } from '../../engine/channel/open.js';
import { MemoryNonceStore } from '../../crypto/nonce.js';
import type { ChannelParams } from '../../engine/channel/state.js';
import { serve } from '../rpc.js';
import { threadCpu } from '../thread-cpu.js';
import { HUB_FEE, type HubMark, type HubSpec, type PeerSpec } from './hub-spec.js';

declare global {
  // Set by bench/load/ec-count.mjs when that hook is loaded.
  var __lnmbEcCounts: Record<string, number> | undefined;
}

interface Keys {
  idSk: Uint8Array;
  idPk: Uint8Array;
  chSk: Uint8Array;
  chPk: Uint8Array;
  dir: string;
}

const dirs: string[] = [];
function keys(): Keys {
  const idSk = schnorr.utils.randomSecretKey();
  const chSk = schnorr.utils.randomSecretKey();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lnmb-bench-hub-'));
  dirs.push(dir);
  return { idSk, idPk: schnorr.getPublicKey(idSk), chSk, chPk: schnorr.getPublicKey(chSk), dir };
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

let hub: HubNode | undefined;
let paid = 0;
let errors = 0;
let lastError = '';
let session: Session | undefined;

serve({
  /**
   * Creates the hub and `payers` + `payees` peers, co-signs every channel at
   * state 0 (payer–hub: 600,000 / 399,000 sat; hub–payee: 700,000 / 299,000),
   * then starts the hub on its store. `idle` further channels are co-signed
   * with peers that never come online: the hub holds them, no payment uses
   * them. Returns the peers' specs.
   */
  async setup(
    relayUrl: string,
    payers: number,
    payees: number,
    idle = 0,
  ): Promise<{ hub: HubSpec; payers: PeerSpec[]; payees: PeerSpec[] }> {
    const S = keys();
    const address = (k: Keys): string => encodeMailboxAddress({ publicKey: k.idPk, relays: [relayUrl] });
    const kvS = new LevelKv(S.dir);
    const nonceS = new KvNonceStore(kvS);
    const peers: { channel: Awaited<ReturnType<typeof openChannelPair>>[0]; peerKey: Uint8Array; peerAddress: string }[] = [];
    const make = async (payer: boolean): Promise<PeerSpec> => {
      const P = keys();
      const kv = new LevelKv(P.dir);
      const [mine, hubs] = payer
        ? await openChannelPair(params(P.chPk, S.chPk, 288), [600_000, 399_000], P.chSk, S.chSk, new KvNonceStore(kv), nonceS)
        : await openChannelPair(params(S.chPk, P.chPk, 24), [700_000, 299_000], S.chSk, P.chSk, nonceS, new KvNonceStore(kv)).then(
            ([h, m]) => [m, h] as const,
          );
      await kv.close();
      peers.push({ channel: hubs, peerKey: P.idPk, peerAddress: address(P) });
      return { identityKey: bytesToHex(P.idSk), channelKey: bytesToHex(P.chSk), address: address(P), dir: P.dir, channel: mine.toJSON() };
    };
    const a: PeerSpec[] = [];
    const b: PeerSpec[] = [];
    for (let i = 0; i < payers; i++) a.push(await make(true));
    for (let i = 0; i < payees; i++) b.push(await make(false));
    for (let i = 0; i < idle; i++) {
      const peerSk = schnorr.utils.randomSecretKey();
      const peerCh = schnorr.utils.randomSecretKey();
      const [hubs] = await openChannelPair(
        params(S.chPk, schnorr.getPublicKey(peerCh), 144),
        [500_000, 499_000],
        S.chSk,
        peerCh,
        nonceS,
        new MemoryNonceStore(),
      );
      const peerKey = schnorr.getPublicKey(peerSk);
      peers.push({ channel: hubs, peerKey, peerAddress: encodeMailboxAddress({ publicKey: peerKey, relays: [relayUrl] }) });
    }
    await kvS.close();
    hub = await HubNode.open({
      identityKey: S.idSk,
      relays: [relayUrl],
      kv: new LevelKv(S.dir),
      ownsStore: true,
      chain: { height: () => 800_000 },
      client: { WebSocket: WebSocket as never },
      config: { channelKey: S.chSk, fee: HUB_FEE, safetyMargin: 6, maxTimeoutDelta: 100 },
      peers,
    });
    hub.on('payment', (e) => {
      if (e.kind === 'paid') paid++;
    });
    hub.on('error', (e) => {
      errors++;
      lastError = e.message;
    });
    return { hub: { publicKey: bytesToHex(S.idPk), address: address(S) }, payers: a, payees: b };
  },

  /** The hub's counters now: CPU (all threads, µs), payments it saw paid, errors, EC operations. */
  mark(): HubMark {
    const c = process.cpuUsage();
    return {
      cpuUs: c.user + c.system,
      sysUs: c.system,
      threads: threadCpu(),
      wallMs: performance.now(),
      paid,
      errors,
      ec: { ...(globalThis.__lnmbEcCounts ?? {}) },
    };
  },

  lastError(): string {
    return lastError;
  },

  /** Starts a V8 CPU profile of this process (the measured window). */
  async profileStart(): Promise<void> {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  },

  /** Stops the profile and writes it to `dir`; returns the file. */
  async profileStop(dir: string): Promise<string> {
    const s = session!;
    const { profile } = await s.post('Profiler.stop');
    s.disconnect();
    session = undefined;
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `hub-${process.pid}-${Date.now()}.cpuprofile`);
    fs.writeFileSync(file, JSON.stringify(profile));
    return file;
  },

  async close(): Promise<void> {
    await hub?.close();
    hub = undefined;
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  },
});
