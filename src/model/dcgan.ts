// The DCGAN of Radford et al., laid out as PyTorch's official example (nz=100, ngf=ndf=64, 64x64 RGB):
// G maps noise [N, nz, 1, 1] to images [N, 3, S, S] in [-1, 1] by transposed convs that double the size;
// D mirrors it with strided convs down to one logit per image. The layer count follows the image size
// (32, 64, 128 ...): S = 4 · 2^(blocks), so a 64x64 model has 3 middle blocks, as in the example.
// G's doubling layers come in two kinds (DcganConfig.gUpsample):
//   'transposed' (the example's): ConvTranspose2d(in, out, 4, 2, 1), whose uneven kernel overlap draws the
//     checkerboard of Odena et al. 2016;
//   'nearest': nn.Upsample(scale_factor=2, mode='nearest') then Conv2d(in, out, 3, 1, 1), which cannot
//     (each output pixel sees the same number of kernel taps). Its Upsample has no tensors but takes an
//     index, so the keys shift. At 32x32 (3 doublings, c = ngf):
//       transposed: main.0 ConvT(nz→4c, 4,1,0) 1 BN 2 ReLU | 3 ConvT(4c→2c) 4 BN 5 ReLU | 6 ConvT(2c→c) 7 BN 8 ReLU | 9 ConvT(c→3) 10 Tanh
//       nearest:    main.0 ConvT(nz→4c, 4,1,0) 1 BN 2 ReLU | 3 Up 4 Conv(4c→2c, 3,1,1) 5 BN 6 ReLU | 7 Up 8 Conv(2c→c) 9 BN 10 ReLU | 11 Up 12 Conv(c→3) 13 Tanh
//   A PyTorch user rebuilds the nearest G (and load_state_dict takes the checkpoint's netG. keys) with
//     nn.Sequential(nn.ConvTranspose2d(nz, c*4, 4, 1, 0, bias=False), nn.BatchNorm2d(c*4), nn.ReLU(True),
//       *[m for i, o in [(c*4, c*2), (c*2, c)] for m in (nn.Upsample(scale_factor=2, mode='nearest'),
//         nn.Conv2d(i, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(True))],
//       nn.Upsample(scale_factor=2, mode='nearest'), nn.Conv2d(c, 3, 3, 1, 1, bias=False), nn.Tanh())
//   assigned to the module's `main` (as the example's Generator does).
import { Tensor } from '../gpu/tensor.ts';
import { mixSeeds } from '../util/seeds.ts';
import { BatchNorm2d, Conv2d, ConvTranspose2d, LeakyReLU, ReLU, Sequential, Sigmoid, Tanh, Upsample, type InitSeed, type Layer } from './layers.ts';

export interface DcganConfig {
  imageSize: number; // 16, 32, 64, 128, ... (a power of two ≥ 8)
  nz: number; // length of the noise vector
  ngf: number; // generator feature maps at the last block
  ndf: number; // discriminator feature maps at the first block
  nc: number; // image channels
  /** how G doubles the size (see the header); absent means 'transposed', as in checkpoints made before the choice */
  gUpsample?: GeneratorUpsample;
}

export type GeneratorUpsample = 'transposed' | 'nearest';
export const G_UPSAMPLE_MODES: readonly GeneratorUpsample[] = ['transposed', 'nearest'];

export const DEFAULT_CONFIG: DcganConfig = { imageSize: 64, nz: 100, ngf: 64, ndf: 64, nc: 3, gUpsample: 'transposed' };

/** A --g-upsample value, or one line saying which are accepted. */
export function parseGeneratorUpsample(value: string): GeneratorUpsample {
  if ((G_UPSAMPLE_MODES as readonly string[]).includes(value)) return value as GeneratorUpsample;
  throw new Error(`--g-upsample must be ${G_UPSAMPLE_MODES.join(' or ')}, got '${value}'`);
}

/** Number of stride-2 up (G) or down (D) layers: 64 → 4, so G goes 1 → 4 → 8 → 16 → 32 → 64. */
export function stridedLayers(imageSize: number): number {
  const n = Math.log2(imageSize / 4);
  if (!Number.isInteger(n) || n < 1) throw new Error(`image size ${imageSize} is not supported: use a power of two ≥ 8 (32, 64, 128)`);
  return n;
}

/** A reproducible stream of per-tensor seeds from one run seed. */
export function seedStream(seed: number): InitSeed {
  let i = 0;
  return { next: () => mixSeeds(seed, ++i) };
}

function generatorLayers(c: DcganConfig, seed: InitSeed): Layer[] {
  const n = stridedLayers(c.imageSize);
  let channels = c.ngf * 2 ** (n - 1);
  const layers: Layer[] = [
    new ConvTranspose2d(c.nz, channels, 4, { stride: 1, padding: 0 }, seed), // 1x1 → 4x4
    new BatchNorm2d(channels, seed),
    new ReLU(),
  ];
  const nearest = (c.gUpsample ?? 'transposed') === 'nearest';
  /** in → out channels at twice the size: the example's transposed conv, or Upsample + a 3x3 conv */
  const doubling = (inChannels: number, outChannels: number): Layer[] =>
    nearest
      ? [new Upsample(), new Conv2d(inChannels, outChannels, 3, { stride: 1, padding: 1 }, seed)]
      : [new ConvTranspose2d(inChannels, outChannels, 4, { stride: 2, padding: 1 }, seed)];
  for (let i = 1; i < n; i++) {
    layers.push(...doubling(channels, channels / 2), new BatchNorm2d(channels / 2, seed), new ReLU());
    channels /= 2;
  }
  layers.push(...doubling(channels, c.nc), new Tanh());
  return layers;
}

