// Launchers for conv2d and transposed conv2d, forward and both gradients, plus the bias gradient.
// Transposed conv has no kernels of its own: it is the adjoint of conv, so each of its passes is a conv
// pass with the roles swapped (see the header of shaders/conv2d.wgsl). Autograd: src/autograd/conv.ts.
// Each pass runs by a plan (ConvPlan): 'simple', shaders/conv2d.wgsl, one thread per output (one
// workgroup per weight for the weight gradient), the readable baseline; or a fast kernel: a tiled
// implicit GEMM with a tile size and a split of K (shaders/fast/conv2d_gemm.wgsl via ./conv-gemm.ts); for
// the input gradient of an x with few channels, shaders/fast/conv2d_skinny.wgsl (also via ./conv-gemm.ts);
// for a conv that is a dense layer (1x1 output), shaders/fast/conv2d_dense.wgsl via ./conv-dense.ts.
// planFor picks: 'simple' for every pass when the run uses the simple kernel set (./kernel-set.ts), else
// the plan the tuner measured fastest on this adapter (./conv-tune.ts, useTunedPlans), else heuristicPlan's
// rule by shape. The `variant` argument of every launcher forces one ('simple', 'fast' = fastPlan, or a
// plan): the tests run every candidate, bench/ times them.
import code from '../../shaders/conv2d.wgsl?raw';
import { Kernel, foldGrid } from '../gpu/kernel.ts';
import { Tensor, shapeText, type Shape } from '../gpu/tensor.ts';
import { conv2dOutputShape, convTranspose2dOutputShape, type ConvOptions } from './conv-shapes.ts';
import { HALF_ROW_TILES, SKINNY_CHANNELS, TILES, gemmBackwardInput, gemmBackwardWeight, gemmDims, gemmForward, heuristicTiling, skinnyBackwardInput, type GemmTiling, type Tile } from './conv-gemm.ts';
import { denseBackwardInput, denseBackwardWeight, denseForward, isDense } from './conv-dense.ts';
import { kernelSet } from './kernel-set.ts';
import { traced } from '../gpu/trace.ts';

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

// ---- choosing a plan: which kernel runs a pass, and for the tiled GEMM its tiling

/** What the launchers' `variant` argument forces: the readable kernels, or the fast one by shape. */
export type ConvVariant = 'simple' | 'fast';

type ConvPass = 'forward' | 'backwardInput' | 'backwardWeight';

/**
 * One conv pass in conv geometry (x [N, C, H, W], w [O, C, KH, KW], y [N, O, OH, OW]): what a plan is
 * chosen for. Transposed conv's passes are conv passes with the roles swapped, so they are keyed the same.
 */
export interface ConvPassShape {
  pass: ConvPass;
  x: Shape;
  w: Shape;
  y: Shape;
  stride: number;
  padding: number;
  /** the pass adds a bias (conv's forward; transposed conv's forward is an input-gradient pass with one) */
  bias: boolean;
}

/**
 * How a pass runs: 'simple' (shaders/conv2d.wgsl), the tiled implicit GEMM with a tile and a split of K
 * (./conv-gemm.ts), the skinny input gradient (≤ SKINNY_CHANNELS channels) or the dense kernel (1x1 output).
 */
export type ConvPlan =
  | { kernel: 'simple' }
  | ({ kernel: 'gemm' } & GemmTiling)
  | { kernel: 'skinny' }
  | { kernel: 'dense' };

export const passKey = (p: ConvPassShape): string =>
  `${p.pass} x${shapeText(p.x)} w${shapeText(p.w)} y${shapeText(p.y)} s${p.stride} p${p.padding}${p.bias ? ' bias' : ''}`;

export const planText = (plan: ConvPlan): string =>
  plan.kernel === 'gemm' ? `gemm ${plan.halfRows ? `${plan.tile / 2}x${plan.tile}` : plan.tile}${plan.splits > 1 ? ` split ${plan.splits}` : ''}` : plan.kernel;

/**
 * The plan a planText names ('gemm 128', 'gemm 64x128 split 2', 'skinny', ...), or null: the bench's
 * --variants takes plans by these names. Whether it can run a given pass is checked when it runs.
 */
