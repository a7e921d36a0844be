// Launchers of BatchNorm2d over NCHW, training and eval, forward and backward, in two versions, as the
// conv launchers have: 'simple' (shaders/batchnorm.wgsl: one thread per channel, one kernel per pass,
// nothing fused) and 'fast' (./batchnorm-fast.ts: many threads per channel, and the ReLU / LeakyReLU that
// follows fused in through `slope`: 1 none, 0 ReLU, else the LeakyReLU's). Without a `variant`, the run's
// kernel set decides (./kernel-set.ts). Both return the statistics they normalized by (mean, invStd), which
// the backward takes: the batch's in training, the running ones in eval. Autograd: src/autograd/batchnorm.ts.
import code from '../../shaders/batchnorm.wgsl?raw';
import { Kernel } from '../gpu/kernel.ts';
import { Tensor, shapeText } from '../gpu/tensor.ts';
import * as fast from './batchnorm-fast.ts';
import type { BatchNormOptions, BatchNormSizes, BatchNormStatistics, FusedActivation } from './batchnorm-fast.ts';
import { sameShape } from './elementwise.ts';
import { kernelSet } from './kernel-set.ts';

export type BatchNormVariant = 'simple' | 'fast';
export const BATCHNORM_DEFAULTS: BatchNormOptions = { eps: 1e-5, momentum: 0.1 };
type Gradients = { dx: Tensor; dgamma: Tensor; dbeta: Tensor };

const file = 'shaders/batchnorm.wgsl';
const simple = { forward: new Kernel(file, code, 'batchnorm_forward'), backward: new Kernel(file, code, 'batchnorm_backward') };

/** Checks x is [N,C,H,W] and every per-channel tensor is [C]; returns the sizes. */
function sizes(op: string, x: Tensor, perChannel: Record<string, Tensor>): BatchNormSizes {
  if (x.shape.length !== 4) throw new Error(`${op}: x must be [N,C,H,W], got ${shapeText(x.shape)}`);
  const [batch, channels, height, width] = x.shape;
  for (const [name, t] of Object.entries(perChannel)) {
    if (t.shape.length !== 1 || t.shape[0] !== channels) {
      throw new Error(`${op}: ${name} must be [${channels}] for x ${shapeText(x.shape)}, got ${shapeText(t.shape)}`);
    }
  }
  return { batch, channels, spatial: height * width };
}

/** The variant to run: the one asked for, else the run's kernel set's. The simple kernel fuses nothing. */
function chosen(op: string, variant: BatchNormVariant | undefined, slope: number): BatchNormVariant {
  const v = variant ?? (kernelSet() === 'simple' ? 'simple' : 'fast');
  if (v === 'simple' && slope !== 1) {
    throw new Error(`${op}: the simple batchnorm fuses no activation (slope ${slope}); run the activation after it, as Sequential does under --kernel-set simple`);
  }
  return v;
}

/** The simple forward: statistics (batch ones when training, else the running ones) and y, one thread per channel. */
function simpleForward(
  x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor, s: BatchNormSizes,
  eps: number, momentum: number, training: boolean,
): BatchNormStatistics {
  const mean = Tensor.empty([s.channels], 'batchnorm mean');
  const invStd = Tensor.empty([s.channels], 'batchnorm invStd');
  const y = Tensor.empty(x.shape, 'batchnorm y');
  const bindings = { x, gamma, beta, mean, inv_std: invStd, running_mean: runningMean, running_var: runningVar, y };
  simple.forward.dispatch1d(bindings, { ...s, eps, momentum, training: Number(training) }, s.channels, ` x ${shapeText(x.shape)}`);
  return { y, mean, invStd };
}

