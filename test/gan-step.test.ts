// What one GanTraining step leaves in D's gradients. The G step freezes D (src/train/gan.ts): PyTorch's
// example computes D's weight gradients in errG.backward() and throws them away at the next
// netD.zero_grad(); here they are not computed at all. So after a step, D's gradients are exactly those
// of the D step: the same step done by hand, on a twin with the same seed, gives the same numbers.
import { describe, expect, it } from 'vitest';
import { useGpu } from './support/node-device.ts';
import { download } from './support/check.ts';
import { GanTraining, iterationSeed, type TrainingConfig } from '../src/train/gan.ts';
import { Tensor, tidy } from '../src/gpu/tensor.ts';
import { backward } from '../src/autograd/tape.ts';
import { bceWithLogits } from '../src/autograd/loss.ts';
import { fill } from '../src/kernels/elementwise.ts';
import { randomNormal } from '../src/kernels/random.ts';

useGpu();

const CONFIG: TrainingConfig = { model: { imageSize: 16, nz: 8, ngf: 4, ndf: 4, nc: 3 }, batchSize: 4, lr: 2e-4, beta1: 0.5, seed: 11 };

describe('a training step', () => {
  it("leaves D's gradients as the D step made them: the G step computes none for D", async () => {
    const { batchSize: n, model } = CONFIG;
    const images = Float32Array.from({ length: n * 3 * model.imageSize ** 2 }, (_, i) => Math.sin(i * 0.37) * 0.9);
    const stepped = new GanTraining(CONFIG, 1);
    await stepped.step(images);
    const afterStep = await Promise.all(stepped.discriminator.parameters().map((p) => download(p.grad!)));

    // the D step alone, on a twin (the same weights and noise for iteration 0)
    const twin = new GanTraining(CONFIG, 1);
    const { generator: G, discriminator: D } = twin;
    tidy(() => {
      D.zeroGrad();
      const real = Tensor.fromArray(images, [n, 3, model.imageSize, model.imageSize]);
      backward(bceWithLogits(D.logits(real), fill([n, 1, 1, 1], 1)));
      const fake = G.forward(randomNormal([n, model.nz, 1, 1], 0, 1, iterationSeed(CONFIG.seed, 0)));
      backward(bceWithLogits(D.logits(fake.detach()), fill([n, 1, 1, 1], 0)));
    });
    const dStepOnly = await Promise.all(D.parameters().map((p) => download(p.grad!)));

    expect(afterStep.length).toBe(dStepOnly.length);
    afterStep.forEach((g, i) => expect([...g], `D parameter ${i}`).toEqual([...dStepOnly[i]]));
    stepped.dispose();
    twin.dispose();
  });
});
