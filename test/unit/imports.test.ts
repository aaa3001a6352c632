/**
 * The shape of the tree: data flows one way (cli → api/imds → cloud → host → db and the shared bottom files), and no
 * import, type-only ones included, makes a circle. Read from the sources with TypeScript's own preprocessor.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const SRC = resolve(import.meta.dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : []);
}

/** Each source file (relative to src) and the source files it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const deps = importedFiles.map((i) => i.fileName).filter((f) => f.startsWith('.'))
      .map((f) => relative(SRC, resolve(dirname(file), f.replace(/\.js$/, '.ts'))));
    graph.set(relative(SRC, file), deps);
  }
  return graph;
}

function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (f: string) => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') { found.push([...path.slice(path.indexOf(f)), f]); return; }
    state.set(f, 'open');
    path.push(f);
    for (const d of graph.get(f) ?? []) visit(d);
    path.pop();
    state.set(f, 'done');
  };
  for (const f of graph.keys()) visit(f);
  return found;
}

/** What each layer may not import. */
const FORBIDDEN: [layer: string, forbidden: string[]][] = [
  ['db/', ['cli/', 'api/', 'imds/', 'cloud/', 'host/', 'runtime/']],
  ['host/', ['cli/', 'api/', 'imds/', 'cloud/']],
  ['cloud/', ['cli/', 'api/', 'imds/', 'runtime/']],
  ['api/', ['cli/', 'imds/', 'host/']],
  ['imds/', ['cli/', 'api/', 'host/']],
  // The fat lambda's console proxy serves the console's wire (api/console) itself.
  ['runtime/', ['cli/', 'imds/', 'cloud/', 'host/', 'db/']],
  // Metrics read the domain and the host's units at scrape time; the CLI wires them up.
  ['metrics/', ['cli/', 'imds/']],
];

describe('the import graph of src', () => {
  const graph = importGraph();

  it('reads the whole tree and resolves every relative import to a source file', () => {
    expect(graph.size).toBeGreaterThan(100);
    const missing = [...graph].flatMap(([f, deps]) => deps.filter((d) => !graph.has(d)).map((d) => `${f} → ${d}`));
    expect(missing).toEqual([]);
  });

  it('has no circle of imports, type-only ones included', () => {
    expect(cycles(graph).map((c) => c.join(' → '))).toEqual([]);
  });

  it('flows one way: no layer imports one above it', () => {
    const against = [...graph].flatMap(([f, deps]) => {
      const rule = FORBIDDEN.find(([layer]) => f.startsWith(layer));
      return rule ? deps.filter((d) => rule[1].some((x) => d.startsWith(x))).map((d) => `${f} → ${d}`) : [];
    });
    expect(against).toEqual([]);
  });

  it('finds a circle when there is one (the checker itself)', () => {
    expect(cycles(new Map([['a.ts', ['b.ts']], ['b.ts', ['a.ts']], ['c.ts', ['a.ts']]]))).toEqual([['a.ts', 'b.ts', 'a.ts']]);
  });
});
