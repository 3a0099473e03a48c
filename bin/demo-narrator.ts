/**
 * What `ln-mailbox demo` prints: one short, aligned line per protocol step
 * (who, what, which SPEC §6 message type went through the relay, and the
 * envelope id prefix), and the channel balance tables. Kept apart from the
 * scenario so the scenario reads as the protocol, not as string formatting.
 * Keys, secrets and plaintext are never printed: only public ids, points and amounts.
 * @module
 */
import { PaymentType } from '../protocol/payment.js';
import type { PaymentEvent } from '../engine/payment/types.js';
import type { Channel } from '../engine/channel/channel.js';

/** The roles of the demo: payer A, hub S, payee B. */
export type Role = 'A' | 'S' | 'B';

/** Every role, in the order the demo introduces them. */
export const ROLES: readonly Role[] = ['A', 'S', 'B'];

/** Payment message type number → its SPEC name (e.g. 3 → `OFFER`). */
const TYPE_NAMES = new Map<number, string>(Object.entries(PaymentType).map(([name, n]) => [n, name]));

/** The SPEC name of a payment message type, or its hex number when unknown. */
export function typeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `0x${type.toString(16).padStart(4, '0')}`;
}

/** Formats sats with thousands separators (`1_234_567` → `1,234,567`). */
export function sats(n: number): string {
  return n.toLocaleString('en-US');
}

/** What the messages a reader cares most about carry (SPEC §6), given who sends them to whom. */
const CARRIES = new Map<number, (from: Role, to: Role | '?') => string>([
  [PaymentType.OFFER, (_from, to) => `amount, ticket R_B, S's attestation, sealed for ${to}`],
  [PaymentType.INVOICE, (from) => `signed by ${from}, for the receipt point T_B`],
  [
    PaymentType.PTLC_FULFILL,
    (from) => (from === 'S' ? "reveals s_S + r: completes S's update for B" : 'reveals s_B + r: s_B is the receipt'),
  ],
  [PaymentType.COMPLETION, () => "s_B (the payee's receipt), S's signature"],
  [PaymentType.OFFER_VOID, () => 'the offer is void'],
  [PaymentType.REQUEST_PREPARE, () => 'S–B state paying B, settlement signed'],
  [PaymentType.REQUEST_PREPARED, () => "S's settlement signature and update nonce R_S"],
  [PaymentType.REQUEST, () => "B's update signature, sealed for A"],
  [PaymentType.REQUEST_COMPLETE, (from) => `S's update signature for B${from === 'A' ? ', from its watchtower copy' : ''}`],
  [PaymentType.REQUEST_ACK, () => "B's update signature: state complete on both sides"],
  [PaymentType.OPEN, (from) => `${from === 'A' ? 'A funds' : 'S funds'}: amount, CSV delay, ${from}'s channel key and payout script`],
  [PaymentType.OPEN_ACCEPT, () => "S's channel key and payout script"],
  [PaymentType.OPEN_SIGN, () => 'settlement 0 and update 0 signatures, before any funding exists'],
  [PaymentType.OPEN_SIGNED, () => 'the missing state-0 signatures: state 0 fully signed'],
  [PaymentType.FUNDING, () => 'the funding outpoint'],
]);

/** One channel of a balance table: its name, its two parties, and each party's own view. */
export interface ChannelRow {
  name: string;
  parties: [Role, Role];
  views: [Channel, Channel];
}

/** What the stage knows about an event when it fires: the state it concerns, the channel and the counterparty. */
export interface EventContext {
  /** State number the event concerns. */
  n?: number;
  /** Name of the channel the event concerns (e.g. `S–P`). */
  channel?: string;
  /** The other party of that channel. */
  peer?: Role;
  /** True for a payment request (the payee pre-signed, SPEC 6.14). */
  request?: boolean;
}

const COL = 7; // width of the "A → S" column and a little more

/** Prints demo lines to a sink (stdout by default). */
export class Narrator {
  constructor(private readonly out: (line: string) => void = (l) => process.stdout.write(l + '\n')) {}

  /** A heading: `2. B is offline. A pays B …`. */
  step(n: number, title: string): void {
    this.out('');
    this.out(`${n}. ${title}`);
  }

  /** An empty line. */
  blank(): void {
    this.out('');
  }

  /** A plain indented line. */
  line(text: string): void {
    this.out(`   ${text}`);
  }

  /** A line attributed to a role (or an arrow between roles). */
  say(who: string, text: string): void {
    this.out(`   ${who.padEnd(COL)}${text}`);
  }

  /** A message posted through the relay: `A → S  UPDATE_PROPOSE   env 1a2b3c4d`. */
  sent(from: Role, to: Role | '?', type: number, id: string, note = ''): void {
    const text = [CARRIES.get(type)?.(from, to), note].filter(Boolean).join(', ');
    this.say(`${from} → ${to}`, `${typeName(type).padEnd(16)} env ${id.slice(0, 8)}${text ? `  (${text})` : ''}`);
  }

