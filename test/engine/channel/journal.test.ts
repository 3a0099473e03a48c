/**
 * Every method that changes a channel records it in the open journal first
 * and gives it a new version, on its own: called alone in a step, each one
 * is journaled, and the rollback gives back exactly the channel before it.
 * A method that forgot to record itself would let a failed step leave a
 * half-changed channel, or a runtime skip writing a changed one (a change
 * lost at the next restart).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { schnorr } from '@noble/curves/secp256k1.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { MemoryNonceStore } from '../../../crypto/nonce.js';
import { Channel, ChannelJournal } from '../../../engine/channel/channel.js';
import { openChannelPair } from '../../../engine/channel/open.js';
import type { ChannelParams, ChannelState } from '../../../engine/channel/state.js';

/** The state after `s` with `balances` (no PTLC). */
const nextState = (s: ChannelState, balances: [number, number]): ChannelState => ({ n: s.n + 1, balances, ptlcs: [] });

const t = suite('channel/journal');

/** Runs `fn` on `ch` alone in a step: it must be journaled, take a new version, and roll back exactly; then runs it for good. */
async function alone<T>(what: string, ch: Channel, fn: () => T | Promise<T>): Promise<T> {
  const j = new ChannelJournal();
  ch.track(j);
  const before = JSON.stringify(ch.toJSON());
  const v = ch.version;
  j.begin();
  await fn();
  assert.is.not(JSON.stringify(ch.toJSON()), before, `${what} changed nothing: not a test of it`);
  assert.ok(ch.version > v, `${what}: no new version`);
  assert.equal(j.touched(), [ch], `${what}: not journaled`);
  j.rollback();
  assert.is(JSON.stringify(ch.toJSON()), before, `${what}: the rollback did not give the channel back`);
  return fn();
}

t('each changing method of a channel, alone in a step, is journaled and rolled back', async () => {
  const sk = [schnorr.utils.randomSecretKey(), schnorr.utils.randomSecretKey()] as const;
  const nonces = [new MemoryNonceStore(), new MemoryNonceStore()] as const;
  const params: ChannelParams = {
    channelId: randomBytes(32),
    funding: { txid: randomBytes(32), vout: 0, amount: 1_000_000 },
    keys: [schnorr.getPublicKey(sk[0]), schnorr.getPublicKey(sk[1])],
    csvDelay: 144,
    fees: { update: 500, settlement: 500, ptlc: 300 },
  };
  const [a, b] = await openChannelPair(params, [600_000, 399_000], sk[0], sk[1], nonces[0], nonces[1]);
  const next = nextState(a.enforceable.state, [590_000, 409_000]);

  await alone('propose', a, () => a.propose(next));
  const sa = await alone('signSettlement', a, () => a.signSettlement(sk[0]));
  await alone('propose (the peer)', b, () => b.propose(next));
  const sb = await alone('signSettlement (the peer)', b, () => b.signSettlement(sk[1]));
  await alone('receiveSettlementSig', a, () => a.receiveSettlementSig(sb));
  await alone('receiveSettlementSig (the peer)', b, () => b.receiveSettlementSig(sa));
  // A nonce committed in a rolled-back step stays in the store; the step again commits a fresh one.
  const Rb = await alone('commitUpdateNonce', b, () => b.commitUpdateNonce(nonces[1], sk[1]));
  const Ra = await alone('commitUpdateNonce (the peer)', a, () => a.commitUpdateNonce(nonces[0], sk[0]));
  await alone('receiveUpdateNonce', a, () => a.receiveUpdateNonce(Rb));
  await alone('receiveUpdateNonce (the peer)', b, () => b.receiveUpdateNonce(Ra));
  const ua = await alone('signUpdate', a, () => a.signUpdate(nonces[0], sk[0]));
  const ub = await alone('signUpdate (the peer)', b, () => b.signUpdate(nonces[1], sk[1]));
  await alone('receiveUpdateSig (promotes the state)', a, () => a.receiveUpdateSig(ub));
  await alone('receiveUpdateSig (the peer)', b, () => b.receiveUpdateSig(ua));
  assert.is(a.enforceable.state.n, next.n);

  // Overwriting and abandoning a pending state.
  const s2 = nextState(a.enforceable.state, [580_000, 419_000]);
  const s3 = nextState(s2, [585_000, 414_000]);
  await alone('propose', a, () => a.propose(s2));
  await alone('propose (overwrite)', a, () => a.propose(s3));
  await alone('restoreOverwritten', a, () => a.restoreOverwritten(s2.n));
  await alone('abandonPending', a, () => a.abandonPending());
  // The pre-signature path of an offer.
  await alone('propose', a, () => a.propose(nextState(s3, [570_000, 429_000])));
  const T = schnorr.getPublicKey(schnorr.utils.randomSecretKey());
  await alone('presignUpdate', a, () => a.presignUpdate(sk[0], new Uint8Array([2, ...T])));
  await alone('abandonPending', a, () => a.abandonPending());

  // Marks and closing.
  await alone('noteSeen', a, () => a.noteSeen(a.topN + 5));
  const n = b.enforceable.state.n;
  const cb = await alone('signCoopClose', b, () => b.signCoopClose(n, sk[1]));
  const ca = a.signCoopClose(n, sk[0]);
  await alone('receiveCoopCloseSig', b, () => b.receiveCoopCloseSig(n, ca));
  void cb;
  await alone('noteUpdateOnChain', b, () => b.noteUpdateOnChain(800_000));
  await alone('noteUpdateOnChain (a lower height)', b, () => b.noteUpdateOnChain(799_990));
  // A channel whose state 0 was signed before its funding existed gets its outpoint once.
  const unfunded = new Channel({ ...params, channelId: randomBytes(32), funding: { amount: 1_000_000 } }, 0, a.enforceable);
  await alone('setFundingOutpoint', unfunded, () => unfunded.setFundingOutpoint(randomBytes(32), 1));
});

t.run();
