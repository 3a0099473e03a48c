/**
 * The life cycle of a stored envelope, shared by every backend (SPEC section
 * 5.12, "Storage contract"): the state numbers each backend persists, the
 * status a record answers at a given time, the default tombstone retention
 * and the largest seq or time a backend accepts.
 *
 * Only meaning lives here. How a backend lays a record out (LevelDB keys and
 * values in `level/records.ts`, the SQL schema in `pg/schema.ts`) stays
 * private to it.
 * @module
 */
import type { EnvelopeStatus } from '../../protocol/relay.js';

/**
 * Life-cycle state of a stored envelope. These numbers are on disk (the
 * LevelDB meta record's state byte, PostgreSQL's `state` column): never
 * renumber them, or existing data directories would read wrong. `delivered`
 * is a separate flag on a live record, not a state (1 is unused for that
 * reason).
 */
export const EnvelopeState = { live: 0, acknowledged: 2, retracted: 3, expired: 4 } as const;
/** One of {@link EnvelopeState}. */
export type EnvelopeState = (typeof EnvelopeState)[keyof typeof EnvelopeState];

/**
 * Largest seq or time (ms since the epoch) a backend stores: 2^48 - 1, the
 * year 10889 as a time. LevelDB packs these into 6 bytes; PostgreSQL has
 * room for more but refuses the same requests, so that both backends accept
 * exactly the same appends (the conformance suite cannot tell them apart).
 */
export const MAX_STORED_INT = 2 ** 48 - 1;

/** How long an `expired` tombstone answers status queries after expiry when a backend is not told otherwise (24 h). */
export const DEFAULT_EXPIRED_RETENTION_MS = 24 * 3600 * 1000;

/**
 * Status a record in `state` answers at `now` (SPEC 5.5), or undefined once
 * it is forgotten: a live envelope is `expired` from its expiry on even
 * before a sweep turns it into a tombstone; `acknowledged` and `retracted`
 * tombstones last until the original expiry, so a re-post cannot resurrect
 * the envelope while a copy may still be in flight; `expired` ones last
 * `expiredRetentionMs` longer, so a sender polling late still learns why.
 */
export function statusAt(
  state: number,
  expiresAt: number,
  delivered: boolean,
  now: number,
  expiredRetentionMs: number,
): EnvelopeStatus | undefined {
  switch (state) {
    case EnvelopeState.live:
      if (expiresAt <= now) return 'expired';
      return delivered ? 'delivered' : 'queued';
    case EnvelopeState.acknowledged:
      return expiresAt <= now ? undefined : 'acknowledged';
    case EnvelopeState.retracted:
      return expiresAt <= now ? undefined : 'retracted';
    case EnvelopeState.expired:
      return expiresAt + expiredRetentionMs <= now ? undefined : 'expired';
    default:
      return undefined;
  }
}
