/**
 * Checks of the options of the role nodes' `open`, before anything is read
 * or sent: a missing or malformed option is an `LnMailboxError`
 * (`INVALID_TYPE`, or `INVALID_RANGE` for a number out of range), never a
 * `TypeError` from deep inside.
 *
 * The key vocabulary is the same for every role: `identityKey` (top level)
 * is the role's mailbox secret key; `config.channelKey` its channel secret
 * key; `config.hubKey` the hub's identity public key (x-only); addresses
 * are `lnmb1…` strings.
 * @module
 */
import { ErrorCode, LnMailboxError } from '../../base/errors.js';

type Bag = Record<string, unknown>;

const bad = (role: string, what: string, expected: string): never => {
  throw new LnMailboxError(ErrorCode.INVALID_TYPE, `${role}.open: ${what}: expected ${expected}`);
};

const isBytes = (v: unknown, n: number) => v instanceof Uint8Array && v.length === n;

function key(role: string, o: Bag, name: string, path: string): void {
  if (!isBytes(o[name], 32)) bad(role, path, '32 bytes (a Uint8Array)');
}

function str(role: string, o: Bag, name: string, path: string): void {
  if (typeof o[name] !== 'string' || (o[name] as string).length === 0) bad(role, path, 'a non-empty string');
}

function num(role: string, o: Bag, name: string, path: string, optional = false): void {
  const v = o[name];
  if (optional && v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(role, path, 'a finite number');
  if ((v as number) < 0) throw new LnMailboxError(ErrorCode.INVALID_RANGE, `${role}.open: ${path}: must be >= 0, got ${String(v)}`);
}

/** The options every role takes (identity, relays, store, chain, config object with its channel key). */
export function checkRuntimeOptions(role: string, o: unknown): void {
  if (typeof o !== 'object' || o === null) bad(role, 'options', 'an object');
  const b = o as Bag;
  key(role, b, 'identityKey', 'identityKey (the mailbox secret key)');
  if (!Array.isArray(b.relays) || b.relays.length === 0 || !b.relays.every((r) => typeof r === 'string'))
    bad(role, 'relays', 'a non-empty array of relay URLs');
  const kv = b.kv as Bag | undefined;
  if (typeof kv !== 'object' || kv === null || !['get', 'put', 'del', 'batch', 'entries'].every((m) => typeof kv[m] === 'function'))
    bad(role, 'kv', 'a Kv store (LevelKv, MemoryKv)');
  const chain = b.chain as Bag | undefined;
  if (typeof chain !== 'object' || chain === null || (typeof chain.tipHeight !== 'function' && typeof chain.height !== 'function'))
    bad(role, 'chain', 'a ChainSource (e.g. EsploraChainSource)');
  if (typeof b.config !== 'object' || b.config === null) bad(role, 'config', 'an object');
  key(role, b.config as Bag, 'channelKey', 'config.channelKey (the channel secret key)');
}

/** PayerNode.open: also the hub's key and address. */
export function checkPayerOptions(o: unknown): void {
  checkRuntimeOptions('PayerNode', o);
  const c = (o as Bag).config as Bag;
  key('PayerNode', c, 'hubKey', 'config.hubKey (the hub identity public key, x-only)');
  str('PayerNode', c, 'hubAddress', 'config.hubAddress');
}

/** PayeeNode.open: also its own address, the hub's key and address, and its invoice parameters. */
export function checkPayeeOptions(o: unknown): void {
  checkRuntimeOptions('PayeeNode', o);
  const c = (o as Bag).config as Bag;
  str('PayeeNode', c, 'address', 'config.address (its own mailbox address)');
  key('PayeeNode', c, 'hubKey', 'config.hubKey (the hub identity public key, x-only)');
  str('PayeeNode', c, 'hubAddress', 'config.hubAddress');
  num('PayeeNode', c, 'timeoutDelta', 'config.timeoutDelta');
  num('PayeeNode', c, 'invoiceTtlMs', 'config.invoiceTtlMs');
  num('PayeeNode', o as Bag, 'requestSweepMs', 'requestSweepMs (ms, 0 = off)', true);
}

/** HubNode.open: also its fee policy and safety parameters. */
export function checkHubOptions(o: unknown): void {
  checkRuntimeOptions('HubNode', o);
  const c = (o as Bag).config as Bag;
  const fee = c.fee as Bag | undefined;
  if (typeof fee !== 'object' || fee === null) bad('HubNode', 'config.fee', '{ base, ppm }');
  num('HubNode', fee as Bag, 'base', 'config.fee.base');
  num('HubNode', fee as Bag, 'ppm', 'config.fee.ppm');
  num('HubNode', c, 'safetyMargin', 'config.safetyMargin');
  num('HubNode', c, 'maxTimeoutDelta', 'config.maxTimeoutDelta');
  num('HubNode', o as Bag, 'termsRenewMs', 'termsRenewMs', true);
}
