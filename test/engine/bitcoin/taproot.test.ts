import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { p2tr } from '@scure/btc-signer';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import {
  NUMS_KEY,
  fundingOutput,
  numsKeyWithTweak,
  parseControlBlock,
  taprootOutput,
  updateOutput,
  verifyTaprootCommitment,
  type EltooTerms,
  type TapTree,
} from '../../../engine/bitcoin/index.js';
import { throwsCode } from '../../helpers.js';

const t = suite('bitcoin/taproot');

type VLeaf = { id: number; script: string; leafVersion: number };
type VTree = VLeaf | VTree[];
interface SpkVector {
  given: { internalPubkey: string; scriptTree: VTree | null };
  intermediary: { leafHashes?: string[]; merkleRoot: string | null; tweak: string; tweakedPubkey: string };
  expected: { scriptPubKey: string; scriptPathControlBlocks?: string[] };
}
const bip341 = JSON.parse(readFileSync(new URL('../../vectors/bip341.json', import.meta.url), 'utf8')) as { scriptPubKey: SpkVector[] };

function toTree(v: VTree, ids: number[]): TapTree {
  if (Array.isArray(v)) {
    assert.is(v.length, 2);
    return [toTree(v[0]!, ids), toTree(v[1]!, ids)];
  }
  ids.push(v.id);
  return { script: hexToBytes(v.script), leafVersion: v.leafVersion };
}

t('BIP341 scriptPubKey vectors: leaf hashes, merkle root, tweak, output key, control blocks', () => {
  let leaves = 0;
  for (const v of bip341.scriptPubKey) {
    const ids: number[] = [];
    const tree = v.given.scriptTree === null ? null : toTree(v.given.scriptTree, ids);
    const out = taprootOutput(hexToBytes(v.given.internalPubkey), tree);
    assert.is(out.merkleRoot === null ? null : bytesToHex(out.merkleRoot), v.intermediary.merkleRoot);
    assert.is(bytesToHex(out.tweak), v.intermediary.tweak);
    assert.is(bytesToHex(out.outputKey), v.intermediary.tweakedPubkey);
    assert.is(bytesToHex(out.scriptPubKey), v.expected.scriptPubKey);
    out.leaves.forEach((leaf, i) => {
      const id = ids[i]!;
      assert.is(bytesToHex(leaf.leafHash), v.intermediary.leafHashes![id]);
      assert.is(bytesToHex(leaf.controlBlock), v.expected.scriptPathControlBlocks![id]);
      // And the verifier accepts exactly this: the published control block
      // proves the leaf under the published output key.
      const ok = verifyTaprootCommitment(out.outputKey, leaf.script, hexToBytes(v.expected.scriptPathControlBlocks![id]!));
      assert.is(ok === null ? null : bytesToHex(ok), v.intermediary.leafHashes![id]);
      leaves++;
    });
  }
  assert.ok(leaves >= 10, `checked ${leaves} leaves`);
});

