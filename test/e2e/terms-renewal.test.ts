/**
 * A hub runs longer than its terms' validity, and a payer holds terms that
 * have expired (SPEC 6.17.1). The relay, the chain simulator over Esplora and
 * hub, payer and payee run in-process; the roles share one clock, moved
 * forward past the terms' expiry while they run (the relay keeps real time).
 * - The hub renews its terms (and republishes its relay record): a wallet
 *   opening after its first terms expired opens under the new ones; a
 *   restart keeps the renewed terms and the previous ones.
 * - A payer whose stored terms expired, with no fee override, reads the
 *   hub's current terms before it pays: it pays the hub's real fee, not a
 *   fee of zero the hub would refuse.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex } from '../../base/bytes.js';
import { TERMS_RECORD, termsId, verifyTerms } from '../../protocol/terms.js';
import { LevelKv } from '../../client/mailbox/kv.js';
import { fetchRecord } from '../../client/mailbox/records.js';
import { HubNode, PayeeNode, PayerNode } from '../../client/wallet/roles.js';
import { hubFee } from '../../engine/payment/fee.js';
import type { PaymentEvent } from '../../engine/payment/types.js';
import { HUB_FEE, client, until } from './world.js';
import { startChainWorld } from './chain-world.js';
import { TERMS } from './open-world.js';

const t = suite('e2e/terms-renewal');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How long the hub's terms stay valid here, ms. */
const VALIDITY = 600_000;

async function world(termsRenewMs: number) {
  const cw = await startChainWorld();
  const { relay, model, source, wallet, A, S, B, addr, hubConfig } = cw;
  const skew = { ms: 0 };
  const now = () => Date.now() + skew.ms;
  const common = { relays: [relay.url], client, chain: source(), now, chainPollMs: 100, retryMs: 200, openPollMs: 150 };
  const hubOpts = {
    ...common,
    identityKey: S.idSk,
    fundingWallet: wallet(5_000_000),
    terms: { ...TERMS, validityMs: VALIDITY },
    termsRenewMs,
    config: { channelKey: S.chSk, fee: HUB_FEE, safetyMargin: 6, maxTimeoutDelta: 100 },
  };
  let hubKv = new LevelKv(S.dir);
  let hub = await HubNode.open({ ...hubOpts, kv: hubKv });
  const payee = await PayeeNode.open({
    ...common,
    identityKey: B.idSk,
    kv: new LevelKv(B.dir),
    fundingWallet: wallet(0),
    config: { ...hubConfig(B), address: addr(B), timeoutDelta: 40, invoiceTtlMs: 3_600_000 },
  });
  const payer = await PayerNode.open({
    ...common,
    identityKey: A.idSk,
    kv: new LevelKv(A.dir),
    fundingWallet: wallet(3_000_000),
    config: hubConfig(A),
  });
  const events: PaymentEvent[] = [];
  payer.on('payment', (e: PaymentEvent) => events.push(e));
  /** Mines blocks until `node`'s channel is ready at it and at the hub (`hubChannels` channels). */
  const ready = async (node: PayerNode | PayeeNode, hubChannels: number) => {
    let done = false;
    void node.channelReady().then(() => (done = true));
    for (let i = 0; i < 200 && !(done && hub.channels().length === hubChannels); i++) {
      model.mine(1);
      await sleep(100);
    }
    assert.ok(done, 'the channel is ready at the wallet');
    assert.is(hub.channels().length, hubChannels, 'the hub counted the channel’s confirmations');
  };
  const record = async () => {
    const doc = await fetchRecord(addr(S), TERMS_RECORD);
    return doc ? bytesToHex(doc) : undefined;
  };
  /** Stops the hub and starts it again on its store. */
  const restartHub = async () => {
    await hub.close();
    await hubKv.close();
    hubKv = new LevelKv(S.dir);
    hub = await HubNode.open({ ...hubOpts, kv: hubKv });
    return hub;
  };
  const close = async () => {
    for (const n of [payer, payee, hub]) await n.close();
    await hubKv.close();
    await cw.close();
  };
  return {
    get hub() {
      return hub;
    },
    payee,
    payer,
    events,
    skew,
    addr,
    A,
    S,
    B,
    ready,
    record,
    restartHub,
    close,
  };
}

