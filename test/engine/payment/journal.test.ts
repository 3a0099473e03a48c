/**
 * The rollback journal of the role engines: a step copies only the channels
 * it changes (before their first change), so its cost does not grow with
 * the number of channels a hub serves, and a failed step still gives back
 * exactly the state before it, for the channels it changed, the ones it
 * added and the role's own records. Seen from the attacker's side: a
 * refused message leaves every channel as it was, whichever channels it
 * reached before it was refused.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Channel, ChannelJournal, inlined } from '../../../engine/channel/channel.js';
import { openChannelPair } from '../../../engine/channel/open.js';
import { Hub, listedPeers } from '../../../engine/payment/hub/hub.js';
import { Payer } from '../../../engine/payment/payer/payer.js';
import { byReference, PaymentEngine } from '../../../engine/payment/engine.js';
import { ErrorCode, LnMailboxError } from '../../../base/errors.js';
import { PaymentType, type PaymentMessage } from '../../../protocol/payment.js';
import { channelParams, hex, hubAS, hubSB, makeWorld, party, run, startPayment, type World } from './fixture.js';

const t = suite('payment/journal');

/** A further channel of the world's hub with a new peer, co-signed at state 0 (not added to the hub). */
async function hubChannelWithStranger(w: World): Promise<{ channel: Channel; peer: ReturnType<typeof party> }> {
  const peer = party('http://127.0.0.1:1');
  const [channel] = await openChannelPair(
    channelParams(w.S.chPk, peer.chPk),
    [500_000, 499_000],
    w.S.chSk,
    peer.chSk,
    w.S.nonces,
    peer.nonces,
  );
  return { channel, peer };
}

/** Adds `n` further channels (each with a peer of its own) to the world's hub. */
async function crowd(w: World, n: number): Promise<Channel[]> {
  const extra: Channel[] = [];
  for (let i = 0; i < n; i++) {
    const { channel, peer } = await hubChannelWithStranger(w);
    w.hub.peers.set(hex(channel.params.channelId), { channel, peerKey: peer.idPk, peerAddress: peer.address });
    extra.push(channel);
  }
  return extra;
}

/** Counts, per channel object, the calls of `Channel.toJSON` while `fn` runs. */
async function countSerializations<T>(fn: () => Promise<T>): Promise<{ result: T; calls: Map<Channel, number> }> {
  const calls = new Map<Channel, number>();
  const original = Channel.prototype.toJSON;
  Channel.prototype.toJSON = function (this: Channel) {
    calls.set(this, (calls.get(this) ?? 0) + 1);
    return original.call(this);
  };
  const checks = PaymentEngine.checkSteps;
  PaymentEngine.checkSteps = false; // the suite's own whole-state check serializes everything by design
  try {
    return { result: await fn(), calls };
  } finally {
    Channel.prototype.toJSON = original;
    PaymentEngine.checkSteps = checks;
  }
}

t('a payment through a hub with 40 channels never serializes the 38 it does not use', async () => {
  const w = await makeWorld();
  const idle = await crowd(w, 38);
  const before = idle.map((c) => c.version);
  const { calls } = await countSerializations(async () => {
    const id = await startPayment(w, 10_000);
    await run(w);
    return id;
  });
  assert.ok(calls.get(hubAS(w))! > 0, 'the A–S channel was journaled');
  assert.ok(calls.get(hubSB(w))! > 0, 'the S–B channel was journaled');
  for (const c of idle) assert.is(calls.get(c) ?? 0, 0, `idle channel ${hex(c.params.channelId)} was serialized`);
  assert.equal(
    idle.map((c) => c.version),
    before,
    'no idle channel changed',
  );
  assert.ok(
    w.events.some((e) => e.kind === 'paid'),
    'the payment went through',
  );
});

t('the rollback copy holds channels as references, whatever their number', async () => {
  const w = await makeWorld();
  await crowd(w, 10);
  // The hub's state holds only the count of its channel records: not one entry per channel.
  assert.equal(w.hub.toJSON(byReference).peers, { $channelRecords: 12 });
  // A wallet's one channel is a reference to its record.
  assert.equal(w.payer.toJSON(byReference).channel, { $channel: hex(w.asParams.channelId) });
  // A hub's record of a channel carries its peer.
  const rec = w.hub.channelRecord(hubAS(w));
  assert.equal(Object.keys(rec).sort(), ['channel', 'peerAddress', 'peerKey']);
  assert.is(rec.peerKey, hex(w.A.idPk));
  // The inline form is unchanged (stores written before keep loading).
  const inline = w.hub.toJSON();
  assert.equal(Object.keys(inline.peers).length, 12);
  for (const p of Object.values(inline.peers)) assert.ok('enforceable' in p.channel);
});

