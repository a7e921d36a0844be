// Reference backward of each activation vs central finite differences of its reference forward.
import { describe, expect, it } from 'vitest';
import * as ref from '../src/reference/activations.ts';
import { randomArray, rng } from './support/check.ts';
import { dot, maxRelativeDifference, numericalGradient } from './support/gradcheck.ts';

describe('activation reference gradients', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const r = rng(seed);
    // keep x away from the kinks of relu at 0, where finite differences straddle two slopes
    const x = randomArray(23, r, -3, 3).map((v) => (Math.abs(v) < 0.01 ? 0.5 : v));
    const g = randomArray(23, r);
    it(`relu, leaky relu, tanh, sigmoid (seed ${seed})`, () => {
      const check = (forward: (x: Float64Array) => Float64Array, analytic: Float64Array) =>
        expect(maxRelativeDifference(analytic, numericalGradient((v) => dot(g, forward(v)), x))).toBeLessThan(1e-6);
      check(ref.reluForward, ref.reluBackward(x, g));
      check((v) => ref.leakyReluForward(v, 0.2), ref.leakyReluBackward(x, g, 0.2));
      check(ref.tanhForward, ref.tanhBackward(ref.tanhForward(x), g));
      check(ref.sigmoidForward, ref.sigmoidBackward(ref.sigmoidForward(x), g));
    });
  }
});
