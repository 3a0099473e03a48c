/**
 * SPEC section 8 is the documented list of stable error codes: this suite
 * keeps it and `base/errors.ts` (`ErrorCode`) in step, and checks the
 * HTTP statuses it states against the relay's one mapping
 * (`RELAY_HTTP_STATUS` in `protocol/relay-http.ts`), so a code cannot be added, renamed or given
 * another status without the spec changing with it.
 */
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../base/errors.js';
import { RELAY_HTTP_STATUS } from '../../protocol/relay-http.js';

const t = suite('protocol/spec-errors');

const spec = readFileSync(new URL('../../protocol/SPEC.md', import.meta.url), 'utf8');

/** The text between the section 8 markers. */
function errorsSection(): string {
  const begin = spec.indexOf('<!-- SECTION:errors BEGIN');
  const end = spec.indexOf('<!-- SECTION:errors END');
  assert.ok(begin >= 0 && end > begin, 'SPEC.md has the section 8 markers');
  return spec.slice(begin, end);
}

/** Rows of the section 8 table: code → [meaning, relay column]. */
function rows(): Map<string, [string, string]> {
  const out = new Map<string, [string, string]>();
  for (const line of errorsSection().split('\n')) {
    const m = /^\| `([A-Z_]+)` \|(.*)\|(.*)\|\s*$/.exec(line);
    if (!m) continue;
    assert.not.ok(out.has(m[1]!), `code ${m[1]} listed twice`);
    out.set(m[1]!, [m[2]!.trim(), m[3]!.trim()]);
  }
  return out;
}

const codes = Object.values(ErrorCode);

t('every ErrorCode has a row in SPEC section 8, with a meaning', () => {
  const table = rows();
  const missing = codes.filter((c) => !table.has(c));
  assert.equal(missing, [], `codes missing from SPEC section 8: ${missing.join(', ')}`);
  for (const c of codes) assert.ok(table.get(c)![0].length > 0, `${c} has no meaning`);
});

t('section 8 lists no code that ErrorCode does not have', () => {
  const known = new Set<string>(codes);
  const unknown = [...rows().keys()].filter((c) => !known.has(c));
  assert.equal(unknown, [], `codes in SPEC section 8 but not in ErrorCode: ${unknown.join(', ')}`);
});

t('the HTTP status of each relay code matches RELAY_HTTP_STATUS', () => {
  const table = rows();
  for (const c of codes) {
    const stated = /HTTP (\d{3})/.exec(table.get(c)?.[1] ?? '');
    const mapped = RELAY_HTTP_STATUS[c];
    if (mapped === undefined) assert.is(stated, null, `${c}: SPEC states HTTP ${stated?.[1]}, the relay maps no status`);
    else
      assert.is(
        Number(stated?.[1]),
        mapped,
        `${c}: SPEC states ${stated ? `HTTP ${stated[1]}` : 'no status'}, the relay answers ${mapped}`,
      );
  }
});

t('the parser sees the table (a renamed section cannot pass silently)', () => {
  assert.ok(rows().size >= codes.length);
  assert.ok(errorsSection().includes('## 8. Error codes'));
});

t.run();
