// Reference backward of nearest-neighbour upsampling (x2) vs central finite differences of its reference forward.
import { describe, expect, it } from 'vitest';
import * as ref from '../src/reference/upsample.ts';
import { randomArray, rng } from './support/check.ts';
import { dot, maxRelativeDifference, numericalGradient } from './support/gradcheck.ts';

describe('upsample reference gradient', () => {
  const shapes: [number, number[]][] = [[1, [1, 1, 1, 1]], [2, [2, 3, 5, 7]], [3, [1, 2, 4, 3]]];
  for (const [seed, shape] of shapes) {
    it(`upsample2x [${shape}] (seed ${seed})`, () => {
      const r = rng(seed);
      const n = shape.reduce((a, b) => a * b, 1);
      const x = randomArray(n, r);
      const g = randomArray(4 * n, r);
      const numeric = numericalGradient((v) => dot(g, ref.upsample2xForward(v, shape)), x);
      expect(maxRelativeDifference(ref.upsample2xBackward(g, shape), numeric)).toBeLessThan(1e-6);
    });
  }
});
