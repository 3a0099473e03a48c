/**
 * EsploraChainSource against the chain simulator served over real HTTP on
 * loopback (every route), against servers that answer garbage or lie
 * (CHAIN_BAD_RESPONSE), and against nothing (CHAIN_UNREACHABLE).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8 } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { SEQUENCE_FINAL, serializeTx, txid, txidHex, type BitcoinTx, type Outpoint } from '../../../engine/bitcoin/index.js';
import { EsploraChainSource } from '../../../client/chain/esplora.js';
import { ChainRejectedError } from '../../../client/chain/source.js';
import { ChainTip } from '../../../client/chain/tip.js';
import { ChainModel } from '../../../sim/chain-model.js';
import { startEsploraServer, type EsploraServer } from '../../../sim/esplora-server.js';
import { keyPathOutput, signKeyPath } from '../../../sim/key-path.js';
import { rejectsCode } from '../../helpers.js';

const sk = (label: string) => sha256(utf8(`ln-mailbox/test/esplora/${label}`));
const alice = sk('alice');
const aliceScript = keyPathOutput(alice, 0n).script;
const bobScript = keyPathOutput(sk('bob'), 0n).script;

function spend(coin: Outpoint, value: bigint, pay: bigint, to = bobScript): BitcoinTx {
  const unsigned: BitcoinTx = {
    version: 2,
    lockTime: 0,
    inputs: [{ ...coin, sequence: SEQUENCE_FINAL, witness: [] }],
    outputs: [{ amount: pay, script: to }],
  };
  const sig = signKeyPath(unsigned, 0, [{ amount: value, scriptPubKey: aliceScript }], alice);
  return { ...unsigned, inputs: [{ ...unsigned.inputs[0]!, witness: [sig] }] };
}

/** A plain HTTP server answering with `handler` on loopback. */
async function rawServer(handler: RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const t = suite('client/chain/esplora: every route against the simulator over HTTP');
let model: ChainModel;
let server: EsploraServer;
let chain: EsploraChainSource;

t.before.each(async () => {
  model = new ChainModel({ height: 500, minFeeRate: 2 });
  server = await startEsploraServer(model, { port: 0, host: '127.0.0.1' });
  chain = new EsploraChainSource(`${server.url}/`);
});
t.after.each(async () => server.close());

t('tip height, and the simulator-only mine route moves it', async () => {
  assert.is(await chain.tipHeight(), 500);
  const res = await fetch(`${server.url}/sim/mine`, { method: 'POST', body: JSON.stringify({ blocks: 3 }) });
  assert.equal(await res.json(), { height: 503 });
  assert.is(await chain.tipHeight(), 503);
});

t('the simulator-only fund and min-fee-rate routes (for tests in other processes), and their refusals', async () => {
  const post = (path: string, body: unknown) => fetch(`${server.url}${path}`, { method: 'POST', body: JSON.stringify(body) });
  const res = await post('/sim/fund', { scriptPubKey: bytesToHex(aliceScript), amount: 12_345 });
  const { txid: id, vout } = (await res.json()) as { txid: string; vout: number };
  assert.equal(
    (await chain.utxos(aliceScript)).map((u) => [bytesToHex(u.outpoint.txid), u.outpoint.vout, u.amount]),
    [[id, vout, 12_345]],
  );
  assert.is((await post('/sim/min-fee-rate', { satPerVb: 4 })).status, 200);
  assert.is(await chain.feeRate(2), 4);
  assert.is((await post('/sim/fund', { scriptPubKey: 'zz', amount: 1 })).status, 400);
  assert.is((await post('/sim/fund', { scriptPubKey: '51', amount: 0.5 })).status, 400);
  assert.is((await post('/sim/mine', { blocks: 0 })).status, 400);
  assert.is((await post('/sim/min-fee-rate', { satPerVb: -1 })).status, 400);
  assert.is((await fetch(`${server.url}/tx/nothex/hex`)).status, 400);
  assert.is((await fetch(`${server.url}/nowhere`)).status, 404);
  assert.is(model.height, 500);
});

t('getTx: a faucet coin parses, hashes to its id and is confirmed; an unknown txid is null', async () => {
  const coin = model.fundScript(aliceScript, 70_000);
  const got = await chain.getTx(bytesToHex(coin.txid));
  assert.ok(got);
  assert.is(txidHex(got.tx), bytesToHex(coin.txid));
  assert.is(got.height, 500);
  assert.is(await chain.getTx('ab'.repeat(32)), null);
});

t('broadcast, mempool status, spender, utxos, then mined', async () => {
  const coin = model.fundScript(aliceScript, 70_000);
  assert.equal(
    (await chain.utxos(aliceScript)).map((u) => [bytesToHex(u.outpoint.txid), u.outpoint.vout, u.amount, u.height]),
    [[bytesToHex(coin.txid), 0, 70_000, 500]],
  );
  assert.is(await chain.spenderOf(coin), null);
  const tx = spend(coin, 70_000n, 69_000n);
  assert.is(await chain.broadcast(tx), txidHex(tx));
  assert.is((await chain.getTx(txidHex(tx)))?.height, null);
  const spender = await chain.spenderOf(coin);
  assert.is(spender && txidHex(spender.tx), txidHex(tx));
  assert.is(spender?.height, null);
  assert.equal(await chain.utxos(aliceScript), []);
  assert.equal(
    (await chain.utxos(bobScript)).map((u) => [u.amount, u.height]),
    [[69_000, null]],
  );
  await fetch(`${server.url}/sim/mine`, { method: 'POST' });
  assert.is((await chain.getTx(txidHex(tx)))?.height, 501);
  assert.is((await chain.spenderOf(coin))?.height, 501);
  assert.equal(
    (await chain.utxos(bobScript)).map((u) => [u.amount, u.height]),
    [[69_000, 501]],
  );
});

t('a broadcast below the minimum fee rate is CHAIN_REJECTED with the backend reason', async () => {
  const coin = model.fundScript(aliceScript, 70_000);
  const cheap = spend(coin, 70_000n, 70_000n - 100n); // 111 vB at 2 sat/vB needs 222
  try {
    await chain.broadcast(cheap);
    assert.unreachable('accepted');
  } catch (e) {
    assert.instance(e, ChainRejectedError);
    assert.is((e as ChainRejectedError).code, ErrorCode.CHAIN_REJECTED);
    assert.match((e as ChainRejectedError).reason, 'min relay fee not met');
  }
  assert.equal(model.mempool(), []);
  // A forged signature is refused with its reason too.
  const forged = { ...cheap, outputs: [{ amount: 60_000n, script: bobScript }] };
  await rejectsCode(chain.broadcast(forged), ErrorCode.CHAIN_REJECTED);
});

t('fee rate: the simulator estimate, never below the client floor', async () => {
  assert.is(await chain.feeRate(1), 2);
  model.minFeeRate = 7.5;
  assert.is(await chain.feeRate(6), 7.5);
  model.minFeeRate = 0;
  assert.is(await new EsploraChainSource(server.url, { minFeeRate: 1.5 }).feeRate(3), 1.5);
});

t(
  'fee rate: the estimate of the largest target not above the one asked, else the smallest listed; an empty table is the floor',
  async () => {
    let table = '{"2": 50.5, "6": 20, "144": 1.25}';
    const s = await rawServer((_req, res) => res.end(table));
    try {
      const c = new EsploraChainSource(s.url, { minFeeRate: 1.5 });
      assert.equal(await Promise.all([1, 2, 3, 6, 100, 1000].map((n) => c.feeRate(n))), [50.5, 50.5, 50.5, 20, 20, 1.5]);
      table = '{}';
      assert.is(await c.feeRate(6), 1.5);
    } finally {
      await s.close();
    }
  },
);

t('ChainTip caches the height for synchronous readers and refreshes it', async () => {
  const tip = new ChainTip(chain, { pollMs: 60_000 });
  assert.throws(() => tip.height());
  await tip.start();
  assert.is(tip.height(), 500);
  model.mine(2);
  assert.is(tip.height(), 500, 'cached until the next poll');
  assert.is(await tip.refresh(), 502);
  assert.is(tip.height(), 502);
  tip.stop();
});

t.run();

const lies = suite('client/chain/esplora: bad answers are CHAIN_BAD_RESPONSE, no answer is CHAIN_UNREACHABLE');

lies('garbage on every route', async () => {
  const s = await rawServer((req, res) => {
    if (req.url === '/fee-estimates') return res.end('{"1": "fast"}');
    if (req.url?.endsWith('/utxo'))
      return res.end(JSON.stringify([{ txid: '07'.repeat(32), vout: 0, value: 5, status: { confirmed: 'yes', block_height: 5 } }]));
    res.end('garbage');
  });
  const c = new EsploraChainSource(s.url);
  const coin: Outpoint = { txid: new Uint8Array(32).fill(7), vout: 0 };
  try {
    await rejectsCode(c.tipHeight(), ErrorCode.CHAIN_BAD_RESPONSE, 'tip');
    await rejectsCode(c.getTx('07'.repeat(32)), ErrorCode.CHAIN_BAD_RESPONSE, 'tx hex');
    await rejectsCode(c.spenderOf(coin), ErrorCode.CHAIN_BAD_RESPONSE, 'outspend');
    await rejectsCode(c.utxos(aliceScript), ErrorCode.CHAIN_BAD_RESPONSE, 'utxo status');
    await rejectsCode(c.feeRate(1), ErrorCode.CHAIN_BAD_RESPONSE, 'fee estimates');
    await rejectsCode(c.broadcast(spend(coin, 1000n, 500n)), ErrorCode.CHAIN_BAD_RESPONSE, 'broadcast answer is not the txid');
  } finally {
    await s.close();
  }
});

lies('a well-formed lie: another transaction under the asked txid, a spender that spends something else, a bad status', async () => {
  const model = new ChainModel();
  const coin = model.fundScript(aliceScript, 10_000);
  const other = model.fundScript(aliceScript, 20_000);
  const otherSpend = spend(other, 20_000n, 19_000n);
  const asked = bytesToHex(coin.txid);
  const s = await rawServer((req, res) => {
    // Every txid is served the `other` coin's transaction; every outspend names `otherSpend`.
    if (req.url?.endsWith('/hex')) {
      const id = req.url.split('/')[2];
      const tx = id === txidHex(otherSpend) ? otherSpend : model.getTx(other.txid)!.tx;
      return res.end(bytesToHex(serializeTx(tx)));
    }
    if (req.url?.endsWith('/status')) {
      const id = req.url.split('/')[2];
      if (id === bytesToHex(other.txid)) return res.end('{"confirmed": true, "block_height": -1}');
      if (id === asked) return res.end('{"confirmed": true, "block_height": 3}');
      return res.end('{"confirmed": false}');
    }
    if (req.url?.includes('/outspend/')) return res.end(JSON.stringify({ spent: true, txid: txidHex(otherSpend), vin: 0 }));
    if (req.url?.endsWith('/utxo')) return res.end(JSON.stringify([{ txid: asked, vout: 0, value: 1.5, status: { confirmed: false } }]));
    res.statusCode = 404;
    res.end();
  });
  const c = new EsploraChainSource(s.url);
  try {
    await rejectsCode(c.getTx(asked), ErrorCode.CHAIN_BAD_RESPONSE, 'tx hashing to another id');
    await rejectsCode(c.spenderOf(coin), ErrorCode.CHAIN_BAD_RESPONSE, 'spender not spending the outpoint');
    await rejectsCode(c.getTx(bytesToHex(other.txid)), ErrorCode.CHAIN_BAD_RESPONSE, 'negative block height');
    await rejectsCode(c.utxos(aliceScript), ErrorCode.CHAIN_BAD_RESPONSE, 'fractional value');
  } finally {
    await s.close();
  }
  assert.is(bytesToHex(txid(otherSpend)), txidHex(otherSpend));
});

lies('HTTP 5xx, a closed port and a server that never answers are CHAIN_UNREACHABLE', async () => {
  const failing = await rawServer((_req, res) => {
    res.statusCode = 503;
    res.end('overloaded');
  });
  await rejectsCode(new EsploraChainSource(failing.url).tipHeight(), ErrorCode.CHAIN_UNREACHABLE, '503');
  await failing.close();
  await rejectsCode(new EsploraChainSource(failing.url).tipHeight(), ErrorCode.CHAIN_UNREACHABLE, 'closed port');
  const silent = await rawServer(() => {});
  try {
    await rejectsCode(new EsploraChainSource(silent.url, { timeoutMs: 100 }).tipHeight(), ErrorCode.CHAIN_UNREACHABLE, 'timeout');
  } finally {
    await silent.close();
  }
});

lies('an unreachable source makes ChainTip.start fail rather than report a made-up height', async () => {
  const s = await rawServer((_req, res) => res.end('1'));
  await s.close();
  await rejectsCode(new ChainTip(new EsploraChainSource(s.url)).start(), ErrorCode.CHAIN_UNREACHABLE);
});

lies.run();
