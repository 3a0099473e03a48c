/**
 * `ln-mailbox demo`: asynchronous Lightning payments, both flows of the
 * payment protocol (SPEC §6): the offer (the payer pre-signs) and the
 * request (the payee pre-signs), played end to end on this machine and narrated
 * step by step.
 *
 * A relay (a local one on 127.0.0.1, or `--relay URL`), and the roles A
 * (payer), S (hub), B (payee), P (router) and B₂ (P's payee) as real role
 * runtimes with their own LevelDB stores in a temporary directory, talking
 * only through the relay. A pays while B is offline, then goes offline
 * itself; B comes online and sells A's signature to S; A comes back to its
 * receipt. Then a second payment is cancelled before B sees it; a third goes
 * over the privacy hop S→P→B₂ (S sees only P; each hop has its own point);
 * and in a fourth B pre-signs a request that A pays while B is offline
 * (the request flow, SPEC §6.14). Every balance is checked after each payment.
 *
 * Node-only (it starts the relay), so it lives in `bin/`, not in `client/`.
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { verify } from '../crypto/bip340.js';
import { bytesToHex, hexToBytes } from '../base/bytes.js';
import { isLnMailboxError } from '../base/errors.js';
import { PaymentType } from '../protocol/payment.js';
import { decodeReceipt, verifyReceipt } from '../protocol/receipt.js';
import { startRelay, type Relay } from '../server/relay.js';
import { normalizeRelayUrl } from '../protocol/address.js';
import { RelayHttp } from '../client/mailbox/relay-http.js';
import type { Channel } from '../engine/channel/channel.js';
import { capacity } from '../engine/channel/state.js';
import { hubFee } from '../engine/payment/fee.js';
import { sats, type ChannelRow } from './demo-narrator.js';
import type { PayerNode } from '../client/wallet/roles.js';
import { DemoError, FUNDING, HUB_FEE, Stage, errText } from './demo-stage.js';

const MIN_AMOUNT = 1_000;
const MAX_AMOUNT = 250_000;
/** Default per-step time limit: every step takes well under a second on a laptop. */
const STEP_SECONDS = 20;
/** Amount of the routed payment (step 7) and of B's pre-signed request (step 8), sats. */
const ROUTED = 40_000;
const REQUESTED = 20_000;

const USAGE = `usage: ln-mailbox demo [--relay URL] [--amount SATS] [--timeout SECONDS]

Plays one asynchronous payment (A pays B through hub S while B is offline),
a cancellation, a payment routed S→P→B₂ for privacy, and a payment B
pre-signed (a payment request), narrating every message that goes through the relay.

  --relay URL     use this relay instead of starting a local one
  --amount SATS   amount A pays B (${sats(MIN_AMOUNT)}..${sats(MAX_AMOUNT)}, default 50,000)
  --timeout S     per-step time limit in seconds (default ${STEP_SECONDS})
  -h, --help      this help`;

/** Parsed command line of the demo. */
interface DemoArgs {
  relay?: string;
  amount: number;
  timeout: number;
  help: boolean;
}

function parseArgs(args: string[]): DemoArgs {
  const out: DemoArgs = { amount: 50_000, timeout: STEP_SECONDS, help: false };
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
    } else if (flag === '--timeout') {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 600) throw new DemoError(`--timeout: expected whole seconds in 1..600, got ${v}`);
      out.timeout = n;
    } else throw new DemoError(`unknown option ${raw}`);
  }
  return out;
}

/** The hub's fee for `amount` under its published policy. */
const feeFor = (amount: number): number => hubFee(amount, HUB_FEE);

/** Checks both views of a channel agree, nothing is pending, and funds are conserved. Returns the balances. */
function settled(d: Stage, name: string, mine: Channel, theirs: Channel): [number, number] {
  const x = mine.enforceable.state,
    y = theirs.enforceable.state;
  d.check(
    x.n === y.n && x.balances[0] === y.balances[0] && x.balances[1] === y.balances[1] && x.ptlcs.length === y.ptlcs.length,
    `the two views of ${name} differ (state ${x.n} vs ${y.n})`,
  );
  d.check(!mine.pending && !theirs.pending && x.ptlcs.length === 0, `${name} still has a pending state or PTLC`);
  d.check(x.balances[0] + x.balances[1] === capacity(mine.params), `${name} does not add up to its capacity`);
  return x.balances;
}

