// The differentiable ops: each runs its forward kernel and records how to map dL/d(output) back to its
// inputs, in the style of tinygrad's function.py. The derivative of each is in its comment.
import type { Tensor } from '../gpu/tensor.ts';
import { record } from './tape.ts';
import * as act from '../kernels/activations.ts';
import { addScaled, copy } from '../kernels/elementwise.ts';
import * as up from '../kernels/upsample.ts';

/** a + b:  dL/da = dL/db = dL/dy */
export function add(a: Tensor, b: Tensor): Tensor {
  return record(addScaled(a, b, 1), [a, b], (dy) => [copy(dy), copy(dy)]);
}

/** max(x, 0):  dL/dx = dL/dy * [x > 0] */
export function relu(x: Tensor): Tensor {
  return record(act.reluForward(x), [x], (dy) => [act.reluBackward(x, dy)]);
}

/** x > 0 ? x : slope x:  dL/dx = dL/dy * (x > 0 ? 1 : slope) */
export function leakyRelu(x: Tensor, slope = 0.2): Tensor {
  return record(act.leakyReluForward(x, slope), [x], (dy) => [act.leakyReluBackward(x, dy, slope)]);
}

/** tanh(x):  dL/dx = dL/dy * (1 - y^2) */
export function tanh(x: Tensor): Tensor {
  const y = act.tanhForward(x);
  return record(y, [x], (dy) => [act.tanhBackward(y, dy)]);
}

/** sigmoid(x):  dL/dx = dL/dy * y (1 - y) */
export function sigmoid(x: Tensor): Tensor {
  const y = act.sigmoidForward(x);
  return record(y, [x], (dy) => [act.sigmoidBackward(y, dy)]);
}

/** nearest-neighbour upsampling by 2, y[n,c,2i+a,2j+b] = x[n,c,i,j]:  dL/dx[n,c,i,j] = Σ_{a,b ∈ {0,1}} dL/dy[n,c,2i+a,2j+b] */
export function upsample2x(x: Tensor): Tensor {
  return record(up.upsample2xForward(x), [x], (dy) => [up.upsample2xBackward(dy)]);
}
