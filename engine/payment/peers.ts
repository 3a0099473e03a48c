/**
 * The channels of a role with several peers (the hub, the router), each
 * with its peer's identity and mailbox address.
 * @module
 */
import { bytesToHex, equalBytes } from '../../base/bytes.js';
import { ErrorCode, fail } from '../../base/errors.js';
import type { ChannelWithPeer } from './engine.js';

/** A channel of a role with several peers (the hub, the router), with its peer's mailbox address. */
export interface PeerChannel extends ChannelWithPeer {
  /** The peer's mailbox address. */
  peerAddress: string;
}

/**
 * Indexes a role's channels by id, refusing a set that could let one
 * channel's signatures count in another: two channels with the same id
 * (their per-channel state keys would be equal) or the same funding
 * outpoint, and a channel whose own key is not `ourKey`.
 */
export function channelMap(peers: PeerChannel[], ourKey: Uint8Array, role: string): Map<string, PeerChannel> {
  const byId = new Map<string, PeerChannel>();
  const outpoints = new Set<string>();
  for (const p of peers) {
    const { params, me } = p.channel;
    const id = bytesToHex(params.channelId);
    // A channel being opened has no outpoint yet (its state keys already differ by channel id).
    const outpoint = params.funding.txid ? `${bytesToHex(params.funding.txid)}:${params.funding.vout}` : undefined;
    if (byId.has(id)) fail(ErrorCode.CHANNEL_INVARIANT, `two channels with channel id ${id}`);
    if (outpoint !== undefined && outpoints.has(outpoint))
      fail(ErrorCode.CHANNEL_INVARIANT, `two channels on funding outpoint ${outpoint}`);
    if (!equalBytes(params.keys[me], ourKey))
      fail(ErrorCode.CHANNEL_INVARIANT, `channel ${id}: our key in it is not the ${role}'s channel key`);
    byId.set(id, p);
    if (outpoint !== undefined) outpoints.add(outpoint);
  }
  return byId;
}