async function play(d: Stage, amount: number, started: number): Promise<void> {
  const { say, p } = d;
  const fee = feeFor(amount);
  const cap = capacity(d.asParams);

  d.step(0, 'Setup');
  await d.openS();
  await d.openP();
  say.say('relay', d.relayUrl);
  say.say('A', `payer  ${p.A.address.slice(0, 20)}…  A–S channel ${sats(FUNDING)} sats, CSV 288 blocks`);
  say.say('S', `hub    ${p.S.address.slice(0, 20)}…  fee ${HUB_FEE.base} sats + ${HUB_FEE.ppm} ppm`);
  say.say('B', `payee  ${p.B.address.slice(0, 20)}…  S–B channel ${sats(FUNDING)} sats, CSV 24 blocks`);
  say.say('P', `router ${p.P.address.slice(0, 20)}…  S–P channel ${sats(FUNDING)} sats, CSV 24 blocks; 30 blocks between its timeouts`);
  say.say('B₂', `payee  ${p['B₂'].address.slice(0, 20)}…  P–B₂ channel ${sats(FUNDING)} sats, CSV 12 blocks (no channel with S)`);
  say.say('S, P', 'are online (hubs and routers always are); A, B and B₂ are offline');
  // B and B₂ were online once: each published a batch of one-time receipt tickets on its relay.
  await d.guard((await d.openB()).publishTickets(8), 'B publishing receipt tickets');
  await d.close('B');
  await d.guard((await d.openB2()).publishTickets(8), 'B₂ publishing receipt tickets');
  await d.close('B₂');
  say.say('B, B₂', 'were online earlier: each published 8 receipt tickets (its relay record receipt-tickets)');

  d.step(1, 'Balances before (both views of each channel, co-signed state 0)');
  say.balances(d.rows(['A–S', 'S–B', 'S–P', 'P–B₂']));

  d.step(2, `B is offline. A pays B ${sats(amount)} sats (hub fee ${sats(fee)})`);
  const t0 = Date.now();
  const A = await d.openA();
  const offerId = await d.guard(A.payOffline(p.B.address, amount, { memo: 'demo' }), 'A pays');
  await d.until(() => d.sent.some((s) => s.from === 'A' && s.type === PaymentType.OFFER), "A's offer to be posted to B's mailbox");
  await d.close('A');
  say.say('A', 'goes offline');

  d.step(3, 'B comes online and sells its receipt signature to S');
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
  d.check(done?.kind === 'completed' && verifyReceipt(done.receipt.receipt, p.B.address), 'no receipt from B that verifies');
  const receipt = done.receipt.receipt;
  d.check(decodeReceipt(receipt).amount === amount, 'the receipt is for another amount');
  say.say('A', `receipt: B's signature over ${sats(amount)} sats from A to B, which exists only because S paid B`);
  const elapsed = Date.now() - t0;

  d.step(5, 'Balances after');
  const [asRow, sbRow] = d.rows(['A–S', 'S–B']) as [ChannelRow, ChannelRow];
  say.balances([asRow, sbRow]);
  const [a, s1] = settled(d, 'A–S', ...asRow.views);
  const [s2, b] = settled(d, 'S–B', ...sbRow.views);
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
  await d.until(
    () => d.has('A', 'offered', offer2) && d.sent.filter((s) => s.from === 'A' && s.type === PaymentType.OFFER).length === 2,
    'the second offer to be posted',
  );
  const envelope = d.sent.filter((s) => s.from === 'A' && s.type === PaymentType.OFFER)[1]!.id;
  say.say(
    'relay',
    `status of offer env ${envelope.slice(0, 8)}: ${await d.guard(A2.client.status(d.relayUrl, envelope), 'asking the relay')}`,
  );
  const pendingN = A2.engine.channel.topN;
  await d.guard(A2.cancel(offer2), 'A cancels');
  await d.until(() => d.has('A', 'cancelled', offer2), 'the cancellation');
  const status = await d.poll(
    () => A2.client.status(d.relayUrl, envelope),
    (st) => st === 'retracted',
    'the offer envelope to be retracted',
  );
  say.say('relay', `status of offer env ${envelope.slice(0, 8)}: ${status}`);
  const asA = A2.engine.channel;
  await d.until(() => d.hubChannel(d.asParams).enforceable.state.n === asA.enforceable.state.n, "S's view to reach A's state");
  const after = settled(d, 'A–S', asA, d.hubChannel(d.asParams));
  d.check(
    asA.enforceable.state.n > pendingN && after[0] === before.balances[0] && after[1] === before.balances[1],
    'the overwrite did not restore the balances',
  );
  say.say(
    'A–S',
    `state ${asA.enforceable.state.n} overwrites pending state ${pendingN}: balances unchanged (A ${sats(after[0])}, S ${sats(after[1])})`,
  );
  const B = await d.openB();
  await d.until(
    () =>
      d.events.B.some((e) => (e.kind === 'ignored' && e.type === PaymentType.OFFER_VOID) || (e.kind === 'voided' && e.offerId === offer2)),
    'B to read the void',
  );
  d.check(!d.has('B', 'offer_received', offer2) && !B.engine.payments.has(offer2), 'B saw the cancelled offer');
  d.check(!d.has('S', 'ptlc_extended', offer2), 'S extended a PTLC for a superseded state');
  say.say('B', 'finds nothing to pay: the offer was retracted before B came online');

  await routed(d, A2);
  await presigned(d);

  say.blank();
  say.line(`Done in ${((Date.now() - started) / 1000).toFixed(2)} s: completed, cancelled, routed, pre-signed; every balance consistent.`);
  const first = A2.payments().find((x) => x.receipt)!;
  say.say('A', `receipt for B ${p.B.address}`);
  say.line(`  ${first.receipt!.receipt}`);
  say.line(
    `  anyone can check it: verifyReceipt(receipt, B's address) = ${verifyReceipt(hexToBytes(first.receipt!.receipt), p.B.address)}`,
  );
}

