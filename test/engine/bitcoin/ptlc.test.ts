import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sha256 } from '@noble/hashes/sha2.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToHex, utf8 } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { adaptorPoint } from '../../../crypto/index.js';
import {
  PTLC_REFUND_HASH_TYPE,
  buildClaimTx,
  buildRefundTx,
  buildSettlementTx,
  buildUpdateTx,
  claimSighash,
  completeClaimSignature,
  extractPtlcSecret,
  fundingOutput,
  p2trScript,
  presignClaim,
  ptlcOutput,
  signClaim,
  signRefund,
  signSettlement,
  signUpdate,
  signatureHash,
  signSighash,
  unsignedRefundTx,
  verifyClaimPresignature,
  withWitness,
  type BitcoinTx,
  type EltooTerms,
  type PtlcSpec,
  type PtlcSweep,
  type SettlementSpec,
} from '../../../engine/bitcoin/index.js';
import { ChainModel, at, outpointOf, rejects } from './chain-model.js';
import { throwsCode } from '../../helpers.js';

const t = suite('bitcoin/ptlc');

const sk = (label: string) => sha256(utf8(`ln-mailbox/test/ptlc/${label}`));
const [skS, skB, skSp, skBp] = [sk('S'), sk('B'), sk('S-ptlc'), sk('B-ptlc')];
const pk = (k: Uint8Array) => schnorr.getPublicKey(k);
const params: EltooTerms = {
  keys: { a: pk(skS), b: pk(skB) },
  fundingAmount: 2_000_000,
  updateFee: 500,
  csvDelay: 144,
  payout: { a: p2trScript(pk(sk('S-payout'))), b: p2trScript(pk(sk('B-payout'))) },
};
const secret = sha256(utf8('payment secret t'));
const T = adaptorPoint(secret);
const spec: PtlcSpec = { amount: 50_000, point: T, payer: pk(skSp), payee: pk(skBp), timeout: 400 };
const claimSweep: PtlcSweep = { payout: p2trScript(pk(sk('B-wallet'))), fee: 300 };
const refundSweep: PtlcSweep = { payout: p2trScript(pk(sk('S-wallet'))), fee: 300 };
const settlement: SettlementSpec = {
  state: 1,
  balances: { a: 1_200_000, b: 2_000_000 - 500 - 1_200_000 - 50_000 - 800 },
  ptlcs: [spec],
  fee: 800,
};

const updSigs = (n: number) => ({ a: signUpdate(params, n, skS), b: signUpdate(params, n, skB) });
const setSigs = { a: signSettlement(params, settlement, skS), b: signSettlement(params, settlement, skB) };

/** Plays funding → [update 0 →] update 1 → settlement 1; returns the chain and the PTLC outpoint. */
function settle(viaOlderUpdate: boolean) {
  const chain = new ChainModel();
  const f = fundingOutput(params);
  const funding = chain.fund({ amount: f.amount, script: f.scriptPubKey }, at(100));
  let u1: BitcoinTx;
  if (viaOlderUpdate) {
    const u0 = buildUpdateTx(params, 0, { kind: 'funding', outpoint: funding }, updSigs(0));
    chain.submit(u0, at(101));
    u1 = buildUpdateTx(params, 1, { kind: 'update', state: 0, outpoint: outpointOf(u0) }, updSigs(1));
  } else u1 = buildUpdateTx(params, 1, { kind: 'funding', outpoint: funding }, updSigs(1));
  chain.submit(u1, at(102));
  const st = buildSettlementTx(params, settlement, outpointOf(u1), setSigs);
  chain.submit(st.tx, at(102 + 144));
  return { chain, settlementTx: st.tx, ptlc: outpointOf(st.tx, st.ptlcVouts[0]!) };
}

t('claim: S pre-signs to T, B completes with t, S extracts t from the chain', () => {
  // Off chain, before anything is published: S → B pre-signature, B checks it.
  const presig = presignClaim(spec, claimSweep, skSp);
  assert.ok(verifyClaimPresignature(spec, claimSweep, presig));
  assert.not.ok(verifyClaimPresignature({ ...spec, point: adaptorPoint(sha256(utf8('other'))) }, claimSweep, presig), 'other T');
  assert.not.ok(verifyClaimPresignature(spec, { ...claimSweep, fee: 301 }, presig), 'other claim tx');
  const { chain, ptlc } = settle(false);
  assert.is(chain.coin(ptlc)?.amount, 50_000n);
  const payer = completeClaimSignature(presig, secret);
  const payee = signClaim(spec, claimSweep, skBp);
  const claim = buildClaimTx(spec, claimSweep, ptlc, { payer, payee });
  chain.submit(claim, at(250));
  // S sees the claim on chain and learns t.
  assert.is(bytesToHex(extractPtlcSecret(spec, claim, presig)), bytesToHex(secret));
  assert.is(chain.coin(outpointOf(claim))?.amount, 50_000n - 300n);
});

