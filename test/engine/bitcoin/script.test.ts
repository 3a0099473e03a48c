import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8 } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import {
  MAX_MONEY,
  MAX_STATE,
  assertAmount,
  assertEltooTerms,
  assertSats,
  satsToAmount,
  bip118Key,
  buildSettlementTx,
  buildUpdateTx,
  decodeWitnessSignature,
  encodeWitnessSignature,
  p2trScript,
  parseLeafScript,
  parseTx,
  ptlcClaimLeaf,
  ptlcRefundLeaf,
  rebindLeaf,
  serializeTx,
  settleLeaf,
  settlementOutputs,
  signUpdate,
  txidHex,
  unsignedUpdateTx,
  updateOutput,
  updateSighash,
  type EltooTerms,
} from '../../../engine/bitcoin/index.js';
import { throwsCode } from '../../helpers.js';

const t = suite('bitcoin/script');

const sk = (label: string) => sha256(utf8(`ln-mailbox/test/script/${label}`));
const a = schnorr.getPublicKey(sk('a'));
const b = schnorr.getPublicKey(sk('b'));
const offCurve = new Uint8Array(32).fill(0xff);
const params: EltooTerms = {
  keys: { a, b },
  fundingAmount: 100_000,
  updateFee: 300,
  csvDelay: 6,
  payout: { a: p2trScript(a), b: p2trScript(b) },
};

t('leaf scripts: exact bytes and round trip through the parser', () => {
  const k = (x: Uint8Array) => bytesToHex(bip118Key(x));
  // <500000000 + 7> CLTV DROP <01‖a> CHECKSIGVERIFY <01‖b> CHECKSIG
  assert.is(bytesToHex(rebindLeaf(7, { a, b })), `04${'0765cd1d'}b17521${k(a)}ad21${k(b)}ac`);
  // A delay ≤ 16 is OP_n; a larger one a minimal push (144 = 0x9000).
  assert.is(bytesToHex(settleLeaf(6, { a, b })), `56b27521${k(a)}ad21${k(b)}ac`);
  assert.is(bytesToHex(settleLeaf(144, { a, b })), `029000b27521${k(a)}ad21${k(b)}ac`);
  assert.is(bytesToHex(ptlcClaimLeaf(a, b)), `21${k(a)}ad21${k(b)}ac`);
  assert.is(bytesToHex(ptlcRefundLeaf(800_000, a)), `0300350cb17520${bytesToHex(a)}ac`);
  assert.equal(parseLeafScript(rebindLeaf(7, { a, b })), { kind: 'rebind', minState: 7, keys: { a, b } });
  assert.equal(parseLeafScript(rebindLeaf(0, { a, b })), { kind: 'rebind', minState: 0, keys: { a, b } });
  assert.equal(parseLeafScript(settleLeaf(144, { a, b })), { kind: 'settle', csvDelay: 144, keys: { a, b } });
  assert.equal(parseLeafScript(settleLeaf(6, { a, b })), { kind: 'settle', csvDelay: 6, keys: { a, b } });
  assert.equal(parseLeafScript(ptlcClaimLeaf(a, b)), { kind: 'ptlc-claim', payer: a, payee: b });
  assert.equal(parseLeafScript(ptlcRefundLeaf(800_000, a)), { kind: 'ptlc-refund', timeout: 800_000, payer: a });
});

t('malformed scripts are TX_INVALID', () => {
  const good = rebindLeaf(7, { a, b });
  const bad: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['truncated push', good.slice(0, good.length - 10)],
    ['extra opcode', new Uint8Array([...good, 0x75])],
    ['OP_TRUE', new Uint8Array([0x51])],
    ['CLTV below the state range', rebindLeafWithLock(499_999_999)],
    ['non-minimal number push', new Uint8Array([0x05, 0x07, 0x65, 0xcd, 0x1d, 0x00, ...good.slice(5)])],
    ['plain key where a BIP118 key belongs', new Uint8Array([0x20, ...a, 0xad, 0x21, ...bip118Key(b), 0xac])],
    ['off-curve key', new Uint8Array([0x21, 0x01, ...offCurve, 0xad, 0x21, ...bip118Key(b), 0xac])],
    ['same key twice', ptlcClaimLike(a, a)],
    ['refund with a height-like time lock', new Uint8Array([0x04, 0x00, 0x65, 0xcd, 0x1d, 0xb1, 0x75, 0x20, ...a, 0xac])],
    ['CSV of zero', new Uint8Array([0x00, 0xb2, 0x75, 0x21, ...bip118Key(a), 0xad, 0x21, ...bip118Key(b), 0xac])],
  ];
  for (const [what, s] of bad) throwsCode(() => parseLeafScript(s), ErrorCode.TX_INVALID, what);
  throwsCode(() => parseLeafScript('00' as unknown as Uint8Array), ErrorCode.INVALID_TYPE);
});

