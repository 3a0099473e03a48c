import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bech32, bech32m } from '@scure/base';
import { schnorr } from '@noble/curves/secp256k1.js';
import {
  ADDRESS_MAX_LEN,
  ADDRESS_MAX_RELAYS,
  ErrorCode,
  bytesToHex,
  concatBytes,
  decodeMailboxAddress,
  encodeMailboxAddress,
  hexToBytes,
  utf8,
} from '../../protocol/index.js';
import { throwsCode } from '../helpers.js';

const t = suite('protocol/address');

const G_X = hexToBytes('79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798');
const pk = schnorr.getPublicKey(hexToBytes('00000000000000000000000000000000000000000000000000000000000000ab'));
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';

/** One TLV record: single-byte type, BigSize length (1 or 3 bytes). */
const rec = (type: number, value: Uint8Array) =>
  concatBytes(
    Uint8Array.of(type),
    value.length < 0xfd ? Uint8Array.of(value.length) : Uint8Array.of(0xfd, value.length >> 8, value.length & 0xff),
    value,
  );
const url = (s: string) => utf8(s);
const addr = (...records: Uint8Array[]) => bech32m.encode('lnmb', bech32m.toWords(concatBytes(...records)), false);
const good = [rec(0, pk), rec(2, url('https://relay.example'))];

t('known encoding (SPEC.md section 2 example)', () => {
  const s = encodeMailboxAddress({ publicKey: G_X, relays: ['https://relay.example'] });
  assert.is(s, addr(rec(0, G_X), rec(2, url('https://relay.example'))));
  assert.is(s, 'lnmb1qqs8n0nx0muaewav2ksx99wwsu9swq5mlndjmn3gm9vl9q2mzmup0xqzz458garswvaz7tmjv4kxz7fwv4uxzmtsd3jsxs8kja');
  const d = decodeMailboxAddress(s);
  assert.equal(d.publicKey, G_X);
  assert.is(d.mailboxId, bytesToHex(G_X));
  assert.equal(d.relays, ['https://relay.example']);
  assert.is(d.flags, 0);
});

t('round trips: one relay, three relays, longest URLs, odd flags, non-ASCII host', () => {
  const long = 'https://relay.example/' + 'a'.repeat(256 - 'https://relay.example/'.length);
  assert.is(utf8(long).length, 256);
  const cases = [
    { publicKey: pk, relays: ['http://127.0.0.1:8080'] },
    { publicKey: pk, relays: ['https://a.example', 'https://b.example/path/v', 'http://[::1]:9000'], flags: 2 },
    { publicKey: pk, relays: Array.from({ length: ADDRESS_MAX_RELAYS }, (_, i) => long.slice(0, 255) + i), flags: 0x8000000a },
    { publicKey: pk, relays: [long] },
    { publicKey: pk, relays: ['https://relais.bücher.example/mailbox'] },
  ];
  for (const c of cases) {
    const s = encodeMailboxAddress(c);
    assert.ok(s.startsWith('lnmb1') && s.length <= ADDRESS_MAX_LEN);
    const d = decodeMailboxAddress(s);
    assert.equal(d.publicKey, c.publicKey);
    assert.equal(d.relays, c.relays);
    assert.is(d.flags, c.flags ?? 0);
    assert.is(encodeMailboxAddress(d), s, 'canonical');
    assert.equal(decodeMailboxAddress(s.toUpperCase()), d, 'all-uppercase accepted (BIP173)');
  }
});

t('every single-character substitution is rejected', () => {
  const s = encodeMailboxAddress({ publicKey: pk, relays: ['https://relay.example'] });
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    for (const c of CHARSET + '1') {
      if (c === s[i]) continue;
      const bad = s.slice(0, i) + c + s.slice(i + 1);
      throwsCode(() => decodeMailboxAddress(bad), ErrorCode.ADDRESS_BAD_ENCODING, `pos ${i} -> ${c}`);
      n++;
    }
  }
  assert.ok(n > 3000);
  const long = encodeMailboxAddress({
    publicKey: pk,
    relays: ['https://a.example', 'https://b.example', 'https://c.example/' + 'x'.repeat(200)],
  });
  for (let i = 5; i < long.length; i++) {
    const c = CHARSET[(CHARSET.indexOf(long[i]!) + 1) % 32]!;
    throwsCode(() => decodeMailboxAddress(long.slice(0, i) + c + long.slice(i + 1)), ErrorCode.ADDRESS_BAD_ENCODING, `pos ${i}`);
  }
});