t('a hub running past its terms’ expiry renews them: a wallet opens under the new terms', async () => {
  const w = await world(3_600_000); // the timer never fires here: renewTerms() is called by hand
  try {
    const first = w.hub.terms!;
    assert.is(await w.record(), bytesToHex(first), 'the first terms are published');
    assert.not.ok(await w.hub.renewTerms(), 'terms with more than half their validity left are kept');

    w.skew.ms = VALIDITY + 60_000; // the first terms have expired
    assert.ok(await w.hub.renewTerms(), 'the hub signs new terms');
    const renewed = w.hub.terms!;
    assert.not.equal(bytesToHex(renewed), bytesToHex(first));
    const t1 = verifyTerms(renewed, w.S.idPk, Date.now() + w.skew.ms);
    assert.ok(t1.expiry > Date.now() + w.skew.ms + VALIDITY / 2, 'valid for a full period from the hub’s now');
    assert.is(await w.record(), bytesToHex(renewed), 'the relay record holds the new terms');

    // The payee (the hub funds) opens under the new terms and gets its channel.
    await w.payee.openChannel({ amount: 800_000 });
    await w.ready(w.payee, 1);
    assert.is(w.payee.engine.slot.state.terms, bytesToHex(renewed), 'the payee opened under the new terms');
    assert.equal(w.hub.engine.previousTerms!.id, termsId(first), 'the hub keeps the terms it replaced');
  } finally {
    await w.close();
  }
});

t('a hub restarted after a renewal keeps its current terms and still accepts its previous ones', async () => {
  const w = await world(3_600_000);
  try {
    const first = w.hub.terms!;
    w.skew.ms = Math.floor(VALIDITY * 0.6); // less than half of the validity left: renewed
    assert.ok(await w.hub.renewTerms());
    const renewed = w.hub.terms!;
    assert.equal(w.hub.engine.previousTerms!.id, termsId(first));
    const hub = await w.restartHub();
    assert.equal(hub.terms, renewed, 'the renewed terms are kept across the restart');
    assert.equal(hub.engine.previousTerms?.id, termsId(first), 'and so are the previous ones, still unexpired');
    assert.is(await w.record(), bytesToHex(renewed));
  } finally {
    await w.close();
  }
});

t('a payer whose stored terms expired reads fresh ones and pays the hub’s real fee, not zero', async () => {
  const w = await world(100);
  try {
    await w.payee.openChannel({ amount: 800_000 });
    await w.ready(w.payee, 1);
    await w.payer.openChannel({ amount: 1_000_000 });
    await w.ready(w.payer, 2);
    await w.payee.publishTickets(4);
    const first = w.hub.terms!;

    // Time passes: the payer's stored terms expire; the hub's timer renews its own and republishes them.
    w.skew.ms = VALIDITY + 60_000;
    assert.is(w.payer.engine.slot.terms(Date.now() + w.skew.ms), undefined, 'the payer’s stored terms have expired');
    await until(() => bytesToHex(w.hub.terms!) !== bytesToHex(first), 'the hub’s timer to renew its terms', 10_000);
    const renewed = bytesToHex(w.hub.terms!);
    for (let i = 0; i < 50 && (await w.record()) !== renewed; i++) await sleep(100);
    assert.is(await w.record(), renewed, 'the relay record holds the new terms');

    const amount = 40_000;
    const offerId = await w.payer.payOffline(w.addr(w.B), amount);
    const fee = w.payer.payments().find((p) => p.offerId === offerId)!.fee;
    assert.is(fee, hubFee(amount, HUB_FEE), 'the payer pays the fee of the hub’s terms');
    assert.ok(fee > 0);
    assert.ok(w.payer.engine.slot.terms(Date.now() + w.skew.ms), 'the payer kept the fresh terms');
    await until(() => w.events.some((e) => e.kind === 'completed' || e.kind === 'rejected'), 'the payment to end', 30_000);
    const rejected = w.events.find((e) => e.kind === 'rejected');
    assert.not.ok(rejected, `refused: ${JSON.stringify(rejected)}`);
  } finally {
    await w.close();
  }
});

t.run();
