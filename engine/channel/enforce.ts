/**
 * On-chain enforcement of one channel, as a pure function (SPEC 6.18): what
 * the chain shows about the channel's outputs in, the transactions to
 * broadcast out. The wallet's watchtower (client/wallet/watchtower.ts) feeds
 * it what its chain source reports and broadcasts what it returns; this
 * module decides, and builds and signs every transaction.
 *
 * The chain of a channel is followed from its funding output: an update
 * spends it (or a newer update spends that update's output), until the last
 * update's output is spent by its settlement, whose PTLC outputs are then
 * claimed or refunded. A transaction spending the funding output that is not
 * an update is the cooperative close: nothing more to do.
 *
 * Rules (each a case of {@link planEnforcement}):
 * - nothing on chain and a cooperative close signed by both: publish it;
 * - an update older than our latest enforceable state is on chain (or in the
 *   mempool): publish our latest update, rebinding onto its output (APO);
 * - our latest update (or a newer one we hold both settlement signatures
 *   for) is on chain: publish its settlement once the CSV delay allows;
 * - nothing on chain and a unilateral close was asked: publish our latest
 *   update on the funding output;
 * - a PTLC output we receive is unspent and we know its secret: claim it
 *   while the claim can still confirm before the timeout, completing the
 *   offerer's adaptor pre-signature;
 * - a PTLC output we offered is unspent past its timeout: refund it;
 * - a PTLC output we offered was claimed: extract the secret from the
 *   claim's witness (the engine decides what it buys with it).
 * @module
 */
import { bytesToHex, equalBytes } from '../../base/bytes.js';
import { isLnMailboxError } from '../../base/errors.js';
import { adaptorPoint } from '../../crypto/adaptor.js';
import { buildSettlementTx, buildUpdateTx, fundingOutput, updateOutput, updateSpending, settlementOutputs } from '../bitcoin/eltoo.js';
import {
  buildClaimTx,
  buildRefundTx,
  completeClaimSignature,
  extractPtlcSecret,
  ptlcOutput,
  signClaim,
  signRefund,
  verifyClaimPresignature,
  type PtlcSpec,
} from '../bitcoin/ptlc-output.js';
import { txid, type BitcoinTx, type Outpoint, type Prevout } from '../bitcoin/transaction.js';
import type { Channel } from './channel.js';
import { closePrevout } from './close.js';
import { eltooTerms, ptlcOf, ptlcSecretKey, settlementSpec } from './onchain.js';
import { fundingOutpoint, type Party, type StateRecord } from './state.js';

/** A transaction seen spending a watched output: confirmed at `height`, or in the mempool (`height` null). */
export interface Sighting {
  readonly tx: BitcoinTx;
  readonly height: number | null;
}

/** The key of an outpoint in a {@link ChainView}: display-order txid hex, colon, vout. */
export function outpointKey(o: Outpoint): string {
  return `${bytesToHex(o.txid)}:${o.vout}`;
}

/** What the chain shows: the tip, and the spender of every watched outpoint found spent (by {@link outpointKey}). */
export interface ChainView {
  readonly tip: number;
  readonly spent: ReadonlyMap<string, Sighting>;
}

/**
 * What we know about one PTLC of the channel (by PTLC id, hex): candidates,
 * as messages carried them. Anyone can send a message naming a PTLC, so the
 * planner uses only a pre-signature that verifies for this PTLC's claim and
 * a secret whose point is this PTLC's point; a wrong candidate is ignored and
 * never displaces the right one.
 */
export interface PtlcKnowledge {
  /** Adaptor pre-signatures of the claim by the offerer (ours when we offered it, the peer's when we receive it). */
  readonly presigs?: readonly Uint8Array[];
  /** Secrets the PTLC may be locked to (the hop secret `t + r`). */
  readonly secrets?: readonly Uint8Array[];
}

/** Everything {@link planEnforcement} decides from. */
export interface EnforceInput {
  readonly channel: Channel;
  /** Our channel secret key (signs refunds and our half of claims). */
  readonly channelKey: Uint8Array;
  /** Per PTLC id (hex): pre-signatures and secrets learned off chain. */
  readonly ptlcs: ReadonlyMap<string, PtlcKnowledge>;
  /** True once a unilateral close was asked for: publish our latest update even if nobody else did. */
  readonly force: boolean;
  readonly view: ChainView;
}

/** What a broadcast is for. */
export type BroadcastKind = 'close' | 'update' | 'settlement' | 'claim' | 'refund';

