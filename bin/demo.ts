/**
 * `ln-mailbox demo`: asynchronous Lightning payments, both flows of the
 * payment protocol (SPEC §6): the offer (the payer pre-signs) and the
 * request (the payee pre-signs), played end to end on this machine and narrated
 * step by step.
 *
 * A relay (a local one on 127.0.0.1, or `--relay URL`), a chain simulator
 * served over Esplora HTTP, and the roles A (payer), S (hub) and B (payee)
 * as real role runtimes with their own LevelDB stores and on-chain wallets
 * in a temporary directory, talking only through the relay and the chain.
 * A and B open their channels with S the way strangers do (SPEC 6.17: S's
 * signed terms, state 0 co-signed, a funding PSBT from the funder's own
 * wallet, confirmations). A pays while B is offline, then goes offline
 * itself; B comes online and sells A's signature to S; A comes back to its
 * receipt. Then a second payment is cancelled before B sees it, and in a
 * third B pre-signs a request that A pays while B is offline (the request
 * flow, SPEC §6.14). Every balance is checked after each payment; A's
 * receipt is printed with the payee's address, as a third party checks it.
 * Last, B and S close S–B cooperatively, and A broadcasts its old state 0
 * of A–S: S's watchtower publishes the latest update over it and, after
 * the CSV delay, its settlement (SPEC 6.18); the amounts each party's
 * payout script receives on chain are printed and checked.
 * (The privacy hop S→P→B₂ is not shown: a router has no open protocol yet;
 * test/e2e/routed-payment.test.ts covers it.)
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
import { defaultTransport } from '../client/mailbox/http-transport.js';
import { RelayHttp } from '../client/mailbox/relay-http.js';
import type { Channel } from '../engine/channel/channel.js';
import { capacity } from '../engine/channel/state.js';
import { hubFee } from '../engine/payment/fee.js';
import { buildUpdateTx } from '../engine/bitcoin/eltoo.js';
import type { StateRecord } from '../engine/channel/channel.js';
import { eltooTerms } from '../engine/channel/onchain.js';
import { requireFundingOutpoint } from '../engine/channel/state.js';
import { sats, type ChannelRow } from './demo-narrator.js';
import { CSV, DemoError, FUNDING, HUB_FEE, Stage, TERMS, errText } from './demo-stage.js';

const MIN_AMOUNT = 1_000;
const MAX_AMOUNT = 250_000;
/** Default per-step time limit: every step takes well under a second on a laptop. */
const STEP_SECONDS = 20;
/** Amount of B's pre-signed request (step 7), sats. */
const REQUESTED = 20_000;

