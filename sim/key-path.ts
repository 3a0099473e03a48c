/**
 * A plain wallet coin for the simulator's users: the P2TR key-path output of
 * one secret key (BIP86-style tweak, no script tree) and its SIGHASH_DEFAULT
 * key-path signature. Tests use it for fee inputs and faucet coins.
 * @module
 */
import { getPublicKey, sign, tweakXOnlySecretKey } from '../crypto/bip340.js';
import { p2trScript, signatureHash, tweakPublicKey, type BitcoinTx, type Prevout, type TxOutput } from '../engine/bitcoin/index.js';

/** A wallet's P2TR key-path output for `sk` (no scripts), e.g. a fee input. */
export function keyPathOutput(sk: Uint8Array, amount: bigint): TxOutput {
  const { outputKey } = tweakPublicKey(getPublicKey(sk), null);
  return { amount, script: p2trScript(outputKey) };
}

/** Signs input `index` of `tx` on the key path of `keyPathOutput(sk)` with SIGHASH_DEFAULT. */
export function signKeyPath(tx: BitcoinTx, index: number, prevouts: Prevout[], sk: Uint8Array): Uint8Array {
  // BIP341 taproot_tweak_seckey (the negation for an odd-y key is inside tweakXOnlySecretKey).
  const { tweak } = tweakPublicKey(getPublicKey(sk), null);
  return sign(signatureHash(tx, index, prevouts, { hashType: 0 }), tweakXOnlySecretKey(sk, tweak), new Uint8Array(32));
}
