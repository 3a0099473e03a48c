#!/usr/bin/env node
/**
 * The `ln-mailbox` command line: `ln-mailbox relay [flags]`, `ln-mailbox demo [flags]`.
 * @module
 */
const [cmd, ...rest] = process.argv.slice(2);

async function main(): Promise<void> {
  switch (cmd) {
    case 'relay': {
      const { runRelayCli } = await import('../server/cli.js');
      await runRelayCli(rest);
      return;
    }
    case 'demo': {
      const { runDemoCli } = await import('./demo.js');
      process.exitCode = await runDemoCli(rest);
      return;
    }
    case undefined:
    case '-h':
    case '--help':
      console.log('usage: ln-mailbox <relay|demo> [--help]');
      return;
    default:
      console.error(`ln-mailbox: unknown command ${JSON.stringify(cmd)}; try --help`);
      process.exitCode = 2;
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
