import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sha256 } from '@noble/hashes/sha2.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToHex, utf8 } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import {
  SEQUENCE_LOCKTIME_ONLY,
  UPDATE_HASH_TYPE_SINGLE,
  attachFeeInput,
  buildSettlementTx,
  buildUpdateTx,
  fundingOutput,
  p2trScript,
  settlementSighash,
  signSettlement,
  signUpdate,
  signatureHash,
  txid,
  unsignedSettlementTx,
  updateOutput,
  updateSighash,
  updateStateOf,
  withWitness,
  type EltooTerms,
  type SettlementSpec,
} from '../../../engine/bitcoin/index.js';
import { ChainModel, at, keyPathOutput, outpointOf, rejects, signKeyPath, type RejectReason } from './chain-model.js';
import { throwsCode } from '../../helpers.js';

const t = suite('bitcoin/eltoo');

const sk = (label: string) => sha256(utf8(`ln-mailbox/test/eltoo/${label}`));
const skA = sk('A');
const skS = sk('S');
const pkA = schnorr.getPublicKey(skA);
const pkS = schnorr.getPublicKey(skS);
const params: EltooTerms = {
  keys: { a: pkA, b: pkS },
  fundingAmount: 1_000_000,
  updateFee: 600,
  csvDelay: 144,
  payout: { a: p2trScript(schnorr.getPublicKey(sk('A-payout'))), b: p2trScript(schnorr.getPublicKey(sk('S-payout'))) },
};
const available = params.fundingAmount - params.updateFee;

/** Settlement n: A has paid S 10_000 sats per state since state 0. */
const settlementSpec = (n: number): SettlementSpec => {
  const fee = 700;
  const a = 600_000 - n * 10_000;
  return { state: n, balances: { a, b: available - fee - a }, fee };
};

/** Both parties' signatures for update n and settlement n, as a channel would keep them. */
const signed = (n: number) => ({
  update: { a: signUpdate(params, n, skA), b: signUpdate(params, n, skS) },
  settlement: { a: signSettlement(params, settlementSpec(n), skA), b: signSettlement(params, settlementSpec(n), skS) },
});

function openChannel() {
  const chain = new ChainModel();
  const f = fundingOutput(params);
  const funding = chain.fund({ amount: f.amount, script: f.scriptPubKey }, at(100));
  return { chain, funding };
}

t('cooperative progress: states 0..3 signed, update 3 then settlement 3 after the delay', () => {
  const { chain, funding } = openChannel();
  const sigs = [0, 1, 2, 3].map(signed);
  const u3 = buildUpdateTx(params, 3, { kind: 'funding', outpoint: funding }, sigs[3]!.update);
  assert.is(updateStateOf(params, u3), 3);
  chain.submit(u3, at(101));
  const s3 = buildSettlementTx(params, settlementSpec(3), outpointOf(u3), sigs[3]!.settlement);
  rejects(() => chain.submit(s3.tx, at(101 + 143)), 'bip68', 'one block before the CSV delay');
  chain.submit(s3.tx, at(101 + 144));
  const id = txid(s3.tx);
  assert.is(chain.coin({ txid: id, vout: 0 })?.amount, 570_000n);
  assert.is(chain.coin({ txid: id, vout: 1 })?.amount, BigInt(available - 700 - 570_000));
  assert.equal(chain.coin({ txid: id, vout: 1 })?.script, params.payout.b);
});

