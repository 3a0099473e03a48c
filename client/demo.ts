/** Placeholder until the client issue lands: `ln-mailbox demo` is not built yet. */
export async function runDemoCli(_args: string[]): Promise<number> {
  console.error('ln-mailbox demo: not built yet (placeholder; see issue "Client library").');
  return 1;
}
