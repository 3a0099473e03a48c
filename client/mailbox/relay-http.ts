/**
 * The HTTP half of relay API v1 (SPEC.md section 5), one relay at a time:
 * info, post, status, retract, and the challenge → session-token → list → ack
 * path used where WebSocket is unavailable. `fetch` is injected, so this runs
 * in browsers and Node alike. Every relay rejection becomes an
 * {@link LnMailboxError} carrying the relay's own `code` and HTTP `status`;
 * a relay that cannot be reached gives `RELAY_UNREACHABLE`, one that answers
 * outside the protocol gives `RELAY_BAD_RESPONSE`.
 * @module
 */
import { ErrorCode, LnMailboxError, fail, type ErrorCode as Code } from '../../base/errors.js';
import {
  ENVELOPE_STATUSES,
  RelayHeader,
  RelayPath,
  decodeStoredEnvelope,
  encodeAckRequest,
  encodeSessionRequest,
  isHex32,
  type AuthProof,
  type EnvelopeStatus,
  type PostEnvelopeResponse,
  type RelayInfo,
  type StoredEnvelopeJson,
} from '../../protocol/relay.js';

/** The subset of WHATWG `fetch` the client uses (`globalThis.fetch` by default). */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * Normalizes a relay base URL: http(s) only, no credentials, query or
 * fragment, no trailing slash. The result is the key under which the client
 * keeps per-relay state (cursor, cached info), so two spellings of one relay
 * share it. A path prefix is kept (a relay behind a reverse proxy at `/mbx`).
 * @throws LnMailboxError ADDRESS_BAD_RELAY_URL
 */
