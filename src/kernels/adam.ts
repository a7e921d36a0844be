// Launcher for shaders/adam.wgsl: one fused, in-place Adam update of a parameter and its two moments (or
// of a whole network's, as four arenas' `whole` tensors). The optimizer (src/optim/adam.ts) writes every
// parameter's per-step values in one buffer, once per step.
import code from '../../shaders/adam.wgsl?raw';
import { Kernel } from '../gpu/kernel.ts';
import { Tensor, shapeText } from '../gpu/tensor.ts';
import { sameShape } from './elementwise.ts';

const kernel = new Kernel('shaders/adam.wgsl', code, 'adam_update');

/** The hyperparameters that stay fixed for a run (they go into the kernel's cached uniform). */
export interface AdamConstants {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/**
 * The per-step pair the kernel reads from its `step` buffer, computed in float64 on the CPU:
 * [lr / (1 − β1^t), sqrt(1 − β2^t)] for step t = 1, 2, ...
 */
export function adamStepValues(lr: number, beta1: number, beta2: number, step: number): [number, number] {
  if (!Number.isInteger(step) || step < 1) throw new Error(`adam: step count must be an integer ≥ 1, got ${step}`);
  return [lr / (1 - beta1 ** step), Math.sqrt(1 - beta2 ** step)];
}

/**
 * In place: param, m and v are overwritten (same buffers, so models keep their references).
 * `stepValues` holds adamStepValues(...) pairs; this parameter's pair is at index 2·slot.
 */
export function adamUpdate(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, stepValues: Tensor, constants: AdamConstants, slot = 0): void {
  sameShape('adam (param vs grad)', param, grad);
  sameShape('adam (param vs m)', param, m);
  sameShape('adam (param vs v)', param, v);
  if (!Number.isInteger(slot) || slot < 0 || stepValues.size < 2 * slot + 2) {
    throw new Error(`adam: step values of shape ${shapeText(stepValues.shape)} have no pair for slot ${slot}`);
  }
  const { beta1, beta2, eps, weightDecay } = constants;
  kernel.dispatch1d(
    { param, grad, m, v, step: stepValues },
    // 1 − β in float64 here, then rounded once to float32 (the shader's own 1.0 − β would round β first)
    { n: param.size, slot, beta1, beta2, one_minus_beta1: 1 - beta1, one_minus_beta2: 1 - beta2, eps, weight_decay: weightDecay },
    param.size,
    ` param ${shapeText(param.shape)}`,
  );
}
