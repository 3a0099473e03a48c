/**
 * Every relative link in the README and the docs leads somewhere: the file
 * exists, and a `#fragment` into a Markdown file names one of its headings
 * (GitHub's anchor rules). Pages get renamed and sections rewritten; a link
 * that silently breaks sends a reader nowhere.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const t = suite('docs: links');
const root = fileURLToPath(new URL('../../', import.meta.url));

/** The Markdown files a reader browses. */
function pages(): string[] {
  const inDir = (dir: string) =>
    readdirSync(path.join(root, dir))
      .filter((f) => f.endsWith('.md'))
      .map((f) => path.join(dir, f));
  return ['README.md', ...inDir('docs'), ...inDir('protocol'), ...inDir('protocol/spec')];
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2, … */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = fenced ? null : /^#{1,6} (.*)$/.exec(line);
    if (!m) continue;
    const text = m[1]!.replace(/`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\- _]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Relative link targets of a page, outside code. */
function links(markdown: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    if (fenced) continue;
    const prose = line.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) out.push(target);
    }
  }
  return out;
}

t('every relative link resolves to a file, and every fragment to a heading', () => {
  const broken: string[] = [];
  for (const page of pages()) {
    const text = readFileSync(path.join(root, page), 'utf8');
    for (const link of links(text)) {
      const [file, fragment] = link.split('#') as [string, string | undefined];
      const target = file === '' ? page : path.normalize(path.join(path.dirname(page), file));
      if (!existsSync(path.join(root, target))) {
        broken.push(`${page}: ${link} (no file ${target})`);
        continue;
      }
      if (fragment && target.endsWith('.md') && !anchors(readFileSync(path.join(root, target), 'utf8')).has(fragment))
        broken.push(`${page}: ${link} (no heading #${fragment} in ${target})`);
    }
  }
  assert.equal(broken, []);
});

t('the docs index in the README lists every page of docs/', () => {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const linked = new Set(links(readme).map((l) => l.split('#')[0]));
  for (const page of pages().filter((p) => p.startsWith('docs/'))) assert.ok(linked.has(page), `README does not link ${page}`);
});

t.run();
