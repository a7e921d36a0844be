// The conv and transposed-conv layers of a DCGAN at a batch size, with the shapes each one sees, from the
// shape-only walk of G from its noise and D from its images (src/model/architecture.ts; no GPU work, no
// model built). The bench times these layers one by one, and the tuner (src/train/tune.ts) chooses a plan
// for each of their passes.
import type { ConvOptions } from '../kernels/conv-shapes.ts';
import type { ConvPassShape } from '../kernels/conv.ts';
import type { Shape } from '../gpu/tensor.ts';
import { isConv, weightShape } from './architecture.ts';
import { networkShapes, type DcganConfig } from './dcgan.ts';

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
  /** multiply-adds of one pass (the same for forward and both gradients; LayerShape.macs) */
  macs: number;
}

export function convLayerShapes(config: DcganConfig, batch: number): ConvLayerShape[] {
  return networkShapes(config, batch).flatMap(({ tag, layers }) => layers.flatMap(({ key, spec, x, y, macs }) => {
    if (!isConv(spec)) return [];
    const transposed = spec.kind === 'ConvTranspose2d';
    const name = `${tag}.${key} ${transposed ? 'ConvT' : 'Conv'} ${x[1]}→${y[1]} ${x[2]}→${y[2]}`;
    return [{ name, transposed, x, w: weightShape(spec), y, options: spec.options, bias: false, macs }];
  }));
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
