/**
 * engine/channel/onchain.ts: the eltoo terms a channel's parameters map to,
 * and the number → bigint boundary of channel amounts (SPEC 7.1: amounts in
 * [0, 21·10^14], carried exactly up to MAX_MONEY).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8 } from '../../../base/bytes.js';
import { adaptorPoint, getPublicKey } from '../../../crypto/index.js';
import { p2tr } from '@scure/btc-signer';
import { UPDATE_HASH_TYPE_SINGLE, updateSighash as eltooUpdateSighash, unsignedSettlementTx } from '../../../engine/bitcoin/eltoo.js';
import { MAX_MONEY } from '../../../engine/bitcoin/transaction.js';
import {
  CHANNEL_UPDATE_HASH_TYPE,
  eltooTerms,
  payoutScript,
  ptlcPublicKey,
  settlementSpec,
  statePublicKey,
  updateSighash,
} from '../../../engine/channel/onchain.js';
import { checkState, type ChannelParams, type ChannelState } from '../../../engine/channel/state.js';

const t = suite('channel/onchain');
const sk = (s: string) => sha256(utf8(`ln-mailbox/test/onchain/${s}`));
const P0 = getPublicKey(sk('0'));
const P1 = getPublicKey(sk('1'));
const params = (over: Partial<ChannelParams> = {}): ChannelParams => ({
  channelId: sk('channel'),
  funding: { txid: sk('funding'), vout: 0, amount: 1_000_000 },
  keys: [P0, P1],
  csvDelay: 144,
  fees: { update: 500, settlement: 700, ptlc: 300 },
  ...over,
});

t('eltooTerms: the state keys in the scripts, the payout scripts of the channel keys, the amounts as they are', () => {
  const p = params();
  const e = eltooTerms(p);
  assert.is(bytesToHex(e.keys.a), bytesToHex(statePublicKey(p, P0)));
  assert.is(bytesToHex(e.keys.b), bytesToHex(statePublicKey(p, P1)));
  assert.not.ok(bytesToHex(e.keys.a) === bytesToHex(P0), 'the channel key never signs directly');
  assert.not.ok(bytesToHex(e.keys.a) === bytesToHex(ptlcPublicKey(p, P0)), 'state key and PTLC key differ');
  // Key-path-only P2TR of the channel key (BIP341 tweak with no scripts), as btc-signer builds it.
  assert.is(bytesToHex(e.payout.a), bytesToHex(p2tr(P0).script));
  assert.is(bytesToHex(e.payout.b), bytesToHex(p2tr(P1).script));
  assert.equal([e.fundingAmount, e.updateFee, e.csvDelay], [1_000_000, 500, 144]);
});

t('payoutScript hands out copies: a caller mutating one cannot corrupt the next channel', () => {
  const first = payoutScript(P0);
  const want = bytesToHex(first);
  first.fill(0);
  assert.is(bytesToHex(payoutScript(P0)), want);
  const k = statePublicKey(params(), P0);
  k.fill(0);
  assert.is(bytesToHex(eltooTerms(params()).keys.a), bytesToHex(statePublicKey(params(), P0)));
  assert.not.ok(eltooTerms(params()).keys.a.every((x) => x === 0));
});

t('update sighashes are bound to the channel id through the state keys', () => {
  const s: ChannelState = { n: 3, balances: [499_000, 500_000 - 1_200], ptlcs: [] };
  const a = updateSighash(params(), s);
  const b = updateSighash(params({ channelId: sk('other channel') }), s);
  assert.not.ok(bytesToHex(a) === bytesToHex(b));
  assert.is(bytesToHex(a), bytesToHex(eltooUpdateSighash(eltooTerms(params()), 3, UPDATE_HASH_TYPE_SINGLE)));
  assert.is(CHANNEL_UPDATE_HASH_TYPE, 0xc3, 'channel updates are signed ANYPREVOUTANYSCRIPT|SINGLE (SPEC 7.4)');
});

t('amounts up to MAX_MONEY reach the settlement outputs exactly (number sats → bigint output values)', () => {
  const p = params({ funding: { txid: sk('funding'), vout: 0, amount: MAX_MONEY } });
  const cap = MAX_MONEY - 500 - 700;
  const ptlc = { id: sk('ptlc'), offerer: 0 as const, amount: 123_456_789, point: adaptorPoint(sk('t')), timeout: 800_000 };
  const b0 = 1_999_999_999_999_999; // odd and above 2^50: any float rounding would show
  const s: ChannelState = { n: 1, balances: [b0, cap - b0 - ptlc.amount], ptlcs: [ptlc] };
  checkState(p, s);
  const tx = unsignedSettlementTx(eltooTerms(p), settlementSpec(p, s));
  assert.equal(
    tx.outputs.map((o) => o.amount),
    [BigInt(b0), BigInt(cap - b0 - ptlc.amount), 123_456_789n],
  );
  assert.is(tx.outputs.reduce((x, o) => x + o.amount, 0n) + 700n + 500n, BigInt(MAX_MONEY));
});

t.run();