/** One transaction to broadcast. */
export interface BroadcastAction {
  /** Stable name of the step (the same step keeps its name across ticks and restarts). */
  readonly label: string;
  readonly kind: BroadcastKind;
  /** The signed transaction, paying the channel's own fee (possibly none: a rebinding update). */
  readonly tx: BitcoinTx;
  /** The outputs its inputs spend, in order (what a fee bump and a fee-rate check need). */
  readonly prevouts: readonly Prevout[];
  /**
   * How a fee may be added without the peer: `change` (the signatures commit
   * to output 0 only: a fee input and a change output) or `no-change` (they
   * commit to every output: a fee input whose whole value goes to the fee).
   */
  readonly bump: 'change' | 'no-change';
  /** True when it pays no fee at all from channel funds and cannot be relayed without a fee input. */
  readonly needsFee: boolean;
  /** The last block height it must confirm at (a claim before its PTLC's timeout), if any. */
  readonly deadline?: number;
}

/** Where the channel stands on chain. */
export type ChainPhase = 'open' | 'updating' | 'settled' | 'resolved' | 'closed';

/** The decision for one channel. */
export interface EnforcePlan {
  readonly phase: ChainPhase;
  /** Outpoints whose spender the caller must look up (feed them back in the view and plan again until none is new). */
  readonly watch: readonly Outpoint[];
  readonly broadcasts: readonly BroadcastAction[];
  /** The lowest height an update of this channel confirmed at (for `noteUpdateOnChain`), if one did. */
  readonly updateHeight?: number;
  /** Secrets read from the peer's claims of PTLCs we offered (by PTLC id, hex). */
  readonly learned: readonly { readonly id: string; readonly secret: Uint8Array }[];
  /**
   * The updates of this channel seen on chain, in order, with the two
   * signatures of each (party 0's, party 1's, as in the witness): a payer
   * reads its receipt from its own completed signature there (SPEC 6.16).
   */
  readonly signedUpdates?: readonly { readonly n: number; readonly sigs: readonly [Uint8Array, Uint8Array] }[];
  /** The state whose settlement is (or will be) the channel's outcome, when known. */
  readonly outcome?: number;
}

/** A record with both settlement signatures (so its settlement can be built). */
function settleable(r: StateRecord | undefined): r is StateRecord {
  return r !== undefined && r.settleSigs[0] !== null && r.settleSigs[1] !== null;
}

function recordFor(ch: Channel, n: number): StateRecord | undefined {
  return [ch.enforceable, ch.pending, ch.overwritten].find((r) => settleable(r) && r.state.n === n);
}

const sigPair = (r: StateRecord, which: 'updateSigs' | 'settleSigs') => ({ a: r[which][0]!, b: r[which][1]! });
const prevoutOf = (o: { amount: bigint; scriptPubKey: Uint8Array }): Prevout => ({ amount: o.amount, scriptPubKey: o.scriptPubKey });

function spends(tx: BitcoinTx, o: Outpoint): boolean {
  return tx.inputs.some((i) => i.vout === o.vout && equalBytes(i.txid, o.txid));
}

/**
 * Decides the next enforcement steps of one channel from what the chain
 * shows. Deterministic but for the fresh randomness of the signatures it
 * makes (refunds, our half of claims): callers keep the first transaction
 * they broadcast for a label and re-broadcast it, so that a restart sends
 * the very same transaction.
 */
