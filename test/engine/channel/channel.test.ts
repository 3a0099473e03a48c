import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from '@noble/hashes/utils.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { ErrorCode } from '../../../base/errors.js';
import { MemoryNonceStore, signWithCommittedNonce } from '../../../crypto/nonce.js';
import { adaptorPoint } from '../../../crypto/adaptor.js';
import { Channel } from '../../../engine/channel/channel.js';
import { openChannelPair } from '../../../engine/channel/open.js';
import { signSettlement as signSettlementTx, stateSecretKey } from '../../../engine/channel/onchain.js';
import {
  addPtlc,
  capacity,
  checkPtlcTimelock,
  checkState,
  checkTransition,
  initialState,
  resolvePtlc,
  transfer,
  validateParams,
  type ChannelParams,
} from '../../../engine/channel/state.js';
import { throwsCode, rejectsCode } from '../../helpers.js';

const t = suite('channel');
const sk0 = schnorr.utils.randomSecretKey();
const sk1 = schnorr.utils.randomSecretKey();
const params = (): ChannelParams => ({
  channelId: randomBytes(32),
  funding: { txid: randomBytes(32), vout: 1, amount: 100_000 },
  keys: [schnorr.getPublicKey(sk0), schnorr.getPublicKey(sk1)],
  csvDelay: 144,
  fees: { update: 300, settlement: 400, ptlc: 200 },
});

/** Runs one full co-signing round from party 0's proposal of `next`. */
async function cosign(a: Channel, b: Channel, na: MemoryNonceStore, nb: MemoryNonceStore, next: Parameters<Channel['propose']>[0]) {
  a.propose(next);
  b.propose(next);
  b.receiveSettlementSig(a.signSettlement(sk0));
  a.receiveSettlementSig(b.signSettlement(sk1));
  b.receiveUpdateNonce(await a.commitUpdateNonce(na, sk0));
  a.receiveUpdateNonce(await b.commitUpdateNonce(nb, sk1));
  const ua = await a.signUpdate(na, sk0);
  const ub = await b.signUpdate(nb, sk1);
  assert.ok(a.receiveUpdateSig(ub));
  assert.ok(b.receiveUpdateSig(ua));
}

t('open, transfer, add and fulfill a PTLC, with every state co-signed and promoted', async () => {
  const p = params();
  const na = new MemoryNonceStore(),
    nb = new MemoryNonceStore();
  const [a, b] = await openChannelPair(p, [60_000, capacity(p) - 60_000], sk0, sk1, na, nb);
  assert.is(a.enforceable.state.n, 0);
  await cosign(a, b, na, nb, transfer(a.enforceable.state, 0, 5_000, 1));
  const T = adaptorPoint(randomBytes(32));
  const id = randomBytes(32);
  await cosign(a, b, na, nb, addPtlc(a.enforceable.state, { id, offerer: 0, amount: 7_000, point: T, timeout: 800_100 }, 2));
  assert.equal(b.enforceable.state.balances, [48_000, capacity(p) - 55_000]);
  await cosign(a, b, na, nb, resolvePtlc(a.enforceable.state, id, 'fulfill', 3));
  assert.equal(a.enforceable.state, b.enforceable.state);
  assert.equal(a.enforceable.state.balances, [48_000, capacity(p) - 48_000]);
  // Serialization round trip (a wallet persists this and resumes after a restart).
  const again = Channel.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
  assert.equal(again.toJSON(), a.toJSON());
  assert.equal(again.enforceable.updateSigs, a.enforceable.updateSigs);
});

