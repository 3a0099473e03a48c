/**
 * The cooperative close (engine/channel/close.ts, Channel.signCoopClose,
 * the shared close steps of engine/payment/close.ts): it pays exactly the
 * latest balances on the chain model, and every refusal that protects a
 * party's money is tested from the attacker's side.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { schnorr } from '@noble/curves/secp256k1.js';
import { ErrorCode } from '../../../base/errors.js';
import { bytesToHex } from '../../../base/bytes.js';
import { buildCloseTx, signClose } from '../../../engine/channel/close.js';
import { Channel } from '../../../engine/channel/channel.js';
import { payoutScript } from '../../../engine/channel/onchain.js';
import { addPtlc, transfer } from '../../../engine/channel/state.js';
import { onCloseMessage, proposeClose } from '../../../engine/payment/close.js';
import { PaymentType, decodePayment, encodePayment } from '../../../protocol/payment.js';
import { throwsCode } from '../../helpers.js';
import { cosign, fundedPair, plan, ptlcSecret } from './enforce-fixture.js';

const t = suite('channel/close');
const idA = schnorr.getPublicKey(schnorr.utils.randomSecretKey());
const idB = schnorr.getPublicKey(schnorr.utils.randomSecretKey());

t('both sign the close of the latest state; the watchtower plan broadcasts it; the chain pays each party exactly its balance', async () => {
  const w = await fundedPair();
  await cosign(w, transfer(w.ch[0].enforceable.state, 0, 12_345, 1));
  const step = proposeClose({ channel: w.ch[0], peerKey: idB }, 'addr-b', w.sk[0]);
  const m = decodePayment(PaymentType.CLOSE_PROPOSE, encodePayment(step.send[0]!.message));
  assert.is(m.type, PaymentType.CLOSE_PROPOSE);
  const answer = onCloseMessage({ channel: w.ch[1], peerKey: idA }, 'addr-a', { from: idA, message: m as never }, w.sk[1]);
  const back = decodePayment(PaymentType.CLOSE_ACCEPT, encodePayment(answer.send[0]!.message));
  onCloseMessage({ channel: w.ch[0], peerKey: idB }, 'addr-b', { from: idB, message: back as never }, w.sk[0]);
  const p = plan(w, 0);
  assert.equal(
    p.broadcasts.map((b) => b.kind),
    ['close'],
  );
  w.chain.mine(p.broadcasts[0]!.tx);
  const outs = p.broadcasts[0]!.tx.outputs;
  assert.equal(
    outs.map((o) => [bytesToHex(o.script), Number(o.amount)]),
    [
      [bytesToHex(payoutScript(w.p.keys[0])), 60_000 - 12_345],
      [bytesToHex(payoutScript(w.p.keys[1])), w.ch[1].enforceable.state.balances[1]],
    ],
  );
  assert.is(plan(w, 1).phase, 'closed');
  // Restored from JSON, the close is still there (a restarted role broadcasts it).
  assert.ok(Channel.fromJSON(JSON.parse(JSON.stringify(w.ch[1].toJSON()))).coopCloseTx());
});

t('a close of an older state is refused: the peer cannot take back what the latest state moved', async () => {
  const w = await fundedPair();
  const s0 = structuredClone(w.ch[0].enforceable.state);
  await cosign(w, transfer(w.ch[0].enforceable.state, 0, 30_000, 1));
  // Party 0 (which paid 30 000 in state 1) signs a close of state 0 by hand.
  const sig = signClose(w.p, s0, w.sk[0]);
  throwsCode(
    () =>
      onCloseMessage(
        { channel: w.ch[1], peerKey: idA },
        'a',
        { from: idA, message: { type: PaymentType.CLOSE_PROPOSE, channelId: w.p.channelId, n: 0, closeSig: sig } },
        w.sk[1],
      ),
    ErrorCode.CHANNEL_INVARIANT,
  );
  assert.is(w.ch[1].coopClose, undefined, 'nothing recorded');
});

t('a forged signature, a close from someone else, a pending PTLC or a pending state: refused, nothing signed', async () => {
  const w = await fundedPair();
  const n = w.ch[0].enforceable.state.n;
  const forged = signClose(w.p, w.ch[0].enforceable.state, schnorr.utils.randomSecretKey());
  const msg = (closeSig: Uint8Array) => ({ type: PaymentType.CLOSE_PROPOSE, channelId: w.p.channelId, n, closeSig }) as const;
  throwsCode(
    () => onCloseMessage({ channel: w.ch[1], peerKey: idA }, 'a', { from: idA, message: msg(forged) }, w.sk[1]),
    ErrorCode.INVALID_SIGNATURE,
  );
  const genuine = signClose(w.p, w.ch[0].enforceable.state, w.sk[0]);
  throwsCode(
    () => onCloseMessage({ channel: w.ch[1], peerKey: idA }, 'a', { from: idB, message: msg(genuine) }, w.sk[1]),
    ErrorCode.PAYMENT_REJECTED,
  );
  assert.is(w.ch[1].coopClose, undefined);
  // A PTLC in flight: a close would pay it to nobody.
  const x = ptlcSecret();
  await cosign(w, addPtlc(w.ch[0].enforceable.state, { id: x.id, offerer: 0, amount: 5_000, point: x.point, timeout: 900 }, 1));
  throwsCode(() => w.ch[0].signCoopClose(1, w.sk[0]), ErrorCode.CHANNEL_INVARIANT);
  // A state being negotiated.
  w.ch[1].propose(transfer(w.ch[1].enforceable.state, 0, 1_000, 2));
  throwsCode(() => w.ch[1].signCoopClose(1, w.sk[1]), ErrorCode.CHANNEL_INVARIANT);
});

t('once a party signed a close it signs no new state (the close would pay the older balances)', async () => {
  const w = await fundedPair();
  w.ch[1].signCoopClose(0, w.sk[1]);
  throwsCode(() => w.ch[1].propose(transfer(w.ch[1].enforceable.state, 0, 1_000, 1)), ErrorCode.CHANNEL_INVARIANT);
  throwsCode(() => w.ch[1].requireOpen(), ErrorCode.PAYMENT_REJECTED);
  // A close transaction with a signature swapped for another state's does not build.
  const other = signClose(
    w.p,
    { ...w.ch[0].enforceable.state, balances: [59_000, w.ch[0].enforceable.state.balances[1] + 1_000] },
    w.sk[0],
  );
  throwsCode(() => buildCloseTx(w.p, w.ch[1].enforceable.state, [other, w.ch[1].coopClose!.sigs[1]!]), ErrorCode.INVALID_SIGNATURE);
});

t.run();
