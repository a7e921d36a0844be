// A network's layers as plain data (LayerSpec: what each layer is, no tensors), and the walk that follows
// shapes alone through such a list: each layer's input and output, its state_dict entries under PyTorch's
// names and its multiply-adds. src/model/dcgan.ts writes G's and D's lists once; the GPU layers are built
// from them, and the state_dict layout a weights file is checked against, the largest activation and the
// conv shapes the tuner and the bench see all come from this walk, so none is spelled out a second time.
// No GPU here.
import { conv2dOutputShape, convTranspose2dOutputShape, type ConvOptions } from '../kernels/conv-shapes.ts';
import { upsample2xOutputShape } from '../kernels/upsample.ts';
import { sizeOf, type Shape } from '../gpu/tensor.ts';

/** One layer, by the `kind` of its class in src/model/layers.ts and its constructor's arguments. */
export type LayerSpec =
  | { kind: 'Conv2d' | 'ConvTranspose2d'; inChannels: number; outChannels: number; kernelSize: number; options: ConvOptions }
  | { kind: 'BatchNorm2d'; channels: number }
  | { kind: 'LeakyReLU'; slope: number }
  | { kind: 'ReLU' | 'Tanh' | 'Sigmoid' | 'Upsample' };

export type ConvSpec = Extract<LayerSpec, { kind: 'Conv2d' | 'ConvTranspose2d' }>;

export const isConv = (spec: LayerSpec): spec is ConvSpec => spec.kind === 'Conv2d' || spec.kind === 'ConvTranspose2d';

/** PyTorch's weight layouts: a conv's [out, in, kh, kw], a transposed conv's [in, out, kh, kw]. */
export function weightShape(spec: ConvSpec): number[] {
  const { inChannels: i, outChannels: o, kernelSize: k } = spec;
  return spec.kind === 'Conv2d' ? [o, i, k, k] : [i, o, k, k];
}

/** The output shape of a layer given its input's: the one place each kind's size rule is applied. */
function outputShape(spec: LayerSpec, x: Shape): Shape {
  switch (spec.kind) {
    case 'Conv2d':
      return conv2dOutputShape(x, weightShape(spec), spec.options);
    case 'ConvTranspose2d':
      return convTranspose2dOutputShape(x, weightShape(spec), spec.options);
    case 'Upsample':
      return upsample2xOutputShape(x);
    case 'BatchNorm2d':
      if (x[1] !== spec.channels) throw new Error(`BatchNorm2d(${spec.channels}) cannot take an input of ${x[1]} channels ([${x}])`);
      return x;
    default:
      return x; // the activations are pointwise
  }
}

/**
 * A layer's state_dict entries (name → shape) in PyTorch's order: parameters, then buffers. Batchnorm's
 * num_batches_tracked is a counter, a tensor of shape [] (an I64 in a file).
 */
function stateShapes(spec: LayerSpec): [string, number[]][] {
  if (isConv(spec)) return [['weight', weightShape(spec)]];
  if (spec.kind !== 'BatchNorm2d') return [];
  const perChannel = ['weight', 'bias', 'running_mean', 'running_var'].map((name): [string, number[]] => [name, [spec.channels]]);
  return [...perChannel, ['num_batches_tracked', []]];
}

/** What the walk knows of one layer at one input shape. */
export interface LayerShape {
  /** its place in the Sequential */
  index: number;
  /** PyTorch's name of it, `main.<index>`, in front of its state_dict keys */
  key: string;
  spec: LayerSpec;
  x: Shape;
  y: Shape;
  /** its state_dict entries as stateShapes gives them */
  state: [string, number[]][];
  /**
   * multiply-adds of its forward pass (0 but for convs; each gradient pass costs the same): a conv's every
   * output takes C·KH·KW inputs, a transposed conv's every input feeds O·KH·KW outputs
   */
  macs: number;
}

function multiplyAdds(spec: LayerSpec, x: Shape, y: Shape): number {
  if (!isConv(spec)) return 0;
  const [, channels, kh, kw] = weightShape(spec); // C of a conv, O of a transposed conv
  return (spec.kind === 'Conv2d' ? sizeOf(y) : sizeOf(x)) * channels * kh * kw;
}

/** Every layer of `spec` fed `input` (the first layer's), each one's output the next one's input. */
export function layerShapes(spec: readonly LayerSpec[], input: Shape): LayerShape[] {
  let x = input;
  return spec.map((s, index) => {
    const y = outputShape(s, x);
    const layer = { index, key: `main.${index}`, spec: s, x, y, state: stateShapes(s), macs: multiplyAdds(s, x, y) };
    x = y;
    return layer;
  });
}

/** The whole state_dict of a walked network, `main.<i>.<name>` → shape, module by module as PyTorch orders it. */
export function stateDictShapes(layers: readonly LayerShape[]): Map<string, number[]> {
  return new Map(layers.flatMap((l) => l.state.map(([name, shape]): [string, number[]] => [`${l.key}.${name}`, shape])));
}
