// Issue 14's generator options on tiny models: the moving average of G's weights (--ema), drawing
// samples by the batch's or the running batchnorm statistics (--bn train|eval), and G's nearest-neighbour
// doublings (--g-upsample nearest): its PyTorch key layout, the shapes the conv tuner and the memory
// check see, and (in test/dcgan.test.ts) its gradients against the float64 reference model.
import { describe, expect, it } from 'vitest';
import { useGpu } from './support/node-device.ts';
import { assertClose, download, randomArray, rng, upload } from './support/check.ts';
import { referenceOf } from './support/reference-model.ts';
import { Tensor, keep } from '../src/gpu/tensor.ts';
import { movingAverageInto } from '../src/kernels/elementwise.ts';
import { randomNormal } from '../src/kernels/random.ts';
import { Generator, createDcgan, generatorStateShapes, largestActivationPerImage, parseGeneratorUpsample, seedStream, type DcganConfig } from '../src/model/dcgan.ts';
import { inferModelState } from '../src/train/state-dict.ts';
import { BatchNorm2d } from '../src/model/layers.ts';
import { convLayerShapes } from '../src/model/conv-layers.ts';
import { GanTraining, sampleImages, type TrainingConfig } from '../src/train/gan.ts';
import { decodeCheckpoint, encodeCheckpoint, restoreTraining } from '../src/train/checkpoint.ts';

useGpu();

const tiny: DcganConfig = { imageSize: 16, nz: 8, ngf: 4, ndf: 4, nc: 3 };
const training = (model: DcganConfig, ema?: number): TrainingConfig => ({ model, batchSize: 4, lr: 2e-4, beta1: 0.5, seed: 3, ...(ema ? { ema } : {}) });
const batchOf = (seed: number) => Float32Array.from(randomArray(4 * 3 * 16 * 16, rng(seed)));
const arenaValues = async (g: Generator) => Float64Array.from(await g.parameterArena!.whole.read());

describe('generator moving average (--ema)', () => {
  it('movingAverageInto is a ← d·a + (1 − d)·b, element by element', async () => {
    const r = rng(11);
    const [a, b] = [randomArray(1000, r), randomArray(1000, r)];
    const average = keep(upload(a, [1000]));
    movingAverageInto(average, keep(upload(b, [1000])), 0.9);
    assertClose('moving average', await download(average), a.map((v, i) => 0.9 * v + 0.1 * b[i]), 1e-6);
    expect(() => movingAverageInto(average, keep(upload(b.subarray(0, 10), [10])), 0.9)).toThrow(/shapes \[1000\] and \[10\] differ/);
  });

  it("follows G's weights step by step as the float64 recurrence does, starting from G's initial weights", async () => {
    const decay = 0.7; // far from 1 so a few steps move the average well away from any one state of G
    const t = new GanTraining(training(tiny, decay), 4);
    let expected = await arenaValues(t.generator);
    expect(Array.from(await arenaValues(t.average!.generator))).toEqual(Array.from(expected));
    for (let i = 0; i < 3; i++) {
      await t.step(batchOf(i));
      const w = await arenaValues(t.generator);
      expected = expected.map((e, j) => decay * e + (1 - decay) * w[j]);
    }
    const averaged = await arenaValues(t.average!.generator);
    assertClose('EMA after 3 steps', averaged, expected, 1e-5);
    // a property, not a tautology: the average is neither G's initial nor its current weights
    const current = await arenaValues(t.generator);
    expect(averaged.some((v, j) => Math.abs(v - current[j]) > 1e-6)).toBe(true);
    t.dispose();
  });

  it('with a warm-up, the decay of step t is 1 − 1/min(1/(1 − d), max(1, r·t)): G copied first, then the float64 recurrence', async () => {
    const decay = 0.9, rampup = 0.5; // horizon 1 (a copy) for steps 1-2, then 1.5, 2, ... up to 10
    const t = new GanTraining({ ...training(tiny, decay), emaRampup: rampup }, 4);
    expect([1, 2, 3, 4, 10, 20, 40].map((s) => t.average!.decayAt(s))).toEqual([0, 0, 1 - 1 / 1.5, 0.5, 0.8, 0.9, 0.9]);
    let expected = await arenaValues(t.generator);
    for (let i = 0; i < 4; i++) {
      await t.step(batchOf(i));
      const w = await arenaValues(t.generator);
      const d = 1 - 1 / Math.min(1 / (1 - decay), Math.max(1, rampup * (i + 1)));
      expected = expected.map((e, j) => d * e + (1 - d) * w[j]);
      if (i === 0) expect(Array.from(await arenaValues(t.average!.generator))).toEqual(Array.from(w)); // step 1 copies G
    }
    assertClose('EMA with warm-up after 4 steps', await arenaValues(t.average!.generator), expected, 1e-5);
    // without the warm-up (a run from before it) the first step keeps 90% of the initial weights
    const constant = new GanTraining(training(tiny, decay), 4);
    expect(constant.average!.decayAt(1)).toBe(decay);
    t.dispose();
    constant.dispose();
  });

  it("is saved under emaG. with PyTorch's key names (G's batchnorm statistics) and restored on resume", async () => {
    const t = new GanTraining(training(tiny, 0.9), 4);
    await t.step(batchOf(1));
    await t.step(batchOf(2));
    const bytes = await encodeCheckpoint(t, { epoch: 0, batchInEpoch: 2 });
    const checkpoint = decodeCheckpoint(bytes, 'ema checkpoint');
    const netG = [...checkpoint.tensors.keys()].filter((k) => k.startsWith('netG.')).map((k) => k.slice(5));
    const emaG = [...checkpoint.tensors.keys()].filter((k) => k.startsWith('emaG.')).map((k) => k.slice(5));
    expect(emaG).toEqual(netG); // a whole generator state_dict, buffers and counters included
    expect(checkpoint.tensors.get('emaG.main.1.running_mean')!.data).toEqual(checkpoint.tensors.get('netG.main.1.running_mean')!.data);
    expect(checkpoint.tensors.get('emaG.main.0.weight')!.data).not.toEqual(checkpoint.tensors.get('netG.main.0.weight')!.data);

    const resumed = new GanTraining(checkpoint.config, 4);
    restoreTraining(resumed, checkpoint);
    await t.step(batchOf(3));
    await resumed.step(batchOf(3));
    expect(Array.from(await arenaValues(resumed.average!.generator))).toEqual(Array.from(await arenaValues(t.average!.generator)));

    const plain = new GanTraining(training(tiny), 4);
    const plainCheckpoint = decodeCheckpoint(await encodeCheckpoint(plain, { epoch: 0, batchInEpoch: 0 }), 'plain');
    expect(() => restoreTraining(resumed, plainCheckpoint)).toThrow(/no emaG\. tensors/);
    for (const x of [t, resumed, plain]) x.dispose();
  });
});

