/**
 * CPU time of this process split by thread, from `/proc/self/task` (Linux
 * only). The main thread runs the relay's JavaScript and Node's HTTP; the
 * other threads are libuv's pool (LevelDB writes, fsyncs and reads),
 * LevelDB's compaction thread and V8's helpers (GC, compiler). The ingest
 * rows use the split to say where CPU per envelope goes.
 * @module
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Microseconds of CPU (user + system): the main thread's and all other threads'. */
export interface ThreadCpu {
  mainUs: number;
  otherUs: number;
}

/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on every Linux build Node runs on). */
const TICKS_PER_SECOND = 100;

/** Reads the split now, or undefined where `/proc` is not available. */
export function threadCpu(): ThreadCpu | undefined {
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return undefined;
  }
  const us = 1_000_000 / TICKS_PER_SECOND;
  const out: ThreadCpu = { mainUs: 0, otherUs: 0 };
  for (const tid of tasks) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended between the listing and the read
    }
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]);
    if (Number(tid) === process.pid) out.mainUs += ticks * us;
    else out.otherUs += ticks * us;
  }
  return out;
}

/**
 * Bytes this process has caused to be written to storage so far
 * (`write_bytes` of `/proc/self/io`: the log, tables and compaction output
 * as the kernel sends them to the disk), or undefined where `/proc` is not
 * available. The ingest note divides it by the envelopes of a round: the
 * store's write amplification.
 */
export function diskWriteBytes(): number | undefined {
  try {
    const line = readFileSync('/proc/self/io', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('write_bytes:'));
    return line === undefined ? undefined : Number(line.slice('write_bytes:'.length));
  } catch {
    return undefined;
  }
}
