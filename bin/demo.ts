/**
 * `ln-mailbox demo`: one asynchronous Lightning payment, mode 1 of DESIGN.md
 * §2 (SPEC §6), played end to end on this machine and narrated step by step.
 *
 * A relay (a local one on 127.0.0.1, or `--relay URL`), and the three roles
 * A (payer), S (hub) and B (payee) as real role runtimes with their own
 * LevelDB stores in a temporary directory, talking only through the relay.
 * A pays while B is offline, then goes offline itself; B comes online and
 * sells A's signature to S; A comes back to its receipt. Then a second
 * payment is cancelled before B sees it. Every balance is checked at the end.
 *
 * Node-only (it starts the relay), so it lives in `bin/`, not in `client/`.
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { schnorr } from '@noble/curves/secp256k1.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { encodeMailboxAddress } from '../protocol/address.js';
import { bytesToHex } from '../protocol/bytes.js';
import { isLnMailboxError } from '../protocol/errors.js';
import { PaymentType, decodePayment, verifyInvoice } from '../protocol/payment.js';
import { startRelay, type Relay } from '../server/relay.js';
import { LevelKv } from '../client/kv.js';
import { KvNonceStore } from '../client/nonce-store.js';
import { normalizeRelayUrl } from '../client/relay-http.js';
import { HubNode, PayeeNode, PayerNode } from '../client/roles.js';
import type { RoleEngine, RoleRuntime } from '../client/runtime.js';
import type { Channel } from '../src/channel/channel.js';
import { openChannelPair } from '../src/channel/open.js';
import { capacity, type ChannelParams } from '../src/channel/state.js';
import type { PaymentEvent } from '../src/payment/types.js';
import { Narrator, sats, type Role } from './demo-narrator.js';

const MIN_AMOUNT = 1_000;
const MAX_AMOUNT = 250_000;

const USAGE = `usage: ln-mailbox demo [--relay URL] [--amount SATS]

Plays one asynchronous payment (A pays B through hub S while B is offline)
and one cancellation, narrating every message that goes through the relay.

  --relay URL     use this relay instead of starting a local one
  --amount SATS   amount A pays B (${sats(MIN_AMOUNT)}..${sats(MAX_AMOUNT)}, default 50,000)
  -h, --help      this help`;

/** Per-step time limit: every step finishes in well under a second on a laptop. */
const STEP_MS = 20_000;
const FUNDING = 1_000_000;
const HUB_FEE = { base: 10, ppm: 1000 };
const HEIGHT = 800_000;

/** Parsed command line of the demo. */
interface DemoArgs { relay?: string; amount: number; help: boolean }

class DemoError extends Error {}

function parseArgs(args: string[]): DemoArgs {
  const out: DemoArgs = { amount: 50_000, help: false };
  for (let i = 0; i < args.length; i++) {
    const raw = args[i]!;
    const eq = raw.indexOf('=');
    const flag = raw.startsWith('--') && eq > 0 ? raw.slice(0, eq) : raw;
    const value = (): string => {
      const v = eq > 0 && raw.startsWith('--') ? raw.slice(eq + 1) : args[++i];
      if (v === undefined || v === '') throw new DemoError(`${flag} needs a value`);
      return v;
    };
    if (flag === '-h' || flag === '--help') out.help = true;
    else if (flag === '--relay') out.relay = normalizeRelayUrl(value());
    else if (flag === '--amount') {
      const v = value();
      const n = Number(v.replace(/[_,]/g, ''));
      if (!Number.isSafeInteger(n) || n < MIN_AMOUNT || n > MAX_AMOUNT)
        throw new DemoError(`--amount: expected whole sats in ${sats(MIN_AMOUNT)}..${sats(MAX_AMOUNT)}, got ${v}`);
      out.amount = n;
    } else throw new DemoError(`unknown option ${raw}`);
  }
  return out;
}

/** Keys and store directory of one role. Secret keys never leave this process and are never printed. */
interface Party { idSk: Uint8Array; idPk: Uint8Array; chSk: Uint8Array; chPk: Uint8Array; dir: string; address: string }

function party(root: string, name: Role, relay: string): Party {
  const idSk = schnorr.utils.randomSecretKey();
  const chSk = schnorr.utils.randomSecretKey();
  const idPk = schnorr.getPublicKey(idSk);
  const dir = path.join(root, name);
  fs.mkdirSync(dir);
  return { idSk, idPk, chSk, chPk: schnorr.getPublicKey(chSk), dir, address: encodeMailboxAddress({ publicKey: idPk, relays: [relay] }) };
}

