/**
 * Generator of `protocol/vectors/eltoo.json` (SPEC §7, `protocol/spec/payment.md`): fully signed eltoo
 * and PTLC transaction inputs from one deterministic channel history, built
 * with the real `engine/bitcoin` code. Pure: fixed keys, fixed aux randomness,
 * a synthetic funding outpoint. `test/engine/bitcoin/vectors.test.ts` regenerates the
 * file and compares it byte for byte.
 *
 * Rewrite the file after an intended change:
 *   node --import tsx test/engine/bitcoin/eltoo-vectors.ts --write
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8 } from '../../../base/bytes.js';
import { adaptorPoint } from '../../../crypto/index.js';
import {
  PTLC_CLAIM_HASH_TYPE,
  PTLC_REFUND_HASH_TYPE,
  SETTLEMENT_HASH_TYPE,
  UPDATE_HASH_TYPE,
  UPDATE_HASH_TYPE_SINGLE,
  attachFeeInput,
  buildClaimTx,
  buildRefundTx,
  buildSettlementTx,
  buildUpdateTx,
  claimSighash,
  completeClaimSignature,
  fundingOutput,
  p2trScript,
  presignClaim,
  ptlcOutput,
  refundSighash,
  serializeTx,
  settlementSighash,
  signClaim,
  signRefund,
  signSettlement,
  signUpdate,
  txid,
  updateOutput,
  updateSighash,
  type BitcoinTx,
  type EltooTerms,
  type Prevout,
  type PtlcSpec,
  type SettlementSpec,
  type TapLeafInfo,
} from '../../../engine/bitcoin/index.js';

/** One fully signed transaction input, as published in eltoo.json. */
export interface EltooVector {
  description: string;
  tx: string;
  inputIndex: number;
  prevout: { amount: string; scriptPubKey: string };
  leafScript: string;
  controlBlock: string;
  hashType: number;
  keyVersion: 0 | 1;
  sighash: string;
  signatures: { pubkey: string; signature: string }[];
  /** Only on the PTLC claim: the adaptor data S and B exchanged. */
  adaptor?: { point: string; presignature: string; secret: string; signer: string };
}

const label = (s: string) => sha256(utf8(`ln-mailbox/v1/vectors/eltoo/${s}`));
/** Fixed 32-byte aux randomness per signature, so the file is reproducible. */
const aux = (s: string) => label(`aux/${s}`);

/** The fixed keys of the vectors (secret keys are derived from labels; never use them for funds). */
export const vectorKeys = {
  S: label('key/S'),
  B: label('key/B'),
  Sptlc: label('key/S-ptlc'),
  Bptlc: label('key/B-ptlc'),
  fee: label('key/S-fee'),
};
const pk = (sk: Uint8Array) => schnorr.getPublicKey(sk);

/** The channel of the vectors: an S–B channel (a = S, b = B). */
export const vectorParams: EltooTerms = {
  keys: { a: pk(vectorKeys.S), b: pk(vectorKeys.B) },
  fundingAmount: 1_000_000,
  updateFee: 1_000,
  csvDelay: 144,
  payout: { a: p2trScript(pk(label('payout/S'))), b: p2trScript(pk(label('payout/B'))) },
};
const secret = label('ptlc/secret');
/** The PTLC of settlement 3: S pays B 50,000 sats against t. */
export const vectorPtlc: PtlcSpec = {
  amount: 50_000,
  point: adaptorPoint(secret),
  payer: pk(vectorKeys.Sptlc),
  payee: pk(vectorKeys.Bptlc),
  timeout: 800_000,
};
const settlement3: SettlementSpec = { state: 3, balances: { a: 600_000, b: 348_000 }, ptlcs: [vectorPtlc], fee: 1_000 };
const claimSweep = { payout: p2trScript(pk(label('wallet/B'))), fee: 500 };
const refundSweep = { payout: p2trScript(pk(label('wallet/S'))), fee: 500 };
export const vectorFundingOutpoint = { txid: label('funding-txid'), vout: 0 };

function item(
  description: string,
  tx: BitcoinTx,
  inputIndex: number,
  prevout: Prevout,
  leaf: TapLeafInfo,
  hashType: number,
  keyVersion: 0 | 1,
  sighash: Uint8Array,
  signers: { pubkey: Uint8Array; signature: Uint8Array }[],
): EltooVector {
  return {
    description,
    tx: bytesToHex(serializeTx(tx)),
    inputIndex,
    prevout: { amount: prevout.amount.toString(), scriptPubKey: bytesToHex(prevout.scriptPubKey) },
    leafScript: bytesToHex(leaf.script),
    controlBlock: bytesToHex(leaf.controlBlock),
    hashType,
    keyVersion,
    sighash: bytesToHex(sighash),
    signatures: signers.map((s) => ({ pubkey: bytesToHex(s.pubkey), signature: bytesToHex(s.signature) })),
  };
}

