import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8 } from '../../base/bytes.js';
import {
  SEQUENCE_FINAL,
  txVsize,
  txWeight,
  txid,
  txidHex,
  serializeTx,
  serializeTxNoWitness,
  type BitcoinTx,
  type Outpoint,
} from '../../engine/bitcoin/index.js';
import { ChainModel, at } from '../../sim/chain-model.js';
import { keyPathOutput, signKeyPath } from '../../sim/key-path.js';
import { rejects } from '../engine/bitcoin/chain-model.js';

const t = suite('sim/chain-model: mempool, mining, fees, replacement');

const sk = (label: string) => sha256(utf8(`ln-mailbox/test/sim/${label}`));
const alice = sk('alice');
const bob = sk('bob');
const aliceScript = keyPathOutput(alice, 0n).script;
const bobScript = keyPathOutput(bob, 0n).script;

/** A signed one-input spend of `coin` (worth `value`, held by `key`) paying `pay` to `to`, the rest to fee. */
function spend(
  coin: Outpoint,
  value: bigint,
  key: Uint8Array,
  pay: bigint,
  to = bobScript,
  opts: { sequence?: number; lockTime?: number } = {},
): BitcoinTx {
  const unsigned: BitcoinTx = {
    version: 2,
    lockTime: opts.lockTime ?? 0,
    inputs: [{ ...coin, sequence: opts.sequence ?? SEQUENCE_FINAL, witness: [] }],
    outputs: [{ amount: pay, script: to }],
  };
  const sig = signKeyPath(unsigned, 0, [{ amount: value, scriptPubKey: keyPathOutput(key, 0n).script }], key);
  return { ...unsigned, inputs: [{ ...unsigned.inputs[0]!, witness: [sig] }] };
}

/** A signed spend of a 100 000-sat coin of alice to `n` outputs of `each` sats. */
function wideSpend(coin: Outpoint, n: number, each: bigint): BitcoinTx {
  const wide: BitcoinTx = {
    version: 2,
    lockTime: 0,
    inputs: [{ ...coin, sequence: SEQUENCE_FINAL, witness: [] }],
    outputs: Array.from({ length: n }, () => ({ amount: each, script: bobScript })),
  };
  const sig = signKeyPath(wide, 0, [{ amount: 100_000n, scriptPubKey: aliceScript }], alice);
  return { ...wide, inputs: [{ ...wide.inputs[0]!, witness: [sig] }] };
}

t('vsize is the BIP141 weight / 4: a one-input key-path spend is 111 vB (57.5 witness bytes discounted)', () => {
  const chain = new ChainModel();
  const coin = chain.fundScript(aliceScript, 100_000);
  const tx = spend(coin, 100_000n, alice, 99_000n);
  const base = serializeTxNoWitness(tx).length;
  const total = serializeTx(tx).length;
  assert.is(txWeight(tx), base * 4 + (total - base));
  assert.is(txVsize(tx), Math.ceil(txWeight(tx) / 4));
  // 4+1+41+1+43+4 = 94 non-witness bytes, 2 (marker, flag) + 1 + 1 + 64 witness bytes.
  assert.is(base, 94);
  assert.is(total - base, 68);
  assert.is(txVsize(tx), 111);
});