t('attacker: a refused message gives back every channel it reached, and the channels it did not', async () => {
  const w = await makeWorld();
  const idle = await crowd(w, 5);
  const state = () => JSON.stringify(w.hub.toJSON());
  const before = state();
  // A's UPDATE_PROPOSE with a spoiled settlement signature: the hub takes the proposal up on
  // the A–S channel (a change the journal must take back), then refuses it.
  const id = await startPayment(w, 10_000);
  const propose = w.queue.splice(0, 1)[0]!;
  assert.is(propose.out.message.type, PaymentType.UPDATE_PROPOSE);
  const forged = { ...propose.out.message, settleSig: new Uint8Array(65).fill(7) } as PaymentMessage;
  const touched: Channel[] = [];
  const original = ChannelJournal.prototype.note;
  ChannelJournal.prototype.note = function (this: ChannelJournal, c: Channel) {
    touched.push(c);
    original.call(this, c);
  };
  try {
    const s = await w.hub.handle({ from: w.A.idPk, message: forged }, w.ctx);
    assert.ok(s.send.length <= 1, 'at most a refusal was answered');
  } finally {
    ChannelJournal.prototype.note = original;
  }
  assert.ok(touched.includes(hubAS(w)), 'the refused proposal had reached the A–S channel');
  assert.is(w.hub.payments.get(id), undefined, 'no payment was taken');
  assert.is(hubAS(w).pending, undefined, 'the A–S channel holds no pending state');
  assert.is(state(), before, 'the hub is exactly as before');
  for (const c of idle) assert.is(c.pending, undefined);
});

t('journal: records a channel once, before its first change, and puts it back', async () => {
  const w = await makeWorld();
  const ch = hubAS(w);
  const j = new ChannelJournal();
  ch.track(j);
  const before = JSON.stringify(ch.toJSON());
  ch.noteSeen(5); // outside a step: recorded nowhere, but a new version
  const v = ch.version;
  assert.is(JSON.stringify(ch.toJSON()) === before, false);
  const mid = JSON.stringify(ch.toJSON());
  j.begin();
  assert.ok(j.open);
  assert.throws(() => j.begin(), /already recording/);
  ch.noteSeen(9);
  ch.noteUpdateOnChain(800_100);
  assert.equal(j.touched(), [ch]);
  assert.ok(ch.version > v, 'a change takes a new version');
  j.rollback();
  assert.not.ok(j.open);
  assert.is(JSON.stringify(ch.toJSON()), mid, 'rolled back to the state at begin');
  j.begin();
  ch.noteSeen(11);
  j.commit();
  assert.is(ch.seenN, 11, 'a committed change stays');
  assert.equal(j.touched(), []);
});

t('journal: a change that changes nothing takes no version and no copy', async () => {
  const w = await makeWorld();
  const ch = hubAS(w);
  const j = new ChannelJournal();
  ch.track(j);
  ch.noteSeen(3);
  const v = ch.version;
  j.begin();
  ch.noteSeen(2); // below the mark: nothing to record
  ch.noteSeen(-4); // out of range
  ch.noteUpdateOnChain(10);
  const v2 = ch.version;
  ch.noteUpdateOnChain(20); // a later height than the one kept: nothing changes
  assert.is(ch.version, v2);
  assert.ok(v2 > v);
  assert.equal(j.touched(), [ch]);
  j.commit();
});

/** A hub whose test can run steps inside steps. */
class NestingHub extends Hub {
  step<T>(fn: () => Promise<T>): Promise<T> {
    return this.atomic(fn);
  }
}

t('a step inside a step keeps a whole copy: the inner failure takes back only its own changes', async () => {
  const w = await makeWorld();
  const hub = new NestingHub(w.hub.config, [...w.hub.peers.values()], w.S.nonces);
  const as = hub.peers.get(hex(w.asParams.channelId))!.channel;
  const sb = hub.peers.get(hex(w.sbParams.channelId))!.channel;
  const boom = new LnMailboxError(ErrorCode.PAYMENT_REJECTED, 'inner refused');
  await hub.step(async () => {
    as.noteSeen(40);
    await hub
      .step(async () => {
        sb.noteSeen(50);
        as.noteSeen(60);
        throw boom;
      })
      .catch((e: unknown) => assert.is(e, boom));
    assert.is(sb.seenN, -1, 'the inner step took back its change of S–B');
    assert.is(as.seenN, 40, "the inner step took back its change of A–S, not the outer step's");
  });
  assert.is(as.seenN, 40, 'the outer step committed');
  const before = JSON.stringify(hub.toJSON());
  await hub
    .step(async () => {
      as.noteSeen(70);
      await hub.step(async () => void sb.noteSeen(80));
      throw boom;
    })
    .catch((e: unknown) => assert.is(e, boom));
  assert.is(JSON.stringify(hub.toJSON()), before, 'the outer failure took back the inner success too');
});