t('A publishes an old update; S answers with the newest one, rebinding the same signatures', () => {
  const { chain, funding } = openChannel();
  const old = signed(1);
  const latest = signed(3);
  const u1 = buildUpdateTx(params, 1, { kind: 'funding', outpoint: funding }, old.update);
  chain.submit(u1, at(101));
  // S cannot settle state 1... nor does it want to: it rebinds update 3 onto update 1's output.
  const u3 = buildUpdateTx(params, 3, { kind: 'update', state: 1, outpoint: outpointOf(u1) }, latest.update);
  // The very signatures that could have spent the funding output.
  const u3funding = buildUpdateTx(params, 3, { kind: 'funding', outpoint: funding }, latest.update);
  assert.equal(u3.inputs[0]!.witness.slice(0, 2), u3funding.inputs[0]!.witness.slice(0, 2));
  assert.is.not(bytesToHex(txid(u3)), bytesToHex(txid(u3funding)), 'an update has no fixed txid');
  chain.submit(u3, at(120));
  // Settlement 1 is dead: update 1's output is gone.
  const s1 = buildSettlementTx(params, settlementSpec(1), outpointOf(u1), old.settlement);
  rejects(() => chain.submit(s1.tx, at(101 + 144)), 'missing-input');
  // A cannot go back: update 2 (or 1) on top of update 3 fails update 3's rebind CLTV (≥ state 4).
  const mid = signed(2);
  // With update 1's rebind leaf the commitment to update 3's output fails;
  // with update 3's own rebind leaf, its CLTV (state ≥ 4) does.
  const u2onU3 = buildUpdateTx(params, 2, { kind: 'update', state: 1, outpoint: outpointOf(u3) }, mid.update);
  rejects(() => chain.submit(u2onU3, at(121)), 'commitment');
  const u3leaf = updateOutput(params, 3).rebindLeaf;
  const u2forged = withWitness(u2onU3, 0, [mid.update.b, mid.update.a, u3leaf.script, u3leaf.controlBlock]);
  rejects(() => chain.submit(u2forged, at(121)), 'cltv');
  const s3 = buildSettlementTx(params, settlementSpec(3), outpointOf(u3), latest.settlement);
  rejects(() => chain.submit(s3.tx, at(120 + 143)), 'bip68');
  chain.submit(s3.tx, at(120 + 144));
});

t('the builder refuses a state going backwards (CHANNEL_INVARIANT)', () => {
  const s = signed(2);
  const o = { txid: new Uint8Array(32), vout: 0 };
  throwsCode(() => buildUpdateTx(params, 2, { kind: 'update', state: 2, outpoint: o }, s.update), ErrorCode.CHANNEL_INVARIANT);
  throwsCode(() => buildUpdateTx(params, 2, { kind: 'update', state: 5, outpoint: o }, s.update), ErrorCode.CHANNEL_INVARIANT);
});

t('settlement n cannot spend update m ≠ n', () => {
  const { chain, funding } = openChannel();
  const s2 = signed(2);
  const s3 = signed(3);
  const u3 = buildUpdateTx(params, 3, { kind: 'funding', outpoint: funding }, s3.update);
  chain.submit(u3, at(101));
  // Settlement 2, pointed at update 3: its control block is update 2's tree.
  const bad = buildSettlementTx(params, settlementSpec(2), outpointOf(u3), s2.settlement);
  rejects(() => chain.submit(bad.tx, at(300)), 'commitment');
  // Even with update 3's control block (the settle leaf is the same script),
  // the 0x41 signatures commit to update 2's scriptPubKey: they fail.
  const cb3 = updateOutput(params, 3).settleLeaf!.controlBlock;
  const w = bad.tx.inputs[0]!.witness;
  rejects(() => chain.submit(withWitness(bad.tx, 0, [w[0]!, w[1]!, w[2]!, cb3]), at(300)), 'signature');
  // Settlement 3 is fine.
  chain.submit(buildSettlementTx(params, settlementSpec(3), outpointOf(u3), s3.settlement).tx, at(300));
});

t('settlement n follows update n wherever it was rebound (stable 0x41 signatures)', () => {
  const s1 = signed(1);
  const s3 = signed(3);
  const { chain, funding } = openChannel();
  const u1 = buildUpdateTx(params, 1, { kind: 'funding', outpoint: funding }, s1.update);
  chain.submit(u1, at(101));
  const u3 = buildUpdateTx(params, 3, { kind: 'update', state: 1, outpoint: outpointOf(u1) }, s3.update);
  chain.submit(u3, at(102));
  const st = buildSettlementTx(params, settlementSpec(3), outpointOf(u3), s3.settlement);
  assert.equal(settlementSighash(params, settlementSpec(3)).length, 32);
  chain.submit(st.tx, at(102 + 144));
});

t('update signatures cannot satisfy a settle leaf (nSequence disables CSV)', () => {
  const { chain, funding } = openChannel();
  const s1 = signed(1);
  const s2 = signed(2);
  const u1 = buildUpdateTx(params, 1, { kind: 'funding', outpoint: funding }, s1.update);
  chain.submit(u1, at(101));
  // Update 2's 0xc1 signatures, put on update 1's *settle* leaf after the delay.
  const settle = updateOutput(params, 1).settleLeaf!;
  const u2 = buildUpdateTx(params, 2, { kind: 'update', state: 1, outpoint: outpointOf(u1) }, s2.update);
  const viaSettle = withWitness(u2, 0, [s2.update.b, s2.update.a, settle.script, settle.controlBlock]);
  rejects(() => chain.submit(viaSettle, at(101 + 1000)), 'csv');
  chain.submit(u2, at(101 + 1000));
});

