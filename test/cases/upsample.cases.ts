// GPU nearest-neighbour upsampling (x2) vs the float64 reference: the launchers forward and backward, and
// the Upsample layer through the tape against its own reference layer (Layer.reference).
import * as gpu from '../../src/kernels/upsample.ts';
import * as ref from '../../src/reference/upsample.ts';
import { tidy } from '../../src/gpu/tensor.ts';
import { backward } from '../../src/autograd/tape.ts';
import { Upsample } from '../../src/model/layers.ts';
import { assertClose, download, randomArray, rng, upload, type OpCase } from '../support/check.ts';

// odd sizes, one channel and many, and one past a single workgroup row of the folded grid
const shapes = [[1, 1, 1, 1], [2, 3, 5, 7], [1, 4, 9, 3], [3, 2, 4, 4], [1, 3, 160, 150]];

export const upsampleCases: OpCase[] = shapes.flatMap((shape, k) => {
  const seed = 300 + k;
  const tag = `shape [${shape}] seed ${seed}`;
  const n = shape.reduce((a, b) => a * b, 1);
  const yShape = gpu.upsample2xOutputShape(shape);
  const data = () => {
    const r = rng(seed);
    return { x: randomArray(n, r), dy: randomArray(4 * n, r) };
  };
  return [
    {
      name: `upsample2x ${tag}`,
      run: async () => {
        const { x, dy } = data();
        const [y, dx] = tidy(() => [gpu.upsample2xForward(upload(x, shape)), gpu.upsample2xBackward(upload(dy, yShape))]);
        assertClose(`upsample2x forward ${tag}`, await download(y), ref.upsample2xForward(x, shape));
        assertClose(`upsample2x backward ${tag}`, await download(dx), ref.upsample2xBackward(dy, shape));
        y.dispose(); dx.dispose();
      },
    },
    {
      name: `Upsample layer vs its reference ${tag}`,
      run: async () => {
        const { x, dy } = data();
        const layer = new Upsample();
        const tx = upload(x, shape, true);
        const y = tidy(() => {
          const out = layer.forward(tx);
          backward(out, upload(dy, yShape));
          return out;
        });
        const twin = layer.reference();
        const r = twin.forward(x, [...shape]);
        assertClose(`Upsample forward ${tag}`, await download(y), r.y);
        assertClose(`Upsample dx ${tag}`, await download(tx.grad!), twin.backward(dy));
        y.dispose(); tx.zeroGrad(); tx.dispose();
      },
    },
  ];
});