t('claim signatures survive the settlement being rebound (its txid changes, 0x41 does not care)', () => {
  const a = settle(false);
  const b = settle(true);
  assert.is.not(bytesToHex(a.ptlc.txid), bytesToHex(b.ptlc.txid), 'two different settlement txids');
  const presig = presignClaim(spec, claimSweep, skSp);
  const sigs = { payer: completeClaimSignature(presig, secret), payee: signClaim(spec, claimSweep, skBp) };
  a.chain.submit(buildClaimTx(spec, claimSweep, a.ptlc, sigs), at(250));
  b.chain.submit(buildClaimTx(spec, claimSweep, b.ptlc, sigs), at(250));
});

t('no t, no claim: a wrong secret or the raw pre-signature does not verify', () => {
  const presig = presignClaim(spec, claimSweep, skSp);
  const payee = signClaim(spec, claimSweep, skBp);
  const wrong = completeClaimSignature(presig, sha256(utf8('guess')));
  throwsCode(
    () => buildClaimTx(spec, claimSweep, { txid: new Uint8Array(32), vout: 2 }, { payer: wrong, payee }),
    ErrorCode.INVALID_SIGNATURE,
  );
  const { chain, ptlc } = settle(false);
  const good = buildClaimTx(spec, claimSweep, ptlc, { payer: completeClaimSignature(presig, secret), payee });
  const w = good.inputs[0]!.witness;
  rejects(() => chain.submit(withWitness(good, 0, [w[0]!, wrong, w[2]!, w[3]!]), at(250)), 'signature', 'wrong t');
  // The pre-signature's s' with x(R') is not a signature either.
  const raw = new Uint8Array([...presig.slice(1, 33), ...presig.slice(33), 0x41]);
  rejects(() => chain.submit(withWitness(good, 0, [w[0]!, raw, w[2]!, w[3]!]), at(250)), 'signature', 'unadapted');
  // B alone cannot claim.
  rejects(() => chain.submit(withWitness(good, 0, [w[0]!, new Uint8Array(0), w[2]!, w[3]!]), at(250)), 'signature', 'no payer sig');
  chain.submit(good, at(250));
});

t('claim signatures cannot be replayed onto a PTLC with another payment point', () => {
  const other: PtlcSpec = { ...spec, point: adaptorPoint(sha256(utf8('second payment'))) };
  assert.is.not(bytesToHex(ptlcOutput(other).scriptPubKey), bytesToHex(ptlcOutput(spec).scriptPubKey), 'T is in the scriptPubKey');
  assert.is(bytesToHex(ptlcOutput(other).claimLeaf.script), bytesToHex(ptlcOutput(spec).claimLeaf.script), 'same leaf script');
  const chain = new ChainModel();
  const o2 = ptlcOutput(other);
  const coin = chain.fund({ amount: o2.amount, script: o2.scriptPubKey }, at(100));
  const presig = presignClaim(spec, claimSweep, skSp);
  const claim = buildClaimTx(spec, claimSweep, coin, {
    payer: completeClaimSignature(presig, secret),
    payee: signClaim(spec, claimSweep, skBp),
  });
  rejects(() => chain.submit(claim, at(101)), 'commitment', 'first PTLC control block');
  const w = claim.inputs[0]!.witness;
  rejects(
    () => chain.submit(withWitness(claim, 0, [w[0]!, w[1]!, w[2]!, o2.claimLeaf.controlBlock]), at(101)),
    'signature',
    'second PTLC control block',
  );
});

