/**
 * The LevelDB store keeps envelope bytes in a second database (`blobs/`):
 * the order of a batch's writes across the two, what a crash between them
 * leaves and how opening cleans it, what retiring an envelope deletes, and
 * stores written by a relay that kept the bytes inline.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { DEFAULT_WINDOW_BYTES } from '../../server/store/level/ack-ledger.js';
import {
  BLOB_DIR,
  BLOB_WRITE_BUFFER_BYTES,
  LevelStore,
  WRITE_BUFFER_BYTES,
  type LevelStoreOptions,
  type WriteStage,
} from '../../server/store/level/store.js';
import {
  Table,
  blobKeyNumber,
  bodyKey,
  counterKey,
  encodeCounter,
  encodeInlineBody,
  encodeMeta,
  expiryKey,
  metaKey,
} from '../../server/store/level/records.js';
import { EnvelopeState } from '../../server/store/lifecycle.js';

const t = suite('store level: envelope bytes in the blob database');
const created: string[] = [];
const QUOTA = { maxEnvelopes: 1e6, maxBytes: 1e9 };
const HOUR = 3_600_000;

function tempDir(): string {
  const d = fs.mkdtempSync(`${os.tmpdir()}/lnmb-blobs-`);
  created.push(d);
  return d;
}

function envelope(mailbox: string, bytes = 300) {
  const e = new Uint8Array(randomBytes(bytes));
  return { id: createHash('sha256').update(e).digest('hex'), mailbox, envelope: e, expiresAt: Date.now() + HOUR };
}

function store(location: string, more: Partial<LevelStoreOptions> = {}): LevelStore {
  return new LevelStore({ location, recoveryDelayMs: { min: 1, max: 20 }, ...more });
}

/** The blob numbers present in a closed store's blob database. */
async function blobNumbers(dir: string): Promise<number[]> {
  const db = new Level<Buffer, Buffer>(join(dir, BLOB_DIR), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    return (await db.keys().all()).map(blobKeyNumber);
  } finally {
    await db.close();
  }
}

