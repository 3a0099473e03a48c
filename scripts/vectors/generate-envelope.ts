/**
 * Generates `protocol/vectors/envelope.json`, the envelope v1 test vectors
 * (SPEC.md sections 3 and 4), from fixed inputs.
 *
 * This is deliberately a second, step-by-step construction built straight on
 * the primitives (noble's ECDH, HKDF, XChaCha20-Poly1305, BIP340) rather than
 * on `seal`: the test checks that `seal` reproduces every valid envelope byte
 * for byte, so the two constructions vouch for each other and for the spec.
 * Pure: no clock, no randomness, no files (`scripts/gen-envelope-vectors.ts`
 * writes the JSON).
 * @module
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';

/** One envelope vector. All byte fields are lowercase hex. */
export interface EnvelopeVector {
  description: string;
  /** True when `open(envelope, recipientSecretKey)` must succeed. */
  valid: boolean;
  /** For invalid vectors: the error code `open` must throw. */
  error?: string;
  /** The secret key to open with. */
  recipientSecretKey: string;
  /** x-only public key the envelope was sealed to (before any tampering). */
  recipient: string;
  ephemeralSecretKey: string;
  /** x-only ephemeral public key (before any tampering). */
  ephemeral: string;
  nonce: string;
  senderSecretKey: string;
  /** x-only sender public key. */
  sender: string;
  timestamp: number;
  type: number;
  body: string;
  auxRand: string;
  /** x(ECDH), the HKDF input keying material. */
  sharedSecret: string;
  /** The derived 32-byte XChaCha20-Poly1305 key. */
  key: string;
  /** The inner message as encrypted (unpadded). */
  innerMessage: string;
  /** The padded plaintext that was encrypted. */
  plaintext: string;
  /** The envelope bytes to open (after tampering, for invalid vectors). */
  envelope: string;
  /** sha256(envelope). */
  id: string;
}

const TIMESTAMP = 1_767_225_600_000; // 2026-01-01T00:00:00Z

function h(label: string): Uint8Array {
  return sha256(utf8ToBytes(`ln-mailbox/v1/vectors/${label}`));
}

/** A deterministic secret key whose public point has the requested y parity. */
function keyWithParity(label: string, odd: boolean): Uint8Array {
  for (let i = 0; ; i++) {
    const sk = h(`${label}/${i}`);
    if (!secp256k1.utils.isValidSecretKey(sk)) continue;
    if ((secp256k1.getPublicKey(sk, true)[0] === 0x03) === odd) return sk;
  }
}

