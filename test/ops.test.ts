// Every GPU kernel against its float64 CPU reference (the case lists are shared with the browser run).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { kernelsDispatched } from '../src/gpu/kernel.ts';
import { TILES } from '../src/kernels/conv-gemm.ts';
import { useGpu } from './support/node-device.ts';
import { allOpCases } from './cases/index.ts';

useGpu();

for (const [family, cases] of Object.entries(allOpCases)) {
  describe(family, () => {
    for (const c of cases) it(c.name, c.run);
  });
}

// The fast versions of a kernel (shaders/fast/) are only trusted if the cases above ran each of them against
// the reference: after the conv and batchnorm cases, every @compute entry point of shaders/fast/ has been
// dispatched, with each tile size of the tiled GEMMs.
describe('fast versions', () => {
  it('the op cases dispatched every kernel of shaders/fast/', () => {
    const dispatched = kernelsDispatched();
    const dir = path.join(import.meta.dirname, '..', 'shaders', 'fast');
    const missing: string[] = [];
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.wgsl'))) {
      const code = readFileSync(path.join(dir, file), 'utf8');
      for (const [, entry] of code.matchAll(/@compute[^;{]*?fn\s+(\w+)/g)) {
        const name = `shaders/fast/${file}:${entry}`;
        const tiles = code.includes('#include "shared/gemm_tiles.wgsl"') ? TILES.map((t) => ` TILE=${t}`) : [''];
        // the GEMM kernels' names go on with their conv window (KH=… KW=… STRIDE=… PADDING=…)
        const ran = (n: string) => dispatched.some((d) => d === n || d.startsWith(`${n} KH=`));
        for (const tile of tiles) if (!ran(name + tile)) missing.push(name + tile);
      }
    }
    expect(missing, `dispatched: ${dispatched.filter((n) => n.startsWith('shaders/fast/')).join(', ')}`).toEqual([]);
  });
});
