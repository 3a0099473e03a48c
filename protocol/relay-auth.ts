/**
 * Mailbox-owner authentication to a relay (SPEC 5.6,
 * "Authentication"): the message a mailbox owner signs with BIP340, and the
 * one signer and one verifier that the client (WebSocket `auth` frame, HTTP
 * session request) and the relay both use.
 * @module
 */
import { abytes, bytesToHex, concatBytes, hexToBytes, uintBE, utf8 } from '../base/bytes.js';
import { ErrorCode, fail } from '../base/errors.js';
import { getPublicKey, sign, taggedHash, verify } from '../crypto/bip340.js';
import { isHex32, type AuthProof } from './relay-frames.js';

/** BIP340 tagged-hash tag of the auth message. */
export const AUTH_TAG = 'ln-mailbox/v1/auth';

/**
 * The 32-byte message a mailbox owner signs (BIP340) to authenticate to a
 * relay: `taggedHash(AUTH_TAG, len(origin) as u16 BE ‖ origin ‖ challenge ‖ mailbox)`.
 * Binding the relay's origin stops one relay replaying the signature at another;
 * binding the single-use challenge stops replays at the same relay.
 * @param origin the relay's origin as the client addresses it, e.g. `https://relay.example` (from `new URL(url).origin`)
 * @param challenge 32 random bytes issued by the relay
 * @param mailbox 32-byte x-only mailbox key
 */
export function authMessage(origin: string, challenge: Uint8Array, mailbox: Uint8Array): Uint8Array {
  if (typeof origin !== 'string' || origin.length === 0) fail(ErrorCode.INVALID_TYPE, 'origin: expected non-empty string');
  const o = utf8(origin);
  return taggedHash(AUTH_TAG, concatBytes(uintBE(o.length, 2), o, abytes(challenge, 32, 'challenge'), abytes(mailbox, 32, 'mailbox')));
}

/**
 * Signs the auth message for `mailbox` (BIP340). The mailbox id is the x-only
 * public key of `secretKey`.
 * @param auxRand 32 bytes of BIP340 auxiliary randomness (fresh random by default)
 * @returns the 64-byte signature
 */
export function signAuth(origin: string, challenge: Uint8Array, secretKey: Uint8Array, auxRand?: Uint8Array): Uint8Array {
  const mailbox = getPublicKey(secretKey);
  return sign(authMessage(origin, challenge, mailbox), secretKey, auxRand);
}

/**
 * Verifies a mailbox owner's auth signature (BIP340) over
 * {@link authMessage}. Never throws on hostile bytes: a malformed key or
 * signature of the right length simply does not verify.
 * @throws LnMailboxError INVALID_TYPE / INVALID_LENGTH only for wrong argument types or lengths
 */
export function verifyAuth(origin: string, challenge: Uint8Array, mailbox: Uint8Array, signature: Uint8Array): boolean {
  const msg = authMessage(origin, challenge, mailbox);
  abytes(signature, 64, 'signature');
  return verify(signature, msg, mailbox);
}

/**
 * The client's side: signs the relay's challenge for the mailbox of `secretKey`.
 * @param origin the origin of the relay as *the client* addresses it ({@link relayOrigin}),
 *   so a relay cannot forward the proof to another relay
 * @param challengeHex the challenge as the relay sent it (64 hex)
 * @throws LnMailboxError INVALID_HEX / INVALID_LENGTH (challenge), INVALID_SECRET_KEY
 */
export function proveAuth(origin: string, challengeHex: string, secretKey: Uint8Array): AuthProof {
  const mailbox = getPublicKey(secretKey);
  const signature = sign(authMessage(origin, hexToBytes(challengeHex, 32, 'challenge'), mailbox), secretKey);
  return { mailbox: bytesToHex(mailbox), challenge: challengeHex, signature: bytesToHex(signature) };
}

/**
 * The relay's side: true when `proof` is a valid signature by `proof.mailbox`
 * over this relay's `origin` and `proof.challenge`. Whether the challenge was
 * issued and is unused is the relay's bookkeeping, not checked here.
 * Returns false (never throws) for any hex of the right shape that does not verify.
 * @throws LnMailboxError INVALID_TYPE / INVALID_HEX / INVALID_LENGTH when a field is not hex of its length
 */
export function verifyAuthProof(origin: string, proof: AuthProof): boolean {
  if (!isHex32(proof.mailbox) || !isHex32(proof.challenge))
    fail(ErrorCode.INVALID_HEX, 'auth proof: mailbox and challenge must be 64 lowercase hex chars');
  return verifyAuth(
    origin,
    hexToBytes(proof.challenge, 32, 'challenge'),
    hexToBytes(proof.mailbox, 32, 'mailbox'),
    hexToBytes(proof.signature, 64, 'signature'),
  );
}

/** Normalizes a relay base URL to the origin string bound into the auth message. */
export function relayOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch (e) {
    return fail(ErrorCode.INVALID_TYPE, `not a URL: ${JSON.stringify(url)}`, e);
  }
}
