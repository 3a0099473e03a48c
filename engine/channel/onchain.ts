/**
 * The bridge from channel states to real transactions (engine/bitcoin, SPEC
 * section 7): a channel's eltoo terms, update and settlement n, PTLC outputs
 * and their claims. Every signature the channel state machine makes or checks
 * is over a sighash engine/bitcoin computes from the actual transaction; this
 * module only maps a `ChannelParams` and a `ChannelState` onto its inputs.
 *
 * Keys (SPEC 6.6; vectors: protocol/vectors/channel-keys.json): a party's
 * channel key `P` (in `ChannelParams.keys`) never signs directly. Updates and
 * settlements (BIP118 key version 1) are signed by a per-channel *state key*
 * `P + hash_{ln-mailbox/v1/state-key}(P ‖ channelId)·G`, and PTLC leaves use a
 * per-channel *PTLC key* `P + hash_{ln-mailbox/v1/ptlc-key}(P ‖ channelId)·G`.
 * - State keys bind every update and settlement signature to its channel:
 *   ANYPREVOUT signatures commit to no outpoint, and the channel id is in no
 *   script or sighash, so two channels with the same keys and parameters
 *   would otherwise accept each other's transactions.
 * - PTLC keys differ from state keys because engine/bitcoin refuses PTLC keys
 *   equal to channel keys: an ANYPREVOUTANYSCRIPT update signature must never
 *   fit a PTLC leaf.
 * Balances (and PTLC claims and refunds) pay to the scriptPubKey each party
 * chose at open (`ChannelParams.payout`, SPEC 6.17), or, for a channel set up
 * without one, to a key-path-only taproot output of the party's channel key.
 * @module
 */
import { bytesToHex, equalBytes } from '../../base/bytes.js';
import { ErrorCode, fail, isLnMailboxError } from '../../base/errors.js';
import { getPublicKey, taggedHash, tweakXOnlyPublicKey, tweakXOnlySecretKey } from '../../crypto/bip340.js';
import { cacheScope } from '../../crypto/secp.js';
import * as eltoo from '../bitcoin/eltoo.js';
import { presignClaim, verifyClaimPresignature, type PtlcSpec, type PtlcSweep } from '../bitcoin/ptlc-output.js';
import { verifyWitnessSignature } from '../bitcoin/sign.js';
import { taprootOutput } from '../bitcoin/taproot.js';
import type { ChannelParams, ChannelState, Party } from './state.js';

/**
 * Bounded memo: channels derive the same keys and scripts over and over, each a point
 * multiplication. Partitioned like crypto/'s caches ({@link cacheScope}: empty in
 * production), so that a bench running several roles in one process credits each
 * role with its own derivations.
 */
function memo<V>(cache: Map<string, V>, key: string, make: () => V): V {
  const id = cacheScope() + key;
  let v = cache.get(id);
  if (v === undefined) {
    v = make();
    if (cache.size >= 4096) cache.clear();
    cache.set(id, v);
  }
  return v;
}

const payoutScripts = new Map<string, Uint8Array>();

/** The key-path-only P2TR scriptPubKey paying to `key` (x-only): where a party's settled balance goes. */
export function payoutScript(key: Uint8Array): Uint8Array {
  return memo(payoutScripts, bytesToHex(key), () => taprootOutput(key, null).scriptPubKey).slice();
}

/** Where `party`'s coins go in channel `p`: the payout script it chose at open, or {@link payoutScript} of its channel key. */
export function partyPayout(p: ChannelParams, party: Party): Uint8Array {
  return p.payout ? p.payout[party].slice() : payoutScript(p.keys[party]);
}

/**
 * The eltoo terms of a channel (engine/bitcoin): the parties' state keys as
 * the scripts carry them (party 0 is `a`), the funding amount and update fee,
 * the CSV delay and the parties' payout scripts.
 */
export function eltooTerms(p: ChannelParams): eltoo.EltooTerms {
  return {
    keys: { a: statePublicKey(p, p.keys[0]), b: statePublicKey(p, p.keys[1]) },
    fundingAmount: p.funding.amount,
    updateFee: p.fees.update,
    csvDelay: p.csvDelay,
    payout: { a: partyPayout(p, 0), b: partyPayout(p, 1) },
  };
}

type KeyTag = 'ln-mailbox/v1/ptlc-key' | 'ln-mailbox/v1/state-key';

/** τ = hash_tag(P ‖ channelId), taken mod n by the tweak (SPEC 6.6). */
const keyTweak = (tag: KeyTag, key: Uint8Array, channelId: Uint8Array) => taggedHash(tag, key, channelId);

const derivedPub = new Map<string, Uint8Array>();

/** `key + hash_tag(key ‖ channelId)·G`, x-only (memoized). */
function derivePublic(tag: KeyTag, p: ChannelParams, key: Uint8Array): Uint8Array {
  return memo(
    derivedPub,
    `${tag}:${bytesToHex(key)}:${bytesToHex(p.channelId)}`,
    () => tweakXOnlyPublicKey(key, keyTweak(tag, key, p.channelId), { reduce: true }).xonly,
  ).slice();
}

/**
 * Derived secret keys, per secret key object (a role passes the same
 * `channelKey` array for every step) and then per tag and channel: deriving
 * costs a point multiplication, and every settlement and update signature needs it.
 */
const derivedSecret = new WeakMap<Uint8Array, Map<string, Uint8Array>>();

