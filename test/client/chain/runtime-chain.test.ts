/**
 * A role runtime given a ChainSource: it reads the tip at start (refusing to
 * start without one), keeps it current by polling, and hands the source to
 * code that watches and broadcasts. Real relay, real LevelDB, the simulator
 * over HTTP.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import { ErrorCode } from '../../../base/errors.js';
import { getPublicKey } from '../../../crypto/bip340.js';
import { encodeMailboxAddress } from '../../../protocol/address.js';
import { EsploraChainSource } from '../../../client/chain/esplora.js';
import { LevelKv } from '../../../client/mailbox/kv.js';
import { KvNonceStore } from '../../../client/wallet/nonce-store.js';
import { PayerNode } from '../../../client/wallet/roles.js';
import { openChannelPair } from '../../../engine/channel/open.js';
import { ChainModel } from '../../../sim/chain-model.js';
import { startEsploraServer } from '../../../sim/esplora-server.js';
import { keys, params, client, until } from '../../e2e/world.js';
import { startTestRelay } from '../../server/relay-harness.js';
import { rejectsCode } from '../../helpers.js';

const t = suite('client/chain: a role runtime over a ChainSource');

async function payerSetup(relay: string) {
  const A = keys();
  const S = keys();
  const kvA = new LevelKv(A.dir);
  const sDir = fs.mkdtempSync(`${os.tmpdir()}/lnmb-chain-s-`);
  const kvS = new LevelKv(sDir);
  const [aCh] = await openChannelPair(
    params(A.chPk, S.chPk, 288),
    [600_000, 399_000],
    A.chSk,
    S.chSk,
    new KvNonceStore(kvA),
    new KvNonceStore(kvS),
  );
  await kvS.close();
  fs.rmSync(sDir, { recursive: true, force: true });
  const hubAddress = encodeMailboxAddress({ publicKey: S.idPk, relays: [relay] });
  return { A, S, kvA, aCh, hubAddress };
}

t('the runtime reads the tip at start, polls it, and exposes the source', async () => {
  const relay = await startTestRelay();
  const model = new ChainModel({ height: 800_000 });
  const sim = await startEsploraServer(model);
  const { A, S, kvA, aCh, hubAddress } = await payerSetup(relay.url);
  const chain = new EsploraChainSource(sim.url);
  const payer = await PayerNode.open({
    identityKey: A.idSk,
    relays: [relay.url],
    kv: kvA,
    chain,
    chainPollMs: 20,
    client,
    ownsStore: true,
    config: { hubKey: getPublicKey(S.idSk), hubAddress, channelKey: A.chSk },
    channel: aCh,
  });
  try {
    assert.is(payer.ctx().height, 800_000);
    assert.is(payer.chainSource, chain);
    model.mine(3);
    await until(() => payer.ctx().height === 800_003, 'the polled tip');
  } finally {
    await payer.close();
    await sim.close();
    await relay.close();
    fs.rmSync(A.dir, { recursive: true, force: true });
  }
});

t('a runtime whose chain source does not answer does not start', async () => {
  const relay = await startTestRelay();
  const sim = await startEsploraServer(new ChainModel());
  await sim.close();
  const { A, S, kvA, aCh, hubAddress } = await payerSetup(relay.url);
  try {
    await rejectsCode(
      PayerNode.open({
        identityKey: A.idSk,
        relays: [relay.url],
        kv: kvA,
        chain: new EsploraChainSource(sim.url, { timeoutMs: 1_000 }),
        client,
        config: { hubKey: getPublicKey(S.idSk), hubAddress, channelKey: A.chSk },
        channel: aCh,
      }),
      ErrorCode.CHAIN_UNREACHABLE,
    );
  } finally {
    await kvA.close();
    await relay.close();
    fs.rmSync(A.dir, { recursive: true, force: true });
  }
});

t.run();
