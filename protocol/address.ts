/**
 * Mailbox addresses: bech32m (BIP350) strings with HRP `lnmb` whose data is a
 * TLV stream in the style of BOLT 1 (BigSize type and length, "it's OK to be
 * odd"). Normative text: SPEC 2 (`spec/relay.md`).
 *
 * A mailbox is a secp256k1 key; its id is the 32-byte x-only public key. The
 * address adds where to reach it: one or more relay URLs, and flags.
 * @module
 */
import { bech32m } from '@scure/base';
import { abytes, bytesToHex, concatBytes, utf8 } from '../base/bytes.js';
import { ErrorCode, fail } from '../base/errors.js';
import { parsePublicKey } from '../crypto/bip340.js';

/** Human-readable part of every mailbox address. */
export const MAILBOX_ADDRESS_HRP = 'lnmb';
/** Longest address string accepted (characters). Bounds decoding work on hostile input. */
export const ADDRESS_MAX_LEN = 4096;
/** Most relay records one address may carry. */
export const ADDRESS_MAX_RELAYS = 8;
/** Longest relay URL, in UTF-8 bytes. */
export const ADDRESS_MAX_RELAY_URL_LEN = 256;

/** TLV record types of a mailbox address (SPEC 2.3). */
export const AddressTlvType = {
  /** 32-byte x-only public key; exactly once. */
  PUBLIC_KEY: 0,
  /** Relay URL (UTF-8, http or https); 1..8 times, consecutive, in preference order. */
  RELAY: 2,
  /** Flags: minimal big-endian u32 (1..4 bytes, non-zero); at most once. */
  FLAGS: 4,
} as const;

/** A decoded mailbox address. */
export interface MailboxAddress {
  /** 32-byte x-only public key of the mailbox. */
  publicKey: Uint8Array;
  /** Mailbox id: the public key as lowercase hex (the relay API's `:mailbox`). */
  mailboxId: string;
  /** Relay base URLs, in the address's order (the recipient's preference). */
  relays: string[];
  /** Flag bits (0 when absent). Even bits are required, odd bits optional; v1 defines none. */
  flags: number;
}

/** Input of {@link encodeMailboxAddress}. */
export interface MailboxAddressInput {
  /** 32-byte x-only public key of the mailbox. */
  publicKey: Uint8Array;
  /** 1..8 distinct http(s) relay base URLs, most preferred first. */
  relays: string[];
  /** Flag bits (u32, default 0). Only odd (optional) bits may be set in v1. */
  flags?: number;
}

/** Flag bits this implementation understands. v1 defines none. */
const KNOWN_FLAGS = 0;
/** Mask of the even ("required") bits of a u32. */
const EVEN_BITS = 0x55555555;

/**
 * Encodes a mailbox address. Relays keep their order; duplicates are refused.
 * @throws LnMailboxError INVALID_TYPE, INVALID_LENGTH, INVALID_PUBLIC_KEY, INVALID_RANGE,
 *   ADDRESS_BAD_RELAY_URL, ADDRESS_BAD_TLV (a required flag bit this version does not know)
 */
export function encodeMailboxAddress(input: MailboxAddressInput): string {
  if (typeof input !== 'object' || input === null) fail(ErrorCode.INVALID_TYPE, 'address: expected an object');
  const publicKey = checkPublicKey(abytes(input.publicKey, 32, 'publicKey'));
  if (!Array.isArray(input.relays)) fail(ErrorCode.INVALID_TYPE, 'relays: expected an array of URLs');
  const relays = checkRelayList(input.relays.map((u: unknown) => relayUrlBytes(u)));
  const flags = input.flags ?? 0;
  if (typeof flags !== 'number') fail(ErrorCode.INVALID_TYPE, `flags: expected number, got ${typeof flags}`);
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xffffffff) fail(ErrorCode.INVALID_RANGE, `flags: expected u32, got ${flags}`);
  checkFlags(flags);

  const records: Uint8Array[] = [record(AddressTlvType.PUBLIC_KEY, publicKey)];
  for (const r of relays) records.push(record(AddressTlvType.RELAY, r));
  if (flags !== 0) records.push(record(AddressTlvType.FLAGS, minimalU32(flags)));
  // At most 34 + 8 × 260 + 6 bytes of data, so the string stays far below ADDRESS_MAX_LEN.
  return bech32m.encode(MAILBOX_ADDRESS_HRP, bech32m.toWords(concatBytes(...records)), false);
}

/**
 * Decodes and fully validates a mailbox address. All-lowercase and
 * all-uppercase strings are accepted (BIP173); mixed case is not.
 * @throws LnMailboxError ADDRESS_BAD_ENCODING, ADDRESS_BAD_HRP, ADDRESS_BAD_TLV,
 *   ADDRESS_BAD_RELAY_URL, INVALID_PUBLIC_KEY, INVALID_TYPE
 */
