import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { Transaction } from '@scure/btc-signer';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { bytesToHex, hexToBytes } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import {
  SigHash,
  isValidHashType,
  parseTx,
  signatureHash,
  signatureMessage,
  tapLeafHash,
  tweakPublicKey,
  withWitness,
  type BitcoinTx,
  type Prevout,
} from '../../../engine/bitcoin/index.js';
import { throwsCode } from '../../helpers.js';

const t = suite('bitcoin/sighash');

interface KeyPathVector {
  given: { rawUnsignedTx: string; utxosSpent: { scriptPubKey: string; amountSats: number }[] };
  intermediary: Record<string, string>;
  inputSpending: {
    given: { txinIndex: number; internalPrivkey: string; merkleRoot: string | null; hashType: number };
    intermediary: { internalPubkey: string; tweak: string; tweakedPrivkey: string; sigMsg: string; sigHash: string };
    expected: { witness: string[] };
  }[];
}
const bip341 = JSON.parse(readFileSync(new URL('../../vectors/bip341.json', import.meta.url), 'utf8')) as {
  keyPathSpending: KeyPathVector[];
};

t('BIP341 keyPathSpending: every sigMsg, sigHash, tweak and witness (key version 0, key path)', () => {
  let n = 0;
  for (const v of bip341.keyPathSpending) {
    const tx = parseTx(v.given.rawUnsignedTx);
    const prevouts: Prevout[] = v.given.utxosSpent.map((u) => ({ amount: BigInt(u.amountSats), scriptPubKey: hexToBytes(u.scriptPubKey) }));
    for (const inp of v.inputSpending) {
      const { txinIndex, hashType, internalPrivkey, merkleRoot } = inp.given;
      const msg = signatureMessage(tx, txinIndex, prevouts, { hashType });
      assert.is(bytesToHex(msg), inp.intermediary.sigMsg, `sigMsg input ${txinIndex}`);
      const hash = signatureHash(tx, txinIndex, prevouts, { hashType });
      assert.is(bytesToHex(hash), inp.intermediary.sigHash, `sigHash input ${txinIndex}`);
      // Tweak and tweaked private key (BIP341 taproot_tweak_seckey), then the
      // expected witness: BIP341's vectors are signed with all-zero aux_rand.
      const internalPub = schnorr.getPublicKey(hexToBytes(internalPrivkey));
      assert.is(bytesToHex(internalPub), inp.intermediary.internalPubkey);
      const tw = tweakPublicKey(internalPub, merkleRoot === null ? null : hexToBytes(merkleRoot));
      assert.is(bytesToHex(tw.tweak), inp.intermediary.tweak);
      const N = secp256k1.Point.Fn.ORDER;
      const d0 = bytesToNumberBE(hexToBytes(internalPrivkey));
      const P = secp256k1.Point.BASE.multiply(d0).toAffine();
      const d = P.y % 2n === 0n ? d0 : N - d0;
      const tweaked = numberToBytesBE((d + bytesToNumberBE(tw.tweak)) % N, 32);
      assert.is(bytesToHex(tweaked), inp.intermediary.tweakedPrivkey);
      const sig = schnorr.sign(hash, tweaked, new Uint8Array(32));
      const witnessSig = hashType === 0 ? sig : new Uint8Array([...sig, hashType]);
      assert.equal([bytesToHex(witnessSig)], inp.expected.witness, `witness input ${txinIndex}`);
      const spk = prevouts[txinIndex]!.scriptPubKey;
      assert.ok(schnorr.verify(sig, hash, spk.slice(2)), 'verifies against the output key');
      n++;
    }
  }
  assert.ok(n >= 7, `ran ${n} vectors`);
});

