/**
 * The consensus checks of the chain simulator: finality (BIP113), BIP68
 * relative locks, and the P2TR witness of one input (BIP341 key path, or
 * script path with its commitment and a small tapscript interpreter: pushes,
 * DROP, VERIFY, CHECKSIG[VERIFY|ADD], NUMEQUAL[VERIFY], CLTV per BIP65, CSV
 * per BIP112, with BIP342 key types: 32-byte keys sign with key version 0,
 * `0x01 ‖ x` keys (and `0x01` alone, the internal key) with BIP118 key
 * version 1). Anything outside that subset is refused as `unsupported`,
 * never accepted. Signatures are checked with the real sighash through
 * crypto/bip340.
 * @module
 */
import { Script, ScriptNum } from '@scure/btc-signer';
import { isLnMailboxError } from '../base/errors.js';
import { verify } from '../crypto/bip340.js';
import {
  LOCKTIME_THRESHOLD,
  SEQUENCE_FINAL,
  decodeWitnessSignature,
  p2trOutputKey,
  parseControlBlock,
  signatureHash,
  verifyTaprootCommitment,
  type BitcoinTx,
  type KeyVersion,
  type Prevout,
} from '../engine/bitcoin/index.js';

/** Why the model refused a transaction. */
export type RejectReason =
  | 'malformed'
  | 'missing-input'
  | 'duplicate-input'
  | 'value'
  | 'non-final'
  | 'bip68'
  | 'witness'
  | 'commitment'
  | 'signature'
  | 'cltv'
  | 'csv'
  | 'script'
  | 'unsupported'
  | 'fee'
  | 'replacement'
  | 'known';

/** A refusal, with a machine-checkable reason for tests to assert on. */
export class ChainRejection extends Error {
  constructor(
    readonly reason: RejectReason,
    message: string,
  ) {
    super(`${reason}: ${message}`);
    this.name = 'ChainRejection';
  }
}

/** Where in the chain a transaction is being confirmed. */
export interface BlockContext {
  /** Height of the block that would include the transaction. */
  readonly height: number;
  /** Median time past of the previous block (BIP113). */
  readonly time: number;
}

/** When a spent coin confirmed (BIP68 counts from there). */
export interface Confirmed {
  readonly height: number;
  readonly time: number;
}

/** Throws a {@link ChainRejection}. */
export const reject = (reason: RejectReason, message: string): never => {
  throw new ChainRejection(reason, message);
};

/** IsFinalTx with BIP113: height locks against the block height, time locks against MTP. */
export function checkFinal(tx: BitcoinTx, at: BlockContext): void {
  if (tx.lockTime === 0) return;
  const limit = tx.lockTime < LOCKTIME_THRESHOLD ? at.height : at.time;
  if (tx.lockTime < limit) return;
  if (tx.inputs.every((i) => i.sequence === SEQUENCE_FINAL)) return;
  reject('non-final', `nLockTime ${tx.lockTime} not reached (${limit})`);
}

/** BIP68: an input with the disable bit clear waits its relative lock after its prevout confirmed. */
export function checkSequenceLocks(tx: BitcoinTx, coins: readonly Confirmed[], at: BlockContext): void {
  if (tx.version < 2) return;
  tx.inputs.forEach((inp, i) => {
    const seq = inp.sequence;
    if (seq & 0x8000_0000) return;
    const coin = coins[i]!;
    const value = seq & 0xffff;
    if (seq & (1 << 22)) {
      if (at.time - coin.time < value * 512) reject('bip68', `input ${i}: ${value * 512}s relative lock`);
    } else if (at.height - coin.height < value)
      reject('bip68', `input ${i}: ${value}-block relative lock (${at.height - coin.height} so far)`);
  });
}

export function checkInput(tx: BitcoinTx, index: number, prevouts: Prevout[]): void {
  const outputKey = p2trOutputKey(prevouts[index]!.scriptPubKey);
  if (outputKey === null) reject('unsupported', `input ${index}: prevout is not P2TR`);
  const stack = [...tx.inputs[index]!.witness];
  if (stack.length === 0) reject('witness', `input ${index}: empty witness`);
  let annex: Uint8Array | undefined;
  if (stack.length >= 2 && stack[stack.length - 1]![0] === 0x50) annex = stack.pop();
  if (stack.length === 1) {
    // BIP341 key path: one signature for the output key, ext_flag 0.
    const sig = stack[0]!;
    const ok = verifySig(tx, index, prevouts, sig, outputKey!, 0, undefined, annex);
    if (!ok) reject('signature', `input ${index}: key-path signature`);
    return;
  }
  const controlBlock = stack.pop()!;
  const script = stack.pop()!;
  let leafHash: Uint8Array | null;
  try {
    leafHash = verifyTaprootCommitment(outputKey!, script, controlBlock);
  } catch (e) {
    return reject('commitment', `input ${index}: ${(e as Error).message}`);
  }
  if (leafHash === null) reject('commitment', `input ${index}: control block does not commit to the script`);
  if (parseControlBlock(controlBlock).leafVersion !== 0xc0) reject('unsupported', `input ${index}: leaf version`);
  runTapscript(tx, index, prevouts, script, leafHash!, parseControlBlock(controlBlock).internalKey, stack, annex);
}

