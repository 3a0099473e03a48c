/**
 * The relay's `envelope` frame is built by concatenation (server/fanout.ts):
 * it must be, byte for byte, what the generic frame encoder gives, and parse
 * back as the same frame, for any body length, seq and expiry.
 */
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex } from '../../base/bytes.js';
import { encodeServerFrame, parseServerFrame } from '../../protocol/relay-frames.js';
import { envelopeFrame, storedEnvelopeJson } from '../../server/fanout.js';
import type { StoredEnvelope } from '../../server/store/types.js';

const t = suite('relay envelope frame');

t('the concatenated frame equals the generic encoding and parses back, for any body, seq and expiry', () => {
  const lengths = [0, 1, 2, 3, 4, 5, 31, 32, 33, 255, 1024, 1025, 65_536];
  let k = 0;
  for (const len of lengths)
    for (const seq of [1, 2 ** 31, Number.MAX_SAFE_INTEGER])
      for (const expiresAt of [0, 1_700_000_000_123, 8_640_000_000_000_000]) {
        const e: StoredEnvelope = { id: bytesToHex(randomBytes(32)), seq, envelope: new Uint8Array(randomBytes(len)), expiresAt };
        const frame = envelopeFrame(e);
        assert.is(frame, encodeServerFrame({ type: 'envelope', ...storedEnvelopeJson(e) }), `length ${len}, seq ${seq}`);
        assert.equal(parseServerFrame(frame), { type: 'envelope', ...storedEnvelopeJson(e) });
        k++;
      }
  assert.is(k, lengths.length * 9);
});

t.run();
