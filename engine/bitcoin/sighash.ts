/**
 * Taproot signature messages and hashes: BIP341 `SigMsg` (key path, ext_flag 0),
 * BIP342 tapscript (ext_flag 1, key_version 0x00) and BIP118 `Msg118`/`Ext118`
 * (key_version 0x01, SIGHASH_ANYPREVOUT 0x40 and SIGHASH_ANYPREVOUTANYSCRIPT 0xc0).
 *
 * One function covers all three because BIP118 is defined as an edit of BIP341:
 * for hash types without bit 6 it is literally `SigMsg(hash_type, 1)` with
 * key_version 1. `@scure/btc-signer` knows BIP341 but not BIP118, so this is
 * ours, written to the letter of bip-0118.mediawiki and checked against every
 * BIP341 wallet vector (test/engine/bitcoin/sighash.test.ts).
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { RawOutput, VarBytes } from '@scure/btc-signer/script.js';
import { abytes, concatBytes } from '../../base/bytes.js';
import { ErrorCode, fail } from '../../base/errors.js';
import { taggedHash } from '../../crypto/index.js';
import { assertPrevout, assertU32, type BitcoinTx, type Prevout, type TxOutput } from './transaction.js';

/** BIP341/BIP118 hash type values and flags. */
export const SigHash = {
  /** BIP341 SIGHASH_DEFAULT: like ALL, signalled by a 64-byte signature. */
  DEFAULT: 0x00,
  /** Commit to every output. */
  ALL: 0x01,
  /** Commit to no output. */
  NONE: 0x02,
  /** Commit to the output with this input's index. */
  SINGLE: 0x03,
  /** Commit to this input only (not the other inputs). */
  ANYONECANPAY: 0x80,
  /** BIP118: commit to this input's amount and script but not its outpoint. */
  ANYPREVOUT: 0x40,
  /** BIP118: commit to neither outpoint, amount, scriptPubKey nor tapleaf. */
  ANYPREVOUTANYSCRIPT: 0xc0,
} as const;

/** Key versions: 0 = BIP340 key (BIP341/342), 1 = BIP118 public key (`0x01 ‖ x`). */
export type KeyVersion = 0 | 1;

const BIP341_TYPES = new Set([0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83]);
const BIP118_TYPES = new Set([...BIP341_TYPES, 0x41, 0x42, 0x43, 0xc1, 0xc2, 0xc3]);

/**
 * True when `hashType` is defined for the key version: BIP341 allows 0x00–0x03
 * and 0x81–0x83; BIP118 keys also allow 0x41–0x43 and 0xc1–0xc3. Any other
 * value makes the signature invalid on chain.
 */
export function isValidHashType(hashType: number, keyVersion: KeyVersion): boolean {
  return (keyVersion === 1 ? BIP118_TYPES : BIP341_TYPES).has(hashType);
}

/** Throws INVALID_RANGE unless `hashType` is valid for `keyVersion`. */
export function assertHashType(hashType: unknown, keyVersion: KeyVersion): number {
  if (typeof hashType !== 'number') fail(ErrorCode.INVALID_TYPE, `hash type: expected number, got ${typeof hashType}`);
  if (!isValidHashType(hashType, keyVersion))
    fail(ErrorCode.INVALID_RANGE, `hash type 0x${hashType.toString(16)} is not defined for key version ${keyVersion}`);
  return hashType;
}

/** How the input is being spent, i.e. which extension the message carries. */
export interface SighashOptions {
  /** 0x00–0x03, 0x81–0x83; with `keyVersion: 1` also 0x41–0x43, 0xc1–0xc3. */
  readonly hashType: number;
  /**
   * The BIP341 tapleaf hash of the executed leaf for a script-path spend.
   * Absent: a key-path spend (BIP341, ext_flag 0), which only key version 0 allows.
   */
  readonly leafHash?: Uint8Array;
  /** 0 for BIP340 keys (default), 1 for BIP118 keys. Script path only for 1. */
  readonly keyVersion?: KeyVersion;
  /** Opcode position of the last executed OP_CODESEPARATOR (default 0xffffffff: none). */
  readonly codesepPos?: number;
  /** The annex (must start with 0x50), when the witness carries one. */
  readonly annex?: Uint8Array;
}

const u32le = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
};
const u64le = (n: bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
};
/** Serialized outpoint: txid in internal (reversed) byte order ‖ vout LE. */
const outpointBytes = (txid: Uint8Array, vout: number) => concatBytes(txid.slice().reverse(), u32le(vout));
const txOut = (o: TxOutput) => RawOutput.encode({ amount: o.amount, script: o.script });

function prevoutAt(prevouts: ReadonlyArray<Prevout | undefined>, i: number): Prevout {
  const p = prevouts[i];
  if (p === undefined) fail(ErrorCode.TX_INVALID, `sighash: prevout of input ${i} is required for this hash type`);
  return assertPrevout(p, `prevouts[${i}]`);
}