/** Runs `fn` on a closed store's blob database. */
async function withBlobs(dir: string, fn: (db: Level<Buffer, Buffer>) => Promise<void>): Promise<void> {
  const db = new Level<Buffer, Buffer>(join(dir, BLOB_DIR), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

t('the acknowledgement window covers every live log a reopen can lose: two write buffers of each database', () => {
  // A recovery can lose only what sits in LevelDB's live logs (at most two write buffers per
  // database); the ledger's byte-for-byte check must reach back over all of it.
  const both = 2 * (WRITE_BUFFER_BYTES + BLOB_WRITE_BUFFER_BYTES);
  assert.ok(both <= DEFAULT_WINDOW_BYTES, `${both} > ${DEFAULT_WINDOW_BYTES}`);
});

t('a batch writes new blobs, then the index, then deletes retired blobs; each only after the one before', async () => {
  const stages: WriteStage[] = [];
  const s = store(tempDir(), {
    stageHook: async (stage, write) => {
      stages.push(stage);
      await write();
    },
  });
  await s.open();
  const mb = 'a1'.repeat(32);
  const e = envelope(mb);
  await s.append(e, QUOTA);
  assert.equal(stages.splice(0), ['blobs', 'index'], 'append: the bytes are on disk before anything names them');
  await s.ack(mb, [e.id]);
  assert.equal(stages.splice(0), ['index', 'retire'], 'ack: the blob goes only once the tombstone is on disk');
  const x = { ...envelope(mb), expiresAt: Date.now() + 50 };
  await s.append(x, QUOTA);
  stages.length = 0;
  await s.sweep(Date.now() + 100);
  await s.flush();
  assert.equal(stages.splice(0), ['index', 'retire'], 'expiry: the same order');
  await s.close();
});

t('a crash between the blob write and the index write: the orphan blob is deleted at open, its number never reused', async () => {
  const dir = tempDir();
  const mb = 'b2'.repeat(32);
  const kept = [envelope(mb), envelope(mb)];
  let crash = false;
  const a = store(dir, {
    // The index write of the crashing batch never happens: the blob was written, nothing names it.
    stageHook: async (stage, write) => {
      if (crash && stage === 'index') throw Object.assign(new Error('IO error: simulated crash'), { code: 'LEVEL_IO_ERROR' });
      await write();
    },
    recoveryDelayMs: { min: 60_000, max: 60_000 },
  });
  await a.open();
  for (const e of kept) await a.append(e, QUOTA);
  crash = true;
  const lost = envelope(mb);
  await a.append(lost, QUOTA).then(
    () => assert.unreachable('the append was acknowledged without its index'),
    (e: { code?: string }) => assert.is(e.code, 'STORE_UNAVAILABLE'),
  );
  await a.close();
  const before = await blobNumbers(dir);
  assert.is(before.length, 3, 'the orphan is on disk before the reopen');
  const orphan = Math.max(...before);

  const b = store(dir);
  await b.open();
  const listed = await b.list(mb, 0, 10, Date.now());
  assert.equal(
    listed.envelopes.map((e) => e.id),
    kept.map((e) => e.id),
  );
  assert.is(await b.status(lost.id, Date.now()), undefined, 'the unacknowledged envelope is unknown');
  const next = envelope(mb);
  await b.append(next, QUOTA);
  assert.equal((await b.list(mb, 0, 10, Date.now())).envelopes.at(-1)?.envelope, Buffer.from(next.envelope));
  await b.close();
  const after = await blobNumbers(dir);
  assert.not.ok(after.includes(orphan), 'the orphan was deleted');
  assert.is(after.length, 3);
  assert.ok(Math.max(...after) > orphan, `a new blob takes a number above the orphan's (${after} vs ${orphan})`);
});

t('a failed index write: the store recovers by itself, deletes the orphan and loses nothing acknowledged', async () => {
  const dir = tempDir();
  const mb = 'c3'.repeat(32);
  let failOnce = false;
  const s = store(dir, {
    stageHook: async (stage, write) => {
      if (failOnce && stage === 'index') {
        failOnce = false;
        throw Object.assign(new Error('IO error: No space left on device'), { code: 'LEVEL_IO_ERROR' });
      }
      await write();
    },
  });
  await s.open();
  const kept = [envelope(mb), envelope(mb), envelope(mb)];
  for (const e of kept) await s.append(e, QUOTA);
  failOnce = true;
  await s.append(envelope(mb), QUOTA).catch(() => undefined);
  await until(() => s.health().state === 'ok');
  const again = envelope(mb);
  await s.append(again, QUOTA);
  const listed = await s.list(mb, 0, 10, Date.now());
  assert.equal(
    listed.envelopes.map((e) => e.id),
    [...kept, again].map((e) => e.id),
  );
  await s.close();
  assert.is((await blobNumbers(dir)).length, 4, 'no orphan left behind');
});

t('acks, retractions, expiry and purges leave only the live envelopes in the blob database', async () => {
  const dir = tempDir();
  const s = store(dir, { expiredRetentionMs: 10 });
  await s.open();
  const mb = 'd4'.repeat(32);
  const acked = envelope(mb);
  const secret = randomBytes(32);
  const retracted = { ...envelope(mb), retractionHash: createHash('sha256').update(secret).digest('hex') };
  const expiring = { ...envelope(mb), expiresAt: Date.now() + 30 };
  const live = envelope(mb);
  for (const e of [acked, retracted, expiring, live]) await s.append(e, QUOTA);
  await s.ack(mb, [acked.id]);
  assert.is(await s.retract(retracted.id, retracted.retractionHash, Date.now()), 'retracted');
  await new Promise((r) => setTimeout(r, 40));
  let more = true;
  while (more) more = (await s.sweep(Date.now() + 1000)).more;
  await s.flush();
  await s.close();
  assert.is((await blobNumbers(dir)).length, 1, 'only the live envelope keeps its bytes');
  const b = store(dir);
  await b.open();
  assert.equal(
    (await b.list(mb, 0, 10, Date.now())).envelopes.map((e) => e.id),
    [live.id],
  );
  await b.close();
});

t('a store written with inline bodies is read, acked and appended to as it is', async () => {
  const dir = tempDir();
  const mb = 'e5'.repeat(32);
  const mailbox = Buffer.from(mb, 'hex');
  const old = [envelope(mb), envelope(mb)];
  // The layout of a relay from before the blob database: meta without a blob number, the
  // envelope inside the body record, the counter of the mailbox.
  const db = new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  const ops = old.flatMap((e, i) => {
    const id = Buffer.from(e.id, 'hex');
    const meta = encodeMeta({ state: EnvelopeState.live, mailbox, seq: i + 1, expiresAt: e.expiresAt, size: e.envelope.length });
    return [
      { type: 'put' as const, key: metaKey(id), value: meta },
      { type: 'put' as const, key: bodyKey(mailbox, i + 1), value: encodeInlineBody(id, e.expiresAt, e.envelope) },
      { type: 'put' as const, key: expiryKey(e.expiresAt, id), value: Buffer.alloc(0) },
    ];
  });
  const bytes = old.reduce((n, e) => n + e.envelope.length, 0);
  ops.push({ type: 'put', key: counterKey(mailbox), value: encodeCounter({ lastSeq: 2, count: 2, bytes }) });
  await db.batch(ops, { sync: true });
  await db.close();

  const s = store(dir);
  await s.open();
  assert.is(s.usage(mb).count, 2);
  const fresh = envelope(mb);
  await s.append(fresh, QUOTA);
  const listed = await s.list(mb, 0, 10, Date.now());
  assert.equal(
    listed.envelopes.map((e) => [e.seq, Buffer.from(e.envelope).toString('hex')]),
    [...old, fresh].map((e, i) => [i + 1, Buffer.from(e.envelope).toString('hex')]),
  );
  assert.is(await s.status(old[0]!.id, Date.now()), 'queued');
  assert.equal(await s.ack(mb, [old[0]!.id, fresh.id]), [old[0]!.id, fresh.id]);
  assert.equal(
    (await s.list(mb, 0, 10, Date.now())).envelopes.map((e) => e.id),
    [old[1]!.id],
  );
  await s.close();
  assert.is((await blobNumbers(dir)).length, 0, 'the new envelope was acked, the old ones never had a blob');
});

t('a live reference whose blob is missing is skipped, and the rest of the page is served', async () => {
  const dir = tempDir();
  const mb = 'f6'.repeat(32);
  const a = store(dir);
  await a.open();
  const es = [envelope(mb), envelope(mb), envelope(mb)];
  for (const e of es) await a.append(e, QUOTA);
  await a.close();
  await withBlobs(dir, async (db) => {
    const keys = await db.keys().all();
    assert.is(keys.length, 3);
    assert.is(keys[1]![0], Table.blob);
    await db.del(keys[1]!);
  });
  const b = store(dir);
  await b.open();
  assert.equal(
    (await b.list(mb, 0, 10, Date.now())).envelopes.map((e) => e.id),
    [es[0]!.id, es[2]!.id],
  );
  await b.close();
});

t.after(() => {
  for (const d of created) fs.rmSync(d, { recursive: true, force: true });
});

t.run();
