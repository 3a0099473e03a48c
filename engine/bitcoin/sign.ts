/**
 * Witness signatures for taproot spends (BIP341 "Common signature message",
 * BIP342, BIP118): a 64-byte BIP340 signature means SIGHASH_DEFAULT, a
 * 65-byte one carries its hash type in the last byte, which must not be 0x00.
 * BIP118 keys sign with the same BIP340 algorithm over the `Msg118` digest;
 * only the digest (key_version 0x01) differs, so a signature for a plain key
 * is never valid for the BIP118 key of the same secret (and vice versa).
 * @module
 */
import { abytes } from '../../base/bytes.js';
import { ErrorCode, fail } from '../../base/errors.js';
import { sign as bip340Sign, verify as bip340Verify } from '../../crypto/index.js';
import { assertHashType, type KeyVersion } from './sighash.js';

/** A witness signature split into its BIP340 part and hash type. */
export interface WitnessSignature {
  /** The 64-byte BIP340 signature. */
  readonly sig64: Uint8Array;
  /** Hash type; 0x00 (SIGHASH_DEFAULT) for a 64-byte witness signature. */
  readonly hashType: number;
}

/**
 * Encodes a 64-byte BIP340 signature for the witness: as is for
 * SIGHASH_DEFAULT, with the hash type appended otherwise.
 */
export function encodeWitnessSignature(sig64: Uint8Array, hashType: number, keyVersion: KeyVersion): Uint8Array {
  abytes(sig64, 64, 'signature');
  assertHashType(hashType, keyVersion);
  if (hashType === 0) return sig64.slice();
  const out = new Uint8Array(65);
  out.set(sig64);
  out[64] = hashType;
  return out;
}

/**
 * Splits a witness signature. Throws INVALID_SIGNATURE for a length other than
 * 64/65, an explicit 0x00 hash type (BIP341 forbids it: it would give the
 * same signature two encodings) and a hash type the key version does not define.
 */
export function decodeWitnessSignature(sig: Uint8Array, keyVersion: KeyVersion): WitnessSignature {
  abytes(sig, undefined, 'witness signature');
  if (sig.length === 64) return { sig64: sig.slice(), hashType: 0 };
  if (sig.length !== 65) fail(ErrorCode.INVALID_SIGNATURE, `witness signature: expected 64 or 65 bytes, got ${sig.length}`);
  const hashType = sig[64]!;
  if (hashType === 0) fail(ErrorCode.INVALID_SIGNATURE, 'witness signature: explicit SIGHASH_DEFAULT byte');
  try {
    assertHashType(hashType, keyVersion);
  } catch {
    fail(ErrorCode.INVALID_SIGNATURE, `witness signature: hash type 0x${hashType.toString(16)} undefined for key version ${keyVersion}`);
  }
  return { sig64: sig.slice(0, 64), hashType };
}

/**
 * Signs a 32-byte sighash with `sk` and encodes the witness signature for
 * `hashType`. `auxRand` (32 bytes) defaults to fresh randomness; pass it only
 * to reproduce vectors. The sighash must have been computed for this same
 * hash type and key version.
 */
export function signSighash(
  sighash: Uint8Array,
  sk: Uint8Array,
  hashType: number,
  keyVersion: KeyVersion,
  auxRand?: Uint8Array,
): Uint8Array {
  abytes(sighash, 32, 'sighash');
  assertHashType(hashType, keyVersion);
  return encodeWitnessSignature(bip340Sign(sighash, sk, auxRand), hashType, keyVersion);
}

/**
 * Verifies a witness signature against a sighash computed for `hashType`:
 * the signature must carry exactly that hash type and verify under `pubkey`
 * (x-only). Returns false for a valid-looking signature that does not verify;
 * throws INVALID_SIGNATURE for a malformed one.
 */
export function verifyWitnessSignature(
  sig: Uint8Array,
  sighash: Uint8Array,
  pubkey: Uint8Array,
  hashType: number,
  keyVersion: KeyVersion,
): boolean {
  const d = decodeWitnessSignature(sig, keyVersion);
  if (d.hashType !== hashType) return false;
  return bip340Verify(d.sig64, abytes(sighash, 32, 'sighash'), abytes(pubkey, 32, 'public key'));
}
