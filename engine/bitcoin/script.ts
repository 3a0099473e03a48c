/**
 * The tapscript leaves of our outputs (BIP342 tapscript, BIP118 keys, BIP65
 * CLTV, BIP112 CSV), encoded with `@scure/btc-signer`'s `Script`, and a strict
 * parser that recognises exactly these shapes in their minimal encoding.
 *
 * Eltoo (SPEC section 7; Decker–Russell–Osuntokun, "eltoo", with taproot leaves):
 * - rebind(k):  `<500_000_000 + k> CLTV DROP <01‖A> CHECKSIGVERIFY <01‖B> CHECKSIG`,
 *   spendable by any update whose nLockTime is ≥ 500_000_000 + k, i.e. state ≥ k.
 * - settle(d):  `<d> CSV DROP <01‖A> CHECKSIGVERIFY <01‖B> CHECKSIG`.
 * PTLC (ptlc-output.ts):
 * - claim:      `<01‖S> CHECKSIGVERIFY <01‖B> CHECKSIG`,
 * - refund(h):  `<h> CLTV DROP <S> CHECKSIG` (a plain BIP340 key: S signs it
 *   itself at broadcast time, so it needs no ANYPREVOUT, and BIP118 advises
 *   against BIP118 keys where they are not needed).
 * @module
 */
import { Script, ScriptNum } from '@scure/btc-signer';
import { abytes, bytesToHex, concatBytes, equalBytes } from '../../base/bytes.js';
import { ErrorCode, LnMailboxError, fail } from '../../base/errors.js';
import { parsePublicKey } from '../../crypto/index.js';
import { LOCKTIME_THRESHOLD } from './transaction.js';

/**
 * The highest state number. Update n has nLockTime 500_000_000 + n, a UNIX
 * time; capping n keeps 500_000_000 + n + 1 ≤ 1_200_000_001 (January 2008),
 * before Bitcoin's genesis block, so every update is final at every height of
 * the chain and only the scripts' CLTV orders the states.
 */
export const MAX_STATE = 700_000_000;
/** Largest block-based BIP68 relative lock (16 bits). */
export const MAX_CSV_DELAY = 0xffff;

/** The two parties' x-only keys of a 2-of-2 leaf; `a` is checked first. */
export interface KeyPair2 {
  readonly a: Uint8Array;
  readonly b: Uint8Array;
}

/**
 * Validates a 32-byte x-only key that lies on secp256k1 (INVALID_LENGTH /
 * INVALID_PUBLIC_KEY otherwise): a script with an off-curve key is unspendable.
 */
export function assertXOnlyKey(key: unknown, name = 'public key'): Uint8Array {
  const k = abytes(key, 32, name);
  const hex = bytesToHex(k);
  if (!validKeys.has(hex)) {
    parsePublicKey(k, name);
    if (validKeys.size >= VALID_KEYS_MAX) validKeys.clear();
    validKeys.add(hex);
  }
  return k.slice();
}

/**
 * x-only keys already found on the curve. A channel builds its scripts
 * from the same few keys at every state, and lifting x (a square root mod p)
 * was a quarter of a hub's CPU per payment. The set holds public keys only,
 * and only keys that passed: an invalid key is checked, and refused, every
 * time. Bounded: cleared when full.
 */
const validKeys = new Set<string>();
const VALID_KEYS_MAX = 4096;

/** The 33-byte BIP118 public key `0x01 ‖ x` for an x-only key. */
export function bip118Key(xonly: Uint8Array): Uint8Array {
  return concatBytes(new Uint8Array([0x01]), assertXOnlyKey(xonly));
}

/** Validates a state number: an integer in [0, MAX_STATE]. */
export function assertState(n: unknown, name = 'state'): number {
  if (typeof n !== 'number') fail(ErrorCode.INVALID_TYPE, `${name}: expected number, got ${typeof n}`);
  if (!Number.isInteger(n) || n < 0 || n > MAX_STATE) fail(ErrorCode.INVALID_RANGE, `${name}: ${n} not in [0, ${MAX_STATE}]`);
  return n;
}