function discriminatorLayers(c: DcganConfig, seed: InitSeed): Layer[] {
  const n = stridedLayers(c.imageSize);
  let channels = c.ndf;
  const layers: Layer[] = [new Conv2d(c.nc, channels, 4, { stride: 2, padding: 1 }, seed), new LeakyReLU(0.2)];
  for (let i = 1; i < n; i++) {
    layers.push(new Conv2d(channels, channels * 2, 4, { stride: 2, padding: 1 }, seed), new BatchNorm2d(channels * 2, seed), new LeakyReLU(0.2));
    channels *= 2;
  }
  layers.push(new Conv2d(channels, 1, 4, { stride: 1, padding: 0 }, seed), new Sigmoid()); // 4x4 → 1x1
  return layers;
}

/**
 * G's state_dict as PyTorch names and shapes it, in its order (key → shape), computed from the config
 * alone: what a weights file must hold to be this generator (src/train/state-dict.ts checks files against
 * it). Follows generatorLayers: transposed conv i at main.{3i} ([in, out, 4, 4]), its batchnorm at
 * main.{3i+1}, the last conv at main.{3n}.
 */
export function generatorStateShapes(c: DcganConfig): Map<string, number[]> {
  const n = stridedLayers(c.imageSize);
  const shapes = new Map<string, number[]>();
  let channels = c.ngf * 2 ** (n - 1);
  let input = c.nz;
  if (c.gUpsample === 'nearest') {
    // main.0 ConvT, main.1 BN; then per doubling i ≥ 1: Upsample at 4i − 1, Conv2d 3x3 [out, in, 3, 3] at 4i, BN at 4i + 1
    shapes.set('main.0.weight', [input, channels, 4, 4]);
    addBatchNormShapes(shapes, 1, channels);
    for (let i = 1; i < n; i++) {
      shapes.set(`main.${4 * i}.weight`, [channels / 2, channels, 3, 3]);
      addBatchNormShapes(shapes, 4 * i + 1, channels / 2);
      channels /= 2;
    }
    shapes.set(`main.${4 * n}.weight`, [c.nc, channels, 3, 3]);
    return shapes;
  }
  for (let i = 0; i < n; i++) {
    shapes.set(`main.${3 * i}.weight`, [input, channels, 4, 4]);
    addBatchNormShapes(shapes, 3 * i + 1, channels);
    input = channels;
    channels /= 2;
  }
  shapes.set(`main.${3 * n}.weight`, [input, c.nc, 4, 4]);
  return shapes;
}

/** D's state_dict (key → shape), as generatorStateShapes: conv 0 at main.0 ([out, in, 4, 4]), conv i ≥ 1 at main.{3i−1} with its batchnorm at main.{3i}. */
export function discriminatorStateShapes(c: DcganConfig): Map<string, number[]> {
  const n = stridedLayers(c.imageSize);
  const shapes = new Map<string, number[]>([['main.0.weight', [c.ndf, c.nc, 4, 4]]]);
  let channels = c.ndf;
  for (let i = 1; i < n; i++) {
    shapes.set(`main.${3 * i - 1}.weight`, [channels * 2, channels, 4, 4]);
    addBatchNormShapes(shapes, 3 * i, channels * 2);
    channels *= 2;
  }
  shapes.set(`main.${3 * n - 1}.weight`, [1, channels, 4, 4]);
  return shapes;
}

function addBatchNormShapes(shapes: Map<string, number[]>, index: number, channels: number): void {
  for (const name of ['weight', 'bias', 'running_mean', 'running_var']) shapes.set(`main.${index}.${name}`, [channels]);
  shapes.set(`main.${index}.num_batches_tracked`, []);
}

export class Generator extends Sequential {
  constructor(readonly config: DcganConfig, seed: InitSeed) {
    super(generatorLayers(config, seed));
  }
}

/**
 * The last layer is PyTorch's Sigmoid, kept so the layer indices (and checkpoint keys) match the example;
 * training calls logits(), which stops before it, and uses the numerically stable BCE-with-logits.
 */
export class Discriminator extends Sequential {
  constructor(readonly config: DcganConfig, seed: InitSeed) {
    super(discriminatorLayers(config, seed));
  }

  /** One logit per image, shape [N, 1, 1, 1]. */
  logits(images: Tensor): Tensor {
    return this.forward(images, this.layers.length - 1);
  }
}

export function createDcgan(config: DcganConfig, seed: number): { generator: Generator; discriminator: Discriminator } {
  const seeds = seedStream(seed);
  return { generator: new Generator(config, seeds), discriminator: new Discriminator(config, seeds) };
}

/**
 * Floats in the largest activation one image makes in G or D (the input images included): a GPU buffer
 * holds a whole batch of it, so batch · this · 4 bytes must fit the adapter's buffer limits.
 * G's layer i outputs ngf·2^(n−1−i) channels at 4·2^i px (the last one nc at S); D's layer i outputs
 * ndf·2^i channels at S/2^(i+1). With gUpsample 'nearest', doubling i (1 ≤ i ≤ n) first upsamples its
 * input, ngf·2^(n−i) channels, to 4·2^i px: twice the channels of that block's output, so the largest.
 */
export function largestActivationPerImage(c: DcganConfig): number {
  const n = stridedLayers(c.imageSize);
  let largest = c.nc * c.imageSize ** 2;
  for (let i = 0; i < n; i++) {
    largest = Math.max(largest, c.ngf * 2 ** (n - 1 - i) * (4 * 2 ** i) ** 2, c.ndf * 2 ** i * (c.imageSize / 2 ** (i + 1)) ** 2);
  }
  if (c.gUpsample === 'nearest') {
    for (let i = 1; i <= n; i++) largest = Math.max(largest, c.ngf * 2 ** (n - i) * (4 * 2 ** i) ** 2);
  }
  return largest;
}
