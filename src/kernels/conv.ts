// Launchers for conv2d and transposed conv2d, forward and both gradients, plus the bias gradient.
// Transposed conv has no kernels of its own: it is the adjoint of conv, so each of its passes is a conv
// pass with the roles swapped (see the header of shaders/conv2d.wgsl). Autograd: src/autograd/conv.ts.
// Each pass has two variants. 'simple': shaders/conv2d.wgsl, one thread per output (one workgroup per
// weight for the weight gradient), the readable baseline. 'fast': by shape, one of three kernels: tiled
// implicit GEMMs (shaders/fast/conv2d_gemm.wgsl via ./conv-gemm.ts); for the input gradient of an x with few
// channels, shaders/fast/conv2d_skinny.wgsl (also via ./conv-gemm.ts); for a conv that is a dense layer (1x1
// output), shaders/fast/conv2d_dense.wgsl via ./conv-dense.ts. chooseVariant picks per shape, or 'simple' for
// every pass when the run uses the simple kernel set (./kernel-set.ts); the `variant` argument of every
// launcher forces one (the tests run both, bench/ times both).
import code from '../../shaders/conv2d.wgsl?raw';
import { Kernel, foldGrid } from '../gpu/kernel.ts';
import { Tensor, shapeText, type Shape } from '../gpu/tensor.ts';
import { conv2dOutputShape, convTranspose2dOutputShape, type ConvOptions } from './conv-shapes.ts';
import { SKINNY_CHANNELS, gemmBackwardInput, gemmBackwardWeight, gemmForward } from './conv-gemm.ts';
import { denseBackwardInput, denseBackwardWeight, denseForward, isDense } from './conv-dense.ts';
import { kernelSet } from './kernel-set.ts';

const file = 'shaders/conv2d.wgsl';
const kernels = {
  forward: new Kernel(file, code, 'conv2d_forward'),
  backwardInput: new Kernel(file, code, 'conv2d_backward_input'),
  backwardWeight: new Kernel(file, code, 'conv2d_backward_weight'),
  backwardBias: new Kernel(file, code, 'conv2d_backward_bias'),
};

/** The uniform for a conv y = conv2d(x, w) of these shapes; `count` is the number of outputs a dispatch writes (unsplit). */
function geometry(xShape: Shape, wShape: Shape, yShape: Shape, o: ConvOptions, hasBias: boolean, count: number) {
  return {
    batch: xShape[0], in_channels: xShape[1], in_height: xShape[2], in_width: xShape[3],
    out_channels: yShape[1], out_height: yShape[2], out_width: yShape[3],
    kernel_height: wShape[2], kernel_width: wShape[3], stride: o.stride, padding: o.padding,
    has_bias: hasBias ? 1 : 0, count, splits: 1,
  };
}

