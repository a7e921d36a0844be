// CPU reference for shaders/batchnorm.wgsl: BatchNorm2d over NCHW in float64 loops.
// Per channel c, with m = N·H·W:  xhat = (x − mean_c) invStd_c,  invStd_c = 1/sqrt(var_c + eps),
// y = gamma_c xhat + beta_c.

type Vec = Float64Array;
type Shape = readonly number[];
interface BatchNormOptions { eps: number; momentum: number }

/** Calls f(c, i) for every flat NCHW index i of channel c. */
function forEachElement(xShape: Shape, f: (c: number, i: number) => void): void {
  const [batch, channels, height, width] = xShape;
  const spatial = height * width;
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const base = (n * channels + c) * spatial;
      for (let s = 0; s < spatial; s++) f(c, base + s);
    }
  }
}

const valuesPerChannel = (xShape: Shape) => xShape[0] * xShape[2] * xShape[3];

/** y = gamma (x − mean) invStd + beta, per channel */
function normalize(x: Vec, xShape: Shape, gamma: Vec, beta: Vec, mean: Vec, invStd: Vec): Vec {
  const y = new Float64Array(x.length);
  forEachElement(xShape, (c, i) => { y[i] = gamma[c] * (x[i] - mean[c]) * invStd[c] + beta[c]; });
  return y;
}

/**
 * Training forward with the batch's mean and biased variance. Mutates runningMean/runningVar as PyTorch does:
 * running = (1 − momentum) running + momentum stat, with the unbiased variance var·m/(m−1) in runningVar.
 */
export function batchNormTrainForward(
  x: Vec, xShape: Shape, gamma: Vec, beta: Vec, runningMean: Vec, runningVar: Vec, { eps, momentum }: BatchNormOptions,
): { y: Vec; mean: Vec; invStd: Vec } {
  const channels = xShape[1];
  const m = valuesPerChannel(xShape);
  const mean = new Float64Array(channels);
  const variance = new Float64Array(channels);
  forEachElement(xShape, (c, i) => { mean[c] += x[i] / m; });
  forEachElement(xShape, (c, i) => { variance[c] += (x[i] - mean[c]) ** 2 / m; });
  const invStd = variance.map((v) => 1 / Math.sqrt(v + eps));
  for (let c = 0; c < channels; c++) {
    runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mean[c];
    runningVar[c] = (1 - momentum) * runningVar[c] + momentum * variance[c] * m / (m - 1);
  }
  return { y: normalize(x, xShape, gamma, beta, mean, invStd), mean, invStd };
}

/** Eval forward: the running statistics in place of the batch's. */
export function batchNormEvalForward(
  x: Vec, xShape: Shape, gamma: Vec, beta: Vec, runningMean: Vec, runningVar: Vec, eps: number,
): Vec {
  const invStd = runningVar.map((v) => 1 / Math.sqrt(v + eps));
  return normalize(x, xShape, gamma, beta, runningMean, invStd);
}

/** dbeta_c = Σ dy, dgamma_c = Σ dy·xhat over channel c */
function parameterGradients(x: Vec, xShape: Shape, dy: Vec, mean: Vec, invStd: Vec) {
  const dgamma = new Float64Array(xShape[1]);
  const dbeta = new Float64Array(xShape[1]);
  forEachElement(xShape, (c, i) => {
    dbeta[c] += dy[i];
    dgamma[c] += dy[i] * (x[i] - mean[c]) * invStd[c];
  });
  return { dgamma, dbeta };
}

/**
 * Training backward through the batch statistics (mean, var depend on all of channel c's x):
 *   dx_i = gamma invStd / m · (m dy_i − dbeta − xhat_i dgamma)
 * from ∂xhat_j/∂x_i = invStd (δ_ij − 1/m) − invStd xhat_j xhat_i / m.
 */
export function batchNormBackward(
  x: Vec, xShape: Shape, dy: Vec, gamma: Vec, mean: Vec, invStd: Vec,
): { dx: Vec; dgamma: Vec; dbeta: Vec } {
  const m = valuesPerChannel(xShape);
  const { dgamma, dbeta } = parameterGradients(x, xShape, dy, mean, invStd);
  const dx = new Float64Array(x.length);
  forEachElement(xShape, (c, i) => {
    const xhat = (x[i] - mean[c]) * invStd[c];
    dx[i] = (gamma[c] * invStd[c] / m) * (m * dy[i] - dbeta[c] - xhat * dgamma[c]);
  });
  return { dx, dgamma, dbeta };
}

/** Eval backward: the running statistics are constants, so dx = gamma invStd dy. */
export function batchNormEvalBackward(
  x: Vec, xShape: Shape, dy: Vec, gamma: Vec, runningMean: Vec, runningVar: Vec, eps: number,
): { dx: Vec; dgamma: Vec; dbeta: Vec } {
  const invStd = runningVar.map((v) => 1 / Math.sqrt(v + eps));
  const { dgamma, dbeta } = parameterGradients(x, xShape, dy, runningMean, invStd);
  const dx = new Float64Array(x.length);
  forEachElement(xShape, (c, i) => { dx[i] = gamma[c] * invStd[c] * dy[i]; });
  return { dx, dgamma, dbeta };
}