/** Builds every vector item from the fixed channel history. */
export function generateEltooVectors(): EltooVector[] {
  const p = vectorParams;
  const { S, B } = vectorKeys;
  const funding = fundingOutput(p);
  const fundingPrev = { amount: funding.amount, scriptPubKey: funding.scriptPubKey };
  const upd = (n: number, ht = UPDATE_HASH_TYPE) => ({
    a: signUpdate(p, n, S, aux(`update/${n}/${ht}/S`), ht),
    b: signUpdate(p, n, B, aux(`update/${n}/${ht}/B`), ht),
  });
  const sigList = (s: { a: Uint8Array; b: Uint8Array }) => [
    { pubkey: p.keys.a, signature: s.a },
    { pubkey: p.keys.b, signature: s.b },
  ];
  const items: EltooVector[] = [];

  const u1sigs = upd(1);
  const u1 = buildUpdateTx(p, 1, { kind: 'funding', outpoint: vectorFundingOutpoint }, u1sigs);
  items.push(
    item(
      'update 1 spending the funding output through rebind(0); SIGHASH_ANYPREVOUTANYSCRIPT|ALL',
      u1,
      0,
      fundingPrev,
      funding.rebindLeaf,
      UPDATE_HASH_TYPE,
      1,
      updateSighash(p, 1),
      sigList(u1sigs),
    ),
  );

  const u1out = updateOutput(p, 1);
  const u1prev = { amount: u1out.amount, scriptPubKey: u1out.scriptPubKey };
  const u3sigs = upd(3);
  const u3 = buildUpdateTx(p, 3, { kind: 'update', state: 1, outpoint: { txid: txid(u1), vout: 0 } }, u3sigs);
  items.push(
    item(
      "update 3 spending update 1's output through rebind(2); the same signatures would spend the funding output",
      u3,
      0,
      u1prev,
      u1out.rebindLeaf,
      UPDATE_HASH_TYPE,
      1,
      updateSighash(p, 3),
      sigList(u3sigs),
    ),
  );

  const u3single = upd(3, UPDATE_HASH_TYPE_SINGLE);
  const feeOut = { txid: label('fee-txid'), vout: 1 };
  const u3fee = attachFeeInput(buildUpdateTx(p, 3, { kind: 'update', state: 1, outpoint: { txid: txid(u1), vout: 0 } }, u3single), feeOut, {
    amount: 4_000n,
    script: p2trScript(pk(vectorKeys.fee)),
  });
  items.push(
    item(
      'update 3 signed SIGHASH_ANYPREVOUTANYSCRIPT|SINGLE spending update 1, with a fee input (1, unsigned here) and a change output appended',
      u3fee,
      0,
      u1prev,
      u1out.rebindLeaf,
      UPDATE_HASH_TYPE_SINGLE,
      1,
      updateSighash(p, 3, UPDATE_HASH_TYPE_SINGLE),
      sigList(u3single),
    ),
  );

  const u3out = updateOutput(p, 3);
  const u3prev = { amount: u3out.amount, scriptPubKey: u3out.scriptPubKey };
  const s3sigs = {
    a: signSettlement(p, settlement3, S, aux('settlement/3/S')),
    b: signSettlement(p, settlement3, B, aux('settlement/3/B')),
  };
  const s3 = buildSettlementTx(p, settlement3, { txid: txid(u3), vout: 0 }, s3sigs);
  items.push(
    item(
      'settlement 3 spending update 3 through settle(144), nSequence 144; balances and one PTLC; SIGHASH_ANYPREVOUT|ALL',
      s3.tx,
      0,
      u3prev,
      u3out.settleLeaf!,
      SETTLEMENT_HASH_TYPE,
      1,
      settlementSighash(p, settlement3),
      sigList(s3sigs),
    ),
  );

  const ptlc = ptlcOutput(vectorPtlc);
  const ptlcPrev = { amount: ptlc.amount, scriptPubKey: ptlc.scriptPubKey };
  const ptlcOutpoint = { txid: txid(s3.tx), vout: s3.ptlcVouts[0]! };
  const presig = presignClaim(vectorPtlc, claimSweep, vectorKeys.Sptlc, aux('claim/presig'));
  const payerSig = completeClaimSignature(presig, secret);
  const payeeSig = signClaim(vectorPtlc, claimSweep, vectorKeys.Bptlc, aux('claim/B'));
  const claim = buildClaimTx(vectorPtlc, claimSweep, ptlcOutpoint, { payer: payerSig, payee: payeeSig });
  const claimItem = item(
    "PTLC claim: the payer's adaptor pre-signature completed with t, plus the payee's signature; SIGHASH_ANYPREVOUT|ALL",
    claim,
    0,
    ptlcPrev,
    ptlc.claimLeaf,
    PTLC_CLAIM_HASH_TYPE,
    1,
    claimSighash(vectorPtlc, claimSweep),
    [
      { pubkey: vectorPtlc.payer, signature: payerSig },
      { pubkey: vectorPtlc.payee, signature: payeeSig },
    ],
  );
  claimItem.adaptor = {
    point: bytesToHex(vectorPtlc.point),
    presignature: bytesToHex(presig),
    secret: bytesToHex(secret),
    signer: bytesToHex(vectorPtlc.payer),
  };
  items.push(claimItem);

  const refundSig = signRefund(vectorPtlc, refundSweep, ptlcOutpoint, vectorKeys.Sptlc, aux('refund/S'));
  const refund = buildRefundTx(vectorPtlc, refundSweep, ptlcOutpoint, refundSig);
  items.push(
    item(
      'PTLC refund after the timeout (nLockTime 800000), payer alone with a plain key; SIGHASH_DEFAULT, key version 0',
      refund,
      0,
      ptlcPrev,
      ptlc.refundLeaf,
      PTLC_REFUND_HASH_TYPE,
      0,
      refundSighash(vectorPtlc, refundSweep, ptlcOutpoint),
      [{ pubkey: vectorPtlc.payer, signature: refundSig }],
    ),
  );
  return items;
}

/** The exact bytes of eltoo.json. */
export function renderEltooVectors(): string {
  return `${JSON.stringify(generateEltooVectors(), null, 2)}\n`;
}

/** Path of the published file. */
export const ELTOO_VECTORS_PATH = fileURLToPath(new URL('../../../protocol/vectors/eltoo.json', import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--write')) {
  writeFileSync(ELTOO_VECTORS_PATH, renderEltooVectors());
  console.log(`wrote ${ELTOO_VECTORS_PATH}`);
}
