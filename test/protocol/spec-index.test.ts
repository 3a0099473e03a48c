/**
 * `protocol/SPEC.md` is the index of the specification: section numbers are
 * global and code cites them ("SPEC 6.14") without a file. This suite checks
 * that the index's table sends every section to the file that holds it, that
 * no section is held twice or lost, and that the cross-file links resolve.
 */
import { existsSync, readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const t = suite('protocol/spec-index');

const root = new URL('../../protocol/', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');
const index = read('SPEC.md');

/** The index table: top-level section number → file (relative to protocol/). */
function table(): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of index.split('\n')) {
    const m = /^\| (\d+)(?: \([\d.–]+\))? \| [^|]+ \| (this file|\[`[^`]+`\]\(([^)]+)\)) \|\s*$/.exec(line);
    if (!m) continue;
    assert.not.ok(out.has(Number(m[1])), `section ${m[1]} listed twice in the index`);
    out.set(Number(m[1]), m[3] ?? 'SPEC.md');
  }
  return out;
}

/** Section numbers ("6", "6.14") of the `##`/`###` headings of one file. */
function headings(text: string): string[] {
  return [...text.matchAll(/^#{2,3} (\d+(?:\.\d+)?)[. ]/gm)].map((m) => m[1]!);
}

t('the index lists sections 1 to 8, each once, in files that exist', () => {
  const map = table();
  assert.equal([...map.keys()], [1, 2, 3, 4, 5, 6, 7, 8]);
  for (const file of new Set(map.values())) assert.ok(existsSync(new URL(file, root)), `${file} is missing`);
});

t('every section heading is in the file the index names, and every file holds only its sections', () => {
  const map = table();
  const seen = new Set<string>();
  for (const file of new Set(map.values())) {
    for (const h of headings(read(file))) {
      const top = Number(h.split('.')[0]);
      assert.is(map.get(top), file, `section ${h} is in ${file}, the index says ${map.get(top)}`);
      assert.not.ok(seen.has(h), `section ${h} appears twice`);
      seen.add(h);
    }
  }
  for (const n of map.keys()) assert.ok(seen.has(String(n)), `section ${n} has no heading`);
});

t('the subsection ranges the index states are the subsections the files hold', () => {
  const held = new Map<number, string[]>();
  for (const file of new Set(table().values())) {
    for (const h of headings(read(file))) {
      const [top, sub] = h.split('.');
      if (sub !== undefined) held.set(Number(top), [...(held.get(Number(top)) ?? []), h]);
    }
  }
  for (const m of index.matchAll(/^\| (\d+) \((\d+\.\d+)–(\d+\.\d+)\) \|/gm)) {
    const subs = held.get(Number(m[1])) ?? [];
    assert.is(subs[0], m[2], `section ${m[1]} starts at ${subs[0]}`);
    assert.is(subs[subs.length - 1], m[3], `section ${m[1]} ends at ${subs[subs.length - 1]}`);
  }
});

t('relative links between the spec files resolve', () => {
  for (const file of ['SPEC.md', ...new Set(table().values())]) {
    const base = new URL(file, root);
    for (const m of read(file).matchAll(/\]\(([^)#:]+)(?:#[^)]*)?\)/g)) {
      assert.ok(existsSync(new URL(m[1]!, base)), `${file}: link ${m[1]} does not resolve`);
    }
  }
});

t.run();
