// Differentiable losses. Each is a mean over all elements and returns a [1] tensor to call backward() on.
// The target is a constant: only the first input receives a gradient.
import type { Tensor } from '../gpu/tensor.ts';
import { record } from './tape.ts';
import * as loss from '../kernels/loss.ts';

/** mean(max(x,0) − y·x + log(1 + exp(−|x|))):  dL/dx = (σ(x) − y) / n · dL/dloss */
export function bceWithLogits(logits: Tensor, target: Tensor): Tensor {
  return record(loss.bceWithLogitsForward(logits, target), [logits], (g) => [loss.bceWithLogitsBackward(logits, target, g)]);
}

/** mean(−(y·max(log p, −100) + (1−y)·max(log(1−p), −100))):  dL/dp = (p − y) / max(p(1−p), 1e-12) / n · dL/dloss */
export function bce(p: Tensor, target: Tensor): Tensor {
  return record(loss.bceForward(p, target), [p], (g) => [loss.bceBackward(p, target, g)]);
}