function expectShape(op: string, what: string, t: Tensor, shape: Shape): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${op}: ${what} is ${shapeText(t.shape)} but should be ${shapeText(shape)}`);
  }
}

const describe = (...shapes: Shape[]) => ` ${shapes.map(shapeText).join(' ')}`;

// ---- choosing a variant

export type ConvVariant = 'simple' | 'fast';

/**
 * A pass as a GEMM has rows × columns outputs (forward: O × N·OH·OW; input gradient: C × N·⌈H/s⌉·⌈W/s⌉ per
 * phase; weight gradient: O × C·KH·KW). The tiled kernels pay for whole 64x64 or 128x128 tiles, so they
 * win once both output sides fill a good part of a tile; with fewer than 16 rows or columns the simple
 * gather is faster. A dense conv (`dense`: 1x1 output, DCGAN's 1-logit and 1x1-noise layers) has its own
 * small GEMM (conv-dense.ts) and the input gradient with ≤ SKINNY_CHANNELS channels its own skinny kernel
 * (conv-gemm.ts): both are 'fast'. The weight gradient is always 'fast': the simple one spends a whole
 * workgroup and a tree sum on each weight (seconds per DCGAN layer on a CPU adapter).
 */
function chooseVariant(pass: 'forward' | 'backwardInput' | 'backwardWeight', rows: number, columns: number,
  forced?: ConvVariant, dense = false): ConvVariant {
  if (forced) return forced;
  if (kernelSet() === 'simple') return 'simple'; // the run-wide switch (./kernel-set.ts)
  if (pass === 'backwardWeight' || dense) return 'fast';
  if (pass === 'backwardInput' && rows <= SKINNY_CHANNELS) return 'fast';
  return rows >= 16 && columns >= 16 ? 'fast' : 'simple';
}

// ---- the three conv passes, in conv geometry: `input` x [N, C, H, W] → `output` y [N, O, OH, OW] through
// `weight` w [O, C, KH, KW]. conv2d's launchers fill these roles with its own tensors; convTranspose2d's
// with swapped ones (its input plays the conv's output gradient, its output gradient the conv's input).

/** y = conv2d(x, w) (+ bias[o]). Without a bias the weight is bound in its place, unread. */
function forwardPass(pass: { input: Tensor; weight: Tensor; bias: Tensor | null; outputShape: Shape }, o: ConvOptions,
  variant?: ConvVariant): Tensor {
  const { input: x, weight: w, bias, outputShape: yShape } = pass;
  const dense = !bias && isDense(x.shape, w.shape, yShape, o);
  if (chooseVariant('forward', w.shape[0], yShape[0] * yShape[2] * yShape[3], variant, dense) === 'fast') {
    return dense ? denseForward(x, w, yShape) : gemmForward(x, w, bias, yShape, o);
  }
  const y = Tensor.empty(yShape, 'conv2d output');
  kernels.forward.dispatch1d({ x, weight: w, bias: bias ?? w, out: y }, geometry(x.shape, w.shape, yShape, o, bias !== null, y.size),
    y.size, describe(x.shape, w.shape));
  return y;
}

/** dx = the transposed conv of dy with w (+ bias[c], where this pass is a transposed conv's forward). */
function inputGradientPass(pass: { outputGradient: Tensor; weight: Tensor; bias: Tensor | null; inputShape: Shape },
  o: ConvOptions, variant?: ConvVariant): Tensor {
  const { outputGradient: dy, weight: w, bias, inputShape: xShape } = pass;
  const up = (a: number) => Math.ceil(a / o.stride);  // per output phase: see gemmBackwardInput
  const dense = !bias && isDense(xShape, w.shape, dy.shape, o);
  if (chooseVariant('backwardInput', xShape[1], xShape[0] * up(xShape[2]) * up(xShape[3]), variant, dense) === 'fast') {
    return dense ? denseBackwardInput(dy, w, xShape) : gemmBackwardInput(dy, w, bias, xShape, o);
  }
  const dx = Tensor.empty(xShape, 'conv2d input gradient');
  kernels.backwardInput.dispatch1d({ grad_y: dy, weight: w, bias: bias ?? w, out: dx },
    geometry(xShape, w.shape, dy.shape, o, bias !== null, dx.size), dx.size, describe(dy.shape, w.shape));
  return dx;
}

/** dw[o,c,i,j] = Σ dy[n,o,oy,ox] x[n,c,oy·s−p+i,ox·s−p+j]; the simple variant runs one workgroup per weight. */
function weightGradientPass(pass: { input: Tensor; outputGradient: Tensor; weightShape: Shape }, o: ConvOptions,
  variant?: ConvVariant): Tensor {
  const { input: x, outputGradient: dy, weightShape: wShape } = pass;
  if (chooseVariant('backwardWeight', wShape[0], wShape[1] * wShape[2] * wShape[3], variant) === 'fast') {
    return isDense(x.shape, wShape, dy.shape, o) ? denseBackwardWeight(x, dy, wShape) : gemmBackwardWeight(x, dy, wShape, o);
  }
  const dw = Tensor.empty(wShape, 'conv2d weight gradient');
  kernels.backwardWeight.dispatch({ x, grad_y: dy, out: dw }, geometry(x.shape, wShape, dy.shape, o, false, dw.size),
    foldGrid(dw.size), describe(x.shape, dy.shape));
  return dw;
}

function checkBias(op: string, bias: Tensor | null, channels: number): void {
  if (bias) expectShape(op, 'bias', bias, [channels]);
}

// ---- conv2d: x [N, C, H, W], w [O, C, KH, KW]

export function conv2dForward(x: Tensor, w: Tensor, bias: Tensor | null, o: ConvOptions, variant?: ConvVariant): Tensor {
  const yShape = conv2dOutputShape(x.shape, w.shape, o);
  checkBias('conv2d', bias, w.shape[0]);
  return forwardPass({ input: x, weight: w, bias, outputShape: yShape }, o, variant);
}

/** dL/dx for y = conv2d(x, w): the transposed conv of dy with w. */
export function conv2dBackwardInput(dy: Tensor, w: Tensor, xShape: Shape, o: ConvOptions, variant?: ConvVariant): Tensor {
  const op = 'conv2dBackwardInput';
  expectShape(op, 'dy', dy, conv2dOutputShape(xShape, w.shape, o, op));
  return inputGradientPass({ outputGradient: dy, weight: w, bias: null, inputShape: xShape }, o, variant);
}

/** dL/dw for y = conv2d(x, w). */
export function conv2dBackwardWeight(x: Tensor, dy: Tensor, wShape: Shape, o: ConvOptions, variant?: ConvVariant): Tensor {
  const op = 'conv2dBackwardWeight';
  expectShape(op, 'dy', dy, conv2dOutputShape(x.shape, wShape, o, op));
  return weightGradientPass({ input: x, outputGradient: dy, weightShape: wShape }, o, variant);
}

/** dL/db[o] = Σ_{n,y,x} dy[n,o,y,x] for any NCHW gradient (conv and transposed conv alike). Shape [O]. */
export function convBiasBackward(dy: Tensor): Tensor {
  if (dy.shape.length !== 4) throw new Error(`convBiasBackward: dy must be [N,C,H,W], got ${shapeText(dy.shape)}`);
  const [n, channels] = dy.shape;
  const db = Tensor.empty([channels], 'conv bias gradient');
  const params = geometry([n, 0, 0, 0], [0, 0, 0, 0], dy.shape, { stride: 1, padding: 0 }, false, channels);
  kernels.backwardBias.dispatch({ grad_y: dy, out: db }, params, foldGrid(channels), describe(dy.shape));
  return db;
}

// ---- convTranspose2d: x [N, C, H, W], w [C, O, KH, KW]. In conv geometry its output is the conv's x
// and its input the conv's y, with w read as a conv weight [O_conv = C, C_conv = O, KH, KW].

/** y = convTranspose2d(x, w) + bias = conv2d's input gradient for "dy" = x. */
export function convTranspose2dForward(x: Tensor, w: Tensor, bias: Tensor | null, o: ConvOptions, variant?: ConvVariant): Tensor {
  const yShape = convTranspose2dOutputShape(x.shape, w.shape, o);
  checkBias('convTranspose2d', bias, w.shape[1]);
  return inputGradientPass({ outputGradient: x, weight: w, bias, inputShape: yShape }, o, variant);
}

/** dL/dx for y = convTranspose2d(x, w) = conv2d(dy, w), with the same stride and padding. */
export function convTranspose2dBackwardInput(dy: Tensor, w: Tensor, xShape: Shape, o: ConvOptions, variant?: ConvVariant): Tensor {
  const op = 'convTranspose2dBackwardInput';
  expectShape(op, 'dy', dy, convTranspose2dOutputShape(xShape, w.shape, o, op));
  return forwardPass({ input: dy, weight: w, bias: null, outputShape: xShape }, o, variant);
}

/** dL/dw[c,o,i,j] for y = convTranspose2d(x, w): conv2d's weight gradient with dy as its input and x as its "dy". */
export function convTranspose2dBackwardWeight(x: Tensor, dy: Tensor, wShape: Shape, o: ConvOptions, variant?: ConvVariant): Tensor {
  const op = 'convTranspose2dBackwardWeight';
  expectShape(op, 'dy', dy, convTranspose2dOutputShape(x.shape, wShape, o, op));
  return weightGradientPass({ input: dy, outputGradient: x, weightShape: wShape }, o, variant);
}
