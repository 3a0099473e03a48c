/**
 * A tiny schema-driven binary codec for payment messages (SPEC 6).
 * Fields are written in schema order with fixed widths, big-endian integers
 * and u16-length-prefixed variable fields; there is no padding and no
 * optional field, so every message has exactly one encoding. Trailing bytes
 * are rejected. Errors are PAYMENT_BAD_MESSAGE.
 * @module
 */
import { ErrorCode, fail } from '../base/errors.js';

/** Wire kinds of a field. */
export type FieldKind =
  | 'u8'
  | 'u16'
  | 'u32'
  | 'u64' // JS number, must be a safe integer
  | 'b32'
  | 'b33'
  | 'b64'
  | 'b65'
  | 'bytes' // u16 length prefix
  | 'str'; // u16 length prefix, UTF-8

/** TypeScript type of a decoded field of kind K. */
export type FieldValue<K extends FieldKind> = K extends 'u8' | 'u16' | 'u32' | 'u64' ? number : K extends 'str' ? string : Uint8Array;

/** A message schema: ordered list of `[name, kind]`. */
export type Schema = readonly (readonly [string, FieldKind])[];

/** The decoded object type of a schema. */
export type Decoded<S extends Schema> = { [F in S[number] as F[0]]: FieldValue<F[1]> };

const FIXED: Partial<Record<FieldKind, number>> = { u8: 1, u16: 2, u32: 4, u64: 8, b32: 32, b33: 33, b64: 64, b65: 65 };
const MAX_VAR = 0xffff;

function bad(msg: string): never {
  return fail(ErrorCode.PAYMENT_BAD_MESSAGE, msg);
}

/** Encodes `value` by `schema`. Throws PAYMENT_BAD_MESSAGE on any missing or ill-typed field. */
export function encodeSchema<S extends Schema>(schema: S, value: Decoded<S>): Uint8Array {
  const parts: Uint8Array[] = [];
  let len = 0;
  const v = value as Record<string, unknown>;
  for (const [name, kind] of schema) {
    const x = v[name];
    let out: Uint8Array;
    switch (kind) {
      case 'u8':
      case 'u16':
      case 'u32':
      case 'u64': {
        const width = FIXED[kind]!;
        if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0 || (width < 8 && x >= 2 ** (8 * width)))
          bad(`${name}: expected ${kind}, got ${String(x)}`);
        out = new Uint8Array(width);
        let n = BigInt(x);
        for (let i = width - 1; i >= 0; i--, n >>= 8n) out[i] = Number(n & 0xffn);
        break;
      }
      case 'str':
      case 'bytes': {
        const raw = kind === 'str' ? (typeof x === 'string' ? new TextEncoder().encode(x) : undefined) : x;
        if (!(raw instanceof Uint8Array)) bad(`${name}: expected ${kind === 'str' ? 'string' : 'Uint8Array'}`);
        if (raw.length > MAX_VAR) bad(`${name}: ${raw.length} bytes exceeds ${MAX_VAR}`);
        out = new Uint8Array(2 + raw.length);
        out[0] = raw.length >> 8;
        out[1] = raw.length & 0xff;
        out.set(raw, 2);
        break;
      }
      default: {
        const width = FIXED[kind]!;
        if (!(x instanceof Uint8Array) || x.length !== width) bad(`${name}: expected ${width} bytes`);
        out = x;
      }
    }
    parts.push(out);
    len += out.length;
  }
  const buf = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    buf.set(p, off);
    off += p.length;
  }
  return buf;
}

/** Decodes `bytes` by `schema`; rejects truncation and trailing bytes. */
export function decodeSchema<S extends Schema>(schema: S, bytes: Uint8Array): Decoded<S> {
  if (!(bytes instanceof Uint8Array)) bad('expected Uint8Array');
  const out: Record<string, unknown> = {};
  let off = 0;
  const need = (n: number, name: string) => {
    if (off + n > bytes.length) bad(`${name}: truncated`);
  };
  for (const [name, kind] of schema) {
    const width = FIXED[kind];
    if (kind === 'u8' || kind === 'u16' || kind === 'u32' || kind === 'u64') {
      need(width!, name);
      let n = 0n;
      for (let i = 0; i < width!; i++) n = (n << 8n) | BigInt(bytes[off + i]!);
      if (n > BigInt(Number.MAX_SAFE_INTEGER)) bad(`${name}: integer too large`);
      out[name] = Number(n);
      off += width!;
    } else if (kind === 'bytes' || kind === 'str') {
      need(2, name);
      const l = (bytes[off]! << 8) | bytes[off + 1]!;
      off += 2;
      need(l, name);
      const raw = bytes.slice(off, off + l);
      off += l;
      if (kind === 'str') {
        try {
          out[name] = new TextDecoder('utf-8', { fatal: true }).decode(raw);
        } catch {
          bad(`${name}: invalid UTF-8`);
        }
      } else out[name] = raw;
    } else {
      need(width!, name);
      out[name] = bytes.slice(off, off + width!);
      off += width!;
    }
  }
  if (off !== bytes.length) bad(`${bytes.length - off} trailing bytes`);
  return out as Decoded<S>;
}