function rebindLeafWithLock(lock: number): Uint8Array {
  const l = new Uint8Array(4);
  new DataView(l.buffer).setUint32(0, lock, true);
  return new Uint8Array([0x04, ...l, 0xb1, 0x75, 0x21, ...bip118Key(a), 0xad, 0x21, ...bip118Key(b), 0xac]);
}
function ptlcClaimLike(x: Uint8Array, y: Uint8Array): Uint8Array {
  return new Uint8Array([0x21, 0x01, ...x, 0xad, 0x21, 0x01, ...y, 0xac]);
}

t('keys: wrong length, off the curve, equal', () => {
  throwsCode(() => bip118Key(new Uint8Array(33)), ErrorCode.INVALID_LENGTH);
  throwsCode(() => bip118Key(offCurve), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => rebindLeaf(1, { a: a.slice(1), b }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => rebindLeaf(1, { a, b: offCurve }), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => settleLeaf(6, { a, b: a }), ErrorCode.INVALID_PUBLIC_KEY);
  throwsCode(() => ptlcRefundLeaf(10, 'ab' as unknown as Uint8Array), ErrorCode.INVALID_TYPE);
  throwsCode(() => assertEltooTerms({ ...params, keys: { a, b: new Uint8Array(31) } }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => assertEltooTerms({ ...params, keys: { a, b: a } }), ErrorCode.INVALID_PUBLIC_KEY);
});

t('keys: the cache of keys found on the curve never lets an off-curve key through', () => {
  // Valid keys are remembered (bounded); an invalid one is checked, and refused, every time, before
  // and after the valid keys around it were cached, and across the cache being cleared when full.
  for (let round = 0; round < 3; round++) {
    throwsCode(() => bip118Key(offCurve), ErrorCode.INVALID_PUBLIC_KEY);
    assert.equal(bip118Key(a).slice(1), a);
    for (let i = 0; i < 1500; i++) bip118Key(schnorr.getPublicKey(sha256(utf8(`cache ${round} ${i}`))));
    throwsCode(() => bip118Key(offCurve), ErrorCode.INVALID_PUBLIC_KEY);
    throwsCode(() => rebindLeaf(1, { a, b: offCurve }), ErrorCode.INVALID_PUBLIC_KEY);
  }
  // A returned key is a copy: mutating it cannot change what was validated.
  const k = bip118Key(a);
  k[5] = k[5]! ^ 1;
  assert.equal(bip118Key(a).slice(1), a);
});

t('numbers: states, delays, timeouts, amounts', () => {
  throwsCode(() => rebindLeaf(-1, { a, b }), ErrorCode.INVALID_RANGE);
  throwsCode(() => rebindLeaf(1.5, { a, b }), ErrorCode.INVALID_RANGE);
  throwsCode(() => rebindLeaf(MAX_STATE + 1, { a, b }), ErrorCode.INVALID_RANGE);
  throwsCode(() => updateOutput(params, MAX_STATE), ErrorCode.INVALID_RANGE, 'update MAX_STATE would need rebind(MAX_STATE + 1)');
  assert.ok(updateOutput(params, MAX_STATE - 1));
  throwsCode(() => rebindLeaf('1' as unknown as number, { a, b }), ErrorCode.INVALID_TYPE);
  throwsCode(() => settleLeaf(0, { a, b }), ErrorCode.INVALID_RANGE);
  throwsCode(() => settleLeaf(65_536, { a, b }), ErrorCode.INVALID_RANGE);
  throwsCode(() => ptlcRefundLeaf(500_000_000, a), ErrorCode.INVALID_RANGE);
  // Transaction amounts (bigint) and channel amounts (number) share one MAX_MONEY.
  assert.is(assertAmount(BigInt(MAX_MONEY)), BigInt(MAX_MONEY));
  assert.is(assertAmount(12n), 12n);
  throwsCode(() => assertAmount(BigInt(MAX_MONEY) + 1n), ErrorCode.INVALID_RANGE);
  throwsCode(() => assertAmount(-1n), ErrorCode.INVALID_RANGE);
  throwsCode(() => assertAmount(12), ErrorCode.INVALID_TYPE);
  throwsCode(() => assertAmount('100'), ErrorCode.INVALID_TYPE);
  assert.ok(Number.isSafeInteger(MAX_MONEY + 1), 'every channel amount up to MAX_MONEY is exact');
  assert.is(assertSats(MAX_MONEY), MAX_MONEY);
  assert.is(satsToAmount(12), 12n);
  throwsCode(() => assertSats(MAX_MONEY + 1), ErrorCode.INVALID_RANGE);
  throwsCode(() => assertSats(-1), ErrorCode.INVALID_RANGE);
  throwsCode(() => assertSats(0.5), ErrorCode.INVALID_RANGE);
  throwsCode(() => assertSats(2 ** 60), ErrorCode.INVALID_RANGE);
  throwsCode(() => satsToAmount(2 ** 60), ErrorCode.INVALID_RANGE);
  throwsCode(() => assertSats(12n), ErrorCode.INVALID_TYPE);
  throwsCode(() => assertEltooTerms({ ...params, fundingAmount: 22_000_000 * 100_000_000 }), ErrorCode.INVALID_RANGE);
  throwsCode(() => assertEltooTerms({ ...params, updateFee: params.fundingAmount }), ErrorCode.CHANNEL_INVARIANT);
  throwsCode(() => assertEltooTerms({ ...params, csvDelay: 0 }), ErrorCode.INVALID_RANGE);
});

t('hash types: only 0xc1/0xc3 for updates, and witness signature encoding rules', () => {
  throwsCode(() => updateSighash(params, 1, 0x41), ErrorCode.INVALID_RANGE);
  throwsCode(() => updateSighash(params, 1, 0x01), ErrorCode.INVALID_RANGE);
  throwsCode(() => signUpdate(params, 1, sk('a'), undefined, 0xc2), ErrorCode.INVALID_RANGE);
  const sig64 = new Uint8Array(64).fill(1);
  assert.is(encodeWitnessSignature(sig64, 0, 1).length, 64);
  assert.is(encodeWitnessSignature(sig64, 0xc1, 1).length, 65);
  throwsCode(() => encodeWitnessSignature(sig64, 0xc1, 0), ErrorCode.INVALID_RANGE);
  throwsCode(() => encodeWitnessSignature(sig64.slice(1), 0x01, 0), ErrorCode.INVALID_LENGTH);
  assert.equal(decodeWitnessSignature(new Uint8Array([...sig64, 0x43]), 1).hashType, 0x43);
  throwsCode(() => decodeWitnessSignature(new Uint8Array([...sig64, 0x00]), 1), ErrorCode.INVALID_SIGNATURE, 'explicit 0x00');
  throwsCode(() => decodeWitnessSignature(new Uint8Array([...sig64, 0x41]), 0), ErrorCode.INVALID_SIGNATURE, 'APO on a v0 key');
  throwsCode(() => decodeWitnessSignature(new Uint8Array([...sig64, 0x04]), 1), ErrorCode.INVALID_SIGNATURE);
  throwsCode(() => decodeWitnessSignature(new Uint8Array(63), 1), ErrorCode.INVALID_SIGNATURE);
});

t('settlement invariants: value conserved exactly, no dust, CHANNEL_INVARIANT', () => {
  const avail = params.fundingAmount - params.updateFee;
  const ok = { state: 1, balances: { a: 60_000, b: avail - 60_000 - 500 }, fee: 500 };
  assert.is(settlementOutputs(params, ok).outputs.length, 2);
  assert.is(settlementOutputs(params, { ...ok, balances: { a: 0, b: avail - 500 } }).outputs.length, 1, 'zero balance omitted');
  throwsCode(() => settlementOutputs(params, { ...ok, fee: 501 }), ErrorCode.CHANNEL_INVARIANT, 'outputs exceed inputs');
  throwsCode(() => settlementOutputs(params, { ...ok, fee: 499 }), ErrorCode.CHANNEL_INVARIANT, 'sats unaccounted for');
  throwsCode(() => settlementOutputs(params, { ...ok, balances: { a: 100, b: avail - 600 } }), ErrorCode.CHANNEL_INVARIANT, 'dust');
  throwsCode(() => settlementOutputs(params, { ...ok, balances: { a: -1, b: avail } }), ErrorCode.INVALID_RANGE);
  throwsCode(() => settlementOutputs(params, { ...ok, state: -1 }), ErrorCode.INVALID_RANGE);
  const o = { txid: new Uint8Array(32), vout: 0 };
  throwsCode(() => buildSettlementTx(params, ok, o, { a: new Uint8Array(65), b: new Uint8Array(65) }), ErrorCode.INVALID_SIGNATURE);
  throwsCode(
    () => buildUpdateTx(params, 1, { kind: 'funding', outpoint: o }, { a: new Uint8Array(64), b: new Uint8Array(64) }),
    ErrorCode.INVALID_SIGNATURE,
  );
  throwsCode(
    () =>
      buildUpdateTx(
        params,
        1,
        { kind: 'funding', outpoint: { txid: new Uint8Array(31), vout: 0 } },
        {
          a: signUpdate(params, 1, sk('a')),
          b: signUpdate(params, 1, sk('b')),
        },
      ),
    ErrorCode.INVALID_LENGTH,
  );
  throwsCode(
    () => buildUpdateTx(params, 1, { kind: 'nope', outpoint: o } as never, { a: new Uint8Array(65), b: new Uint8Array(65) }),
    ErrorCode.INVALID_TYPE,
  );
  // Signatures swapped between parties do not verify.
  throwsCode(
    () =>
      buildUpdateTx(
        params,
        1,
        { kind: 'funding', outpoint: o },
        {
          a: signUpdate(params, 1, sk('b')),
          b: signUpdate(params, 1, sk('a')),
        },
      ),
    ErrorCode.INVALID_SIGNATURE,
  );
});

t('serialization round trip and txid', () => {
  const tx = unsignedUpdateTx(params, 3, { txid: new Uint8Array(32).fill(7), vout: 1 });
  const raw = serializeTx(tx);
  assert.equal(parseTx(raw), tx);
  assert.is(txidHex(parseTx(bytesToHex(raw))), txidHex(tx));
  throwsCode(() => parseTx('00'), ErrorCode.TX_INVALID);
  throwsCode(() => parseTx('0'), ErrorCode.INVALID_HEX);
});

t.run();
