/**
 * Copies of a role's channels for readers outside the engine's steps (the
 * watchtower), remade only for channels that changed since they were last
 * copied: a hub's tower looks at every channel at every poll, and copying
 * thousands of unchanged channels each time would cost it more than the
 * payments do.
 * @module
 */
import { Channel } from '../../engine/channel/channel.js';

/** Copies of channels, kept per channel object and remade when its {@link Channel.version} moved. */
export class ChannelCopies {
  readonly #copies = new WeakMap<Channel, { version: number; copy: Channel }>();

  /**
   * A copy of each of `channels`, in order: the same copy as last time for a
   * channel that has not changed since, a fresh one for a channel that has.
   * The copies share nothing with the channels, so the engine's later steps
   * do not change what a reader holds; readers must not change them either.
   */
  of(channels: readonly Channel[]): Channel[] {
    return channels.map((c) => {
      const kept = this.#copies.get(c);
      if (kept !== undefined && kept.version === c.version) return kept.copy;
      const copy = Channel.fromJSON(c.toJSON());
      this.#copies.set(c, { version: c.version, copy });
      return copy;
    });
  }
}