describe('sampling mode (--bn train|eval)', () => {
  it("train mode normalizes by the drawn batch's statistics and leaves the running ones; eval uses the running ones", async () => {
    const t = new GanTraining(training(tiny), 6);
    for (let i = 0; i < 3; i++) await t.step(batchOf(i)); // running statistics away from their initial 0 and 1
    const G = t.generator;
    const batchnorms = G.layers.filter((l): l is BatchNorm2d => l instanceof BatchNorm2d);
    const before = await Promise.all(batchnorms.flatMap((b) => [download(b.runningMean), download(b.runningVar)]));
    const counters = batchnorms.map((b) => b.numBatchesTracked);
    const noise = Float64Array.from(await t.fixedNoise.read());
    const shape = [...t.fixedNoise.shape];

    const ref = await referenceOf(G);
    const trained = await sampleImages(G, t.fixedNoise, 'train');
    assertClose('train-mode samples', trained, ref.forward(noise, shape).y, 1e-4);
    const after = await Promise.all(batchnorms.flatMap((b) => [download(b.runningMean), download(b.runningVar)]));
    after.forEach((a, i) => expect(Array.from(a), `running statistics ${i}`).toEqual(Array.from(before[i])));
    expect(batchnorms.map((b) => b.numBatchesTracked)).toEqual(counters);

    const refEval = await referenceOf(G);
    for (const l of refEval.layers) l.training = false;
    const evaluated = await sampleImages(G, t.fixedNoise, 'eval');
    assertClose('eval-mode samples', evaluated, refEval.forward(noise, shape).y, 1e-4);
    expect(trained.some((v, i) => Math.abs(v - evaluated[i]) > 1e-3)).toBe(true);
    // train mode: an image depends on the batch it is drawn in
    const firstTwo = keep(Tensor.fromArray(noise.subarray(0, 2 * tiny.nz), [2, tiny.nz, 1, 1]));
    const alone = await sampleImages(G, firstTwo, 'train');
    expect(alone.some((v, i) => Math.abs(v - trained[i]) > 1e-3)).toBe(true);
    assertClose('eval mode: an image does not depend on its batch', await sampleImages(G, firstTwo, 'eval'), evaluated.subarray(0, alone.length), 1e-5);
    // G is back in train mode, updating its statistics, for the next training step
    expect(G.layers.every((l) => l.training) && batchnorms.every((b) => b.updateRunningStats)).toBe(true);
    t.dispose();
  });

  it('grids draw with the averaged weights when asked and kept, else with G', async () => {
    const t = new GanTraining(training(tiny, 0.5), 4);
    await t.step(batchOf(1));
    const ema = await t.sample(t.fixedNoise, { bn: 'eval', weights: 'ema' });
    const plain = await t.sample(t.fixedNoise, { bn: 'eval', weights: 'plain' });
    expect(ema.some((v, i) => v !== plain[i])).toBe(true);
    expect(Array.from(await sampleImages(t.average!.averaged(), t.fixedNoise, 'eval'))).toEqual(Array.from(ema));
    expect(Array.from(await sampleImages(t.generator, t.fixedNoise, 'eval'))).toEqual(Array.from(plain));
    const without = new GanTraining(training(tiny), 4);
    expect(without.samplingGenerator('ema')).toBe(without.generator);
    t.dispose();
    without.dispose();
  });
});