export function decodeMailboxAddress(s: string): MailboxAddress {
  if (typeof s !== 'string') fail(ErrorCode.INVALID_TYPE, `address: expected string, got ${typeof s}`);
  if (s.length > ADDRESS_MAX_LEN) fail(ErrorCode.ADDRESS_BAD_ENCODING, `address is ${s.length} characters, maximum ${ADDRESS_MAX_LEN}`);
  let prefix: string;
  let data: Uint8Array;
  try {
    const d = bech32m.decode(s, false);
    prefix = d.prefix;
    data = bech32m.fromWords(d.words);
  } catch (e) {
    fail(ErrorCode.ADDRESS_BAD_ENCODING, 'address is not valid bech32m (checksum, charset, case or padding)', e);
  }
  if (prefix !== MAILBOX_ADDRESS_HRP) fail(ErrorCode.ADDRESS_BAD_HRP, `address prefix is "${prefix}", expected "${MAILBOX_ADDRESS_HRP}"`);
  return parseTlv(data);
}

// --- TLV stream ----------------------------------------------------------------

function parseTlv(data: Uint8Array): MailboxAddress {
  let publicKey: Uint8Array | undefined;
  const relays: Uint8Array[] = [];
  let flags = 0;
  let prev = -1n;
  let pos = 0;
  while (pos < data.length) {
    const t = readBigSize(data, pos, 'type');
    const l = readBigSize(data, t.next, 'length');
    if (l.value > BigInt(data.length - l.next))
      fail(ErrorCode.ADDRESS_BAD_TLV, `record type ${t.value}: length ${l.value} overruns the stream`);
    const value = data.subarray(l.next, l.next + Number(l.value));
    pos = l.next + Number(l.value);
    // Strictly increasing types make the encoding canonical; only relay
    // records repeat, and then consecutively, in preference order.
    const repeat = t.value === prev && t.value === BigInt(AddressTlvType.RELAY);
    if (t.value <= prev && !repeat) fail(ErrorCode.ADDRESS_BAD_TLV, `record type ${t.value} out of order or duplicated`);
    prev = t.value;
    switch (t.value) {
      case BigInt(AddressTlvType.PUBLIC_KEY):
        if (value.length !== 32) fail(ErrorCode.ADDRESS_BAD_TLV, `public key record is ${value.length} bytes, expected 32`);
        publicKey = checkPublicKey(value.slice());
        break;
      case BigInt(AddressTlvType.RELAY):
        relays.push(value);
        break;
      case BigInt(AddressTlvType.FLAGS):
        if (value.length < 1 || value.length > 4 || value[0] === 0)
          fail(ErrorCode.ADDRESS_BAD_TLV, 'flags record must be a minimal, non-zero u32 of 1..4 bytes');
        flags = checkFlags(value.reduce((acc, b) => acc * 256 + b, 0));
        break;
      default:
        // BOLT 1: unknown odd records are skipped, unknown even ones are fatal.
        if (t.value % 2n === 0n) fail(ErrorCode.ADDRESS_BAD_TLV, `unknown required record type ${t.value}`);
    }
  }
  if (publicKey === undefined) fail(ErrorCode.ADDRESS_BAD_TLV, 'address has no public key record');
  if (relays.length === 0) fail(ErrorCode.ADDRESS_BAD_TLV, 'address has no relay record');
  const urls = checkRelayList(relays).map((b) => decodeUtf8(b));
  for (const u of urls) checkAddressRelayUrl(u);
  return { publicKey, mailboxId: bytesToHex(publicKey), relays: urls, flags };
}

/** One TLV record with BigSize type and length. */
function record(type: number, value: Uint8Array): Uint8Array {
  return concatBytes(writeBigSize(type), writeBigSize(value.length), value);
}

/** BOLT 1 BigSize: 1, 3, 5 or 9 bytes, big-endian, minimal. */
function writeBigSize(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n);
  if (n <= 0xffff) return Uint8Array.of(0xfd, n >>> 8, n & 0xff);
  return Uint8Array.of(0xfe, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff); // lengths never exceed u32 here
}

function readBigSize(b: Uint8Array, pos: number, what: string): { value: bigint; next: number } {
  const first = b[pos];
  if (first === undefined) fail(ErrorCode.ADDRESS_BAD_TLV, `truncated ${what}`);
  const width = first === 0xff ? 8 : first === 0xfe ? 4 : first === 0xfd ? 2 : 0;
  if (width === 0) return { value: BigInt(first), next: pos + 1 };
  if (pos + 1 + width > b.length) fail(ErrorCode.ADDRESS_BAD_TLV, `truncated ${what}`);
  let v = 0n;
  for (let i = 1; i <= width; i++) v = (v << 8n) | BigInt(b[pos + i]!);
  const min = width === 2 ? 0xfdn : width === 4 ? 0x10000n : 0x100000000n;
  if (v < min) fail(ErrorCode.ADDRESS_BAD_TLV, `non-minimal BigSize ${what}`);
  return { value: v, next: pos + 1 + width };
}

function minimalU32(n: number): Uint8Array {
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v % 256);
  return Uint8Array.from(out);
}

// --- field checks ----------------------------------------------------------------

function checkPublicKey(pk: Uint8Array): Uint8Array {
  // BIP340 lift_x: an x-only key that is no curve point could never receive mail.
  parsePublicKey(pk, 'publicKey');
  return pk;
}

