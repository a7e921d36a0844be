// Launchers for shaders/upsample.wgsl: nearest-neighbour upsampling by 2 of an NCHW tensor, and its
// input gradient. The differentiable op is upsample2x in src/autograd/ops.ts.
import code from '../../shaders/upsample.wgsl?raw';
import { Kernel } from '../gpu/kernel.ts';
import { Tensor, shapeText, type Shape } from '../gpu/tensor.ts';

const file = 'shaders/upsample.wgsl';
const kernels = {
  forward: new Kernel(file, code, 'upsample2x_forward'),
  backward: new Kernel(file, code, 'upsample2x_backward'),
};

/** [N, C, H, W] → [N, C, 2H, 2W] */
export function upsample2xOutputShape(xShape: Shape): number[] {
  if (xShape.length !== 4) throw new Error(`upsample2x: x must be NCHW, got ${shapeText(xShape)}`);
  const [n, c, h, w] = xShape;
  return [n, c, 2 * h, 2 * w];
}

/** y[n,c,2i+a,2j+b] = x[n,c,i,j] */
export function upsample2xForward(x: Tensor): Tensor {
  const out = Tensor.empty(upsample2xOutputShape(x.shape), 'upsample2x_forward');
  const [, , height, width] = x.shape;
  kernels.forward.dispatch1d({ x, out }, { n: out.size, height, width }, out.size, ` x ${shapeText(x.shape)}`);
  return out;
}

/** dx[n,c,i,j] = Σ_{a,b ∈ {0,1}} dy[n,c,2i+a,2j+b]; `gradY` is dL/dy [N, C, 2H, 2W] */
export function upsample2xBackward(gradY: Tensor): Tensor {
  const [n, c, h2, w2] = gradY.shape;
  if (gradY.shape.length !== 4 || h2 % 2 !== 0 || w2 % 2 !== 0) {
    throw new Error(`upsample2x backward: dy must be NCHW with an even height and width, got ${shapeText(gradY.shape)}`);
  }
  const out = Tensor.empty([n, c, h2 / 2, w2 / 2], 'upsample2x_backward');
  kernels.backward.dispatch1d({ grad_y: gradY, out }, { n: out.size, height: h2 / 2, width: w2 / 2 }, out.size, ` dy ${shapeText(gradY.shape)}`);
  return out;
}