function channelParams(k0: Uint8Array, k1: Uint8Array, csvDelay: number): ChannelParams {
  return { channelId: randomBytes(32), funding: { txid: randomBytes(32), vout: 0, amount: FUNDING }, keys: [k0, k1], csvDelay, fees: { update: 500, settlement: 500, ptlc: 300 } };
}

const errText = (e: unknown): string => (isLnMailboxError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e));

/** The running scenario: parties, nodes, what each has seen, and the step clock. */
class Demo {
  readonly say = new Narrator();
  readonly events: Record<Role, PaymentEvent[]> = { A: [], S: [], B: [] };
  readonly sent: { from: Role; type: number; id: string }[] = [];
  readonly errors: string[] = [];
  nodes: { A?: PayerNode; S?: HubNode; B?: PayeeNode } = {};
  /** Balances of state 0 (A–S, S–B), copied before the engines move the channels on. */
  readonly start: [[number, number], [number, number]];
  #deadline = 0;
  #stepName = '';

  constructor(readonly relayUrl: string, readonly p: Record<Role, Party>, readonly asParams: ChannelParams, readonly sbParams: ChannelParams,
    readonly init: { asA: Channel; asS: Channel; sbS: Channel; sbB: Channel }) {
    const [a, s1] = init.asA.enforceable.state.balances, [s2, b] = init.sbB.enforceable.state.balances;
    this.start = [[a, s1], [s2, b]];
  }

  /** Starts step `n`: prints its heading and arms its time limit. */
  step(n: number, title: string): void {
    this.say.step(n, title);
    this.#stepName = `step ${n}`;
    this.#deadline = Date.now() + STEP_MS;
  }