/** BOLT 9 style: a set even bit this version does not know means "do not use this address". */
function checkFlags(flags: number): number {
  const unknownRequired = flags & EVEN_BITS & ~KNOWN_FLAGS;
  if (unknownRequired !== 0)
    fail(ErrorCode.ADDRESS_BAD_TLV, `address requires unknown feature bits 0x${(unknownRequired >>> 0).toString(16)}`);
  return flags;
}

/** A relay URL as an address stores it: verbatim, once {@link checkAddressRelayUrl} accepts it. */
function relayUrlBytes(u: unknown): Uint8Array {
  checkAddressRelayUrl(u);
  return utf8(u as string);
}

/**
 * {@link normalizeRelayUrl}'s rule, plus the scheme in lowercase: an address
 * stores the URL verbatim and is compared as a string (SPEC 2.3), so it
 * admits one spelling of the scheme. A client's own relay list is normalized
 * instead, so it may spell the scheme in any case.
 */
function checkAddressRelayUrl(u: unknown): void {
  normalizeRelayUrl(u);
  if (!/^https?:\/\//.test(u as string)) fail(ErrorCode.ADDRESS_BAD_RELAY_URL, 'relay URL must start with http:// or https:// (lowercase)');
}

function decodeUtf8(b: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(b);
  } catch (e) {
    fail(ErrorCode.ADDRESS_BAD_RELAY_URL, 'relay URL is not valid UTF-8', e);
  }
}

function checkRelayList(relays: Uint8Array[]): Uint8Array[] {
  if (relays.length === 0) fail(ErrorCode.ADDRESS_BAD_RELAY_URL, 'an address needs at least one relay');
  if (relays.length > ADDRESS_MAX_RELAYS) fail(ErrorCode.ADDRESS_BAD_RELAY_URL, `${relays.length} relays, at most ${ADDRESS_MAX_RELAYS}`);
  const seen = new Set<string>();
  for (const r of relays) {
    if (r.length === 0 || r.length > ADDRESS_MAX_RELAY_URL_LEN)
      fail(ErrorCode.ADDRESS_BAD_RELAY_URL, `relay URL is ${r.length} bytes, expected 1..${ADDRESS_MAX_RELAY_URL_LEN}`);
    const h = bytesToHex(r);
    if (seen.has(h)) fail(ErrorCode.ADDRESS_BAD_RELAY_URL, 'duplicate relay URL');
    seen.add(h);
  }
  return relays;
}

/**
 * The one relay-URL rule (SPEC 2.4), for the relays of an address and for
 * the relays a client is told to use: an absolute `http://` or `https://`
 * URL of 1..{@link ADDRESS_MAX_RELAY_URL_LEN} UTF-8
 * bytes with a host, no credentials (an address is shared publicly), no
 * query or fragment (the SPEC 5 paths are appended to it: a query or fragment
 * would be dropped or misplaced, so it is refused, never stripped) and no
 * whitespace or control characters. A path prefix is allowed (a relay behind
 * a reverse proxy).
 *
 * An address stores the URL verbatim; the normalized form returned here is
 * the key under which a client keeps per-relay state (cursor, cached info),
 * so two spellings of one relay share it: the WHATWG origin (lowercase host,
 * default port dropped) plus the path without trailing slashes.
 * @returns the normalized base URL, e.g. `https://relay.example/mbx`
 * @throws LnMailboxError ADDRESS_BAD_RELAY_URL
 */
export function normalizeRelayUrl(u: unknown): string {
  if (typeof u !== 'string') fail(ErrorCode.ADDRESS_BAD_RELAY_URL, `relay URL: expected string, got ${typeof u}`);
  const len = utf8(u).length;
  if (len === 0 || len > ADDRESS_MAX_RELAY_URL_LEN)
    fail(ErrorCode.ADDRESS_BAD_RELAY_URL, `relay URL is ${len} bytes, expected 1..${ADDRESS_MAX_RELAY_URL_LEN}`);
  if (!/^https?:\/\//i.test(u)) fail(ErrorCode.ADDRESS_BAD_RELAY_URL, 'relay URL must start with http:// or https://');
  // eslint-disable-next-line no-control-regex
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u0020\u007f-\u009f]/.test(u)) fail(ErrorCode.ADDRESS_BAD_RELAY_URL, 'relay URL contains whitespace or control characters');
  let url: URL;
  try {
    url = new URL(u);
  } catch (e) {
    fail(ErrorCode.ADDRESS_BAD_RELAY_URL, 'relay URL does not parse', e);
  }
  if (url.hostname === '') fail(ErrorCode.ADDRESS_BAD_RELAY_URL, 'relay URL has no host');
  if (url.username !== '' || url.password !== '') fail(ErrorCode.ADDRESS_BAD_RELAY_URL, 'relay URL must not carry credentials');
  if (u.includes('#') || u.includes('?')) fail(ErrorCode.ADDRESS_BAD_RELAY_URL, 'relay URL must not carry a query or fragment');
  return url.origin + url.pathname.replace(/\/+$/, '');
}