export function parsePlan(text: string): ConvPlan | null {
  if (text === 'simple' || text === 'skinny' || text === 'dense') return { kernel: text };
  const m = /^gemm (\d+)(?:x(\d+))?(?: split (\d+))?$/.exec(text);
  if (!m) return null;
  const columns = Number(m[2] ?? m[1]);
  const halfRows = m[2] !== undefined;
  const splits = Number(m[3] ?? 1);
  const tile = columns as Tile;
  if (!TILES.includes(tile) || splits < 1 || (halfRows && (!HALF_ROW_TILES.includes(tile) || Number(m[1]) !== tile / 2))) return null;
  return halfRows ? { kernel: 'gemm', tile, splits, halfRows } : { kernel: 'gemm', tile, splits };
}

const SIMPLE: ConvPlan = { kernel: 'simple' };
const dims = (p: ConvPassShape) => gemmDims(p.pass, p.x, p.w, p.y, p.stride);
const denseShape = (p: ConvPassShape) => !(p.bias && p.pass !== 'backwardWeight') && isDense(p.x, p.w, p.y, p);

/**
 * The fast kernel for a shape, without tuning: the dense kernel for a dense conv (1x1 output, DCGAN's
 * 1-logit and 1x1-noise layers), the skinny kernel for an input gradient with ≤ SKINNY_CHANNELS channels,
 * else the tiled GEMM with heuristicTiling's tile and split.
 */
export function fastPlan(p: ConvPassShape): ConvPlan {
  if (denseShape(p)) return { kernel: 'dense' };
  if (p.pass === 'backwardInput' && p.x[1] <= SKINNY_CHANNELS) return { kernel: 'skinny' };
  return { kernel: 'gemm', ...heuristicTiling(dims(p)) };
}

/**
 * The plan without tuning. The tiled kernels pay for whole tiles, so they win once both output sides
 * fill a good part of one; with fewer than 16 rows or columns the simple gather is faster. The weight
 * gradient is always fast: the simple one spends a whole workgroup and a tree sum on each weight
 * (seconds per DCGAN layer on a CPU adapter).
 */
export function heuristicPlan(p: ConvPassShape): ConvPlan {
  const fast = fastPlan(p);
  if (fast.kernel !== 'gemm' || p.pass === 'backwardWeight') return fast;
  const { rows, columns } = dims(p);
  return rows >= 16 && columns >= 16 ? fast : SIMPLE;
}

/** Plans measured on this adapter (./conv-tune.ts), by passKey; a pass not in it takes heuristicPlan. */
const tunedPlans = new Map<string, ConvPlan>();

/** From now on, run each pass in `plans` with its plan (replaces the previous table; empty: the heuristic). */
export function useTunedPlans(plans: Iterable<[ConvPassShape, ConvPlan]>): void {
  tunedPlans.clear();
  for (const [p, plan] of plans) tunedPlans.set(passKey(p), plan);
}

/** The tuned plan of a pass, or undefined when the tuner has chosen none (the heuristic's then runs). */
export const tunedPlan = (p: ConvPassShape): ConvPlan | undefined => tunedPlans.get(passKey(p));

/** The plan a pass runs with: forced by `variant`, else simple for the simple kernel set, else tuned, else the heuristic's. */
function planFor(p: ConvPassShape, variant?: ConvVariant | ConvPlan): ConvPlan {
  if (typeof variant === 'object') return variant;
  if (variant === 'simple' || (!variant && kernelSet() === 'simple')) return SIMPLE;  // the run-wide switch (./kernel-set.ts)
  if (variant === 'fast') return fastPlan(p);
  return tunedPlans.get(passKey(p)) ?? heuristicPlan(p);
}

/** A pass's scope in a kernel trace (src/gpu/trace.ts): the pass in conv geometry, its plan and who chose it. */
function planScope(p: ConvPassShape, plan: ConvPlan, variant?: ConvVariant | ConvPlan): string {
  const chooser = typeof variant === 'object' ? 'given' : variant ? `the ${variant} variant`
    : kernelSet() === 'simple' ? 'the simple kernel set' : tunedPlans.has(passKey(p)) ? 'tuned on this adapter' : 'the heuristic';
  return `conv ${p.pass} pass ${passKey(p).slice(p.pass.length + 1)}: plan ${planText(plan)} (${chooser})`;
}

