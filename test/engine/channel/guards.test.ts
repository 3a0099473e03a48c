/**
 * Channel guards a peer's message cannot reach through the engines (they
 * check first), asserted directly: every refusal is a typed error, never an
 * exception from deeper code, and the parameter and amount checks hold at
 * their boundaries.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../../base/errors.js';
import { Channel } from '../../../engine/channel/channel.js';
import { openChannelPair } from '../../../engine/channel/open.js';
import { assertClosable, signClose } from '../../../engine/channel/close.js';
import { ptlcOf } from '../../../engine/channel/onchain.js';
import { adaptorPoint } from '../../../crypto/adaptor.js';
import { DUST_LIMIT, LOCKTIME_THRESHOLD, MAX_MONEY } from '../../../engine/bitcoin/transaction.js';
import {
  MAX_CHANNEL_STATE,
  MAX_PAYOUT_SCRIPT,
  addPtlc,
  checkPayoutScript,
  checkState,
  fundingOutpoint,
  requireFundingOutpoint,
  setFundingOutpoint,
  transfer,
  validateParams,
  type ChannelParams,
} from '../../../engine/channel/state.js';
import { MAX_STATE } from '../../../engine/bitcoin/script.js';
import { channelParams, party } from '../payment/fixture.js';
import { rejectsCode, throwsCode } from '../../helpers.js';

const t = suite('channel/guards');
const A = party('http://127.0.0.1:1'),
  B = party('http://127.0.0.1:1');
const base = () => channelParams(A.chPk, B.chPk);
const withP = (over: Partial<ChannelParams>) => ({ ...base(), ...over });

t('channel parameters: funding output index and CSV delay at and beyond their bounds', () => {
  for (const vout of [0, 0xffffffff]) validateParams(withP({ funding: { ...base().funding, vout } }));
  for (const vout of [-1, 0x1_0000_0000, 1.5])
    throwsCode(() => validateParams(withP({ funding: { ...base().funding, vout } })), ErrorCode.INVALID_RANGE);
  for (const csvDelay of [1, 0xffff]) validateParams(withP({ csvDelay }));
  for (const csvDelay of [0, 0x1_0000]) throwsCode(() => validateParams(withP({ csvDelay })), ErrorCode.INVALID_RANGE);
  // The funding must leave something once the update and settlement fees are paid.
  validateParams(withP({ funding: { ...base().funding, amount: 1_001 } }));
  throwsCode(() => validateParams(withP({ funding: { ...base().funding, amount: 1_000 } })), ErrorCode.CHANNEL_INVARIANT);
});

t('amounts: zero and 21e14 sats are amounts, -1 and 21e14 + 1 are not', () => {
  const p = withP({ funding: { ...base().funding, amount: MAX_MONEY }, fees: { update: 0, settlement: 0, ptlc: 0 } });
  checkState(p, { n: 1, balances: [0, MAX_MONEY], ptlcs: [] });
  throwsCode(() => checkState(p, { n: 1, balances: [-1, MAX_MONEY + 1], ptlcs: [] }), ErrorCode.INVALID_RANGE);
  throwsCode(() => validateParams(withP({ funding: { ...base().funding, amount: MAX_MONEY + 1 } })), ErrorCode.INVALID_RANGE);
});

t('states: state numbers and PTLC fields at their bounds', () => {
  const p = base();
  const cap = p.funding.amount - p.fees.update - p.fees.settlement;
  const ptlc = (over: object) => ({
    id: new Uint8Array(32).fill(1),
    offerer: 0 as const,
    amount: 10_000,
    point: adaptorPoint(new Uint8Array(32).fill(2)),
    timeout: 800_100,
    ...over,
  });
  const state = (n: number, x?: object) => {
    const ptlcs = x ? [ptlc(x)] : [];
    const held = ptlcs.reduce((a, y) => a + y.amount, 0);
    return { n, balances: [cap - held - 1_000, 1_000] as [number, number], ptlcs };
  };
  assert.is(MAX_CHANNEL_STATE, 499_999_998, 'SPEC 6.5: n < 499 999 999');
  assert.ok(MAX_CHANNEL_STATE <= MAX_STATE, 'every channel state has an update transaction');
  for (const n of [0, MAX_CHANNEL_STATE]) checkState(p, state(n));
  for (const n of [-1, MAX_CHANNEL_STATE + 1, 0.5]) throwsCode(() => checkState(p, state(n)), ErrorCode.INVALID_RANGE);
  checkState(p, state(1, { amount: DUST_LIMIT + p.fees.ptlc }));
  throwsCode(() => checkState(p, state(1, { amount: DUST_LIMIT + p.fees.ptlc - 1 })), ErrorCode.CHANNEL_INVARIANT);
  for (const timeout of [1, LOCKTIME_THRESHOLD - 1]) checkState(p, state(1, { timeout }));
  for (const timeout of [0, LOCKTIME_THRESHOLD]) throwsCode(() => checkState(p, state(1, { timeout })), ErrorCode.CHANNEL_INVARIANT);
  throwsCode(() => checkState(p, state(1, { offerer: 2 })), ErrorCode.CHANNEL_INVARIANT);
});

t('a transfer or a PTLC may take a whole balance, never more', () => {
  const s = { n: 0, balances: [5_000, 7_000] as [number, number], ptlcs: [] };
  assert.equal(transfer(s, 0, 5_000, 1).balances, [0, 12_000]);
  throwsCode(() => transfer(s, 0, 5_001, 1), ErrorCode.CHANNEL_INVARIANT);
  const x = {
    id: new Uint8Array(32).fill(1),
    offerer: 1 as const,
    amount: 7_000,
    point: adaptorPoint(new Uint8Array(32).fill(2)),
    timeout: 800_100,
  };
  assert.equal(addPtlc(s, x, 1).balances, [5_000, 0]);
  throwsCode(() => addPtlc(s, { ...x, amount: 7_001 }, 1), ErrorCode.CHANNEL_INVARIANT);
});

t('a channel view is party 0 or 1', async () => {
  const [a] = await openChannelPair(base(), [600_000, 399_000], A.chSk, B.chSk, A.nonces, B.nonces);
  throwsCode(() => new Channel(a.params, 2 as 0, a.enforceable), ErrorCode.INVALID_RANGE);
});

t("without a pending state, or before the peer's nonce, every step is a typed CHANNEL_INVARIANT refusal", async () => {
  const [a] = await openChannelPair(base(), [600_000, 399_000], A.chSk, B.chSk, A.nonces, B.nonces);
  const sig = new Uint8Array(65);
  throwsCode(() => a.requirePending(), ErrorCode.CHANNEL_INVARIANT);
  throwsCode(() => a.receiveUpdateSig(sig), ErrorCode.CHANNEL_INVARIANT);
  throwsCode(() => a.updatePoint(1), ErrorCode.CHANNEL_INVARIANT);
  a.propose({ n: 1, balances: [590_000, 409_000], ptlcs: [] });
  throwsCode(() => a.requirePending(2), ErrorCode.CHANNEL_INVARIANT);
  throwsCode(() => a.updatePoint(1), ErrorCode.CHANNEL_INVARIANT, 'no committed nonce of the peer yet');
  throwsCode(() => a.receiveUpdateSig(sig), ErrorCode.CHANNEL_INVARIANT, 'no committed nonce of the peer yet');
  throwsCode(() => a.expectPending({ n: 1, balances: [589_000, 410_000], ptlcs: [] }), ErrorCode.CHANNEL_INVARIANT);
  assert.is(a.pending!.state.n, 1);
});

/** Both views of a fresh channel with state 1 pending at both and both settlement signatures held. */
async function settledProposal() {
  const [a, b] = await openChannelPair(base(), [600_000, 399_000], A.chSk, B.chSk, A.nonces, B.nonces);
  const next = { n: 1, balances: [590_000, 409_000] as [number, number], ptlcs: [] };
  a.propose(next);
  b.propose(next);
  const sa = a.signSettlement(A.chSk);
  a.receiveSettlementSig(b.signSettlement(B.chSk));
  b.receiveSettlementSig(sa);
  return { a, b };
}

