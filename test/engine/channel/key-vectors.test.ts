/**
 * `protocol/vectors/channel-keys.json`: per-channel state keys and PTLC keys
 * (SPEC 6.6) for other implementations. Each item is computed twice: by the
 * engine's functions (engine/channel/onchain.ts) and, independently, from the SPEC's
 * formula with bare curve arithmetic; both must agree, and the file must be
 * exactly what the engine produces (regenerate with UPDATE_VECTORS=1).
 * Secret keys with both y parities of `P` are covered (the negation rule).
 */
import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8 } from '../../../base/bytes.js';
import type { ChannelParams } from '../../../engine/channel/state.js';
import { ptlcPublicKey, ptlcSecretKey, statePublicKey, stateSecretKey } from '../../../engine/channel/onchain.js';

const t = suite('channel/key-vectors');
const FILE = new URL('../../../protocol/vectors/channel-keys.json', import.meta.url);
const Pt = secp256k1.Point;

interface KeyVector {
  description: string;
  channelSecret: string;
  channelKey: string;
  channelId: string;
  stateKey: string;
  stateSecret: string;
  ptlcKey: string;
  ptlcSecret: string;
}

const paramsFor = (key: Uint8Array, channelId: Uint8Array): ChannelParams => ({
  channelId,
  funding: { txid: new Uint8Array(32), vout: 0, amount: 1_000_000 },
  keys: [key, key],
  csvDelay: 144,
  fees: { update: 500, settlement: 500, ptlc: 300 },
});

/** The engine's answer for one (secret key, channel id). */
function generate(i: number): KeyVector {
  const sk = sha256(utf8(`ln-mailbox channel-key vector ${i} secret`));
  const channelId = sha256(utf8(`ln-mailbox channel-key vector ${i} channel`));
  const P = schnorr.getPublicKey(sk);
  const p = paramsFor(P, channelId);
  const odd = Pt.BASE.multiply(bytesToNumberBE(sk)).toAffine().y % 2n === 1n;
  return {
    description: `vector ${i}: d·G has ${odd ? 'odd' : 'even'} y`,
    channelSecret: bytesToHex(sk),
    channelKey: bytesToHex(P),
    channelId: bytesToHex(channelId),
    stateKey: bytesToHex(statePublicKey(p, P)),
    stateSecret: bytesToHex(stateSecretKey(p, sk)),
    ptlcKey: bytesToHex(ptlcPublicKey(p, P)),
    ptlcSecret: bytesToHex(ptlcSecretKey(p, sk)),
  };
}

/** SPEC 6.6, from the formula: x(lift_x(P) + int(taggedHash(tag, P.x ‖ id))·G) and d' = ±d + τ. */
function fromFormula(tag: string, skHex: string, idHex: string): { key: string; secret: string } {
  const d0 = bytesToNumberBE(hexToBytes(skHex, 32));
  const P = Pt.BASE.multiply(d0).toAffine();
  const Px = numberToBytesBE(P.x, 32);
  const tau = Pt.Fn.create(bytesToNumberBE(schnorr.utils.taggedHash(tag, Px, hexToBytes(idHex, 32))));
  const lifted = Pt.fromHex(`02${bytesToHex(Px)}`);
  const key = numberToBytesBE(lifted.add(Pt.BASE.multiply(tau)).toAffine().x, 32);
  const d = P.y % 2n === 0n ? d0 : Pt.Fn.neg(d0);
  return { key: bytesToHex(key), secret: bytesToHex(numberToBytesBE(Pt.Fn.add(d, tau), 32)) };
}

const generated = Array.from({ length: 6 }, (_, i) => generate(i));

t('the committed file is exactly what the engine produces', () => {
  const text = `${JSON.stringify(generated, null, 2)}\n`;
  if (process.env.UPDATE_VECTORS === '1') fs.writeFileSync(FILE, text);
  assert.is(fs.readFileSync(FILE, 'utf8'), text, 'regenerate with UPDATE_VECTORS=1');
  assert.ok(generated.some((v) => v.description.includes('odd')) && generated.some((v) => v.description.includes('even')));
});

t('every vector matches the SPEC formula computed independently, and the secrets match the keys', () => {
  for (const v of generated) {
    assert.equal(
      fromFormula('ln-mailbox/v1/state-key', v.channelSecret, v.channelId),
      { key: v.stateKey, secret: v.stateSecret },
      v.description,
    );
    assert.equal(
      fromFormula('ln-mailbox/v1/ptlc-key', v.channelSecret, v.channelId),
      { key: v.ptlcKey, secret: v.ptlcSecret },
      v.description,
    );
    assert.is(bytesToHex(schnorr.getPublicKey(hexToBytes(v.stateSecret, 32))), v.stateKey);
    assert.is(bytesToHex(schnorr.getPublicKey(hexToBytes(v.ptlcSecret, 32))), v.ptlcKey);
    assert.is.not(v.stateKey, v.ptlcKey);
    assert.is.not(v.stateKey, v.channelKey);
  }
});

t('the state key depends on the channel id: one key pair, two channels, two state keys', () => {
  const v = generated[0]!;
  const P = hexToBytes(v.channelKey, 32);
  const other = statePublicKey(paramsFor(P, new Uint8Array(32).fill(7)), P);
  assert.is.not(bytesToHex(other), v.stateKey);
});

t.run();