/** Balances of each row's first view (party 0, party 1), to measure what a payment moved. */
const snapshot = (rows: ChannelRow[]): [number, number][] => rows.map((r) => [...r.views[0].enforceable.state.balances]);

/** What each channel's balances moved by between two snapshots. */
const moved = (before: [number, number][], after: [number, number][]): [number, number][] =>
  after.map(([x, y], i) => [x - before[i]![0], y - before[i]![1]]);

/** Waits until no view of `rows` has a pending state (the last acknowledgements are in), then checks and prints them. */
async function settleAll(d: Stage, rows: ChannelRow[]): Promise<[number, number][]> {
  await d.until(() => rows.every((r) => !r.views[0].pending && !r.views[1].pending), `${rows.map((r) => r.name).join(', ')} to settle`);
  d.say.balances(rows);
  return rows.map((r) => settled(d, r.name, ...r.views));
}

/** Step 7: the privacy hop S→P→B₂ (SPEC 6.13). S deals only with P; every hop's PTLC has its own point. */
async function routed(d: Stage, A: PayerNode): Promise<void> {
  const { say, p } = d;
  const fee = feeFor(ROUTED);
  const B2 = p['B₂'];
  d.step(7, `Privacy hop: B₂ is offline. A pays B₂ ${sats(ROUTED)} sats through S and the router P (hub fee ${sats(fee)})`);
  const rows = d.rows(['A–S', 'S–P', 'P–B₂']);
  const before = snapshot(rows);
  const seen = d.received.length;
  const offerId = await d.guard(A.payOffline(B2.address, ROUTED, { memo: 'demo 3' }), 'A pays B₂');
  await d.until(
    () => d.sent.some((s) => s.from === 'A' && s.to === 'B₂' && s.type === PaymentType.OFFER),
    "A's offer to be posted to B₂'s mailbox",
  );
  say.say('B₂', 'comes online');
  await d.openB2();
  await d.until(() => d.has('B₂', 'paid', offerId), 'B₂ to be paid');
  await d.until(() => d.has('P', 'paid', offerId) && d.has('S', 'paid', offerId), 'P and S to settle');
  await d.until(() => d.has('A', 'completed', offerId), 'A to receive the completion');
  const done = d.events.A.find((e) => e.kind === 'completed' && e.offerId === offerId);
  d.check(done?.kind === 'completed' && verifyReceipt(done.receipt.receipt, B2.address), 'no receipt from B₂ that verifies');
  say.say('A', `receipt: B₂'s signature over ${sats(ROUTED)} sats from A to B₂; P and S never saw B₂'s receipt key or A's update`);

  // What S saw: only A and P, and P's invoice; nothing it stored names B₂.
  const atS = d.received.slice(seen).filter((r) => r.to === 'S');
  const invoices = atS.filter((r) => r.type === PaymentType.INVOICE);
  d.check(
    atS.every((r) => r.from === 'A' || r.from === 'P'),
    `S heard from ${atS.map((r) => r.from).join(', ')}`,
  );
  d.check(invoices.length === 1 && invoices[0]!.from === 'P', "the INVOICE at S is not P's");
  const S = d.nodes.S!.engine,
    P = d.nodes.P!.engine;
  d.check(S.payments.get(offerId)?.payeeChannel === bytesToHex(d.params.sp.channelId), 'S did not pay over S–P');
  const sStore = JSON.stringify(S.toJSON());
  d.check(!sStore.includes(bytesToHex(B2.idPk)) && !sStore.includes(B2.address), "S's store names B₂");
  const pStore = JSON.stringify(P.toJSON());
  d.check(!pStore.includes(bytesToHex(p.A.idPk)) && !pStore.includes(p.A.address), "P's store names A");
  say.say('S', `saw only A and P: the INVOICE came from P, signed by P, for S–P; nothing S stored names B₂`);
  say.say('P', 'never saw A: nothing P stored names A (only T_B and the amount)');

  // Decorrelation: each hop's PTLC is locked to its own point, as both ends of the hop hold it.
  const T = A.engine.payments.get(offerId)?.point;
  const at = (role: string, channel: string) =>
    d.points.find((x) => x.offerId === offerId && x.role === role && x.channel === channel)?.point;
  const sp = [at('S', 'S–P'), at('P', 'S–P')],
    pb = [at('P', 'P–B₂'), at('B₂', 'P–B₂')];
  d.check(
    T !== undefined && sp[0] !== undefined && sp[0] === sp[1] && pb[0] !== undefined && pb[0] === pb[1],
    'the two ends of a hop hold different PTLCs',
  );
  d.check(new Set([T, sp[0], pb[0]]).size === 3, 'two hops share a point');
  const short = (h: string) => `${h.slice(0, 16)}…`;
  say.say('A–S', `T_B       ${short(T)}  B's receipt point: s_B·G`);
  say.say('S–P', `PTLC to   ${short(sp[0]!)}  = T + r₁·G, the same in S's and P's views`);
  say.say('P–B₂', `PTLC to   ${short(pb[0]!)}  = T + r₂·G, the same in P's and B₂'s views`);
  say.say('check', 'three different points: the hops cannot be matched by the point they are locked to');

  const after = await settleAll(d, d.rows(['A–S', 'S–P', 'P–B₂'])); // B₂'s runtime of this step
  const [[a, s1], [s2, p1], [p2, b]] = moved(before, after) as [[number, number], [number, number], [number, number]];
  d.check(a === -(ROUTED + fee) && s1 + s2 === fee && p1 + p2 === 0 && b === ROUTED, 'balances moved by the wrong amounts');
  say.line(`A ${sats(a)}   S +${sats(fee)} (fee)   P ±0   B₂ +${sats(b)}`);
  say.line(`consistent: both views of each channel agree; each holds ${sats(capacity(d.params.sp))} = capacity (funds conserved)`);
  await d.close('B₂');
  await d.close('A');
  say.say('A, B₂', 'go offline');
}

