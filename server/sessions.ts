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

/** Evicts expired entries, then the oldest, until `map` has room for one more. */
function makeRoom<V>(map: Map<string, V>, max: number, expiry: (v: V) => number, now: number): void {
  if (map.size < max) return;
  for (const [k, v] of map) {
    if (expiry(v) <= now) map.delete(k);
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
    makeRoom(this.#sessions, this.#opts.maxSessions, (s) => s.expiresAt, now);
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
    if (!s) fail(ErrorCode.AUTH_REQUIRED, 'unknown session token');
    if (s.expiresAt <= now) {
      this.#sessions.delete(token);
      fail(ErrorCode.AUTH_EXPIRED, 'session token expired');
    }
    return s.mailbox;
  }

  /**
   * Checks that `token` grants access to `mailbox`.
   * @throws LnMailboxError AUTH_REQUIRED, AUTH_EXPIRED, AUTH_FORBIDDEN
   */
  authorize(token: string | undefined, mailbox: string, now: number): void {
    if (this.sessionMailbox(token, now) !== mailbox) fail(ErrorCode.AUTH_FORBIDDEN, 'the session token is for another mailbox');
  }

  /** Drops expired challenges and sessions. */
  prune(now: number): void {
    for (const [k, e] of this.#challenges) if (e <= now) this.#challenges.delete(k);
    for (const [k, s] of this.#sessions) if (s.expiresAt <= now) this.#sessions.delete(k);
  }

  /** Sizes of the two tables (for tests and metrics). */
  get size(): { challenges: number; sessions: number } {
    return { challenges: this.#challenges.size, sessions: this.#sessions.size };
  }
}
