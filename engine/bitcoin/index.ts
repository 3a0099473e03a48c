/**
 * `engine/bitcoin`: real taproot eltoo transactions with BIP118 (ANYPREVOUT)
 * signatures, PTLC outputs with adaptor-signature claims, and the BIP341/342/118
 * sighash they rest on. Pure: no I/O, no clock; randomness only as optional
 * `auxRand` defaults. Re-exports only.
 * @module
 */
export {
  DUST_LIMIT, LOCKTIME_THRESHOLD, MAX_MONEY, SEQUENCE_FINAL, SEQUENCE_LOCKTIME_ONLY, assertAmount, assertOutpoint, assertPrevout,
  assertSats, assertU32, p2trOutputKey, p2trScript, parseTx, satsToAmount, serializeTx, serializeTxNoWitness, totalOut, txid, txidHex,
  withOutpoint, withWitness,
  type BitcoinTx, type Outpoint, type Prevout, type TxInput, type TxOutput,
} from './transaction.js';
export {
  SigHash, assertHashType, isValidHashType, signatureHash, signatureMessage, tapSighash, type KeyVersion, type SighashOptions,
} from './sighash.js';
export {
  NUMS_KEY, TAPSCRIPT_LEAF_VERSION, numsKeyWithTweak, parseControlBlock, tapBranchHash, tapLeafHash, taprootOutput, tweakPublicKey,
  verifyTaprootCommitment, type ControlBlock, type TapLeaf, type TapLeafInfo, type TapTree, type TaprootOutput,
} from './taproot.js';
export {
  MAX_CSV_DELAY, MAX_STATE, assertCsvDelay, assertHeightTimeout, assertState, assertXOnlyKey, bip118Key, parseLeafScript,
  ptlcClaimLeaf, ptlcRefundLeaf, rebindLeaf, settleLeaf, type KeyPair2, type LeafScript,
} from './script.js';
export {
  decodeWitnessSignature, encodeWitnessSignature, signSighash, verifyWitnessSignature, type WitnessSignature,
} from './sign.js';
export {
  SETTLEMENT_HASH_TYPE, UPDATE_HASH_TYPE, UPDATE_HASH_TYPE_SINGLE, assertEltooTerms, attachFeeInput, buildSettlementTx,
  buildUpdateTx, fundingOutput, settlementOutputs, settlementSighash, signSettlement, signUpdate, unsignedSettlementTx,
  unsignedUpdateTx, updateOutput, updateSighash, updateStateOf,
  type ChannelOutput, type EltooTerms, type PartySignatures, type SettlementOutputs, type SettlementSpec, type SettlementTx,
  type UpdateSpend,
} from './eltoo.js';
export {
  PTLC_CLAIM_HASH_TYPE, PTLC_REFUND_HASH_TYPE, assertPtlcSpec, buildClaimTx, buildRefundTx, claimSighash,
  completeClaimSignature, extractPtlcSecret, presignClaim, ptlcOutput, refundSighash, signClaim, signRefund, unsignedClaimTx,
  unsignedRefundTx, verifyClaimPresignature, type PtlcOutput, type PtlcSpec, type PtlcSweep,
} from './ptlc-output.js';
