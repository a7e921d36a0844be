// GPU sum and mean (and their autograd backward) vs the float64 reference.
import * as gpu from '../../src/kernels/reduce.ts';
import * as ref from '../../src/reference/reduce.ts';
import * as ad from '../../src/autograd/reduce.ts';
import { tidy } from '../../src/gpu/tensor.ts';
import { backward } from '../../src/autograd/tape.ts';
import { assertClose, download, randomArray, rng, upload, type OpCase } from '../support/check.ts';

// one element, fewer than 256, not a multiple of 256, several strides per thread, many strides per thread
const shapes = [[1], [2, 3, 5, 7], [1, 4, 9, 3], [3, 1, 20, 17], [2, 3, 64, 65], [70001]];

export const reduceCases: OpCase[] = shapes.flatMap((shape, k) => {
  const seed = 400 + k;
  const tag = `shape [${shape}] seed ${seed}`;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = () => {
    const r = rng(seed);
    // a positive offset keeps the sum away from 0, where a relative error means nothing
    return { x: randomArray(n, r, -1, 2), dy: randomArray(1, r)[0] };
  };
  return [
    {
      name: `sum and mean ${tag}`,
      run: async () => {
        const { x } = data();
        const [s, m] = tidy(() => {
          const tx = upload(x, shape);
          return [gpu.sumForward(tx), gpu.meanForward(tx)];
        });
        assertClose(`sum ${tag}`, await download(s), ref.sum(x));
        assertClose(`mean ${tag}`, await download(m), ref.mean(x));
        s.dispose(); m.dispose();
      },
    },
    {
      name: `sum and mean autograd ${tag}`,
      run: async () => {
        const { x, dy } = data();
        const tx = upload(x, shape, true);
        tidy(() => backward(ad.sum(tx), upload(Float64Array.of(dy), [1])));
        assertClose(`sum backward ${tag}`, await download(tx.grad!), ref.sumBackward(n, dy));
        tx.zeroGrad();
        tidy(() => backward(ad.mean(tx))); // dL/dy defaults to 1 for a scalar
        assertClose(`mean backward ${tag}`, await download(tx.grad!), ref.meanBackward(n, 1));
        tx.zeroGrad();
        tx.dispose();
      },
    },
  ];
});
