/**
 * Code and spec change together (SPEC section 5, in `protocol/spec/relay.md`):
 * the status table of 5.2 is `RELAY_HTTP_STATUS`; the route table of 5.3 names exactly the paths of `RelayPath` and the
 * success bodies the response encoders write; the frame tables of 5.8 name
 * exactly the frames and fields of the frame encoders and decoders; the
 * request headers are `RelayHeader`; the close codes of 5.8 are
 * `WsCloseCode`; and the `/v1/info` example of 5.9 is what `encodeRelayInfo`
 * writes for the relay's default limits.
 */
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../base/errors.js';
import {
  RELAY_HTTP_STATUS,
  RELAY_PROTOCOL_VERSION,
  RelayHeader,
  MAX_RECORDS_PER_MAILBOX,
  MAX_RECORD_BYTES,
  RECORD_NAME,
  RelayPath,
  WsCloseCode,
  decodeRelayInfo,
  encodeAckResponse,
  encodeChallengeResponse,
  encodeClientFrame,
  encodeEnvelopePage,
  encodePostEnvelopeResponse,
  encodeRelayInfo,
  encodeServerFrame,
  encodeSessionResponse,
  encodeStatusResponse,
  parseClientFrame,
  parseServerFrame,
  relayHttpStatus,
  type ClientFrame,
  type ServerFrame,
} from '../../protocol/relay.js';
import { DEFAULT_CONFIG } from '../../server/config.js';
import { RELAY_SOFTWARE_VERSION } from '../../server/relay.js';

const t = suite('protocol/spec-relay');
const spec = readFileSync(new URL('../../protocol/spec/relay.md', import.meta.url), 'utf8');

/** The text of one `### 5.x` subsection, heading included. */
function subsection(number: string): string {
  const begin = spec.indexOf(`\n### ${number} `);
  assert.ok(begin >= 0, `relay.md has no section ${number}`);
  const end = spec.indexOf('\n#', begin + 1);
  return spec.slice(begin, end < 0 ? undefined : end);
}

/** The rows of the first markdown table after `after` in `text`, as trimmed cells. */
function table(text: string, after = ''): string[][] {
  const lines = text.slice(text.indexOf(after)).split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  assert.ok(start >= 0, `no table after ${JSON.stringify(after)}`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split(' | ')
        .map((c) => c.trim()),
    );
  }
  return rows;
}

/** The keys of a JSON object in order, nested objects flattened depth first (arrays are values). */
function keysOf(v: unknown): string[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [];
  return Object.entries(v).flatMap(([k, x]) => [k, ...keysOf(x)]);
}

/** The field names a SPEC frame or body row writes: every `"name"` not in value position. */
function specKeys(row: string): string[] {
  return [...row.matchAll(/(?<!:\s*)"(\w+)"/g)].map((m) => m[1]!);
}

const hex = 'ab'.repeat(32);

t('5.2: the status table is RELAY_HTTP_STATUS (codes it leaves out answer 400)', () => {
  const listed = new Map<string, number>();
  for (const [status, codes] of table(subsection('5.2')))
    for (const m of codes!.matchAll(/`([A-Z_]+)`/g)) if (!m[1]!.includes('-')) listed.set(m[1]!, Number(status));
  for (const [code, status] of listed) assert.is(relayHttpStatus(code as ErrorCode), status, `SPEC 5.2 gives ${code} HTTP ${status}`);
  for (const [code, status] of Object.entries(RELAY_HTTP_STATUS))
    if (status !== 400) assert.ok(listed.has(code), `${code} (HTTP ${status}) is missing from the SPEC 5.2 table`);
});

t('5.13: the record limits are the code’s', () => {
  const text = subsection('5.13').replace(/\s+/g, ' ');
  assert.ok(text.includes(`\`${RECORD_NAME.source}\``), 'the name pattern is RECORD_NAME');
  assert.ok(text.includes(`0 to ${MAX_RECORD_BYTES.toLocaleString('en-US').replace(',', ' ')} bytes`), 'the size is MAX_RECORD_BYTES');
  assert.ok(text.includes(`at most ${MAX_RECORDS_PER_MAILBOX} records`), 'the count is MAX_RECORDS_PER_MAILBOX');
});

t('5.3: the route table names exactly the paths of RelayPath', () => {
  const paths = new Set<string>();
  for (const [cell] of table(subsection('5.3')))
    for (const m of cell!.matchAll(/`(GET|PUT|POST|DELETE) ([^`?]+)[^`]*`/g)) paths.add(m[2]!.replace(/\{(\w+)\}/g, ':$1'));
  assert.equal([...paths].sort(), [...new Set(Object.values(RelayPath))].sort(), 'SPEC 5.3 routes differ from RelayPath');
});

