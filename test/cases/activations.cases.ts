// GPU activation kernels vs the float64 reference, forward and backward, on odd sizes and several seeds.
import * as gpu from '../../src/kernels/activations.ts';
import * as ref from '../../src/reference/activations.ts';
import { tidy } from '../../src/gpu/tensor.ts';
import { assertClose, download, randomArray, rng, upload, type OpCase } from '../support/check.ts';

const shapes = [[1, 1, 1, 1], [2, 3, 5, 7], [1, 4, 9, 3], [3, 2, 4, 4], [2, 1, 17, 13], [70000]];
const SLOPE = 0.2;

export const activationCases: OpCase[] = shapes.flatMap((shape, k) => {
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
});