/** Validates a block-based CSV delay: an integer in [1, 65535]. */
export function assertCsvDelay(d: unknown): number {
  if (typeof d !== 'number') fail(ErrorCode.INVALID_TYPE, `csv delay: expected number, got ${typeof d}`);
  if (!Number.isInteger(d) || d < 1 || d > MAX_CSV_DELAY)
    fail(ErrorCode.INVALID_RANGE, `csv delay: ${d} not in [1, ${MAX_CSV_DELAY}] blocks`);
  return d;
}

/** Validates an absolute block-height timeout: an integer in [1, 499_999_999]. */
export function assertHeightTimeout(h: unknown): number {
  if (typeof h !== 'number') fail(ErrorCode.INVALID_TYPE, `timeout: expected number, got ${typeof h}`);
  if (!Number.isInteger(h) || h < 1 || h >= LOCKTIME_THRESHOLD) fail(ErrorCode.INVALID_RANGE, `timeout: ${h} is not a block height`);
  return h;
}

function assertPair(keys: KeyPair2): { a: Uint8Array; b: Uint8Array } {
  if (typeof keys !== 'object' || keys === null) fail(ErrorCode.INVALID_TYPE, 'keys: expected { a, b }');
  const a = assertXOnlyKey(keys.a, 'keys.a');
  const b = assertXOnlyKey(keys.b, 'keys.b');
  // One key twice is a 1-of-1 wearing a 2-of-2 costume.
  if (equalBytes(a, b)) fail(ErrorCode.INVALID_PUBLIC_KEY, 'keys.a and keys.b must differ');
  return { a, b };
}

const multisig2 = (a: Uint8Array, b: Uint8Array) => [a, 'CHECKSIGVERIFY', b, 'CHECKSIG'] as const;

/** Rebind leaf: spendable by an update with state ≥ `minState` (funding: 0; update n's output: n + 1). */
export function rebindLeaf(minState: number, keys: KeyPair2): Uint8Array {
  const k = assertPair(keys);
  const lock = LOCKTIME_THRESHOLD + assertState(minState, 'minState');
  return Script.encode([lock, 'CHECKLOCKTIMEVERIFY', 'DROP', ...multisig2(bip118Key(k.a), bip118Key(k.b))]);
}

/** Settle leaf: spendable `csvDelay` blocks after the update confirmed. */
export function settleLeaf(csvDelay: number, keys: KeyPair2): Uint8Array {
  const k = assertPair(keys);
  return Script.encode([assertCsvDelay(csvDelay), 'CHECKSEQUENCEVERIFY', 'DROP', ...multisig2(bip118Key(k.a), bip118Key(k.b))]);
}

/** PTLC claim leaf: the payer's and the payee's BIP118 signatures. */
export function ptlcClaimLeaf(payer: Uint8Array, payee: Uint8Array): Uint8Array {
  const k = assertPair({ a: payer, b: payee });
  return Script.encode([...multisig2(bip118Key(k.a), bip118Key(k.b))]);
}

/** PTLC refund leaf: the payer alone (plain BIP340 key) from block `timeout` on. */
export function ptlcRefundLeaf(timeout: number, payer: Uint8Array): Uint8Array {
  return Script.encode([assertHeightTimeout(timeout), 'CHECKLOCKTIMEVERIFY', 'DROP', assertXOnlyKey(payer, 'payer'), 'CHECKSIG']);
}

/** A recognised leaf script. */
export type LeafScript =
  | { readonly kind: 'rebind'; readonly minState: number; readonly keys: KeyPair2 }
  | { readonly kind: 'settle'; readonly csvDelay: number; readonly keys: KeyPair2 }
  | { readonly kind: 'ptlc-claim'; readonly payer: Uint8Array; readonly payee: Uint8Array }
  | { readonly kind: 'ptlc-refund'; readonly timeout: number; readonly payer: Uint8Array };

