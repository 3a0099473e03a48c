/**
 * A hub's terms (SPEC 6.17): the signed document a wallet reads before it
 * opens a channel with a hub it knows only by its mailbox address. It names
 * the hub's channel key, its fees, the channel parameters it accepts and how
 * it runs an open. The hub publishes it as the relay record `hub-terms` of
 * its mailbox and sends it in a TERMS message on request; either way the
 * reader checks the signature against the hub's identity (mailbox) key.
 *
 * Encoding: `version(u8)=0x01 ‖ fields ‖ signature(64)`, fields encoded by
 * codec.ts in schema order (one encoding per document), the signature a
 * BIP340 signature of the identity key over
 * `taggedHash("ln-mailbox/v1/hub-terms", version ‖ fields)`.
 * @module
 */
import { concatBytes, equalBytes } from '../base/bytes.js';
import { ErrorCode, fail } from '../base/errors.js';
import { getPublicKey, sign, taggedHash, verify } from '../crypto/bip340.js';
import { decodeSchema, encodeSchema, type Decoded } from './codec.js';

/** Version byte of a terms document. */
export const TERMS_VERSION = 0x01;
/** BIP340 tagged-hash tag of the terms signature (and of the terms id). */
export const TERMS_TAG = 'ln-mailbox/v1/hub-terms';
/** The relay record name a hub publishes its signed terms under. */
export const TERMS_RECORD = 'hub-terms';

/** Fields of a terms document, in wire order (SPEC 6.17). */
export const TermsSchema = [
  ['hubKey', 'b32'],
  ['channelKey', 'b32'],
  ['serial', 'u32'],
  ['issued', 'u64'],
  ['expiry', 'u64'],
  ['feeBase', 'u64'],
  ['feePpm', 'u32'],
  ['csvMin', 'u32'],
  ['csvMax', 'u32'],
  ['maxTimeoutDelta', 'u32'],
  ['minCapacity', 'u64'],
  ['maxCapacity', 'u64'],
  ['maxHubFunded', 'u64'],
  ['updateFee', 'u64'],
  ['settlementFee', 'u64'],
  ['ptlcFee', 'u64'],
  ['minConf', 'u32'],
  ['maxPendingOpens', 'u16'],
  ['openTimeout', 'u32'],
] as const;

/** A hub's terms, decoded. Amounts in sats, times in ms since the epoch, `openTimeout` in seconds. */
export type HubTerms = Decoded<typeof TermsSchema>;

const SIG_LEN = 64;

function body(t: HubTerms): Uint8Array {
  return concatBytes(new Uint8Array([TERMS_VERSION]), encodeSchema(TermsSchema, t));
}

function check(t: HubTerms): HubTerms {
  const bad = (m: string): never => fail(ErrorCode.PAYMENT_BAD_MESSAGE, `terms: ${m}`);
  if (t.csvMin < 1 || t.csvMax < t.csvMin || t.csvMax > 0xffff) bad('CSV bounds out of order or range');
  if (t.minCapacity > t.maxCapacity) bad('capacity bounds out of order');
  if (t.minConf < 1) bad('at least one confirmation');
  if (t.expiry <= t.issued) bad('expires before it is issued');
  if (t.maxPendingOpens < 1 || t.openTimeout < 1) bad('open limits must be positive');
  return t;
}

/**
 * Encodes and signs terms with the hub's identity secret key `identityKey`
 * (whose x-only public key must be `t.hubKey`).
 */
export function signTerms(t: HubTerms, identityKey: Uint8Array): Uint8Array {
  const pub = getPublicKey(identityKey);
  if (!equalBytes(pub, t.hubKey)) fail(ErrorCode.INVALID_PUBLIC_KEY, 'terms: hubKey is not the signing identity key');
  const b = body(check(t));
  return concatBytes(b, sign(taggedHash(TERMS_TAG, b), identityKey));
}

/**
 * Decodes a signed terms document and checks its signature against `hubKey`
 * (the x-only identity key of the hub's mailbox address), that it names that
 * key, and (when `now` is given) that it has not expired.
 * @throws LnMailboxError PAYMENT_BAD_MESSAGE (malformed, expired) or INVALID_SIGNATURE
 */
export function verifyTerms(doc: Uint8Array, hubKey: Uint8Array, now?: number): HubTerms {
  if (!(doc instanceof Uint8Array) || doc.length < 1 + SIG_LEN) fail(ErrorCode.PAYMENT_BAD_MESSAGE, 'terms: too short');
  if (doc[0] !== TERMS_VERSION) fail(ErrorCode.PAYMENT_BAD_MESSAGE, `terms: unknown version ${doc[0]}`);
  const b = doc.subarray(0, doc.length - SIG_LEN);
  const t = check(decodeSchema(TermsSchema, b.subarray(1)));
  if (!equalBytes(t.hubKey, hubKey)) fail(ErrorCode.INVALID_SIGNATURE, 'terms: not the terms of this hub');
  let ok = false;
  try {
    ok = verify(doc.subarray(doc.length - SIG_LEN), taggedHash(TERMS_TAG, b), hubKey);
  } catch {
    ok = false;
  }
  if (!ok) fail(ErrorCode.INVALID_SIGNATURE, 'terms: signature does not verify');
  if (now !== undefined && t.expiry <= now) fail(ErrorCode.PAYMENT_BAD_MESSAGE, 'terms: expired');
  return t;
}

/** The id of a signed terms document: `taggedHash("ln-mailbox/v1/hub-terms", document)`; an OPEN names the terms it accepts by it. */
export function termsId(doc: Uint8Array): Uint8Array {
  return taggedHash(TERMS_TAG, doc);
}