t('BIP341 intermediary hashes: a hash type without ANYONECANPAY commits to all prevouts', () => {
  const v = bip341.keyPathSpending[0]!;
  const tx = parseTx(v.given.rawUnsignedTx);
  const prevouts: Prevout[] = v.given.utxosSpent.map((u) => ({ amount: BigInt(u.amountSats), scriptPubKey: hexToBytes(u.scriptPubKey) }));
  const msg = bytesToHex(signatureMessage(tx, 0, prevouts, { hashType: 0 }));
  // Layout: epoch, hash_type, version, locktime, then the four SHA256s and sha_outputs.
  const off = (1 + 1 + 4 + 4) * 2;
  assert.is(msg.slice(off, off + 64), v.intermediary.hashPrevouts);
  assert.is(msg.slice(off + 64, off + 128), v.intermediary.hashAmounts);
  assert.is(msg.slice(off + 128, off + 192), v.intermediary.hashScriptPubkeys);
  assert.is(msg.slice(off + 192, off + 256), v.intermediary.hashSequences);
  assert.is(msg.slice(off + 256, off + 320), v.intermediary.hashOutputs);
});

t('BIP342 script path (key version 0) agrees with @scure/btc-signer for every hash type, input, codesep and annex', () => {
  // BIP341's file has no script-path sighash vectors; btc-signer is an
  // independent, audited implementation of the same BIP341 message with ext_flag 1.
  const v = bip341.keyPathSpending[0]!;
  const raw = hexToBytes(v.given.rawUnsignedTx);
  const ref = Transaction.fromRaw(raw, { allowUnknownInputs: true, allowUnknownOutputs: true, disableScriptCheck: true });
  const ours = parseTx(raw);
  const spks = v.given.utxosSpent.map((u) => hexToBytes(u.scriptPubKey));
  const amounts = v.given.utxosSpent.map((u) => BigInt(u.amountSats));
  const prevouts = spks.map((scriptPubKey, i) => ({ amount: amounts[i]!, scriptPubKey }));
  const leaf = hexToBytes('20387671353e273264c495656e27e39ba899ea8fee3bb69fb2a680e22093447d48ac');
  let n = 0;
  for (const idx of [0, 1, 3])
    for (const hashType of [0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83])
      for (const [codesepPos, annex] of [
        [0xffffffff, undefined],
        [3, new Uint8Array([0x50, 7, 7])],
      ] as const) {
        if ((hashType & 3) === 3 && idx >= ours.outputs.length) {
          // No corresponding output: both refuse.
          assert.throws(() => ref.preimageWitnessV1(idx, spks, hashType, amounts, -1, leaf, 0xc0));
          throwsCode(() => signatureHash(ours, idx, prevouts, { hashType, leafHash: tapLeafHash(leaf) }), ErrorCode.TX_INVALID);
          continue;
        }
        // btc-signer writes codesep_pos as a signed i32: -1 is 0xffffffff.
        const a = ref.preimageWitnessV1(idx, spks, hashType, amounts, codesepPos | 0, leaf, 0xc0, annex);
        const b = signatureHash(ours, idx, prevouts, { hashType, leafHash: tapLeafHash(leaf), codesepPos, ...(annex ? { annex } : {}) });
        assert.is(bytesToHex(b), bytesToHex(a), `input ${idx} hash type ${hashType} codesep ${codesepPos}`);
        n++;
      }
  assert.is(n, 38);
});

// A one-input, one-output transaction to measure message lengths on.
const tx1: BitcoinTx = {
  version: 2,
  lockTime: 500_000_007,
  inputs: [{ txid: new Uint8Array(32).fill(9), vout: 1, sequence: 0xfffffffe, witness: [] }],
  outputs: [{ amount: 90_000n, script: new Uint8Array([0x51, 0x20, ...new Uint8Array(32).fill(4)]) }],
};
const prev1: Prevout = { amount: 100_000n, scriptPubKey: new Uint8Array([0x51, 0x20, ...new Uint8Array(32).fill(5)]) };
const leafHash = new Uint8Array(32).fill(0xab);

