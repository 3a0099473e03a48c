/**
 * Serves a {@link ChainModel} over the subset of the Esplora REST API (the
 * HTTP API of esplora, electrs and mempool) that `EsploraChainSource` uses,
 * so the tests and the demo exercise the real HTTP client:
 *
 * - `GET /blocks/tip/height` → the tip height, as text;
 * - `GET /tx/:txid/hex` → the raw transaction, hex (404 when unknown);
 * - `GET /tx/:txid/status` → `{ confirmed, block_height?, block_hash?, block_time? }`;
 * - `GET /tx/:txid/outspend/:vout` → `{ spent: false }` or `{ spent: true, txid, vin, status }`;
 * - `GET /scripthash/:hash/utxo` → `[{ txid, vout, value, status }]`, where
 *   `hash` is the SHA256 of the scriptPubKey, hex, not reversed (Esplora's
 *   form, unlike Electrum's);
 * - `POST /tx` (raw transaction hex as the body) → the txid, as text; 400
 *   with the reason as text when refused, as esplora relays bitcoind's;
 * - `GET /fee-estimates` → `{ "<target blocks>": <sat/vB>, … }` for the targets esplora lists (and 1).
 *
 * Simulator-only control routes, no Esplora equivalent (a test or the demo
 * drives the chain through them from another process):
 * - `POST /sim/mine` with optional JSON `{ "blocks": n }` → `{ "height": tip }`;
 * - `POST /sim/fund` with JSON `{ "scriptPubKey": hex, "amount": sats }` → `{ "txid", "vout" }`;
 * - `POST /sim/min-fee-rate` with JSON `{ "satPerVb": r }` → `{ "satPerVb": r }`.
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8 } from '../base/bytes.js';
import { parseTx, serializeTx, txidHex, type BitcoinTx } from '../engine/bitcoin/index.js';
import { type ChainModel, ChainRejection, at } from './chain-model.js';

/** Where to listen. */
export interface EsploraServerOptions {
  /** TCP port; 0 (default) picks a free one. */
  readonly port?: number;
  /** Interface; default 127.0.0.1 (loopback only). */
  readonly host?: string;
}