type Op = string | number | Uint8Array;

function num(op: Op | undefined): number | null {
  if (typeof op === 'number') return op;
  if (op instanceof Uint8Array) {
    try {
      return Number(ScriptNum(5, true).decode(op));
    } catch {
      return null;
    }
  }
  return null;
}
const key118 = (op: Op | undefined) => (op instanceof Uint8Array && op.length === 33 && op[0] === 0x01 ? op.slice(1) : null);
const key32 = (op: Op | undefined) => (op instanceof Uint8Array && op.length === 32 ? op.slice() : null);

function recognise(ops: Op[]): { leaf: LeafScript; encode: () => Uint8Array } | null {
  const is = (i: number, name: string) => ops[i] === name;
  if (ops.length === 7 && is(2, 'DROP') && is(4, 'CHECKSIGVERIFY') && is(6, 'CHECKSIG')) {
    const n = num(ops[0]);
    const a = key118(ops[3]);
    const b = key118(ops[5]);
    if (n === null || a === null || b === null) return null;
    const keys = { a, b };
    if (is(1, 'CHECKLOCKTIMEVERIFY') && n >= LOCKTIME_THRESHOLD) {
      const minState = n - LOCKTIME_THRESHOLD;
      return { leaf: { kind: 'rebind', minState, keys }, encode: () => rebindLeaf(minState, keys) };
    }
    if (is(1, 'CHECKSEQUENCEVERIFY')) return { leaf: { kind: 'settle', csvDelay: n, keys }, encode: () => settleLeaf(n, keys) };
    return null;
  }
  if (ops.length === 4 && is(1, 'CHECKSIGVERIFY') && is(3, 'CHECKSIG')) {
    const payer = key118(ops[0]);
    const payee = key118(ops[2]);
    if (payer === null || payee === null) return null;
    return { leaf: { kind: 'ptlc-claim', payer, payee }, encode: () => ptlcClaimLeaf(payer, payee) };
  }
  if (ops.length === 5 && is(1, 'CHECKLOCKTIMEVERIFY') && is(2, 'DROP') && is(4, 'CHECKSIG')) {
    const timeout = num(ops[0]);
    const payer = key32(ops[3]);
    if (timeout === null || payer === null) return null;
    return { leaf: { kind: 'ptlc-refund', timeout, payer }, encode: () => ptlcRefundLeaf(timeout, payer) };
  }
  return null;
}

/**
 * Recognises one of our leaf scripts, exactly and in minimal encoding (it
 * re-encodes and compares), and validates its keys and numbers. Throws
 * TX_INVALID for anything else, so a peer cannot slip a look-alike script
 * (extra opcodes, non-minimal pushes, an off-curve key) past us.
 */
export function parseLeafScript(script: Uint8Array): LeafScript {
  abytes(script, undefined, 'leaf script');
  let ops: Op[];
  try {
    ops = Script.decode(script) as Op[];
  } catch (e) {
    throw new LnMailboxError(ErrorCode.TX_INVALID, 'leaf script: does not decode', { cause: e });
  }
  const r = recognise(ops);
  if (r === null) fail(ErrorCode.TX_INVALID, 'leaf script: not one of the ln-mailbox leaf shapes');
  let canonical: Uint8Array;
  try {
    canonical = r.encode();
  } catch (e) {
    // The builders reject bad keys and numbers with their own codes; to a
    // parser they all mean "this is not one of our scripts".
    throw new LnMailboxError(ErrorCode.TX_INVALID, `leaf script: ${(e as Error).message}`, { cause: e });
  }
  if (!equalBytes(canonical, script)) fail(ErrorCode.TX_INVALID, 'leaf script: non-canonical encoding');
  return r.leaf;
}