t('BIP118 message lengths: 127 bytes for ANYPREVOUT, 52 for ANYPREVOUTANYSCRIPT (no annex)', () => {
  // Counting as BIP118 does, plus the epoch byte 0x00 that hash_TapSighash
  // covers (BIP341's `sigMsg` vectors include it too):
  //   epoch 1 + hash_type 1 + nVersion 4 + nLockTime 4 + sha_outputs 32
  //   + spend_type 1 + [amount 8 + scriptPubKey 35] + nSequence 4
  //   + [tapleaf_hash 32] + key_version 1 + codesep_pos 4
  // ANYPREVOUT: 1+1+4+4+32+1+8+35+4+32+1+4 = 127. ANYPREVOUTANYSCRIPT drops
  // amount, scriptPubKey and tapleaf_hash: 127 - 8 - 35 - 32 = 52.
  const apo = signatureMessage(tx1, 0, [prev1], { hashType: 0x41, keyVersion: 1, leafHash });
  const apoas = signatureMessage(tx1, 0, [], { hashType: 0xc1, keyVersion: 1, leafHash });
  assert.is(apo.length, 127);
  assert.is(apoas.length, 52);
  // NONE drops sha_outputs; SINGLE swaps it for sha_single_output at the end.
  assert.is(signatureMessage(tx1, 0, [prev1], { hashType: 0x42, keyVersion: 1, leafHash }).length, 127 - 32);
  assert.is(signatureMessage(tx1, 0, [], { hashType: 0xc3, keyVersion: 1, leafHash }).length, 52);
  // Annex adds sha_annex (32) and sets spend_type's low bit.
  const withAnnex = signatureMessage(tx1, 0, [], { hashType: 0xc1, keyVersion: 1, leafHash, annex: new Uint8Array([0x50, 1]) });
  assert.is(withAnnex.length, 84);
  assert.is(withAnnex[42], 3);
  // Structure: epoch 0, hash type, and key_version 0x01 at len-5.
  assert.is(apo[0], 0);
  assert.is(apo[1], 0x41);
  assert.is(apo[apo.length - 5], 1);
  assert.is(apoas[apoas.length - 5], 1);
});

t('BIP118: ANYPREVOUT ignores the outpoint; ANYPREVOUTANYSCRIPT also amount, script and leaf', () => {
  const other: BitcoinTx = { ...tx1, inputs: [{ ...tx1.inputs[0]!, txid: new Uint8Array(32).fill(1), vout: 7 }] };
  const h = (tx: BitcoinTx, p: Prevout, ht: number, lh = leafHash) =>
    bytesToHex(signatureHash(tx, 0, [p], { hashType: ht, keyVersion: 1, leafHash: lh }));
  const prev2: Prevout = { amount: 99_999n, scriptPubKey: prev1.scriptPubKey };
  const prev3: Prevout = { amount: prev1.amount, scriptPubKey: new Uint8Array([0x51, 0x20, ...new Uint8Array(32).fill(6)]) };
  const lh2 = new Uint8Array(32).fill(0xcd);
  // 0x41: outpoint free, amount/script/leaf bound.
  assert.is(h(tx1, prev1, 0x41), h(other, prev1, 0x41));
  assert.is.not(h(tx1, prev1, 0x41), h(tx1, prev2, 0x41));
  assert.is.not(h(tx1, prev1, 0x41), h(tx1, prev3, 0x41));
  assert.is.not(h(tx1, prev1, 0x41), h(tx1, prev1, 0x41, lh2));
  // 0xc1: all of those free.
  assert.is(h(tx1, prev1, 0xc1), h(other, prev2, 0xc1, lh2));
  assert.is(h(tx1, prev1, 0xc1), h(tx1, prev3, 0xc1));
  // Both still bind nSequence, nLockTime and the outputs.
  const seq: BitcoinTx = { ...tx1, inputs: [{ ...tx1.inputs[0]!, sequence: 144 }] };
  const lt: BitcoinTx = { ...tx1, lockTime: 500_000_008 };
  const out: BitcoinTx = { ...tx1, outputs: [{ ...tx1.outputs[0]!, amount: 89_999n }] };
  for (const ht of [0x41, 0xc1]) {
    assert.is.not(h(tx1, prev1, ht), h(seq, prev1, ht));
    assert.is.not(h(tx1, prev1, ht), h(lt, prev1, ht));
    assert.is.not(h(tx1, prev1, ht), h(out, prev1, ht));
  }
  // Witnesses are not signed.
  assert.is(h(tx1, prev1, 0x41), h(withWitness(tx1, 0, [new Uint8Array(3)]), prev1, 0x41));
  // Key version 1 with a BIP341 hash type is SigMsg(ht, 1) with key_version 1:
  // it differs from the key version 0 message in that byte only.
  const m0 = signatureMessage(tx1, 0, [prev1], { hashType: 0x81, keyVersion: 0, leafHash });
  const m1 = signatureMessage(tx1, 0, [prev1], { hashType: 0x81, keyVersion: 1, leafHash });
  assert.is(m0.length, m1.length);
  const diff = [...m0].flatMap((b, i) => (b === m1[i] ? [] : [i]));
  assert.equal(diff, [m0.length - 5]);
});

