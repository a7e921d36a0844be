// CPU reference for shaders/adam.wgsl: one Adam step (PyTorch semantics) in float64, in place.
import type { AdamConstants } from '../kernels/adam.ts';

/**
 * g = grad + wd·p;  m = β1 m + (1−β1) g;  v = β2 v + (1−β2) g²;
 * p −= lr · m̂ / (sqrt(v̂) + eps)  with m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t).  `step` is t, counted from 1.
 * param, m and v are overwritten.
 */
export function adamStep(param: Float64Array, grad: Float64Array, m: Float64Array, v: Float64Array, options: AdamConstants & { lr: number }, step: number): void {
  const { lr, beta1, beta2, eps, weightDecay } = options;
  const biasCorrection1 = 1 - beta1 ** step;
  const biasCorrection2 = 1 - beta2 ** step;
  for (let i = 0; i < param.length; i++) {
    const g = grad[i] + weightDecay * param[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    const mHat = m[i] / biasCorrection1;
    const vHat = v[i] / biasCorrection2;
    param[i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
  }
}