export function normalizeRelayUrl(url: unknown): string {
  if (typeof url !== 'string') fail(ErrorCode.ADDRESS_BAD_RELAY_URL, `relay URL: expected string, got ${typeof url}`);
  let u: URL;
  try {
    u = new URL(url);
  } catch (e) {
    return fail(ErrorCode.ADDRESS_BAD_RELAY_URL, `relay URL: not a URL: ${JSON.stringify(url)}`, e);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    fail(ErrorCode.ADDRESS_BAD_RELAY_URL, `relay URL: expected http(s), got ${u.protocol}`);
  if (u.username !== '' || u.password !== '') fail(ErrorCode.ADDRESS_BAD_RELAY_URL, 'relay URL: credentials are not allowed');
  return u.origin + u.pathname.replace(/\/+$/, '');
}

/** The WebSocket URL of a normalized relay base URL (`http` → `ws`, `https` → `wss`). */
export function relayWsUrl(relay: string): string {
  return relay.replace(/^http/, 'ws') + RelayPath.ws;
}

/** Outcome of one successful POST: `created` is false when the relay already held the envelope (200). */
export interface PostedEnvelope extends PostEnvelopeResponse {
  created: boolean;
}

/** One page of `GET /v1/mailboxes/:mailbox/envelopes`. */
export interface EnvelopePage {
  envelopes: StoredEnvelopeJson[];
  more: boolean;
}

/** Optional headers of a POST. */
export interface PostHeaders {
  ttlSeconds?: number;
  /** `sha256(secret)`, 64 hex. */
  retractionHash?: string;
  /** PoW nonce, 16 hex. */
  pow?: string;
}

const CODE_RE = /^[A-Z][A-Z0-9_]{0,63}$/;

function bad(relay: string, what: string, status?: number): never {
  throw new LnMailboxError(ErrorCode.RELAY_BAD_RESPONSE, `${relay}: ${what}`, status === undefined ? undefined : { status });
}

/** HTTP client of one relay. Stateless apart from its configuration. */
export class RelayHttp {
  /** Normalized base URL of the relay. */
  readonly relay: string;
  readonly #fetch: FetchLike;
  readonly #timeoutMs: number;

  /**
   * @param relay normalized base URL (see {@link normalizeRelayUrl})
   * @param fetchImpl WHATWG fetch
   * @param timeoutMs per-request timeout; a relay that never answers must not hang a post
   */
  constructor(relay: string, fetchImpl: FetchLike, timeoutMs: number) {
    this.relay = normalizeRelayUrl(relay);
    this.#fetch = fetchImpl;
    this.#timeoutMs = timeoutMs;
  }

  /** Sends one request; returns the parsed JSON body and status of a 2xx answer, throws otherwise. */
  async #request(
    method: string,
    path: string,
    init: { headers?: Record<string, string>; body?: Uint8Array | string } = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), this.#timeoutMs);
    let res: Response;
    let text: string;
    try {
      // A fresh ArrayBuffer-backed copy satisfies BodyInit everywhere.
      const body = typeof init.body === 'string' ? init.body : init.body === undefined ? undefined : new Uint8Array(init.body);
      res = await this.#fetch(this.relay + path, { method, headers: init.headers, body, signal: ctl.signal, redirect: 'error' });
      text = await res.text();
    } catch (e) {
      const why = ctl.signal.aborted ? `no answer within ${this.#timeoutMs} ms` : String((e as Error)?.message ?? e);
      throw new LnMailboxError(ErrorCode.RELAY_UNREACHABLE, `${this.relay}: ${method} ${path}: ${why}`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
    let body: unknown;
    try {
      body = text.length === 0 ? {} : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!res.ok) {
      const err = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      if (typeof err?.code === 'string' && CODE_RE.test(err.code)) {
        // A code unknown to this version is still passed through: callers branch on it.
        const message = typeof err.message === 'string' ? err.message : err.code;
        throw new LnMailboxError(err.code as Code, `${this.relay}: ${message}`, { status: res.status });
      }
      bad(this.relay, `${method} ${path}: HTTP ${res.status} without an error body`, res.status);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      bad(this.relay, `${method} ${path}: answer is not a JSON object`, res.status);
    return { status: res.status, body: body as Record<string, unknown> };
  }

  /** `GET /v1/info`. */
  async info(): Promise<RelayInfo> {
    const { body } = await this.#request('GET', RelayPath.info);
    if (typeof body.powBits !== 'number' || !Number.isInteger(body.powBits) || body.powBits < 0 || body.powBits > 64)
      bad(this.relay, 'info: powBits is not an integer in 0..64');
    if (typeof body.limits !== 'object' || body.limits === null) bad(this.relay, 'info: limits missing');
    return body as unknown as RelayInfo;
  }

  /** `POST /v1/mailboxes/:mailbox/envelopes`: 201 stored now, 200 already stored. */
  async postEnvelope(mailboxHex: string, envelope: Uint8Array, h: PostHeaders = {}): Promise<PostedEnvelope> {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (h.ttlSeconds !== undefined) headers[RelayHeader.ttl] = String(h.ttlSeconds);
    if (h.retractionHash !== undefined) headers[RelayHeader.retractionHash] = h.retractionHash;
    if (h.pow !== undefined) headers[RelayHeader.pow] = h.pow;
    const path = RelayPath.postEnvelope.replace(':mailbox', mailboxHex);
    const { status, body } = await this.#request('POST', path, { headers, body: envelope });
    if (!isHex32(body.id) || !Number.isSafeInteger(body.seq) || typeof body.expiresAt !== 'string')
      bad(this.relay, 'post: expected { id, seq, expiresAt }', status);
    return { id: body.id, seq: body.seq as number, expiresAt: body.expiresAt, created: status === 201 };
  }

  /** `GET /v1/envelopes/:id/status`. */
  async status(idHex: string): Promise<EnvelopeStatus> {
    const { body } = await this.#request('GET', RelayPath.status.replace(':id', idHex));
    return this.#statusOf(body);
  }

  /** `DELETE /v1/envelopes/:id` with the retraction secret. */
  async retract(idHex: string, secretHex: string): Promise<EnvelopeStatus> {
    const { body } = await this.#request('DELETE', RelayPath.retract.replace(':id', idHex), {
      headers: { [RelayHeader.retractionSecret]: secretHex },
    });
    return this.#statusOf(body);
  }

  #statusOf(body: Record<string, unknown>): EnvelopeStatus {
    if (!ENVELOPE_STATUSES.includes(body.status as EnvelopeStatus))
      bad(this.relay, `unknown envelope status ${JSON.stringify(body.status)}`);
    return body.status as EnvelopeStatus;
  }

  /** `POST /v1/auth/challenge`: a fresh single-use challenge (64 hex). */
  async challenge(): Promise<string> {
    const { body } = await this.#request('POST', RelayPath.challenge);
    if (!isHex32(body.challenge)) bad(this.relay, 'challenge: expected 64 lowercase hex chars');
    return body.challenge;
  }

  /** `POST /v1/auth/session`: trades a signed challenge for a short-lived bearer token. */
  async session(proof: AuthProof): Promise<string> {
    const { body } = await this.#request('POST', RelayPath.session, {
      headers: { 'content-type': 'application/json' },
      body: encodeSessionRequest(proof),
    });
    if (typeof body.token !== 'string' || body.token.length === 0) bad(this.relay, 'session: expected a token');
    return body.token;
  }

  /** `GET /v1/mailboxes/:mailbox/envelopes?after=&limit=` (marks the listed envelopes delivered). */
  async list(mailboxHex: string, token: string, after: number, limit: number): Promise<EnvelopePage> {
    const path = `${RelayPath.listEnvelopes.replace(':mailbox', mailboxHex)}?after=${after}&limit=${limit}`;
    const { body } = await this.#request('GET', path, { headers: { authorization: `Bearer ${token}` } });
    if (!Array.isArray(body.envelopes) || typeof body.more !== 'boolean') bad(this.relay, 'list: expected { envelopes, more }');
    let envelopes: StoredEnvelopeJson[];
    try {
      envelopes = (body.envelopes as unknown[]).map(decodeStoredEnvelope);
    } catch (e) {
      return bad(this.relay, `list: malformed envelope entry: ${(e as Error).message}`);
    }
    return { envelopes, more: body.more };
  }

  /** `POST /v1/mailboxes/:mailbox/acks`: deletes acknowledged envelopes on the relay. */
  async ack(mailboxHex: string, token: string, ids: string[]): Promise<void> {
    await this.#request('POST', RelayPath.ack.replace(':mailbox', mailboxHex), {
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: encodeAckRequest(ids),
    });
  }
}