describe('nearest-neighbour doublings (--g-upsample nearest)', () => {
  const nearest32: DcganConfig = { imageSize: 32, nz: 8, ngf: 4, ndf: 4, nc: 3, gUpsample: 'nearest' };

  it("keeps PyTorch's Sequential indices: Upsample takes an index, each doubling is a 3x3 stride-1 padding-1 Conv2d", () => {
    const G = new Generator(nearest32, seedStream(1));
    expect(G.layers.map((l) => l.kind)).toEqual([
      'ConvTranspose2d', 'BatchNorm2d', 'ReLU',
      'Upsample', 'Conv2d', 'BatchNorm2d', 'ReLU',
      'Upsample', 'Conv2d', 'BatchNorm2d', 'ReLU',
      'Upsample', 'Conv2d', 'Tanh',
    ]);
    expect(G.namedParameters().map(([k, t]) => `${k} [${t.shape}]`)).toEqual([
      'main.0.weight [8,16,4,4]', 'main.1.weight [16]', 'main.1.bias [16]',
      'main.4.weight [8,16,3,3]', 'main.5.weight [8]', 'main.5.bias [8]',
      'main.8.weight [4,8,3,3]', 'main.9.weight [4]', 'main.9.bias [4]',
      'main.12.weight [3,4,3,3]',
    ]);
    // the state_dict layout the weights reader checks files against is this model's, and a file of it is read as the nearest G
    const shapes = generatorStateShapes(nearest32);
    const tensors = [...G.namedParameters(), ...G.namedBuffers()];
    expect(tensors.map(([k, t]) => `${k} [${t.shape}]`)).toEqual(tensors.map(([k]) => `${k} [${shapes.get(k)}]`));
    const file = new Map([...shapes].map(([k, shape]) => [k, k.endsWith('num_batches_tracked')
      ? { dtype: 'I64' as const, shape, data: BigInt64Array.of(0n) }
      : { dtype: 'F32' as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }]));
    expect(inferModelState('G', { prefix: '', tensors: file }, 'nearest.safetensors').sizes).toEqual({ imageSize: 32, nz: 8, ngf: 4, nc: 3, gUpsample: 'nearest' });
    expect(parseGeneratorUpsample('nearest')).toBe('nearest');
    expect(() => parseGeneratorUpsample('bilinear')).toThrow(/--g-upsample must be transposed or nearest, got 'bilinear'/);
    G.dispose();
  });

  it('largestActivationPerImage is the largest output of any layer, for both kinds of G', async () => {
    for (const gUpsample of ['transposed', 'nearest'] as const) {
      const config = { ...nearest32, gUpsample };
      const { generator: G, discriminator: D } = createDcgan(config, 2);
      let largest = config.nc * config.imageSize ** 2;
      const noise = keep(randomNormal([2, config.nz, 1, 1], 0, 1, 5));
      for (let upTo = 1; upTo <= G.layers.length; upTo++) largest = Math.max(largest, G.forward(noise, upTo).size / 2);
      const images = G.forward(noise);
      for (let upTo = 1; upTo <= D.layers.length; upTo++) largest = Math.max(largest, D.forward(images, upTo).size / 2);
      expect(largestActivationPerImage(config), gUpsample).toBe(largest);
      G.dispose();
      D.dispose();
    }
    // with a wide G the last doubling's upsampled input (ngf channels at the full size) is the largest:
    // 4x the transposed G's largest (ngf channels at half the size)
    expect(largestActivationPerImage({ ...nearest32, ngf: 64, ndf: 1 })).toBe(64 * 32 * 32);
    expect(largestActivationPerImage({ ...nearest32, ngf: 64, ndf: 1, gUpsample: 'transposed' })).toBe(64 * 16 * 16);
  });

  it("the conv tuner sees G's 3x3 stride-1 convs at the upsampled sizes", () => {
    const g = convLayerShapes(nearest32, 5).filter((l) => l.name.startsWith('G.'));
    expect(g.map((l) => l.name)).toEqual(['G.main.0 ConvT 8→16 1→4', 'G.main.4 Conv 16→8 8→8', 'G.main.8 Conv 8→4 16→16', 'G.main.12 Conv 4→3 32→32']);
    expect(g[1]).toMatchObject({ transposed: false, x: [5, 16, 8, 8], w: [8, 16, 3, 3], y: [5, 8, 8, 8], options: { stride: 1, padding: 1 } });
  });
});
