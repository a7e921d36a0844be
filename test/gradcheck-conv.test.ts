// Reference backward of conv2d and transposed conv2d (dx, dw, db) vs central finite differences of the
// reference forward, on tiny configurations covering stride 1 and 2, padding 0 and 1, non-square shapes.
import { describe, expect, it } from 'vitest';
import * as ref from '../src/reference/conv.ts';
import { conv2dOutputShape, convTranspose2dOutputShape, type ConvOptions } from '../src/kernels/conv-shapes.ts';
import { randomArray, rng } from './support/check.ts';
import { dot, maxRelativeDifference, numericalGradient } from './support/gradcheck.ts';

type Shape4 = [number, number, number, number];
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

const configs: { x: Shape4; w: Shape4; o: ConvOptions }[] = [
  { x: [1, 2, 5, 4], w: [3, 2, 3, 3], o: { stride: 1, padding: 1 } },
  { x: [2, 1, 6, 6], w: [2, 1, 4, 4], o: { stride: 2, padding: 1 } },
  { x: [1, 2, 5, 3], w: [2, 2, 2, 3], o: { stride: 2, padding: 0 } },
  { x: [2, 2, 1, 1], w: [2, 3, 4, 4], o: { stride: 1, padding: 0 } },  // for the transposed conv: 1x1 -> 4x4
];

const ops = {
  conv2d: { outputShape: conv2dOutputShape, forward: ref.conv2dForward, backwardInput: ref.conv2dBackwardInput, backwardWeight: ref.conv2dBackwardWeight },
  convTranspose2d: {
    outputShape: convTranspose2dOutputShape, forward: ref.convTranspose2dForward,
    backwardInput: ref.convTranspose2dBackwardInput, backwardWeight: ref.convTranspose2dBackwardWeight,
  },
};

describe('conv reference gradients', () => {
  configs.forEach(({ x: xShape, w: convWeight, o }, k) => {
    for (const [kind, op] of Object.entries(ops)) {
      // the same sizes serve both ops: the transposed conv's weight is [C_in, C_out, KH, KW]
      const wShape: Shape4 = kind === 'conv2d' ? convWeight : [xShape[1], convWeight[0], convWeight[2], convWeight[3]];
      const tag = `x [${xShape}] w [${wShape}] stride ${o.stride} padding ${o.padding}`;
      if (kind === 'conv2d' && xShape[2] < convWeight[2]) continue; // the kernel does not fit a 1x1 input
      it(`${kind} dx, dw, db (${tag})`, () => {
        const r = rng(600 + k);
        const yShape = op.outputShape(xShape, wShape, o);
        const [x, w, b, g] = [randomArray(size(xShape), r), randomArray(size(wShape), r), randomArray(yShape[1], r), randomArray(size(yShape), r)];
        // L = Σ g · y, so dL/dy = g
        const loss = (xv: Float64Array, wv: Float64Array, bv: Float64Array) => dot(g, op.forward(xv, xShape, wv, wShape, bv, o));
        const check = (analytic: Float64Array, f: (v: Float64Array) => number, at: Float64Array) =>
          expect(maxRelativeDifference(analytic, numericalGradient(f, at))).toBeLessThan(1e-6);
        check(op.backwardInput(g, w, wShape, xShape, o), (v) => loss(v, w, b), x);
        check(op.backwardWeight(x, xShape, g, wShape, o), (v) => loss(x, v, b), w);
        check(ref.convBiasBackward(g, yShape), (v) => loss(x, w, v), b);
      });
    }
  });

  it('transposed conv follows PyTorch: on a 1x1 input, y[n,o] = b[o] + Σ_c x[n,c] w[c,o] (the whole kernel)', () => {
    const xShape: Shape4 = [2, 3, 1, 1], wShape: Shape4 = [3, 2, 4, 4];
    const r = rng(800);
    const [x, w, b] = [randomArray(6, r), randomArray(size(wShape), r), randomArray(2, r)];
    const y = ref.convTranspose2dForward(x, xShape, w, wShape, b, { stride: 1, padding: 0 });
    const expected = new Float64Array(2 * 2 * 16);
    for (let n = 0; n < 2; n++)
      for (let oc = 0; oc < 2; oc++)
        for (let t = 0; t < 16; t++) {
          let s = b[oc];
          for (let c = 0; c < 3; c++) s += x[n * 3 + c] * w[(c * 2 + oc) * 16 + t];
          expected[(n * 2 + oc) * 16 + t] = s;
        }
    expect(maxRelativeDifference(y, expected)).toBeLessThan(1e-12);
  });

  it('transposed conv follows PyTorch: stride 2 places each input pixel 2 apart, padding crops the border', () => {
    // x = [1, 2] (1x2 image), w = [1, 10] (1x2 kernel), stride 2, padding 0: y = [1·1, 1·10, 2·1, 2·10]
    const y = ref.convTranspose2dForward(Float64Array.of(1, 2), [1, 1, 1, 2], Float64Array.of(1, 10), [1, 1, 1, 2], null, { stride: 2, padding: 0 });
    expect(Array.from(y)).toEqual([1, 10, 2, 20]);
    // a 3x3 kernel whose middle row is [1, 10, 100]: the two stamps overlap at column 2 (100 + 2·1);
    // padding 1 crops one row and one column from each side of the 3x5 result, leaving its middle row's centre
    const kernel = Float64Array.of(0, 0, 0, 1, 10, 100, 0, 0, 0);
    const stamp = (padding: number) =>
      Array.from(ref.convTranspose2dForward(Float64Array.of(1, 2), [1, 1, 1, 2], kernel, [1, 1, 3, 3], null, { stride: 2, padding }));
    expect(stamp(0)).toEqual([0, 0, 0, 0, 0, 1, 10, 102, 20, 200, 0, 0, 0, 0, 0]);
    expect(stamp(1)).toEqual([10, 102, 20]);
  });
});
