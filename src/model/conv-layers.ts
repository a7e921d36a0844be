// The conv and transposed-conv layers of a DCGAN at a batch size, with the shapes each one sees, found by
// walking the layers from G's noise and D's image (no GPU work). The bench times these layers one by one,
// and the tuner (src/train/tune.ts) chooses a plan for each of their passes.
import { conv2dOutputShape, convTranspose2dOutputShape, type ConvOptions } from '../kernels/conv-shapes.ts';
import type { ConvPassShape } from '../kernels/conv.ts';
import { sizeOf, type Shape } from '../gpu/tensor.ts';
import { Conv2d, ConvTranspose2d, Upsample } from './layers.ts';
import { upsample2xOutputShape } from '../kernels/upsample.ts';
import type { DcganConfig, Discriminator, Generator } from './dcgan.ts';

/** One conv or transposed-conv layer of the model at a batch size, in its own (not conv) geometry. */
export interface ConvLayerShape {
  /** e.g. "G.main.3 ConvT 128→64 4→8" */
  name: string;
  transposed: boolean;
  x: Shape;
  w: Shape;
  y: Shape;
  options: ConvOptions;
  /** whether the layer adds a bias (the DCGAN's convs have none, as in PyTorch's example) */
  bias: boolean;
  /** multiply-adds of one pass (the same for forward and both gradients) */
  macs: number;
}

export function convLayerShapes(generator: Generator, discriminator: Discriminator, config: DcganConfig, batch: number): ConvLayerShape[] {
  const models = [
    { tag: 'G', model: generator, input: [batch, config.nz, 1, 1] },
    { tag: 'D', model: discriminator, input: [batch, config.nc, config.imageSize, config.imageSize] },
  ];
  const shapes: ConvLayerShape[] = [];
  for (const { tag, model, input } of models) {
    let x: Shape = input;
    model.layers.forEach((layer, i) => {
      if (layer instanceof Upsample) x = upsample2xOutputShape(x); // G's 'nearest' doubling: its 3x3 conv sees the doubled size
      if (!(layer instanceof Conv2d || layer instanceof ConvTranspose2d)) return;
      const transposed = layer instanceof ConvTranspose2d;
      const w = layer.weight.shape;
      const y = transposed ? convTranspose2dOutputShape(x, w, layer.options) : conv2dOutputShape(x, w, layer.options);
      // conv: every output takes C·KH·KW inputs; transposed conv: every input feeds O·KH·KW outputs
      const macs = transposed ? sizeOf(x) * w[1] * w[2] * w[3] : sizeOf(y) * w[1] * w[2] * w[3];
      const name = `${tag}.main.${i} ${transposed ? 'ConvT' : 'Conv'} ${x[1]}→${y[1]} ${x[2]}→${y[2]}`;
      shapes.push({ name, transposed, x, w, y, options: layer.options, bias: false, macs });
      x = y;
    });
  }
  return shapes;
}

/**
 * The three passes of a layer in conv geometry (src/kernels/conv.ts): a conv's are its own; a transposed
 * conv's forward is the conv input gradient of (x = its output, y = its input), its input gradient that
 * conv's forward, its weight gradient that conv's weight gradient.
 */
export function convPassShapes(l: ConvLayerShape): ConvPassShape[] {
  const [x, y] = l.transposed ? [l.y, l.x] : [l.x, l.y];
  const shape = { x, w: l.w, y, ...l.options };
  return [
    { pass: 'forward', ...shape, bias: l.bias && !l.transposed },
    { pass: 'backwardInput', ...shape, bias: l.bias && l.transposed },
    { pass: 'backwardWeight', ...shape, bias: false },
  ];
}