  /** Polls `pred` until it holds, or fails the step at its deadline. */
  async until(pred: () => boolean, what: string): Promise<void> {
    while (!pred()) {
      if (Date.now() > this.#deadline) throw new DemoError(`${this.#stepName}: timed out after ${STEP_MS / 1000} s waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 15));
    }
  }

  /** Awaits `p`, or fails the step at its deadline. */
  async guard<T>(p: Promise<T>, what: string): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DemoError(`${this.#stepName}: timed out while ${what}`)), Math.max(0, this.#deadline - Date.now()));
    });
    try {
      return await Promise.race([p, limit]);
    } finally {
      clearTimeout(timer);
    }
  }

  check(ok: boolean, what: string): asserts ok {
    if (!ok) throw new DemoError(`${this.#stepName}: check failed: ${what}`);
  }

  has(role: Role, kind: PaymentEvent['kind'], offerId?: string): boolean {
    return this.events[role].some((e) => e.kind === kind && (offerId === undefined || ('offerId' in e && e.offerId === offerId)));
  }

  roleOfAddress(addr: string): Role | '?' {
    return (['A', 'S', 'B'] as const).find((r) => this.p[r].address === addr) ?? '?';
  }

  roleOfKey(hex: string): Role | '?' {
    return (['A', 'S', 'B'] as const).find((r) => bytesToHex(this.p[r].idPk) === hex) ?? '?';
  }

  /** The hub's view of its channel with `params`. */
  hubChannel(params: ChannelParams): Channel {
    return this.nodes.S!.engine.peers.get(bytesToHex(params.channelId))!.channel;
  }

  /** The state number an event concerns, read from the engine when the event fires. */
  #stateOf(role: Role, e: PaymentEvent): number | undefined {
    if (role === 'A') return this.nodes.A?.engine.channel.topN;
    if (role === 'B') return this.nodes.B?.engine.channel.enforceable.state.n;
    if (!this.nodes.S) return undefined;
    return e.kind === 'proposed' ? this.hubChannel(this.asParams).topN : this.hubChannel(this.sbParams).enforceable.state.n;
  }

  /**
   * Wires a node's events to the narration. Payment events are printed on the
   * next turn of the event loop, so that the line saying which message was
   * pushed to a role comes before the lines saying what the role did with it.
   */
  attach<T extends RoleRuntime<RoleEngine>>(role: Role, node: T): T {
    let queue: [PaymentEvent, number | undefined][] = [];
    const drain = () => {
      for (const [e, n] of queue) this.say.event(role, e, n);
      queue = [];
    };
    node.on('payment', (e) => {
      this.events[role].push(e);
      if (queue.length === 0) setImmediate(drain);
      queue.push([e, this.#stateOf(role, e)]);
    });
    node.on('sent', (e) => {
      this.sent.push({ from: role, type: e.type, id: e.id });
      const to = this.roleOfAddress(e.to);
      const offline = (to === 'A' || to === 'B') && !this.nodes[to] ? `waits in ${to}'s mailbox` : '';
      this.say.sent(role, to, e.type, e.id, offline);
    });
    node.on('received', (e) => {
      // Messages that waited for an offline recipient: show that the relay pushed them.
      if (e.type === PaymentType.OFFER || e.type === PaymentType.COMPLETION || e.type === PaymentType.OFFER_VOID)
        this.say.pushed(role, this.roleOfKey(e.from), e.type, e.id);
    });
    node.on('error', (e) => this.errors.push(`${role}: ${errText(e)}`));
    return node;
  }

  #base(r: Role) {
    return {
      identityKey: this.p[r].idSk, relays: [this.relayUrl], kv: new LevelKv(this.p[r].dir), ownsStore: true,
      chain: { height: () => HEIGHT }, client: { WebSocket: WebSocket as never, reconnect: { minMs: 50, maxMs: 500 } },
    };
  }

  async openA(): Promise<PayerNode> {
    const { A, S } = this.p;
    const node = await this.guard(PayerNode.open({
      ...this.#base('A'), config: { hubKey: S.idPk, hubAddress: S.address, channelKey: A.chSk }, channel: this.init.asA, hubFee: HUB_FEE,
    }), 'opening A');
    return (this.nodes.A = this.attach('A', node));
  }

  async openS(): Promise<HubNode> {
    const { A, S, B } = this.p;
    const node = await this.guard(HubNode.open({
      ...this.#base('S'),
      config: { identityKey: S.idPk, address: S.address, channelKey: S.chSk, fee: HUB_FEE, safetyMargin: 6, maxTimeoutDelta: 100 },
      peers: [{ channel: this.init.asS, peerKey: A.idPk, peerAddress: A.address }, { channel: this.init.sbS, peerKey: B.idPk, peerAddress: B.address }],
    }), 'opening S');
    return (this.nodes.S = this.attach('S', node));
  }

  async openB(): Promise<PayeeNode> {
    const { S, B } = this.p;
    const node = await this.guard(PayeeNode.open({
      ...this.#base('B'),
      config: { identityKey: B.idSk, address: B.address, channelKey: B.chSk, hubKey: S.idPk, hubAddress: S.address, timeoutDelta: 40, invoiceTtlMs: 3_600_000 },
      channel: this.init.sbB,
    }), 'opening B');
    return (this.nodes.B = this.attach('B', node));
  }

  /** Takes a role offline: closes its sockets and its store (its state is on disk). */
  async close(role: Role): Promise<void> {
    const node = this.nodes[role];
    delete this.nodes[role];
    if (node) await this.guard(node.close(), `closing ${role}`);
  }

  async closeAll(): Promise<void> {
    this.#deadline = Date.now() + STEP_MS;
    this.#stepName = 'clean-up';
    for (const r of ['A', 'B', 'S'] as const) await this.close(r).catch(() => undefined);
  }
}

/** Checks both views of a channel agree, nothing is pending, and funds are conserved. Returns the balances. */
function settled(d: Demo, name: string, mine: Channel, theirs: Channel): [number, number] {
  const x = mine.enforceable.state, y = theirs.enforceable.state;
  d.check(x.n === y.n && x.balances[0] === y.balances[0] && x.balances[1] === y.balances[1] && x.ptlcs.length === y.ptlcs.length,
    `the two views of ${name} differ (state ${x.n} vs ${y.n})`);
  d.check(!mine.pending && !theirs.pending && x.ptlcs.length === 0, `${name} still has a pending state or PTLC`);
  d.check(x.balances[0] + x.balances[1] === capacity(mine.params), `${name} does not add up to its capacity`);
  return x.balances;
}

