/**
 * The persisted form of a channel: JSON-safe shapes (hex for bytes, numbers
 * for amounts, exactly as the channel holds them) and the conversions of its
 * parameters and state records. A wallet stores these between steps and
 * restores the channel from them after a restart (SPEC 6.11). The shape is
 * stable: stores written by earlier versions must still load.
 * @module
 */
import { bytesToHex, hexToBytes } from '../../base/bytes.js';
import { ErrorCode, fail } from '../../base/errors.js';
import type { ChannelParams, Party, StateRecord } from './state.js';

/** Persisted form of {@link ChannelParams}. */
export interface ChannelParamsJson {
  channelId: string;
  /** The outpoint is absent while the channel is being opened. */
  funding: { txid?: string; vout?: number; amount: number };
  keys: [string, string];
  csvDelay: number;
  fees: { update: number; settlement: number; ptlc: number };
  /** Payout scriptPubKeys (hex), when chosen at open. */
  payout?: [string, string];
}

/** The persisted form of channel parameters. */
export function paramsToJson(p: ChannelParams): ChannelParamsJson {
  return {
    channelId: bytesToHex(p.channelId),
    funding:
      p.funding.txid === undefined
        ? { amount: p.funding.amount }
        : { txid: bytesToHex(p.funding.txid), vout: p.funding.vout!, amount: p.funding.amount },
    keys: [bytesToHex(p.keys[0]), bytesToHex(p.keys[1])],
    csvDelay: p.csvDelay,
    fees: { ...p.fees },
    ...(p.payout ? { payout: [bytesToHex(p.payout[0]), bytesToHex(p.payout[1])] as [string, string] } : {}),
  };
}

/** Channel parameters from their persisted form (validated when the channel is built). */
export function paramsFromJson(j: ChannelParamsJson): ChannelParams {
  return {
    channelId: hexToBytes(j.channelId, 32),
    funding:
      j.funding.txid === undefined
        ? { amount: j.funding.amount }
        : { txid: hexToBytes(j.funding.txid, 32), vout: j.funding.vout!, amount: j.funding.amount },
    keys: [hexToBytes(j.keys[0], 32), hexToBytes(j.keys[1], 32)],
    csvDelay: j.csvDelay,
    fees: { ...j.fees },
    ...(j.payout ? { payout: [hexToBytes(j.payout[0]), hexToBytes(j.payout[1])] as [Uint8Array, Uint8Array] } : {}),
  };
}

/** Persisted form of a `Channel` (channel.ts: `toJSON`, `fromJSON`). */
export interface ChannelJson {
  params: ChannelParamsJson;
  me: Party;
  enforceable: StateRecordJson;
  pending?: StateRecordJson;
  overwritten?: StateRecordJson;
  /** `Channel.highN`. */
  highN?: number;
  /** `Channel.seenN`. */
  seenN?: number;
  /** `Channel.closing`. */
  closing?: { height: number };
  /** `Channel.coopClose` (signatures hex). */
  coopClose?: { n: number; sigs: [string | null, string | null] };
}

/** Persisted form of a {@link StateRecord}. */
export interface StateRecordJson {
  state: { n: number; balances: [number, number]; ptlcs: { id: string; offerer: Party; amount: number; point: string; timeout: number }[] };
  myNonceId?: string;
  settleSigs: [string | null, string | null];
  updateNonces: [string | null, string | null];
  updateSigs: [string | null, string | null];
}

const h = (b: Uint8Array | null): string | null => (b ? bytesToHex(b) : null);
const b = (s: string | null): Uint8Array | null => (s === null ? null : hexToBytes(s));

/** The persisted form of a state record. */
export function recordToJson(r: StateRecord): StateRecordJson {
  return {
    state: {
      n: r.state.n,
      balances: [r.state.balances[0], r.state.balances[1]],
      ptlcs: r.state.ptlcs.map((x) => ({ ...x, id: bytesToHex(x.id), point: bytesToHex(x.point) })),
    },
    ...(r.myNonceId ? { myNonceId: r.myNonceId } : {}),
    settleSigs: [h(r.settleSigs[0]), h(r.settleSigs[1])],
    updateNonces: [h(r.updateNonces[0]), h(r.updateNonces[1])],
    updateSigs: [h(r.updateSigs[0]), h(r.updateSigs[1])],
  };
}

/** A state record from its persisted form. */
export function recordFromJson(j: StateRecordJson): StateRecord {
  return {
    state: {
      n: j.state.n,
      balances: [j.state.balances[0], j.state.balances[1]],
      ptlcs: j.state.ptlcs.map((x) => ({ ...x, id: hexToBytes(x.id, 32), point: hexToBytes(x.point, 33) })),
    },
    ...(j.myNonceId ? { myNonceId: j.myNonceId } : {}),
    settleSigs: [b(j.settleSigs[0]), b(j.settleSigs[1])],
    updateNonces: [b(j.updateNonces[0]), b(j.updateNonces[1])],
    updateSigs: [b(j.updateSigs[0]), b(j.updateSigs[1])],
  };
}

/**
 * A channel in a role's persisted state that is stored under its own key
 * rather than inline: its id (hex). A wallet runtime writes each channel
 * only when it changed, and puts the channels back in place when it loads
 * the state; an engine's rollback copy holds these in place of channels it
 * keeps in its journal.
 */
export interface ChannelRef {
  readonly $channel: string;
}

/** A channel as a role's persisted state holds it: inline, or a {@link ChannelRef}. */
export type StoredChannel = ChannelJson | ChannelRef;

/** True when `c` is a {@link ChannelRef}. */
export function isChannelRef(c: unknown): c is ChannelRef {
  return typeof c === 'object' && c !== null && typeof (c as { $channel?: unknown }).$channel === 'string';
}

/**
 * In a role's persisted state, the whole collection of the role's channel
 * records (a hub's peers, each record its channel and its peer), stored
 * apart, so that the state written after a step does not list every
 * channel. `count` is how many records there are: a store that lost one
 * refuses to load rather than load without the channel.
 */
export interface ChannelRecordsRef {
  readonly $channelRecords: number;
}

/** True when `v` is a {@link ChannelRecordsRef}. */
export function isChannelRecordsRef(v: unknown): v is ChannelRecordsRef {
  return typeof v === 'object' && v !== null && typeof (v as { $channelRecords?: unknown }).$channelRecords === 'number';
}

/** A channel's record in a store that keeps each channel apart: the channel and what the role keeps with it (a hub: its peer). */
export interface ChannelRecord {
  channel: ChannelJson;
  [more: string]: unknown;
}

/** `c` as an inline channel; a reference (a state that was not loaded through a wallet runtime) is refused (STORE_UNAVAILABLE). */
export function inlined(c: StoredChannel): ChannelJson {
  if (isChannelRef(c)) fail(ErrorCode.STORE_UNAVAILABLE, `channel ${c.$channel}: a reference where the channel was expected`);
  return c;
}
