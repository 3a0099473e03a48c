/**
 * What a wallet shows: its channels and balances (settled apart from what is
 * in flight), read from a role engine's channels, and the history of each
 * payment, as the runtime stored it. Every amount is in satoshis; every id
 * and byte string is lowercase hex.
 * @module
 */
import { bytesToHex } from '../../base/bytes.js';
import type { Channel } from '../../engine/channel/channel.js';
import type { ChannelState } from '../../engine/channel/state.js';
import type { WalletOpen } from '../../engine/payment/open/wallet-open.js';
import type { PaymentEvent } from '../../engine/payment/types.js';
import { PaymentType } from '../../protocol/payment.js';

/** Amounts of a channel, or of all of a role's channels, in sats. */
export interface Balances {
  /**
   * What is ours whatever becomes of the payments in flight: our balance in
   * the latest enforceable state, less what a state being signed moves away
   * from us.
   */
  settled: number;
  /** Amounts in flight: PTLCs and states being signed. `outgoing` leaves us if they complete; `incoming` comes to us. */
  inFlight: { outgoing: number; incoming: number };
}

/** One channel of a role, as a wallet shows it. */
export interface ChannelInfo extends Balances {
  /** Channel id, hex. */
  channelId: string;
  /** Our party index in the channel (0 or 1). */
  me: 0 | 1;
  /** Funding amount, sats. */
  capacity: number;
  /** The funding outpoint `txid:vout` (hex txid), once known (a channel being opened has none yet). */
  funding?: string;
  /** The peer's balance in the latest enforceable state. */
  remote: number;
  /** The number of the latest enforceable state. */
  n: number;
  /** True while a newer state is being signed (a payment or a cancellation under way). */
  pending: boolean;
  /** Block height at which an update of the channel was seen on chain (it is closing), if it was. */
  closingSince?: number;
}

const mine = (s: ChannelState, me: 0 | 1) => ({
  own: s.balances[me],
  out: s.ptlcs.filter((p) => p.offerer === me).reduce((a, p) => a + p.amount, 0),
  inc: s.ptlcs.filter((p) => p.offerer !== me).reduce((a, p) => a + p.amount, 0),
});

/** A channel's view for a wallet. */
export function channelInfo(ch: Channel): ChannelInfo {
  const me = ch.me as 0 | 1;
  const e = mine(ch.enforceable.state, me);
  const p = ch.pending ? mine(ch.pending.state, me) : e;
  const moves = Math.max(0, e.own - p.own);
  const comes = Math.max(0, p.own - e.own);
  const f = ch.params.funding as { txid?: Uint8Array; vout?: number; amount: number };
  return {
    channelId: bytesToHex(ch.params.channelId),
    me,
    capacity: f.amount,
    ...(f.txid ? { funding: `${bytesToHex(f.txid)}:${f.vout}` } : {}),
    settled: e.own - moves,
    remote: ch.enforceable.state.balances[me === 0 ? 1 : 0],
    inFlight: { outgoing: e.out + moves, incoming: e.inc + comes },
    n: ch.enforceable.state.n,
    pending: ch.pending !== undefined,
    ...(ch.closing ? { closingSince: ch.closing.height } : {}),
  };
}

/** A wallet's channel open in progress (SPEC 6.17), as a wallet shows it. */
export interface OpenInfo {
  /** The open id, hex. */
  openId: string;
  /** The channel id, hex, once the hub accepted the open. */
  channelId?: string;
  /**
   * `terms`: waiting for the hub's terms; `requested`: OPEN sent; `signing`:
   * state 0 being signed; `signed`: state 0 complete, funding next; `funded`:
   * the funding transaction is out, confirmations next.
   */
  status: WalletOpen['status'];
  /** The channel's funding amount, sats. */
  amount: number;
  /** True when the hub funds the channel (a payee's), false when the wallet does (a payer's). */
  hubFunds: boolean;
  /** When the open started (ms). */
  startedAt: number;
  /** The funding outpoint `txid:vout` (hex txid), once known. */
  funding?: string;
}

/** An open's view for a wallet. */
export function openInfo(o: WalletOpen): OpenInfo {
  const f = o.channel?.params.funding;
  return {
    openId: o.openId,
    ...(o.channel ? { channelId: o.channel.params.channelId } : {}),
    status: o.status,
    amount: o.order.amount,
    hubFunds: o.order.hubFunds,
    startedAt: o.startedAt,
    ...(f?.txid ? { funding: `${f.txid}:${f.vout}` } : {}),
  };
}

/** The sum of the channels' balances. */
export function sumBalances(list: readonly Balances[]): Balances {
  return list.reduce<Balances>(
    (a, c) => ({
      settled: a.settled + c.settled,
      inFlight: { outgoing: a.inFlight.outgoing + c.inFlight.outgoing, incoming: a.inFlight.incoming + c.inFlight.incoming },
    }),
    { settled: 0, inFlight: { outgoing: 0, incoming: 0 } },
  );
}

/** A payment as a role stores it (each role's record has more fields: see its engine's payment type). */
export interface PaymentRecord {
  /** The offer (or request) id, hex. */
  offerId: string;
  amount: number;
  status: string;
}

/** One step of a payment's history: a `payment` event, as it was emitted (byte strings hex), and when (ms). */
export interface PaymentHistoryEntry {
  at: number;
  event: PaymentEvent;
}

/** A stored payment with its history (oldest first). */
export interface PaymentDetails<P extends PaymentRecord = PaymentRecord> {
  payment: P;
  history: PaymentHistoryEntry[];
}

/** `JSON.stringify` replacer: byte arrays as hex (the one representation of bytes in stored records and events). */
export function hexReplacer(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? bytesToHex(value) : value;
}

/** The name of payment message type `type` (`'OFFER'`, …), or `0x…` for a type this version does not know. */
export function messageTypeName(type: number): string {
  for (const [name, v] of Object.entries(PaymentType)) if (v === type) return name;
  return `0x${type.toString(16).padStart(4, '0')}`;
}
