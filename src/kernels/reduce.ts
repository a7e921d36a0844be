// Launchers for shaders/reduce.wgsl: reductions of a whole tensor to one value, and their backward.
import code from '../../shaders/reduce.wgsl?raw';
import { Kernel } from '../gpu/kernel.ts';
import { Tensor, shapeText, type Shape } from '../gpu/tensor.ts';

const file = 'shaders/reduce.wgsl';
const kernels = {
  sumAll: new Kernel(file, code, 'sum_all'),
  broadcastScaled: new Kernel(file, code, 'broadcast_scaled'),
};

function scaledSum(op: string, x: Tensor, scale: number): Tensor {
  const out = Tensor.empty([1], op);
  kernels.sumAll.dispatch({ x, out }, { n: x.size, scale }, [1], ` ${op} of x ${shapeText(x.shape)}`);
  return out;
}

/** Σ_i x_i, shape [1] */
export const sumForward = (x: Tensor): Tensor => scaledSum('sum', x, 1);

/** (1/n) Σ_i x_i, shape [1] */
export const meanForward = (x: Tensor): Tensor => scaledSum('mean', x, 1 / x.size);

/** A tensor of `shape` with every element = scale * gradY[0]: the backward of sum (scale 1) and mean (scale 1/n). */
export function broadcastScaled(gradY: Tensor, shape: Shape, scale: number): Tensor {
  if (gradY.size !== 1) throw new Error(`broadcastScaled: the gradient must hold one value, got ${shapeText(gradY.shape)}`);
  const out = Tensor.empty(shape, 'broadcast');
  kernels.broadcastScaled.dispatch1d({ grad_y: gradY, out }, { n: out.size, scale }, out.size, ` to ${shapeText(shape)}`);
  return out;
}