t('a channel an open added during a failed step is dropped; one removed comes back', async () => {
  const w = await makeWorld();
  const hub = new NestingHub(w.hub.config, [...w.hub.peers.values()], w.S.nonces);
  const before = JSON.stringify(hub.toJSON());
  const asId = hex(w.asParams.channelId);
  const as = hub.peers.get(asId)!;
  const { channel: added, peer: p } = await hubChannelWithStranger(w);
  await hub
    .step(async () => {
      hub.peers.set(hex(added.params.channelId), { channel: added, peerKey: p.idPk, peerAddress: p.address });
      hub.peers.delete(asId);
      throw new LnMailboxError(ErrorCode.PAYMENT_REJECTED, 'refused');
    })
    .catch(() => undefined);
  assert.is(hub.peers.has(hex(added.params.channelId)), false, 'the added channel is gone');
  assert.is(hub.peers.get(asId)?.channel, as.channel, 'the removed channel is back, the same object');
  assert.equal(hub.toJSON(), JSON.parse(before), 'the same state (the order of the peers aside)');
});

t('the whole-state check catches a channel changed outside its journal', async () => {
  const w = await makeWorld();
  const hub = new NestingHub(w.hub.config, [...w.hub.peers.values()], w.S.nonces);
  const as = hub.peers.get(hex(w.asParams.channelId))!.channel;
  const checks = PaymentEngine.checkSteps;
  PaymentEngine.checkSteps = true;
  try {
    // A change the channel cannot see (its record changed in place behind its back).
    let caught: unknown;
    try {
      await hub.step(async () => {
        (as.enforceable.settleSigs as (Uint8Array | null)[])[0] = new Uint8Array(65);
      });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof Error && /outside its journal/.test(caught.message), String(caught));
  } finally {
    PaymentEngine.checkSteps = checks;
  }
});

/** The typed code `fn` fails with (its error must be an LnMailboxError). */
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof LnMailboxError) return e.code;
    throw e;
  }
  throw new Error('expected a refusal');
}

t('a state with channels by reference is refused where it was not loaded through a runtime', async () => {
  const w = await makeWorld();
  // A payer state whose channel is a reference: building a payer from it must not give a payer without its channel.
  assert.is(
    codeOf(() => Payer.fromJSON(w.payer.config, w.payer.toJSON(byReference), w.A.nonces)),
    ErrorCode.STORE_UNAVAILABLE,
  );
  // A hub state that holds only the count of its channel records.
  assert.is(
    codeOf(() => Hub.fromJSON(w.hub.config, w.hub.toJSON(byReference), w.S.nonces)),
    ErrorCode.STORE_UNAVAILABLE,
  );
  assert.is(
    codeOf(() => listedPeers(w.hub.toJSON(byReference))),
    ErrorCode.STORE_UNAVAILABLE,
  );
  assert.is(
    codeOf(() => inlined({ $channel: hex(w.asParams.channelId) })),
    ErrorCode.STORE_UNAVAILABLE,
  );
  assert.is(inlined(hubAS(w).toJSON()).params.channelId, hex(w.asParams.channelId));
});

t('a rollback copy of the hub without its map of peers is refused and leaves every peer in place', async () => {
  const w = await makeWorld();
  const before = JSON.stringify(w.hub.toJSON());
  assert.is(
    codeOf(() => w.hub.restore(w.hub.toJSON(byReference))),
    ErrorCode.STORE_UNAVAILABLE,
  );
  assert.is(w.hub.peers.size, 2, 'the hub still holds both channels');
  assert.is(JSON.stringify(w.hub.toJSON()), before);
});

t('the hub has no record for a channel that is not one of its own', async () => {
  const w = await makeWorld();
  const { channel: stranger } = await hubChannelWithStranger(w);
  assert.is(
    codeOf(() => w.hub.channelRecord(stranger)),
    ErrorCode.INVALID_RANGE,
  );
});

t.run();
