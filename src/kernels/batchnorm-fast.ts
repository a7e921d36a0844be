// Launchers for shaders/fast/batchnorm.wgsl, the fast BatchNorm2d: training and eval, forward and backward,
// each optionally with the ReLU / LeakyReLU that follows it fused in (`slope`: 1 none, 0 ReLU, else the
// LeakyReLU's). ./batchnorm.ts checks the operands and chooses between these and the simple kernel.
import code from '../../shaders/fast/batchnorm.wgsl?raw';
import { Kernel } from '../gpu/kernel.ts';
import { Tensor, shapeText } from '../gpu/tensor.ts';

export interface BatchNormOptions { eps: number; momentum: number }
/** x's [N, C, H, W] as the shaders' params name them (spatial = H·W). */
export interface BatchNormSizes { batch: number; channels: number; spatial: number }
/** A forward's output and the per-channel statistics it normalized by. */
export interface BatchNormStatistics { y: Tensor; mean: Tensor; invStd: Tensor }
/** The activation fused after a batchnorm, as its backward needs it: the forward's output and the slope. */
export interface FusedActivation { output: Tensor; slope: number }

const file = 'shaders/fast/batchnorm.wgsl';
const kernel = (entry: string) => new Kernel(file, code, entry);
const kernels = {
  channelForward: kernel('batchnorm_channel_forward'),
  channelBackward: kernel('batchnorm_channel_backward'),
  chunkStatistics: kernel('batchnorm_chunk_statistics'),
  mergeNormalize: kernel('batchnorm_merge_normalize'),
  runningStatistics: kernel('batchnorm_running_statistics'),
  normalize: kernel('batchnorm_normalize'),
  chunkParameterGradients: kernel('batchnorm_chunk_parameter_gradients'),
  mergeParameterGradients: kernel('batchnorm_merge_parameter_gradients'),
  backwardInput: kernel('batchnorm_backward_input'),
  evalBackwardInput: kernel('batchnorm_eval_backward_input'),
};

/**
 * How the per-channel reductions are cut into chunks (one stage-1 workgroup each): enough workgroups to
 * fill a large GPU, but no chunk under `minChunk` values, so small layers run one chunk per channel (and
 * a CPU adapter, where each workgroup's barriers cost, few). A layer of one chunk per channel runs each
 * training pass as one dispatch (batchnorm_channel_forward / _backward); with more, three.
 */
const batchnormChunks = { targetWorkgroups: 1024, minChunk: 2048 };

/** The uniform's sizes: the operands' and the chunking of each channel's m = N·H·W values. */
function layout(op: string, s: BatchNormSizes, x: Tensor) {
  if (s.channels > 65535) throw new Error(`${op}: ${s.channels} channels exceed one workgroup row per channel (65535), x ${shapeText(x.shape)}`);
  const m = s.batch * s.spatial;
  const wanted = Math.ceil(batchnormChunks.targetWorkgroups / s.channels);
  const chunks = Math.max(1, Math.min(wanted, Math.floor(m / batchnormChunks.minChunk), 65535));
  return { ...s, chunks, chunk_size: Math.ceil(m / chunks) };
}

type Sizes = ReturnType<typeof layout>;
const params = (s: Sizes, eps = 0, momentum = 0, slope = 1) => ({ ...s, eps, momentum, slope });

/** Training forward with batch statistics; updates runningMean and runningVar in place (see ./batchnorm.ts). */
export function trainForward(
  x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor, sizes: BatchNormSizes,
  { eps, momentum }: BatchNormOptions, slope: number,
): BatchNormStatistics {
  const s = layout('batchNormTrainForward', sizes, x);
  const what = ` x ${shapeText(x.shape)}`;
  const mean = Tensor.empty([s.channels], 'batchnorm mean');
  const invStd = Tensor.empty([s.channels], 'batchnorm invStd');
  const y = Tensor.empty(x.shape, 'batchnorm y');
  const bindings = { x, gamma, beta, mean, inv_std: invStd, running_mean: runningMean, running_var: runningVar, y };
  if (s.chunks === 1) {
    kernels.channelForward.dispatch(bindings, params(s, eps, momentum, slope), [1, s.channels], what);
  } else { // stage 1, then stage 2 inside the normalization's pass
    const partials = Tensor.empty([s.channels, s.chunks, 2], 'batchnorm chunk statistics');
    kernels.chunkStatistics.dispatch({ ...bindings, partials }, params(s, eps, momentum), [s.chunks, s.channels], what);
    kernels.mergeNormalize.dispatch1d({ ...bindings, partials }, params(s, eps, momentum, slope), x.size, what);
    partials.dispose(); // later work that reuses the buffer is recorded after the pass that reads it
  }
  return { y, mean, invStd };
}

