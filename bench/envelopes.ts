/**
 * Synthetic v1 envelopes for load (SPEC section 3 layout: version ‖
 * recipient ‖ ephemeral ‖ nonce ‖ ciphertext ‖ tag). The relay only parses
 * the header and never decrypts, so random bytes after a correct
 * header cost it exactly what a real sealed envelope costs; sealing each one
 * would only slow the load generator down.
 * @module
 */
import { createHash, randomFillSync } from 'node:crypto';
import { schnorr } from '@noble/curves/secp256k1.js';
import { ENVELOPE_VERSION } from '../protocol/envelope.js';

/** Size used by every ingest row (1 KiB envelopes). */
export const ENVELOPE_BYTES = 1024;

/** A fresh random envelope addressed to `mailboxHex`. */
export function syntheticEnvelope(mailboxHex: string, size = ENVELOPE_BYTES): Buffer {
  const b = Buffer.allocUnsafe(size);
  randomFillSync(b, 33);
  b[0] = ENVELOPE_VERSION;
  b.write(mailboxHex, 1, 32, 'hex');
  return b;
}

/** The envelope id (sha256 of the bytes), hex. */
export function idOf(envelope: Uint8Array): string {
  return createHash('sha256').update(envelope).digest('hex');
}

/** `n` random mailbox ids (no key needed: nobody reads them). */
export function randomMailboxes(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(randomFillSync(Buffer.alloc(32)).toString('hex'));
  return out;
}

/** A mailbox key pair whose owner can authenticate. */
export interface MailboxKey {
  secretKey: Uint8Array;
  mailbox: string;
}

/** A fresh mailbox key pair. */
export function mailboxKey(): MailboxKey {
  const secretKey = schnorr.utils.randomSecretKey();
  return { secretKey, mailbox: Buffer.from(schnorr.getPublicKey(secretKey)).toString('hex') };
}
