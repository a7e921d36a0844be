// Launchers for shaders/batchnorm.wgsl: BatchNorm2d over NCHW, training and eval, forward and backward,
// each optionally with the ReLU / LeakyReLU that follows it fused in (`slope`: 1 none, 0 ReLU, else the
// LeakyReLU's). Autograd lives in src/autograd/batchnorm.ts.
import code from '../../shaders/batchnorm.wgsl?raw';
import { Kernel } from '../gpu/kernel.ts';
import { Tensor, shapeText } from '../gpu/tensor.ts';
import { sameShape } from './elementwise.ts';

const file = 'shaders/batchnorm.wgsl';
const kernel = (entry: string) => new Kernel(file, code, entry);
const kernels = {
  channelForward: kernel('batchnorm_channel_forward'),
  channelBackward: kernel('batchnorm_channel_backward'),
  chunkStatistics: kernel('batchnorm_chunk_statistics'),
  mergeNormalize: kernel('batchnorm_merge_normalize'),
  runningInvStd: kernel('batchnorm_running_inv_std'),
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

interface BatchNormOptions { eps: number; momentum: number }
export const BATCHNORM_DEFAULTS: BatchNormOptions = { eps: 1e-5, momentum: 0.1 };

/** Checks x is [N,C,H,W] and every per-channel tensor is [C]; returns the uniform's sizes. */
function layout(op: string, x: Tensor, perChannel: Record<string, Tensor>) {
  if (x.shape.length !== 4) throw new Error(`${op}: x must be [N,C,H,W], got ${shapeText(x.shape)}`);
  const [batch, channels, height, width] = x.shape;
  for (const [name, t] of Object.entries(perChannel)) {
    if (t.shape.length !== 1 || t.shape[0] !== channels) {
      throw new Error(`${op}: ${name} must be [${channels}] for x ${shapeText(x.shape)}, got ${shapeText(t.shape)}`);
    }
  }
  if (channels > 65535) throw new Error(`${op}: ${channels} channels exceed one workgroup row per channel (65535)`);
  const m = batch * height * width;
  const wanted = Math.ceil(batchnormChunks.targetWorkgroups / channels);
  const chunks = Math.max(1, Math.min(wanted, Math.floor(m / batchnormChunks.minChunk), 65535));
  return { batch, channels, spatial: height * width, chunks, chunk_size: Math.ceil(m / chunks) };
}

type Sizes = ReturnType<typeof layout>;
const params = (s: Sizes, eps = 0, momentum = 0, slope = 1) => ({ ...s, eps, momentum, slope });

/** The activation fused after a batchnorm, as its backward needs it: the forward's output and the slope. */
interface FusedActivation { output: Tensor; slope: number }

/** Eval's normalization, by the running statistics (training's is inside its statistics passes). */
function normalize(x: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor, invStd: Tensor, s: Sizes, slope: number, what: string): Tensor {
  const y = Tensor.empty(x.shape, 'batchnorm y');
  kernels.normalize.dispatch1d({ x, gamma, beta, mean, inv_std: invStd, y }, params(s, 0, 0, slope), x.size, what);
  return y;
}

/**
 * Training forward with batch statistics. Updates runningMean and runningVar IN PLACE (PyTorch's rule,
 * unbiased variance in the running estimate) and returns y (after the fused activation of `slope`) plus
 * the per-channel mean and invStd backward needs.
 */
export function batchNormTrainForward(
  x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor,
  { eps, momentum }: BatchNormOptions = BATCHNORM_DEFAULTS, slope = 1,
): { y: Tensor; mean: Tensor; invStd: Tensor } {
  const s = layout('batchNormTrainForward', x, { gamma, beta, runningMean, runningVar });
  if (s.batch * s.spatial < 2) {
    throw new Error(`batchNormTrainForward: x ${shapeText(x.shape)} has one value per channel; training needs more than one`);
  }
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

/** Eval forward: y = act(gamma (x − runningMean) / sqrt(runningVar + eps) + beta), act of `slope`. */
export function batchNormEvalForward(
  x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor, eps = BATCHNORM_DEFAULTS.eps, slope = 1,
): Tensor {
  const s = layout('batchNormEvalForward', x, { gamma, beta, runningMean, runningVar });
  const invStd = runningInvStd(runningVar, s, eps);
  const y = normalize(x, gamma, beta, runningMean, invStd, s, slope, ` x ${shapeText(x.shape)}`);
  invStd.dispose(); // later work that reuses the buffer is recorded after the normalize that reads it
  return y;
}

function runningInvStd(runningVar: Tensor, s: Sizes, eps: number): Tensor {
  const invStd = Tensor.empty([s.channels], 'batchnorm running invStd');
  kernels.runningInvStd.dispatch1d({ running_var: runningVar, inv_std: invStd }, params(s, eps), s.channels);
  return invStd;
}

/** The bindings and slope of the fused activation's gradient; without one, x stands in (unread: slope 1). */
const activationGradient = (x: Tensor, after?: FusedActivation) => ({ activated: after?.output ?? x, slope: after?.slope ?? 1 });

function parameterGradients(x: Tensor, dy: Tensor, mean: Tensor, invStd: Tensor, s: Sizes, after: FusedActivation | undefined, what: string) {
  const dgamma = Tensor.empty([s.channels], 'batchnorm dgamma');
  const dbeta = Tensor.empty([s.channels], 'batchnorm dbeta');
  const partials = Tensor.empty([s.channels, s.chunks, 2], 'batchnorm chunk parameter gradients');
  const { activated, slope } = activationGradient(x, after);
  const gradients = { partials, grad_gamma: dgamma, grad_beta: dbeta };
  kernels.chunkParameterGradients.dispatch({ x, grad_y: dy, mean, inv_std: invStd, activated, ...gradients }, params(s, 0, 0, slope),
    [s.chunks, s.channels], what);
  if (s.chunks > 1) kernels.mergeParameterGradients.dispatch1d(gradients, params(s), s.channels, what);
  partials.dispose();
  return { dgamma, dbeta };
}

/**
 * Training backward, through the batch statistics: dbeta = Σ dy, dgamma = Σ dy·xhat,
 * dx = gamma·invStd/m · (m·dy − dbeta − xhat·dgamma), where dy is taken through the fused activation
 * `after` (if any) first. `mean` and `invStd` are batchNormTrainForward's.
 */
export function batchNormBackward(
  x: Tensor, dy: Tensor, gamma: Tensor, mean: Tensor, invStd: Tensor, after?: FusedActivation,
): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  sameShape('batchNormBackward', x, dy);
  const s = layout('batchNormBackward', x, { gamma, mean, invStd });
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

/** Eval backward (running statistics are constants): dx = gamma·invStd·dy, dgamma = Σ dy·xhat, dbeta = Σ dy. */
export function batchNormEvalBackward(
  x: Tensor, dy: Tensor, gamma: Tensor, runningMean: Tensor, runningVar: Tensor, eps = BATCHNORM_DEFAULTS.eps,
  after?: FusedActivation,
): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  sameShape('batchNormEvalBackward', x, dy);
  const s = layout('batchNormEvalBackward', x, { gamma, runningMean, runningVar });
  const what = ` x ${shapeText(x.shape)}`;
  const invStd = runningInvStd(runningVar, s, eps);
  const { dgamma, dbeta } = parameterGradients(x, dy, runningMean, invStd, s, after, what);
  const dx = Tensor.empty(x.shape, 'batchnorm dx');
  const { activated, slope } = activationGradient(x, after);
  kernels.evalBackwardInput.dispatch1d({ gamma, inv_std: invStd, grad_y: dy, grad_x: dx, activated }, params(s, 0, 0, slope),
    x.size, what);
  invStd.dispose();
  return { dx, dgamma, dbeta };
}
