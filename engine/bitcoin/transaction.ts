/**
 * Bitcoin transaction model: BIP141/BIP144 serialization (through
 * `@scure/btc-signer`'s audited `RawTx` coder), txids, amounts and the P2TR
 * output script of BIP341. Everything in `engine/bitcoin` speaks this one plain,
 * immutable shape so the sighash code, the builders and the test chain model
 * agree byte for byte on what a transaction is.
 *
 * Two amount forms, one conversion: a transaction amount (output value,
 * prevout amount) is a bigint, the serialized u64; a channel amount (channel
 * parameters, balances, PTLC amounts, fees) is a safe-integer number, its
 * wire and persisted form (SPEC 6.2 u64 ≤ 2^53 − 1). The builders turn the
 * second into the first with {@link satsToAmount} where they create outputs.
 * The amount and locktime constants every engine folder uses live here.
 * @module
 */
import { RawOldTx, RawTx } from '@scure/btc-signer/script.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { abytes, bytesToHex, concatBytes, hexToBytes } from '../../base/bytes.js';
import { ErrorCode, LnMailboxError, fail } from '../../base/errors.js';

/**
 * 21 million BTC in satoshis: no amount may exceed it (consensus `MAX_MONEY`).
 * A JS number because channel amounts are numbers (their wire and persisted
 * form); it is below 2^53, so every amount up to it is a safe integer.
 */
export const MAX_MONEY = 2_100_000_000_000_000;
/**
 * Smallest output our builders create: the P2TR dust limit at the default
 * relay fee (330 sats). Smaller outputs are non-standard, so a transaction
 * carrying one would not relay.
 */
export const DUST_LIMIT = 330;

/** nSequence that disables both nLockTime and BIP68 for an input. */
export const SEQUENCE_FINAL = 0xffff_ffff;
/**
 * nSequence that enables nLockTime (not final) but disables BIP68 relative
 * locks (bit 31 set), which also makes every `OP_CHECKSEQUENCEVERIFY` fail.
 */
export const SEQUENCE_LOCKTIME_ONLY = 0xffff_fffe;
/** nLockTime values at or above this are UNIX times, below it block heights (BIP65). */
export const LOCKTIME_THRESHOLD = 500_000_000;

/** A reference to a transaction output. */
export interface Outpoint {
  /** 32-byte txid in display order (as block explorers print it). */
  readonly txid: Uint8Array;
  /** Output index. */
  readonly vout: number;
}

/** What a signature may commit to about a spent output (BIP341 `amount`, `scriptPubKey`). */
export interface Prevout {
  /** Value in satoshis. */
  readonly amount: bigint;
  /** The output's scriptPubKey (34 bytes for P2TR). */
  readonly scriptPubKey: Uint8Array;
}

/** One transaction input. */
export interface TxInput extends Outpoint {
  /** nSequence (BIP68 relative lock, or one of the SEQUENCE_* constants). */
  readonly sequence: number;
  /** Witness stack, bottom first; empty while unsigned. */
  readonly witness: readonly Uint8Array[];
}

/** One transaction output. */
export interface TxOutput {
  /** Value in satoshis. */
  readonly amount: bigint;
  /** scriptPubKey. */
  readonly script: Uint8Array;
}

/** A segwit transaction. Our builders never produce a scriptSig (taproot only). */
export interface BitcoinTx {
  /** nVersion; 2 for every transaction we build (BIP68 needs ≥ 2). */
  readonly version: number;
  /** nLockTime. */
  readonly lockTime: number;
  /** Inputs. */
  readonly inputs: readonly TxInput[];
  /** Outputs. */
  readonly outputs: readonly TxOutput[];
}

/**
 * Validates a channel-level amount in satoshis: a safe integer number in
 * [0, MAX_MONEY] (INVALID_TYPE / INVALID_RANGE otherwise). Channel
 * parameters, balances, PTLC amounts and fees are such numbers; a value
 * outside that range can never appear in a valid transaction, and a
 * fractional satoshi does not exist.
 */