async function play(d: Demo, amount: number, started: number): Promise<void> {
  const { say, p } = d;
  const fee = HUB_FEE.base + Math.floor((amount * HUB_FEE.ppm) / 1e6);
  const cap = capacity(d.asParams);

  d.step(0, 'Setup');
  await d.openS();
  say.say('relay', d.relayUrl);
  say.say('A', `payer  ${p.A.address.slice(0, 20)}…  A–S channel ${sats(FUNDING)} sats, CSV 288 blocks`);
  say.say('S', `hub    ${p.S.address.slice(0, 20)}…  fee ${HUB_FEE.base} sats + ${HUB_FEE.ppm} ppm`);
  say.say('B', `payee  ${p.B.address.slice(0, 20)}…  S–B channel ${sats(FUNDING)} sats, CSV 24 blocks`);
  say.say('S', 'is online (the hub always is); A and B are offline');

  d.step(1, 'Balances before (both views of each channel, co-signed state 0)');
  say.balances(d.init);

  d.step(2, `B is offline. A pays B ${sats(amount)} sats (hub fee ${sats(fee)})`);
  const t0 = Date.now();
  const A = await d.openA();
  const offerId = await d.guard(A.payOffline(p.B.address, amount, { memo: 'demo' }), 'A pays');
  await d.until(() => d.sent.some((s) => s.from === 'A' && s.type === PaymentType.OFFER), "A's offer to be posted to B's mailbox");
  await d.close('A');
  say.say('A', 'goes offline');

  d.step(3, 'B comes online and sells s_A to S');
  await d.openB();
  await d.until(() => d.has('B', 'paid', offerId), 'B to be paid');
  await d.until(() => d.has('S', 'paid', offerId), 'S to settle with B');
  await d.until(() => d.sent.some((s) => s.from === 'S' && s.type === PaymentType.COMPLETION), "S's completion to be posted to A");
  const sAS = d.hubChannel(d.asParams);
  d.check(sAS.enforceable.state.n === 1 && sAS.enforceable.updateSigs.every((s) => s !== null), 'S does not hold A–S state 1 fully signed');
  say.say('S', 'check: S holds A–S state 1 with all four signatures, enforceable by S alone');

  d.step(4, 'A comes back online');
  const A2 = await d.openA();
  await d.until(() => d.has('A', 'completed', offerId), 'A to receive the completion');
  const done = d.events.A.find((e) => e.kind === 'completed' && e.offerId === offerId);
  d.check(done?.kind === 'completed', 'no receipt');
  const inv = decodePayment(PaymentType.INVOICE, done.receipt.invoice);
  d.check(inv.type === PaymentType.INVOICE && verifyInvoice(inv) && bytesToHex(inv.payeeKey) === bytesToHex(p.B.idPk), 'the receipt is not signed by B');
  say.say('A', `receipt: invoice for ${sats(inv.amount)} sats signed by B, and t with t·G = T`);
  const elapsed = Date.now() - t0;

  d.step(5, 'Balances after');
  const views = { asA: A2.engine.channel, asS: d.hubChannel(d.asParams), sbS: d.hubChannel(d.sbParams), sbB: d.nodes.B!.engine.channel };
  say.balances(views);
  const [a, s1] = settled(d, 'A–S', views.asA, views.asS);
  const [s2, b] = settled(d, 'S–B', views.sbS, views.sbB);
  const [[a0, s10], [s20, b0]] = d.start;
  d.check(a - a0 === -(amount + fee) && b - b0 === amount && s1 - s10 + (s2 - s20) === fee, 'balances moved by the wrong amounts');
  say.line(`A ${sats(a - a0)}   S +${sats(fee)} (fee)   B +${sats(b - b0)}`);
  say.line(`consistent: both views of each channel agree; each holds ${sats(cap)} = capacity (funds conserved)`);
  say.line(`payment completed in ${(elapsed / 1000).toFixed(2)} s, with B and A each offline while the other acted`);
  await d.close('B');
  say.say('B', 'goes offline');

  d.step(6, 'Cancellation: A pays again, then cancels before B comes online');
  const before = A2.engine.channel.enforceable.state;
  const offer2 = await d.guard(A2.payOffline(p.B.address, amount, { memo: 'demo 2' }), 'A pays again');
  await d.until(() => d.has('A', 'offered', offer2) && d.sent.filter((s) => s.from === 'A' && s.type === PaymentType.OFFER).length === 2, 'the second offer to be posted');
  const envelope = d.sent.filter((s) => s.from === 'A' && s.type === PaymentType.OFFER)[1]!.id;
  say.say('relay', `status of offer env ${envelope.slice(0, 8)}: ${await d.guard(A2.client.status(d.relayUrl, envelope), 'asking the relay')}`);
  const pendingN = A2.engine.channel.topN;
  await d.guard(A2.cancel(offer2), 'A cancels');
  await d.until(() => d.has('A', 'cancelled', offer2), 'the cancellation');
  let status = '';
  await d.until(() => {
    void A2.client.status(d.relayUrl, envelope).then((st) => (status = st), () => undefined);
    return status === 'retracted';
  }, 'the offer envelope to be retracted');
  say.say('relay', `status of offer env ${envelope.slice(0, 8)}: ${status}`);
  const asA = A2.engine.channel;
  await d.until(() => d.hubChannel(d.asParams).enforceable.state.n === asA.enforceable.state.n, "S's view to reach A's state");
  const after = settled(d, 'A–S', asA, d.hubChannel(d.asParams));
  d.check(asA.enforceable.state.n > pendingN && after[0] === before.balances[0] && after[1] === before.balances[1], 'the overwrite did not restore the balances');
  say.say('A–S', `state ${asA.enforceable.state.n} overwrites pending state ${pendingN}: balances unchanged (A ${sats(after[0])}, S ${sats(after[1])})`);
  const B = await d.openB();
  await d.until(() => d.events.B.some((e) => (e.kind === 'ignored' && e.type === PaymentType.OFFER_VOID) || (e.kind === 'voided' && e.offerId === offer2)), 'B to read the void');
  d.check(!d.has('B', 'offer_received', offer2) && !B.engine.payments.has(offer2), 'B saw the cancelled offer');
  d.check(!d.has('S', 'ptlc_extended', offer2), 'S extended a PTLC for a superseded state');
  say.say('B', 'finds nothing to pay: the offer was retracted before B came online');

  say.blank();
  say.line(`Done in ${((Date.now() - started) / 1000).toFixed(2)} s: completed, cancelled, every balance consistent.`);
}

