// Launchers for shaders/activations.wgsl. Each returns a new tensor; autograd lives in src/autograd/ops.ts.
import code from '../../shaders/activations.wgsl?raw';
import { Kernel } from '../gpu/kernel.ts';
import { Tensor, shapeText } from '../gpu/tensor.ts';
import { sameShape } from './elementwise.ts';

const file = 'shaders/activations.wgsl';
const kernel = (entry: string) => new Kernel(file, code, entry);
const kernels = {
  reluForward: kernel('relu_forward'),
  reluBackward: kernel('relu_backward'),
  leakyReluForward: kernel('leaky_relu_forward'),
  leakyReluBackward: kernel('leaky_relu_backward'),
  tanhForward: kernel('tanh_forward'),
  tanhBackward: kernel('tanh_backward'),
  sigmoidForward: kernel('sigmoid_forward'),
  sigmoidBackward: kernel('sigmoid_backward'),
};

function forward(k: Kernel, x: Tensor, slope = 0): Tensor {
  const out = Tensor.empty(x.shape, k.entryPoint);
  k.dispatch1d({ x, out }, { n: x.size, slope }, x.size, ` x ${shapeText(x.shape)}`);
  return out;
}

/** `saved` is the forward input x (relu, leaky relu) or the forward output y (tanh, sigmoid). */
function backward(k: Kernel, saved: Tensor, gradY: Tensor, slope = 0): Tensor {
  sameShape(k.entryPoint, saved, gradY);
  const out = Tensor.empty(saved.shape, k.entryPoint);
  k.dispatch1d({ x: saved, grad_y: gradY, out }, { n: saved.size, slope }, saved.size, ` ${shapeText(saved.shape)}`);
  return out;
}

export const reluForward = (x: Tensor) => forward(kernels.reluForward, x);
export const reluBackward = (x: Tensor, gradY: Tensor) => backward(kernels.reluBackward, x, gradY);
export const leakyReluForward = (x: Tensor, slope: number) => forward(kernels.leakyReluForward, x, slope);
export const leakyReluBackward = (x: Tensor, gradY: Tensor, slope: number) => backward(kernels.leakyReluBackward, x, gradY, slope);
export const tanhForward = (x: Tensor) => forward(kernels.tanhForward, x);
export const tanhBackward = (y: Tensor, gradY: Tensor) => backward(kernels.tanhBackward, y, gradY);
export const sigmoidForward = (x: Tensor) => forward(kernels.sigmoidForward, x);
export const sigmoidBackward = (y: Tensor, gradY: Tensor) => backward(kernels.sigmoidBackward, y, gradY);