/** Eval forward by the running statistics, which it returns as the backward reads them (mean, invStd). */
export function evalForward(
  x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor, sizes: BatchNormSizes, eps: number, slope: number,
): BatchNormStatistics {
  const s = layout('batchNormEvalForward', sizes, x);
  const mean = Tensor.empty([s.channels], 'batchnorm running mean');
  const invStd = Tensor.empty([s.channels], 'batchnorm running invStd');
  kernels.runningStatistics.dispatch1d({ running_mean: runningMean, running_var: runningVar, mean, inv_std: invStd }, params(s, eps), s.channels);
  const y = Tensor.empty(x.shape, 'batchnorm y');
  kernels.normalize.dispatch1d({ x, gamma, beta, mean, inv_std: invStd, y }, params(s, 0, 0, slope), x.size, ` x ${shapeText(x.shape)}`);
  return { y, mean, invStd };
}

/** The bindings and slope of the fused activation's gradient; without one, x stands in (unread: slope 1). */
const activationGradient = (x: Tensor, after?: FusedActivation) => ({ activated: after?.output ?? x, slope: after?.slope ?? 1 });

/** Training backward through the batch statistics (the math: shaders/fast/batchnorm.wgsl, input_gradient). */
export function trainBackward(
  x: Tensor, dy: Tensor, gamma: Tensor, mean: Tensor, invStd: Tensor, sizes: BatchNormSizes, after?: FusedActivation,
): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  const s = layout('batchNormBackward', sizes, x);
  const what = ` x ${shapeText(x.shape)}`;
  const { activated, slope } = activationGradient(x, after);
  const dx = Tensor.empty(x.shape, 'batchnorm dx');
  const dgamma = Tensor.empty([s.channels], 'batchnorm dgamma');
  const dbeta = Tensor.empty([s.channels], 'batchnorm dbeta');
  const bindings = { x, grad_y: dy, gamma, mean, inv_std: invStd, grad_gamma: dgamma, grad_beta: dbeta, grad_x: dx, activated };
  if (s.chunks === 1) {
    kernels.channelBackward.dispatch(bindings, params(s, 0, 0, slope), [1, s.channels], what);
  } else { // stage 1, then stage 2 inside the input gradient's pass
    const partials = Tensor.empty([s.channels, s.chunks, 2], 'batchnorm chunk parameter gradients');
    kernels.chunkParameterGradients.dispatch({ ...bindings, partials }, params(s, 0, 0, slope), [s.chunks, s.channels], what);
    kernels.backwardInput.dispatch1d({ ...bindings, partials }, params(s, 0, 0, slope), x.size, what);
    partials.dispose();
  }
  return { dx, dgamma, dbeta };
}

/** Eval backward (the running statistics are constants): dx = gamma·invStd·dy, dgamma = Σ dy·xhat, dbeta = Σ dy. */
export function evalBackward(
  x: Tensor, dy: Tensor, gamma: Tensor, mean: Tensor, invStd: Tensor, sizes: BatchNormSizes, after?: FusedActivation,
): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  const s = layout('batchNormEvalBackward', sizes, x);
  const what = ` x ${shapeText(x.shape)}`;
  const { activated, slope } = activationGradient(x, after);
  const dgamma = Tensor.empty([s.channels], 'batchnorm dgamma');
  const dbeta = Tensor.empty([s.channels], 'batchnorm dbeta');
  const partials = Tensor.empty([s.channels, s.chunks, 2], 'batchnorm chunk parameter gradients');
  const gradients = { partials, grad_gamma: dgamma, grad_beta: dbeta };
  kernels.chunkParameterGradients.dispatch({ x, grad_y: dy, mean, inv_std: invStd, activated, ...gradients }, params(s, 0, 0, slope),
    [s.chunks, s.channels], what);
  if (s.chunks > 1) kernels.mergeParameterGradients.dispatch1d(gradients, params(s), s.channels, what);
  partials.dispose();
  const dx = Tensor.empty(x.shape, 'batchnorm dx');
  kernels.evalBackwardInput.dispatch1d({ gamma, inv_std: invStd, grad_y: dy, grad_x: dx, activated }, params(s, 0, 0, slope), x.size, what);
  return { dx, dgamma, dbeta };
}