t('verifyTaprootCommitment rejects wrong keys, scripts, parity and paths', () => {
  const v = bip341.scriptPubKey.find((x) => (x.expected.scriptPathControlBlocks?.length ?? 0) >= 3)!;
  const ids: number[] = [];
  const out = taprootOutput(hexToBytes(v.given.internalPubkey), toTree(v.given.scriptTree!, ids));
  const leaf = out.leaves[0]!;
  assert.ok(verifyTaprootCommitment(out.outputKey, leaf.script, leaf.controlBlock));
  assert.is(verifyTaprootCommitment(out.outputKey, out.leaves[1]!.script, leaf.controlBlock), null, 'other leaf, this path');
  const flipped = leaf.controlBlock.slice();
  flipped[0] = flipped[0]! ^ 1;
  assert.is(verifyTaprootCommitment(out.outputKey, leaf.script, flipped), null, 'parity bit');
  const badPath = leaf.controlBlock.slice();
  badPath[40] = badPath[40]! ^ 0xff;
  assert.is(verifyTaprootCommitment(out.outputKey, leaf.script, badPath), null, 'path');
  const otherKey = new Uint8Array(out.outputKey);
  otherKey[0] = otherKey[0]! ^ 1;
  assert.is(verifyTaprootCommitment(otherKey, leaf.script, leaf.controlBlock), null, 'output key');
  // An internal key that is not on the curve.
  const offCurve = leaf.controlBlock.slice();
  offCurve.set(new Uint8Array(32).fill(0xff), 1);
  assert.is(verifyTaprootCommitment(out.outputKey, leaf.script, offCurve), null, 'internal key off the curve');
  // Malformed control blocks are typed errors.
  throwsCode(() => parseControlBlock(new Uint8Array(32)), ErrorCode.TX_INVALID);
  throwsCode(() => parseControlBlock(new Uint8Array(33 + 31)), ErrorCode.TX_INVALID);
  throwsCode(() => parseControlBlock(new Uint8Array(33 + 32 * 129)), ErrorCode.TX_INVALID);
  throwsCode(() => verifyTaprootCommitment(out.outputKey, leaf.script, new Uint8Array(34)), ErrorCode.TX_INVALID);
  throwsCode(() => taprootOutput(new Uint8Array(31), null), ErrorCode.INVALID_LENGTH);
  throwsCode(() => taprootOutput(new Uint8Array(32).fill(0xff), null), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => taprootOutput(NUMS_KEY, { script: new Uint8Array([0x51]), leafVersion: 0xc1 }), ErrorCode.TX_INVALID);
});

t('NUMS: H is lift_x(sha256(G uncompressed)) and H + r·G differs per r', () => {
  // BIP341: "H = lift_x(0x50929b74…) … the SHA256 of the standard uncompressed
  // DER encoding of the secp256k1 base point G".
  assert.is(bytesToHex(sha256(schnorr.Point.BASE.toBytes(false))), bytesToHex(NUMS_KEY));
  const a = numsKeyWithTweak(new Uint8Array(32).fill(1));
  const b = numsKeyWithTweak(new Uint8Array(32).fill(2));
  assert.is.not(bytesToHex(a), bytesToHex(b));
  assert.is(bytesToHex(numsKeyWithTweak(new Uint8Array(32))), bytesToHex(NUMS_KEY));
});

const keyA = schnorr.getPublicKey(new Uint8Array(32).fill(0x11));
const keyB = schnorr.getPublicKey(new Uint8Array(32).fill(0x22));
const params: EltooTerms = {
  keys: { a: keyA, b: keyB },
  fundingAmount: 1_000_000,
  updateFee: 1_000,
  csvDelay: 144,
  payout: { a: new Uint8Array([0x51, 0x20, ...keyA]), b: new Uint8Array([0x51, 0x20, ...keyB]) },
};

t('our channel outputs agree with @scure/btc-signer p2tr (independent implementation)', () => {
  for (const out of [fundingOutput(params), updateOutput(params, 0), updateOutput(params, 41)]) {
    const tree = out.leaves.length === 1 ? { script: out.leaves[0]!.script } : out.leaves.map((l) => ({ script: l.script }));
    const ref = p2tr(NUMS_KEY, tree, undefined, true);
    assert.is(bytesToHex(ref.script), bytesToHex(out.scriptPubKey));
    assert.is(bytesToHex(ref.tapMerkleRoot), bytesToHex(out.merkleRoot!));
    for (const leaf of out.leaves) {
      const refLeaf = ref.leaves.find((l) => bytesToHex(l.script) === bytesToHex(leaf.script))!;
      assert.is(bytesToHex(refLeaf.hash), bytesToHex(leaf.leafHash));
      assert.ok(verifyTaprootCommitment(out.outputKey, leaf.script, leaf.controlBlock));
    }
  }
});

t.run();
