// WGSL pieces shared by several shaders (shaders/shared/), each written once. A shader names one with a
// line `// #include "shared/grid.wgsl"`, and Kernel (./kernel.ts) puts the piece's text in that line's place,
// once per shader however many of its pieces include it. WGSL has no include of its own; to every other
// WGSL tool the line is a comment. The pieces are imported here as text (`?raw`: Vite in the browser,
// scripts/wgsl-hooks.mjs in Node), so the same shader text is built in both.
import grid from '../../shaders/shared/grid.wgsl?raw';
import treeSum from '../../shaders/shared/tree_sum.wgsl?raw';
import convGeometry from '../../shaders/shared/conv_geometry.wgsl?raw';
import convPhases from '../../shaders/shared/conv_phases.wgsl?raw';
import gemmTiles from '../../shaders/shared/gemm_tiles.wgsl?raw';

const pieces: Record<string, string> = {
  'shared/grid.wgsl': grid,
  'shared/tree_sum.wgsl': treeSum,
  'shared/conv_geometry.wgsl': convGeometry,
  'shared/conv_phases.wgsl': convPhases,
  'shared/gemm_tiles.wgsl': gemmTiles,
};

const INCLUDE = /^[ \t]*\/\/[ \t]*#include[ \t]+"([^"]*)".*$/gm;

/** `code` (the WGSL of `file`) with every `// #include "piece"` line replaced by the piece, recursively. */
export function resolveIncludes(file: string, code: string, included = new Set<string>()): string {
  return code.replace(INCLUDE, (_line, name: string) => {
    const piece = pieces[name];
    if (piece === undefined) {
      throw new Error(`WGSL error in ${file}: #include "${name}" is none of the shared pieces (${Object.keys(pieces).join(', ')})`);
    }
    if (included.has(name)) return `// ${name}: included above`;
    included.add(name);
    return resolveIncludes(name, piece, included);
  });
}
