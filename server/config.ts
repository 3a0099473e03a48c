/**
 * Relay settings: one table of every tunable with its default, flag,
 * environment variable and bounds, and validation of a full configuration
 * (docs/operators.md lists the same table).
 *
 * Precedence (applied by `cli.ts`): command-line flags, then `LNMB_*`
 * environment variables, then the JSON config file, then these defaults.
 * @module
 */
import { ErrorCode, fail } from '../base/errors.js';
import { ENVELOPE_MAX_LEN, ENVELOPE_MIN_LEN } from '../protocol/envelope.js';

/** pino log levels accepted by `logLevel`. */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Storage backends accepted by `store`. */
export const STORE_KINDS = ['level', 'postgres'] as const;
/** One of {@link STORE_KINDS}. */
export type StoreKind = (typeof STORE_KINDS)[number];

/** Every setting of the relay, fully resolved. */
export interface RelayConfig {
  /** Interface to listen on. Default `127.0.0.1`: the relay is meant to sit behind a TLS reverse proxy. */
  host: string;
  /** TCP port; 0 picks a free port. */
  port: number;
  /** LevelDB directory. */
  dataDir: string;
  /**
   * Free-space reserve of the data directory's filesystem, bytes: below it
   * new envelopes are refused (`STORE_FULL`) while acks, retractions and
   * expiry still write. 0 (with `minFreePercent` 0) disables it. LevelDB only.
   */
  minFreeBytes: number;
  /** Reserve as a percentage of the filesystem's size; the larger of the two applies. */
  minFreePercent: number;
  /** Storage backend: embedded LevelDB in `dataDir`, or PostgreSQL at `databaseUrl` (shareable by several instances). */
  store: StoreKind;
  /** PostgreSQL connection URL, required when `store` is `postgres`. Holds a password: never logged. */
  databaseUrl: string | undefined;
  /** The relay's public base URL (e.g. `https://relay.example`); its origin is what clients sign. */
  publicUrl: string | undefined;
  logLevel: LogLevel;
  /** Number of reverse-proxy hops whose `X-Forwarded-For`/`-Proto`/`-Host` headers are trusted (0 = none). */
  trustProxy: number;
  maxEnvelopeBytes: number;
  defaultTtlSeconds: number;
  /** Longer requested TTLs are clamped to this (the response's `expiresAt` tells the sender). */
  maxTtlSeconds: number;
  maxEnvelopesPerMailbox: number;
  maxBytesPerMailbox: number;
  /** Token-bucket refill per client IP, requests per second, for POST and DELETE. */
  postRatePerSecond: number;
  postBurst: number;
  maxConnectionsPerIp: number;
  /** Largest WebSocket message accepted (ws `maxPayload`); larger closes with 1009. */
  maxFrameBytes: number;
  authTimeoutMs: number;
  /** Per-connection outbound buffer above which a live subscriber is disconnected (4002). */
  outboundBufferBytes: number;
  /** Required proof-of-work bits on POST; 0 disables. */
  powBits: number;
  heartbeatMs: number;
  challengeTtlSeconds: number;
  sessionTtlSeconds: number;
  maxPendingChallenges: number;
  maxSessions: number;
  sweepIntervalMs: number;
  /** How long an `expired` tombstone still answers status queries. */
  expiredRetentionSeconds: number;
  /** Largest `limit` of one listing page. */
  maxListLimit: number;
  /**
   * Web origins whose pages may call the API from a browser (CORS, SPEC
   * 5.14): `*` for any (the default: the API is public and uses no
   * cookies), or a comma-separated list such as
   * `https://wallet.example,https://app.example`.
   */
  corsOrigins: string;
}

type Kind = 'string' | 'int' | 'url' | 'level' | 'store' | 'dburl' | 'origins';

