/**
 * Watching a channel that is not ours (SPEC 6.18, requests): the payer of a
 * request holds the payee's complete update n of the payee's channel with
 * the hub (both update signatures) and publishes it if the hub publishes an
 * older state while the payee is away. It needs no settlement signature: the
 * payee settles when it returns. Pure, like enforce.ts.
 * @module
 */
import { isLnMailboxError } from '../../base/errors.js';
import { assertEltooTerms, buildUpdateTx, updateOutput, updateSpending, type EltooTerms, type PartySignatures } from '../bitcoin/eltoo.js';
import type { BitcoinTx, Outpoint, Prevout } from '../bitcoin/transaction.js';
import { outpointKey, type BroadcastAction, type ChainView } from './enforce.js';
import { payoutScript } from './onchain.js';

/** A channel watched for someone else: its terms, funding outpoint, and the complete update to publish. */
export interface ForeignWatch {
  /** Stable name (the request id, hex). */
  readonly id: string;
  readonly terms: EltooTerms;
  readonly funding: Outpoint;
  /** The state of the update held. */
  readonly n: number;
  /** Both update signatures of state n (party 0 is `a`). */
  readonly updateSigs: PartySignatures;
}

/**
 * The watch of a payee's channel from what a request and the payee's
 * `TOWER_TERMS` say: both parties' **state keys** in that channel (party 0
 * the hub; a request carries them, SPEC 6.14), the funding outpoint and
 * amount, the update fee and the CSV delay. Returns null when the terms do
 * not match the signatures (a wrong or lying `TOWER_TERMS`: the update would
 * not verify, so there is nothing to watch).
 */
export function foreignWatch(o: {
  id: string;
  stateKeys: [Uint8Array, Uint8Array];
  funding: Outpoint & { amount: number };
  updateFee: number;
  csvDelay: number;
  n: number;
  updateSigs: PartySignatures;
}): ForeignWatch | null {
  try {
    const terms = assertEltooTerms({
      keys: { a: o.stateKeys[0], b: o.stateKeys[1] },
      fundingAmount: o.funding.amount,
      updateFee: o.updateFee,
      csvDelay: o.csvDelay,
      // Updates pay no balance: the payout scripts are not part of what is watched.
      payout: { a: payoutScript(o.stateKeys[0]), b: payoutScript(o.stateKeys[1]) },
    });
    // Checks both signatures against these terms: a mismatch throws.
    buildUpdateTx(terms, o.n, { kind: 'funding', outpoint: o.funding }, o.updateSigs);
    return { id: o.id, terms, funding: { txid: o.funding.txid, vout: o.funding.vout }, n: o.n, updateSigs: o.updateSigs };
  } catch (e) {
    if (isLnMailboxError(e)) return null;
    throw e;
  }
}

/**
 * What to do for a watched channel: follow its updates from the funding
 * output; when the last one is of a state below n and its output is still
 * unspent, publish update n rebinding onto it (it pays no fee: the
 * broadcaster adds one). Nothing otherwise: a newer state is the payee's own
 * business, and the funding output spent by anything but an update is a
 * close.
 */
export function planForeignWatch(w: ForeignWatch, view: ChainView): { watch: Outpoint[]; broadcasts: BroadcastAction[] } {
  const watch: Outpoint[] = [w.funding];
  let cur = w.funding;
  let last: number | undefined;
  for (;;) {
    const s = view.spent.get(outpointKey(cur));
    if (s === undefined) break;
    // The update's channel output is found from the input that spends `cur`, at whatever index.
    const u = updateSpending(w.terms, s.tx, cur);
    if (u === null || (last !== undefined && u.n <= last)) return { watch, broadcasts: [] }; // a close, or a settlement
    last = u.n;
    cur = u.output;
    watch.push(cur);
  }
  if (last === undefined || last >= w.n) return { watch, broadcasts: [] };
  const tx: BitcoinTx = buildUpdateTx(w.terms, w.n, { kind: 'update', state: last, outpoint: cur }, w.updateSigs);
  const spent = updateOutput(w.terms, last);
  const prevouts: Prevout[] = [{ amount: spent.amount, scriptPubKey: spent.scriptPubKey }];
  return { watch, broadcasts: [{ label: `tower:${w.id}:${w.n}:${last}`, kind: 'update', tx, prevouts, bump: 'change', needsFee: true }] };
}
