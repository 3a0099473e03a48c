/**
 * The HTTP half of relay API v1 (SPEC 5), one relay at a time:
 * info, post, status, retract, the challenge → session-token → list → ack
 * path used where WebSocket is unavailable, and the records (SPEC 5.13). The
 * transport is injected ({@link HttpTransport}: `node:http` in Node, `fetch`
 * elsewhere), so this runs in browsers and Node alike. Every relay rejection becomes an
 * {@link LnMailboxError} carrying the relay's own `code` and HTTP `status`;
 * a relay that cannot be reached gives `RELAY_UNREACHABLE`, one that answers
 * outside the protocol gives `RELAY_BAD_RESPONSE`. Every body is encoded and
 * checked by its one encoder and decoder in `protocol/relay-http.ts`.
 * @module
 */
import { ErrorCode, LnMailboxError, isLnMailboxError } from '../../base/errors.js';
import { normalizeRelayUrl } from '../../protocol/address.js';
import type { HttpAnswer, HttpTransport } from './http-transport.js';
import {
  MAX_RECORD_BYTES,
  RelayHeader,
  RelayPath,
  decodeAckResponse,
  decodeChallengeResponse,
  decodeEnvelopePage,
  decodeErrorBody,
  decodePostEnvelopeResponse,
  decodeRelayInfo,
  decodeSessionResponse,
  decodeStatusResponse,
  encodeAckRequest,
  encodeSessionRequest,
  type AuthProof,
  type EnvelopePage,
  type EnvelopeStatus,
  type PostEnvelopeResponse,
  type RelayInfo,
} from '../../protocol/relay.js';

export type { FetchLike } from './http-transport.js';

/** The path of one record (the name is checked by the caller: `[a-z0-9-]` needs no escaping). */
function recordPath(mailboxHex: string, name: string): string {
  return RelayPath.record.replace(':mailbox', mailboxHex).replace(':name', name);
}

/** The WebSocket URL of a normalized relay base URL (`http` → `ws`, `https` → `wss`). */
export function relayWsUrl(relay: string): string {
  return relay.replace(/^http/, 'ws') + RelayPath.ws;
}

/** Outcome of one successful POST: `created` is false when the relay already held the envelope (200). */
export interface PostedEnvelope extends PostEnvelopeResponse {
  created: boolean;
}

/** Optional headers of a POST. */
export interface PostHeaders {
  ttlSeconds?: number;
  /** `sha256(secret)`, 64 hex. */
  retractionHash?: string;
  /** PoW nonce, 16 hex. */
  pow?: string;
}

/** The JSON of a body (`{}` when empty), or undefined when it is not JSON. */
function parseJson(bytes: Uint8Array): unknown {
  if (bytes.length === 0) return {};
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}

function bad(relay: string, what: string, status?: number): never {
  throw new LnMailboxError(ErrorCode.RELAY_BAD_RESPONSE, `${relay}: ${what}`, status === undefined ? undefined : { status });
}

/** HTTP client of one relay. Stateless apart from its configuration. */
export class RelayHttp {
  /** Normalized base URL of the relay. */
  readonly relay: string;
  readonly #send: HttpTransport;
  readonly #timeoutMs: number;

