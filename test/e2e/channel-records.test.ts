/**
 * A role stores each channel under its own record, written in the same
 * atomic batch as the rest of its state and only when the channel changed:
 * a hub with many channels writes, per step, the channels the step used.
 * Real runtimes, a real relay process and real LevelDB stores: a hub with
 * 22 channels carries a payment, restarts from its store with every channel
 * as it was, and still loads a store written in the older layout (channels
 * inline in the state). A store that lost a channel record refuses to start
 * rather than start without the channel.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { schnorr } from '@noble/curves/secp256k1.js';
import { ErrorCode, isLnMailboxError } from '../../base/errors.js';
import { utf8 } from '../../base/bytes.js';
import { openChannelPair } from '../../engine/channel/open.js';
import type { Channel } from '../../engine/channel/channel.js';
import { MemoryNonceStore } from '../../crypto/nonce.js';
import { LevelKv } from '../../client/mailbox/kv.js';
import type { Kv } from '../../client/mailbox/kv.js';
import { recordingKv, type KvCall } from '../helpers.js';
import { KvNonceStore } from '../../client/wallet/nonce-store.js';
import { HubNode } from '../../client/wallet/roles.js';
import { encodeMailboxAddress } from '../../protocol/address.js';
import { chain, client, HUB_FEE, makeE2E, params, spawnRelay, until, type E2E, type RelayProc } from './world.js';

const t = suite('e2e/channel-records');
let relay: RelayProc;

t.before(async () => {
  relay = await spawnRelay();
});
t.after(async () => {
  await relay.kill();
});

const CHANNEL = 'role/channel/';
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** `n` further channels of the hub, co-signed at state 0 with peers that never come online. */
async function moreChannels(w: E2E, n: number): Promise<{ channel: Channel; peerKey: Uint8Array; peerAddress: string }[]> {
  const kv = new LevelKv(w.S.dir);
  const out = [];
  for (let i = 0; i < n; i++) {
    const peerSk = schnorr.utils.randomSecretKey();
    const peerCh = schnorr.utils.randomSecretKey();
    const [mine] = await openChannelPair(
      params(w.S.chPk, schnorr.getPublicKey(peerCh), 144),
      [500_000, 499_000],
      w.S.chSk,
      peerCh,
      new KvNonceStore(kv),
      new MemoryNonceStore(),
    );
    const peerKey = schnorr.getPublicKey(peerSk);
    out.push({ channel: mine, peerKey, peerAddress: encodeMailboxAddress({ publicKey: peerKey, relays: [relay.url] }) });
  }
  await kv.close();
  return out;
}

function openHub(w: E2E, kv: Kv, peers: Parameters<typeof HubNode.open>[0]['peers'] = []): Promise<HubNode> {
  return HubNode.open({
    identityKey: w.S.idSk,
    relays: [relay.url],
    kv,
    chain,
    client,
    config: { channelKey: w.S.chSk, fee: HUB_FEE, safetyMargin: 6, maxTimeoutDelta: 100 },
    peers,
  });
}

const batchesOf = (calls: KvCall[]) => calls.filter((c) => c.kind === 'batch').map((c) => c.keys);
const channelWrites = (batches: string[][]) => batches.flat().filter((k) => k.startsWith(CHANNEL));

t('a hub with 22 channels writes the two a payment uses, and restarts with all of them', async () => {
  const w = await makeE2E({ A: [relay.url], S: [relay.url], B: [relay.url] });
  const extra = await moreChannels(w, 20);
  const store = new LevelKv(w.S.dir);
  const rec = recordingKv(store);
  const S = await openHub(w, rec.kv, [
    { channel: w.channels.SA, peerKey: w.A.idPk, peerAddress: w.addr.A },
    { channel: w.channels.SB, peerKey: w.B.idPk, peerAddress: w.addr.B },
    ...extra,
  ]);
  S.on('payment', (e) => w.events.S.push(e));
  assert.is(channelWrites(batchesOf(rec.calls)).length, 22, 'the first start writes every channel once');
  const started = rec.calls.length;

  const A = await w.open.A();
  await A.payOffline(w.addr.B, 20_000);
  await until(() => w.events.A.some((e) => e.kind === 'offered'), 'offered');
  await A.close();
  const B = await w.open.B();
  await until(() => w.events.S.some((e) => e.kind === 'paid'), 'the hub paid');
  await until(() => S.balances().inFlight.outgoing === 0 && S.balances().inFlight.incoming === 0, 'nothing in flight at the hub');
  await B.close();

  const after = batchesOf(rec.calls.slice(started));
  assert.ok(after.length >= 4, `the payment took several steps (${after.length} batches)`);
  const used = new Set([hex(w.asParams.channelId), hex(w.sbParams.channelId)]);
  const written = channelWrites(after).map((k) => k.slice(CHANNEL.length));
  assert.ok(written.length > 0, 'the payment wrote its channels');
  for (const id of written) assert.ok(used.has(id), `an idle channel was written: ${id}`);
  for (const b of after) assert.ok(b.includes('role/state'), 'every step writes the state with its channels, in one batch');

  const before = S.engine.toJSON();
  await S.close();

  // Restart from the store: every channel back, exactly.
  const S2 = await openHub(w, store);
  assert.equal(S2.engine.toJSON(), before, 'the restarted hub holds exactly the state it stored');
  assert.is(S2.channels().length, 22);
  await S2.close();

  // A store of the older layout (channels inline in the state, no channel records) loads the same.
  for await (const [k] of store.entries(CHANNEL)) await store.del(k);
  await store.put('role/state', utf8(JSON.stringify(before)));
  const S3 = await openHub(w, store);
  assert.equal(S3.engine.toJSON(), before, 'the older layout loads into the same state');
  await S3.close();
  // ...and the restart wrote it back in the new layout.
  let records = 0;
  for await (const _ of store.entries(CHANNEL)) records++;
  assert.is(records, 22);

  // A lost channel record: the hub refuses to start (it would otherwise run without the channel).
  const [first] = [
    ...(await (async () => {
      const ks: string[] = [];
      for await (const [k] of store.entries(CHANNEL)) ks.push(k);
      return ks;
    })()),
  ];
  await store.del(first!);
  let refused: unknown;
  try {
    await openHub(w, store);
  } catch (e) {
    refused = e;
  }
  assert.ok(isLnMailboxError(refused) && refused.code === ErrorCode.STORE_UNAVAILABLE, `refused with ${String(refused)}`);
  await store.close();
});

t.run();