/** A running server: its base URL (no trailing slash) and how to stop it. */
export interface EsploraServer {
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY = 1 << 20;
const HEX64 = /^[0-9a-f]{64}$/;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The block hash the simulator reports for `height` (the model has no headers: a stable stand-in). */
export function simBlockHash(height: number): string {
  return bytesToHex(sha256(utf8(`ln-mailbox sim block ${height}`)));
}

const status = (height: number | null) =>
  height === null
    ? { confirmed: false }
    : { confirmed: true, block_height: height, block_hash: simBlockHash(height), block_time: at(height).time };

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, 'body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(body: string): Record<string, unknown> {
  if (body.trim() === '') return {};
  try {
    const v = JSON.parse(body) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {}
  throw new HttpError(400, 'expected a JSON object');
}

function txidParam(s: string): string {
  const t = s.toLowerCase();
  if (!HEX64.test(t)) throw new HttpError(400, 'Invalid hex string');
  return t;
}

async function route(model: ChainModel, method: string, path: string, req: IncomingMessage): Promise<[number, string | object]> {
  const parts = path.split('/').filter((p) => p !== '');
  const get = method === 'GET';
  if (get && path === '/blocks/tip/height') return [200, String(model.height)];
  if (get && path === '/fee-estimates') {
    const out: Record<string, number> = {};
    for (const t of [1, 2, 3, 4, 5, 6, 10, 20, 25, 144, 504, 1008]) out[String(t)] = model.estimateFeeRate(t);
    return [200, out];
  }
  if (get && parts[0] === 'tx' && parts.length >= 3) {
    const found = model.getTx(txidParam(parts[1]!));
    if (parts.length === 3 && parts[2] === 'hex') return found ? [200, bytesToHex(serializeTx(found.tx))] : [404, 'Transaction not found'];
    if (parts.length === 3 && parts[2] === 'status') return found ? [200, status(found.height)] : [404, 'Transaction not found'];
    if (parts.length === 4 && parts[2] === 'outspend') {
      const vout = Number(parts[3]);
      if (!/^\d+$/.test(parts[3]!) || vout > 0xffff_ffff) throw new HttpError(400, 'Invalid vout');
      const spender = model.spenderOf({ txid: hexToBytes(parts[1]!.toLowerCase()), vout });
      if (!spender) return [200, { spent: false }];
      const vin = spender.tx.inputs.findIndex((i) => bytesToHex(i.txid) === parts[1]!.toLowerCase() && i.vout === vout);
      return [200, { spent: true, txid: txidHex(spender.tx), vin, status: status(spender.height) }];
    }
  }
  if (get && parts[0] === 'scripthash' && parts.length === 3 && parts[2] === 'utxo') {
    const hash = txidParam(parts[1]!);
    const list = model.utxosByScriptHash(hash);
    return [
      200,
      list.map((u) => ({
        txid: bytesToHex(u.outpoint.txid),
        vout: u.outpoint.vout,
        value: Number(u.output.amount),
        status: status(u.height),
      })),
    ];
  }
  if (method === 'POST' && path === '/tx') {
    const body = (await readBody(req)).trim();
    let tx: BitcoinTx;
    try {
      tx = parseTx(body);
    } catch {
      throw new HttpError(400, 'sendrawtransaction RPC error: {"code":-22,"message":"TX decode failed"}');
    }
    try {
      return [200, bytesToHex(model.broadcast(tx))];
    } catch (e) {
      if (e instanceof ChainRejection)
        throw new HttpError(400, `sendrawtransaction RPC error: ${JSON.stringify({ code: -26, message: e.message })}`);
      throw e;
    }
  }
  if (method === 'POST' && path === '/sim/mine') {
    const blocks = json(await readBody(req)).blocks ?? 1;
    if (typeof blocks !== 'number' || !Number.isSafeInteger(blocks) || blocks < 1 || blocks > 10_000) throw new HttpError(400, 'blocks');
    return [200, { height: model.mine(blocks) }];
  }
  if (method === 'POST' && path === '/sim/fund') {
    const { scriptPubKey, amount } = json(await readBody(req));
    if (typeof scriptPubKey !== 'string' || !/^([0-9a-f]{2})+$/i.test(scriptPubKey)) throw new HttpError(400, 'scriptPubKey');
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0) throw new HttpError(400, 'amount');
    const o = model.fundScript(hexToBytes(scriptPubKey.toLowerCase()), amount);
    return [200, { txid: bytesToHex(o.txid), vout: o.vout }];
  }
  if (method === 'POST' && path === '/sim/min-fee-rate') {
    const { satPerVb } = json(await readBody(req));
    if (typeof satPerVb !== 'number' || !(satPerVb >= 0) || !Number.isFinite(satPerVb)) throw new HttpError(400, 'satPerVb');
    model.minFeeRate = satPerVb;
    return [200, { satPerVb }];
  }
  throw new HttpError(404, 'Not found');
}

function send(res: ServerResponse, code: number, body: string | object): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(code, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', 'access-control-allow-origin': '*' });
  res.end(text);
}

/** Starts an Esplora-compatible HTTP server over `model` (loopback, ephemeral port by default). */
export async function startEsploraServer(model: ChainModel, opts: EsploraServerOptions = {}): Promise<EsploraServer> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://sim').pathname.replace(/\/+$/, '') || '/';
    route(model, req.method ?? 'GET', path, req).then(
      ([code, body]) => send(res, code, body),
      (e: unknown) => send(res, e instanceof HttpError ? e.status : 500, e instanceof HttpError ? e.message : 'internal error'),
    );
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