t('the faucet confirms a coin with a real txid at the tip; broadcast waits in the mempool until mined', () => {
  const chain = new ChainModel({ height: 200 });
  const coin = chain.fundScript(aliceScript, 50_000);
  assert.equal(chain.getTx(coin.txid)?.height, 200);
  assert.is(txidHex(chain.getTx(coin.txid)!.tx), bytesToHex(coin.txid));
  assert.equal(
    chain.utxosOf(aliceScript).map((u) => [bytesToHex(u.outpoint.txid), u.height]),
    [[bytesToHex(coin.txid), 200]],
  );

  const tx = spend(coin, 50_000n, alice, 49_000n);
  const id = chain.broadcast(tx);
  assert.equal(chain.mempool(), [bytesToHex(id)]);
  assert.is(chain.getTx(id)?.height, null);
  assert.is(txidHex(chain.spenderOf(coin)!.tx), bytesToHex(id));
  assert.is(chain.spenderOf(coin)!.height, null);
  assert.ok(chain.isUnspent(coin), 'still confirmed-unspent until mined');
  assert.equal(chain.utxosOf(aliceScript), [], 'a coin spent in the mempool is not listed');
  assert.equal(chain.utxosOf(bobScript)[0]!.height, null);
  // Idempotent re-broadcast.
  assert.equal(chain.broadcast(tx), id);
  assert.is(chain.mempool().length, 1);

  assert.is(chain.mine(), 201);
  assert.is(chain.height, 201);
  assert.equal(chain.mempool(), []);
  assert.is(chain.getTx(id)?.height, 201);
  assert.is(chain.spenderOf(coin)!.height, 201);
  assert.not.ok(chain.isUnspent(coin));
  assert.equal(chain.utxosOf(bobScript)[0]!.height, 201);
  assert.equal(
    chain.utxosByScriptHash(bytesToHex(sha256(bobScript))).map((u) => u.output.amount),
    [49_000n],
  );
  rejects(() => chain.broadcast(tx), 'known');
  assert.is(chain.mine(3), 204);
});

t('an unconfirmed output can be spent by a later mempool transaction; both confirm in order in one block', () => {
  const chain = new ChainModel();
  const coin = chain.fundScript(aliceScript, 80_000);
  const parent = spend(coin, 80_000n, alice, 79_000n, aliceScript);
  chain.broadcast(parent);
  const child = spend({ txid: txid(parent), vout: 0 }, 79_000n, alice, 78_000n);
  chain.broadcast(child);
  assert.equal(chain.mempool(), [txidHex(parent), txidHex(child)]);
  chain.mine();
  assert.is(chain.getTx(txidHex(child))?.height, 101);
  assert.is(chain.getTx(txidHex(parent))?.height, 101);
});

t('a relative lock counts an unconfirmed parent as confirming in the next block', () => {
  const chain = new ChainModel();
  const coin = chain.fundScript(aliceScript, 80_000);
  const parent = spend(coin, 80_000n, alice, 79_000n, aliceScript);
  chain.broadcast(parent);
  // BIP68: one block after the parent confirms.
  const child = spend({ txid: txid(parent), vout: 0 }, 79_000n, alice, 78_000n, bobScript, { sequence: 1 });
  rejects(() => chain.broadcast(child), 'bip68');
  chain.mine();
  chain.broadcast(child);
  chain.mine();
  assert.is(chain.getTx(txidHex(child))?.height, 102);
});

t('a height-locked transaction is refused until the next block reaches its nLockTime', () => {
  const chain = new ChainModel();
  const coin = chain.fundScript(aliceScript, 80_000);
  const tx = spend(coin, 80_000n, alice, 79_000n, bobScript, { sequence: 0xffff_fffe, lockTime: 102 });
  rejects(() => chain.broadcast(tx), 'non-final');
  chain.mine();
  rejects(() => chain.broadcast(tx), 'non-final', 'nLockTime 102 needs a block at 103');
  chain.mine();
  chain.broadcast(tx);
});

t('minimum fee rate: below it a broadcast is refused with reason fee; at it accepted; a block may still carry it', () => {
  const chain = new ChainModel({ minFeeRate: 2 });
  const coin = chain.fundScript(aliceScript, 100_000);
  // 111 vB at 2 sat/vB = 222 sats.
  const cheap = spend(coin, 100_000n, alice, 100_000n - 221n);
  assert.is(txVsize(cheap), 111);
  rejects(() => chain.broadcast(cheap), 'fee');
  assert.equal(chain.mempool(), []);
  const enough = spend(coin, 100_000n, alice, 100_000n - 222n);
  chain.broadcast(enough);
  assert.is(chain.estimateFeeRate(1), 2);
  // Raising the floor refuses new broadcasts, not what is already waiting.
  chain.minFeeRate = 10;
  const other = chain.fundScript(aliceScript, 100_000);
  rejects(() => chain.broadcast(spend(other, 100_000n, alice, 100_000n - 1000n)), 'fee');
  chain.mine();
  assert.is(chain.getTx(txidHex(enough))?.height, 101);
  // submit() is a block: no fee rule.
  chain.submit(spend(other, 100_000n, alice, 100_000n), at(102));
});

