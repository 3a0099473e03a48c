/**
 * Byte helpers and assertion helpers used at every door of `protocol/` and
 * `engine/` (in the style of noble's `abytes`). Each throws an
 * {@link LnMailboxError} naming what was expected and what came in.
 * @module
 */
import { bytesToHex, hexToBytes as nobleHexToBytes, concatBytes } from '@noble/hashes/utils.js';
import { ErrorCode, fail } from './errors.js';

export { bytesToHex, concatBytes };

/** Asserts `b` is a Uint8Array (of `len` bytes when given) and returns it. */
export function abytes(b: unknown, len?: number, name = 'value'): Uint8Array {
  if (!(b instanceof Uint8Array)) fail(ErrorCode.INVALID_TYPE, `${name}: expected Uint8Array, got ${typeName(b)}`);
  if (len !== undefined && b.length !== len) fail(ErrorCode.INVALID_LENGTH, `${name}: expected ${len} bytes, got ${b.length}`);
  return b;
}

/** Parses lowercase or uppercase hex of an even length; `len` in bytes when given. */
export function hexToBytes(hex: unknown, len?: number, name = 'hex'): Uint8Array {
  if (typeof hex !== 'string') fail(ErrorCode.INVALID_TYPE, `${name}: expected hex string, got ${typeName(hex)}`);
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) fail(ErrorCode.INVALID_HEX, `${name}: malformed hex`);
  const out = nobleHexToBytes(hex);
  if (len !== undefined && out.length !== len) fail(ErrorCode.INVALID_LENGTH, `${name}: expected ${len} bytes, got ${out.length}`);
  return out;
}

/** Constant-time-ish equality of two byte arrays (length leak only). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** UTF-8 encodes a string. */
export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** Big-endian unsigned integer of `n` bytes. */
export function uintBE(value: number | bigint, n: number): Uint8Array {
  let v = BigInt(value);
  if (v < 0n || v >= 1n << BigInt(8 * n)) fail(ErrorCode.INVALID_RANGE, `integer ${value} does not fit ${n} bytes`);
  const out = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Reads a big-endian unsigned integer of `n` bytes at `offset`. */
export function readUintBE(b: Uint8Array, offset: number, n: number): bigint {
  if (offset + n > b.length) fail(ErrorCode.INVALID_LENGTH, `need ${n} bytes at offset ${offset}, have ${b.length - offset}`);
  let v = 0n;
  for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(b[offset + i]!);
  return v;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'object' ? ((v as object).constructor?.name ?? 'object') : typeof v;
}