/**
 * Step 8: the request flow (SPEC 6.14). B pre-signs its state and goes
 * offline; A buys S's signature later and keeps the completed update for B.
 */
async function presigned(d: Stage): Promise<void> {
  const { say, p } = d;
  const fee = feeFor(REQUESTED);
  d.step(
    8,
    `A payment request: A is offline. B pre-signs a request for ${sats(REQUESTED)} sats, goes offline, and A pays it (hub fee ${sats(fee)})`,
  );
  const rows = d.rows(['A–S', 'S–B']);
  const before = snapshot(rows);
  const requestId = await d.guard(d.nodes.B!.requestPayment(p.A.address, REQUESTED, { memo: 'demo 4' }), 'B requests a payment');
  await d.until(() => d.sent.some((s) => s.from === 'B' && s.type === PaymentType.REQUEST), "B's request to be posted to A");
  await d.close('B');
  say.say('B', 'goes offline');
  say.say('A', 'comes online');
  const A = await d.openA();
  await d.until(() => d.has('A', 'request_received', requestId), 'A to receive the request');
  await d.guard(A.payRequest(requestId), 'A pays the request');
  say.say('A', `pays it: a PTLC of ${sats(REQUESTED + fee)} sats to S, locked to T_S + r·G (S's signature is the secret)`);
  await d.until(() => d.has('S', 'signature_sold', requestId), 'S to sell its signature');
  await d.until(
    () => d.has('A', 'request_paid', requestId) && A.engine.requests.get(requestId)?.status === 'completed',
    'A to buy it and settle with S',
  );
  // A's watchtower copy: B's update n with both signatures, each checked here against its sighash.
  const kept = A.engine.requests.get(requestId)!;
  const sighash = hexToBytes(kept.updateSighash, 32);
  const valid = (sig: string | undefined, key: string) =>
    sig !== undefined && verify(hexToBytes(sig).subarray(0, 64), sighash, hexToBytes(key, 32));
  d.check(
    valid(kept.payeeUpdateSig, kept.payeeChannelKey) && valid(kept.hubUpdateSig, kept.hubChannelKey),
    "A does not hold B's complete update",
  );
  say.say('A', `holds S–B update ${kept.n} with B's and S's signatures, both verified: it can enforce it for B`);
  // S sent its signature to B directly, and A sent its copy: both wait in B's mailbox.
  await d.until(
    () => d.sent.filter((s) => s.to === 'B' && s.type === PaymentType.REQUEST_COMPLETE).length === 2,
    "S's signature to be posted to B",
  );
  say.say('B', 'comes back online');
  await d.openB();
  await d.until(() => d.has('B', 'paid', requestId), 'B to complete its state');
  await d.until(() => d.has('S', 'paid', requestId), "S to receive B's acknowledgement");
  const after = await settleAll(d, d.rows(['A–S', 'S–B']));
  const [[a, s1], [s2, b]] = moved(before, after) as [[number, number], [number, number]];
  d.check(a === -(REQUESTED + fee) && s1 + s2 === fee && b === REQUESTED, 'balances moved by the wrong amounts');
  say.line(`A ${sats(a)}   S +${sats(fee)} (fee)   B +${sats(b)}`);
  say.line(`consistent: both views of each channel agree; each holds ${sats(capacity(d.params.sb))} = capacity (funds conserved)`);
}

/**
 * Runs `ln-mailbox demo [--relay URL] [--amount SATS] [--timeout SECONDS]`. Resolves with the exit
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
  let d: Stage | undefined;
  try {
    const url =
      opts.relay ?? (relay = await startRelay({ host: '127.0.0.1', port: 0, dataDir: path.join(root, 'relay'), logLevel: 'silent' })).url;
    // Fail fast, with the relay's own error, rather than after a step's time limit.
    if (opts.relay) await new RelayHttp(url, fetch, 5_000).info();
    console.log('ln-mailbox demo: asynchronous Lightning payments through a mailbox relay');
    d = await Stage.create(root, url, opts.timeout * 1000);
    await play(d, opts.amount, started);
    return 0;
  } catch (e) {
    console.error(`\nln-mailbox demo FAILED: ${errText(e)}`);
    if (!(e instanceof DemoError) && !isLnMailboxError(e) && e instanceof Error && e.stack) console.error(e.stack);
    const recent = [...new Set(d?.errors ?? [])].slice(-5);
    if (recent.length) console.error(`recent errors:\n${recent.map((l) => `  ${l}`).join('\n')}`);
    return 1;
  } finally {
    await d?.closeAll();
    await relay?.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}
