/**
 * A {@link ChainSource} over the Esplora REST API, the HTTP API of esplora,
 * electrs and mempool (for example `https://mempool.space/signet/api`).
 * Browser-safe: `fetch` (injectable), `AbortController` for timeouts, no
 * Node built-in.
 *
 * What is trusted and what is checked: the backend is trusted for
 * liveness and for what it reports about confirmations (heights, whether an
 * output is spent, which coins a script holds, the fee estimate); a lying
 * backend can hide a transaction or delay an action, which is why callers
 * watch early and may use several sources. Everything it returns that can be
 * checked is: a raw transaction must parse and hash to the txid asked for; a
 * spender must really spend the outpoint asked about; a broadcast's answer
 * must be the transaction's own txid; numbers must be integers in range.
 * A coin's value is not checked against its transaction here: a wallet
 * signing with a wrong value makes an invalid taproot signature (BIP341
 * commits to every input's amount), never an overpayment.
 *
 * Errors: `CHAIN_UNREACHABLE` (network failure, timeout, HTTP 5xx),
 * `CHAIN_BAD_RESPONSE` (an answer that does not parse or does not check),
 * `CHAIN_REJECTED` ({@link ChainRejectedError}, HTTP 400 to a broadcast,
 * with the backend's reason).
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '../../base/bytes.js';
import { ErrorCode, LnMailboxError, fail } from '../../base/errors.js';
import { MAX_MONEY, parseTx, serializeTx, txidHex, type BitcoinTx, type Outpoint } from '../../engine/bitcoin/transaction.js';
import { ChainRejectedError, type ChainSource, type ChainTx, type ChainUtxo } from './source.js';

/** Options of {@link EsploraChainSource}. */
export interface EsploraChainSourceOptions {
  /** The `fetch` to use (default: the global one). */
  readonly fetch?: typeof fetch;
  /** Per-request timeout, ms. Default 10 000. */
  readonly timeoutMs?: number;
  /** Lowest fee rate {@link EsploraChainSource.feeRate} returns, sat/vB (an empty estimate table gives this). Default 1. */
  readonly minFeeRate?: number;
}

const HEX64 = /^[0-9a-f]{64}$/;
const bad = (what: string): never => fail(ErrorCode.CHAIN_BAD_RESPONSE, `esplora: ${what}`);

function height(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(`${what}: not a block height`);
  return v as number;
}

function txidOf(v: unknown, what: string): string {
  if (typeof v !== 'string' || !HEX64.test(v)) bad(`${what}: not a txid`);
  return v as string;
}

function statusHeight(v: unknown, what: string): number | null {
  if (typeof v !== 'object' || v === null) return bad(`${what}: no status`);
  const s = v as { confirmed?: unknown; block_height?: unknown };
  if (s.confirmed === false) return null;
  if (s.confirmed !== true) bad(`${what}: status.confirmed is not a boolean`);
  return height(s.block_height, `${what}: status.block_height`);
}

/** An Esplora REST client implementing {@link ChainSource}. */
export class EsploraChainSource implements ChainSource {
  /** The base URL, without a trailing slash (e.g. `https://mempool.space/signet/api`). */
  readonly url: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #minFeeRate: number;

