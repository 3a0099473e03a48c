/**
 * The import graph of the production tree, and the two checks the house
 * rests on: no import cycle, and no arrow that points up a floor.
 *
 * Imports are read with the TypeScript compiler's own pre-processor
 * (`ts.preProcessFile`), so static imports, re-exports, `import type` and
 * dynamic `import()` with a literal specifier are all seen, and comments or
 * strings that merely look like imports are not.
 */
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';

/** One file's imports: local files (repo-relative paths) and packages (bare specifiers). */
export interface FileImports {
  local: string[];
  packages: string[];
  /** Names imported from each package specifier, e.g. `{ '@noble/curves/secp256k1.js': ['schnorr'] }`. */
  names: Record<string, string[]>;
}

/** repo-relative path -> its imports. */
export type ImportGraph = Map<string, FileImports>;

/** Every `.ts` file under the given top-level folders of `root` (repo-relative, sorted). */
export function sourceFiles(root: string, folders: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(root, dir)).sort()) {
      const rel = join(dir, name);
      if (statSync(join(root, rel)).isDirectory()) walk(rel);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(rel);
    }
  };
  for (const f of folders) if (existsSync(join(root, f))) walk(f);
  return out;
}

function resolveLocal(root: string, from: string, spec: string): string {
  const base = normalize(join(dirname(from), spec));
  for (const c of [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, join(base, 'index.ts')]) {
    if (existsSync(join(root, c)) && statSync(join(root, c)).isFile()) return c;
  }
  throw new Error(`${from}: cannot resolve import '${spec}'`);
}

/** Names bound by each named import (`import { a, b as c } from …`), per package specifier of one file. */
function importedNames(src: string): Record<string, string[]> {
  const names: Record<string, string[]> = {};
  for (const m of src.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*['"]([^'"]+)['"]/g)) {
    const list = (m[1] ?? '')
      .split(',')
      .map(
        (s) =>
          s
            .trim()
            .replace(/^type\s+/, '')
            .split(/\s+as\s+/)[0]!,
      )
      .filter(Boolean);
    (names[m[2]!] ??= []).push(...list);
  }
  return names;
}

/** Reads the import graph of `files` (repo-relative paths under `root`). */
export function readGraph(root: string, files: readonly string[]): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of files) {
    const src = readFileSync(join(root, file), 'utf8');
    const info = ts.preProcessFile(src, true, true);
    const local: string[] = [];
    const packages: string[] = [];
    for (const { fileName } of info.importedFiles) {
      if (fileName.startsWith('.')) local.push(resolveLocal(root, file, fileName));
      else packages.push(fileName);
    }
    graph.set(file, { local: [...new Set(local)].sort(), packages: [...new Set(packages)].sort(), names: importedNames(src) });
  }
  return graph;
}

/**
 * Every import cycle, as the files of each strongly connected component with
 * more than one file (or a file importing itself). Tarjan's algorithm.
 */
export function findCycles(graph: ReadonlyMap<string, { local: readonly string[] }>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.local ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v)?.local ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

/** A floor of the house: the folder prefix it owns and the floors it may import. */
export interface Floor {
  name: string;
  /** Repo-relative path prefixes (folder with a trailing slash, or one file). */
  paths: readonly string[];
  /** Floors this one may import, besides itself. */
  mayImport: readonly string[];
  /** Packages (bare specifiers, matched by prefix) this floor may import. */
  packages: readonly string[];
}

/** The floor a file belongs to: the one with the longest matching path prefix. */
export function floorOf(floors: readonly Floor[], file: string): Floor | undefined {
  let best: Floor | undefined;
  let bestLen = -1;
  for (const f of floors) {
    for (const p of f.paths) {
      const hit = p.endsWith('/') ? file.startsWith(p) : file === p;
      if (hit && p.length > bestLen) {
        best = f;
        bestLen = p.length;
      }
    }
  }
  return best;
}

/** Every import that breaks the floors: an upward or sideways arrow, a package the floor may not use, a file on no floor. */
export function floorViolations(floors: readonly Floor[], graph: ImportGraph): string[] {
  const out: string[] = [];
  for (const [file, imports] of graph) {
    const from = floorOf(floors, file);
    if (!from) {
      out.push(`${file}: on no floor`);
      continue;
    }
    for (const target of imports.local) {
      const to = floorOf(floors, target);
      if (!to) out.push(`${file} -> ${target}: target on no floor`);
      else if (to !== from && !from.mayImport.includes(to.name)) out.push(`${file} (${from.name}) -> ${target} (${to.name})`);
    }
    for (const pkg of imports.packages) {
      if (!from.packages.some((p) => pkg === p || pkg.startsWith(p.endsWith('/') || p.endsWith(':') ? p : `${p}/`))) {
        out.push(`${file} (${from.name}) -> package '${pkg}'`);
      }
    }
  }
  return out;
}

/** `path` relative to `root`, with forward slashes. */
export function repoPath(root: string, path: string): string {
  return relative(root, path).split('\\').join('/');
}
