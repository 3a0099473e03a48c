/**
 * SingleKeyWallet over EsploraChainSource over the simulator on loopback:
 * it funds a channel's funding PSBT, the transaction confirms, the funding
 * check accepts it and refuses tampered copies; and it fee-bumps an update
 * whose channel signatures commit to every output (no change).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8 } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { getPublicKey } from '../../../crypto/bip340.js';
import {
  buildUpdateTx,
  checkChannelFunding,
  encodePsbt,
  extractPsbtTx,
  fundingOutput,
  fundingPsbt,
  p2trScript,
  psbtFromTx,
  signUpdate,
  txVsize,
  txidHex,
  type EltooTerms,
} from '../../../engine/bitcoin/index.js';
import { fundingStatus } from '../../../client/chain/confirmations.js';
import { EsploraChainSource } from '../../../client/chain/esplora.js';
import { SingleKeyWallet, scriptForAddress } from '../../../client/chain/single-key-wallet.js';
import { ChainModel } from '../../../sim/chain-model.js';
import { startEsploraServer, type EsploraServer } from '../../../sim/esplora-server.js';
import { rejectsCode, throwsCode } from '../../helpers.js';

const sk = (label: string) => sha256(utf8(`ln-mailbox/test/wallet/${label}`));
const skA = sk('A');
const skS = sk('S');
const terms: EltooTerms = {
  keys: { a: getPublicKey(skA), b: getPublicKey(skS) },
  fundingAmount: 200_000,
  updateFee: 150,
  csvDelay: 6,
  payout: { a: p2trScript(getPublicKey(sk('A-pay'))), b: p2trScript(getPublicKey(sk('S-pay'))) },
};

const t = suite('client/chain/single-key-wallet');
let model: ChainModel;
let server: EsploraServer;
let chain: EsploraChainSource;

t.before.each(async () => {
  model = new ChainModel({ height: 300, minFeeRate: 2 });
  server = await startEsploraServer(model);
  chain = new EsploraChainSource(server.url);
});
t.after.each(async () => server.close());

t('funds the funding PSBT with change; it confirms; the funding check accepts it and refuses tampered copies', async () => {
  const wallet = new SingleKeyWallet(sk('funder'), chain);
  model.fundScript(wallet.scriptPubKey, 150_000);
  model.fundScript(wallet.scriptPubKey, 120_000);
  assert.is(await wallet.balance(), 270_000);
  const res = await wallet.fund(fundingPsbt(terms), { feeRate: 3, change: true });
  const tx = extractPsbtTx(res.psbt);
  assert.equal(tx, res.tx);
  assert.is(res.inputs.length, 2, 'neither coin alone pays 200 000 sats');
  assert.is(res.change, 270_000 - 200_000 - res.fee);
  assert.is(res.vsize, txVsize(tx));
  assert.is(res.fee, Math.ceil(3 * res.vsize));
  assert.is(bytesToHex(tx.outputs[1]!.script), bytesToHex(await wallet.payoutScript()));

  const { outpoint } = checkChannelFunding(tx, terms);
  const expected = { script: fundingOutput(terms).scriptPubKey, amount: terms.fundingAmount };
  assert.is(await fundingStatus(chain, txidHex(tx), expected, 3), null, 'not broadcast yet');
  assert.is(await chain.broadcast(tx), txidHex(tx));
  assert.equal(await fundingStatus(chain, txidHex(tx), expected, 3), { outpoint, confirmations: 0, usable: false });
  model.mine();
  assert.is((await chain.getTx(txidHex(tx)))?.height, 301);
  assert.is((await fundingStatus(chain, txidHex(tx), expected, 3))?.confirmations, 1);
  model.mine(2);
  assert.equal(await fundingStatus(chain, txidHex(tx), expected, 3), { outpoint, confirmations: 3, usable: true });
  // The other side expected another amount: the confirmed transaction does not fund that channel.
  await rejectsCode(fundingStatus(chain, txidHex(tx), { ...expected, amount: 200_001 }, 3), ErrorCode.FUNDING_INVALID);
  assert.is(model.coin(outpoint)?.amount, 200_000n);
  assert.equal(
    (await chain.utxos(wallet.scriptPubKey)).map((u) => u.amount),
    [res.change],
  );

  // What a cheating funder could hand over instead: each refused.
  const paying = (amount: bigint, script = fundingOutput(terms).scriptPubKey) => ({
    ...tx,
    outputs: [{ amount, script }, tx.outputs[1]!],
  });
  throwsCode(() => checkChannelFunding(paying(199_999n), terms), ErrorCode.FUNDING_INVALID, 'wrong amount');
  throwsCode(() => checkChannelFunding(paying(200_000n, wallet.scriptPubKey), terms), ErrorCode.FUNDING_INVALID, 'wrong script');
});

t('a funding PSBT the wallet cannot pay is FUNDING_INVALID; unconfirmed coins wait for minConfirmations', async () => {
  const wallet = new SingleKeyWallet(sk('poor'), chain);
  model.fundScript(wallet.scriptPubKey, 100_000);
  await rejectsCode(wallet.fund(fundingPsbt(terms), { feeRate: 2, change: true }), ErrorCode.FUNDING_INVALID);
  // A coin still in the mempool: spendable only with minConfirmations 0.
  const rich = new SingleKeyWallet(sk('rich'), chain);
  const payer = new SingleKeyWallet(sk('poor'), chain);
  await chain.broadcast(await payer.send(rich.scriptPubKey, 60_000, { feeRate: 2 }));
  assert.is(await rich.balance(), 0);
  assert.is(await new SingleKeyWallet(sk('rich'), chain, { minConfirmations: 0 }).balance(), 60_000);
  model.mine();
  assert.is(await rich.balance(), 60_000);
  const patient = new SingleKeyWallet(sk('rich'), chain, { minConfirmations: 2 });
  assert.is(await patient.balance(), 0, 'one confirmation of two');
  model.mine();
  assert.is(await patient.balance(), 60_000);
});

t('send pays an address (signet bech32m) with change back', async () => {
  const wallet = new SingleKeyWallet(sk('sender'), chain);
  const dest = new SingleKeyWallet(sk('dest'), chain);
  model.fundScript(wallet.scriptPubKey, 50_000);
  const addr = dest.address('signet');
  assert.match(addr, /^tb1p/);
  assert.is(bytesToHex(scriptForAddress(addr, 'signet')), bytesToHex(dest.scriptPubKey));
  const tx = await wallet.send(addr, 20_000, { feeRate: 2 });
  await chain.broadcast(tx);
  model.mine();
  assert.equal(
    (await chain.utxos(dest.scriptPubKey)).map((u) => u.amount),
    [20_000],
  );
  throwsCode(() => scriptForAddress('bc1qnot-an-address'), ErrorCode.INVALID_TYPE);
  assert.not.match(JSON.stringify(wallet), bytesToHex(sk('sender')));
});

t('fee bump: an update below the minimum fee rate gets a wallet input, no change, and confirms', async () => {
  const out = fundingOutput(terms);
  const funding = model.fundScript(out.scriptPubKey, 200_000);
  const sigs = { a: signUpdate(terms, 1, skA), b: signUpdate(terms, 1, skS) };
  const update = buildUpdateTx(terms, 1, { kind: 'funding', outpoint: funding }, sigs);
  // 150 sats for its size is below 2 sat/vB.
  assert.ok(150 < 2 * txVsize(update));
  await rejectsCode(chain.broadcast(update), ErrorCode.CHAIN_REJECTED);

  const bumper = new SingleKeyWallet(sk('bumper'), chain);
  const small = model.fundScript(bumper.scriptPubKey, 1_500);
  model.fundScript(bumper.scriptPubKey, 80_000);
  const psbt = psbtFromTx(update, [{ amount: out.amount, scriptPubKey: out.scriptPubKey }]);
  // A change output would break the channel's ANYPREVOUT|ALL signatures: the bumper adds no change.
  const res = await bumper.fund(psbt, { feeRate: 3, change: false });
  assert.is(res.change, null);
  assert.equal(res.tx.outputs, update.outputs);
  assert.equal(
    res.inputs.map((o) => bytesToHex(o.txid)),
    [bytesToHex(small.txid)],
    'the smallest coin that pays is used',
  );
  assert.is(res.fee, 150 + 1_500, 'everything the coin brings goes to the fee');
  assert.ok(res.fee >= 3 * res.vsize);
  await chain.broadcast(res.tx);
  model.mine();
  assert.is((await chain.spenderOf(funding))?.height, 301);
  assert.is(txidHex((await chain.spenderOf(funding))!.tx), txidHex(res.tx));

  // An input the wallet cannot size or sign around is refused.
  const bare = encodePsbt({
    version: 2,
    lockTime: 0,
    inputs: [{ ...update.inputs[0]!, prevout: null, finalWitness: update.inputs[0]!.witness }],
    outputs: update.outputs,
  });
  await rejectsCode(bumper.fund(bare, { feeRate: 3, change: false }), ErrorCode.FUNDING_INVALID);
});

t.run();
