import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { schnorr } from '@noble/curves/secp256k1.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { PresignedSigner } from '../../bench/load/presign.js';

const t = suite('bench/presign');

t('signatures from prepared nonces are valid BIP340 signatures, for odd- and even-y keys', () => {
  for (let i = 0; i < 6; i++) {
    const sk = schnorr.utils.randomSecretKey();
    const s = new PresignedSigner(sk);
    assert.equal(s.publicKey, schnorr.getPublicKey(sk));
    s.prepare(3);
    for (let j = 0; j < 3; j++) {
      const msg = randomBytes(32);
      const sig = s.sign(msg);
      assert.ok(schnorr.verify(sig, msg, s.publicKey), `key ${i} sig ${j}`);
      const other = msg.slice();
      other[0]! ^= 1;
      assert.not.ok(schnorr.verify(sig, other, s.publicKey));
    }
  }
});

t('each nonce is used once; an empty pool refuses to sign', () => {
  const s = new PresignedSigner(schnorr.utils.randomSecretKey());
  s.prepare(2);
  const a = s.sign(randomBytes(32));
  const b = s.sign(randomBytes(32));
  assert.is.not(Buffer.from(a.subarray(0, 32)).toString('hex'), Buffer.from(b.subarray(0, 32)).toString('hex'));
  assert.is(s.remaining, 0);
  assert.throws(() => s.sign(randomBytes(32)), /empty/);
});

t.run();
