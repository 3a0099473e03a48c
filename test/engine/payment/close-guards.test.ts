/**
 * The local-input guards of the cooperative close API of the role engines
 * (PaymentEngine.proposeClose and handleClose, the shared steps of
 * engine/payment/close.ts), from the careless caller's and the attacker's
 * side: a close of a channel the role does not have, a role that does not
 * know its peer's mailbox address, a close message naming a channel that is
 * not ours. Each is refused with a typed error or ignored, changes nothing,
 * signs nothing and sends nothing; the real channel still closes afterwards.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from '@noble/hashes/utils.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { ErrorCode } from '../../../base/errors.js';
import { signClose } from '../../../engine/channel/close.js';
import { Payer } from '../../../engine/payment/payer/payer.js';
import type { PaymentEngine } from '../../../engine/payment/engine.js';
import type { Step } from '../../../engine/payment/types.js';
import { PaymentType, decodePayment, encodePayment, type PaymentMessage } from '../../../protocol/payment.js';
import { rejectsCode } from '../../helpers.js';
import { hex, hubPayment, makeWorld, run, startPayment, type World } from './fixture.js';

const t = suite('payment/close-guards');

/** The whole persisted state of a role, to compare before and after. */
const snap = (e: PaymentEngine<unknown>) => JSON.stringify(e.toJSON());

/** A message as it arrives: through the wire codec, like the runtimes. */
const wire = (m: PaymentMessage) => decodePayment(m.type, encodePayment(m));

/** Asserts that `s` is a step that ignored a message: one `ignored` event, nothing sent, retracted or archived. */
function assertIgnored(s: Step, msg: string): void {
  assert.ok(s, `${msg}: a step, not nothing`);
  assert.equal(
    s.events.map((e) => e.kind),
    ['ignored'],
    msg,
  );
  assert.equal(s.send, [], `${msg}: nothing sent`);
  assert.equal(s.retract, [], `${msg}: nothing retracted`);
  assert.equal(s.archive ?? [], [], `${msg}: nothing archived`);
}

/** The genuine close of the A–S channel, payer first: both ends hold the fully signed close. */
async function closeGenuinely(w: World): Promise<void> {
  const id = hex(w.asParams.channelId);
  const proposal = await w.payer.proposeClose(id, w.A.chSk);
  assert.is(proposal.send.length, 1);
  assert.is(proposal.send[0]!.to, w.S.address, 'the proposal goes to the hub');
  const accepted = await w.hub.handleClose({ from: w.A.idPk, message: wire(proposal.send[0]!.message) }, w.S.chSk);
  assert.equal(
    accepted.send.map((o) => [o.to, o.message.type]),
    [[w.A.address, PaymentType.CLOSE_ACCEPT]],
    'the hub co-signs and answers the payer',
  );
  const kept = await w.payer.handleClose({ from: w.S.idPk, message: wire(accepted.send[0]!.message) }, w.A.chSk);
  assert.equal(kept.send, []);
  assert.ok(w.payer.channels()[0]!.coopCloseTx(), 'the payer holds the signed close');
  assert.ok(
    w.hub
      .channels()
      .find((c) => hex(c.params.channelId) === id)!
      .coopCloseTx(),
    'the hub holds the signed close',
  );
}

t(
  'proposing the close of a channel the role does not have is refused (INVALID_RANGE): nothing signed, nothing sent, nothing changed',
  async () => {
    const w = await makeWorld();
    const payerBefore = snap(w.payer);
    const hubBefore = snap(w.hub);
    // A channel id nobody has, and the hub–payee channel (real, but not the payer's).
    for (const id of [hex(randomBytes(32)), hex(w.sbParams.channelId)]) {
      await rejectsCode(() => w.payer.proposeClose(id, w.A.chSk), ErrorCode.INVALID_RANGE, `payer, channel ${id}`);
      assert.is(snap(w.payer), payerBefore, 'the payer is as it was');
    }
    await rejectsCode(() => w.hub.proposeClose(hex(randomBytes(32)), w.S.chSk), ErrorCode.INVALID_RANGE, 'hub, unknown channel');
    await rejectsCode(
      () => w.payee.proposeClose(hex(w.asParams.channelId), w.B.chSk),
      ErrorCode.INVALID_RANGE,
      'payee, the payer’s channel',
    );
    assert.is(snap(w.hub), hubBefore, 'the hub is as it was');
    for (const c of [...w.payer.channels(), ...w.hub.channels(), ...w.payee.channels()])
      assert.is(c.coopClose, undefined, 'no close signed');
    // The real channel still closes.
    await closeGenuinely(w);
  },
);