t('bad encodings: bech32 checksum, mixed case, charset, padding, length, type', () => {
  const data = concatBytes(...good);
  throwsCode(
    () => decodeMailboxAddress(bech32.encode('lnmb', bech32.toWords(data), false)),
    ErrorCode.ADDRESS_BAD_ENCODING,
    'bech32 not m',
  );
  const s = addr(...good);
  throwsCode(() => decodeMailboxAddress(s.slice(0, 10) + s.slice(10).toUpperCase()), ErrorCode.ADDRESS_BAD_ENCODING, 'mixed case');
  throwsCode(() => decodeMailboxAddress(s.slice(0, -8) + 'b' + s.slice(-7)), ErrorCode.ADDRESS_BAD_ENCODING, 'b is not in the charset');
  throwsCode(() => decodeMailboxAddress('lnmb1'), ErrorCode.ADDRESS_BAD_ENCODING);
  throwsCode(() => decodeMailboxAddress(''), ErrorCode.ADDRESS_BAD_ENCODING);
  throwsCode(() => decodeMailboxAddress(' ' + s), ErrorCode.ADDRESS_BAD_ENCODING);
  // Non-zero padding bits in the last 5-bit word.
  const words = bech32m.toWords(data);
  words[words.length - 1]! |= 1;
  if ((data.length * 8) % 5 !== 0)
    throwsCode(() => decodeMailboxAddress(bech32m.encode('lnmb', words, false)), ErrorCode.ADDRESS_BAD_ENCODING, 'padding');
  throwsCode(() => decodeMailboxAddress('lnmb1' + 'q'.repeat(ADDRESS_MAX_LEN)), ErrorCode.ADDRESS_BAD_ENCODING, 'too long');
  throwsCode(() => decodeMailboxAddress(42 as unknown as string), ErrorCode.INVALID_TYPE);
});

t('wrong HRP', () => {
  const words = bech32m.toWords(concatBytes(...good));
  for (const hrp of ['lnbc', 'lnmbx', 'bc', 'npub'])
    throwsCode(() => decodeMailboxAddress(bech32m.encode(hrp, words, false)), ErrorCode.ADDRESS_BAD_HRP, hrp);
});

t('TLV stream errors are ADDRESS_BAD_TLV', () => {
  const cases: [string, Uint8Array[]][] = [
    ['duplicate public key', [rec(0, pk), rec(0, pk), good[1]!]],
    ['missing public key', [good[1]!]],
    ['missing relay', [rec(0, pk)]],
    ['unknown even type', [...good, rec(6, Uint8Array.of(1))]],
    ['unknown even type, large', [...good, Uint8Array.of(0xfd, 0x01, 0x00, 0x00)]],
    ['trailing byte', [...good, Uint8Array.of(0x07)]],
    ['length overruns', [...good, Uint8Array.of(0x07, 0x05, 0x01)]],
    ['truncated BigSize', [...good, Uint8Array.of(0xfd, 0x01)]],
    ['non-minimal BigSize type', [rec(0, pk), concatBytes(Uint8Array.of(0xfd, 0x00, 0x02, 21), url('https://relay.example'))]],
    ['non-minimal BigSize length', [rec(0, pk), concatBytes(Uint8Array.of(0x02, 0xfd, 0x00, 21), url('https://relay.example'))]],
    ['relay before public key', [good[1]!, rec(0, pk)]],
    [
      'relay records not consecutive',
      [rec(0, pk), rec(2, url('https://a.example')), rec(3, Uint8Array.of()), rec(2, url('https://b.example'))],
    ],
    ['duplicate unknown odd type', [...good, rec(5, Uint8Array.of()), rec(5, Uint8Array.of())]],
    ['public key of 33 bytes', [rec(0, concatBytes(pk, Uint8Array.of(0))), good[1]!]],
    ['empty flags', [...good, rec(4, Uint8Array.of())]],
    ['flags with a leading zero', [...good, rec(4, Uint8Array.of(0, 1))]],
    ['flags of 5 bytes', [...good, rec(4, Uint8Array.of(1, 0, 0, 0, 1))]],
    ['flags requiring unknown (even) bit 8', [...good, rec(4, Uint8Array.of(0x01, 0x00))]],
  ];
  for (const [name, records] of cases) throwsCode(() => decodeMailboxAddress(addr(...records)), ErrorCode.ADDRESS_BAD_TLV, name);
});