t('invariants: conservation, negative balances, state numbers, PTLC fields, timelock rule', async () => {
  const p = params();
  const cap = capacity(p);
  const s0 = { n: 0, balances: [50_000, cap - 50_000] as [number, number], ptlcs: [] };
  checkState(p, s0);
  throwsCode(() => checkState(p, { ...s0, balances: [50_001, cap - 50_000] }), ErrorCode.CHANNEL_INVARIANT);
  throwsCode(() => checkState(p, { ...s0, balances: [-1, cap + 1] }), ErrorCode.INVALID_RANGE);
  throwsCode(() => checkState(p, { ...s0, balances: [cap + 1, -1] }), ErrorCode.INVALID_RANGE);
  // State 0 is held to the same invariants: the balances must add up to the capacity.
  assert.equal(initialState(p, [50_000, cap - 50_000]).balances, [50_000, cap - 50_000]);
  throwsCode(() => initialState(p, [50_000, cap]), ErrorCode.CHANNEL_INVARIANT);
  throwsCode(() => checkState(p, { ...s0, balances: [0.5, cap - 0.5] }), ErrorCode.INVALID_RANGE);
  throwsCode(() => transfer(s0, 0, 50_001, 1), ErrorCode.CHANNEL_INVARIANT);
  throwsCode(() => checkTransition(p, { ...s0, n: 5 }, { ...s0, n: 5 }), ErrorCode.CHANNEL_INVARIANT);
  throwsCode(() => checkTransition(p, { ...s0, n: 5 }, { ...s0, n: 4 }), ErrorCode.CHANNEL_INVARIANT);
  const ptlc = { id: randomBytes(32), offerer: 0 as const, amount: 1_000, point: adaptorPoint(randomBytes(32)), timeout: 800_000 };
  checkState(p, addPtlc(s0, ptlc, 1));
  throwsCode(() => checkState(p, addPtlc(addPtlc(s0, ptlc, 1), ptlc, 2)), ErrorCode.CHANNEL_INVARIANT); // duplicate id
  throwsCode(() => checkState(p, addPtlc(s0, { ...ptlc, amount: 100 }, 1)), ErrorCode.CHANNEL_INVARIANT); // dust
  // Fractions of a sat, even two that add up to whole ones: PTLC amounts are whole sats.
  const half = { ...ptlc, amount: 1_000.5 };
  const halves = {
    ...s0,
    n: 1,
    balances: [s0.balances[0] - 2_001, s0.balances[1]] as [number, number],
    ptlcs: [half, { ...half, id: randomBytes(32) }],
  };
  throwsCode(() => checkState(p, halves), ErrorCode.INVALID_RANGE);
  throwsCode(
    () => checkState(p, addPtlc(s0, { ...ptlc, point: Uint8Array.from([2, ...new Uint8Array(32).fill(0xff)]) }, 1)),
    ErrorCode.INVALID_PUBLIC_KEY,
  ); // x ≥ p
  throwsCode(() => checkState(p, addPtlc(s0, { ...ptlc, timeout: 600_000_000 }, 1)), ErrorCode.CHANNEL_INVARIANT);
  throwsCode(() => resolvePtlc(s0, randomBytes(32), 'fail', 1), ErrorCode.CHANNEL_INVARIANT);
  checkPtlcTimelock(800_040, 800_000, 144, 6);
  throwsCode(() => checkPtlcTimelock(800_140, 800_000, 144, 6), ErrorCode.CHANNEL_INVARIANT);
  throwsCode(() => checkPtlcTimelock(800_000, 800_000, 144, 6), ErrorCode.CHANNEL_INVARIANT);
  // Counted from the height an update of the payer's channel confirmed at, when it is earlier:
  // 110 blocks after it, a 42-block PTLC would outlive the payer's settlement (at +144).
  checkPtlcTimelock(800_040, 800_000, 144, 6, 800_000);
  throwsCode(() => checkPtlcTimelock(800_110 + 42, 800_110, 144, 6, 800_000), ErrorCode.CHANNEL_INVARIANT);
  checkPtlcTimelock(800_110 + 20, 800_110, 144, 6, 800_000); // 130 + 6 < 144
  checkPtlcTimelock(800_040, 800_000, 144, 6, 900_000); // a later height changes nothing
});

