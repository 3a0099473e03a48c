/**
 * `crypto`: BIP340 helpers, committed nonces and BIP340-compatible Schnorr
 * adaptor signatures. Re-exports only; the raw-nonce signers `_signWithNonce`
 * and `_signWithEvenNonce` are deliberately not exported here (a caller-chosen nonce is a key leak
 * waiting to happen; use `commitNonce` / `signWithCommittedNonce`).
 * @module
 */
export {
  challenge,
  getPublicKey,
  parseCompressedPoint,
  parsePublicKey,
  parseSecretKey,
  randomSecretKey,
  sign,
  signaturePoint,
  signingKey,
  taggedHash,
  tweakXOnlyPublicKey,
  tweakXOnlySecretKey,
  verify,
  type Point,
  type SigningKey,
  type XOnlyTweakOptions,
} from './bip340.js';
export {
  MAX_NONCE_ID_LENGTH,
  MemoryNonceStore,
  assertNonceId,
  bindTicketNonce,
  commitNonce,
  commitTicketNonce,
  isFreeTicket,
  ticketNonceId,
  signWithCommittedNonce,
  type CommitNonceOptions,
  type CommittedNonce,
  type NonceStore,
} from './nonce.js';
export { adaptorAdapt, adaptorExtract, adaptorPoint, adaptorPresign, adaptorVerify } from './adaptor.js';
export { randomTweak, tweakPoint, tweakSecret, untweakSecret } from './tweak.js';
