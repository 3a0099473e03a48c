/** Placeholder until the relay issue lands: `ln-mailbox relay` is not built yet. */
export async function runRelayCli(_args: string[]): Promise<void> {
  console.error('ln-mailbox relay: the relay server is not built yet (placeholder; see issue "Relay server v1").');
  process.exitCode = 1;
}