t('bad parameters are typed errors', () => {
  throwsCode(() => validateParams({ ...params(), channelId: new Uint8Array(31) }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => validateParams({ ...params(), keys: [new Uint8Array(31), new Uint8Array(32)] }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => validateParams({ ...params(), csvDelay: 0 }), ErrorCode.INVALID_RANGE);
  throwsCode(() => validateParams({ ...params(), funding: { txid: randomBytes(32), vout: 0, amount: 2.5 } }), ErrorCode.INVALID_RANGE);
  throwsCode(() => validateParams({ ...params(), funding: { txid: randomBytes(32), vout: 0, amount: 500 } }), ErrorCode.CHANNEL_INVARIANT);
  throwsCode(() => validateParams({ ...params(), fees: { update: -1, settlement: 0, ptlc: 0 } }), ErrorCode.INVALID_RANGE);
  // Payout scripts (where each party's coins go on close): neither may be empty or oversized.
  const payout = new Uint8Array([0x51, 0x20, ...randomBytes(32)]);
  validateParams({ ...params(), payout: [payout, payout] });
  throwsCode(() => validateParams({ ...params(), payout: [new Uint8Array(0), payout] }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => validateParams({ ...params(), payout: [payout, new Uint8Array(0)] }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => validateParams({ ...params(), payout: [payout, new Uint8Array(100_000)] }), ErrorCode.INVALID_LENGTH);
});

t('the state machine refuses unsafe orders, forged signatures, old states and nonce reuse', async () => {
  const p = params();
  const na = new MemoryNonceStore(),
    nb = new MemoryNonceStore();
  const [a, b] = await openChannelPair(p, [60_000, capacity(p) - 60_000], sk0, sk1, na, nb);
  const next = transfer(a.enforceable.state, 0, 1_000, 1);
  a.propose(next);
  b.propose(next);
  throwsCode(() => a.propose(next), ErrorCode.CHANNEL_INVARIANT); // not newer than pending
  await a.commitUpdateNonce(na, sk0);
  // No update signature before both settlement signatures are held.
  await rejectsCode(a.signUpdate(na, sk0), ErrorCode.CHANNEL_INVARIANT);
  // A settlement signature by the wrong key, or for another state, is refused.
  throwsCode(() => b.signSettlement(sk0), ErrorCode.CHANNEL_INVARIANT); // not b's key
  const forged = signSettlementTx(p, next, sk0); // a's own key, posing as b
  throwsCode(() => a.receiveSettlementSig(forged), ErrorCode.INVALID_SIGNATURE);
  b.receiveSettlementSig(a.signSettlement(sk0));
  a.receiveSettlementSig(b.signSettlement(sk1));
  b.receiveUpdateNonce(a.requirePending().updateNonces[0]!);
  a.receiveUpdateNonce(await b.commitUpdateNonce(nb, sk1));
  throwsCode(() => a.receiveUpdateNonce(new Uint8Array(32).fill(1)), ErrorCode.CHANNEL_INVARIANT); // nonce swap
  const ua = await a.signUpdate(na, sk0);
  // The nonce is bound to update 1's sighash: signing it again gives the same signature, and
  // the nonce signs nothing else.
  assert.equal(await a.signUpdate(na, sk0), ua);
  await rejectsCode(
    signWithCommittedNonce(na, a.requirePending().myNonceId!, stateSecretKey(p, sk0), new Uint8Array(32).fill(7)),
    ErrorCode.NONCE_REUSE,
  );
  const ub = await b.signUpdate(nb, sk1);
  const bad = ub.slice();
  bad[40]! ^= 1;
  throwsCode(() => a.receiveUpdateSig(bad), ErrorCode.INVALID_SIGNATURE);
  const otherR = ua.slice(); // right signature bytes, wrong committed nonce
  throwsCode(() => a.receiveUpdateSig(otherR), ErrorCode.CHANNEL_INVARIANT);
  a.receiveUpdateSig(ub);
  b.receiveUpdateSig(ua);
  // A state number never goes backwards.
  throwsCode(() => a.propose({ ...a.enforceable.state, n: 1 }), ErrorCode.CHANNEL_INVARIANT);
  throwsCode(() => a.propose({ ...a.enforceable.state, n: 0 }), ErrorCode.CHANNEL_INVARIANT);
});

t('a channel proposes no state that breaks its invariants: funds not conserved, a negative balance, a dust PTLC', async () => {
  const na = new MemoryNonceStore();
  const nb = new MemoryNonceStore();
  const p = params();
  const [a] = await openChannelPair(p, [60_000, capacity(p) - 60_000], sk0, sk1, na, nb);
  const s = a.enforceable.state;
  const before = JSON.stringify(a.toJSON());
  throwsCode(() => a.propose({ ...s, n: 1, balances: [s.balances[0] + 1, s.balances[1]] }), ErrorCode.CHANNEL_INVARIANT); // 1 sat from nowhere
  throwsCode(() => a.propose({ ...s, n: 1, balances: [-1, s.balances[1] + s.balances[0] + 1] }), ErrorCode.INVALID_RANGE);
  const ptlc = { id: randomBytes(32), offerer: 0 as const, amount: 100, point: adaptorPoint(randomBytes(32)), timeout: 800_000 };
  throwsCode(() => a.propose(addPtlc(s, ptlc, 1)), ErrorCode.CHANNEL_INVARIANT);
  assert.is(JSON.stringify(a.toJSON()), before, 'nothing pending, the high-water mark unmoved');
});

t('an overwritten pending state can be restored when the overwrite is refused', async () => {
  const p = params();
  const na = new MemoryNonceStore(),
    nb = new MemoryNonceStore();
  const [a] = await openChannelPair(p, [60_000, capacity(p) - 60_000], sk0, sk1, na, nb);
  a.propose(transfer(a.enforceable.state, 0, 1_000, 1));
  const R1 = await a.commitUpdateNonce(na, sk0);
  a.propose({ ...a.enforceable.state, n: 2 });
  const R2 = await a.commitUpdateNonce(na, sk0);
  assert.is.not(Buffer.from(R1).toString('hex'), Buffer.from(R2).toString('hex'));
  a.restoreOverwritten(1);
  assert.is(a.pending!.state.n, 1);
  assert.equal(a.pending!.updateNonces[0], R1);
  throwsCode(() => a.restoreOverwritten(1), ErrorCode.CHANNEL_INVARIANT);
  a.abandonPending();
  assert.is(a.pending, undefined);
});

t('state numbers are never reused: the high-water mark survives abandon, restore and a reload', async () => {
  const p = params();
  const [a, b] = await openChannelPair(p, [60_000, capacity(p) - 60_000], sk0, sk1, new MemoryNonceStore(), new MemoryNonceStore());
  assert.is(a.topN, 0);
  a.propose(transfer(a.enforceable.state, 0, 1_000, 1));
  a.signSettlement(sk0); // a settlement signature for 1 has left a
  a.abandonPending(); // the peer refused
  assert.is(a.pending, undefined);
  assert.is(a.topN, 1, 'the abandoned number stays used');
  throwsCode(() => a.propose(transfer(a.enforceable.state, 0, 2_000, 1)), ErrorCode.CHANNEL_INVARIANT);
  const reloaded = Channel.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
  assert.is(reloaded.highN, 1);
  throwsCode(() => reloaded.propose(transfer(a.enforceable.state, 0, 2_000, 1)), ErrorCode.CHANNEL_INVARIANT);
  reloaded.propose(transfer(a.enforceable.state, 0, 2_000, 2));
  // The peer's side: once it accepted n, a second, different proposal numbered n is refused.
  b.propose(transfer(b.enforceable.state, 0, 1_000, 1));
  b.abandonPending();
  throwsCode(() => b.propose(transfer(b.enforceable.state, 0, 9_000, 1)), ErrorCode.CHANNEL_INVARIANT);
  // A step rolled back after a local fault is replayed later with the same number.
  const snap = b.toJSON();
  b.propose(transfer(b.enforceable.state, 0, 1_000, 5));
  b.restore(snap);
  assert.is(b.pending, undefined);
  assert.is(b.topN, 1);
  // A number the peer proposed (and signed a settlement for), even one we refused, is never ours
  // to propose; the peer may still propose that very number again (we signed nothing for it).
  b.noteSeen(9);
  assert.is(b.topN, 9);
  b.noteSeen(3);
  b.noteSeen(600_000_000); // out of range: ignored (the state check refuses it)
  assert.is(b.topN, 9);
  assert.is(Channel.fromJSON(JSON.parse(JSON.stringify(b.toJSON()))).topN, 9);
  b.propose(transfer(b.enforceable.state, 0, 1_000, 4)); // a proposal of the peer's, numbered 4
  assert.is(b.highN, 4);
});

t('an update seen on chain makes the channel closing, persisted, lowest height kept', async () => {
  const p = params();
  const [a] = await openChannelPair(p, [60_000, capacity(p) - 60_000], sk0, sk1, new MemoryNonceStore(), new MemoryNonceStore());
  a.requireOpen();
  a.noteUpdateOnChain(800_100);
  a.noteUpdateOnChain(800_120);
  assert.equal(a.closing, { height: 800_100 });
  throwsCode(() => a.requireOpen(), ErrorCode.PAYMENT_REJECTED);
  a.noteUpdateOnChain(800_050);
  const reloaded = Channel.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
  assert.equal(reloaded.closing, { height: 800_050 });
  throwsCode(() => a.noteUpdateOnChain(-1), ErrorCode.INVALID_RANGE);
  a.noteUpdateOnChain(0); // the genesis height is a height
  assert.equal(a.closing, { height: 0 });
  throwsCode(() => a.noteUpdateOnChain(1.5), ErrorCode.INVALID_RANGE);
});

t.run();