function simpleBackward(x: Tensor, dy: Tensor, gamma: Tensor, mean: Tensor, invStd: Tensor, s: BatchNormSizes, training: boolean): Gradients {
  const dx = Tensor.empty(x.shape, 'batchnorm dx');
  const dgamma = Tensor.empty([s.channels], 'batchnorm dgamma');
  const dbeta = Tensor.empty([s.channels], 'batchnorm dbeta');
  const bindings = { x, grad_y: dy, gamma, mean, inv_std: invStd, grad_x: dx, grad_gamma: dgamma, grad_beta: dbeta };
  simple.backward.dispatch1d(bindings, { ...s, eps: 0, momentum: 0, training: Number(training) }, s.channels, ` x ${shapeText(x.shape)}`);
  return { dx, dgamma, dbeta };
}

/**
 * Training forward with batch statistics. Updates runningMean and runningVar IN PLACE (PyTorch's rule,
 * unbiased variance in the running estimate) and returns y (after the fused activation of `slope`, fast
 * only) plus the per-channel mean and invStd backward needs.
 */
export function batchNormTrainForward(
  x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor,
  options: BatchNormOptions = BATCHNORM_DEFAULTS, slope = 1, variant?: BatchNormVariant,
): BatchNormStatistics {
  const op = 'batchNormTrainForward';
  const s = sizes(op, x, { gamma, beta, runningMean, runningVar });
  if (s.batch * s.spatial < 2) throw new Error(`${op}: x ${shapeText(x.shape)} has one value per channel; training needs more than one`);
  return chosen(op, variant, slope) === 'fast'
    ? fast.trainForward(x, gamma, beta, runningMean, runningVar, s, options, slope)
    : simpleForward(x, gamma, beta, runningMean, runningVar, s, options.eps, options.momentum, true);
}

/** Eval forward: y = act(gamma (x − runningMean) / sqrt(runningVar + eps) + beta), act of `slope` (fast only). */
export function batchNormEvalForward(
  x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor, eps = BATCHNORM_DEFAULTS.eps, slope = 1,
  variant?: BatchNormVariant,
): BatchNormStatistics {
  const op = 'batchNormEvalForward';
  const s = sizes(op, x, { gamma, beta, runningMean, runningVar });
  return chosen(op, variant, slope) === 'fast'
    ? fast.evalForward(x, gamma, beta, runningMean, runningVar, s, eps, slope)
    : simpleForward(x, gamma, beta, runningMean, runningVar, s, eps, 0, false);
}

/** Either backward: `training` says whether the gradient flows through the statistics (see the two below). */
function backwardPass(
  op: string, training: boolean, x: Tensor, dy: Tensor, gamma: Tensor, mean: Tensor, invStd: Tensor,
  after: FusedActivation | undefined, variant: BatchNormVariant | undefined,
): Gradients {
  sameShape(op, x, dy);
  const s = sizes(op, x, { gamma, mean, invStd });
  if (chosen(op, variant, after?.slope ?? 1) === 'simple') return simpleBackward(x, dy, gamma, mean, invStd, s, training);
  return (training ? fast.trainBackward : fast.evalBackward)(x, dy, gamma, mean, invStd, s, after);
}

/**
 * Training backward, through the batch statistics: dbeta = Σ dy, dgamma = Σ dy·xhat,
 * dx = gamma·invStd/m · (m·dy − dbeta − xhat·dgamma), where dy is taken through the fused activation
 * `after` (if any) first. `mean` and `invStd` are batchNormTrainForward's.
 */
export function batchNormBackward(
  x: Tensor, dy: Tensor, gamma: Tensor, mean: Tensor, invStd: Tensor, after?: FusedActivation, variant?: BatchNormVariant,
): Gradients {
  return backwardPass('batchNormBackward', true, x, dy, gamma, mean, invStd, after, variant);
}

/**
 * Eval backward (the running statistics are constants): dx = gamma·invStd·dy, dgamma = Σ dy·xhat,
 * dbeta = Σ dy. `mean` and `invStd` are batchNormEvalForward's.
 */
export function batchNormEvalBackward(
  x: Tensor, dy: Tensor, gamma: Tensor, mean: Tensor, invStd: Tensor, after?: FusedActivation, variant?: BatchNormVariant,
): Gradients {
  return backwardPass('batchNormEvalBackward', false, x, dy, gamma, mean, invStd, after, variant);
}
