import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '../../../base/bytes.js';
import { adaptorExtract, adaptorVerify } from '../../../crypto/index.js';
import {
  p2trOutputKey,
  parseLeafScript,
  parseTx,
  signatureHash,
  signatureMessage,
  tapLeafHash,
  verifyTaprootCommitment,
  type Prevout,
} from '../../../engine/bitcoin/index.js';
import { ChainModel } from './chain-model.js';
import { ELTOO_VECTORS_PATH, renderEltooVectors, type EltooVector } from './eltoo-vectors.js';

const t = suite('bitcoin/vectors');
const fileText = readFileSync(ELTOO_VECTORS_PATH, 'utf8');
const vectors = JSON.parse(fileText) as EltooVector[];

t('protocol/vectors/eltoo.json is exactly what the code generates', () => {
  // If this fails after an intended change: node --import tsx test/engine/bitcoin/eltoo-vectors.ts --write
  assert.ok(renderEltooVectors() === fileText, 'eltoo.json differs from the generator output');
});

t('coverage: update from funding, update from update, settlement, PTLC claim and refund; several hash types', () => {
  const kinds = vectors.map((v) => parseLeafScript(hexToBytes(v.leafScript)).kind);
  for (const k of ['rebind', 'settle', 'ptlc-claim', 'ptlc-refund']) assert.ok(kinds.includes(k as never), k);
  assert.equal(
    [...new Set(vectors.map((v) => v.hashType))].sort((x, y) => x - y),
    [0x00, 0x41, 0xc1, 0xc3],
  );
  assert.equal([...new Set(vectors.map((v) => v.keyVersion))].sort(), [0, 1]);
  const rebinds = vectors.filter((v) => parseLeafScript(hexToBytes(v.leafScript)).kind === 'rebind');
  assert.equal(rebinds.map((v) => (parseLeafScript(hexToBytes(v.leafScript)) as { minState: number }).minState).sort(), [0, 2, 2]);
});

t('every item: commitment, sighash, and every signature verifies (independently of the builders)', () => {
  for (const v of vectors) {
    const tx = parseTx(v.tx);
    const input = tx.inputs[v.inputIndex]!;
    const prevout: Prevout = { amount: BigInt(v.prevout.amount), scriptPubKey: hexToBytes(v.prevout.scriptPubKey) };
    const leafScript = hexToBytes(v.leafScript);
    const controlBlock = hexToBytes(v.controlBlock);
    const leafHash = verifyTaprootCommitment(p2trOutputKey(prevout.scriptPubKey)!, leafScript, controlBlock);
    assert.ok(leafHash, `${v.description}: control block commits to the leaf`);
    assert.is(bytesToHex(leafHash!), bytesToHex(tapLeafHash(leafScript)));
    const prevouts: Prevout[] = [];
    prevouts[v.inputIndex] = prevout;
    const opts = { hashType: v.hashType, keyVersion: v.keyVersion, leafHash: leafHash! };
    const sighash = signatureHash(tx, v.inputIndex, prevouts, opts);
    assert.is(bytesToHex(sighash), v.sighash, v.description);
    const len = signatureMessage(tx, v.inputIndex, prevouts, opts).length;
    if (v.hashType === 0x41) assert.is(len, 127);
    if (v.hashType === 0xc1 || v.hashType === 0xc3) assert.is(len, 52);
    // Witness: the signatures (in reverse key order), then leaf script and control block.
    const w = input.witness.map(bytesToHex);
    assert.is(w[w.length - 1], v.controlBlock);
    assert.is(w[w.length - 2], v.leafScript);
    assert.equal(w.slice(0, -2), v.signatures.map((s) => s.signature).reverse());
    for (const s of v.signatures) {
      const sig = hexToBytes(s.signature);
      assert.is(sig.length, v.hashType === 0 ? 64 : 65);
      if (v.hashType !== 0) assert.is(sig[64], v.hashType);
      assert.ok(schnorr.verify(sig.slice(0, 64), sighash, hexToBytes(s.pubkey)), `${v.description}: signature by ${s.pubkey}`);
      const tampered = sig.slice(0, 64);
      tampered[63] = tampered[63]! ^ 1;
      assert.not.ok(schnorr.verify(tampered, sighash, hexToBytes(s.pubkey)));
    }
    if (v.adaptor) {
      const a = v.adaptor;
      assert.ok(adaptorVerify(hexToBytes(a.presignature), sighash, hexToBytes(a.signer), hexToBytes(a.point)));
      const payerSig = v.signatures.find((s) => s.pubkey === a.signer)!;
      const t32 = adaptorExtract(hexToBytes(payerSig.signature).slice(0, 64), hexToBytes(a.presignature), hexToBytes(a.point));
      assert.is(bytesToHex(t32), a.secret);
    }
  }
});

t('every single-input item is accepted by the chain model at its prevout', () => {
  let n = 0;
  for (const v of vectors) {
    const tx = parseTx(v.tx);
    if (tx.inputs.length !== 1) continue;
    const chain = new ChainModel();
    const inp = tx.inputs[0]!;
    chain.addCoin(
      inp,
      { amount: BigInt(v.prevout.amount), script: hexToBytes(v.prevout.scriptPubKey) },
      { height: 1, time: 1_700_000_000 },
    );
    chain.submit(tx, { height: 900_000, time: 1_800_000_000 });
    n++;
  }
  assert.is(n, vectors.length - 1);
});

t.run();