/** The secret key matching {@link derivePublic} for the channel secret key `sk` (memoized per `sk` object). */
function deriveSecret(tag: KeyTag, p: ChannelParams, sk: Uint8Array): Uint8Array {
  let byChannel = derivedSecret.get(sk);
  if (!byChannel) derivedSecret.set(sk, (byChannel = new Map()));
  return memo(byChannel, `${tag}:${bytesToHex(p.channelId)}`, () => {
    const x = getPublicKey(sk);
    return tweakXOnlySecretKey(sk, keyTweak(tag, x, p.channelId), { reduce: true });
  }).slice();
}

/** The PTLC key (x-only) of the party whose channel key is `key`. */
export function ptlcPublicKey(p: ChannelParams, key: Uint8Array): Uint8Array {
  return derivePublic('ln-mailbox/v1/ptlc-key', p, key);
}

/** The PTLC secret key matching {@link ptlcPublicKey} for the channel secret key `sk`. */
export function ptlcSecretKey(p: ChannelParams, sk: Uint8Array): Uint8Array {
  return deriveSecret('ln-mailbox/v1/ptlc-key', p, sk);
}

/** The state key (x-only) that signs this channel's updates and settlements for the party whose channel key is `key`. */
export function statePublicKey(p: ChannelParams, key: Uint8Array): Uint8Array {
  return derivePublic('ln-mailbox/v1/state-key', p, key);
}

/** The state secret key matching {@link statePublicKey} for the channel secret key `sk`. */
export function stateSecretKey(p: ChannelParams, sk: Uint8Array): Uint8Array {
  return deriveSecret('ln-mailbox/v1/state-key', p, sk);
}

/** The settlement spec of `state`: balances, PTLC outputs and the settlement fee. */
export function settlementSpec(p: ChannelParams, state: ChannelState): eltoo.SettlementSpec {
  return {
    state: state.n,
    balances: { a: state.balances[0], b: state.balances[1] },
    ptlcs: state.ptlcs.map((x) => ptlcSpec(p, x)),
    fee: p.fees.settlement,
  };
}

function ptlcSpec(p: ChannelParams, x: ChannelState['ptlcs'][number]): PtlcSpec {
  return {
    amount: x.amount,
    point: x.point,
    timeout: x.timeout,
    payer: ptlcPublicKey(p, p.keys[x.offerer]),
    payee: ptlcPublicKey(p, p.keys[(1 - x.offerer) as Party]),
  };
}

function findPtlc(p: ChannelParams, state: ChannelState, id: Uint8Array): { spec: PtlcSpec; sweep: PtlcSweep } {
  const x = state.ptlcs.find((q) => equalBytes(q.id, id));
  if (!x) fail(ErrorCode.CHANNEL_INVARIANT, `state ${state.n} has no PTLC ${bytesToHex(id)}`);
  return { spec: ptlcSpec(p, x), sweep: { payout: partyPayout(p, (1 - x.offerer) as Party), fee: p.fees.ptlc } };
}

/**
 * The hash type of every channel update signature (SPEC 6.6, 7.4):
 * ANYPREVOUTANYSCRIPT|SINGLE (0xc3). Like 0xc1 it commits to no outpoint,
 * amount or script, so one signature pair spends the funding output or any
 * older update; unlike 0xc1 it commits to the channel output alone, so
 * whoever broadcasts an update can add a fee input and a change output of
 * its own without the other party (docs/design.md, "Fee bumping").
 */
export const CHANNEL_UPDATE_HASH_TYPE = eltoo.UPDATE_HASH_TYPE_SINGLE;

/** Sighash of update `state.n` ({@link CHANNEL_UPDATE_HASH_TYPE}: independent of the output it spends). */
export function updateSighash(p: ChannelParams, state: ChannelState): Uint8Array {
  return eltoo.updateSighash(eltooTerms(p), state.n, CHANNEL_UPDATE_HASH_TYPE);
}

/** Sighash of settlement `state.n` (0x41: commits to update n's output, so it spends only update n). */
export function settlementSighash(p: ChannelParams, state: ChannelState): Uint8Array {
  return eltoo.settlementSighash(eltooTerms(p), settlementSpec(p, state));
}

/** Our 65-byte settlement signature, by our state key (`sk` is our channel secret key). */
export function signSettlement(p: ChannelParams, state: ChannelState, sk: Uint8Array): Uint8Array {
  return eltoo.signSettlement(eltooTerms(p), settlementSpec(p, state), stateSecretKey(p, sk));
}

/** True when `sig` is a valid 65-byte BIP118 witness signature of `pk` over `sighash` with `hashType`. */
export function verifyChannelSig(sighash: Uint8Array, sig: Uint8Array, hashType: number, pk: Uint8Array): boolean {
  try {
    return verifyWitnessSignature(sig, sighash, pk, hashType, 1);
  } catch (e) {
    if (isLnMailboxError(e)) return false;
    throw e;
  }
}

/** The offerer's adaptor pre-signature of the claim of PTLC `id`, encrypted to its point. */
export function presignPtlcClaim(p: ChannelParams, state: ChannelState, id: Uint8Array, channelSk: Uint8Array): Uint8Array {
  const { spec, sweep } = findPtlc(p, state, id);
  return presignClaim(spec, sweep, ptlcSecretKey(p, channelSk));
}

/** The receiver's check of the offerer's claim pre-signature. */
export function verifyPtlcClaimPresig(p: ChannelParams, state: ChannelState, id: Uint8Array, presig: Uint8Array): boolean {
  const { spec, sweep } = findPtlc(p, state, id);
  return verifyClaimPresignature(spec, sweep, presig);
}

/** The PTLC spec and claim sweep of PTLC `id` (for building claim/refund transactions). */
export function ptlcOf(p: ChannelParams, state: ChannelState, id: Uint8Array): { spec: PtlcSpec; sweep: PtlcSweep } {
  return findPtlc(p, state, id);
}