  constructor(url: string, opts: EsploraChainSourceOptions = {}) {
    const u = URL.canParse(url) ? new URL(url) : fail(ErrorCode.INVALID_TYPE, `esplora: ${JSON.stringify(url)} is not a URL`);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') fail(ErrorCode.INVALID_TYPE, 'esplora: URL must be http(s)');
    this.url = url.replace(/\/+$/, '');
    this.#fetch = opts.fetch ?? ((...a) => globalThis.fetch(...a));
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#minFeeRate = opts.minFeeRate ?? 1;
    if (!Number.isFinite(this.#timeoutMs) || this.#timeoutMs <= 0) fail(ErrorCode.INVALID_RANGE, 'esplora: timeoutMs');
    if (!Number.isFinite(this.#minFeeRate) || this.#minFeeRate < 0) fail(ErrorCode.INVALID_RANGE, 'esplora: minFeeRate');
  }

  /** One HTTP exchange: status and body text. Network failures, timeouts and 5xx are CHAIN_UNREACHABLE. */
  async #request(path: string, init: { method?: string; body?: string } = {}): Promise<{ status: number; text: string }> {
    const what = `${init.method ?? 'GET'} ${path}`;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), this.#timeoutMs);
    try {
      const res = await this.#fetch(`${this.url}${path}`, {
        method: init.method ?? 'GET',
        signal: ctl.signal,
        ...(init.body === undefined ? {} : { body: init.body, headers: { 'content-type': 'text/plain' } }),
      });
      const text = await res.text();
      if (res.status >= 500) throw new LnMailboxError(ErrorCode.CHAIN_UNREACHABLE, `esplora: ${what}: HTTP ${res.status}`);
      return { status: res.status, text };
    } catch (e) {
      if (e instanceof LnMailboxError) throw e;
      const why = ctl.signal.aborted ? `no answer in ${this.#timeoutMs} ms` : (e as Error).message;
      throw new LnMailboxError(ErrorCode.CHAIN_UNREACHABLE, `esplora: ${what}: ${why}`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
  }

  async #get(path: string): Promise<string> {
    const { status, text } = await this.#request(path);
    if (status !== 200) bad(`GET ${path}: HTTP ${status}`);
    return text;
  }

  async #getJson(path: string): Promise<unknown> {
    const text = await this.#get(path);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return bad(`GET ${path}: not JSON`);
    }
  }

  /** Height of the best block (`GET /blocks/tip/height`). */
  async tipHeight(): Promise<number> {
    const text = (await this.#get('/blocks/tip/height')).trim();
    if (!/^\d{1,9}$/.test(text)) bad('tip height is not a number');
    return Number(text);
  }

  /**
   * The transaction `txid` (display hex) and its status (`GET /tx/:txid/hex`,
   * then `/status`), or null when the backend does not know it. The raw
   * transaction must hash to `txid`.
   */
  async getTx(txid: string): Promise<ChainTx | null> {
    const id = bytesToHex(hexToBytes(txid, 32, 'txid'));
    const hex = await this.#request(`/tx/${id}/hex`);
    if (hex.status === 404) return null;
    if (hex.status !== 200) bad(`GET /tx/${id}/hex: HTTP ${hex.status}`);
    let tx: BitcoinTx;
    try {
      tx = parseTx(hex.text.trim());
    } catch {
      return bad(`GET /tx/${id}/hex: not a transaction`);
    }
    if (txidHex(tx) !== id) bad(`GET /tx/${id}/hex: the transaction hashes to ${txidHex(tx)}`);
    const st = await this.#request(`/tx/${id}/status`);
    if (st.status === 404) return null; // dropped from the mempool meanwhile
    if (st.status !== 200) bad(`GET /tx/${id}/status: HTTP ${st.status}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(st.text);
    } catch {
      return bad(`GET /tx/${id}/status: not JSON`);
    }
    return { tx, height: statusHeight(parsed, `tx ${id}`) };
  }

  /**
   * The transaction spending `outpoint` (`GET /tx/:txid/outspend/:vout`, then
   * the spender itself), or null while unspent. The spender must spend it.
   */
  async spenderOf(outpoint: Outpoint): Promise<ChainTx | null> {
    const id = bytesToHex(outpoint.txid);
    const path = `/tx/${id}/outspend/${outpoint.vout}`;
    // Two tries: a mempool spender may be replaced between the two requests.
    for (let attempt = 0; attempt < 2; attempt++) {
      const o = await this.#getJson(path);
      if (typeof o !== 'object' || o === null) bad(`GET ${path}: not an object`);
      const { spent, txid } = o as { spent?: unknown; txid?: unknown };
      if (spent === false) return null;
      if (spent !== true) bad(`GET ${path}: spent is not a boolean`);
      const found = await this.getTx(txidOf(txid, `GET ${path}`));
      if (found === null) continue;
      if (!found.tx.inputs.some((i) => bytesToHex(i.txid) === id && i.vout === outpoint.vout))
        bad(`GET ${path}: ${txid} does not spend ${id}:${outpoint.vout}`);
      return found;
    }
    return bad(`GET ${path}: the reported spender is unknown`);
  }

  /** The unspent outputs paying `scriptPubKey` (`GET /scripthash/:sha256/utxo`), confirmed and unconfirmed. */
  async utxos(scriptPubKey: Uint8Array): Promise<ChainUtxo[]> {
    const path = `/scripthash/${bytesToHex(sha256(scriptPubKey))}/utxo`;
    const list = await this.#getJson(path);
    if (!Array.isArray(list)) return bad(`GET ${path}: not an array`);
    return list.map((u: unknown) => {
      if (typeof u !== 'object' || u === null) return bad(`GET ${path}: entry is not an object`);
      const { txid, vout, value, status } = u as Record<string, unknown>;
      if (typeof vout !== 'number' || !Number.isInteger(vout) || vout < 0 || vout > 0xffff_ffff) bad(`GET ${path}: bad vout`);
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_MONEY) bad(`GET ${path}: bad value`);
      return {
        outpoint: { txid: hexToBytes(txidOf(txid, `GET ${path}`), 32), vout: vout as number },
        amount: value as number,
        height: statusHeight(status, `GET ${path}`),
      };
    });
  }

  /** Broadcasts `tx` (`POST /tx`); resolves with its txid. HTTP 400 is {@link ChainRejectedError} with the backend's reason. */
  async broadcast(tx: BitcoinTx): Promise<string> {
    const { status, text } = await this.#request('/tx', { method: 'POST', body: bytesToHex(serializeTx(tx)) });
    if (status === 400) throw new ChainRejectedError(text.trim());
    if (status !== 200) bad(`POST /tx: HTTP ${status}`);
    const id = txidHex(tx);
    if (text.trim() !== id) bad(`POST /tx: answered ${JSON.stringify(text.slice(0, 80))}, not the txid ${id}`);
    return id;
  }

  /**
   * Fee rate for confirmation within `targetBlocks` (`GET /fee-estimates`):
   * the estimate of the largest target not above `targetBlocks` (else the
   * smallest target listed), never below the `minFeeRate` option.
   */
  async feeRate(targetBlocks: number): Promise<number> {
    if (!Number.isSafeInteger(targetBlocks) || targetBlocks < 1) fail(ErrorCode.INVALID_RANGE, `targetBlocks ${targetBlocks}`);
    const table = await this.#getJson('/fee-estimates');
    if (typeof table !== 'object' || table === null || Array.isArray(table)) return bad('fee estimates: not an object');
    const entries = Object.entries(table as Record<string, unknown>).map(([k, v]) => {
      if (!/^\d{1,6}$/.test(k) || typeof v !== 'number' || !Number.isFinite(v) || v < 0) bad(`fee estimates: bad entry ${k}`);
      return [Number(k), v as number] as const;
    });
    if (entries.length === 0) return this.#minFeeRate;
    entries.sort((a, b) => a[0] - b[0]);
    const pick = [...entries].reverse().find(([t]) => t <= targetBlocks) ?? entries[0]!;
    return Math.max(this.#minFeeRate, pick[1]);
  }
}
