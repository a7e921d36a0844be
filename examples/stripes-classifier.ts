// A model of one's own on the engine, not the DCGAN: a two-layer conv net that tells 8x8 pictures of
// horizontal stripes from vertical ones, trained with Adam on BCE. It imports only the package's public
// entries, as a project that installed webgpu-dcgan would (docs/own-model.md walks through it):
//
//   node --import webgpu-dcgan/register stripes-classifier.ts [--steps 30]
//   (here: node --import ./scripts/register.mjs examples/stripes-classifier.ts)
//
// Prints the loss every few steps and the accuracy at the end; test/package.test.ts runs it and checks
// that the loss goes down.
import { parseArgs } from 'node:util';
import { Adam, Conv2d, ReLU, Sequential, Tensor, backward, bceWithLogits, noGrad, seedStream, sigmoid, tidy } from 'webgpu-dcgan';
import { closeDevice, nodeDevice } from 'webgpu-dcgan/node';

const SIZE = 8;
const BATCH = 32;

/** A batch of stripe pictures in [−1, 1] with a little noise, NCHW [BATCH, 1, 8, 8], and labels 1 (horizontal) / 0 (vertical). */
function stripes(seed: number): { images: Float32Array; labels: Float32Array } {
  let state = seed >>> 0;
  const random = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32); // a small LCG: the example needs no seeded library
  const images = new Float32Array(BATCH * SIZE * SIZE);
  const labels = new Float32Array(BATCH);
  for (let n = 0; n < BATCH; n++) {
    const horizontal = n % 2 === 0;
    const phase = Math.floor(random() * 2);
    labels[n] = horizontal ? 1 : 0;
    for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) {
      const along = horizontal ? y : x; // the stripes alternate along this axis
      images[(n * SIZE + y) * SIZE + x] = ((along + phase) % 2 ? 1 : -1) * 0.8 + (random() - 0.5) * 0.4;
    }
  }
  return { images, labels };
}

async function main(steps: number): Promise<void> {
  const { adapter } = await nodeDevice({ quiet: true });
  console.log(`device: ${adapter.description || adapter.vendor}`);
  const seed = seedStream(1); // seeded weight init, N(0, 0.02) as the DCGAN's
  // [32, 1, 8, 8] → conv 4x4 stride 2 → [32, 16, 4, 4] → ReLU → conv 4x4 → [32, 1, 1, 1]: one logit per picture
  const model = new Sequential([
    new Conv2d(1, 16, 4, { stride: 2, padding: 1 }, seed),
    new ReLU(),
    new Conv2d(16, 1, 4, { stride: 1, padding: 0 }, seed),
  ]);
  const optimizer = new Adam(model.parameters(), { lr: 0.005 });
  const x = Tensor.empty([BATCH, 1, SIZE, SIZE], 'pictures');
  const y = Tensor.empty([BATCH, 1, 1, 1], 'labels');

  for (let step = 0; step < steps; step++) {
    const batch = stripes(step);
    x.write(batch.images);
    y.write(batch.labels);
    const loss = tidy(() => {
      model.zeroGrad();
      const l = bceWithLogits(model.forward(x), y); // mean BCE of sigmoid(logit) against the label
      backward(l); // dL/dw into every parameter's .grad
      optimizer.step(); // recorded after backward's kernels, so it reads their gradients
      return l;
    });
    const [value] = await loss.read(); // waits for the GPU: only for printing
    loss.dispose();
    if (step % 5 === 0 || step === steps - 1) console.log(`step ${step} loss ${value.toFixed(4)}`);
  }

  // accuracy on pictures it has not seen
  const test = stripes(1_000_003);
  x.write(test.images);
  const p = noGrad(() => tidy(() => sigmoid(model.forward(x))));
  const predicted = await p.read();
  p.dispose();
  const correct = predicted.filter((v, n) => (v > 0.5 ? 1 : 0) === test.labels[n]).length;
  console.log(`accuracy ${correct}/${BATCH}`);
  for (const t of [x, y]) t.dispose();
  optimizer.dispose();
  model.dispose();
  await closeDevice(); // Dawn's threads must not outlive the device at exit
}

const { values } = parseArgs({ options: { steps: { type: 'string', default: '30' } } });
await main(Number(values.steps));
