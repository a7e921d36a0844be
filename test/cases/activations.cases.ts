// GPU activation kernels vs the float64 reference, forward and backward, on odd sizes and several seeds.
import * as gpu from '../../src/kernels/activations.ts';
import * as ref from '../../src/reference/activations.ts';
import { tidy } from '../../src/gpu/tensor.ts';
import { assertClose, download, maxElementwiseRelativeError, randomArray, rng, upload, type OpCase } from '../support/check.ts';

const shapes = [[1, 1, 1, 1], [2, 3, 5, 7], [1, 4, 9, 3], [3, 2, 4, 4], [2, 1, 17, 13], [70000]];
const SLOPE = 0.2;

/**
 * tanh to float32 precision element by element, near 0 included (G's output is tanh, and early in training
 * it is near 0): x = ±10^e for e from −8 to 0.5 in steps of 1/16, rounded to float32 first. PyTorch's error
 * here is ≤ 1.2e-7; the old 1 − 2/(exp(2x) + 1) had 7e-4 at 1e-4 and 7e-2 at 1e-6.
 */
const tanhNearZero: OpCase = {
  name: 'tanh to float32 precision near 0 (|x| from 1e-8 to 3)',
  run: async () => {
    const xs: number[] = [];
    for (let e = -8; e <= 0.5; e += 1 / 16) xs.push(10 ** e, -(10 ** e));
    const x = Float64Array.from(Float32Array.from(xs));
    const y = tidy(() => gpu.tanhForward(upload(x, [x.length])));
    const err = maxElementwiseRelativeError(await download(y), ref.tanhForward(x));
    y.dispose();
    if (!(err < 3e-7)) throw new Error(`tanh near 0: largest relative error ${err.toExponential(2)} ≥ 3e-7`);
  },
};

export const activationCases: OpCase[] = [tanhNearZero, ...shapes.flatMap((shape, k) => {
  const seed = 100 + k;
  const tag = `shape [${shape}] seed ${seed}`;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = () => {
    const r = rng(seed);
    return { x: randomArray(n, r, -3, 3), dy: randomArray(n, r) };
  };
  const check = (name: string, f: (x: Float64Array, dy: Float64Array) => Promise<void>): OpCase => ({
    name: `${name} ${tag}`,
    run: async () => {
      const { x, dy } = data();
      await f(x, dy);
    },
  });
  return [
    check('relu', async (x, dy) => {
      const [y, dx] = tidy(() => {
        const tx = upload(x, shape);
        return [gpu.reluForward(tx), gpu.reluBackward(tx, upload(dy, shape))];
      });
      assertClose(`relu forward ${tag}`, await download(y), ref.reluForward(x));
      assertClose(`relu backward ${tag}`, await download(dx), ref.reluBackward(x, dy));
      y.dispose(); dx.dispose();
    }),
    check('leaky relu', async (x, dy) => {
      const [y, dx] = tidy(() => {
        const tx = upload(x, shape);
        return [gpu.leakyReluForward(tx, SLOPE), gpu.leakyReluBackward(tx, upload(dy, shape), SLOPE)];
      });
      assertClose(`leaky relu forward ${tag}`, await download(y), ref.leakyReluForward(x, SLOPE));
      assertClose(`leaky relu backward ${tag}`, await download(dx), ref.leakyReluBackward(x, dy, SLOPE));
      y.dispose(); dx.dispose();
    }),
    check('tanh', async (x, dy) => {
      const yRef = ref.tanhForward(x);
      const [y, dx] = tidy(() => [gpu.tanhForward(upload(x, shape)), gpu.tanhBackward(upload(yRef, shape), upload(dy, shape))]);
      assertClose(`tanh forward ${tag}`, await download(y), yRef);
      assertClose(`tanh backward ${tag}`, await download(dx), ref.tanhBackward(yRef, dy));
      y.dispose(); dx.dispose();
    }),
    check('sigmoid', async (x, dy) => {
      const yRef = ref.sigmoidForward(x);
      const [y, dx] = tidy(() => [gpu.sigmoidForward(upload(x, shape)), gpu.sigmoidBackward(upload(yRef, shape), upload(dy, shape))]);
      assertClose(`sigmoid forward ${tag}`, await download(y), yRef);
      assertClose(`sigmoid backward ${tag}`, await download(dx), ref.sigmoidBackward(yRef, dy));
      y.dispose(); dx.dispose();
    }),
  ];
})];
