/**
 * Makes LevelDB's unsynced writes durable from outside: fsyncs every write-
 * ahead log file of a database directory, and the directory itself. The
 * LevelDB store uses it for its checkpoints (`log-replay.ts`).
 *
 * Why from outside: LevelDB fsyncs its log only for a write that asks for it,
 * and when the memtable fills it starts a new log without syncing the old
 * one. A synced write therefore proves only the current log file; the
 * previous one, still waiting to become a table, may hold unsynced writes
 * that a power cut would drop while later ones survive. fsync acts on the
 * file, whichever descriptor asks, so syncing every `*.log` file covers
 * both. A log that disappears meanwhile was turned into a table, which
 * LevelDB syncs itself before it deletes the log.
 * @module
 */
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** fsyncs each `*.log` file in `dir` and then `dir` (Linux and macOS allow fsync on a read-only descriptor). */
export async function syncLevelLogs(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (!name.endsWith('.log')) continue;
    let file: Awaited<ReturnType<typeof open>>;
    try {
      file = await open(join(dir, name), 'r');
    } catch (e) {
      if ((e as { code?: unknown }).code === 'ENOENT') continue;
      throw e;
    }
    try {
      await file.sync();
    } finally {
      await file.close();
    }
  }
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