/** One row of the settings table. */
export interface SettingSpec {
  key: keyof RelayConfig;
  kind: Kind;
  /** Command-line flag, e.g. `--max-ttl-seconds`. */
  flag: string;
  /** Environment variable, e.g. `LNMB_MAX_TTL_SECONDS`. */
  env: string;
  min?: number;
  max?: number;
  /** One line for `--help` and docs. */
  doc: string;
}

/** The defaults, as documented in docs/operators.md. */
export const DEFAULT_CONFIG: Readonly<RelayConfig> = Object.freeze({
  host: '127.0.0.1',
  port: 8080,
  dataDir: './data',
  minFreeBytes: 64 * 1024 * 1024,
  minFreePercent: 0,
  store: 'level',
  databaseUrl: undefined,
  publicUrl: undefined,
  logLevel: 'info',
  trustProxy: 0,
  maxEnvelopeBytes: 64 * 1024,
  defaultTtlSeconds: 7 * 24 * 3600,
  maxTtlSeconds: 30 * 24 * 3600,
  maxEnvelopesPerMailbox: 10_000,
  maxBytesPerMailbox: 64 * 1024 * 1024,
  postRatePerSecond: 60,
  postBurst: 120,
  maxConnectionsPerIp: 64,
  maxFrameBytes: 128 * 1024,
  authTimeoutMs: 10_000,
  outboundBufferBytes: 4 * 1024 * 1024,
  powBits: 0,
  heartbeatMs: 30_000,
  challengeTtlSeconds: 60,
  sessionTtlSeconds: 600,
  maxPendingChallenges: 10_000,
  maxSessions: 100_000,
  sweepIntervalMs: 30_000,
  expiredRetentionSeconds: 24 * 3600,
  maxListLimit: 1000,
  corsOrigins: '*',
});

const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();

function row(key: keyof RelayConfig, kind: Kind, doc: string, min?: number, max?: number): SettingSpec {
  const spec: SettingSpec = { key, kind, flag: `--${kebab(key)}`, env: `LNMB_${snake(key)}`, doc };
  if (min !== undefined) spec.min = min;
  if (max !== undefined) spec.max = max;
  return spec;
}