const USAGE = `usage: ln-mailbox demo [--relay URL] [--amount SATS] [--timeout SECONDS]

Opens two channels with hub S over the relay, funded on a simulated chain,
then plays one asynchronous payment (A pays B through S while B is offline),
a cancellation, a payment B pre-signed (a payment request), a cooperative
close, and a unilateral close in which an old state is beaten on chain,
narrating every message that goes through the relay.

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

  d.step(0, 'Setup: S publishes its terms; A and B open their channels with S over the relay, funded on chain');
  say.say('relay', d.relayUrl);
  say.say('chain', `simulator at height ${d.model.height}, served over Esplora HTTP at ${d.esplora.url}`);
  const S = await d.openS();
  say.say(
    'S',
    `hub    ${p.S.address.slice(0, 20)}…  signed terms published: fee ${HUB_FEE.base} sats + ${HUB_FEE.ppm} ppm, CSV ${TERMS.csvMin}..${TERMS.csvMax}, ${TERMS.minConf} confirmations`,
  );
  d.startMining();
  const A = await d.openA();
  say.say('A', `payer  ${p.A.address.slice(0, 20)}…  opens A–S: ${sats(FUNDING.as)} sats from its own wallet, CSV ${CSV.as} blocks`);
  await d.guard(A.openChannel({ amount: FUNDING.as, csvDelay: CSV.as }), 'A opening A–S');
  const B0 = await d.openB();
  say.say('B', `payee  ${p.B.address.slice(0, 20)}…  opens S–B: ${sats(FUNDING.sb)} sats funded by S, CSV ${CSV.sb} blocks`);
  await d.guard(B0.openChannel({ amount: FUNDING.sb, csvDelay: CSV.sb }), 'B opening S–B');
  const [asA0, sbB0] = await d.guard(Promise.all([A.channelReady(), B0.channelReady()]), 'both channels to confirm');
  d.stopMining();
  d.params = { as: asA0.params, sb: sbB0.params };
  await d.until(
    () => S.engine.peers.has(bytesToHex(asA0.params.channelId)) && S.engine.peers.has(bytesToHex(sbB0.params.channelId)),
    'S to hold both channels',
  );
  d.start = [[...asA0.enforceable.state.balances], [...sbB0.enforceable.state.balances]];
  // A keeps its fully signed state 0 of A–S: in step 10 it broadcasts it, to try to take back what it paid.
  const stale = structuredClone(asA0.enforceable);
  for (const [name, params] of [
    ['A–S', asA0.params],
    ['S–B', sbB0.params],
  ] as const)
    say.say(
      name,
      `funding ${bytesToHex(params.funding.txid!).slice(0, 16)}…:${params.funding.vout} ${sats(params.funding.amount)} sats, on chain (height ${d.model.height})`,
    );
  // B publishes a batch of one-time receipt tickets on its relay before going offline.
  await d.guard(B0.publishTickets(8), 'B publishing receipt tickets');
  say.say('B', 'published 8 receipt tickets (its relay record receipt-tickets)');
  await d.close('A');
  await d.close('B');
  say.say('S', 'is online (hubs always are); A and B go offline');

  d.step(1, 'Balances before (both views of each channel, co-signed state 0)');
  say.balances(d.rows(['A–S', 'S–B']));

  d.step(2, `B is offline. A pays B ${sats(amount)} sats (hub fee ${sats(fee)})`);
  const t0 = Date.now();
  const A1 = await d.openA();
  const offerId = await d.guard(A1.payOffline(p.B.address, amount, { memo: 'demo' }), 'A pays');
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
  d.check(done?.kind === 'completed' && verifyReceipt(hexToBytes(done.receipt.receipt), p.B.address), 'no receipt from B that verifies');
  const receipt = hexToBytes(done.receipt.receipt);
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
  say.line(
    `consistent: both views of each channel agree; A–S holds ${sats(capacity(d.asParams))}, S–B ${sats(capacity(d.sbParams))}: their capacities (funds conserved)`,
  );
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

  await d.until(() => !A2.engine.channel.pending, "A's last acknowledgement");
  await d.close('A');
  say.say('A', 'goes offline');
  await presigned(d);

  d.step(8, "A's receipt, as a third party checks it");
  const A3 = d.last.A!;
  const first = A3.payments().find((x) => x.receipt)!;
  const receiptHex = first.receipt!.receipt;
  const ok = verifyReceipt(hexToBytes(receiptHex), p.B.address);
  d.check(ok, "A's stored receipt does not verify against B's address");
  say.say('A', 'the receipt it stored, and the address of the payee it names:');
  say.line(`receipt  ${receiptHex}`);
  say.line(`payee    ${p.B.address}`);
  say.line(
    `verifyReceipt(receipt, payee) = ${ok}: B signed that it was paid ${sats(decodeReceipt(hexToBytes(receiptHex)).amount)} sats by A`,
  );

  await cooperativeClose(d);
  await staleStateBeaten(d, stale);

  say.blank();
  say.line(
    `Done in ${((Date.now() - started) / 1000).toFixed(2)} s: opened, completed, cancelled, pre-signed, closed cooperatively, an old state beaten on chain; every balance consistent.`,
  );
}

/** Step 9: B and S close S–B cooperatively: one transaction spends the funding output to both payout scripts. */
async function cooperativeClose(d: Stage): Promise<void> {
  const { say } = d;
  d.step(9, 'Cooperative close of S–B: B and S both sign one transaction paying each its balance');
  const B = d.nodes.B ?? (await d.openB());
  const id = bytesToHex(d.sbParams.channelId);
  const [s, b] = settled(d, 'S–B', d.hubChannel(d.sbParams), B.engine.channel);
  await d.guard(B.closeChannel(id, { cooperative: true }), 'B proposing the close');
  await d.until(() => d.broadcasts.some((x) => x.kind === 'close'), 'a watchtower to broadcast the signed close');
  const close = d.broadcasts.find((x) => x.kind === 'close')!;
  d.model.mine(1);
  const [toS, toB] = d.paidBy(close.txid, d.sbParams);
  d.check(toS === s && toB === b, `the close pays S ${toS} and B ${toB}, not their balances ${s} and ${b}`);
  say.say('chain', `close ${close.txid.slice(0, 16)}… confirmed at height ${d.model.height}`);
  say.line(`pays S ${sats(toS).padStart(9)} sats to S's payout script (its wallet, chosen at open)`);
  say.line(
    `pays B ${sats(toB).padStart(9)} sats to B's payout script: exactly their balances in S–B state ${B.engine.channel.enforceable.state.n}`,
  );
  await d.close('B');
}

