// Every GPU kernel against its float64 CPU reference (the case lists are shared with the browser run).
import { describe, it } from 'vitest';
import { useGpu } from './support/node-device.ts';
import { allOpCases } from './cases/index.ts';

useGpu();

for (const [family, cases] of Object.entries(allOpCases)) {
  describe(family, () => {
    for (const c of cases) it(c.name, c.run);
  });
}
