// Reference backward of both binary cross-entropies vs central finite differences of their reference forward.
// Probabilities stay in [0.05, 0.95], away from the clamps (log ≥ −100, p(1−p) ≥ 1e-12), where the
// backward is PyTorch's choice rather than the derivative.
import { describe, expect, it } from 'vitest';
import * as ref from '../src/reference/loss.ts';
import { randomArray, rng } from './support/check.ts';
import { maxRelativeDifference, numericalGradient } from './support/gradcheck.ts';

describe('loss reference gradients', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const r = rng(seed);
    const n = [1, 7, 13, 2, 31][seed - 1];
    const x = randomArray(n, r, -6, 6);
    const p = randomArray(n, r, 0.05, 0.95);
    const hard = Float64Array.from({ length: n }, () => (r() < 0.5 ? 0 : 1));
    const soft = randomArray(n, r, 0, 1);
    const gradLoss = 0.5 + r();
    for (const [kind, y] of [['hard', hard], ['soft', soft]] as const) {
      it(`bceWithLogits and bce, ${n} elements, ${kind} targets (seed ${seed})`, () => {
        const logitsNumeric = numericalGradient((v) => gradLoss * ref.bceWithLogitsForward(v, y), x);
        expect(maxRelativeDifference(ref.bceWithLogitsBackward(x, y, gradLoss), logitsNumeric)).toBeLessThan(1e-6);
        const probabilityNumeric = numericalGradient((v) => gradLoss * ref.bceForward(v, y), p);
        expect(maxRelativeDifference(ref.bceBackward(p, y, gradLoss), probabilityNumeric)).toBeLessThan(1e-6);
      });
    }
  }
  it('bce at the clamps: loss 100 per element at p = 0 or 1 on the wrong side, gradient ±1e12 / n', () => {
    const p = Float64Array.from([0, 1]);
    const y = Float64Array.from([1, 0]);
    expect(ref.bceForward(p, y)).toBe(100);
    expect(Array.from(ref.bceBackward(p, y))).toEqual([-1e12 / 2, 1e12 / 2]);
  });
});
