/**
 * What `ln-mailbox demo` prints: one short, aligned line per protocol step
 * (who, what, which SPEC §6 message type went through the relay, and the
 * envelope id prefix), and the channel balance tables. Kept apart from the
 * scenario so the scenario reads as the protocol, not as string formatting.
 * Keys, secrets and plaintext are never printed: only public ids and amounts.
 * @module
 */
import { PaymentType } from '../protocol/payment.js';
import type { PaymentEvent } from '../src/payment/types.js';
import type { Channel } from '../src/channel/channel.js';

/** The three roles of the demo. */
export type Role = 'A' | 'S' | 'B';

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

/** What the messages a reader cares most about carry (SPEC §6). */
const CARRIES = new Map<number, string>([
  [PaymentType.OFFER, 'T and s_A, sealed for B'],
  [PaymentType.INVOICE, 'signed by B, with a receipt sealed for A'],
  [PaymentType.PTLC_FULFILL, 'reveals t = s_A'],
  [PaymentType.COMPLETION, "B's sealed receipt, t, S's signature"],
  [PaymentType.OFFER_VOID, 'the offer is void'],
]);

const COL = 7; // width of the "A → S " column

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
    const text = [CARRIES.get(type), note].filter(Boolean).join(', ');
    this.say(`${from} → ${to}`, `${typeName(type).padEnd(16)} env ${id.slice(0, 8)}${text ? `  (${text})` : ''}`);
  }

  /** A message that waited in a mailbox and was pushed when its recipient came online. */
  pushed(to: Role, from: Role | '?', type: number, id: string): void {
    this.say(`${to} ← ${from}`, `${typeName(type).padEnd(16)} env ${id.slice(0, 8)}  pushed on connect`);
  }

  /** One payment event of `role`, in words. `n` is the state number the event concerns, when known. */
  event(role: Role, e: PaymentEvent, n?: number): void {
    const text = describe(role, e, n);
    if (text) this.say(role, text);
  }

  /** The balance table of both channels, both views each. */
  balances(views: { asA: Channel; asS: Channel; sbS: Channel; sbB: Channel }): void {
    const row = (name: string, party0: string, party1: string, mine: Channel, theirs: Channel) => {
      const [x, y] = mine.enforceable.state.balances;
      const [u, v] = theirs.enforceable.state.balances;
      this.line(
        `${name}  state ${String(mine.enforceable.state.n).padEnd(2)}` +
          `  ${party0}'s view: ${party0} ${sats(x).padStart(7)}  ${party1} ${sats(y).padStart(7)}` +
          `   ${party1}'s view: ${party0} ${sats(u).padStart(7)}  ${party1} ${sats(v).padStart(7)}`,
      );
    };
    row('A–S', 'A', 'S', views.asA, views.asS);
    row('S–B', 'S', 'B', views.sbS, views.sbB);
  }
}

function describe(role: Role, e: PaymentEvent, n?: number): string | undefined {
  const at = n === undefined ? '' : ` ${n}`;
  switch (e.kind) {
    case 'proposed':
      return role === 'A' ? `proposes A–S state${at}: settlement co-signed, update nonce committed` : `accepts state${at}, records T = R_A + e·P_A`;
    case 'offered':
      return `signs update${at}; s_A goes sealed to B's mailbox`;
    case 'offer_received':
      return `opens the offer: ${sats(e.amount)} sats, s_A verified against the update sighash`;
    case 'invoiced':
      return 'signs an invoice for T = s_A·G and sends it to S';
    case 'ptlc_extended':
      return `invoice checked; extends a PTLC locked to T (timeout height ${e.timeout})`;
    case 'ptlc_committed':
      return `PTLC committed in S–B state${at}`;
    case 'signature_bought':
      return `learns t = s_A: S can now enforce A–S state ${e.n}`;
    case 'paid':
      return role === 'B' ? `paid ${sats(e.amount)} sats: S–B state${at} moves the PTLC to B` : `settled with B (${sats(e.amount)} sats)`;
    case 'completed':
      return `completed: receipt = B's signed invoice + t, A–S state ${e.receipt.n}`;
    case 'cancelling':
      return `proposes A–S state${at} overwriting the pending one (fresh nonces)`;
    case 'cancelled':
      return role === 'A' ? 'cancelled: state overwritten, offer retracted, OFFER_VOID to B' : 'accepts the overwrite: it will never buy that signature';
    case 'voided':
      return 'the offer is void';
    case 'rejected':
      return `rejected ${e.code}: ${e.message}`;
    case 'ignored':
      return `ignores ${typeName(e.type)}: ${e.reason}`;
  }
}