const DAY = 24 * 3600;
/** Every setting, in documentation order. */
export const SETTINGS: readonly SettingSpec[] = [
  row('host', 'string', 'interface to listen on'),
  row('port', 'int', 'TCP port (0 = any free port)', 0, 65535),
  row('dataDir', 'string', 'LevelDB data directory'),
  row(
    'minFreeBytes',
    'int',
    'free-space reserve of the data directory, bytes: below it new envelopes get STORE_FULL (0 = off)',
    0,
    2 ** 50,
  ),
  row('minFreePercent', 'int', 'free-space reserve as a percentage of the filesystem size (the larger reserve applies)', 0, 90),
  row('store', 'store', `storage backend: ${STORE_KINDS.join(', ')} (postgres lets several relay instances share one database)`),
  row('databaseUrl', 'dburl', 'PostgreSQL URL for store=postgres, e.g. postgres://relay:secret@db:5432/lnmb'),
  row('publicUrl', 'url', 'public base URL clients use (its origin is bound into auth signatures)'),
  row('logLevel', 'level', `log level: ${LOG_LEVELS.join(', ')}`),
  row('trustProxy', 'int', 'trusted reverse-proxy hops for X-Forwarded-* headers (0 = none)', 0, 10),
  // No v1 envelope exceeds ENVELOPE_MAX_LEN (SPEC 3.1): a larger limit would only admit garbage.
  row('maxEnvelopeBytes', 'int', 'largest envelope accepted, bytes (at most 65536: the v1 maximum)', ENVELOPE_MIN_LEN, ENVELOPE_MAX_LEN),
  row('defaultTtlSeconds', 'int', 'TTL when the sender asks for none, seconds', 1, 10 * 365 * DAY),
  row('maxTtlSeconds', 'int', 'longer requested TTLs are clamped to this, seconds', 1, 10 * 365 * DAY),
  row('maxEnvelopesPerMailbox', 'int', 'live envelopes per mailbox', 1, 100_000_000),
  row('maxBytesPerMailbox', 'int', 'live envelope bytes per mailbox', 1, 2 ** 46),
  row('postRatePerSecond', 'int', 'POST/PUT/DELETE token-bucket refill per client IP, per second', 1, 1_000_000_000),
  row('postBurst', 'int', 'POST/PUT/DELETE token-bucket size per client IP', 1, 1_000_000_000),
  row('maxConnectionsPerIp', 'int', 'open WebSocket connections per client IP', 1, 10_000_000),
  row('maxFrameBytes', 'int', 'largest WebSocket message from a client, bytes', 1024, 64 * 1024 * 1024),
  row('authTimeoutMs', 'int', 'time a WebSocket client has to authenticate, ms', 100, 600_000),
  row('outboundBufferBytes', 'int', 'outbound buffer per connection before a slow consumer is dropped, bytes', 64 * 1024, 2 ** 31),
  row('powBits', 'int', 'required proof-of-work bits on POST (0 = off)', 0, 40),
  row('heartbeatMs', 'int', 'WebSocket ping interval; peers silent for one interval are dropped, ms', 100, 3_600_000),
  row('challengeTtlSeconds', 'int', 'lifetime of an auth challenge, seconds', 1, 3600),
  row('sessionTtlSeconds', 'int', 'lifetime of a session token, seconds', 1, 7 * DAY),
  row('maxPendingChallenges', 'int', 'outstanding HTTP auth challenges kept (oldest evicted)', 1, 10_000_000),
  row('maxSessions', 'int', 'live session tokens kept (oldest evicted)', 1, 10_000_000),
  row('sweepIntervalMs', 'int', 'expiry sweep interval, ms', 10, 3_600_000),
  row('expiredRetentionSeconds', 'int', 'how long status still reports `expired`, seconds', 0, 365 * DAY),
  row('maxListLimit', 'int', 'largest `limit` of a listing page', 1, 10_000),
  row('corsOrigins', 'origins', 'web origins allowed to call the API from a browser: * (any) or a comma-separated list'),
];

/** A URL setting: absent or empty is `undefined`; otherwise one of `protocols`. */
function urlSetting(key: string, raw: unknown, protocols: string[], what: string, echo: boolean): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string') return fail(ErrorCode.INVALID_TYPE, `config ${key}: expected a URL string`);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return invalid(key, echo ? `not a URL: ${JSON.stringify(raw)}` : 'not a URL');
  }
  if (!protocols.includes(u.protocol)) invalid(key, `must be ${what}`);
  return raw;
}

/**
 * The `corsOrigins` setting: `*`, or a comma-separated list (a JSON array in
 * a config file) of origins written exactly as browsers send them
 * (`scheme://host[:port]`, no path, no trailing slash). Normalized to `*` or
 * the list joined by commas.
 */
function originsSetting(key: string, raw: unknown): string {
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : undefined;
  if (list === undefined || list.some((o) => typeof o !== 'string'))
    return fail(ErrorCode.INVALID_TYPE, `config ${key}: expected * or a comma-separated list of origins`);
  const origins = (list as string[]).map((o) => o.trim()).filter((o) => o !== '');
  if (origins.length === 0) invalid(key, 'expected * or at least one origin');
  if (origins.includes('*')) {
    if (origins.length > 1) invalid(key, '* cannot be combined with other origins');
    return '*';
  }
  for (const o of origins) {
    let ok = false;
    try {
      const u = new URL(o);
      ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === o;
    } catch {
      // not a URL: refused below
    }
    if (!ok) invalid(key, `not an http(s) origin as a browser sends it (scheme://host[:port], no path): ${JSON.stringify(o)}`);
  }
  return [...new Set(origins)].join(',');
}