function u(value: number | bigint, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let v = BigInt(value);
  for (let i = n - 1; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

/** NIP-44 calc_padded_len, written as in the NIP's reference code. */
function bucket(len: number): number {
  if (len <= 32) return 32;
  const nextPower = 1 << (Math.floor(Math.log2(len - 1)) + 1);
  const chunk = nextPower <= 256 ? 32 : nextPower / 8;
  return Math.min(chunk * (Math.floor((len - 1) / chunk) + 1), 65536 - 89 - 16);
}

interface Build {
  recipientSk: Uint8Array;
  ephemeralSk: Uint8Array;
  senderSk: Uint8Array;
  nonce: Uint8Array;
  auxRand: Uint8Array;
  type: number;
  timestamp: number;
  body: Uint8Array;
  /** Recipient bound by the inner signature (default: the real recipient). */
  signFor?: Uint8Array;
  /** Rewrites the signed inner message before padding. */
  editInner?: (inner: Uint8Array) => Uint8Array;
  /** Builds the plaintext from the inner message instead of the normal padding. */
  makePlaintext?: (inner: Uint8Array) => Uint8Array;
  /** Rewrites the finished envelope. */
  editEnvelope?: (env: Uint8Array) => Uint8Array;
}

function build(b: Build) {
  const recipient = schnorr.getPublicKey(b.recipientSk);
  const ephemeral = schnorr.getPublicKey(b.ephemeralSk);
  const sender = schnorr.getPublicKey(b.senderSk);
  // ECDH through SEC 1 encodings: 0x02 ‖ x is the even-y lift of the x-only key.
  const sharedSecret = secp256k1.getSharedSecret(b.ephemeralSk, concatBytes(Uint8Array.of(2), recipient)).subarray(1);
  const key = hkdf(sha256, sharedSecret, utf8ToBytes('ln-mailbox/v1'), concatBytes(ephemeral, recipient), 32);
  const unsigned = concatBytes(u(b.type, 2), sender, u(b.timestamp, 8), u(b.body.length, 4), b.body);
  const sigHash = schnorr.utils.taggedHash('ln-mailbox/v1/inner', Uint8Array.of(1), b.signFor ?? recipient, unsigned);
  let inner: Uint8Array = concatBytes(unsigned, schnorr.sign(sigHash, b.senderSk, b.auxRand));
  if (b.editInner) inner = b.editInner(inner);
  let plaintext: Uint8Array;
  if (b.makePlaintext) plaintext = b.makePlaintext(inner);
  else {
    plaintext = new Uint8Array(bucket(2 + inner.length));
    plaintext.set(u(inner.length, 2), 0);
    plaintext.set(inner, 2);
  }
  const header = concatBytes(Uint8Array.of(1), recipient, ephemeral, b.nonce);
  let envelope: Uint8Array = concatBytes(header, xchacha20poly1305(key, b.nonce, header).encrypt(plaintext));
  if (b.editEnvelope) envelope = b.editEnvelope(envelope);
  return { recipient, ephemeral, sender, sharedSecret, key, inner, plaintext, envelope };
}

function vector(description: string, b: Build, opts: { error?: string; openWith?: Uint8Array } = {}): EnvelopeVector {
  const r = build(b);
  return {
    description,
    valid: opts.error === undefined,
    ...(opts.error === undefined ? {} : { error: opts.error }),
    recipientSecretKey: bytesToHex(opts.openWith ?? b.recipientSk),
    recipient: bytesToHex(r.recipient),
    ephemeralSecretKey: bytesToHex(b.ephemeralSk),
    ephemeral: bytesToHex(r.ephemeral),
    nonce: bytesToHex(b.nonce),
    senderSecretKey: bytesToHex(b.senderSk),
    sender: bytesToHex(r.sender),
    timestamp: b.timestamp,
    type: b.type,
    body: bytesToHex(b.body),
    auxRand: bytesToHex(b.auxRand),
    sharedSecret: bytesToHex(r.sharedSecret),
    key: bytesToHex(r.key),
    innerMessage: bytesToHex(r.inner),
    plaintext: bytesToHex(r.plaintext),
    envelope: bytesToHex(r.envelope),
    id: bytesToHex(sha256(r.envelope)),
  };
}

function flip(at: number | ((len: number) => number), mask = 0x01) {
  return (x: Uint8Array): Uint8Array => {
    const out = x.slice();
    const i = typeof at === 'number' ? at : at(x.length);
    out[i]! ^= mask;
    return out;
  };
}

function pattern(n: number, seed: string): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0, i = 0; off < n; off += 32, i++) out.set(h(`${seed}/${i}`).subarray(0, Math.min(32, n - off)), off);
  return out;
}

/** Smallest x ≥ 1 that is not the x coordinate of any secp256k1 point. */
function notOnCurveX(): Uint8Array {
  for (let x = 1n; ; x++) {
    try {
      schnorr.utils.lift_x(x);
    } catch {
      return u(x, 32);
    }
  }
}