/**
 * The full taproot signature message for input `inputIndex`, *including* the
 * leading epoch byte 0x00 (the form BIP341's vectors call `sigMsg`), so
 * `signatureHash = hash_TapSighash(signatureMessage)`.
 *
 * `prevouts[i]` is the output spent by input i. Hash types without
 * ANYONECANPAY/ANYPREVOUT need all of them; ANYONECANPAY and ANYPREVOUT need
 * only this input's; ANYPREVOUTANYSCRIPT needs none (the array may be sparse).
 *
 * Throws INVALID_RANGE for a hash type the key version does not define,
 * TX_INVALID for SIGHASH_SINGLE without a corresponding output, a missing
 * prevout, an ANYPREVOUT key-path spend or a malformed annex.
 */
export function signatureMessage(
  tx: BitcoinTx,
  inputIndex: number,
  prevouts: ReadonlyArray<Prevout | undefined>,
  opts: SighashOptions,
): Uint8Array {
  const keyVersion = opts.keyVersion ?? 0;
  if (keyVersion !== 0 && keyVersion !== 1) fail(ErrorCode.INVALID_RANGE, `key version ${String(keyVersion)} unknown`);
  const hashType = assertHashType(opts.hashType, keyVersion);
  if (!Number.isInteger(inputIndex) || inputIndex < 0 || inputIndex >= tx.inputs.length)
    fail(ErrorCode.INVALID_RANGE, `input index ${inputIndex} out of range`);
  const scriptPath = opts.leafHash !== undefined;
  if (scriptPath) abytes(opts.leafHash, 32, 'leaf hash');
  // BIP118 keys exist only inside tapscript; there is no ANYPREVOUT key path.
  if (keyVersion === 1 && !scriptPath) fail(ErrorCode.TX_INVALID, 'BIP118 signatures are script-path only: leafHash required');
  const codesepPos = assertU32(opts.codesepPos ?? 0xffff_ffff, 'codesep position');
  const annex = opts.annex;
  if (annex !== undefined && (abytes(annex, undefined, 'annex').length === 0 || annex[0] !== 0x50))
    fail(ErrorCode.TX_INVALID, 'annex must start with 0x50');

  const input = tx.inputs[inputIndex]!;
  const outType = hashType & 0x03;
  const inType = hashType & 0xc0; // 0x00, 0x80 ANYONECANPAY, 0x40 APO, 0xc0 APOAS
  if (outType === SigHash.SINGLE && inputIndex >= tx.outputs.length)
    fail(ErrorCode.TX_INVALID, 'SIGHASH_SINGLE without a corresponding output');

  const parts: Uint8Array[] = [new Uint8Array([0x00]), new Uint8Array([hashType]), u32le(tx.version), u32le(tx.lockTime)];
  if (inType === 0x00) {
    const all = tx.inputs.map((_, i) => prevoutAt(prevouts, i));
    parts.push(
      sha256(concatBytes(...tx.inputs.map((i) => outpointBytes(i.txid, i.vout)))),
      sha256(concatBytes(...all.map((p) => u64le(p.amount)))),
      sha256(concatBytes(...all.map((p) => VarBytes.encode(p.scriptPubKey)))),
      sha256(concatBytes(...tx.inputs.map((i) => u32le(i.sequence)))),
    );
  }
  if (outType !== SigHash.NONE && outType !== SigHash.SINGLE) parts.push(sha256(concatBytes(...tx.outputs.map(txOut))));
  const extFlag = scriptPath ? 1 : 0;
  parts.push(new Uint8Array([extFlag * 2 + (annex !== undefined ? 1 : 0)]));
  if (inType === SigHash.ANYONECANPAY) {
    const p = prevoutAt(prevouts, inputIndex);
    parts.push(outpointBytes(input.txid, input.vout), u64le(p.amount), VarBytes.encode(p.scriptPubKey), u32le(input.sequence));
  } else if (inType === SigHash.ANYPREVOUT) {
    // BIP118: as ANYONECANPAY, minus the outpoint.
    const p = prevoutAt(prevouts, inputIndex);
    parts.push(u64le(p.amount), VarBytes.encode(p.scriptPubKey), u32le(input.sequence));
  } else if (inType === SigHash.ANYPREVOUTANYSCRIPT) {
    // BIP118: minus outpoint, amount and scriptPubKey.
    parts.push(u32le(input.sequence));
  } else {
    parts.push(u32le(inputIndex));
  }
  if (annex !== undefined) parts.push(sha256(VarBytes.encode(annex)));
  if (outType === SigHash.SINGLE) parts.push(sha256(txOut(tx.outputs[inputIndex]!)));
  if (scriptPath) {
    // ANYPREVOUTANYSCRIPT also drops the tapleaf hash: that is what lets one
    // update signature spend the funding output and every older update.
    if (inType !== SigHash.ANYPREVOUTANYSCRIPT) parts.push(opts.leafHash!);
    parts.push(new Uint8Array([keyVersion]), u32le(codesepPos));
  }
  return concatBytes(...parts);
}

/** `hash_TapSighash(signatureMessage(...))`: the 32 bytes a BIP340 signature signs. */
export function signatureHash(
  tx: BitcoinTx,
  inputIndex: number,
  prevouts: ReadonlyArray<Prevout | undefined>,
  opts: SighashOptions,
): Uint8Array {
  return tapSighash(signatureMessage(tx, inputIndex, prevouts, opts));
}

/** The BIP341 tagged hash `TapSighash` of a full signature message. */
export function tapSighash(msg: Uint8Array): Uint8Array {
  return taggedHash('TapSighash', msg);
}
