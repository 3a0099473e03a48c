/**
 * The pure enforcement decisions (engine/channel/enforce.ts), each played out
 * on the chain model, which checks every signature, CLTV and CSV: what the
 * planner broadcasts must be valid exactly when it says so, and what it
 * holds back must be what the chain would refuse or what loses money.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex } from '../../../base/bytes.js';
import { buildSettlementTx, buildUpdateTx, type EltooTerms } from '../../../engine/bitcoin/eltoo.js';
import { txid } from '../../../engine/bitcoin/transaction.js';
import { Channel } from '../../../engine/channel/channel.js';
import { eltooTerms, settlementSpec } from '../../../engine/channel/onchain.js';
import { requireFundingOutpoint, addPtlc, resolvePtlc, transfer, type StateRecord } from '../../../engine/channel/state.js';
import { rejects } from '../bitcoin/chain-model.js';
import { GO_ON_CHAIN_MARGIN, goOnChainReason } from '../../../engine/channel/enforce.js';
import { cosign, fundedPair, outOf, plan, presig, ptlcSecret, swappedOldUpdate, type Pair } from './enforce-fixture.js';

const t = suite('channel/enforce');
const clone = (r: StateRecord): StateRecord => structuredClone(r);
const upd = (terms: EltooTerms, r: StateRecord, spend: Parameters<typeof buildUpdateTx>[2]) =>
  buildUpdateTx(terms, r.state.n, spend, { a: r.updateSigs[0]!, b: r.updateSigs[1]! });
const funding = (w: Pair) => ({ kind: 'funding' as const, outpoint: requireFundingOutpoint(w.p) });

t(
  'nothing on chain: no action; a unilateral close publishes the latest update, then its settlement exactly after the CSV delay',
  async () => {
    const w = await fundedPair();
    await cosign(w, transfer(w.ch[0].enforceable.state, 0, 5_000, 1));
    assert.equal(plan(w, 0).broadcasts, []);
    assert.is(plan(w, 0).phase, 'open');
    const p1 = plan(w, 0, { force: true });
    assert.equal(
      p1.broadcasts.map((b) => [b.kind, b.needsFee]),
      [['update', false]],
    );
    const u = p1.broadcasts[0]!.tx;
    w.chain.mine(u);
    const h = w.chain.tip;
    const p2 = plan(w, 1);
    assert.is(p2.updateHeight, h, 'the peer sees the update and its height');
    assert.is(p2.phase, 'updating');
    // Before the delay: nothing (the chain would refuse it).
    w.chain.advance(w.p.csvDelay - 2);
    assert.equal(plan(w, 0).broadcasts, []);
    const early = buildSettlementTx(eltooTerms(w.p), settlementSpec(w.p, w.ch[0].enforceable.state), outOf(u), {
      a: w.ch[0].enforceable.settleSigs[0]!,
      b: w.ch[0].enforceable.settleSigs[1]!,
    });
    rejects(() => w.chain.model.submit(early.tx, { height: w.chain.tip + 1, time: 0 }), 'bip68');
    w.chain.advance(1);
    const p3 = plan(w, 1);
    assert.equal(
      p3.broadcasts.map((b) => b.kind),
      ['settlement'],
    );
    w.chain.mine(p3.broadcasts[0]!.tx);
    const st = p3.broadcasts[0]!.tx;
    assert.equal(
      st.outputs.map((o) => Number(o.amount)),
      w.ch[0].enforceable.state.balances,
    );
    assert.is(plan(w, 0).phase, 'resolved');
    assert.equal(plan(w, 0).broadcasts, []);
  },
);

t(
  'the peer publishes an old update: we rebind our latest onto it (it needs a fee input) and settle the latest; the old settlement is dead',
  async () => {
    const w = await fundedPair();
    const old = clone(w.ch[0].enforceable);
    await cosign(w, transfer(w.ch[0].enforceable.state, 0, 20_000, 1));
    await cosign(w, transfer(w.ch[0].enforceable.state, 0, 10_000, 2));
    const terms = eltooTerms(w.p);
    const uOld = upd(terms, old, funding(w));
    w.chain.mine(uOld);
    const hOld = w.chain.tip;
    const p = plan(w, 1);
    assert.is(p.updateHeight, hOld);
    assert.equal(
      p.broadcasts.map((b) => [b.kind, b.needsFee, b.bump]),
      [['update', true, 'change']],
    );
    assert.equal(p.broadcasts[0]!.tx.outputs[0]!.amount, uOld.outputs[0]!.amount, 'rebinding pays no channel fee');
    w.chain.mine(p.broadcasts[0]!.tx);
    // The old settlement can never spend the new update.
    const sOld = buildSettlementTx(terms, settlementSpec(w.p, old.state), outOf(uOld), { a: old.settleSigs[0]!, b: old.settleSigs[1]! });
    w.chain.advance(w.p.csvDelay + 5);
    rejects(() => w.chain.mine(sOld.tx), 'missing-input');
    const p2 = plan(w, 0); // the cheater's own watchtower settles the latest state too
    assert.equal(
      p2.broadcasts.map((b) => b.kind),
      ['settlement'],
    );
    w.chain.mine(p2.broadcasts[0]!.tx);
    assert.equal(
      p2.broadcasts[0]!.tx.outputs.map((o) => Number(o.amount)),
      [30_000, w.ch[1].enforceable.state.balances[1]],
    );
    assert.is(plan(w, 1).outcome, 2);
  },
);

for (const decoy of [false, true])
  t(
    `attack: an old update with the channel input at index 1${decoy ? ' and a decoy output with the update script at index 0' : ''} is seen, beaten and its settlement is dead`,
    async () => {
      const w = await fundedPair();
      const old = clone(w.ch[0].enforceable);
      await cosign(w, transfer(w.ch[0].enforceable.state, 0, 20_000, 1));
      await cosign(w, transfer(w.ch[0].enforceable.state, 0, 10_000, 2));
      const tx = swappedOldUpdate(w, old, decoy);
      w.chain.mine(tx);
      const p = plan(w, 1);
      assert.is(p.phase, 'updating', 'the victim sees an update, not a close');
      assert.is(p.updateHeight, w.chain.tip, 'and reports its height (the channel is closing)');
      assert.equal(
        p.broadcasts.map((b) => b.kind),
        ['update'],
      );
      assert.equal(p.broadcasts[0]!.tx.inputs[0]!.vout, 1, 'the rebinding spends the real channel output, at index 1');
      w.chain.mine(p.broadcasts[0]!.tx);
      const terms = eltooTerms(w.p);
      const sOld = buildSettlementTx(terms, settlementSpec(w.p, old.state), outOf(tx, 1), { a: old.settleSigs[0]!, b: old.settleSigs[1]! });
      w.chain.advance(w.p.csvDelay + 5);
      rejects(() => w.chain.mine(sOld.tx), 'missing-input');
      const p2 = plan(w, 1);
      assert.equal(
        p2.broadcasts.map((b) => b.kind),
        ['settlement'],
      );
      w.chain.mine(p2.broadcasts[0]!.tx);
      assert.equal(
        p2.broadcasts[0]!.tx.outputs.map((o) => Number(o.amount)),
        w.ch[1].enforceable.state.balances,
        'the latest state is paid',
      );
    },
  );

t('an old update in the mempool already: the rebinding spends it; an update chain of several is followed to its end', async () => {
  const w = await fundedPair();
  const s0 = clone(w.ch[0].enforceable);
  await cosign(w, transfer(w.ch[0].enforceable.state, 0, 1_000, 1));
  const s1 = clone(w.ch[0].enforceable);
  await cosign(w, transfer(w.ch[0].enforceable.state, 0, 1_000, 2));
  const terms = eltooTerms(w.p);
  const u0 = upd(terms, s0, funding(w));
  w.chain.mine(u0);
  const u1 = upd(terms, s1, { kind: 'update', state: 0, outpoint: outOf(u0) });
  w.chain.mine(u1);
  const p = plan(w, 1);
  assert.is(p.updateHeight, w.chain.tip - 1, 'the lowest height');
  assert.equal(
    p.watch.map((o) => bytesToHex(o.txid)),
    [requireFundingOutpoint(w.p).txid, txid(u0), txid(u1)].map((x) => bytesToHex(x)),
  );
  assert.is(bytesToHex(p.broadcasts[0]!.tx.inputs[0]!.txid), bytesToHex(txid(u1)));
  // Each update seen, with its two signatures as signed (party 0's, party 1's): what a payer reads its receipt from.
  assert.equal(
    p.signedUpdates?.map((u) => [u.n, bytesToHex(u.sigs[0]), bytesToHex(u.sigs[1])]),
    [s0, s1].map((r) => [r.state.n, bytesToHex(r.updateSigs[0]!), bytesToHex(r.updateSigs[1]!)]),
  );
  w.chain.mine(p.broadcasts[0]!.tx);
  assert.is(plan(w, 1).broadcasts.length, 0, 'waits the CSV delay again');
});

t('the peer publishes a state newer than our enforceable one (we hold its settlement signatures): we settle it', async () => {
  const w = await fundedPair();
  // Party 1 gets the full state 1; party 0 stops before receiving party 1's update signature.
  const [a, b] = w.ch;
  const next = transfer(a.enforceable.state, 0, 7_000, 1);
  a.propose(next);
  b.propose(next);
  b.receiveSettlementSig(a.signSettlement(w.sk[0]));
  a.receiveSettlementSig(b.signSettlement(w.sk[1]));
  b.receiveUpdateNonce(await a.commitUpdateNonce(w.nonces[0], w.sk[0]));
  a.receiveUpdateNonce(await b.commitUpdateNonce(w.nonces[1], w.sk[1]));
  b.receiveUpdateSig(await a.signUpdate(w.nonces[0], w.sk[0]));
  await b.signUpdate(w.nonces[1], w.sk[1]);
  assert.is(b.enforceable.state.n, 1);
  assert.is(a.enforceable.state.n, 0);
  w.chain.mine(plan(w, 1, { force: true }).broadcasts[0]!.tx);
  assert.equal(plan(w, 0).broadcasts, [], 'party 0 does not fight a newer state');
  w.chain.advance(w.p.csvDelay);
  const p = plan(w, 0);
  assert.equal(
    p.broadcasts.map((x) => x.label),
    ['settlement:1'],
  );
  w.chain.mine(p.broadcasts[0]!.tx);
});

t('a PTLC: the receiver claims it with the secret before the timeout, and the offerer reads the secret from the claim', async () => {
  const w = await fundedPair({ csvDelay: 5 });
  const x = ptlcSecret();
  const timeout = w.chain.tip + 40;
  await cosign(w, addPtlc(w.ch[0].enforceable.state, { id: x.id, offerer: 0, amount: 9_000, point: x.point, timeout }, 1));
  const pre = presig(w, 0, x.id);
  const idHex = bytesToHex(x.id);
  w.chain.mine(plan(w, 1, { force: true }).broadcasts[0]!.tx);
  w.chain.advance(w.p.csvDelay);
  const st = plan(w, 1).broadcasts[0]!;
  assert.is(st.kind, 'settlement');
  w.chain.mine(st.tx);
  // Without the secret the receiver can do nothing; the offerer waits for the timeout.
  assert.equal(plan(w, 1).broadcasts, []);
  assert.equal(plan(w, 0, { ptlcs: new Map([[idHex, { presigs: [pre] }]]) }).broadcasts, []);
  const know = new Map([[idHex, { presigs: [pre], secrets: [x.t] }]]);
  const claim = plan(w, 1, { ptlcs: know }).broadcasts;
  assert.equal(
    claim.map((b) => [b.kind, b.deadline]),
    [['claim', timeout]],
  );
  w.chain.mine(claim[0]!.tx);
  assert.equal(Number(claim[0]!.tx.outputs[0]!.amount), 9_000 - w.p.fees.ptlc);
  const back = plan(w, 0, { ptlcs: new Map([[idHex, { presigs: [pre] }]]) });
  assert.equal(
    back.learned.map((l) => [l.id, bytesToHex(l.secret)]),
    [[idHex, bytesToHex(x.t)]],
  );
  assert.is(back.phase, 'resolved');
});

t('a PTLC times out: the offerer refunds it only above the timeout, and the receiver no longer claims it', async () => {
  const w = await fundedPair({ csvDelay: 5 });
  const x = ptlcSecret();
  const timeout = w.chain.tip + 12;
  await cosign(w, addPtlc(w.ch[0].enforceable.state, { id: x.id, offerer: 0, amount: 9_000, point: x.point, timeout }, 1));
  const idHex = bytesToHex(x.id);
  const know = new Map([[idHex, { presigs: [presig(w, 0, x.id)], secrets: [x.t] }]]);
  w.chain.mine(plan(w, 0, { force: true }).broadcasts[0]!.tx);
  w.chain.advance(w.p.csvDelay);
  w.chain.mine(plan(w, 0).broadcasts[0]!.tx);
  while (w.chain.tip + 1 <= timeout) {
    assert.equal(plan(w, 0).broadcasts, [], `no refund at ${w.chain.tip}`);
    w.chain.advance(1);
  }
  assert.equal(plan(w, 1, { ptlcs: know }).broadcasts, [], 'a claim could no longer win');
  const r = plan(w, 0).broadcasts;
  assert.equal(
    r.map((b) => b.kind),
    ['refund'],
  );
  w.chain.mine(r[0]!.tx);
  assert.equal(Number(r[0]!.tx.outputs[0]!.amount), 9_000 - w.p.fees.ptlc);
  assert.is(plan(w, 0).phase, 'resolved');
  assert.equal(plan(w, 1, { ptlcs: know }).learned, [], 'a refund reveals nothing');
});

t('the refund is refused by the chain one block earlier (the planner waits exactly as long as it must)', async () => {
  const w = await fundedPair({ csvDelay: 5 });
  const x = ptlcSecret();
  const timeout = w.chain.tip + 12;
  await cosign(w, addPtlc(w.ch[0].enforceable.state, { id: x.id, offerer: 0, amount: 9_000, point: x.point, timeout }, 1));
  w.chain.mine(plan(w, 0, { force: true }).broadcasts[0]!.tx);
  w.chain.advance(w.p.csvDelay);
  w.chain.mine(plan(w, 0).broadcasts[0]!.tx);
  w.chain.tip = timeout;
  const r = plan(w, 0).broadcasts[0]!;
  rejects(() => w.chain.model.submit(r.tx, { height: timeout, time: 0 }), 'non-final');
  w.chain.mine(r.tx);
});

t('a cooperative close spending the funding output ends the watch; a resolved PTLC state leaves no action', async () => {
  const w = await fundedPair();
  const x = ptlcSecret();
  await cosign(w, addPtlc(w.ch[0].enforceable.state, { id: x.id, offerer: 0, amount: 9_000, point: x.point, timeout: 900 }, 1));
  await cosign(w, resolvePtlc(w.ch[0].enforceable.state, x.id, 'fulfill', 2));
  assert.is(w.ch[0].enforceable.state.ptlcs.length, 0);
  // Any other spend of the funding output (a close both signed) is the end.
  const fake = { ...plan(w, 0, { force: true }).broadcasts[0]!.tx, lockTime: 0 };
  w.chain.spent.set(`${bytesToHex(requireFundingOutpoint(w.p).txid)}:0`, { tx: fake, height: 101 });
  assert.is(plan(w, 0).phase, 'closed');
  assert.equal(plan(w, 1, { force: true }).broadcasts, []);
});

t('restored from JSON the plan is the same (a restarted watchtower decides the same thing)', async () => {
  const w = await fundedPair();
  const old = clone(w.ch[0].enforceable);
  await cosign(w, transfer(w.ch[0].enforceable.state, 0, 20_000, 1));
  w.chain.mine(upd(eltooTerms(w.p), old, funding(w)));
  const again = Channel.fromJSON(JSON.parse(JSON.stringify(w.ch[1].toJSON())));
  const a = plan(w, 1).broadcasts[0]!;
  const b = plan(w, 1, { channel: again }).broadcasts[0]!;
  assert.is(bytesToHex(txid(a.tx)), bytesToHex(txid(b.tx)));
  assert.is(a.label, b.label);
});

t(
  'go on chain: a received PTLC whose secret we hold goes on chain csvDelay + margin blocks before its timeout; an offered one after its timeout; a wrong secret never',
  async () => {
    const w = await fundedPair({ csvDelay: 5 });
    const x = ptlcSecret();
    const timeout = w.chain.tip + 40;
    await cosign(w, addPtlc(w.ch[0].enforceable.state, { id: x.id, offerer: 0, amount: 9_000, point: x.point, timeout }, 1));
    const idHex = bytesToHex(x.id);
    const know = new Map([[idHex, { secrets: [x.t] }]]);
    const forged = new Map([[idHex, { secrets: [new Uint8Array(32).fill(9)] }]]);
    const receiverDeadline = timeout - w.p.csvDelay - GO_ON_CHAIN_MARGIN; // the next block's height at which B must act
    // The receiver (party 1) with the secret: nothing before the deadline, a reason from it on.
    assert.is(goOnChainReason(w.ch[1], know, receiverDeadline - 2), undefined);
    assert.match(goOnChainReason(w.ch[1], know, receiverDeadline - 1) ?? '', /claim it on chain/);
    // Without the secret, or with one that is not the PTLC's, nothing.
    assert.is(goOnChainReason(w.ch[1], new Map(), timeout), undefined);
    assert.is(goOnChainReason(w.ch[1], forged, timeout), undefined);
    // The offerer (party 0): only once the timeout passed by the margin.
    assert.is(goOnChainReason(w.ch[0], new Map(), timeout + GO_ON_CHAIN_MARGIN - 1), undefined);
    assert.match(goOnChainReason(w.ch[0], new Map(), timeout + GO_ON_CHAIN_MARGIN) ?? '', /refund it on chain/);
    // Acting at the deadline is in time: update, then the settlement after the CSV delay, then the claim before the timeout.
    w.chain.advance(receiverDeadline - 1 - w.chain.tip);
    w.chain.mine(plan(w, 1, { force: true }).broadcasts[0]!.tx);
    w.chain.advance(w.p.csvDelay);
    w.chain.mine(plan(w, 1).broadcasts[0]!.tx);
    const claim = plan(w, 1, { ptlcs: new Map([[idHex, { presigs: [presig(w, 0, x.id)], secrets: [x.t] }]]) }).broadcasts;
    assert.equal(
      claim.map((b) => b.kind),
      ['claim'],
    );
    w.chain.mine(claim[0]!.tx);
    assert.ok(w.chain.tip <= timeout, 'claimed before the timeout');
  },
);

t.run();
