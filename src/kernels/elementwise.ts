// Launchers for shaders/elementwise.wgsl: the plumbing the tape and the engine need (fill, copy, addScaled,
// accumulate, scale, movingAverageInto).
import code from '../../shaders/elementwise.wgsl?raw';
import { Kernel } from '../gpu/kernel.ts';
import { Tensor, shapeText, type Shape } from '../gpu/tensor.ts';

const file = 'shaders/elementwise.wgsl';
const kernels = {
  fill: new Kernel(file, code, 'fill'),
  copy: new Kernel(file, code, 'copy'),
  addScaled: new Kernel(file, code, 'add_scaled'),
  accumulate: new Kernel(file, code, 'accumulate'),
  scale: new Kernel(file, code, 'scale'),
  movingAverage: new Kernel(file, code, 'moving_average'),
};

const f32Bits = (v: number): number => new Uint32Array(new Float32Array([v]).buffer)[0];
const params = (n: number, alpha = 0, value = 0) => ({ n, alpha, value_bits: f32Bits(value) });

export function sameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.size !== b.size || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${op}: shapes ${shapeText(a.shape)} and ${shapeText(b.shape)} differ`);
  }
}

/** Write `value` into every element of `out` (NaN included: tests poison outputs this way). */
export function fillInto(out: Tensor, value: number): void {
  kernels.fill.dispatch1d({ out }, params(out.size, 0, value), out.size, ` ${shapeText(out.shape)}`);
}

export function fill(shape: Shape, value: number): Tensor {
  const out = Tensor.empty(shape, 'fill');
  fillInto(out, value);
  return out;
}

export function copy(a: Tensor): Tensor {
  const out = Tensor.empty(a.shape, 'copy');
  kernels.copy.dispatch1d({ a, out }, params(a.size), a.size, ` ${shapeText(a.shape)}`);
  return out;
}

/** a + alpha · b (the tape's gradient accumulation; src/autograd/ops.ts's add is the differentiable a + b). */
export function addScaled(a: Tensor, b: Tensor, alpha = 1): Tensor {
  sameShape('add', a, b);
  const out = Tensor.empty(a.shape, 'add');
  kernels.addScaled.dispatch1d({ a, b, out }, params(a.size, alpha), a.size, ` ${shapeText(a.shape)}`);
  return out;
}

/** out += b, in place (backward()'s addition of staged gradients into a gradient arena). */
export function accumulate(out: Tensor, b: Tensor): void {
  sameShape('accumulate', out, b);
  kernels.accumulate.dispatch1d({ b, out }, params(out.size), out.size, ` ${shapeText(out.shape)}`);
}

export function scale(a: Tensor, alpha: number): Tensor {
  const out = Tensor.empty(a.shape, 'scale');
  kernels.scale.dispatch1d({ a, out }, params(a.size, alpha), a.size, ` ${shapeText(a.shape)}`);
  return out;
}

/** average ← decay · average + (1 − decay) · value, in place (an exponential moving average's update). */
export function movingAverageInto(average: Tensor, value: Tensor, decay: number): void {
  sameShape('movingAverage', average, value);
  if (!(decay >= 0 && decay <= 1)) throw new Error(`movingAverage: decay must be in [0, 1], got ${decay}`);
  kernels.movingAverage.dispatch1d({ b: value, out: average }, params(average.size, decay, 1 - decay), average.size, ` ${shapeText(average.shape)}`);
}
