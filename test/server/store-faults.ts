/**
 * The store fault-injection suite, shared by the LevelDB and PostgreSQL
 * backends like the conformance suite: a fixed workload touches every write
 * path (append batches, ack, retraction, delivered flags, sweep; the
 * counters ride in all of them), and for each fault kind (a full disk, an
 * I/O error, a failed fsync whose batch may still have landed) and each
 * write step k the k-th write fails once. Afterwards, on the live store and
 * again after a reopen:
 *
 * - every envelope acknowledged (created) is listed at its seq with its
 *   exact bytes, unless a later ack, retraction or expiry may have removed it;
 * - every successful ack and retraction shows in `status`;
 * - the counters agree with what is listed;
 * - the store recovered by itself (health `ok`) and accepts a new envelope.
 *
 *   faultSuite({ name, open, reopen, plan })
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import type { AppendRequest, RelayStore } from '../../server/store/types.js';

/** The faults injected: before the write (nothing lands) or, for `fsync`, after it (it may have landed). */
export type FaultKind = 'ENOSPC' | 'EIO' | 'fsync';

/** Every {@link FaultKind}. */
export const FAULT_KINDS: readonly FaultKind[] = ['ENOSPC', 'EIO', 'fsync'];

/** Counts write steps and fails the armed one once. Backends call {@link FaultPlan.step} from their seam. */
export class FaultPlan {
  steps = 0;
  fired = 0;
  #armed: { at: number; kind: FaultKind } | undefined;

  /** Fails the `at`-th step from now with `kind`. */
  arm(at: number, kind: FaultKind): void {
    this.steps = 0;
    this.#armed = { at, kind };
  }

  /** Stops injecting (and counting from zero). */
  disarm(): void {
    this.#armed = undefined;
    this.steps = 0;
  }

  /** Runs one write step through the plan: `run` does the real write, `error` shapes the backend's error. */
  async step<T>(run: () => Promise<T>, error: (kind: FaultKind) => Error): Promise<T> {
    this.steps++;
    const armed = this.#armed;
    if (!armed || this.steps !== armed.at) return run();
    this.#armed = undefined;
    this.fired++;
    if (armed.kind === 'fsync') {
      // The write happened; its durability is unknown, so it is reported as failed.
      await run();
    }
    throw error(armed.kind);
  }
}

/** Options of {@link faultSuite}. */
export interface FaultSuiteOptions {
  name: string;
  /** A fresh, unopened, empty store whose writes go through `plan`. */
  open: (plan: FaultPlan) => RelayStore;
  /** A new instance over the same data as the closed `store`. */
  reopen: (store: RelayStore) => RelayStore;
  /** Steps to try per fault kind (default: every step the fault-free workload takes, at most 40). */
  maxSteps?: number;
}

const T0 = 1_800_000_000_000;
const HOUR = 3_600_000;
const BIG = { maxEnvelopes: 1_000_000, maxBytes: 1 << 30 };
const A = 'a7'.repeat(32);
const B = 'b7'.repeat(32);
const sha = (b: Uint8Array | Buffer): string => createHash('sha256').update(b).digest('hex');

interface Posted {
  req: AppendRequest;
  secret?: Buffer;
  /** Answer of the append: created with a seq, or failed (outcome unknown to the sender). */
  seq?: number;
  failed: boolean;
  short: boolean;
  /** A later ack or retraction targeted it: 'done' when it succeeded, 'unknown' when it failed. */
  removed?: 'acked' | 'retracted' | 'unknown';
}

function posted(mailbox: string, short = false, retractable = false): Posted {
  const envelope = new Uint8Array(randomBytes(64 + Math.floor(Math.random() * 64)));
  const secret = retractable ? randomBytes(32) : undefined;
  const req: AppendRequest = { id: sha(envelope), mailbox, envelope, expiresAt: short ? T0 + 1000 : T0 + HOUR };
  if (secret) req.retractionHash = sha(secret);
  const p: Posted = { req, failed: false, short };
  if (secret) p.secret = secret;
  return p;
}