export function assertSats(value: unknown, name = 'amount'): number {
  if (typeof value !== 'number') fail(ErrorCode.INVALID_TYPE, `${name}: expected a number of satoshis, got ${typeof value}`);
  if (!Number.isSafeInteger(value)) fail(ErrorCode.INVALID_RANGE, `${name}: ${value} is not an integer number of satoshis`);
  if (value < 0) fail(ErrorCode.INVALID_RANGE, `${name}: ${value} is negative`);
  if (value > MAX_MONEY) fail(ErrorCode.INVALID_RANGE, `${name}: ${value} exceeds 21,000,000 BTC`);
  return value;
}

/**
 * The one conversion from a channel amount (number sats) to a transaction
 * amount (the serialized u64, a bigint): the eltoo and PTLC builders call it
 * where they create an output. Validates like {@link assertSats}.
 */
export function satsToAmount(sats: number, name = 'amount'): bigint {
  return BigInt(assertSats(sats, name));
}

/**
 * Validates a transaction amount (an output value, a prevout amount): a bigint
 * in [0, MAX_MONEY] (INVALID_TYPE / INVALID_RANGE otherwise).
 */
export function assertAmount(value: unknown, name = 'amount'): bigint {
  if (typeof value !== 'bigint') fail(ErrorCode.INVALID_TYPE, `${name}: expected bigint satoshis, got ${typeof value}`);
  if (value < 0n) fail(ErrorCode.INVALID_RANGE, `${name}: ${value} is negative`);
  if (value > MAX_MONEY) fail(ErrorCode.INVALID_RANGE, `${name}: ${value} exceeds 21,000,000 BTC`);
  return value;
}

/** Validates an unsigned 32-bit integer (nLockTime, nSequence, vout). */
export function assertU32(value: unknown, name: string): number {
  if (typeof value !== 'number') fail(ErrorCode.INVALID_TYPE, `${name}: expected number, got ${typeof value}`);
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) fail(ErrorCode.INVALID_RANGE, `${name}: ${value} is not a u32`);
  return value;
}

/** Validates an outpoint (32-byte txid, u32 vout) and returns a copy. */
export function assertOutpoint(o: unknown, name = 'outpoint'): Outpoint {
  if (typeof o !== 'object' || o === null) fail(ErrorCode.INVALID_TYPE, `${name}: expected { txid, vout }`);
  const { txid, vout } = o as Outpoint;
  return { txid: abytes(txid, 32, `${name}.txid`).slice(), vout: assertU32(vout, `${name}.vout`) };
}

/** Validates a prevout (amount in range, non-empty scriptPubKey). */
export function assertPrevout(p: unknown, name = 'prevout'): Prevout {
  if (typeof p !== 'object' || p === null) fail(ErrorCode.INVALID_TYPE, `${name}: expected { amount, scriptPubKey }`);
  const { amount, scriptPubKey } = p as Prevout;
  const spk = abytes(scriptPubKey, undefined, `${name}.scriptPubKey`);
  if (spk.length === 0 || spk.length > 10_000) fail(ErrorCode.INVALID_LENGTH, `${name}.scriptPubKey: bad length ${spk.length}`);
  return { amount: assertAmount(amount, `${name}.amount`), scriptPubKey: spk };
}

/** The BIP341 P2TR scriptPubKey `OP_1 <32-byte output key>`. */
export function p2trScript(outputKey: Uint8Array): Uint8Array {
  return concatBytes(new Uint8Array([0x51, 0x20]), abytes(outputKey, 32, 'taproot output key'));
}

/** The 32-byte output key of a P2TR scriptPubKey, or null if it is not one. */
export function p2trOutputKey(scriptPubKey: Uint8Array): Uint8Array | null {
  if (scriptPubKey.length !== 34 || scriptPubKey[0] !== 0x51 || scriptPubKey[1] !== 0x20) return null;
  return scriptPubKey.slice(2);
}

function toRaw(tx: BitcoinTx) {
  return {
    version: tx.version,
    inputs: tx.inputs.map((i) => ({ txid: i.txid, index: i.vout, finalScriptSig: new Uint8Array(0), sequence: i.sequence })),
    outputs: tx.outputs.map((o) => ({ amount: o.amount, script: o.script })),
    lockTime: tx.lockTime,
  };
}

