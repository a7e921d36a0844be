// The layer lists are written once (generatorSpec, discriminatorSpec) and everything else about the
// architecture comes from the shape-only walk over them (src/model/architecture.ts): here the walk is held
// against the GPU models built from the same lists, for both kinds of G at 32 and 64 px: each layer's
// kind, input and output shapes and tensors, the conv layers the tuner sees, and the largest activation. And a
// Sequential's stateDict() goes back in with loadStateDict(), counters included.
import { describe, expect, it } from 'vitest';
import { useGpu } from './support/node-device.ts';
import { keep, sizeOf, tidy, type Tensor } from '../src/gpu/tensor.ts';
import { randomNormal } from '../src/kernels/random.ts';
import {
  createDcgan, discriminatorShapes, discriminatorStateShapes, generatorShapes, generatorStateShapes, largestActivationPerImage, type DcganConfig,
} from '../src/model/dcgan.ts';
import { convLayerShapes } from '../src/model/conv-layers.ts';
import { BatchNorm2d, ConvTranspose2d, Conv2d, type Sequential } from '../src/model/layers.ts';
import type { LayerShape } from '../src/model/architecture.ts';

useGpu();

const batch = 2;
const configs: DcganConfig[] = [32, 64].flatMap((imageSize) =>
  (['transposed', 'nearest'] as const).map((gUpsample) => ({ imageSize, nz: 8, ngf: 4, ndf: 4, nc: 3, gUpsample })));

/** A model's state_dict as key → shape (a counter's is []), sorted by key. */
const stateShapesOf = (model: Sequential) =>
  [...model.stateDict()].map(([k, v]): [string, number[]] => [k, typeof v === 'number' ? [] : [...v.shape]]).sort(([a], [b]) => a.localeCompare(b));
const sorted = (m: Map<string, number[]>) => [...m].sort(([a], [b]) => a.localeCompare(b));

/** The shape after each layer when the GPU model runs `input` through its first 1, 2, ... layers. */
function gpuOutputShapes(model: Sequential, input: Tensor): number[][] {
  return model.layers.map((_, i) => tidy(() => [...model.forward(input, i + 1).shape]));
}

describe.each(configs)('the shape-only walk vs the GPU models ($imageSize px, $gUpsample G)', (config) => {
  it("gives each layer's kind, output shape and tensors, the tuner's conv layers and the largest activation", () => {
    const { generator: G, discriminator: D } = createDcgan(config, 1);
    const walks: [Sequential, LayerShape[]][] = [[G, generatorShapes(config, batch)], [D, discriminatorShapes(config, batch)]];
    const noise = keep(randomNormal([batch, config.nz, 1, 1], 0, 1, 3));
    const images = keep(tidy(() => G.forward(noise)));
    const inputs = [noise, images];
    const gpuShapes = walks.map(([model, walk], m) => {
      expect(walk.map((l) => l.spec.kind)).toEqual(model.layers.map((l) => l.kind));
      const outputs = gpuOutputShapes(model, inputs[m]);
      expect(walk.map((l) => [...l.y])).toEqual(outputs);
      expect(walk.map((l) => [...l.x])).toEqual([[...inputs[m].shape], ...outputs.slice(0, -1)]);
      return outputs;
    });
    // the GPU models' largest output per image (G's last is D's input, the images)
    expect(largestActivationPerImage(config)).toBe(Math.max(...gpuShapes.flat().map((shape) => sizeOf(shape) / batch)));
    expect(sorted(generatorStateShapes(config))).toEqual(stateShapesOf(G));
    expect(sorted(discriminatorStateShapes(config))).toEqual(stateShapesOf(D));
    // each conv layer the tuner and the bench see is the GPU model's layer at that index, with its weight
    for (const l of convLayerShapes(config, batch)) {
      const [tag, key] = l.name.split(' ')[0].split('.main.');
      const layer = (tag === 'G' ? G : D).layers[Number(key)];
      expect(layer, l.name).toBeInstanceOf(l.transposed ? ConvTranspose2d : Conv2d);
      expect([...(layer as Conv2d).weight.shape], l.name).toEqual([...l.w]);
      expect((layer as Conv2d).options, l.name).toEqual(l.options);
    }
    for (const t of [noise, images, G, D]) t.dispose();
  });
});

describe('stateDict / loadStateDict', () => {
  const config = configs[1]; // 32 px, nearest: its Upsample layers take indices, so keys skip some
  /** A state_dict's values on the CPU: key → a counter's number or a tensor's values. */
  const read = async (model: Sequential): Promise<Record<string, number | number[]>> =>
    Object.fromEntries(await Promise.all([...model.stateDict()].map(async ([k, v]) => [k, typeof v === 'number' ? v : Array.from(await v.read())])));

  it('round-trips every parameter, running statistic and counter, from tensors or their values', async () => {
    const { generator: source } = createDcgan(config, 1);
    const noise = keep(randomNormal([batch, config.nz, 1, 1], 0, 1, 4));
    for (let i = 0; i < 3; i++) tidy(() => source.forward(noise)); // running statistics away from 0 and 1, counters at 3
    const saved = await read(source);
    expect(Object.keys(saved)).toContain('main.5.num_batches_tracked');
    expect(saved['main.5.num_batches_tracked']).toBe(3);

    const { generator: fromTensors } = createDcgan(config, 2);
    expect(await read(fromTensors)).not.toEqual(saved);
    fromTensors.loadStateDict(source.stateDict());
    expect(await read(fromTensors)).toEqual(saved);

    const { generator: fromValues } = createDcgan(config, 3);
    fromValues.loadStateDict(new Map(Object.entries(saved).map(([k, v]) => [k, typeof v === 'number' ? v : Float32Array.from(v)])));
    expect(await read(fromValues)).toEqual(saved);
    expect((fromValues.layers[1] as BatchNorm2d).numBatchesTracked).toBe(3);

    // a missing tensor is an error; a missing counter leaves the layer's
    const withoutWeight = new Map(source.stateDict());
    withoutWeight.delete('main.4.weight');
    expect(() => fromValues.loadStateDict(withoutWeight)).toThrow(/the state_dict has no tensor main\.4\.weight/);
    const withoutCounters = new Map([...source.stateDict()].filter(([k]) => !k.endsWith('num_batches_tracked')));
    (fromValues.layers[1] as BatchNorm2d).numBatchesTracked = 9;
    fromValues.loadStateDict(withoutCounters);
    expect((fromValues.layers[1] as BatchNorm2d).numBatchesTracked).toBe(9);
    for (const t of [noise, source, fromTensors, fromValues]) t.dispose();
  });
});