/**
 * Step 10: A broadcasts its old state 0 of A–S (more for A than the latest)
 * and goes offline. S's watchtower sees it, publishes the latest update on
 * top of it (eltoo: a later update spends any earlier one; S pays its fee
 * from its own wallet), and after the CSV delay the latest settlement.
 */
async function staleStateBeaten(d: Stage, stale: StateRecord): Promise<void> {
  const { say } = d;
  const p = d.asParams;
  d.step(10, "Unilateral close of A–S: A broadcasts an old state; S's watchtower beats it with the latest");
  const [a, s] = settled(d, 'A–S', d.last.A!.engine.channel, d.hubChannel(p));
  const n = d.hubChannel(p).enforceable.state.n;
  await d.close('A'); // A cheats and is gone: its own watchtower is not there to undo it
  const cheat = buildUpdateTx(
    eltooTerms(p),
    stale.state.n,
    { kind: 'funding', outpoint: requireFundingOutpoint(p) },
    { a: stale.updateSigs[0]!, b: stale.updateSigs[1]! },
  );
  const cheatId = await d.guard(d.chain.broadcast(cheat), 'A broadcasting its old update');
  say.say(
    'A',
    `broadcasts update ${stale.state.n} ${cheatId.slice(0, 16)}… (A ${sats(stale.state.balances[0])}, S ${sats(stale.state.balances[1])}) and goes offline`,
  );
  d.model.mine(1);
  say.say('chain', `update ${stale.state.n} confirmed at height ${d.model.height}`);
  await d.until(() => d.broadcasts.some((x) => x.role === 'S' && x.kind === 'update'), "S's watchtower to publish the latest update");
  d.model.mine(1);
  say.say(
    'chain',
    `update ${n} confirmed at height ${d.model.height}: it spends update ${stale.state.n}, whose settlement can never confirm`,
  );
  d.model.mine(p.csvDelay);
  say.say('chain', `${p.csvDelay} blocks later (the CSV delay), height ${d.model.height}`);
  await d.until(() => d.broadcasts.some((x) => x.role === 'S' && x.kind === 'settlement'), "S's watchtower to publish the settlement");
  const settlement = d.broadcasts.find((x) => x.role === 'S' && x.kind === 'settlement')!;
  d.model.mine(1);
  const [toA, toS] = d.paidBy(settlement.txid, p);
  d.check(toA === a && toS === s, `the settlement pays A ${toA} and S ${toS}, not the latest balances ${a} and ${s}`);
  say.say('chain', `settlement ${n} ${settlement.txid.slice(0, 16)}… confirmed at height ${d.model.height}`);
  say.line(`pays A ${sats(toA).padStart(9)} sats to A's payout script (A's old state said ${sats(stale.state.balances[0])})`);
  say.line(`pays S ${sats(toS).padStart(9)} sats to S's payout script: exactly the balances of the latest state ${n}`);
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

/**
 * Step 8: the request flow (SPEC 6.14). B pre-signs its state and goes
 * offline; A buys S's signature later and keeps the completed update for B.
 */
async function presigned(d: Stage): Promise<void> {
  const { say, p } = d;
  const fee = feeFor(REQUESTED);
  d.step(
    7,
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
  say.line('consistent: both views of each channel agree; each holds its capacity (funds conserved)');
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
    if (opts.relay) await new RelayHttp(url, defaultTransport()!, 5_000).info();
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