  /**
   * @param relay normalized base URL (see {@link normalizeRelayUrl})
   * @param transport how requests go out (see {@link defaultTransport})
   * @param timeoutMs per-request timeout; a relay that never answers must not hang a post
   */
  constructor(relay: string, transport: HttpTransport, timeoutMs: number) {
    this.relay = normalizeRelayUrl(relay);
    this.#send = transport;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Sends one request and reads the whole answer (at most `maxBytes` of it,
   * else RELAY_BAD_RESPONSE); throws the relay's error for a non-2xx answer.
   */
  async #exchange(
    method: string,
    path: string,
    init: { headers?: Record<string, string>; body?: Uint8Array | string; maxBytes?: number } = {},
  ): Promise<HttpAnswer> {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), this.#timeoutMs);
    let res: HttpAnswer;
    try {
      res = await this.#send({
        method,
        url: this.relay + path,
        headers: init.headers,
        body: init.body,
        signal: ctl.signal,
        maxBytes: init.maxBytes ?? Number.POSITIVE_INFINITY,
      });
    } catch (e) {
      if (isLnMailboxError(e)) throw e;
      const why = ctl.signal.aborted ? `no answer within ${this.#timeoutMs} ms` : String((e as Error)?.message ?? e);
      throw new LnMailboxError(ErrorCode.RELAY_UNREACHABLE, `${this.relay}: ${method} ${path}: ${why}`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
    const bytes = res.bytes;
    if (res.status < 200 || res.status > 299) {
      let e: ReturnType<typeof decodeErrorBody>['error'] | undefined;
      try {
        e = decodeErrorBody(parseJson(bytes), ErrorCode.RELAY_BAD_RESPONSE).error;
      } catch {
        bad(this.relay, `${method} ${path}: HTTP ${res.status} without an error body`, res.status);
      }
      // A code unknown to this version is still passed through: callers branch on it.
      throw new LnMailboxError(e.code, `${this.relay}: ${e.message}`, { status: res.status });
    }
    return res;
  }

  /** Sends one request; returns the parsed JSON body (not yet checked) and status of a 2xx answer, throws otherwise. */
  async #request(
    method: string,
    path: string,
    init: { headers?: Record<string, string>; body?: Uint8Array | string } = {},
  ): Promise<{ status: number; body: unknown }> {
    const { status, bytes } = await this.#exchange(method, path, init);
    return { status, body: parseJson(bytes) };
  }

  /** Decodes a 2xx body with its protocol decoder; a body outside the protocol is RELAY_BAD_RESPONSE with the relay's name. */
  #decode<T>(what: string, status: number, body: unknown, decode: (body: unknown) => T): T {
    try {
      return decode(body);
    } catch (e) {
      if (!isLnMailboxError(e)) throw e;
      throw new LnMailboxError(e.code, `${this.relay}: ${what}: ${e.message}`, { status, cause: e });
    }
  }

  /** `GET /v1/info`. */
  async info(): Promise<RelayInfo> {
    const { status, body } = await this.#request('GET', RelayPath.info);
    return this.#decode('info', status, body, decodeRelayInfo);
  }

  /** `POST /v1/mailboxes/:mailbox/envelopes`: 201 stored now, 200 already stored. */
  async postEnvelope(mailboxHex: string, envelope: Uint8Array, h: PostHeaders = {}): Promise<PostedEnvelope> {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (h.ttlSeconds !== undefined) headers[RelayHeader.ttl] = String(h.ttlSeconds);
    if (h.retractionHash !== undefined) headers[RelayHeader.retractionHash] = h.retractionHash;
    if (h.pow !== undefined) headers[RelayHeader.pow] = h.pow;
    const path = RelayPath.postEnvelope.replace(':mailbox', mailboxHex);
    const { status, body } = await this.#request('POST', path, { headers, body: envelope });
    return { ...this.#decode('post', status, body, decodePostEnvelopeResponse), created: status === 201 };
  }

  /** `GET /v1/envelopes/:id/status`. */
  async status(idHex: string): Promise<EnvelopeStatus> {
    const { status, body } = await this.#request('GET', RelayPath.status.replace(':id', idHex));
    return this.#decode('status', status, body, decodeStatusResponse);
  }

  /** `DELETE /v1/envelopes/:id` with the retraction secret. */
  async retract(idHex: string, secretHex: string): Promise<EnvelopeStatus> {
    const { status, body } = await this.#request('DELETE', RelayPath.retract.replace(':id', idHex), {
      headers: { [RelayHeader.retractionSecret]: secretHex },
    });
    return this.#decode('retract', status, body, decodeStatusResponse);
  }

  /** `POST /v1/auth/challenge`: a fresh single-use challenge (64 hex). */
  async challenge(): Promise<string> {
    const { status, body } = await this.#request('POST', RelayPath.challenge);
    return this.#decode('challenge', status, body, decodeChallengeResponse).challenge;
  }

  /** `POST /v1/auth/session`: trades a signed challenge for a short-lived bearer token. */
  async session(proof: AuthProof): Promise<string> {
    const { status, body } = await this.#request('POST', RelayPath.session, {
      headers: { 'content-type': 'application/json' },
      body: encodeSessionRequest(proof),
    });
    return this.#decode('session', status, body, decodeSessionResponse).token;
  }

  /** `GET /v1/mailboxes/:mailbox/envelopes?after=&limit=` (marks the listed envelopes delivered). */
  async list(mailboxHex: string, token: string, after: number, limit: number): Promise<EnvelopePage> {
    const path = `${RelayPath.listEnvelopes.replace(':mailbox', mailboxHex)}?after=${after}&limit=${limit}`;
    const { status, body } = await this.#request('GET', path, { headers: { authorization: `Bearer ${token}` } });
    return this.#decode('list', status, body, decodeEnvelopePage);
  }

  /** `PUT /v1/mailboxes/:mailbox/records/:name` (SPEC 5.13): stores or replaces the record; 204. */
  async putRecord(mailboxHex: string, token: string, name: string, value: Uint8Array): Promise<void> {
    const { status } = await this.#exchange('PUT', recordPath(mailboxHex, name), {
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: value,
    });
    if (status !== 204) bad(this.relay, `PUT record: expected 204, got ${status}`, status);
  }

  /**
   * `GET /v1/mailboxes/:mailbox/records/:name` (SPEC 5.13): the record's bytes.
   * @throws LnMailboxError RECORD_NOT_FOUND; RELAY_BAD_RESPONSE for an answer that is not 200
   *   `application/octet-stream` of at most MAX_RECORD_BYTES
   */
  async getRecord(mailboxHex: string, name: string): Promise<Uint8Array> {
    const { status, contentType, bytes } = await this.#exchange('GET', recordPath(mailboxHex, name), { maxBytes: MAX_RECORD_BYTES });
    if (status !== 200) bad(this.relay, `GET record: expected 200, got ${status}`, status);
    const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/octet-stream') bad(this.relay, `GET record: Content-Type ${JSON.stringify(type)}`, status);
    return bytes;
  }

  /** `DELETE /v1/mailboxes/:mailbox/records/:name` (SPEC 5.13); 204, also when there was none. */
  async deleteRecord(mailboxHex: string, token: string, name: string): Promise<void> {
    const { status } = await this.#exchange('DELETE', recordPath(mailboxHex, name), { headers: { authorization: `Bearer ${token}` } });
    if (status !== 204) bad(this.relay, `DELETE record: expected 204, got ${status}`, status);
  }

  /**
   * `POST /v1/mailboxes/:mailbox/acks`: deletes acknowledged envelopes on the relay.
   * @returns how many the relay deleted now (ids already gone are not counted)
   */
  async ack(mailboxHex: string, token: string, ids: string[]): Promise<number> {
    const { status, body } = await this.#request('POST', RelayPath.ack.replace(':mailbox', mailboxHex), {
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: encodeAckRequest(ids),
    });
    return this.#decode('ack', status, body, decodeAckResponse);
  }
}