t(
  'a role that does not know its channel peer’s mailbox address refuses to propose a close (INVALID_RANGE) instead of sending it to nowhere',
  async () => {
    const w = await makeWorld();
    // A careless caller configures the payer without the hub's address.
    const careless = new Payer({ ...w.payer.config, hubAddress: undefined as unknown as string }, w.payer.channels()[0], w.A.nonces);
    const before = snap(careless);
    await rejectsCode(() => careless.proposeClose(hex(w.asParams.channelId), w.A.chSk), ErrorCode.INVALID_RANGE);
    assert.is(snap(careless), before, 'nothing changed');
    assert.is(careless.channels()[0]!.coopClose, undefined, 'no close signed: the channel still takes new states');
    // Configured with the address, the same payer closes.
    w.payer = new Payer(w.payer.config, careless.channels()[0], w.A.nonces);
    await closeGenuinely(w);
  },
);

t(
  'a role that does not know its channel peer’s mailbox address ignores a genuine close proposal: it co-signs nothing and answers nobody',
  async () => {
    const w = await makeWorld();
    const careless = new Payer({ ...w.payer.config, hubAddress: undefined as unknown as string }, w.payer.channels()[0], w.A.nonces);
    const id = hex(w.asParams.channelId);
    const proposal = await w.hub.proposeClose(id, w.S.chSk);
    assert.equal(
      proposal.send.map((o) => [o.to, o.message.type]),
      [[w.A.address, PaymentType.CLOSE_PROPOSE]],
    );
    const before = snap(careless);
    const s = await careless.handleClose({ from: w.S.idPk, message: wire(proposal.send[0]!.message) }, w.A.chSk);
    assertIgnored(s, 'a proposal the payer cannot answer');
    assert.is(snap(careless), before, 'nothing changed');
    assert.is(careless.channels()[0]!.coopClose, undefined, 'the payer signed no close');
    // Configured with the address, the payer takes the same proposal and answers the hub.
    w.payer = new Payer(w.payer.config, careless.channels()[0], w.A.nonces);
    const accepted = await w.payer.handleClose({ from: w.S.idPk, message: wire(proposal.send[0]!.message) }, w.A.chSk);
    assert.equal(
      accepted.send.map((o) => [o.to, o.message.type]),
      [[w.S.address, PaymentType.CLOSE_ACCEPT]],
    );
    assert.ok(w.payer.channels()[0]!.coopCloseTx(), 'the payer holds the signed close');
  },
);

t(
  'a CLOSE_PROPOSE or CLOSE_ACCEPT naming a channel that is not ours, or from a stranger, is ignored: nothing signed, nothing sent, the real close still goes through',
  async () => {
    const w = await makeWorld();
    const stranger = schnorr.utils.randomSecretKey();
    const strangerPk = schnorr.getPublicKey(stranger);
    const as = w.payer.channels()[0]!;
    const n = as.enforceable.state.n;
    // The hub's genuine close of its channel with the payee, shown to the payer.
    const sbClose = await w.hub.proposeClose(hex(w.sbParams.channelId), w.S.chSk);
    const sbProposal = sbClose.send[0]!.message;
    assert.is(sbProposal.type, PaymentType.CLOSE_PROPOSE);
    const payerBefore = snap(w.payer);
    const attempts: { from: Uint8Array; message: PaymentMessage; what: string }[] = [
      { from: w.S.idPk, message: sbProposal, what: 'the hub’s genuine close of another channel' },
      {
        from: w.S.idPk,
        message: {
          type: PaymentType.CLOSE_PROPOSE,
          channelId: randomBytes(32),
          n,
          closeSig: signClose(w.asParams, as.enforceable.state, w.S.chSk),
        },
        what: 'a proposal on an unknown channel id',
      },
      {
        from: strangerPk,
        message: {
          type: PaymentType.CLOSE_ACCEPT,
          channelId: randomBytes(32),
          n,
          closeSig: signClose(w.asParams, as.enforceable.state, stranger),
        },
        what: 'a stranger’s acceptance on an unknown channel id',
      },
      {
        from: strangerPk,
        message: {
          type: PaymentType.CLOSE_PROPOSE,
          channelId: w.asParams.channelId,
          n,
          closeSig: signClose(w.asParams, as.enforceable.state, stranger),
        },
        what: 'a stranger’s proposal on the real channel',
      },
    ];
    for (const a of attempts) {
      const s = await w.payer.handleClose({ from: a.from, message: wire(a.message) }, w.A.chSk);
      assertIgnored(s, a.what);
      assert.is(snap(w.payer), payerBefore, `${a.what}: the payer is as it was`);
      assert.is(as.coopClose, undefined, `${a.what}: no close signed`);
    }
    // The real channel still accepts a genuine close.
    await closeGenuinely(w);
  },
);