const cannot = (p: ConvPassShape, plan: ConvPlan) => new Error(`conv: plan ${planText(plan)} cannot run ${passKey(p)}`);

// ---- the three conv passes, in conv geometry: `input` x [N, C, H, W] → `output` y [N, O, OH, OW] through
// `weight` w [O, C, KH, KW]. conv2d's launchers fill these roles with its own tensors; convTranspose2d's
// with swapped ones (its input plays the conv's output gradient, its output gradient the conv's input).

/** y = conv2d(x, w) (+ bias[o]). Without a bias the weight is bound in its place, unread. */
function forwardPass(pass: { input: Tensor; weight: Tensor; bias: Tensor | null; outputShape: Shape }, o: ConvOptions,
  variant?: ConvVariant | ConvPlan): Tensor {
  const { input: x, weight: w, bias, outputShape: yShape } = pass;
  const p: ConvPassShape = { pass: 'forward', x: x.shape, w: w.shape, y: yShape, ...o, bias: bias !== null };
  const plan = planFor(p, variant);
  return traced(() => planScope(p, plan, variant), () => {
    if (plan.kernel === 'gemm') return gemmForward(x, w, bias, yShape, o, plan);
    if (plan.kernel === 'dense' && denseShape(p)) return denseForward(x, w, yShape);
    if (plan.kernel !== 'simple') throw cannot(p, plan);
    const y = Tensor.empty(yShape, 'conv2d output');
    kernels.forward.dispatch1d({ x, weight: w, bias: bias ?? w, out: y }, geometry(x.shape, w.shape, yShape, o, bias !== null, y.size),
      y.size, describe(x.shape, w.shape));
    return y;
  });
}

/** dx = the transposed conv of dy with w (+ bias[c], where this pass is a transposed conv's forward). */
function inputGradientPass(pass: { outputGradient: Tensor; weight: Tensor; bias: Tensor | null; inputShape: Shape },
  o: ConvOptions, variant?: ConvVariant | ConvPlan): Tensor {
  const { outputGradient: dy, weight: w, bias, inputShape: xShape } = pass;
  const p: ConvPassShape = { pass: 'backwardInput', x: xShape, w: w.shape, y: dy.shape, ...o, bias: bias !== null };
  const plan = planFor(p, variant);
  return traced(() => planScope(p, plan, variant), () => {
    if (plan.kernel === 'gemm') return gemmBackwardInput(dy, w, bias, xShape, o, plan);
    if (plan.kernel === 'dense' && denseShape(p)) return denseBackwardInput(dy, w, xShape);
    if (plan.kernel === 'skinny' && xShape[1] <= SKINNY_CHANNELS) return skinnyBackwardInput(dy, w, bias, xShape, o);
    if (plan.kernel !== 'simple') throw cannot(p, plan);
    const dx = Tensor.empty(xShape, 'conv2d input gradient');
    kernels.backwardInput.dispatch1d({ grad_y: dy, weight: w, bias: bias ?? w, out: dx },
      geometry(xShape, w.shape, dy.shape, o, bias !== null, dx.size), dx.size, describe(dy.shape, w.shape));
    return dx;
  });
}

/** dw[o,c,i,j] = Σ dy[n,o,oy,ox] x[n,c,oy·s−p+i,ox·s−p+j]; the simple variant runs one workgroup per weight. */
function weightGradientPass(pass: { input: Tensor; outputGradient: Tensor; weightShape: Shape }, o: ConvOptions,
  variant?: ConvVariant | ConvPlan): Tensor {
  const { input: x, outputGradient: dy, weightShape: wShape } = pass;
  const p: ConvPassShape = { pass: 'backwardWeight', x: x.shape, w: wShape, y: dy.shape, ...o, bias: false };
  const plan = planFor(p, variant);
  return traced(() => planScope(p, plan, variant), () => {
    if (plan.kernel === 'gemm') return gemmBackwardWeight(x, dy, wShape, o, plan);
    if (plan.kernel === 'dense' && denseShape(p)) return denseBackwardWeight(x, dy, wShape);
    if (plan.kernel !== 'simple') throw cannot(p, plan);
    const dw = Tensor.empty(wShape, 'conv2d weight gradient');
    kernels.backwardWeight.dispatch({ x, grad_y: dy, out: dw }, geometry(x.shape, wShape, dy.shape, o, false, dw.size),
      foldGrid(dw.size), describe(x.shape, dy.shape));
    return dw;
  });
}