t('unknown odd records are skipped', () => {
  const d = decodeMailboxAddress(
    addr(
      rec(0, pk),
      rec(1, utf8('hint')),
      good[1]!,
      rec(3, Uint8Array.of(9)),
      rec(4, Uint8Array.of(0x02)),
      rec(0x71, new Uint8Array(200)),
      Uint8Array.of(0xfe, 0x00, 0x01, 0x00, 0x01, 0x00),
    ),
  );
  assert.equal(d.publicKey, pk);
  assert.equal(d.relays, ['https://relay.example']);
  assert.is(d.flags, 2);
});

t('public key must be on the curve', () => {
  throwsCode(() => decodeMailboxAddress(addr(rec(0, hexToBytes('05'.padStart(64, '0'))), good[1]!)), ErrorCode.INVALID_PUBLIC_KEY, 'x=5');
  throwsCode(() => decodeMailboxAddress(addr(rec(0, new Uint8Array(32).fill(0xff)), good[1]!)), ErrorCode.INVALID_PUBLIC_KEY, 'x >= p');
  throwsCode(
    () => encodeMailboxAddress({ publicKey: hexToBytes('05'.padStart(64, '0')), relays: ['https://a.example'] }),
    ErrorCode.INVALID_PUBLIC_KEY,
  );
});

t('relay URL rules (decode and encode)', () => {
  const bad = [
    'ftp://relay.example',
    'wss://relay.example',
    'HTTPS://relay.example',
    'relay.example',
    'https://',
    'https://user:pw@relay.example',
    'https://relay.example/#frag',
    'https://relay.example/?q=1',
    'https://relay .example',
    'https://relay.example/\n',
    'https://relay.example/' + 'a'.repeat(235),
    '',
  ];
  for (const u of bad) {
    throwsCode(() => decodeMailboxAddress(addr(rec(0, pk), rec(2, url(u)))), ErrorCode.ADDRESS_BAD_RELAY_URL, JSON.stringify(u));
    throwsCode(() => encodeMailboxAddress({ publicKey: pk, relays: [u] }), ErrorCode.ADDRESS_BAD_RELAY_URL, JSON.stringify(u));
  }
  throwsCode(
    () => decodeMailboxAddress(addr(rec(0, pk), rec(2, Uint8Array.of(0x68, 0x74, 0xff)))),
    ErrorCode.ADDRESS_BAD_RELAY_URL,
    'invalid UTF-8',
  );
  const nine = Array.from({ length: ADDRESS_MAX_RELAYS + 1 }, (_, i) => `https://r${i}.example`);
  throwsCode(() => decodeMailboxAddress(addr(rec(0, pk), ...nine.map((u) => rec(2, url(u))))), ErrorCode.ADDRESS_BAD_RELAY_URL, '9 relays');
  throwsCode(() => encodeMailboxAddress({ publicKey: pk, relays: nine }), ErrorCode.ADDRESS_BAD_RELAY_URL, '9 relays');
  throwsCode(
    () => decodeMailboxAddress(addr(rec(0, pk), rec(2, url('https://a.example')), rec(2, url('https://a.example')))),
    ErrorCode.ADDRESS_BAD_RELAY_URL,
    'duplicate',
  );
  throwsCode(() => encodeMailboxAddress({ publicKey: pk, relays: [] }), ErrorCode.ADDRESS_BAD_RELAY_URL, 'no relay');
  throwsCode(() => encodeMailboxAddress({ publicKey: pk, relays: [5 as unknown as string] }), ErrorCode.ADDRESS_BAD_RELAY_URL);
});

t('encode validates its inputs', () => {
  throwsCode(() => encodeMailboxAddress(null as never), ErrorCode.INVALID_TYPE);
  throwsCode(() => encodeMailboxAddress({ publicKey: new Uint8Array(33), relays: ['https://a.example'] }), ErrorCode.INVALID_LENGTH);
  throwsCode(() => encodeMailboxAddress({ publicKey: pk, relays: 'https://a.example' as never }), ErrorCode.INVALID_TYPE);
  throwsCode(() => encodeMailboxAddress({ publicKey: pk, relays: ['https://a.example'], flags: -1 }), ErrorCode.INVALID_RANGE);
  throwsCode(() => encodeMailboxAddress({ publicKey: pk, relays: ['https://a.example'], flags: 2 ** 32 }), ErrorCode.INVALID_RANGE);
  throwsCode(
    () => encodeMailboxAddress({ publicKey: pk, relays: ['https://a.example'], flags: 4 }),
    ErrorCode.ADDRESS_BAD_TLV,
    'unknown required bit 2',
  );
});

t.run();