t('hash types: defined sets per key version, typed errors otherwise', () => {
  const v0 = [0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83];
  const v1 = [...v0, 0x41, 0x42, 0x43, 0xc1, 0xc2, 0xc3];
  for (let ht = 0; ht < 256; ht++) {
    assert.is(isValidHashType(ht, 0), v0.includes(ht), `v0 0x${ht.toString(16)}`);
    assert.is(isValidHashType(ht, 1), v1.includes(ht), `v1 0x${ht.toString(16)}`);
  }
  throwsCode(() => signatureMessage(tx1, 0, [prev1], { hashType: 0x41, leafHash }), ErrorCode.INVALID_RANGE);
  throwsCode(() => signatureMessage(tx1, 0, [prev1], { hashType: 0x04, keyVersion: 1, leafHash }), ErrorCode.INVALID_RANGE);
  throwsCode(() => signatureMessage(tx1, 0, [prev1], { hashType: 0xc4, keyVersion: 1, leafHash }), ErrorCode.INVALID_RANGE);
  throwsCode(() => signatureMessage(tx1, 0, [prev1], { hashType: '1' as unknown as number }), ErrorCode.INVALID_TYPE);
  // APO is script-path only.
  throwsCode(() => signatureMessage(tx1, 0, [prev1], { hashType: 0x41, keyVersion: 1 }), ErrorCode.TX_INVALID);
  // SINGLE without a corresponding output.
  const twoIn: BitcoinTx = { ...tx1, inputs: [tx1.inputs[0]!, { ...tx1.inputs[0]!, vout: 2 }] };
  throwsCode(() => signatureMessage(twoIn, 1, [prev1, prev1], { hashType: SigHash.SINGLE }), ErrorCode.TX_INVALID);
  throwsCode(() => signatureMessage(twoIn, 1, [prev1, prev1], { hashType: 0xc3, keyVersion: 1, leafHash }), ErrorCode.TX_INVALID);
  // Missing prevouts when the hash type commits to them.
  throwsCode(() => signatureMessage(twoIn, 0, [prev1], { hashType: 0 }), ErrorCode.TX_INVALID);
  throwsCode(() => signatureMessage(tx1, 0, [], { hashType: 0x41, keyVersion: 1, leafHash }), ErrorCode.TX_INVALID);
  // Bad leaf hash, annex, index.
  throwsCode(() => signatureMessage(tx1, 0, [prev1], { hashType: 0, leafHash: new Uint8Array(31) }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => signatureMessage(tx1, 0, [prev1], { hashType: 0, annex: new Uint8Array([0x51]) }), ErrorCode.TX_INVALID);
  throwsCode(() => signatureMessage(tx1, 1, [prev1], { hashType: 0 }), ErrorCode.INVALID_RANGE);
  throwsCode(() => signatureMessage(tx1, 0, [{ amount: -1n, scriptPubKey: prev1.scriptPubKey }], { hashType: 0 }), ErrorCode.INVALID_RANGE);
});

t.run();
