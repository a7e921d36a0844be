// The import graph of src/ has no cycle, and each of its folders imports only from the folders above it
// in STYLE.md's layout (gpu, kernels, autograd, ...): a launcher may use tensor storage but not the tape,
// the tape may call launchers, and so on up. Read from the source text (test/support/sources.ts); which
// folders the hosts may import is test/layers.test.ts.
import { describe, expect, it } from 'vitest';
import { importsOf, sourceFiles } from './support/sources.ts';

/**
 * src/ folders from the bottom up: a file may import from its own folder and the ones before it. The
 * package's platform-neutral entry, src/index.ts, sits above everything both hosts share and below the
 * Node host (whose own entry is src/node/index.ts).
 */
const LAYERS = ['src/util', 'src/gpu', 'src/kernels', 'src/autograd', 'src/reference', 'src/model', 'src/optim', 'src/train', 'src/metrics', 'src/index.ts', 'src/node'];

/** file → the src/ files it imports (relative imports of TypeScript modules; shaders and packages are leaves). */
function importGraph(): Map<string, string[]> {
  const files = sourceFiles(['src']);
  const known = new Set(files);
  return new Map(files.map((file) => [file, [...new Set(importsOf(file).map((i) => i.target).filter((t): t is string => t !== null && known.has(t)))]]));
}

/** Every cycle of the graph, one per strongly connected component of more than one file (or a file importing itself). */
function cycles(graph: Map<string, string[]>): string[][] {
  // Tarjan's strongly connected components, then one cycle through each component for the message
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)?.includes(v)) components.push(component);
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return components.map((component) => cycleWithin(graph, new Set(component)));
}

/** A path a → … → a inside one strongly connected component (breadth first from its first file, so a shortest one). */
function cycleWithin(graph: Map<string, string[]>, component: Set<string>): string[] {
  const start = [...component].sort()[0];
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = cameFrom.get(u)!) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!cameFrom.has(w)) {
        cameFrom.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

const layerOf = (file: string) => LAYERS.findIndex((folder) => file === folder || file.startsWith(`${folder}/`));

describe('the import graph of src/', () => {
  it('has no cycle', () => {
    expect(cycles(importGraph()).map((cycle) => cycle.join(' → '))).toEqual([]);
  });

  it(`imports only downwards through ${LAYERS.map((l) => l.slice(4)).join(' < ')}`, () => {
    const upward = [...importGraph()].flatMap(([file, targets]) =>
      targets.filter((target) => layerOf(target) > layerOf(file)).map((target) => `${file} → ${target}`));
    expect(upward).toEqual([]);
  });

  it('puts every src/ file in one of those folders (or is the entry src/index.ts)', () => {
    expect([...importGraph().keys()].filter((file) => layerOf(file) < 0)).toEqual([]);
  });
});
