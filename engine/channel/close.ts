/**
 * The cooperative close of a channel (SPEC 6.18): one transaction, signed by
 * both parties, spending the funding output straight to their balances.
 *
 * - It spends the funding output through its only leaf, `rebind(0)` (the
 *   funding output has no key path): nLockTime 500 000 000 (a time in the
 *   past, so always final, and enough for the leaf's CLTV), nSequence
 *   0xfffffffe.
 * - Outputs: party 0's balance, then party 1's, each to the payout script of
 *   the channel's terms, a zero balance omitted. Both balances must be zero
 *   or at least the dust limit, and no PTLC may be pending: a close pays the
 *   balances of a state with nothing in flight, exactly.
 * - Fee: what every state leaves for fees, `fees.update + fees.settlement`
 *   (the funding amount minus the capacity). A close costs no more than a
 *   unilateral close would have, and needs no negotiation.
 * - Signatures: both state keys (BIP118 keys, key version 1), hash type
 *   `ALL|ANYONECANPAY` (0x81): they commit to the funding outpoint, amount
 *   and script, and to every output, but to no other input, so whoever
 *   broadcasts may add a fee input of its own if the fee no longer pays the
 *   going rate.
 * @module
 */
import { ErrorCode, fail } from '../../base/errors.js';
import { fundingOutput } from '../bitcoin/eltoo.js';
import { signatureHash } from '../bitcoin/sighash.js';
import { signSighash } from '../bitcoin/sign.js';
import {
  DUST_LIMIT,
  LOCKTIME_THRESHOLD,
  SEQUENCE_LOCKTIME_ONLY,
  satsToAmount,
  type BitcoinTx,
  type Prevout,
} from '../bitcoin/transaction.js';
import { eltooTerms, stateSecretKey, verifyChannelSig } from './onchain.js';
import { requireFundingOutpoint, type ChannelParams, type ChannelState, type Party } from './state.js';

/** Hash type of both close signatures: SIGHASH_ALL | SIGHASH_ANYONECANPAY. */
export const CLOSE_HASH_TYPE = 0x81;

/** Refuses a state a cooperative close cannot pay exactly (CHANNEL_INVARIANT). */
export function assertClosable(state: ChannelState): void {
  if (state.ptlcs.length > 0)
    fail(ErrorCode.CHANNEL_INVARIANT, `state ${state.n} has pending PTLCs: settle them before a cooperative close`);
  for (const b of state.balances)
    if (b !== 0 && b < DUST_LIMIT) fail(ErrorCode.CHANNEL_INVARIANT, `balance ${b} is below the dust limit: close unilaterally`);
}

/** The unsigned cooperative close paying the balances of `state`. */
export function unsignedCloseTx(p: ChannelParams, state: ChannelState): BitcoinTx {
  assertClosable(state);
  const t = eltooTerms(p);
  const outputs = [
    { amount: state.balances[0], script: t.payout.a },
    { amount: state.balances[1], script: t.payout.b },
  ]
    .filter((o) => o.amount > 0)
    .map((o) => ({ amount: satsToAmount(o.amount), script: o.script }));
  return {
    version: 2,
    lockTime: LOCKTIME_THRESHOLD,
    inputs: [{ ...requireFundingOutpoint(p), sequence: SEQUENCE_LOCKTIME_ONLY, witness: [] }],
    outputs,
  };
}

/** The funding output a close spends. */
export function closePrevout(p: ChannelParams): Prevout {
  const f = fundingOutput(eltooTerms(p));
  return { amount: f.amount, scriptPubKey: f.scriptPubKey };
}

/** The sighash both parties sign for the close of `state` (0x81, key version 1, the rebind(0) leaf). */
export function closeSighash(p: ChannelParams, state: ChannelState): Uint8Array {
  const f = fundingOutput(eltooTerms(p));
  return signatureHash(unsignedCloseTx(p, state), 0, [closePrevout(p)], {
    hashType: CLOSE_HASH_TYPE,
    keyVersion: 1,
    leafHash: f.rebindLeaf.leafHash,
  });
}

/** Our 65-byte close signature, by our state key (`channelSk`: our channel secret key). */
export function signClose(p: ChannelParams, state: ChannelState, channelSk: Uint8Array): Uint8Array {
  return signSighash(closeSighash(p, state), stateSecretKey(p, channelSk), CLOSE_HASH_TYPE, 1);
}

/** True when `sig` is `party`'s valid close signature for `state`. */
export function verifyCloseSig(p: ChannelParams, state: ChannelState, party: Party, sig: Uint8Array): boolean {
  const t = eltooTerms(p);
  return verifyChannelSig(closeSighash(p, state), sig, CLOSE_HASH_TYPE, party === 0 ? t.keys.a : t.keys.b);
}

/** The fully signed close (both signatures checked first: INVALID_SIGNATURE). */
export function buildCloseTx(p: ChannelParams, state: ChannelState, sigs: [Uint8Array, Uint8Array]): BitcoinTx {
  for (const party of [0, 1] as const)
    if (!verifyCloseSig(p, state, party, sigs[party]))
      fail(ErrorCode.INVALID_SIGNATURE, `close signature of party ${party} does not verify`);
  const leaf = fundingOutput(eltooTerms(p)).rebindLeaf;
  const tx = unsignedCloseTx(p, state);
  return { ...tx, inputs: [{ ...tx.inputs[0]!, witness: [sigs[1].slice(), sigs[0].slice(), leaf.script, leaf.controlBlock] }] };
}