/** Operands for running a pass on its own: x and dy as the pass needs them, the bias when it has one. */
interface ConvOperands {
  x: Tensor;
  w: Tensor;
  dy: Tensor;
  bias: Tensor | null;
}

/** One pass of `p`'s shape with `plan` (the tuner times plans through this): y, dx or dw. */
export function runConvPass(p: ConvPassShape, plan: ConvPlan, t: ConvOperands): Tensor {
  const o = { stride: p.stride, padding: p.padding };
  if (p.pass === 'forward') return forwardPass({ input: t.x, weight: t.w, bias: t.bias, outputShape: p.y }, o, plan);
  if (p.pass === 'backwardInput') return inputGradientPass({ outputGradient: t.dy, weight: t.w, bias: t.bias, inputShape: p.x }, o, plan);
  return weightGradientPass({ input: t.x, outputGradient: t.dy, weightShape: p.w }, o, plan);
}

function checkBias(op: string, bias: Tensor | null, channels: number): void {
  if (bias) expectShape(op, 'bias', bias, [channels]);
}

// ---- conv2d: x [N, C, H, W], w [O, C, KH, KW]

export function conv2dForward(x: Tensor, w: Tensor, bias: Tensor | null, o: ConvOptions, variant?: ConvVariant | ConvPlan): Tensor {
  const yShape = conv2dOutputShape(x.shape, w.shape, o);
  checkBias('conv2d', bias, w.shape[0]);
  return forwardPass({ input: x, weight: w, bias, outputShape: yShape }, o, variant);
}

/** dL/dx for y = conv2d(x, w): the transposed conv of dy with w. */
export function conv2dBackwardInput(dy: Tensor, w: Tensor, xShape: Shape, o: ConvOptions, variant?: ConvVariant | ConvPlan): Tensor {
  const op = 'conv2dBackwardInput';
  expectShape(op, 'dy', dy, conv2dOutputShape(xShape, w.shape, o, op));
  return inputGradientPass({ outputGradient: dy, weight: w, bias: null, inputShape: xShape }, o, variant);
}

/** dL/dw for y = conv2d(x, w). */
export function conv2dBackwardWeight(x: Tensor, dy: Tensor, wShape: Shape, o: ConvOptions, variant?: ConvVariant | ConvPlan): Tensor {
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
export function convTranspose2dForward(x: Tensor, w: Tensor, bias: Tensor | null, o: ConvOptions, variant?: ConvVariant | ConvPlan): Tensor {
  const yShape = convTranspose2dOutputShape(x.shape, w.shape, o);
  checkBias('convTranspose2d', bias, w.shape[1]);
  return inputGradientPass({ outputGradient: x, weight: w, bias, inputShape: yShape }, o, variant);
}

/** dL/dx for y = convTranspose2d(x, w) = conv2d(dy, w), with the same stride and padding. */
export function convTranspose2dBackwardInput(dy: Tensor, w: Tensor, xShape: Shape, o: ConvOptions, variant?: ConvVariant | ConvPlan): Tensor {
  const op = 'convTranspose2dBackwardInput';
  expectShape(op, 'dy', dy, convTranspose2dOutputShape(xShape, w.shape, o, op));
  return forwardPass({ input: dy, weight: w, bias: null, outputShape: xShape }, o, variant);
}

/** dL/dw[c,o,i,j] for y = convTranspose2d(x, w): conv2d's weight gradient with dy as its input and x as its "dy". */
export function convTranspose2dBackwardWeight(x: Tensor, dy: Tensor, wShape: Shape, o: ConvOptions, variant?: ConvVariant | ConvPlan): Tensor {
  const op = 'convTranspose2dBackwardWeight';
  expectShape(op, 'dy', dy, convTranspose2dOutputShape(x.shape, wShape, o, op));
  return weightGradientPass({ input: dy, outputGradient: x, weightShape: wShape }, o, variant);
}
