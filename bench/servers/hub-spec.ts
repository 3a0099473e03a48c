/**
 * What the hub bench's processes share (bench/hub.ts, servers/hub.ts,
 * load/hub-peers.ts): the hub's fee policy and the shapes passed between them.
 * @module
 */
import type { ChannelJson } from '../../engine/channel/channel.js';
import type { FeePolicy } from '../../engine/payment/fee.js';
import type { ThreadCpu } from '../thread-cpu.js';

/** The hub's fee policy in the bench. */
export const HUB_FEE: FeePolicy = { base: 10, ppm: 1000 };

/** What a peer process needs to run one payer or payee (keys hex, its store directory, its view of the channel at state 0). */
export interface PeerSpec {
  identityKey: string;
  channelKey: string;
  address: string;
  dir: string;
  channel: ChannelJson;
}

/** The hub as its peers see it. */
export interface HubSpec {
  publicKey: string;
  address: string;
}

/** Counters read at both ends of the measured window. */
export interface HubMark {
  cpuUs: number;
  /** Of `cpuUs`: kernel time (fsync, sockets), µs. */
  sysUs: number;
  /** Of `cpuUs`: the main thread's (JavaScript) and the other threads' (libuv's pool, LevelDB, V8), µs; absent without `/proc`. */
  threads?: ThreadCpu;
  wallMs: number;
  paid: number;
  errors: number;
  ec: Record<string, number>;
}
