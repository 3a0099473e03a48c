/**
 * The watchtower's copies of a role's channels: remade only for a channel
 * that changed since it was last copied (a hub's tower looks at every
 * channel at every poll), and sharing nothing with the channel, so a later
 * step of the engine does not change a copy a reader holds.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { schnorr } from '@noble/curves/secp256k1.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { MemoryNonceStore } from '../../../crypto/nonce.js';
import { Channel } from '../../../engine/channel/channel.js';
import { openChannelPair } from '../../../engine/channel/open.js';
import { ChannelCopies } from '../../../client/wallet/channel-copies.js';

const t = suite('wallet/channel-copies');

async function channels(n: number): Promise<Channel[]> {
  const out: Channel[] = [];
  for (let i = 0; i < n; i++) {
    const sk = [schnorr.utils.randomSecretKey(), schnorr.utils.randomSecretKey()] as const;
    const params = {
      channelId: randomBytes(32),
      funding: { txid: randomBytes(32), vout: 0, amount: 1_000_000 },
      keys: [schnorr.getPublicKey(sk[0]), schnorr.getPublicKey(sk[1])] as [Uint8Array, Uint8Array],
      csvDelay: 144,
      fees: { update: 500, settlement: 500, ptlc: 300 },
    };
    const [mine] = await openChannelPair(params, [600_000, 399_000], sk[0], sk[1], new MemoryNonceStore(), new MemoryNonceStore());
    out.push(mine);
  }
  return out;
}

t('unchanged channels are not copied again; a changed one is, and a held copy does not follow it', async () => {
  const chs = await channels(20);
  const copies = new ChannelCopies();
  let serialized = 0;
  const original = Channel.prototype.toJSON;
  Channel.prototype.toJSON = function (this: Channel) {
    if (chs.includes(this)) serialized++;
    return original.call(this);
  };
  try {
    const first = copies.of(chs);
    assert.is(serialized, 20, 'the first look copies every channel');
    assert.equal(
      first.map((c) => JSON.stringify(c.toJSON())),
      chs.map((c) => JSON.stringify(original.call(c))),
      'each copy holds its channel',
    );
    for (let i = 0; i < 20; i++) assert.is.not(first[i], chs[i], 'a copy, not the channel');
    serialized = 0;
    const again = copies.of(chs);
    assert.is(serialized, 0, 'nothing changed: nothing copied');
    assert.ok(again.every((c, i) => c === first[i]));

    const before = JSON.stringify(first[3]!.toJSON());
    chs[3]!.noteSeen(chs[3]!.topN + 7);
    serialized = 0;
    const third = copies.of(chs);
    assert.is(serialized, 1, 'only the changed channel is copied again');
    assert.is(third[3]!.seenN, chs[3]!.seenN, 'the new copy has the change');
    assert.is(JSON.stringify(first[3]!.toJSON()), before, 'the copy held before does not');
    assert.ok(third.every((c, i) => i === 3 || c === first[i]));
  } finally {
    Channel.prototype.toJSON = original;
  }
});

t.run();
