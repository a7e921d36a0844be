// Differentiable reductions to a scalar (shape [1]), e.g. to turn a per-element loss into the loss.
import type { Tensor } from '../gpu/tensor.ts';
import { record } from './tape.ts';
import * as reduce from '../kernels/reduce.ts';

/** y = Σ_i x_i:  dL/dx_i = dL/dy */
export function sum(x: Tensor): Tensor {
  return record(reduce.sumForward(x), [x], (dy) => [reduce.broadcastScaled(dy, x.shape, 1)]);
}

/** y = (1/n) Σ_i x_i:  dL/dx_i = dL/dy / n */
export function mean(x: Tensor): Tensor {
  return record(reduce.meanForward(x), [x], (dy) => [reduce.broadcastScaled(dy, x.shape, 1 / x.size)]);
}
