// Reference backward of BatchNorm2d (train and eval) and of sum/mean vs central finite differences of
// their reference forwards. In training the batch mean and variance are functions of x, so the numerical
// dx perturbs them too: this is the check that the analytic dx flows through the batch statistics.
import { describe, expect, it } from 'vitest';
import * as ref from '../src/reference/batchnorm.ts';
import * as reduce from '../src/reference/reduce.ts';
import { randomArray, rng } from './support/check.ts';
import { dot, maxRelativeDifference, numericalGradient } from './support/gradcheck.ts';

const shapes = [[1, 3, 2, 5], [2, 5, 3, 2], [3, 1, 4, 3], [2, 2, 1, 1], [4, 2, 3, 5]];
const options = { eps: 1e-5, momentum: 0.1 };
const TOL = 1e-6;

describe('batchnorm reference gradients', () => {
  shapes.forEach((shape, k) => {
    const seed = 500 + k;
    const r = rng(seed);
    const n = shape.reduce((a, b) => a * b, 1);
    const c = shape[1];
    const x = randomArray(n, r, -2, 3);
    const g = randomArray(n, r); // upstream dL/dy; L = Σ g·y
    const gamma = randomArray(c, r, 0.5, 1.5);
    const beta = randomArray(c, r);
    const runningMean = randomArray(c, r);
    const runningVar = randomArray(c, r, 0.5, 2);
    // the forward mutates the running stats; finite differences must not care, so give it scratch copies
    const train = (xv: Float64Array, gv: Float64Array, bv: Float64Array) =>
      ref.batchNormTrainForward(xv, shape, gv, bv, runningMean.slice(), runningVar.slice(), options);

    it(`train: dx (through the batch statistics), dgamma, dbeta, shape [${shape}] seed ${seed}`, () => {
      const { mean, invStd } = train(x, gamma, beta);
      const analytic = ref.batchNormBackward(x, shape, g, gamma, mean, invStd);
      const close = (a: Float64Array, numeric: Float64Array) => expect(maxRelativeDifference(a, numeric)).toBeLessThan(TOL);
      close(analytic.dx, numericalGradient((v) => dot(g, train(v, gamma, beta).y), x));
      close(analytic.dgamma, numericalGradient((v) => dot(g, train(x, v, beta).y), gamma));
      close(analytic.dbeta, numericalGradient((v) => dot(g, train(x, gamma, v).y), beta));
    });

    it(`eval: dx, dgamma, dbeta, shape [${shape}] seed ${seed}`, () => {
      const evalY = (xv: Float64Array, gv: Float64Array, bv: Float64Array) =>
        ref.batchNormEvalForward(xv, shape, gv, bv, runningMean, runningVar, options.eps);
      const analytic = ref.batchNormEvalBackward(x, shape, g, gamma, runningMean, runningVar, options.eps);
      const close = (a: Float64Array, numeric: Float64Array) => expect(maxRelativeDifference(a, numeric)).toBeLessThan(TOL);
      close(analytic.dx, numericalGradient((v) => dot(g, evalY(v, gamma, beta)), x));
      close(analytic.dgamma, numericalGradient((v) => dot(g, evalY(x, v, beta)), gamma));
      close(analytic.dbeta, numericalGradient((v) => dot(g, evalY(x, gamma, v)), beta));
    });
  });

  it('train: running statistics follow PyTorch (unbiased variance, momentum 0.1)', () => {
    // x of one channel = [1, 2, 3, 6]: mean 3, biased var 3.5, unbiased var 14/3
    const rm = Float64Array.of(0.5);
    const rv = Float64Array.of(2);
    ref.batchNormTrainForward(Float64Array.of(1, 2, 3, 6), [1, 1, 2, 2], Float64Array.of(1), Float64Array.of(0), rm, rv, options);
    expect(rm[0]).toBeCloseTo(0.9 * 0.5 + 0.1 * 3, 12);
    expect(rv[0]).toBeCloseTo(0.9 * 2 + 0.1 * 14 / 3, 12);
  });
});

describe('sum and mean reference gradients', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const r = rng(600 + seed);
    const n = 7 + 6 * seed;
    const x = randomArray(n, r);
    const g = randomArray(1, r)[0];
    it(`sum, mean, n ${n} seed ${600 + seed}`, () => {
      const check = (forward: (x: Float64Array) => Float64Array, analytic: Float64Array) =>
        expect(maxRelativeDifference(analytic, numericalGradient((v) => g * forward(v)[0], x))).toBeLessThan(TOL);
      check(reduce.sum, reduce.sumBackward(n, g));
      check(reduce.mean, reduce.meanBackward(n, g));
    });
  }
});
