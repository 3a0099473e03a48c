/**
 * BIP341 taproot commitments: tapleaf and tapbranch hashes, the output-key
 * tweak, control blocks, and the check that a control block proves a leaf is
 * committed to by an output key.
 *
 * Small and ours (rather than `@scure/btc-signer`'s `p2tr`) because the test
 * chain model must *verify* control blocks from the outside, which btc-signer
 * does not expose; the tests check both directions against BIP341's vectors and
 * cross-check our channel outputs with btc-signer's `p2tr`.
 *
 * Every output we build uses an unspendable internal key: BIP118 signatures
 * only exist on the script path, so a key path would only serve a cooperative
 * close, which is out of scope here. We use BIP341's NUMS point H, or
 * H + r·G with a public r where an output must be unique (PTLCs, see ptlc-output.ts):
 * still provably unspendable, since nobody knows log_G(H).
 * @module
 */
import { VarBytes } from '@scure/btc-signer/script.js';
import { abytes, bytesToHex, concatBytes, equalBytes, hexToBytes } from '../../base/bytes.js';
import { ErrorCode, fail } from '../../base/errors.js';
import { taggedHash, tweakXOnlyPublicKey } from '../../crypto/index.js';

/** Leaf version of BIP342 tapscript. */
export const TAPSCRIPT_LEAF_VERSION = 0xc0;

/**
 * BIP341's NUMS point H = lift_x(sha256(G uncompressed)), x-only: a key whose
 * discrete logarithm nobody knows, so the key path of an output with this
 * internal key can never be spent.
 */
export const NUMS_KEY: Uint8Array = hexToBytes('50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0', 32);

/** A leaf of a taproot script tree. */
export interface TapLeaf {
  /** The leaf script. */
  readonly script: Uint8Array;
  /** Even leaf version byte; default 0xc0 (tapscript). */
  readonly leafVersion?: number;
}

/** A script tree: a leaf, or a pair of subtrees (BIP341's nested-list shape). */
export type TapTree = TapLeaf | readonly [TapTree, TapTree];

/** One leaf of a built tree with everything needed to spend it. */
export interface TapLeafInfo {
  readonly script: Uint8Array;
  readonly leafVersion: number;
  /** BIP341 tapleaf hash (the `leafHash` of a script-path sighash). */
  readonly leafHash: Uint8Array;
  /** Control block: (leafVersion | parity) ‖ internal key ‖ merkle path. */
  readonly controlBlock: Uint8Array;
}

/** A taproot output built from an internal key and a script tree. */
export interface TaprootOutput {
  readonly internalKey: Uint8Array;
  readonly merkleRoot: Uint8Array | null;
  /** The tweak t of Q = P + t·G. */
  readonly tweak: Uint8Array;
  /** x-only output key Q. */
  readonly outputKey: Uint8Array;
  /** Parity of Q's y (the low bit of every control block's first byte). */
  readonly parity: 0 | 1;
  /** `OP_1 <Q>`. */
  readonly scriptPubKey: Uint8Array;
  /** Leaves in depth-first, left-to-right order. */
  readonly leaves: readonly TapLeafInfo[];
}

function assertLeafVersion(v: unknown): number {
  // BIP341: leaf versions are even, and 0x50 is reserved (annex marker).
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xfe || v % 2 !== 0 || v === 0x50)
    fail(ErrorCode.TX_INVALID, `invalid tapleaf version ${String(v)}`);
  return v;
}

/** BIP341 `hash_TapLeaf(leafVersion ‖ compact_size(len) ‖ script)`. */
export function tapLeafHash(script: Uint8Array, leafVersion = TAPSCRIPT_LEAF_VERSION): Uint8Array {
  abytes(script, undefined, 'leaf script');
  return taggedHash('TapLeaf', new Uint8Array([assertLeafVersion(leafVersion)]), VarBytes.encode(script));
}

/** BIP341 `hash_TapBranch(min(a, b) ‖ max(a, b))` (lexicographic order). */
export function tapBranchHash(a: Uint8Array, b: Uint8Array): Uint8Array {
  abytes(a, 32, 'branch hash');
  abytes(b, 32, 'branch hash');
  return bytesToHex(a) < bytesToHex(b) ? taggedHash('TapBranch', a, b) : taggedHash('TapBranch', b, a);
}

/**
 * BIP341 `taproot_tweak_pubkey`: t = hash_TapTweak(P ‖ root) (just P for no
 * scripts), Q = P + t·G. Returns the tweak, x(Q) and Q's y parity.
 */
