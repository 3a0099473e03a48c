/**
 * Free-space reserve of the LevelDB data directory (docs/operators.md,
 * "When the disk fills"): new envelopes are refused while free space is
 * below the reserve, so that acks, retractions, expiry and LevelDB's own
 * compactions still have room to be written.
 *
 * Free space comes from `statfs` on the data directory, polled on a timer
 * and again whenever the store has written a slice of the reserve since the
 * last poll, never per request. Between polls the figure is lowered by what
 * the store wrote, so a burst cannot run past the reserve unnoticed.
 * @module
 */
import fs from 'node:fs';

/** Options of {@link DiskSpaceMonitor}. */
export interface DiskSpaceOptions {
  /** A path on the filesystem to watch (the data directory). */
  path: string;
  /** Refuse new envelopes below this many free bytes. 0 with `minFreePercent` 0 disables the reserve. */
  minFreeBytes: number;
  /** Refuse below this percentage of the filesystem's size too (the larger of the two applies). */
  minFreePercent?: number;
  /** Poll interval, ms. Default 1000. */
  intervalMs?: number;
  /** Called when the low-space state changes. */
  onChange?: (low: boolean) => void;
  /** Replaces `fs.promises.statfs` (tests). */
  statfs?: (path: string) => Promise<{ bavail: number | bigint; bsize: number | bigint; blocks: number | bigint }>;
}

/** Watches free space against the reserve. */
export class DiskSpaceMonitor {
  readonly #opts: DiskSpaceOptions;
  readonly #statfs: NonNullable<DiskSpaceOptions['statfs']>;
  #timer: NodeJS.Timeout | undefined;
  #free: number | undefined;
  #total: number | undefined;
  #writtenSince = 0;
  #low = false;
  #checking: Promise<void> | undefined;

  constructor(opts: DiskSpaceOptions) {
    this.#opts = opts;
    this.#statfs = opts.statfs ?? ((p) => fs.promises.statfs(p));
  }

  /** True when the reserve is enforced at all. */
  get enabled(): boolean {
    return this.#opts.minFreeBytes > 0 || (this.#opts.minFreePercent ?? 0) > 0;
  }

  /** The reserve in bytes (the larger of the byte and percentage settings). */
  get reserveBytes(): number {
    const pct = this.#opts.minFreePercent ?? 0;
    return Math.max(this.#opts.minFreeBytes, this.#total === undefined ? 0 : Math.ceil((this.#total * pct) / 100));
  }

  /** Free bytes as of the last poll, minus what was written since; undefined before the first poll or when statfs fails. */
  get freeBytes(): number | undefined {
    return this.#free === undefined ? undefined : Math.max(0, this.#free - this.#writtenSince);
  }

  /** True while free space is below the reserve. */
  get low(): boolean {
    return this.#low;
  }

  /** Polls once now and then every `intervalMs` (unref'd). */
  async start(): Promise<void> {
    await this.check();
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.check(), this.#opts.intervalMs ?? 1000);
    this.#timer.unref();
  }

  /** Stops polling. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Counts bytes the store wrote; polls early once a slice of the reserve has been written. */
  noteWritten(bytes: number): void {
    this.#writtenSince += bytes;
    this.#update();
    const slice = Math.max(256 * 1024, Math.min(this.reserveBytes / 4, 8 * 1024 * 1024));
    if (this.#writtenSince >= slice) void this.check();
  }

  /** Reads free space now. A failing statfs leaves the last figures (and never sets low by itself). */
  check(): Promise<void> {
    this.#checking ??= (async () => {
      try {
        const written = this.#writtenSince;
        const s = await this.#statfs(this.#opts.path);
        this.#free = Number(s.bavail) * Number(s.bsize);
        this.#total = Number(s.blocks) * Number(s.bsize);
        this.#writtenSince -= written;
        this.#update();
      } catch {
        // statfs unsupported or the directory vanished: no figure, no refusal on our part.
      } finally {
        this.#checking = undefined;
      }
    })();
    return this.#checking;
  }

  #update(): void {
    const free = this.freeBytes;
    const low = this.enabled && free !== undefined && free < this.reserveBytes;
    if (low === this.#low) return;
    this.#low = low;
    this.#opts.onChange?.(low);
  }
}
