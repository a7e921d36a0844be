// A whole small DCGAN (16x16 images, ngf = ndf = 8, batch 4): one discriminator step and one generator
// step through GPU autograd give the same gradients as the float64 reference model, batchnorm running
// statistics agree, and one Adam step moves the parameters as the reference Adam does; for both kinds of
// G (--g-upsample transposed, and nearest: Upsample + 3x3 conv doublings).
import { describe, expect, it } from 'vitest';
import { useGpu } from './support/node-device.ts';
import { assertClose, download, randomArray, rng, upload } from './support/check.ts';
import { referenceOf } from './support/reference-model.ts';
import { createDcgan, type DcganConfig } from '../src/model/dcgan.ts';
import { tidy } from '../src/gpu/tensor.ts';
import { backward } from '../src/autograd/tape.ts';
import { bceWithLogits } from '../src/autograd/loss.ts';
import { fill } from '../src/kernels/elementwise.ts';
import { Adam } from '../src/optim/adam.ts';
import * as refLoss from '../src/reference/loss.ts';
import { adamStep } from '../src/reference/adam.ts';
import type { Sequential } from '../src/model/layers.ts';
import type { ReferenceSequential } from '../src/reference/dcgan.ts';

useGpu();

const configs: DcganConfig[] = (['transposed', 'nearest'] as const).map((gUpsample) => ({ imageSize: 16, nz: 10, ngf: 8, ndf: 8, nc: 3, gUpsample }));
const batch = 4;
// The same bound as single ops: float32 error through 5-9 layers and two batchnorms stays under it here.
const MODEL_TOLERANCE = 1e-4;

async function expectSameGradients(what: string, gpuModel: Sequential, ref: ReferenceSequential) {
  const refGrads = new Map(ref.namedGrads());
  const named = gpuModel.namedParameters();
  expect(named.length).toBe(refGrads.size);
  for (const [key, p] of named) {
    expect(p.grad, `${what}: ${key} has no gradient`).not.toBeNull();
    assertClose(`${what} gradient ${key}`, await download(p.grad!), refGrads.get(key)!, MODEL_TOLERANCE);
  }
}

async function expectSameTensors(what: string, gpuModel: Sequential, ref: ReferenceSequential) {
  const refTensors = new Map(ref.namedTensors());
  for (const [key, t] of [...gpuModel.namedParameters(), ...gpuModel.namedBuffers()]) {
    assertClose(`${what} ${key}`, await download(t), refTensors.get(key)!, MODEL_TOLERANCE);
  }
}

describe.each(configs)('small DCGAN ($gUpsample G): GPU autograd vs the float64 reference model', (config) => {
  it('D step, G step and Adam step agree', async () => {
    const r = rng(7);
    const { generator: G, discriminator: D } = createDcgan(config, 1234);
    const refG = await referenceOf(G);
    const refD = await referenceOf(D);
    const realShape = [batch, config.nc, config.imageSize, config.imageSize];
    const noiseShape = [batch, config.nz, 1, 1];
    const real = randomArray(realShape.reduce((a, b) => a * b), r);
    const noise = randomArray(noiseShape.reduce((a, b) => a * b), r);
    const dLast = D.layers.length - 1; // logits: stop before the Sigmoid
    const ones = new Float64Array(batch).fill(1);
    const zeros = new Float64Array(batch);

    // ---- discriminator step: BCE(D(x), 1) + BCE(D(G(z).detach()), 0), gradients accumulate in D
    const [lossReal, lossFake] = tidy(() => {
      const errReal = bceWithLogits(D.logits(upload(real, realShape)), fill([batch, 1, 1, 1], 1));
      backward(errReal);
      const fake = G.forward(upload(noise, noiseShape));
      const errFake = bceWithLogits(D.logits(fake.detach()), fill([batch, 1, 1, 1], 0));
      backward(errFake);
      return [errReal, errFake];
    });
    const outReal = refD.forward(real, realShape, dLast);
    refD.backward(refLoss.bceWithLogitsBackward(outReal.y, ones), dLast);
    const fakeRef = refG.forward(noise, noiseShape);
    const outFake = refD.forward(fakeRef.y, fakeRef.shape, dLast);
    refD.backward(refLoss.bceWithLogitsBackward(outFake.y, zeros), dLast);

    assertClose('loss on real', await download(lossReal), [refLoss.bceWithLogitsForward(outReal.y, ones)], MODEL_TOLERANCE);
    assertClose('loss on fake', await download(lossFake), [refLoss.bceWithLogitsForward(outFake.y, zeros)], MODEL_TOLERANCE);
    lossReal.dispose();
    lossFake.dispose();
    await expectSameGradients('D step', D, refD);
    await expectSameTensors('after D step, running statistics', D, refD);

    // ---- generator step: BCE(D(G(z)), 1), gradients flow through D into G
    D.zeroGrad();
    refD.zeroGrad();
    const lossG = tidy(() => {
      const errG = bceWithLogits(D.logits(G.forward(upload(noise, noiseShape))), fill([batch, 1, 1, 1], 1));
      backward(errG);
      return errG;
    });
    const fakeRef2 = refG.forward(noise, noiseShape);
    const outG = refD.forward(fakeRef2.y, fakeRef2.shape, dLast);
    const dFake = refD.backward(refLoss.bceWithLogitsBackward(outG.y, ones), dLast);
    refG.backward(dFake);
    assertClose('generator loss', await download(lossG), [refLoss.bceWithLogitsForward(outG.y, ones)], MODEL_TOLERANCE);
    lossG.dispose();
    await expectSameGradients('G step', G, refG);

    // ---- one Adam step on G, DCGAN hyper-parameters
    const options = { lr: 2e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
    const optimizer = new Adam(G.parameters(), options);
    optimizer.step();
    const refGrads = new Map(refG.namedGrads());
    for (const [key, param] of refG.namedTensors()) {
      const grad = refGrads.get(key);
      if (grad) adamStep(param, grad, new Float64Array(param.length), new Float64Array(param.length), options, 1);
    }
    await expectSameTensors('after one Adam step', G, refG);

    optimizer.dispose();
    G.dispose();
    D.dispose();
  });
});