export function planEnforcement(input: EnforceInput): EnforcePlan {
  const { channel: ch, view } = input;
  const p = ch.params;
  const terms = eltooTerms(p);
  const broadcasts: BroadcastAction[] = [];
  const learned: { id: string; secret: Uint8Array }[] = [];
  const funded = fundingOutpoint(p);
  // A channel still being opened has nothing on chain to watch or enforce.
  if (funded === undefined) return { phase: 'open', watch: [], broadcasts, learned };
  const funding: Outpoint = funded;
  const watch: Outpoint[] = [funding];
  const latest = ch.enforceable;
  const N = latest.state.n;

  // Follow the chain of updates from the funding output.
  let cur: Outpoint = funding;
  let last: { state: number; tx: BitcoinTx; height: number | null; output: Outpoint } | undefined;
  let updateHeight: number | undefined;
  let settlement: Sighting | undefined;
  const signedUpdates: { n: number; sigs: [Uint8Array, Uint8Array] }[] = [];
  for (;;) {
    const s = view.spent.get(outpointKey(cur));
    if (s === undefined || !spends(s.tx, cur)) break;
    // The update's channel output is found from the input that spends `cur`, at whatever index.
    const u = updateSpending(terms, s.tx, cur);
    const k = u?.n ?? null;
    if (u === null || k === null || (last !== undefined && k <= last.state)) {
      if (last === undefined) return { phase: 'closed', watch, broadcasts, learned }; // a cooperative close
      settlement = s; // the only other leaf of an update output is its settlement
      break;
    }
    last = { state: k, tx: s.tx, height: s.height, output: u.output };
    // Witness, bottom → top: party 1's signature, party 0's, the leaf, the control block.
    const w = s.tx.inputs.find((i) => i.vout === cur.vout && equalBytes(i.txid, cur.txid))?.witness;
    if (w !== undefined && w.length >= 2) signedUpdates.push({ n: k, sigs: [w[1]!, w[0]!] });
    if (s.height !== null && (updateHeight === undefined || s.height < updateHeight)) updateHeight = s.height;
    cur = u.output;
    watch.push(cur);
  }
  const withHeight = updateHeight === undefined ? { signedUpdates } : { updateHeight, signedUpdates };

  if (last === undefined) {
    // Nothing on chain: the cooperative close once both signed it; our latest update only when closing unilaterally.
    const close = ch.coopCloseTx();
    if (close !== undefined && !input.force) {
      broadcasts.push({ label: 'close', kind: 'close', tx: close, prevouts: [closePrevout(p)], bump: 'no-change', needsFee: false });
    } else if (input.force) {
      const f = fundingOutput(terms);
      const tx = buildUpdateTx(terms, N, { kind: 'funding', outpoint: funding }, sigPair(latest, 'updateSigs'));
      broadcasts.push(updateAction(N, 'funding', tx, prevoutOf(f), p.fees.update === 0));
    }
    return { phase: 'open', watch, broadcasts, learned };
  }

  if (settlement === undefined) {
    if (last.state < N) {
      // An older state is on chain: ours replaces it, whatever the peer does next.
      const spent = updateOutput(terms, last.state);
      const tx = buildUpdateTx(terms, N, { kind: 'update', state: last.state, outpoint: cur }, sigPair(latest, 'updateSigs'));
      broadcasts.push(updateAction(N, bytesToHex(cur.txid), tx, prevoutOf(spent), true));
      return { phase: 'updating', watch, broadcasts, learned, outcome: N, ...withHeight };
    }
    const rec = recordFor(ch, last.state);
    if (rec !== undefined && last.height !== null && view.tip + 1 - last.height >= p.csvDelay) {
      const st = buildSettlementTx(terms, settlementSpec(p, rec.state), cur, sigPair(rec, 'settleSigs'));
      broadcasts.push({
        label: `settlement:${rec.state.n}`,
        kind: 'settlement',
        tx: st.tx,
        prevouts: [prevoutOf(updateOutput(terms, rec.state.n))],
        bump: 'no-change',
        needsFee: p.fees.settlement === 0,
      });
    }
    return { phase: 'updating', watch, broadcasts, learned, outcome: last.state, ...withHeight };
  }

  // The settlement of `last.state` is out: resolve its PTLCs.
  const rec = recordFor(ch, last.state);
  if (rec === undefined) return { phase: 'resolved', watch, broadcasts, learned, outcome: last.state, ...withHeight };
  const settled = settlementOutputs(terms, settlementSpec(p, rec.state));
  let open = 0;
  for (const [i, x] of rec.state.ptlcs.entries()) {
    const id = bytesToHex(x.id);
    const { spec, sweep } = ptlcOf(p, rec.state, x.id);
    const o: Outpoint = { txid: txid(settlement.tx), vout: settled.ptlcVouts[i]! };
    watch.push(o);
    const know = input.ptlcs.get(id) ?? {};
    const spender = view.spent.get(outpointKey(o));
    const offered = x.offerer === ch.me;
    if (spender !== undefined) {
      if (offered) {
        for (const presig of know.presigs ?? []) {
          const secret = readSecret(spec, spender.tx, presig);
          if (secret !== undefined) {
            learned.push({ id, secret });
            break;
          }
        }
      }
      if (spender.height === null) open++;
      continue;
    }
    open++;
    const prevouts = [prevoutOf(ptlcOutput(spec))];
    if (offered) {
      // Refund: valid in a block above the timeout (nLockTime = timeout).
      if (view.tip + 1 > x.timeout) {
        const refundSweep = { payout: ch.me === 0 ? terms.payout.a : terms.payout.b, fee: p.fees.ptlc };
        const sig = signRefund(spec, refundSweep, o, ptlcSecretKey(p, input.channelKey));
        const tx = buildRefundTx(spec, refundSweep, o, sig);
        broadcasts.push({ label: `refund:${id}`, kind: 'refund', tx, prevouts, bump: 'no-change', needsFee: p.fees.ptlc === 0 });
      }
      continue;
    }
    const presig = (know.presigs ?? []).find((ps) => verifyClaimPresignature(spec, sweep, ps));
    const secret = (know.secrets ?? []).find((t) => equalBytes(adaptorPoint(t), spec.point));
    if (presig !== undefined && secret !== undefined && view.tip + 1 <= x.timeout) {
      const tx = buildClaimTx(spec, sweep, o, {
        payer: completeClaimSignature(presig, secret),
        payee: signClaim(spec, sweep, ptlcSecretKey(p, input.channelKey)),
      });
      broadcasts.push({
        label: `claim:${id}`,
        kind: 'claim',
        tx,
        prevouts,
        bump: 'no-change',
        needsFee: p.fees.ptlc === 0,
        deadline: x.timeout,
      });
    }
  }
  const phase: ChainPhase = open === 0 && settlement.height !== null ? 'resolved' : 'settled';
  return { phase, watch, broadcasts, learned, outcome: last.state, ...withHeight };
}