t('one nonce per update: no pre-signature once a nonce is committed, and no signature from a nonce never committed', async () => {
  const T = adaptorPoint(new Uint8Array(32).fill(9));
  {
    // A committed nonce, then a pre-signature of the same update with another nonce: refused, the committed one kept.
    const { a } = await settledProposal();
    const R = await a.commitUpdateNonce(A.nonces, A.chSk);
    throwsCode(() => a.presignUpdate(A.chSk, T), ErrorCode.CHANNEL_INVARIANT);
    assert.equal(a.pending!.updateNonces[0], R, 'the committed nonce is still the one the peer was given');
  }
  {
    // A pre-signature (its nonce lives only in the adaptor signature), then a plain signature: refused, as
    // a channel invariant, before anything reaches the nonce store.
    const { a } = await settledProposal();
    a.presignUpdate(A.chSk, T);
    await rejectsCode(a.signUpdate(A.nonces, A.chSk), ErrorCode.CHANNEL_INVARIANT);
    assert.is(a.pending!.updateSigs[0], null, 'nothing signed');
  }
});

t(
  'a cooperative close names our latest state, and one close at a time: a peer signature for an older close does not mix with ours',
  async () => {
    const { a, b } = await settledProposal();
    // The peer signs a close of state 0 while state 1 is still being negotiated; we keep its signature.
    a.receiveCoopCloseSig(0, signClose(b.params, b.enforceable.state, B.chSk));
    assert.is(a.coopClose?.n, 0);
    // State 1 completes on both sides.
    b.receiveUpdateNonce(await a.commitUpdateNonce(A.nonces, A.chSk));
    a.receiveUpdateNonce(await b.commitUpdateNonce(B.nonces, B.chSk));
    const ua = await a.signUpdate(A.nonces, A.chSk);
    a.receiveUpdateSig(await b.signUpdate(B.nonces, B.chSk));
    b.receiveUpdateSig(ua);
    assert.is(a.enforceable.state.n, 1);
    // A close must name our latest state (the peer's view, with no close under way).
    throwsCode(() => b.signCoopClose(5, B.chSk), ErrorCode.CHANNEL_INVARIANT);
    throwsCode(() => b.signCoopClose(0, B.chSk), ErrorCode.CHANNEL_INVARIANT);
    assert.is(b.coopClose, undefined, 'the peer signed no close of a state that is not its latest');
    // The close of state 0 under way is not completed with signatures for state 1, ours or the peer's:
    // the close would carry one signature for each state and spend nothing.
    throwsCode(() => a.signCoopClose(1, A.chSk), ErrorCode.CHANNEL_INVARIANT);
    throwsCode(() => a.receiveCoopCloseSig(1, signClose(b.params, b.enforceable.state, B.chSk)), ErrorCode.CHANNEL_INVARIANT);
    assert.equal(a.coopClose?.n, 0);
    assert.is(a.coopClose?.sigs[0], null, 'we signed no close');
    assert.is(a.coopCloseTx(), undefined);
  },
);

