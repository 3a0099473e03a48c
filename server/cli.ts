/**
 * `ln-mailbox relay`: the relay's command line. Settings come from flags,
 * then `LNMB_*` environment variables, then a JSON file given by `--config`,
 * then defaults (`config.ts`). SIGTERM and SIGINT shut down gracefully.
 * @module
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { isLnMailboxError } from '../base/errors.js';
import { SETTINGS, resolveConfig, type RelayConfig } from './config.js';
import { startRelay, type Relay } from './relay.js';

type Raw = Partial<Record<keyof RelayConfig, unknown>>;

/** Usage text listing every flag with its environment variable. */
export function relayUsage(): string {
  const lines = SETTINGS.map((s) => `  ${s.flag.padEnd(30)} ${s.env.padEnd(34)} ${s.doc}`);
  return [
    'usage: ln-mailbox relay [flags]',
    '',
    `  ${'--config <file>'.padEnd(30)} ${'LNMB_CONFIG'.padEnd(34)} JSON file of settings (keys as in docs/operators.md)`,
    ...lines,
    `  ${'--help'.padEnd(30)}`,
    '',
    'Precedence: flags > environment > config file > defaults.',
  ].join('\n');
}

/**
 * Merges the three sources into one validated configuration.
 * @throws LnMailboxError INVALID_TYPE / INVALID_RANGE naming the bad setting; Error for an unreadable config file
 */
export function loadRelayConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const options: Record<string, { type: 'string' | 'boolean' }> = { config: { type: 'string' }, help: { type: 'boolean' } };
  for (const s of SETTINGS) options[s.flag.slice(2)] = { type: 'string' };
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });

  let fromFile: Raw = {};
  const file = (values.config as string | undefined) ?? env.LNMB_CONFIG;
  if (file) {
    const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error(`config file ${file}: expected a JSON object`);
    fromFile = parsed as Raw;
  }
  const merged: Raw = { ...fromFile };
  for (const s of SETTINGS) {
    const e = env[s.env];
    if (e !== undefined && e !== '') merged[s.key] = e;
  }
  for (const s of SETTINGS) {
    const f = values[s.flag.slice(2)];
    if (f !== undefined) merged[s.key] = f;
  }
  return resolveConfig(merged);
}

/**
 * Runs the relay until SIGTERM/SIGINT. Prints the listening URL on stdout.
 * @returns the running relay, or undefined when it did not start (exit code set)
 */
export async function runRelayCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<Relay | undefined> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(relayUsage());
    return undefined;
  }
  let config: RelayConfig;
  try {
    config = loadRelayConfig(argv, env);
  } catch (e) {
    console.error(`ln-mailbox relay: ${(e as Error).message}`);
    process.exitCode = 2;
    return undefined;
  }
  let relay: Relay;
  try {
    relay = await startRelay(config);
  } catch (e) {
    const code = isLnMailboxError(e) ? ` (${e.code})` : '';
    console.error(`ln-mailbox relay: cannot start${code}: ${(e as Error).message}`);
    process.exitCode = 1;
    return undefined;
  }
  // Never the database URL: it may hold a password.
  console.log(`ln-mailbox relay listening on ${relay.url} (data: ${config.store === 'postgres' ? 'postgres' : config.dataDir})`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`ln-mailbox relay: ${signal}, shutting down`);
    relay.close().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(`ln-mailbox relay: shutdown failed: ${(e as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return relay;
}