t('5.3: each success body lists exactly the fields its encoder writes, in order', () => {
  const bodies: Record<string, string> = {
    [`POST ${RelayPath.postEnvelope}`]: encodePostEnvelopeResponse({ id: hex, seq: 1, expiresAt: 'T' }),
    [`GET ${RelayPath.status}`]: encodeStatusResponse('queued'),
    [`DELETE ${RelayPath.retract}`]: encodeStatusResponse('retracted'),
    [`POST ${RelayPath.challenge}`]: encodeChallengeResponse({ challenge: hex, expiresAt: 'T' }),
    [`POST ${RelayPath.session}`]: encodeSessionResponse({ token: 't', expiresAt: 'T' }),
    [`GET ${RelayPath.listEnvelopes}`]: encodeEnvelopePage({ envelopes: [], more: false }),
    [`POST ${RelayPath.ack}`]: encodeAckResponse(1),
  };
  const seen: string[] = [];
  for (const [route, , success] of table(subsection('5.3'))) {
    const m = /^`(GET|PUT|POST|DELETE) ([^`?]+)[^`]*`$/.exec(route!);
    const fields = /`\{ ([\w, ]+) \}`/.exec(success!);
    if (!m || !fields) continue;
    const key = `${m[1]} ${m[2]!.replace(/\{(\w+)\}/g, ':$1')}`;
    assert.ok(bodies[key] !== undefined, `SPEC 5.3 shows a body for ${key}, which has no response encoder`);
    assert.equal(fields[1]!.split(', '), keysOf(JSON.parse(bodies[key]!)), `SPEC 5.3 body of ${key}`);
    seen.push(key);
  }
  assert.equal(seen.sort(), Object.keys(bodies).sort(), 'every JSON response body has its row in SPEC 5.3');
});

t('5.8: the frame tables name exactly the frames and fields of the codec', () => {
  const server: { [K in ServerFrame['type']]: Extract<ServerFrame, { type: K }> } = {
    challenge: { type: 'challenge', challenge: hex, expiresAt: 'T' },
    ready: { type: 'ready', mailbox: hex },
    envelope: { type: 'envelope', id: hex, seq: 1, envelope: 'AAE=', expiresAt: 'T' },
    backlog_end: { type: 'backlog_end', seq: 1 },
    acked: { type: 'acked', ids: [hex] },
    error: { type: 'error', error: { code: ErrorCode.AUTH_EXPIRED, message: 'm' } },
  };
  const client: ClientFrame[] = [
    { type: 'auth', mailbox: hex, challenge: hex, signature: 'cd'.repeat(64) },
    { type: 'auth', token: 'tok' },
    { type: 'subscribe', after: 0 },
    { type: 'ack', ids: [hex] },
  ];
  const sides: [string, string, string[], (t: string) => unknown][] = [
    ['Relay → client', 'ServerFrame', Object.values(server).map(encodeServerFrame), parseServerFrame],
    ['Client → relay', 'ClientFrame', client.map(encodeClientFrame), parseClientFrame],
  ];
  for (const [heading, name, texts, parse] of sides) {
    const rows = table(subsection('5.8'), heading).map(([frame]) => specKeys(/`([^`]*)`/.exec(frame!)![1]!));
    const code = texts.map((text) => keysOf(JSON.parse(text)));
    assert.equal(rows, code, `SPEC 5.8 ${name} table differs from the encoder's fields`);
    for (const text of texts) {
      const o = JSON.parse(text) as Record<string, unknown>;
      assert.equal(parse(text), o, `the decoder reads back ${text}`);
      // The decoder needs every field the table names: drop one, and it refuses the frame.
      for (const k of Object.keys(o).filter((k) => k !== 'type')) {
        const { [k]: _gone, ...rest } = o;
        assert.throws(() => parse(JSON.stringify(rest)), undefined, `${name} ${o.type} without ${k}`);
      }
    }
  }
});

t('5.4: the header table, and every header section 5 names, are exactly RelayHeader', () => {
  const post = table(subsection('5.4')).map(([h]) => /^`([\w-]+)`$/.exec(h!)?.[1]);
  assert.equal(post, [RelayHeader.ttl, RelayHeader.retractionHash, RelayHeader.pow], 'SPEC 5.4 header table');
  const section5 = spec.slice(spec.indexOf('\n## 5. '));
  const named = new Set([...section5.matchAll(/`(x-mailbox-[a-z-]+)/g)].map((m) => m[1]!));
  assert.equal([...named].sort(), Object.values(RelayHeader).sort(), 'the headers SPEC section 5 names differ from RelayHeader');
});

t('5.8: the close code table is exactly WsCloseCode', () => {
  const rows = table(subsection('5.8'), 'Close codes').map(([c]) => Number(c));
  assert.equal(
    rows,
    Object.values(WsCloseCode).sort((a, b) => a - b),
    'SPEC 5.8 close codes differ from WsCloseCode',
  );
});

t("5.9: the /v1/info example is encodeRelayInfo's output for the relay's defaults", () => {
  const block = /`GET \/v1\/info` →\s*```json\n([\s\S]*?)```/.exec(subsection('5.9'));
  assert.ok(block, 'SPEC 5.9 has the /v1/info example');
  const example = JSON.parse(block![1]!) as unknown;
  // Field names and order: what the encoder writes for what the decoder reads.
  assert.is(encodeRelayInfo(decodeRelayInfo(example)), JSON.stringify(example), 'SPEC 5.9 fields differ from encodeRelayInfo');
  const info = decodeRelayInfo(example);
  assert.is(info.protocol, RELAY_PROTOCOL_VERSION);
  assert.is(info.version, RELAY_SOFTWARE_VERSION);
  for (const [k, v] of Object.entries(info.limits))
    assert.is(v, DEFAULT_CONFIG[k as keyof typeof DEFAULT_CONFIG], `SPEC 5.9 limits.${k} is not the relay's default`);
  assert.is(info.powBits, DEFAULT_CONFIG.powBits);
});

t.run();
