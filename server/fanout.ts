/**
 * The in-process doorbell: mailbox → live subscribers. When the store
 * reports a newly durable envelope, every WebSocket subscribed to that
 * mailbox (one per device) is handed the same pre-serialized frame, built
 * once however many devices listen. With several relay instances this is
 * where a shared doorbell (e.g. PostgreSQL LISTEN/NOTIFY) would plug in.
 * @module
 */
import { Buffer } from 'node:buffer';
import { encodeStoredEnvelope, type StoredEnvelopeJson } from '../protocol/relay-frames.js';
import type { StoredEnvelope } from './store/types.js';

/** A live envelope ready to send: its seq, id and the JSON text frame. */
export interface LiveEnvelope {
  seq: number;
  id: string;
  frame: string;
}

/** Something that wants pushes for one mailbox. */
export interface Subscriber {
  push(envelope: LiveEnvelope): void;
}

/** Node's native base64: the protocol's portable encoder is ~45 times slower on a 64 KiB envelope. */
function nodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** A stored envelope as the wire carries it (HTTP listing entry, body of an `envelope` frame). */
export function storedEnvelopeJson(e: StoredEnvelope): StoredEnvelopeJson {
  return encodeStoredEnvelope(e, nodeBase64);
}

/**
 * Serializes an `envelope` server frame (SPEC 5.8): the same string as
 * `encodeServerFrame({ type: 'envelope', ...storedEnvelopeJson(e) })`, built
 * by concatenation. Every envelope pushed or drained goes through here, and
 * `JSON.stringify` scans the base64 body for characters to escape, which
 * took two thirds of the frame's cost on a 1 KiB envelope. Nothing here can
 * need escaping: the id is 64 lowercase hex (the relay computed it), `seq`
 * an integer, the body base64 and the expiry an ISO 8601 date;
 * `test/server/fanout.test.ts` holds the two encodings equal.
 */
export function envelopeFrame(e: StoredEnvelope): string {
  return `{"type":"envelope","id":"${e.id}","seq":${e.seq},"envelope":"${nodeBase64(e.envelope)}","expiresAt":"${new Date(e.expiresAt).toISOString()}"}`;
}

/** Mailbox → subscribers. */
export class Fanout {
  readonly #subs = new Map<string, Set<Subscriber>>();

  /** Adds a subscriber; returns its unsubscribe function. */
  subscribe(mailbox: string, sub: Subscriber): () => void {
    let set = this.#subs.get(mailbox);
    if (!set) {
      set = new Set();
      this.#subs.set(mailbox, set);
    }
    set.add(sub);
    return () => {
      const s = this.#subs.get(mailbox);
      if (!s) return;
      s.delete(sub);
      if (s.size === 0) this.#subs.delete(mailbox);
    };
  }

  /** Pushes a newly stored envelope to the mailbox's subscribers, if any. */
  publish(mailbox: string, envelope: StoredEnvelope): number {
    const set = this.#subs.get(mailbox);
    if (!set) return 0;
    const live: LiveEnvelope = { seq: envelope.seq, id: envelope.id, frame: envelopeFrame(envelope) };
    for (const sub of [...set]) sub.push(live);
    return set.size;
  }

  /** True when `mailbox` has at least one subscriber here (the PostgreSQL doorbell reads back only those). */
  has(mailbox: string): boolean {
    return this.#subs.has(mailbox);
  }

  /** Mailboxes with at least one subscriber. */
  get mailboxes(): number {
    return this.#subs.size;
  }
}