t('fees: an update rebinding onto an older one takes a fee input (0xc1) or fee input + change (0xc3)', () => {
  const { chain, funding } = openChannel();
  const s1 = signed(1);
  const u1 = buildUpdateTx(params, 1, { kind: 'funding', outpoint: funding }, s1.update);
  chain.submit(u1, at(101));
  // Update spending funding pays updateFee; update → update pays nothing by itself.
  assert.is(BigInt(params.fundingAmount) - u1.outputs[0]!.amount, BigInt(params.updateFee));
  const feeSk = sk('S-fee-wallet');
  const feeOut = keyPathOutput(feeSk, 2_000n);
  const feeCoin = chain.fund(feeOut, at(101));
  const s3 = signed(3);
  const u3 = buildUpdateTx(params, 3, { kind: 'update', state: 1, outpoint: outpointOf(u1) }, s3.update);
  const withFee = attachFeeInput(u3, feeCoin);
  const prevouts = [
    { amount: u1.outputs[0]!.amount, scriptPubKey: u1.outputs[0]!.script },
    { amount: feeOut.amount, scriptPubKey: feeOut.script },
  ];
  // With 0xc1 a change output would break the channel signatures: refused.
  throwsCode(() => attachFeeInput(u3, feeCoin, { amount: 1_000n, script: feeOut.script }), ErrorCode.CHANNEL_INVARIANT);
  const signedFee = withWitness(withFee, 1, [signKeyPath(withFee, 1, prevouts, feeSk)]);
  rejects(() => chain.submit(withWitness(withFee, 1, []), at(102)), 'witness', 'unsigned fee input');
  // 0xc3 variant: fee input and change.
  const chain2 = new ChainModel();
  const f2 = chain2.fund({ amount: BigInt(params.fundingAmount), script: fundingOutput(params).scriptPubKey }, at(100));
  const u1b = buildUpdateTx(params, 1, { kind: 'funding', outpoint: f2 }, s1.update);
  chain2.submit(u1b, at(101));
  const feeCoin2 = chain2.fund(feeOut, at(101));
  const single = {
    a: signUpdate(params, 3, skA, undefined, UPDATE_HASH_TYPE_SINGLE),
    b: signUpdate(params, 3, skS, undefined, UPDATE_HASH_TYPE_SINGLE),
  };
  const u3s = attachFeeInput(buildUpdateTx(params, 3, { kind: 'update', state: 1, outpoint: outpointOf(u1b) }, single), feeCoin2, {
    amount: 1_500n,
    script: feeOut.script,
  });
  const prev2 = [prevouts[0]!, prevouts[1]!];
  chain2.submit(withWitness(u3s, 1, [signKeyPath(u3s, 1, prev2, feeSk)]), at(102));
  chain.submit(signedFee, at(102));
  assert.ok(updateSighash(params, 3, UPDATE_HASH_TYPE_SINGLE).length === 32);
});