/**
 * Runs `ln-mailbox demo [--relay URL] [--amount SATS]`. Resolves with the exit
 * code: 0 on success, 1 when a step fails or times out, 2 on bad arguments.
 */
export async function runDemoCli(args: string[]): Promise<number> {
  let opts: DemoArgs;
  try {
    opts = parseArgs(args);
  } catch (e) {
    console.error(`ln-mailbox demo: ${errText(e)}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  const started = Date.now();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lnmb-demo-'));
  let relay: Relay | undefined;
  let d: Demo | undefined;
  try {
    const url = opts.relay ?? (relay = await startRelay({ host: '127.0.0.1', port: 0, dataDir: path.join(root, 'relay'), logLevel: 'silent' })).url;
    const p = { A: party(root, 'A', url), S: party(root, 'S', url), B: party(root, 'B', url) };
    const asParams = channelParams(p.A.chPk, p.S.chPk, 288);
    const sbParams = channelParams(p.S.chPk, p.B.chPk, 24);
    // Open both channels with each party's own persistent nonce store, then release the stores.
    const kv = { A: new LevelKv(p.A.dir), S: new LevelKv(p.S.dir), B: new LevelKv(p.B.dir) };
    const [asA, asS] = await openChannelPair(asParams, [600_000, 399_000], p.A.chSk, p.S.chSk, new KvNonceStore(kv.A), new KvNonceStore(kv.S));
    const [sbS, sbB] = await openChannelPair(sbParams, [700_000, 299_000], p.S.chSk, p.B.chSk, new KvNonceStore(kv.S), new KvNonceStore(kv.B));
    await Promise.all(Object.values(kv).map((k) => k.close()));
    console.log('ln-mailbox demo: an asynchronous Lightning payment through a mailbox relay');
    d = new Demo(url, p, asParams, sbParams, { asA, asS, sbS, sbB });
    await play(d, opts.amount, started);
    return 0;
  } catch (e) {
    console.error(`\nln-mailbox demo FAILED: ${errText(e)}`);
    if (!(e instanceof DemoError) && !isLnMailboxError(e) && e instanceof Error && e.stack) console.error(e.stack);
    for (const line of d?.errors.slice(-5) ?? []) console.error(`  last errors: ${line}`);
    return 1;
  } finally {
    await d?.closeAll();
    await relay?.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}