t('a cooperative close pays no dust: a balance of 1 to DUST_LIMIT − 1 sats is refused, zero and DUST_LIMIT are paid', () => {
  const state = (a: number, b: number) => ({ n: 3, balances: [a, b] as [number, number], ptlcs: [] });
  for (const b of [1, DUST_LIMIT - 1]) {
    throwsCode(() => assertClosable(state(1_000_000 - b, b)), ErrorCode.CHANNEL_INVARIANT);
    throwsCode(() => assertClosable(state(b, 1_000_000 - b)), ErrorCode.CHANNEL_INVARIANT);
  }
  for (const b of [0, DUST_LIMIT]) {
    assertClosable(state(1_000_000 - b, b));
    assertClosable(state(b, 1_000_000 - b));
  }
  const withPtlc = {
    ...state(500_000, 490_000),
    ptlcs: [
      {
        id: new Uint8Array(32).fill(1),
        amount: 10_000,
        point: adaptorPoint(new Uint8Array(32).fill(2)),
        timeout: 800,
        offerer: 0 as const,
      },
    ],
  };
  throwsCode(() => assertClosable(withPtlc), ErrorCode.CHANNEL_INVARIANT);
});

t('the on-chain form of a PTLC the state does not hold is a typed error (CHANNEL_INVARIANT), not a crash', () => {
  const p = base();
  const ptlc = {
    id: new Uint8Array(32).fill(1),
    amount: 10_000,
    point: adaptorPoint(new Uint8Array(32).fill(2)),
    timeout: 800,
    offerer: 0 as const,
  };
  const s = addPtlc({ n: 0, balances: [600_000, 399_000], ptlcs: [] }, ptlc, 1);
  assert.ok(ptlcOf(p, s, new Uint8Array(32).fill(1)).spec);
  throwsCode(() => ptlcOf(p, s, new Uint8Array(32).fill(9)), ErrorCode.CHANNEL_INVARIANT);
});

t('a payout script of 1 and of MAX_PAYOUT_SCRIPT bytes is taken; 0 and MAX_PAYOUT_SCRIPT + 1 are INVALID_LENGTH', () => {
  for (const n of [1, MAX_PAYOUT_SCRIPT]) assert.is(checkPayoutScript(new Uint8Array(n).fill(0x51)).length, n);
  for (const n of [0, MAX_PAYOUT_SCRIPT + 1]) throwsCode(() => checkPayoutScript(new Uint8Array(n)), ErrorCode.INVALID_LENGTH);
});

t('the funding outpoint is set once, to a valid outpoint: another one later is CHANNEL_INVARIANT, a bad vout a typed error', () => {
  const unfunded = (): ChannelParams => ({ ...base(), funding: { amount: base().funding.amount } });
  const p = unfunded();
  throwsCode(() => requireFundingOutpoint(p), ErrorCode.CHANNEL_INVARIANT);
  assert.is(fundingOutpoint(p), undefined);
  for (const vout of [-1, 1.5, 2 ** 32, Number.NaN]) assert.throws(() => setFundingOutpoint(unfunded(), new Uint8Array(32).fill(7), vout));
  throwsCode(() => setFundingOutpoint(unfunded(), new Uint8Array(31), 0), ErrorCode.INVALID_LENGTH);
  setFundingOutpoint(p, new Uint8Array(32).fill(7), 1);
  setFundingOutpoint(p, new Uint8Array(32).fill(7), 1); // the same again changes nothing
  throwsCode(() => setFundingOutpoint(p, new Uint8Array(32).fill(8), 1), ErrorCode.CHANNEL_INVARIANT);
  throwsCode(() => setFundingOutpoint(p, new Uint8Array(32).fill(7), 0), ErrorCode.CHANNEL_INVARIANT);
  assert.equal(requireFundingOutpoint(p), { txid: new Uint8Array(32).fill(7), vout: 1 });
});

t.run();