t('refund: only S, only after the timeout', () => {
  const { chain, ptlc } = settle(false);
  const sig = signRefund(spec, refundSweep, ptlc, skSp);
  assert.is(sig.length, 64, 'SIGHASH_DEFAULT');
  const refund = buildRefundTx(spec, refundSweep, ptlc, sig);
  assert.is(refund.lockTime, spec.timeout);
  rejects(() => chain.submit(refund, at(spec.timeout)), 'non-final', 'at the timeout height');
  // Signing an earlier nLockTime does not help: the leaf's CLTV refuses it.
  const early = { ...unsignedRefundTx(spec, refundSweep, ptlc), lockTime: spec.timeout - 1 };
  const out = ptlcOutput(spec);
  const h = signatureHash(early, 0, [{ amount: out.amount, scriptPubKey: out.scriptPubKey }], {
    hashType: PTLC_REFUND_HASH_TYPE,
    keyVersion: 0,
    leafHash: out.refundLeaf.leafHash,
  });
  const earlySigned = withWitness(early, 0, [signSighash(h, skSp, 0, 0), out.refundLeaf.script, out.refundLeaf.controlBlock]);
  rejects(() => chain.submit(earlySigned, at(spec.timeout)), 'cltv');
  // B's key does not open the refund leaf.
  const hB = signatureHash(refund, 0, [{ amount: out.amount, scriptPubKey: out.scriptPubKey }], {
    hashType: 0,
    keyVersion: 0,
    leafHash: out.refundLeaf.leafHash,
  });
  rejects(
    () => chain.submit(withWitness(refund, 0, [signSighash(hB, skBp, 0, 0), ...refund.inputs[0]!.witness.slice(1)]), at(spec.timeout + 1)),
    'signature',
  );
  throwsCode(() => buildRefundTx(spec, refundSweep, ptlc, signSighash(hB, skBp, 0, 0)), ErrorCode.INVALID_SIGNATURE);
  chain.submit(refund, at(spec.timeout + 1));
  assert.not.ok(chain.isUnspent(ptlc));
});

t('claim and refund race for one output: the first one wins', () => {
  const { chain, ptlc } = settle(false);
  const presig = presignClaim(spec, claimSweep, skSp);
  const claim = buildClaimTx(spec, claimSweep, ptlc, {
    payer: completeClaimSignature(presig, secret),
    payee: signClaim(spec, claimSweep, skBp),
  });
  const refund = buildRefundTx(spec, refundSweep, ptlc, signRefund(spec, refundSweep, ptlc, skSp));
  chain.submit(refund, at(spec.timeout + 1));
  rejects(() => chain.submit(claim, at(spec.timeout + 2)), 'missing-input');
});

t('PTLC inputs are validated', () => {
  throwsCode(() => ptlcOutput({ ...spec, point: T.slice(0, 32) }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => ptlcOutput({ ...spec, point: new Uint8Array([2, ...new Uint8Array(32).fill(0xff)]) }), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => ptlcOutput({ ...spec, point: new Uint8Array([4, ...T.slice(1)]) }), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => ptlcOutput({ ...spec, payer: spec.payee }), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => ptlcOutput({ ...spec, payee: new Uint8Array(33) }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => ptlcOutput({ ...spec, timeout: 500_000_000 }), ErrorCode.INVALID_RANGE);
  throwsCode(() => ptlcOutput({ ...spec, timeout: 0 }), ErrorCode.INVALID_RANGE);
  throwsCode(() => ptlcOutput({ ...spec, amount: 100 }), ErrorCode.CHANNEL_INVARIANT);
  throwsCode(() => ptlcOutput({ ...spec, amount: -1 }), ErrorCode.INVALID_RANGE);
  throwsCode(() => claimSighash(spec, { ...claimSweep, fee: 60_000 }), ErrorCode.CHANNEL_INVARIANT);
  throwsCode(() => claimSighash(spec, { ...claimSweep, fee: 49_900 }), ErrorCode.CHANNEL_INVARIANT, 'dust claim output');
  throwsCode(() => claimSighash(spec, { ...claimSweep, payout: new Uint8Array(0) }), ErrorCode.INVALID_LENGTH);
  throwsCode(
    () =>
      extractPtlcSecret(
        spec,
        unsignedRefundTx(spec, refundSweep, { txid: new Uint8Array(32), vout: 0 }),
        presignClaim(spec, claimSweep, skSp),
      ),
    ErrorCode.TX_INVALID,
  );
  // A PTLC reusing a channel key would let an 0xc1 update signature fit its claim leaf.
  throwsCode(
    () =>
      buildSettlementTx(
        params,
        { ...settlement, ptlcs: [{ ...spec, payer: params.keys.a }] },
        { txid: new Uint8Array(32), vout: 0 },
        setSigs,
      ),
    ErrorCode.CHANNEL_INVARIANT,
  );
});

t.run();
