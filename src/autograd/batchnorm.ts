// Differentiable BatchNorm2d. The layer (parameters, running buffers) lives in src/model; this is the op.
import type { Tensor } from '../gpu/tensor.ts';
import { record } from './tape.ts';
import * as bn from '../kernels/batchnorm.ts';

interface BatchNorm2dOptions {
  training: boolean;
  eps?: number;
  momentum?: number;
  /** a ReLU (0) or LeakyReLU (its slope) applied to the output in the same kernels (the fast ones only); absent: none */
  reluSlope?: number;
}

/**
 * y = gamma (x − mean) / sqrt(var + eps) + beta per channel of NCHW x, then act(y) = y > 0 ? y : slope·y
 * when reluSlope is given (the gradient first becomes dy = dout · act'(y), read off the output's sign).
 * training: batch statistics (runningMean/runningVar are updated in place), and the gradient flows
 *   through them: dx = gamma·invStd/m · (m·dy − Σdy − xhat·Σdy·xhat), dgamma = Σ dy·xhat, dbeta = Σ dy.
 * eval: running statistics, constants for the gradient: dx = gamma·invStd·dy.
 * Either way the forward's statistics (mean, invStd) are kept for the backward.
 */
export function batchNorm2d(
  x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor, options: BatchNorm2dOptions,
): Tensor {
  const eps = options.eps ?? bn.BATCHNORM_DEFAULTS.eps;
  const momentum = options.momentum ?? bn.BATCHNORM_DEFAULTS.momentum;
  const slope = options.reluSlope ?? 1;
  const { y, mean, invStd } = options.training
    ? bn.batchNormTrainForward(x, gamma, beta, runningMean, runningVar, { eps, momentum }, slope)
    : bn.batchNormEvalForward(x, gamma, beta, runningMean, runningVar, eps, slope);
  const backward = options.training ? bn.batchNormBackward : bn.batchNormEvalBackward;
  record(y, [x, gamma, beta], (dy) => {
    const { dx, dgamma, dbeta } = backward(x, dy, gamma, mean, invStd, { output: y, slope });
    return [dx, dgamma, dbeta];
  });
  // the saved statistics live in the caller's tidy scope with the rest of the graph; unneeded, free them now
  if (!y.requiresGrad) {
    mean.dispose();
    invStd.dispose();
  }
  return y;
}