t('bad witnesses are rejected', () => {
  const { chain, funding } = openChannel();
  const s = signed(1);
  const good = buildUpdateTx(params, 1, { kind: 'funding', outpoint: funding }, s.update);
  const w = good.inputs[0]!.witness;
  const flip = (b: Uint8Array, i: number) => {
    const c = b.slice();
    c[i] = c[i]! ^ 1;
    return c;
  };
  const cases: [Uint8Array[], RejectReason, string][] = [
    [[], 'witness', 'empty'],
    [[flip(w[0]!, 5), w[1]!, w[2]!, w[3]!], 'signature', 'tampered signature'],
    [[w[1]!, w[0]!, w[2]!, w[3]!], 'signature', 'signatures swapped'],
    [[new Uint8Array(0), w[1]!, w[2]!, w[3]!], 'script', 'B did not sign (CHECKSIG false)'],
    [[w[0]!, new Uint8Array(0), w[2]!, w[3]!], 'signature', 'A did not sign (CHECKSIGVERIFY)'],
    [[w[0]!.slice(0, 64), w[1]!, w[2]!, w[3]!], 'signature', '64-byte (DEFAULT) signature for an 0xc1 sighash'],
    [[flip(w[0]!, 64), w[1]!, w[2]!, w[3]!], 'signature', 'hash type byte changed to 0xc0 (undefined)'],
    [[w[0]!, w[1]!, flip(w[2]!, 3), w[3]!], 'commitment', 'script changed'],
    [[w[0]!, w[1]!, w[2]!, flip(w[3]!, 0)], 'commitment', 'control block parity'],
    [[w[0]!, w[1]!, w[2]!, w[3]!.slice(0, 32)], 'commitment', 'control block truncated'],
    [[w[0]!, w[1]!, w[2]!, new Uint8Array([...w[3]!, ...new Uint8Array(32)])], 'commitment', 'control block with a bogus path step'],
    // The extra element must not start with 0x50: a last element that does is an annex (BIP341),
    // taken off the stack and committed to by the signatures (w[0] is random: 1 in 256 did).
    [[w[0]!, w[1]!, w[2]!, w[3]!, Uint8Array.of(0x01, ...w[0]!.subarray(1))], 'commitment', 'extra element'],
    [[w[0]!, w[1]!, w[2]!, w[3]!, Uint8Array.of(0x50, 1, 2, 3)], 'signature', 'an annex the signatures do not commit to'],
    [[w[0]!, w[0]!, w[1]!, w[2]!, w[3]!], 'script', 'extra stack item (clean stack)'],
  ];
  for (const [wit, reason, what] of cases) rejects(() => chain.submit(withWitness(good, 0, wit), at(101)), reason, what);
  // Tampering with committed fields breaks the signatures.
  const seq = { ...good, inputs: [{ ...good.inputs[0]!, sequence: SEQUENCE_LOCKTIME_ONLY - 1 }] };
  rejects(() => chain.submit(seq, at(101)), 'signature', 'nSequence changed');
  const out = { ...good, outputs: [{ ...good.outputs[0]!, amount: good.outputs[0]!.amount - 1n }] };
  rejects(() => chain.submit(out, at(101)), 'signature', 'output changed');
  const value = { ...good, outputs: [{ ...good.outputs[0]!, amount: BigInt(params.fundingAmount) + 1n }] };
  rejects(() => chain.submit(value, at(101)), 'value', 'value created');
  chain.submit(good, at(101));
  rejects(() => chain.submit(good, at(102)), 'missing-input', 'double spend');
});

t('settlement tampering and replay', () => {
  const { chain, funding } = openChannel();
  const s = signed(1);
  const u1 = buildUpdateTx(params, 1, { kind: 'funding', outpoint: funding }, s.update);
  chain.submit(u1, at(101));
  const st = buildSettlementTx(params, settlementSpec(1), outpointOf(u1), s.settlement);
  // nSequence lowered to dodge the delay: the leaf's CSV refuses it...
  const early = { ...st.tx, inputs: [{ ...st.tx.inputs[0]!, sequence: 1 }] };
  rejects(() => chain.submit(early, at(103)), 'csv');
  // ...and any other nSequence breaks the signatures, which commit to it.
  const late = { ...st.tx, inputs: [{ ...st.tx.inputs[0]!, sequence: 200 }] };
  rejects(() => chain.submit(late, at(400)), 'signature');
  // Signatures made for one payout split do not fit another.
  const skewed = unsignedSettlementTx(
    params,
    { ...settlementSpec(1), balances: { a: settlementSpec(1).balances.a - 1000, b: settlementSpec(1).balances.b + 1000 } },
    outpointOf(u1),
  );
  rejects(() => chain.submit(withWitness(skewed, 0, st.tx.inputs[0]!.witness), at(300)), 'signature');
  chain.submit(st.tx, at(101 + 144));
  // The sighash is what signatures sign: recompute it from the chain's view.
  const u1out = updateOutput(params, 1);
  const h = signatureHash(st.tx, 0, [{ amount: u1out.amount, scriptPubKey: u1out.scriptPubKey }], {
    hashType: 0x41,
    keyVersion: 1,
    leafHash: u1out.settleLeaf!.leafHash,
  });
  assert.is(bytesToHex(h), bytesToHex(settlementSighash(params, settlementSpec(1))));
});

t.run();