/** The envelope vectors, in file order. */
export function generateEnvelopeVectors(): EnvelopeVector[] {
  const evenR = keyWithParity('recipient-even', false);
  const oddR = keyWithParity('recipient-odd', true);
  const evenE = keyWithParity('ephemeral-even', false);
  const oddE = keyWithParity('ephemeral-odd', true);
  const sender = keyWithParity('sender', false);
  const other = keyWithParity('other-recipient', true);
  const base = (i: number): Build => ({
    recipientSk: evenR,
    ephemeralSk: evenE,
    senderSk: sender,
    nonce: h(`nonce/${i}`).subarray(0, 24),
    auxRand: h(`aux/${i}`),
    type: 0x0001,
    timestamp: TIMESTAMP + i,
    body: new Uint8Array(0),
  });
  const padded = (len: number, inner: Uint8Array, size = bucket(2 + inner.length)) => {
    const p = new Uint8Array(size);
    p.set(u(len, 2), 0);
    p.set(inner.subarray(0, Math.min(inner.length, size - 2)), 2);
    return p;
  };
  const otherX = schnorr.getPublicKey(other);
  return [
    vector('empty body; even-y recipient and ephemeral; smallest envelope (233 bytes)', base(0)),
    vector('16-byte body: 2 + 126 fills the 128-byte bucket exactly; odd-y recipient', {
      ...base(1),
      recipientSk: oddR,
      body: pattern(16, 'body/1'),
    }),
    vector('17-byte body: one byte over the 128 bucket, padded to 160; odd-y ephemeral', {
      ...base(2),
      ephemeralSk: oddE,
      body: pattern(17, 'body/2'),
    }),
    vector('147-byte body: 2 + 257 is the first 64-byte-chunk bucket (320)', { ...base(3), body: pattern(147, 'body/3') }),
    vector('5 KiB body (bucket 6144); odd-y recipient and odd-y ephemeral', {
      ...base(4),
      recipientSk: oddR,
      ephemeralSk: oddE,
      body: pattern(5120, 'body/4'),
    }),
    vector('UTF-8 text body, experimental type 0x8001', {
      ...base(5),
      type: 0x8001,
      body: utf8ToBytes('pay me later ⚡ — ln-mailbox'),
    }),
    // --- invalid -------------------------------------------------------------------
    vector('last tag byte flipped', { ...base(10), editEnvelope: flip((n) => n - 1) }, { error: 'ENVELOPE_BAD_TAG' }),
    vector('first ciphertext byte flipped', { ...base(11), editEnvelope: flip(89) }, { error: 'ENVELOPE_BAD_TAG' }),
    vector('nonce byte flipped (header is AAD)', { ...base(12), editEnvelope: flip(70) }, { error: 'ENVELOPE_BAD_TAG' }),
    vector(
      're-addressed: header recipient replaced by another mailbox, opened by that mailbox',
      {
        ...base(13),
        editEnvelope: (e) => {
          const o = e.slice();
          o.set(otherX, 1);
          return o;
        },
      },
      { error: 'ENVELOPE_BAD_TAG', openWith: other },
    ),
    vector('opened by a mailbox it is not addressed to', base(14), { error: 'ENVELOPE_WRONG_RECIPIENT', openWith: other }),
    vector(
      'truncated to 232 bytes (one below the minimum)',
      { ...base(15), editEnvelope: (e) => e.subarray(0, 232) },
      {
        error: 'ENVELOPE_TRUNCATED',
      },
    ),
    vector(
      'version byte 0x02',
      {
        ...base(16),
        editEnvelope: (e) => {
          const o = e.slice();
          o[0] = 2;
          return o;
        },
      },
      {
        error: 'ENVELOPE_UNKNOWN_VERSION',
      },
    ),
    vector(
      'ephemeral key is not an x coordinate on the curve',
      {
        ...base(17),
        editEnvelope: (e) => {
          const o = e.slice();
          o.set(notOnCurveX(), 33);
          return o;
        },
      },
      { error: 'INVALID_PUBLIC_KEY' },
    ),
    vector(
      'non-zero padding byte (correctly encrypted)',
      {
        ...base(18),
        makePlaintext: (inner) => {
          const p = padded(inner.length, inner);
          p[p.length - 1] = 1;
          return p;
        },
      },
      { error: 'ENVELOPE_BAD_PADDING' },
    ),
    vector(
      'length prefix larger than the plaintext (correctly encrypted)',
      {
        ...base(19),
        makePlaintext: (inner) => padded(127, inner),
      },
      { error: 'ENVELOPE_BAD_PADDING' },
    ),
    vector(
      'valid inner message padded to 160 instead of its 128 bucket (correctly encrypted)',
      {
        ...base(20),
        makePlaintext: (inner) => padded(inner.length, inner, 160),
      },
      { error: 'ENVELOPE_BAD_PADDING' },
    ),
    vector(
      'inner body_len one larger than the body (correctly padded and encrypted)',
      {
        ...base(21),
        body: pattern(8, 'body/21'),
        editInner: (i) => {
          const o = i.slice();
          o[45] = 9;
          return o;
        },
      },
      { error: 'ENVELOPE_BAD_INNER' },
    ),
    vector('inner type 0 (signed; correctly padded and encrypted)', { ...base(22), type: 0 }, { error: 'ENVELOPE_BAD_INNER' }),
    vector(
      'inner timestamp 2^53 (beyond the safe-integer range)',
      { ...base(23), timestamp: 2 ** 53 },
      {
        error: 'ENVELOPE_BAD_INNER',
      },
    ),
    vector('inner signature bit flipped', { ...base(24), editInner: flip((n) => n - 1) }, { error: 'ENVELOPE_BAD_SIGNATURE' }),
    vector(
      'inner signed for another recipient, re-sealed to this one (surreptitious forwarding)',
      { ...base(25), signFor: otherX },
      { error: 'ENVELOPE_BAD_SIGNATURE' },
    ),
  ];
}