t(
  'handleClose handed a message that is not a close (a REJECT, a PTLC_FAIL from the channel peer) ignores it and changes nothing',
  async () => {
    const w = await makeWorld();
    const before = snap(w.payer);
    const others: PaymentMessage[] = [
      { type: PaymentType.REJECT, refType: PaymentType.OFFER, ref: randomBytes(32), code: ErrorCode.PAYMENT_REJECTED, message: 'no' },
      { type: PaymentType.PTLC_FAIL, channelId: w.asParams.channelId, offerId: randomBytes(32), reason: 'no' },
    ];
    for (const m of others) {
      const s = await w.payer.handleClose({ from: w.S.idPk, message: wire(m) }, w.A.chSk);
      assertIgnored(s, `type ${m.type}`);
      assert.is(snap(w.payer), before, `type ${m.type}: the payer is as it was`);
    }
    await closeGenuinely(w);
  },
);

/** A's CLOSE_PROPOSE of its latest enforceable state on A–S, signed with A's real channel key. */
function payerCloseProposal(w: World): PaymentMessage {
  const ch = w.payer.channels()[0]!;
  const n = ch.enforceable.state.n;
  const closeSig = signClose(ch.params, ch.enforceable.state, w.A.chSk);
  return wire({ type: PaymentType.CLOSE_PROPOSE, channelId: ch.params.channelId, n, closeSig });
}

t(
  'attacker: the channel peer proposes to close at the old state while its payment is pending at the hub; the hub signs nothing',
  async () => {
    const w = await makeWorld();
    await startPayment(w, 20_000);
    const propose = w.queue.splice(0, 1)[0]!;
    await w.hub.handle({ from: w.A.idPk, message: wire(propose.out.message) }, w.ctx);
    const as = w.hub.peers.get(hex(w.asParams.channelId))!.channel;
    assert.ok(as.pending, 'the payment is pending on A–S at the hub');
    const before = snap(w.hub);
    // Co-signing the enforceable state now would hand the payer a final close at the balances before its payment.
    const s = await w.hub.handleClose({ from: w.A.idPk, message: payerCloseProposal(w) }, w.S.chSk);
    assertIgnored(s, 'a close proposed while a state is pending');
    assert.is(as.coopClose, undefined, 'the hub signed no close');
    assert.is(snap(w.hub), before);
  },
);

t('attacker: the channel peer proposes a cooperative close once an update is on chain; the hub signs nothing', async () => {
  const w = await makeWorld();
  await w.hub.noteUpdateOnChain(hex(w.asParams.channelId), 800_001);
  const before = snap(w.hub);
  const s = await w.hub.handleClose({ from: w.A.idPk, message: payerCloseProposal(w) }, w.S.chSk);
  assertIgnored(s, 'a close proposed once an update is on chain');
  assert.is(w.hub.peers.get(hex(w.asParams.channelId))!.channel.coopClose, undefined, 'the hub signed no close');
  assert.is(snap(w.hub), before);
});

t(
  'attacker: the channel peer sends a CLOSE_ACCEPT that answers no proposal (a valid signature of the latest state); it is ignored and the channel still pays',
  async () => {
    const w = await makeWorld();
    const as = w.payer.channels()[0]!;
    const n = as.enforceable.state.n;
    const before = snap(w.payer);
    // The hub can sign the close of the payer's latest state at any time. Kept unasked, it
    // would mark the channel as closing: every payment refused, and no close to broadcast.
    const unsolicited = wire({
      type: PaymentType.CLOSE_ACCEPT,
      channelId: w.asParams.channelId,
      n,
      closeSig: signClose(w.asParams, as.enforceable.state, w.S.chSk),
    });
    const s = await w.payer.handleClose({ from: w.S.idPk, message: unsolicited }, w.A.chSk);
    assertIgnored(s, 'an acceptance of a close the payer never proposed');
    assert.is(as.coopClose, undefined, 'the payer records no close');
    assert.is(snap(w.payer), before, 'the payer is as it was');
    // The channel still pays: the payment completes end to end.
    const offerId = await startPayment(w, 20_000);
    await run(w);
    assert.is(hubPayment(w, offerId)?.status, 'settled', 'the payment went through');
    // Once the payer proposes a close of its new latest state, the hub's acceptance of the
    // old state is still refused, and the genuine acceptance of the new one is kept.
    const n1 = as.enforceable.state.n;
    assert.ok(n1 > n, 'the payment moved the channel on');
    await w.payer.proposeClose(hex(w.asParams.channelId), w.A.chSk);
    const stale = await w.payer.handleClose({ from: w.S.idPk, message: unsolicited }, w.A.chSk);
    assertIgnored(stale, 'an acceptance of the older state');
    assert.is(as.coopCloseTx(), undefined, 'no signed close of the older state');
    const genuine = wire({
      type: PaymentType.CLOSE_ACCEPT,
      channelId: w.asParams.channelId,
      n: n1,
      closeSig: signClose(w.asParams, as.enforceable.state, w.S.chSk),
    });
    const kept = await w.payer.handleClose({ from: w.S.idPk, message: genuine }, w.A.chSk);
    assert.equal(kept.send, []);
    assert.ok(as.coopCloseTx(), 'the payer holds the signed close of its latest state');
  },
);

t.run();
