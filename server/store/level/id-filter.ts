/**
 * A scalable Bloom filter of envelope ids (Almeida et al., "Scalable Bloom
 * Filters", 2007), so that the duplicate check of every POST — "is this id
 * already known?" — costs no disk read in the common case of a new
 * envelope. A "maybe" falls back to a real read; a "no" is certain, because
 * every id with a record is added: all of them when the store opens, and
 * each new one when it is appended. Purged ids are never removed (a Bloom
 * filter cannot), so they only cost an occasional extra read until the
 * next restart rebuilds the filter.
 *
 * Ids are SHA-256 outputs, so the filter indexes are read straight from
 * their bytes, no further hashing. A client grinding ids to hit set bits
 * gains nothing but a disk read of its own.
 * @module
 */

/** Bits per id in each layer: with 7 probes, about 0.3 % false positives per layer. */
const BITS_PER_ID = 12;
const PROBES = 7;

interface Layer {
  bits: Uint32Array;
  mask: number;
  capacity: number;
  count: number;
}

function layer(capacity: number): Layer {
  let size = 1 << 16;
  while (size < capacity * BITS_PER_ID && size < 2 ** 31) size *= 2;
  return { bits: new Uint32Array(size / 32), mask: size - 1, capacity, count: 0 };
}

/** Set-membership filter over 32-byte ids: no false negatives, rare false positives. */
export class IdFilter {
  readonly #layers: Layer[];

  /** @param expected ids expected at first; the filter grows past it by adding layers */
  constructor(expected = 1 << 16) {
    this.#layers = [layer(Math.max(expected, 1 << 12))];
  }

  /** Adds a 32-byte id. */
  add(id: Uint8Array): void {
    let top = this.#layers[this.#layers.length - 1]!;
    if (top.count >= top.capacity) {
      top = layer(top.capacity * 2);
      this.#layers.push(top);
    }
    const view = new DataView(id.buffer, id.byteOffset, 32);
    for (let i = 0; i < PROBES; i++) {
      const bit = view.getUint32(i * 4) & top.mask;
      top.bits[bit >>> 5]! |= 1 << (bit & 31);
    }
    top.count++;
  }

  /** False when `id` was certainly never added. */
  mightContain(id: Uint8Array): boolean {
    const view = new DataView(id.buffer, id.byteOffset, 32);
    outer: for (const l of this.#layers) {
      for (let i = 0; i < PROBES; i++) {
        const bit = view.getUint32(i * 4) & l.mask;
        if ((l.bits[bit >>> 5]! & (1 << (bit & 31))) === 0) continue outer;
      }
      return true;
    }
    return false;
  }

  /** Ids added. */
  get size(): number {
    return this.#layers.reduce((n, l) => n + l.count, 0);
  }

  /** Memory held by the bit arrays, bytes. */
  get bytes(): number {
    return this.#layers.reduce((n, l) => n + l.bits.byteLength, 0);
  }
}
