/**
 * Payers or payees of the hub bench (bench/hub.ts), many wallets in one
 * process, on the stores and state-0 channels the hub process set up.
 * Payees stay online and publish a batch of receipt tickets; payers pay
 * them in a closed loop: every payer has at most one payment in flight,
 * and starts the next (to a payee with none in flight) as soon as the
 * previous one completed.
 * @module
 */
import WebSocket from 'ws';
import { bytesToHex, hexToBytes } from '../../base/bytes.js';
import { LevelKv } from '../../client/mailbox/kv.js';
import { PayeeNode, PayerNode } from '../../client/wallet/roles.js';
import { pickTicket } from '../../client/wallet/tickets.js';
import { Channel } from '../../engine/channel/channel.js';
import { HUB_FEE, type HubSpec, type PeerSpec } from '../servers/hub-spec.js';
import { serve } from '../rpc.js';

const base = (p: PeerSpec, relayUrl: string) => ({
  identityKey: hexToBytes(p.identityKey, 32),
  relays: [relayUrl],
  kv: new LevelKv(p.dir),
  ownsStore: true,
  chain: { height: () => 800_000 },
  client: { WebSocket: WebSocket as never, reconnect: { minMs: 50, maxMs: 500 } },
});

let payers: PayerNode[] = [];
let payees: PayeeNode[] = [];
let errors = 0;
let lastError = '';
const onError = (e: Error): void => {
  errors++;
  lastError = e.message;
};

/** The closed loop's state. */
interface Loop {
  running: boolean;
  completed: number;
  failed: string[];
  latencies: number[];
  done: Promise<void>;
}
let loop: Loop | undefined;

/** Terminal payment events by offer id (they may arrive before `payOffline` resolves), and their waiters. */
const ends = new Map<string, string | null>();
const waiters = new Map<string, (err: string | null) => void>();
const TERMINAL = new Set(['completed', 'rejected', 'cancelled', 'voided']);
function onPayment(e: { kind: string; offerId?: string; message?: string }): void {
  if (!e.offerId || !TERMINAL.has(e.kind)) return;
  const err = e.kind === 'completed' ? null : `payment ${e.offerId} ${e.kind}${e.message ? `: ${e.message}` : ''}`;
  const w = waiters.get(e.offerId);
  if (w) {
    waiters.delete(e.offerId);
    w(err);
  } else ends.set(e.offerId, err);
}
/** Resolves when payment `offerId` completed; rejects when it ended otherwise or after `ms`. */
function settled(offerId: string, ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err: string | null): void => (err === null ? resolve() : reject(new Error(err)));
    if (ends.has(offerId)) {
      const err = ends.get(offerId)!;
      ends.delete(offerId);
      return done(err);
    }
    const timer = setTimeout(() => {
      waiters.delete(offerId);
      reject(new Error(`payment ${offerId} not completed in ${ms} ms`));
    }, ms);
    waiters.set(offerId, (err) => {
      clearTimeout(timer);
      done(err);
    });
  });
}

/** Payment amount (sat): small, so the channels last for thousands of payments. */
const AMOUNT = 1000;

serve({
  /** Opens one payee per spec, publishes `tickets` receipt tickets each; returns each payee's address and ticket batch (hex). */
  async payees(relayUrl: string, hub: HubSpec, specs: PeerSpec[], tickets: number): Promise<{ address: string; batch: string }[]> {
    const out: { address: string; batch: string }[] = [];
    for (const p of specs) {
      const node = await PayeeNode.open({
        ...base(p, relayUrl),
        config: {
          address: p.address,
          channelKey: hexToBytes(p.channelKey, 32),
          hubKey: hexToBytes(hub.publicKey, 32),
          hubAddress: hub.address,
          timeoutDelta: 40,
          invoiceTtlMs: 3_600_000,
        },
        channel: Channel.fromJSON(p.channel),
      });
      node.on('error', onError);
      payees.push(node);
      out.push({ address: p.address, batch: bytesToHex(await node.publishTickets(tickets)) });
    }
    return out;
  },

  /** Opens one payer per spec. */
  async payers(relayUrl: string, hub: HubSpec, specs: PeerSpec[]): Promise<number> {
    for (const p of specs) {
      const node = await PayerNode.open({
        ...base(p, relayUrl),
        config: { hubKey: hexToBytes(hub.publicKey, 32), hubAddress: hub.address, channelKey: hexToBytes(p.channelKey, 32) },
        channel: Channel.fromJSON(p.channel),
        hubFee: HUB_FEE,
      });
      node.on('error', onError);
      node.on('payment', (e) => onPayment(e as { kind: string; offerId?: string; message?: string }));
      payers.push(node);
    }
    return payers.length;
  },

  /** Starts the closed loop: every payer pays, one payment at a time, to payees with nothing in flight. */
  start(targets: { address: string; batch: string }[], timeoutMs: number): void {
    const busy = new Set<string>();
    const used = new Map(targets.map((t) => [t.address, new Set<string>()]));
    let next = 0;
    const l: Loop = { running: true, completed: 0, failed: [], latencies: [], done: Promise.resolve() };
    const freePayee = (): { address: string; batch: string } => {
      for (let i = 0; i < targets.length; i++) {
        const t = targets[(next + i) % targets.length]!;
        if (!busy.has(t.address)) {
          next = (next + i + 1) % targets.length;
          return t;
        }
      }
      throw new Error('no payee free: more payers than payees');
    };
    const payOnce = async (payer: PayerNode): Promise<void> => {
      const t = freePayee();
      busy.add(t.address);
      try {
        const ticket = pickTicket(hexToBytes(t.batch), t.address, used.get(t.address));
        used.get(t.address)!.add(bytesToHex(ticket));
        const t0 = performance.now();
        const offerId = await payer.payOffline(t.address, AMOUNT, { ticket, memo: 'bench' });
        await settled(offerId, timeoutMs);
        l.latencies.push(performance.now() - t0);
        l.completed++;
      } finally {
        busy.delete(t.address);
      }
    };
    const worker = async (payer: PayerNode): Promise<void> => {
      while (l.running) {
        try {
          await payOnce(payer);
        } catch (e) {
          l.failed.push((e as Error).message);
          l.running = false;
        }
      }
    };
    l.done = Promise.all(payers.map(worker)).then(() => undefined);
    loop = l;
  },

  /** Payments completed so far. */
  completed(): number {
    return loop?.completed ?? 0;
  },

  /** Stops the loop once the payments in flight completed; returns the loop's totals. */
  async stop(): Promise<{ completed: number; failed: string[]; latencies: number[]; errors: number; lastError: string }> {
    const l = loop!;
    l.running = false;
    await l.done;
    loop = undefined;
    return { completed: l.completed, failed: l.failed, latencies: l.latencies, errors, lastError };
  },

  async close(): Promise<void> {
    await Promise.all([...payers, ...payees].map((n) => n.close()));
    payers = [];
    payees = [];
  },
});
