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
// Both layer lists are written once, as data (generatorSpec, discriminatorSpec; src/model/architecture.ts):
// the GPU layers are built from them, and a walk over their shapes alone gives the state_dict layout, the
// largest activation and the conv shapes (src/model/conv-layers.ts).
import { sizeOf, type Tensor } from '../gpu/tensor.ts';
import { mixSeeds } from '../util/seeds.ts';
import { BatchNorm2d, Conv2d, ConvTranspose2d, LeakyReLU, ReLU, Sequential, Sigmoid, Tanh, Upsample, type InitSeed, type Layer } from './layers.ts';
import { layerShapes, stateDictShapes, type ConvSpec, type LayerShape, type LayerSpec } from './architecture.ts';

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

/** A conv layer as PyTorch writes it, nn.Conv2d(in, out, kernel, stride, padding) (its ConvTranspose2d likewise). */
const conv = (kind: ConvSpec['kind'], inChannels: number, outChannels: number, kernelSize: number, stride: number, padding: number): ConvSpec =>
  ({ kind, inChannels, outChannels, kernelSize, options: { stride, padding } });
const batchNorm = (channels: number): LayerSpec => ({ kind: 'BatchNorm2d', channels });
const relu: LayerSpec = { kind: 'ReLU' };
const leakyRelu: LayerSpec = { kind: 'LeakyReLU', slope: 0.2 };
const tanh: LayerSpec = { kind: 'Tanh' };
const sigmoid: LayerSpec = { kind: 'Sigmoid' };
const upsample: LayerSpec = { kind: 'Upsample' };

/** G's layers (the header's layout): the one place they are written; Generator builds its GPU layers from them. */
export function generatorSpec(c: DcganConfig): LayerSpec[] {
  const n = stridedLayers(c.imageSize);
  let channels = c.ngf * 2 ** (n - 1);
  const layers: LayerSpec[] = [conv('ConvTranspose2d', c.nz, channels, 4, 1, 0), batchNorm(channels), relu]; // 1x1 → 4x4
  const nearest = (c.gUpsample ?? 'transposed') === 'nearest';
  /** in → out channels at twice the size: the example's transposed conv, or Upsample + a 3x3 conv */
  const doubling = (inChannels: number, outChannels: number): LayerSpec[] =>
    nearest ? [upsample, conv('Conv2d', inChannels, outChannels, 3, 1, 1)] : [conv('ConvTranspose2d', inChannels, outChannels, 4, 2, 1)];
  for (let i = 1; i < n; i++) {
    layers.push(...doubling(channels, channels / 2), batchNorm(channels / 2), relu);
    channels /= 2;
  }
  layers.push(...doubling(channels, c.nc), tanh);
  return layers;
}

/** D's layers: strided convs that halve the size, as Discriminator builds them. */
export function discriminatorSpec(c: DcganConfig): LayerSpec[] {
  const n = stridedLayers(c.imageSize);
  let channels = c.ndf;
  const layers: LayerSpec[] = [conv('Conv2d', c.nc, channels, 4, 2, 1), leakyRelu];
  for (let i = 1; i < n; i++) {
    layers.push(conv('Conv2d', channels, channels * 2, 4, 2, 1), batchNorm(channels * 2), leakyRelu);
    channels *= 2;
  }
  layers.push(conv('Conv2d', channels, 1, 4, 1, 0), sigmoid); // 4x4 → 1x1
  return layers;
}

/** The GPU layer a spec describes; each draws its initial weights from `seed` in the list's order. */
function layerOf(s: LayerSpec, seed: InitSeed): Layer {
  switch (s.kind) {
    case 'Conv2d':
      return new Conv2d(s.inChannels, s.outChannels, s.kernelSize, s.options, seed);
    case 'ConvTranspose2d':
      return new ConvTranspose2d(s.inChannels, s.outChannels, s.kernelSize, s.options, seed);
    case 'BatchNorm2d':
      return new BatchNorm2d(s.channels, seed);
    case 'LeakyReLU':
      return new LeakyReLU(s.slope);
    case 'ReLU':
      return new ReLU();
    case 'Tanh':
      return new Tanh();
    case 'Sigmoid':
      return new Sigmoid();
    case 'Upsample':
      return new Upsample();
  }
}

/** G walked with shapes alone from noise [batch, nz, 1, 1] to images [batch, nc, S, S]. */
export const generatorShapes = (c: DcganConfig, batch = 1): LayerShape[] => layerShapes(generatorSpec(c), [batch, c.nz, 1, 1]);

/** D walked from images [batch, nc, S, S] to one probability each. */
export const discriminatorShapes = (c: DcganConfig, batch = 1): LayerShape[] => layerShapes(discriminatorSpec(c), [batch, c.nc, c.imageSize, c.imageSize]);

/** Both networks walked at a batch size, tagged as the bench and the tuner name their layers ('G.main.3'). */
export const networkShapes = (c: DcganConfig, batch: number): { tag: 'G' | 'D'; layers: LayerShape[] }[] =>
  [{ tag: 'G', layers: generatorShapes(c, batch) }, { tag: 'D', layers: discriminatorShapes(c, batch) }];

/**
 * G's state_dict as PyTorch names and shapes it, in its order (key → shape), from the config alone: what
 * a weights file must hold to be this generator (src/train/state-dict.ts checks files against it).
 */
export const generatorStateShapes = (c: DcganConfig): Map<string, number[]> => stateDictShapes(generatorShapes(c));

/** D's state_dict (key → shape), as generatorStateShapes. */
export const discriminatorStateShapes = (c: DcganConfig): Map<string, number[]> => stateDictShapes(discriminatorShapes(c));

export class Generator extends Sequential {
  constructor(readonly config: DcganConfig, seed: InitSeed) {
    super(generatorSpec(config).map((s) => layerOf(s, seed)));
  }
}

/**
 * The last layer is PyTorch's Sigmoid, kept so the layer indices (and checkpoint keys) match the example;
 * training calls logits(), which stops before it, and uses the numerically stable BCE-with-logits.
 */
export class Discriminator extends Sequential {
  constructor(readonly config: DcganConfig, seed: InitSeed) {
    super(discriminatorSpec(config).map((s) => layerOf(s, seed)));
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
 * Floats in the largest activation one image makes in G or D (the input images, G's last output,
 * included): a GPU buffer holds a whole batch of it, so batch · this · 4 bytes must fit the adapter's
 * buffer limits. With gUpsample 'nearest', G's largest are its Upsamples' outputs: a doubling's input
 * at twice the size, twice the channels of that block's output.
 */
export function largestActivationPerImage(c: DcganConfig): number {
  return Math.max(...[...generatorShapes(c), ...discriminatorShapes(c)].map((l) => sizeOf(l.y)));
}