function invalid(key: string, msg: string): never {
  return fail(ErrorCode.INVALID_RANGE, `config ${key}: ${msg}`);
}

/**
 * Parses one raw setting value (a flag or environment string, or a JSON value
 * from the config file) into its typed form.
 * @throws LnMailboxError INVALID_TYPE / INVALID_RANGE naming the setting
 */
function parseSetting(spec: SettingSpec, raw: unknown): RelayConfig[keyof RelayConfig] {
  switch (spec.kind) {
    case 'int': {
      const n = typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
      if (typeof n !== 'number' || !Number.isSafeInteger(n))
        return fail(ErrorCode.INVALID_TYPE, `config ${spec.key}: expected an integer, got ${JSON.stringify(raw)}`);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max))
        invalid(spec.key, `${n} is outside ${spec.min ?? '-∞'}..${spec.max ?? '∞'}`);
      return n;
    }
    case 'string':
      if (typeof raw !== 'string' || raw.length === 0)
        return fail(ErrorCode.INVALID_TYPE, `config ${spec.key}: expected a non-empty string`);
      return raw;
    case 'url':
      return urlSetting(spec.key, raw, ['http:', 'https:'], 'an http(s) URL', true);
    case 'level':
      if (typeof raw !== 'string' || !(LOG_LEVELS as readonly string[]).includes(raw))
        return fail(ErrorCode.INVALID_TYPE, `config ${spec.key}: expected one of ${LOG_LEVELS.join(', ')}`);
      return raw;
    case 'store':
      if (typeof raw !== 'string' || !(STORE_KINDS as readonly string[]).includes(raw))
        return fail(ErrorCode.INVALID_TYPE, `config ${spec.key}: expected one of ${STORE_KINDS.join(', ')}`);
      return raw;
    case 'dburl':
      // Not echoed when malformed: the value may hold a password.
      return urlSetting(spec.key, raw, ['postgres:', 'postgresql:'], 'a postgres:// or postgresql:// URL', false);
    case 'origins':
      return originsSetting(spec.key, raw);
  }
}

/**
 * Fills defaults and validates every setting and the relations between
 * them. Unknown keys are rejected so a typo in a config file is not silently
 * ignored.
 * @throws LnMailboxError INVALID_TYPE / INVALID_RANGE
 */
export function resolveConfig(partial: Partial<Record<keyof RelayConfig, unknown>> = {}): RelayConfig {
  if (typeof partial !== 'object' || partial === null) fail(ErrorCode.INVALID_TYPE, 'config: expected an object');
  const known = new Set(SETTINGS.map((s) => s.key as string));
  for (const k of Object.keys(partial)) if (!known.has(k)) fail(ErrorCode.INVALID_TYPE, `config: unknown setting ${JSON.stringify(k)}`);
  const out = { ...DEFAULT_CONFIG } as Record<string, unknown>;
  for (const spec of SETTINGS) {
    const raw = partial[spec.key];
    if (raw !== undefined) out[spec.key] = parseSetting(spec, raw);
  }
  const cfg = out as unknown as RelayConfig;
  // Lowering only the maximum lowers the default with it; an explicit default above the maximum is an error.
  if (partial.defaultTtlSeconds === undefined) cfg.defaultTtlSeconds = Math.min(cfg.defaultTtlSeconds, cfg.maxTtlSeconds);
  if (cfg.defaultTtlSeconds > cfg.maxTtlSeconds) invalid('defaultTtlSeconds', 'must not exceed maxTtlSeconds');
  if (cfg.maxBytesPerMailbox < cfg.maxEnvelopeBytes) invalid('maxBytesPerMailbox', 'must be at least maxEnvelopeBytes');
  if (cfg.maxFrameBytes < 1024) invalid('maxFrameBytes', 'must be at least 1024');
  if (cfg.store === 'postgres' && cfg.databaseUrl === undefined) invalid('databaseUrl', 'is required when store is postgres');
  return cfg;
}