function updateAction(n: number, onto: string, tx: BitcoinTx, spent: Prevout, needsFee: boolean): BroadcastAction {
  return { label: `update:${n}:${onto}`, kind: 'update', tx, prevouts: [spent], bump: 'change', needsFee };
}

/** The secret of `spec` read from its claim `tx` with `presig`, when it checks against the PTLC's point. */
function readSecret(spec: PtlcSpec, tx: BitcoinTx, presig: Uint8Array): Uint8Array | undefined {
  try {
    const t = extractPtlcSecret(spec, tx, presig);
    return equalBytes(adaptorPoint(t), spec.point) ? t : undefined;
  } catch (e) {
    if (isLnMailboxError(e)) return undefined; // a refund, or not a claim of this PTLC
    throw e;
  }
}

/** Which party's balance output a settlement pays first: index of `party`'s balance output in a settlement of `rec`, or -1 when zero. */
export function balanceVout(rec: StateRecord, party: Party): number {
  if (rec.state.balances[party] === 0) return -1;
  return party === 0 ? 0 : rec.state.balances[0] > 0 ? 1 : 0;
}

/** Blocks of slack the go-on-chain deadlines of {@link goOnChainReason} keep by default. */
export const GO_ON_CHAIN_MARGIN = 6;

/**
 * Why a party must close the channel unilaterally now although nobody
 * published anything, or undefined: a PTLC of its latest enforceable state
 * would otherwise be lost off chain.
 * - We receive it and know its secret (we revealed it in `PTLC_FULFILL`),
 *   but the peer never settled it: the claim must confirm before the
 *   timeout, after an update and its CSV delay, so we go on chain once the
 *   next block is within `csvDelay + margin` blocks of the timeout.
 * - We offered it and its timeout passed `margin` blocks ago unresolved:
 *   we go on chain to refund it.
 * Only a secret whose point is the PTLC's point counts (any sender can name
 * a PTLC in a message).
 */
export function goOnChainReason(
  ch: Channel,
  ptlcs: ReadonlyMap<string, PtlcKnowledge>,
  tip: number,
  margin = GO_ON_CHAIN_MARGIN,
): string | undefined {
  if (ch.closing !== undefined || fundingOutpoint(ch.params) === undefined) return undefined;
  const next = tip + 1;
  for (const x of ch.enforceable.state.ptlcs) {
    const id = bytesToHex(x.id);
    if (x.offerer === ch.me) {
      if (next > x.timeout + margin) return `PTLC ${id} timed out unresolved at ${x.timeout}: refund it on chain`;
      continue;
    }
    const known = (ptlcs.get(id)?.secrets ?? []).some((s) => {
      try {
        return equalBytes(adaptorPoint(s), x.point);
      } catch (e) {
        if (isLnMailboxError(e)) return false;
        throw e;
      }
    });
    if (known && next >= x.timeout - ch.params.csvDelay - margin)
      return `PTLC ${id}: its secret is known and the peer has not settled it; claim it on chain before ${x.timeout}`;
  }
  return undefined;
}
