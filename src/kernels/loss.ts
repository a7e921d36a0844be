// Launchers for shaders/loss.wgsl: binary cross-entropy, mean over all elements. Forward returns a [1]
// tensor; backward returns dL/dinput given dL/dloss as a [1] tensor. Autograd lives in src/autograd/loss.ts.
// Also meanSigmoid, the mean probability of a batch of logits that training logs (no gradient).
import code from '../../shaders/loss.wgsl?raw';
import { Kernel } from '../gpu/kernel.ts';
import { Tensor, shapeText } from '../gpu/tensor.ts';
import { sameShape } from './elementwise.ts';

const file = 'shaders/loss.wgsl';
const kernel = (entry: string) => new Kernel(file, code, entry);
const kernels = {
  bceWithLogitsForward: kernel('bce_with_logits_forward'),
  bceWithLogitsBackward: kernel('bce_with_logits_backward'),
  bceForward: kernel('bce_forward'),
  bceBackward: kernel('bce_backward'),
  meanSigmoid: kernel('mean_sigmoid'),
};

/** One workgroup loops over all n elements and tree-reduces: the loss is a mean over a small batch. */
function forward(k: Kernel, op: string, x: Tensor, target: Tensor): Tensor {
  sameShape(op, x, target);
  const out = Tensor.empty([1], k.entryPoint);
  k.dispatch({ x, targets: target, out }, { n: x.size }, [1], ` ${shapeText(x.shape)}`);
  return out;
}

function backward(k: Kernel, op: string, x: Tensor, target: Tensor, gradLoss: Tensor): Tensor {
  sameShape(op, x, target);
  if (gradLoss.size !== 1) throw new Error(`${op}: gradient of the loss must hold one value, got shape ${shapeText(gradLoss.shape)}`);
  const out = Tensor.empty(x.shape, k.entryPoint);
  k.dispatch1d({ x, targets: target, grad_loss: gradLoss, out }, { n: x.size }, x.size, ` ${shapeText(x.shape)}`);
  return out;
}

/** mean(max(x,0) − y·x + log(1 + exp(−|x|))), shape [1] */
export const bceWithLogitsForward = (logits: Tensor, target: Tensor) =>
  forward(kernels.bceWithLogitsForward, 'bceWithLogits', logits, target);
/** dL/dx = (σ(x) − y) / n · dL/dloss */
export const bceWithLogitsBackward = (logits: Tensor, target: Tensor, gradLoss: Tensor) =>
  backward(kernels.bceWithLogitsBackward, 'bceWithLogits backward', logits, target, gradLoss);
/** mean(−(y·max(log p, −100) + (1−y)·max(log(1−p), −100))), shape [1] */
export const bceForward = (p: Tensor, target: Tensor) => forward(kernels.bceForward, 'bce', p, target);
/** dL/dp = (p − y) / max((1−p)·p, 1e-12) / n · dL/dloss (PyTorch's form) */
export const bceBackward = (p: Tensor, target: Tensor, gradLoss: Tensor) =>
  backward(kernels.bceBackward, 'bce backward', p, target, gradLoss);

/** mean(σ(x)) over all elements, shape [1]: D's mean probability for a batch of its logits (a statistic: no gradient) */
export function meanSigmoid(logits: Tensor): Tensor {
  const out = Tensor.empty([1], 'mean sigmoid');
  kernels.meanSigmoid.dispatch({ x: logits, out }, { n: logits.size }, [1], ` ${shapeText(logits.shape)}`);
  return out;
}