  /** A message that waited in a mailbox and was pushed when its recipient came online. */
  pushed(to: Role, from: Role | '?', type: number, id: string): void {
    this.say(`${to} ← ${from}`, `${typeName(type).padEnd(16)} env ${id.slice(0, 8)}  pushed on connect`);
  }

  /** One payment event of `role`, in words, with what the stage knew when it fired. */
  event(role: Role, e: PaymentEvent, ctx: EventContext = {}): void {
    const text = describe(role, e, ctx);
    if (text) this.say(role, text);
  }

  /** A balance table: one line per channel, both parties' views. */
  balances(rows: ChannelRow[]): void {
    const width = Math.max(...rows.map((r) => r.name.length));
    for (const {
      name,
      parties: [p0, p1],
      views: [mine, theirs],
    } of rows) {
      const [x, y] = mine.enforceable.state.balances;
      const [u, v] = theirs.enforceable.state.balances;
      this.line(
        `${name.padEnd(width)}  state ${String(mine.enforceable.state.n).padEnd(2)}` +
          `  ${p0}'s view: ${p0} ${sats(x).padStart(7)}  ${p1} ${sats(y).padStart(7)}` +
          `   ${p1}'s view: ${p0} ${sats(u).padStart(7)}  ${p1} ${sats(v).padStart(7)}`,
      );
    }
  }
}

function describe(role: Role, e: PaymentEvent, ctx: EventContext): string | undefined {
  const at = ctx.n === undefined ? '' : ` ${ctx.n}`;
  const ch = ctx.channel ?? 'S–B';
  const peer = ctx.peer ?? 'S';
  switch (e.kind) {
    case 'proposed':
      return role === 'A'
        ? `proposes A–S state${at}: settlement signed, update pre-signed to T_B`
        : `accepts state${at}: A's pre-signature verified for T_B; attests the offer`;
    case 'offered':
      return `the offer goes sealed to the payee's mailbox (ticket and attestation, no channel key)`;
    case 'offer_received':
      return `opens the offer: ${sats(e.amount)} sats, attested by S; burns its ticket for the receipt message`;
    case 'invoiced':
      return `signs an invoice for T_B = s_B·G and sends it to ${peer}`;
    case 'ptlc_extended':
      return `invoice from ${peer} checked; extends a PTLC locked to T + r·G (timeout height ${e.timeout})`;
    case 'ptlc_committed':
      return `PTLC committed in ${ch} state${at}`;
    case 'signature_bought':
      return `learns s_B: completes A's update; S can now enforce A–S state ${e.n}`;
    case 'paid':
      if (ctx.request)
        return role === 'S'
          ? `B acknowledged: S–B state${at} complete on both sides`
          : `paid ${sats(e.amount)} sats: S's signature completes S–B state${at}`;
      return role === 'S'
        ? `settled with ${peer} (${sats(e.amount)} sats)`
        : `paid ${sats(e.amount)} sats: ${ch} state${at} moves the PTLC to ${role}`;
    case 'completed':
      return `completed: s_B completes A–S state ${e.receipt.n}; receipt = B's BIP340 signature (R_B, s_B) on m under its receipt key, checked with verifyReceipt`;
    case 'cancelling':
      return `proposes A–S state${at} overwriting the pending one (fresh nonces)`;
    case 'cancelled':
      return role === 'A'
        ? 'cancelled: state overwritten, offer retracted, OFFER_VOID to B'
        : 'accepts the overwrite: it will never buy that signature';
    case 'voided':
      return 'the offer is void';
    case 'rejected':
      return `rejected ${e.code}: ${e.message}`;
    case 'ignored':
      return `ignores ${typeName(e.type)}: ${e.reason}`;
    case 'request_sent':
      return `holds S's signature on S–B settlement${at} (+${sats(e.amount)} sats to B); signs update${at} for A`;
    case 'request_received':
      return `request for ${sats(e.amount)} sats: B's update signature verified, T_S = R_S + e·P_S computed`;
    case 'signature_sold':
      return `A's PTLC enforceable; signs S–B update ${e.n} and reveals s_S + r to claim it`;
    case 'request_paid':
      return `learns s_S: keeps B's complete update (both signatures) as B's watchtower`;
    case 'terms_received':
      return `holds S's signed terms (serial ${e.serial}): fees, CSV bounds, capacity bounds, confirmations`;
    case 'open_requested':
      return `open ${e.channelId.slice(0, 8)}: ${sats(e.amount)} sats`;
    case 'open_accepted':
      return `open ${e.channelId.slice(0, 8)} accepted`;
    case 'open_signed':
      return `state 0 of ${e.channelId.slice(0, 8)} fully signed, before its funding exists`;
    case 'funding_published':
      return `funding tx ${e.txid.slice(0, 16)}… broadcast (PSBT funded and signed by its own wallet)`;
    case 'channel_ready':
      return `channel ${e.channelId.slice(0, 8)} confirmed at height ${e.height}: usable`;
    case 'open_aborted':
      return `open ${e.channelId.slice(0, 8)} aborted: ${e.reason}`;
  }
}