t('replacement: higher fee rate and fee replace (with descendants); equal or lower is refused', () => {
  const chain = new ChainModel();
  const coin = chain.fundScript(aliceScript, 100_000);
  const first = spend(coin, 100_000n, alice, 99_000n, aliceScript);
  chain.broadcast(first);
  const child = spend({ txid: txid(first), vout: 0 }, 99_000n, alice, 98_000n);
  chain.broadcast(child);
  // Same fee: refused.
  rejects(() => chain.broadcast(spend(coin, 100_000n, alice, 99_000n, bobScript)), 'replacement');
  // Higher rate than `first` but less than first + child together: refused.
  rejects(() => chain.broadcast(spend(coin, 100_000n, alice, 98_500n, bobScript)), 'replacement');
  // Beats both by less than its own size at the floor (111 sats): refused.
  rejects(() => chain.broadcast(spend(coin, 100_000n, alice, 100_000n - 2000n - 110n, bobScript)), 'replacement');
  const better = spend(coin, 100_000n, alice, 100_000n - 2000n - 111n, bobScript);
  chain.broadcast(better);
  assert.equal(chain.mempool(), [txidHex(better)], 'the conflict and its child are gone');
  assert.is(chain.getTx(txidHex(child)), null);
  chain.mine();
  assert.is(chain.spenderOf(coin)?.height, 101);
  assert.is(txidHex(chain.spenderOf(coin)!.tx), txidHex(better));
});

t('replacement: a bigger transaction paying more in total but a lower fee rate is refused', () => {
  const chain = new ChainModel();
  const coin = chain.fundScript(aliceScript, 100_000);
  const first = spend(coin, 100_000n, alice, 99_000n); // 1000 sats for 111 vB
  chain.broadcast(first);
  // Ten outputs: about 500 vB; 1600 sats beats 1000 by more than its size, at about 3 sat/vB < 9.
  const signed = wideSpend(coin, 10, 9_840n);
  assert.ok(1600 - 1000 >= txVsize(signed) && 1600 / txVsize(signed) < 1000 / txVsize(first));
  rejects(() => chain.broadcast(signed), 'replacement');
  assert.equal(chain.mempool(), [txidHex(first)]);
});

t('replacement with no minimum fee rate still needs a higher absolute fee, not just a higher rate', () => {
  const chain = new ChainModel({ minFeeRate: 0 });
  const coin = chain.fundScript(aliceScript, 100_000);
  chain.broadcast(wideSpend(coin, 10, 9_900n)); // 1000 sats for about 500 vB
  // A one-output spend with the same 1000 sats: a far higher rate, the same fee.
  rejects(() => chain.broadcast(spend(coin, 100_000n, alice, 99_000n, aliceScript)), 'replacement');
  chain.broadcast(spend(coin, 100_000n, alice, 98_999n, aliceScript));
});

t('a direct submit that conflicts with the mempool drops the mempool transaction', () => {
  const chain = new ChainModel();
  const coin = chain.fundScript(aliceScript, 100_000);
  chain.broadcast(spend(coin, 100_000n, alice, 99_000n));
  const direct = spend(coin, 100_000n, alice, 98_000n, aliceScript);
  chain.submit(direct, chain.nextBlock());
  assert.equal(chain.mempool(), []);
  assert.is(chain.height, 101);
  assert.is(txidHex(chain.spenderOf(coin)!.tx), txidHex(direct));
});

t('a bad signature in the mempool path is refused like in a block', () => {
  const chain = new ChainModel();
  const coin = chain.fundScript(aliceScript, 100_000);
  const forged = spend(coin, 100_000n, bob, 99_000n);
  rejects(() => chain.broadcast(forged), 'signature');
  rejects(() => chain.broadcast(spend(coin, 100_000n, alice, 100_001n)), 'value');
});

t.run();
