/**
 * Guards of the open protocol (SPEC 6.17.4), each from the attacker's side:
 * a stranger who knows another opener's channel id cannot move that open; a
 * hostile hub cannot make a wallet take a hub-funded channel as ready on a
 * transaction that does not fund it, nor wedge a wallet's own funding with
 * a FUNDING of its own.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { getPublicKey } from '../../../crypto/bip340.js';
import { PaymentType, type PaymentMessage } from '../../../protocol/payment.js';
import type { BitcoinTx } from '../../../engine/bitcoin/transaction.js';
import { openWorld, type OpenWorld, payeeFunded } from './open-fixture.js';

const t = suite('engine/payment/open-guards');
let w: OpenWorld;
t.after.each(async () => w?.close());

const rand = (n = 32) => new Uint8Array(randomBytes(n));

/** The payer opens (it funds) up to state 0 signed on both sides. */
async function payerSigned(w: OpenWorld): Promise<string> {
  const r = await w.payer.openChannel(
    { amount: 1_000_000, csvDelay: 288, payout: await w.wallets.A.payoutScript(), replyTo: w.keys.A.address },
    w.ctx(),
  );
  w.commit('A', r.step);
  await w.deliverAll();
  const [open] = [...w.hub.opens.values()];
  assert.is(open!.status, 'signed');
  return open!.channelId;
}

const funding = (channelId: string): PaymentMessage => ({
  type: PaymentType.FUNDING,
  channelId: Uint8Array.from(Buffer.from(channelId, 'hex')),
  txid: rand(),
  vout: 0,
});

t('a stranger who knows the channel id sends FUNDING for another opener’s open: the hub does not take it', async () => {
  w = await openWorld('guard-stranger');
  const channelId = await payerSigned(w);
  await w.hub.handle({ from: getPublicKey(rand()), message: funding(channelId) }, w.ctx()).catch(() => undefined);
  const o = w.hub.opens.get(channelId)!;
  assert.is(o.status, 'signed', 'the open waits for its own opener’s funding');
});

t('a hostile hub’s FUNDING for a channel the wallet funds itself is refused: the wallet’s own funding goes on', async () => {
  w = await openWorld('guard-own-funding');
  await payerSigned(w);
  const channelId = w.payer.slot.state.open!.channel!.params.channelId as unknown as string;
  await w.payer.handle({ from: w.keys.S.idPub, message: funding(channelId) }, w.ctx()).catch(() => undefined);
  const open = w.payer.slot.state.open!;
  assert.is(open.status, 'signed', 'not wedged on the hub’s outpoint');
  assert.is(open.channel!.params.funding.txid, undefined);
});

t('a hub-funded channel is not taken as ready on a transaction that does not fund it', async () => {
  w = await openWorld('guard-bogus-tx');
  await payeeFunded(w);
  const open = w.payee.slot.state.open!;
  assert.is(open.status, 'funded');
  const bogus: BitcoinTx = {
    version: 2,
    lockTime: 0,
    inputs: [{ txid: rand(), vout: 0, sequence: 0xffff_ffff, witness: [rand(64)] }],
    outputs: [{ amount: 800_000n, script: Uint8Array.from([0x51, 0x20, ...rand()]) }],
  };
  const s = await w.payee.noteFundingTx(
    open.channel!.params.channelId as unknown as string,
    { tx: bogus, height: w.ctx().height - 10 },
    w.ctx(),
  );
  assert.is(w.payee.slot.current, undefined, 'no channel installed');
  assert.not.ok(s.events.some((e) => e.kind === 'channel_ready'));
  assert.ok(s.send.some((x) => x.message.type === PaymentType.REJECT));
});

t('a wallet with no channel yet ignores its hub’s channel messages with their reason: no crash, nothing recorded', async () => {
  w = await openWorld('no-channel-yet');
  const msgs: PaymentMessage[] = [
    { type: PaymentType.PTLC_COMMIT, channelId: rand(), n: 1, updateSig: rand(65) },
    { type: PaymentType.PTLC_SETTLE, channelId: rand(), n: 1, updateNonce: rand(), settleSig: rand(65), updateSig: rand(65) },
  ];
  for (const [who, engine] of [
    ['payee', w.payee],
    ['payer', w.payer],
  ] as const) {
    const before = JSON.stringify(engine.toJSON());
    for (const message of msgs) {
      const s = await engine.handle({ from: w.keys.S.idPub, message }, w.ctx());
      assert.equal(s.send, [], `${who}: nothing answered`);
      assert.ok(
        s.events.some((e) => e.kind === 'ignored' && /no channel yet/.test(e.reason)),
        `${who}: ${JSON.stringify(s.events)}`,
      );
    }
    assert.is(JSON.stringify(engine.toJSON()), before, `${who}: nothing recorded`);
  }
});

t.run();