function verifySig(
  tx: BitcoinTx,
  index: number,
  prevouts: Prevout[],
  sig: Uint8Array,
  pubkey: Uint8Array,
  keyVersion: KeyVersion,
  leafHash: Uint8Array | undefined,
  annex: Uint8Array | undefined,
): boolean {
  try {
    const { sig64, hashType } = decodeWitnessSignature(sig, keyVersion);
    const h = signatureHash(tx, index, prevouts, { hashType, keyVersion, ...(leafHash ? { leafHash } : {}), ...(annex ? { annex } : {}) });
    return verify(sig64, h, pubkey);
  } catch (e) {
    if (isLnMailboxError(e)) return false;
    throw e;
  }
}

const num = (b: Uint8Array, what: string): bigint => {
  try {
    return ScriptNum(5, true).decode(b);
  } catch {
    return reject('script', `${what}: not a minimal 5-byte script number`);
  }
};
const castToBool = (b: Uint8Array) => b.some((x, i) => x !== 0 && !(i === b.length - 1 && x === 0x80));

function runTapscript(
  tx: BitcoinTx,
  index: number,
  prevouts: Prevout[],
  script: Uint8Array,
  leafHash: Uint8Array,
  internalKey: Uint8Array,
  stack: Uint8Array[],
  annex: Uint8Array | undefined,
): void {
  let ops: (string | number | Uint8Array)[];
  try {
    ops = Script.decode(script) as (string | number | Uint8Array)[];
  } catch {
    return reject('script', 'script does not decode');
  }
  const input = tx.inputs[index]!;
  const pop = () => stack.pop() ?? reject('script', 'stack underflow');
  const top = () => stack[stack.length - 1] ?? reject('script', 'stack underflow');
  const enc = (n: bigint) => ScriptNum().encode(n);
  const checksig = (): boolean => {
    const pk = pop();
    const sig = pop();
    let keyVersion: KeyVersion;
    let xonly: Uint8Array;
    if (pk.length === 32) [keyVersion, xonly] = [0, pk];
    else if (pk.length === 33 && pk[0] === 0x01) [keyVersion, xonly] = [1, pk.slice(1)];
    // BIP118: the single byte 0x01 (OP_1) names the taproot internal key.
    else if (pk.length === 1 && pk[0] === 0x01) [keyVersion, xonly] = [1, internalKey];
    else return reject('unsupported', `public key type of ${pk.length} bytes`);
    if (sig.length === 0) return false;
    // BIP342: a non-empty signature that fails makes the whole script fail.
    if (!verifySig(tx, index, prevouts, sig, xonly, keyVersion, leafHash, annex))
      reject('signature', `input ${index}: key version ${keyVersion} signature does not verify`);
    return true;
  };
  for (const op of ops) {
    if (op instanceof Uint8Array) stack.push(op);
    else if (typeof op === 'number') stack.push(enc(BigInt(op)));
    else if (op === 'OP_0') stack.push(new Uint8Array(0));
    else if (op === 'DROP') pop();
    else if (op === 'VERIFY') {
      if (!castToBool(pop())) reject('script', 'VERIFY failed');
    } else if (op === 'CHECKSIG') stack.push(checksig() ? enc(1n) : new Uint8Array(0));
    else if (op === 'CHECKSIGVERIFY') {
      if (!checksig()) reject('signature', `input ${index}: CHECKSIGVERIFY with an empty signature`);
    } else if (op === 'CHECKSIGADD') {
      const pk = pop();
      const n = num(pop(), 'CHECKSIGADD');
      const sig = pop();
      stack.push(sig, pk);
      stack.push(enc(n + (checksig() ? 1n : 0n)));
    } else if (op === 'NUMEQUAL' || op === 'NUMEQUALVERIFY') {
      // Two different stack items (each pop() takes the next one), not a self-comparison.
      // biome-ignore lint/suspicious/noSelfCompare: each call pops another item
      const eq = num(pop(), op) === num(pop(), op);
      if (op === 'NUMEQUALVERIFY') {
        if (!eq) reject('script', 'NUMEQUALVERIFY failed');
      } else stack.push(eq ? enc(1n) : new Uint8Array(0));
    } else if (op === 'CHECKLOCKTIMEVERIFY') {
      // BIP65: same kind (height/time), not above nLockTime, input not final.
      const n = num(top(), 'CLTV');
      if (n < 0n) reject('cltv', 'negative locktime');
      if (n < BigInt(LOCKTIME_THRESHOLD) !== tx.lockTime < LOCKTIME_THRESHOLD) reject('cltv', 'locktime kinds differ');
      if (n > BigInt(tx.lockTime)) reject('cltv', `script needs nLockTime ≥ ${n}, tx has ${tx.lockTime}`);
      if (input.sequence === SEQUENCE_FINAL) reject('cltv', 'input nSequence is final');
    } else if (op === 'CHECKSEQUENCEVERIFY') {
      // BIP112: compare against this input's nSequence (BIP68 enforces it at tx level).
      const n = num(top(), 'CSV');
      if (n < 0n) reject('csv', 'negative sequence');
      if ((n & (1n << 31n)) === 0n) {
        const seq = BigInt(input.sequence);
        const mask = (1n << 22n) | 0xffffn;
        if (tx.version < 2) reject('csv', 'tx version < 2');
        if (seq & (1n << 31n)) reject('csv', 'input disables relative locktime');
        if ((n & (1n << 22n)) !== (seq & (1n << 22n))) reject('csv', 'relative lock kinds differ');
        if ((n & mask) > (seq & mask)) reject('csv', `script needs nSequence ≥ ${n & mask}, input has ${seq & mask}`);
      }
    } else reject('unsupported', `opcode ${String(op)}`);
  }
  // Tapscript's clean stack rule: exactly one element, and it is true.
  if (stack.length !== 1 || !castToBool(stack[0]!)) reject('script', 'script did not leave exactly one true element');
}
