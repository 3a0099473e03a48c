import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ENVELOPE_HEADER_LEN,
  ENVELOPE_MAX_LEN,
  ENVELOPE_MIN_LEN,
  ENVELOPE_TAG_LEN,
  ErrorCode,
  INNER_MIN_LEN,
  PADDED_MESSAGE_MAX_LEN,
  PLAINTEXT_MAX_LEN,
  calcPaddedLen,
  pad,
  paddedLen,
  unpad,
} from '../../protocol/index.js';
import { throwsCode } from '../helpers.js';

const t = suite('protocol/padding');

// NIP-44 v2 published vectors: nip44.vectors.json, v2.valid.calc_padded_len
// (nostr-protocol/nips 44.md; paulmillr/nip44 javascript/test/vectors.json).
const NIP44_CALC_PADDED_LEN: [number, number][] = [
  [16, 32],
  [32, 32],
  [33, 64],
  [37, 64],
  [45, 64],
  [49, 64],
  [64, 64],
  [65, 96],
  [100, 128],
  [111, 128],
  [200, 224],
  [250, 256],
  [320, 320],
  [383, 384],
  [384, 384],
  [400, 448],
  [500, 512],
  [512, 512],
  [515, 640],
  [700, 768],
  [800, 896],
  [900, 1024],
  [1020, 1024],
  [65536, 65536],
];

t('calcPaddedLen matches the NIP-44 published vectors', () => {
  for (const [n, want] of NIP44_CALC_PADDED_LEN) assert.is(calcPaddedLen(n), want, `calc_padded_len(${n})`);
  assert.is(calcPaddedLen(0), 32);
  assert.is(calcPaddedLen(1), 32);
  throwsCode(() => calcPaddedLen(-1), ErrorCode.INVALID_RANGE);
  throwsCode(() => calcPaddedLen(1.5), ErrorCode.INVALID_RANGE);
});

t('calcPaddedLen is monotone, never shrinks, and wastes under n/4 above 256', () => {
  let prev = 0;
  for (let n = 0; n <= 70000; n++) {
    const p = calcPaddedLen(n);
    assert.ok(p >= n && p >= prev, `n=${n}`);
    if (n > 256) assert.ok(p - n < n / 4, `waste at n=${n}`);
    prev = p;
  }
});

t('paddedLen: prefix included, clamped to the 64 KiB envelope', () => {
  assert.is(PLAINTEXT_MAX_LEN, 65536 - 89 - 16);
  assert.is(paddedLen(0), 32);
  assert.is(paddedLen(30), 32);
  assert.is(paddedLen(31), 64);
  assert.is(paddedLen(126), 128);
  assert.is(paddedLen(127), 160);
  assert.is(paddedLen(255), 320);
  assert.is(paddedLen(32766), 32768);
  assert.is(paddedLen(32767), 40960);
  assert.is(paddedLen(57342), 57344);
  assert.is(paddedLen(57343), PLAINTEXT_MAX_LEN); // the 65536 bucket, clamped
  assert.is(paddedLen(PADDED_MESSAGE_MAX_LEN), PLAINTEXT_MAX_LEN);
  assert.is(ENVELOPE_HEADER_LEN + paddedLen(PADDED_MESSAGE_MAX_LEN) + ENVELOPE_TAG_LEN, ENVELOPE_MAX_LEN);
  throwsCode(() => paddedLen(PADDED_MESSAGE_MAX_LEN + 1), ErrorCode.ENVELOPE_TOO_LARGE);
});

t('ENVELOPE_MIN_LEN is the envelope of an empty-body inner message', () => {
  assert.is(ENVELOPE_MIN_LEN, ENVELOPE_HEADER_LEN + paddedLen(INNER_MIN_LEN) + ENVELOPE_TAG_LEN);
  assert.is(ENVELOPE_MIN_LEN, 233);
});

t('pad/unpad round trip at every bucket edge', () => {
  for (const n of [0, 1, 30, 31, 126, 127, 254, 255, 1000, 32766, 32767, 57343, PADDED_MESSAGE_MAX_LEN]) {
    const m = new Uint8Array(n).map((_, i) => (i * 7 + 1) & 0xff);
    const p = pad(m);
    assert.is(p.length, paddedLen(n));
    assert.is((p[0]! << 8) | p[1]!, n);
    assert.ok(p.subarray(2 + n).every((b) => b === 0));
    assert.equal(unpad(p), m);
  }
});

t('unpad rejects every malformed plaintext with ENVELOPE_BAD_PADDING', () => {
  const m = new Uint8Array(40).fill(9);
  const p = pad(m); // 64 bytes
  throwsCode(() => unpad(new Uint8Array(1)), ErrorCode.ENVELOPE_BAD_PADDING, 'shorter than prefix');
  const nonzero = p.slice();
  nonzero[63] = 1;
  throwsCode(() => unpad(nonzero), ErrorCode.ENVELOPE_BAD_PADDING, 'non-zero padding');
  const longPrefix = p.slice();
  longPrefix[1] = 63;
  throwsCode(() => unpad(longPrefix), ErrorCode.ENVELOPE_BAD_PADDING, 'prefix overruns');
  const shortPrefix = p.slice();
  shortPrefix[1] = 10; // message of 10 belongs in the 32 bucket, not 64
  throwsCode(() => unpad(shortPrefix), ErrorCode.ENVELOPE_BAD_PADDING, 'wrong bucket');
  const extra = new Uint8Array(96);
  extra.set(p);
  throwsCode(() => unpad(extra), ErrorCode.ENVELOPE_BAD_PADDING, 'too long for bucket');
  throwsCode(() => unpad(p.subarray(0, 63)), ErrorCode.ENVELOPE_BAD_PADDING, 'truncated');
  const huge = new Uint8Array(PLAINTEXT_MAX_LEN);
  huge[0] = 0xff;
  huge[1] = 0xff;
  throwsCode(() => unpad(huge), ErrorCode.ENVELOPE_BAD_PADDING, 'prefix beyond max');
  throwsCode(() => unpad('x' as unknown as Uint8Array), ErrorCode.INVALID_TYPE);
  throwsCode(() => pad([1, 2] as unknown as Uint8Array), ErrorCode.INVALID_TYPE);
  throwsCode(() => pad(new Uint8Array(PADDED_MESSAGE_MAX_LEN + 1)), ErrorCode.ENVELOPE_TOO_LARGE);
});

t.run();
