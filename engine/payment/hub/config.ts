/**
 * The hub's static configuration, shared by its offer and request flows.
 * @module
 */
import type { FeePolicy } from '../fee.js';

/** Default {@link HubConfig.timeoutSlack}, in blocks. */
export const DEFAULT_TIMEOUT_SLACK = 2;

/** Static configuration of a hub. */
export interface HubConfig {
  /** The hub's identity (mailbox) secret key: signs offer attestations (SPEC 6.16). */
  identityKey: Uint8Array;
  /** The hub's channel secret key (used in every channel). */
  channelKey: Uint8Array;
  /** Fee the hub charges: `base + amount·ppm/1e6` sats (see {@link hubFee}). */
  fee: FeePolicy;
  /** Safety margin in blocks of the timelock rule. */
  safetyMargin: number;
  /** Largest PTLC timeout delta (blocks) the hub grants a payee. */
  maxTimeoutDelta: number;
  /**
   * Extra blocks added to the timeout the payee asked for (default 2), so that
   * a block found while the PTLC_ADD is in flight does not make the payee
   * (or a router) refuse it. Counted in the timelock rule.
   */
  timeoutSlack?: number;
  /**
   * The hub's signed terms (protocol/terms.ts, SPEC 6.17): without them the
   * hub opens no channel. Their channel key, fees and timeout delta must be
   * this configuration's.
   */
  terms?: Uint8Array;
  /**
   * The signed terms `terms` replaced (see `Hub.renewTerms`), kept across a
   * restart: an OPEN naming them is still accepted while they are unexpired.
   * Ignored when they do not state this configuration.
   */
  previousTerms?: Uint8Array;
  /** Where the hub's coins go when a channel it opens closes (its wallet's payout script). Default: a P2TR output of its channel key. */
  payout?: Uint8Array;
  /**
   * Hub-wide bounds on opens not yet finished (SPEC 6.17.4, policy), on top
   * of the terms' per-peer `maxPendingOpens` (an identity key costs nothing):
   * `pendingOpens`, the number of pending opens from all peers (default 32); `pendingHubFunded`, the sats the
   * hub is committed to fund over all pending opens it funds (default four
   * times the terms' `maxHubFunded`).
   */
  openLimits?: { pendingOpens?: number; pendingHubFunded?: number };
}
