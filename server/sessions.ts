/**
 * Recipient authentication (SPEC 5.6, "Authentication").
 *
 * The relay hands out random 32-byte challenges; the mailbox owner signs
 * `authMessage(origin, challenge, mailbox)` with BIP340. A challenge is
 * single-use (consumed before the signature is even checked, so one
 * challenge buys one guess) and expires. Over HTTP a valid signature buys a
 * short-lived opaque session token bound to that one mailbox, so the relay
 * does not verify a Schnorr signature per request.
 *
 * Both tables are bounded: when full, expired entries go first, then the
 * oldest, so no client can grow the relay's memory by asking for challenges.
 * Expired session tokens are remembered for a while in a third bounded
 * table, so that a token answers `AUTH_EXPIRED` on every use after its
 * expiry, not only on the first one, and also after the periodic prune.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode, fail } from '../base/errors.js';
import { verifyAuthProof } from '../protocol/relay-auth.js';
import type { AuthProof } from '../protocol/relay-frames.js';

/** Options of {@link MailboxAuth}. */
export interface MailboxAuthOptions {
  challengeTtlMs: number;
  sessionTtlMs: number;
  maxChallenges: number;
  maxSessions: number;
}

interface Session {
  mailbox: string;
  expiresAt: number;
}

/**
 * How long after its expiry a session token is still recognized, and
 * answered `AUTH_EXPIRED` rather than `AUTH_REQUIRED` (SPEC 5.6).
 */
export const EXPIRED_TOKEN_MEMORY_MS = 24 * 3600 * 1000;

/** Evicts expired entries (handing each to `onExpired`), then the oldest, until `map` has room for one more. */
function makeRoom<V>(map: Map<string, V>, max: number, expiry: (v: V) => number, now: number, onExpired?: (k: string, v: V) => void): void {
  if (map.size < max) return;
  for (const [k, v] of map) {
    if (expiry(v) <= now) {
      map.delete(k);
      onExpired?.(k, v);
    }
  }
  while (map.size >= max) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
}

/** A fresh random challenge, 64 hex. */
export function newChallenge(): string {
  return randomBytes(32).toString('hex');
}

/**
 * Checks a mailbox owner's auth proof (a BIP340 signature over
 * `authMessage(origin, challenge, mailbox)`) with the protocol's one verifier.
 * The proof is already shape-checked hex (the frame/JSON parsers did it).
 * @throws LnMailboxError AUTH_BAD_SIGNATURE
 */
export function verifyAuthSignature(origin: string, proof: AuthProof): void {
  if (!verifyAuthProof(origin, proof))
    fail(ErrorCode.AUTH_BAD_SIGNATURE, 'auth signature does not verify for this relay origin, challenge and mailbox');
}

/** Challenge and session bookkeeping of one relay. */
export class MailboxAuth {
  readonly #opts: MailboxAuthOptions;
  readonly #challenges = new Map<string, number>();
  readonly #sessions = new Map<string, Session>();
  /** Expired session tokens → their expiry, kept {@link EXPIRED_TOKEN_MEMORY_MS}, at most `maxSessions`. */
  readonly #expired = new Map<string, number>();

  constructor(opts: MailboxAuthOptions) {
    this.#opts = opts;
  }

  /** Issues a single-use challenge for the HTTP flow. */
  issueChallenge(now: number): { challenge: string; expiresAt: number } {
    makeRoom(this.#challenges, this.#opts.maxChallenges, (e) => e, now);
    const challenge = newChallenge();
    const expiresAt = now + this.#opts.challengeTtlMs;
    this.#challenges.set(challenge, expiresAt);
    return { challenge, expiresAt };
  }

  /**
   * Consumes a challenge issued by {@link issueChallenge}; it can never be used again.
   * @throws LnMailboxError AUTH_CHALLENGE_UNKNOWN (never issued, already used or evicted), AUTH_EXPIRED
   */
  consumeChallenge(challenge: string, now: number): void {
    const expiresAt = this.#challenges.get(challenge);
    if (expiresAt === undefined) fail(ErrorCode.AUTH_CHALLENGE_UNKNOWN, 'unknown or already used challenge');
    this.#challenges.delete(challenge);
    if (expiresAt <= now) fail(ErrorCode.AUTH_EXPIRED, 'challenge expired');
  }

  /** Opens a session for `mailbox` (after a verified signature). */
  openSession(mailbox: string, now: number): { token: string; expiresAt: number } {
    makeRoom(
      this.#sessions,
      this.#opts.maxSessions,
      (s) => s.expiresAt,
      now,
      (k, s) => this.#retire(k, s.expiresAt, now),
    );
    const token = randomBytes(32).toString('base64url');
    const expiresAt = now + this.#opts.sessionTtlMs;
    this.#sessions.set(token, { mailbox, expiresAt });
    return { token, expiresAt };
  }

  /**
   * The mailbox a session token grants.
   * @throws LnMailboxError AUTH_REQUIRED (missing or unknown token), AUTH_EXPIRED
   */
  sessionMailbox(token: string | undefined, now: number): string {
    if (!token) fail(ErrorCode.AUTH_REQUIRED, 'a session token is required');
    const s = this.#sessions.get(token);
    if (!s) {
      const expiredAt = this.#expired.get(token);
      if (expiredAt !== undefined && expiredAt + EXPIRED_TOKEN_MEMORY_MS > now) fail(ErrorCode.AUTH_EXPIRED, 'session token expired');
      fail(ErrorCode.AUTH_REQUIRED, 'unknown session token');
    }
    if (s.expiresAt <= now) {
      this.#sessions.delete(token);
      this.#retire(token, s.expiresAt, now);
      fail(ErrorCode.AUTH_EXPIRED, 'session token expired');
    }
    return s.mailbox;
  }

  /** Moves an expired token to the bounded record of expired tokens. */
  #retire(token: string, expiresAt: number, now: number): void {
    makeRoom(this.#expired, this.#opts.maxSessions, (e) => e + EXPIRED_TOKEN_MEMORY_MS, now);
    this.#expired.set(token, expiresAt);
  }

  /**
   * Checks that `token` grants access to `mailbox`.
   * @throws LnMailboxError AUTH_REQUIRED, AUTH_EXPIRED, AUTH_FORBIDDEN
   */
  authorize(token: string | undefined, mailbox: string, now: number): void {
    if (this.sessionMailbox(token, now) !== mailbox) fail(ErrorCode.AUTH_FORBIDDEN, 'the session token is for another mailbox');
  }

  /** Drops expired challenges, moves expired sessions to the record of expired tokens, and forgets old expired tokens. */
  prune(now: number): void {
    for (const [k, e] of this.#challenges) if (e <= now) this.#challenges.delete(k);
    for (const [k, e] of this.#expired) if (e + EXPIRED_TOKEN_MEMORY_MS <= now) this.#expired.delete(k);
    for (const [k, s] of this.#sessions)
      if (s.expiresAt <= now) {
        this.#sessions.delete(k);
        this.#retire(k, s.expiresAt, now);
      }
  }

  /** Sizes of the three tables (for tests and metrics). */
  get size(): { challenges: number; sessions: number; expired: number } {
    return { challenges: this.#challenges.size, sessions: this.#sessions.size, expired: this.#expired.size };
  }
}
