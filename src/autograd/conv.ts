// Differentiable conv2d and transposed conv2d (NCHW, PyTorch weight layouts). Gradients are computed
// only for inputs that require them.
import type { Tensor } from '../gpu/tensor.ts';
import { record } from './tape.ts';
import * as k from '../kernels/conv.ts';
import type { ConvOptions } from '../kernels/conv-shapes.ts';

/**
 * y = conv2d(x, w) + b:  dL/dx = convTranspose2d(dL/dy, w),  dL/dw[o,c,i,j] = Σ dL/dy[n,o,y,x] x[n,c,ys−p+i,xs−p+j],
 * dL/db[o] = Σ_{n,y,x} dL/dy[n,o,y,x]
 */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null, o: ConvOptions): Tensor {
  const y = k.conv2dForward(x, w, bias, o);
  return record(y, bias ? [x, w, bias] : [x, w], (dy) => [
    x.requiresGrad ? k.conv2dBackwardInput(dy, w, x.shape, o) : null,
    w.requiresGrad ? k.conv2dBackwardWeight(x, dy, w.shape, o) : null,
    bias?.requiresGrad ? k.convBiasBackward(dy) : null,
  ]);
}

/**
 * y = convTranspose2d(x, w) + b, the adjoint of conv2d:  dL/dx = conv2d(dL/dy, w) (same stride and padding),
 * dL/dw[c,o,i,j] = Σ x[n,c,y,x] dL/dy[n,o,ys−p+i,xs−p+j],  dL/db[o] = Σ_{n,y,x} dL/dy[n,o,y,x]
 */
export function convTranspose2d(x: Tensor, w: Tensor, bias: Tensor | null, o: ConvOptions): Tensor {
  const y = k.convTranspose2dForward(x, w, bias, o);
  return record(y, bias ? [x, w, bias] : [x, w], (dy) => [
    x.requiresGrad ? k.convTranspose2dBackwardInput(dy, w, x.shape, o) : null,
    w.requiresGrad ? k.convTranspose2dBackwardWeight(x, dy, w.shape, o) : null,
    bias?.requiresGrad ? k.convBiasBackward(dy) : null,
  ]);
}