async function waitHealthy(store: RelayStore, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((store.health?.().state ?? 'ok') !== 'ok') {
    const h = store.health!();
    if (h.state === 'damaged') throw new Error(`${what}: store damaged: ${h.reason}`);
    if (Date.now() > deadline) throw new Error(`${what}: store did not recover: ${JSON.stringify(h)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Runs the workload; every failed operation is followed by waiting for the store to recover. */
async function workload(store: RelayStore): Promise<Posted[]> {
  const all: Posted[] = [];
  const afterFault = async (failed: boolean) => {
    if (failed) await waitHealthy(store, 'after a failed operation');
  };
  const appendAll = async (list: Posted[]) => {
    all.push(...list);
    const results = await Promise.allSettled(list.map((p) => store.append(p.req, BIG)));
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') list[i]!.seq = r.value.seq;
      else {
        assert.ok(['STORE_UNAVAILABLE'].includes((r.reason as { code?: string }).code ?? ''), `append: ${String(r.reason)}`);
        list[i]!.failed = true;
      }
    });
    await afterFault(results.some((r) => r.status === 'rejected'));
  };
  // 1. One concurrent burst (shared batches), some short-lived, some retractable.
  await appendAll([
    posted(A),
    posted(A),
    posted(A, false, true),
    posted(A, true),
    posted(B),
    posted(B, false, true),
    posted(B, true),
    posted(B),
  ]);
  // 2. Ack two of A's.
  const toAck = all.filter((p) => p.req.mailbox === A && !p.short && !p.req.retractionHash).slice(0, 2);
  try {
    const acked = await store.ack(
      A,
      toAck.map((p) => p.req.id),
    );
    for (const p of toAck) p.removed = acked.includes(p.req.id) ? 'acked' : p.removed;
  } catch {
    for (const p of toAck) p.removed = 'unknown';
    await afterFault(true);
  }
  // 3. Retract the retractable ones.
  for (const p of all.filter((x) => x.secret)) {
    try {
      const out = await store.retract(p.req.id, sha(p.secret!), T0);
      if (out === 'retracted') p.removed = 'retracted';
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ENVELOPE_NOT_FOUND') continue; // its append failed and did not land
      p.removed = 'unknown';
      await afterFault(true);
    }
  }
  // 4. Delivered flags (unsynced, fire-and-forget).
  store.markDelivered(all.filter((p) => p.seq !== undefined).map((p) => p.req.id));
  await store.flush();
  await waitHealthy(store, 'after markDelivered');
  // 5. Sweep: the short-lived ones expire.
  try {
    await store.sweep(T0 + 2000);
  } catch {
    await afterFault(true);
  }
  // 6. Another burst.
  await appendAll([posted(A), posted(B), posted(B)]);
  return all;
}

/** Checks every invariant of the module comment against `store`. */
async function check(store: RelayStore, all: Posted[], label: string): Promise<void> {
  for (const mailbox of [A, B]) {
    const listed = (await store.list(mailbox, 0, 1000, T0)).envelopes;
    const seqs = listed.map((e) => e.seq);
    assert.equal(
      seqs,
      [...new Set(seqs)].sort((x, y) => x - y),
      `${label}: seqs unique and ordered`,
    );
    const byId = new Map(listed.map((e) => [e.id, e]));
    for (const p of all.filter((x) => x.req.mailbox === mailbox)) {
      const e = byId.get(p.req.id);
      if (e) assert.is(sha(e.envelope), p.req.id, `${label}: exact bytes`);
      if (p.seq === undefined) continue; // not acknowledged: may or may not be there
      const status = await store.status(p.req.id, T0);
      assert.ok(status !== undefined, `${label}: acknowledged envelope ${p.req.id.slice(0, 8)} is unknown`);
      if (p.removed === 'acked') assert.is(status, 'acknowledged', `${label}: ack kept`);
      else if (p.removed === 'retracted') assert.is(status, 'retracted', `${label}: retraction kept`);
      else if (!p.short && p.removed === undefined) {
        assert.ok(e, `${label}: acknowledged envelope ${p.req.id.slice(0, 8)} (seq ${p.seq}) is not listed`);
        assert.is(e!.seq, p.seq, `${label}: seq kept`);
      }
    }
    // Counters agree with the data.
    const u = store.usage(mailbox);
    assert.is(u.count, listed.length, `${label}: counter count = listed`);
    assert.is(
      u.bytes,
      listed.reduce((n, e) => n + e.envelope.length, 0),
      `${label}: counter bytes = listed bytes`,
    );
    assert.ok(u.lastSeq >= (seqs.at(-1) ?? 0), `${label}: lastSeq covers the listed seqs`);
  }
}

/** Registers and runs the fault-injection suite against one backend. */
export function faultSuite(opts: FaultSuiteOptions): void {
  const t = suite(`store faults: ${opts.name}`);
  let steps = 0;

  t('the fault-free workload passes every check and counts its write steps', async () => {
    const plan = new FaultPlan();
    const store = opts.open(plan);
    await store.open();
    plan.disarm();
    const all = await workload(store);
    steps = plan.steps;
    assert.ok(steps >= 5, `the workload writes in several steps (${steps})`);
    await check(store, all, 'no fault');
    await store.close();
  });

  for (const kind of FAULT_KINDS) {
    t(`${kind} at every write step: nothing acknowledged is lost, the store recovers by itself`, async () => {
      const n = Math.min(steps, opts.maxSteps ?? 40);
      let notReached = 0;
      for (let k = 1; k <= n; k++) {
        const plan = new FaultPlan();
        let store = opts.open(plan);
        await store.open();
        plan.arm(k, kind);
        const all = await workload(store);
        plan.disarm();
        const label = `${kind} at step ${k}/${n}`;
        if (plan.fired === 0) {
          // Group commit batches by timing: this run took fewer steps than the fault-free one.
          notReached++;
          await store.close();
          continue;
        }
        await waitHealthy(store, label);
        await check(store, all, `${label}, live`);
        const usage = [store.usage(A), store.usage(B)];
        await store.close();
        store = opts.reopen(store);
        await store.open();
        await check(store, all, `${label}, reopened`);
        assert.equal([store.usage(A), store.usage(B)], usage, `${label}: counters survive the reopen`);
        const more = posted(A);
        const r = await store.append(more.req, BIG);
        assert.ok(r.created && r.seq > 0, `${label}: accepts again`);
        await store.close();
      }
      assert.ok(notReached <= Math.max(2, n / 4), `the fault fired in most runs (${n - notReached} of ${n})`);
    });
  }

  for (const kind of FAULT_KINDS) {
    t(`${kind} on a record put: refused, never acknowledged, nothing acknowledged lost, refused while failed`, async () => {
      const plan = new FaultPlan();
      let store = opts.open(plan);
      await store.open();
      plan.disarm();
      const kept = new Uint8Array(randomBytes(500));
      await store.putRecord(A, 'hub-terms', kept, 8);
      plan.arm(1, kind);
      const next = new Uint8Array(randomBytes(500));
      let refused: { code?: string } | undefined;
      await store.putRecord(A, 'hub-terms', next, 8).catch((e: { code?: string }) => {
        refused = e;
      });
      assert.is(plan.fired, 1, 'the fault fired');
      assert.is(refused?.code, 'STORE_UNAVAILABLE', 'the failed put is not acknowledged');
      // The failure is recorded synchronously: until the store has recovered, every write is refused.
      assert.is.not(store.health!().state, 'ok');
      const late = await store.putRecord(B, 'receipt-tickets', next, 8).then(
        () => 'stored',
        (e: { code?: string }) => e.code,
      );
      assert.is(late, 'STORE_UNAVAILABLE', 'a put while the store refuses writes is refused');
      const del = await store.deleteRecord(A, 'hub-terms').then(
        () => 'deleted',
        (e: { code?: string }) => e.code,
      );
      assert.is(del, 'STORE_UNAVAILABLE', 'a delete while the store refuses writes is refused');
      await waitHealthy(store, `${kind} on a record put`);
      const after = Buffer.from((await store.getRecord(A, 'hub-terms'))!);
      // A failed fsync may have landed its batch: either value, never anything else.
      if (kind === 'fsync') assert.ok(after.equals(Buffer.from(kept)) || after.equals(Buffer.from(next)), 'old or new value');
      else assert.ok(after.equals(Buffer.from(kept)), 'the acknowledged value is kept');
      assert.is(await store.getRecord(B, 'receipt-tickets'), undefined, 'the refused put stored nothing');
      const last = new Uint8Array(randomBytes(100));
      await store.putRecord(A, 'hub-terms', last, 8);
      await store.close();
      store = opts.reopen(store);
      await store.open();
      assert.ok(
        Buffer.from((await store.getRecord(A, 'hub-terms'))!).equals(Buffer.from(last)),
        'the last acknowledged put survives a reopen',
      );
      await store.close();
    });
  }

  t.run();
}
