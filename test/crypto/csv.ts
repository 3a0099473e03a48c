/** Reads a vector CSV from test/vectors (no quoted fields in these files) into header-keyed rows. */
import { readFileSync } from 'node:fs';

/** One CSV row keyed by the header's column names. */
export type Row = Record<string, string>;

/** Parses `test/vectors/<name>`; every row must have as many fields as the header. */
export function readVectors(name: string): Row[] {
  const text = readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8');
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = lines[0]!.split(',');
  return lines.slice(1).map((line, i) => {
    const cells = line.split(',');
    if (cells.length !== header.length) throw new Error(`${name}: row ${i + 1} has ${cells.length} fields, header ${header.length}`);
    return Object.fromEntries(header.map((h, j) => [h, cells[j]!]));
  });
}