export function tweakPublicKey(
  internalKey: Uint8Array,
  merkleRoot: Uint8Array | null,
): { tweak: Uint8Array; outputKey: Uint8Array; parity: 0 | 1 } {
  abytes(internalKey, 32, 'internal key');
  const tweak = taggedHash('TapTweak', merkleRoot === null ? internalKey : concatBytes(internalKey, abytes(merkleRoot, 32, 'merkle root')));
  // Strict: BIP341 fails a tweak ≥ n rather than reducing it.
  const q = tweakXOnlyPublicKey(internalKey, tweak);
  return { tweak, outputKey: q.xonly, parity: q.parity };
}

/**
 * Builds a taproot output: merkle root of `tree` (or no scripts when null),
 * output key, scriptPubKey, and a control block for every leaf.
 */
export function taprootOutput(internalKey: Uint8Array, tree: TapTree | null): TaprootOutput {
  abytes(internalKey, 32, 'internal key');
  type Built = { hash: Uint8Array; leaves: { script: Uint8Array; leafVersion: number; leafHash: Uint8Array; path: Uint8Array[] }[] };
  const build = (t: TapTree, depth: number): Built => {
    if (depth > 128) fail(ErrorCode.TX_INVALID, 'taproot tree deeper than 128');
    if (Array.isArray(t)) {
      const l = build(t[0], depth + 1);
      const r = build(t[1], depth + 1);
      for (const x of l.leaves) x.path.push(r.hash);
      for (const x of r.leaves) x.path.push(l.hash);
      return { hash: tapBranchHash(l.hash, r.hash), leaves: [...l.leaves, ...r.leaves] };
    }
    const leaf = t as TapLeaf;
    const leafVersion = assertLeafVersion(leaf.leafVersion ?? TAPSCRIPT_LEAF_VERSION);
    const leafHash = tapLeafHash(leaf.script, leafVersion);
    return { hash: leafHash, leaves: [{ script: leaf.script, leafVersion, leafHash, path: [] }] };
  };
  const built = tree === null ? null : build(tree, 0);
  const merkleRoot = built === null ? null : built.hash;
  const { tweak, outputKey, parity } = tweakPublicKey(internalKey, merkleRoot);
  return {
    internalKey: internalKey.slice(),
    merkleRoot,
    tweak,
    outputKey,
    parity,
    scriptPubKey: concatBytes(new Uint8Array([0x51, 0x20]), outputKey),
    leaves: (built?.leaves ?? []).map((l) => ({
      script: l.script,
      leafVersion: l.leafVersion,
      leafHash: l.leafHash,
      controlBlock: concatBytes(new Uint8Array([l.leafVersion | parity]), internalKey, ...l.path),
    })),
  };
}

/** A parsed control block. */
export interface ControlBlock {
  readonly leafVersion: number;
  readonly parity: 0 | 1;
  readonly internalKey: Uint8Array;
  readonly path: readonly Uint8Array[];
}

/** Parses a control block: 33 + 32·m bytes, m ≤ 128 (BIP341). Throws TX_INVALID. */
export function parseControlBlock(cb: Uint8Array): ControlBlock {
  abytes(cb, undefined, 'control block');
  if (cb.length < 33 || cb.length > 33 + 32 * 128 || (cb.length - 33) % 32 !== 0)
    fail(ErrorCode.TX_INVALID, `control block: bad length ${cb.length}`);
  const path: Uint8Array[] = [];
  for (let i = 33; i < cb.length; i += 32) path.push(cb.slice(i, i + 32));
  return { leafVersion: cb[0]! & 0xfe, parity: (cb[0]! & 1) as 0 | 1, internalKey: cb.slice(1, 33), path };
}

/**
 * BIP341 script-path commitment check: does `controlBlock` prove that
 * `script` is a leaf of the tree committed to by `outputKey`? Returns the
 * leaf hash when it does, null when it does not (including an internal key off
 * the curve). Throws TX_INVALID only for a malformed control block.
 */
export function verifyTaprootCommitment(outputKey: Uint8Array, script: Uint8Array, controlBlock: Uint8Array): Uint8Array | null {
  abytes(outputKey, 32, 'output key');
  const cb = parseControlBlock(controlBlock);
  const leafHash = tapLeafHash(script, cb.leafVersion);
  let k = leafHash;
  for (const e of cb.path) k = tapBranchHash(k, e);
  let q: ReturnType<typeof tweakPublicKey>;
  try {
    q = tweakPublicKey(cb.internalKey, k);
  } catch {
    return null;
  }
  return equalBytes(q.outputKey, outputKey) && q.parity === cb.parity ? leafHash : null;
}

/**
 * The NUMS key H + r·G (x-only) for a public 32-byte `r`: provably unspendable
 * like H, but distinct per r, so outputs with the same scripts get distinct
 * scriptPubKeys (BIP341 "Constructing and spending Taproot outputs").
 */
export function numsKeyWithTweak(r: Uint8Array): Uint8Array {
  abytes(r, 32, 'NUMS tweak');
  return tweakXOnlyPublicKey(NUMS_KEY, r, { reduce: true }).xonly;
}