/**
 * Serializes a transaction. With witnesses (BIP144 marker and flag) when any
 * input has a non-empty witness, else the legacy form, as BIP144 requires.
 */
export function serializeTx(tx: BitcoinTx): Uint8Array {
  const raw = toRaw(tx);
  const segwit = tx.inputs.some((i) => i.witness.length > 0);
  if (!segwit) return RawOldTx.encode(raw);
  return RawTx.encode({ ...raw, segwitFlag: true, witnesses: tx.inputs.map((i) => [...i.witness]) });
}

/** Serializes without witnesses: the bytes the txid commits to. */
export function serializeTxNoWitness(tx: BitcoinTx): Uint8Array {
  return RawOldTx.encode(toRaw(tx));
}

/** The txid (double SHA256 of the witness-stripped serialization), display order. */
export function txid(tx: BitcoinTx): Uint8Array {
  return sha256(sha256(serializeTxNoWitness(tx))).reverse();
}

/** The txid as lowercase display-order hex. */
export function txidHex(tx: BitcoinTx): string {
  return bytesToHex(txid(tx));
}

/** Parses a raw transaction (hex or bytes, with or without witnesses). Throws TX_INVALID. */
export function parseTx(raw: Uint8Array | string): BitcoinTx {
  const bytes = typeof raw === 'string' ? hexToBytes(raw, undefined, 'raw transaction') : abytes(raw, undefined, 'raw transaction');
  let d: ReturnType<typeof RawTx.decode>;
  try {
    d = RawTx.decode(bytes);
  } catch (e) {
    throw new LnMailboxError(ErrorCode.TX_INVALID, 'raw transaction: not a valid serialization', { cause: e });
  }
  if (d.inputs.some((i) => i.finalScriptSig.length > 0)) fail(ErrorCode.TX_INVALID, 'raw transaction: scriptSig not supported');
  return {
    version: d.version,
    lockTime: d.lockTime,
    inputs: d.inputs.map((i, k) => ({ txid: i.txid, vout: i.index, sequence: i.sequence, witness: d.witnesses?.[k] ?? [] })),
    outputs: d.outputs.map((o) => ({ amount: o.amount, script: o.script })),
  };
}

/** Returns a copy of `tx` with input `index`'s witness replaced. */
export function withWitness(tx: BitcoinTx, index: number, witness: readonly Uint8Array[]): BitcoinTx {
  if (!Number.isInteger(index) || index < 0 || index >= tx.inputs.length)
    fail(ErrorCode.INVALID_RANGE, `input index ${index} out of range`);
  return { ...tx, inputs: tx.inputs.map((i, k) => (k === index ? { ...i, witness: [...witness] } : i)) };
}

/** Returns a copy of `tx` with input `index` pointed at a different outpoint (witness kept). */
export function withOutpoint(tx: BitcoinTx, index: number, outpoint: Outpoint): BitcoinTx {
  const o = assertOutpoint(outpoint);
  if (!Number.isInteger(index) || index < 0 || index >= tx.inputs.length)
    fail(ErrorCode.INVALID_RANGE, `input index ${index} out of range`);
  return { ...tx, inputs: tx.inputs.map((i, k) => (k === index ? { ...i, txid: o.txid, vout: o.vout } : i)) };
}

/** Sum of the output values. */
export function totalOut(tx: BitcoinTx): bigint {
  return tx.outputs.reduce((s, o) => s + o.amount, 0n);
}

/**
 * The BIP141 weight: the witness-stripped serialization counts 4 weight units
 * a byte, the witness data (marker, flag and stacks) 1 a byte.
 */
export function txWeight(tx: BitcoinTx): number {
  const base = serializeTxNoWitness(tx).length;
  return base * 3 + serializeTx(tx).length;
}

/** The virtual size in vbytes (BIP141: weight / 4, rounded up), what fee rates are counted against. */
export function txVsize(tx: BitcoinTx): number {
  return Math.ceil(txWeight(tx) / 4);
}
