// Adam with PyTorch's semantics (torch.optim.Adam, no amsgrad, weight decay as L2 added to the gradient).
// Each step writes the step-dependent values (lr and bias corrections) of every parameter into one small
// tensor, then runs the fused kernel that updates parameters, m and v in place.
// As in PyTorch, the step count t of the bias corrections is kept per parameter: a parameter whose grad is
// null is skipped and its count does not advance.
// The parameters of a Sequential live in one arena and their gradients in its twin (src/model/layers.ts);
// m and v are then twins too, so slot i of all four sits at the same offset, and a step in which every
// parameter has its gradient in its slot and the same count t (every training step) is ONE dispatch over
// the whole arena: the same per-element update, with one pair of step values for all. Any other step (a
// parameter skipped, counts that differ, parameters not in one arena) runs one dispatch per parameter.
import { Tensor, TensorArena, keep } from '../gpu/tensor.ts';
import { fill } from '../kernels/elementwise.ts';
import { adamStepValues, adamUpdate, type AdamConstants } from '../kernels/adam.ts';

/** The constants of the kernel (beta1, beta2, eps, weightDecay) and the learning rate. */
export interface AdamOptions extends AdamConstants {
  lr: number;
}

/** torch.optim.Adam's defaults */
export const adamDefaults: AdamOptions = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

/** The four arenas of a whole-network update: parameters, their gradients, m and v. */
interface Flat { params: TensorArena; grads: TensorArena; m: TensorArena; v: TensorArena }

export class Adam {
  readonly options: AdamOptions;
  /** step() calls so far (a checkpoint counter); the bias corrections use each parameter's own count, state[i].step */
  stepCount = 0;
  /** per parameter: first and second moment estimates (zero-initialised) and the updates it has had (t) */
  readonly state: { m: Tensor; v: Tensor; step: number }[];
  /** per parameter the pair [lr / (1 − β1^t), sqrt(1 − β2^t)], rewritten each step (never a uniform: those are cached forever) */
  private readonly stepValues: Tensor;
  /** the arenas when the parameters are exactly one arena's slots and their gradient slots its twin's */
  private readonly flat: Flat | null;

  constructor(
    readonly params: Tensor[],
    options: Partial<AdamOptions> = {},
  ) {
    this.options = { ...adamDefaults, ...options };
    const { lr, beta1, beta2, eps, weightDecay } = this.options;
    if (!(lr >= 0) || !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps >= 0) || !(weightDecay >= 0)) {
      throw new Error(`Adam: invalid options ${JSON.stringify(this.options)}: need lr, eps, weightDecay ≥ 0 and 0 ≤ beta < 1`);
    }
    const arenas = arenasOf(params);
    if (arenas) {
      const [m, v] = [arenas.params.twin('adam m'), arenas.params.twin('adam v')];
      this.flat = { ...arenas, m, v };
      this.state = params.map((_, i) => ({ m: m.tensors[i], v: v.tensors[i], step: 0 }));
    } else {
      this.flat = null;
      this.state = params.map((p) => ({ m: keep(fill(p.shape, 0)), v: keep(fill(p.shape, 0)), step: 0 }));
    }
    this.stepValues = keep(fill([Math.max(2 * params.length, 2)], 0));
  }

  /** One update of every parameter that has a gradient; parameters whose grad is null are skipped. */
  step(): void {
    this.stepCount++;
    const { lr, beta1, beta2 } = this.options;
    const values = new Float64Array(this.stepValues.size);
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      this.state[i].step++;
      values.set(adamStepValues(lr, beta1, beta2, this.state[i].step), 2 * i);
    });
    this.stepValues.write(values); // one upload per step, before any of this step's kernels run
    const t = this.state[0]?.step;
    const whole = this.flat && this.params.every((p, i) => p.grad === p.gradSlot && p.grad !== null && this.state[i].step === t);
    if (whole) {
      const { params, grads, m, v } = this.flat!;
      adamUpdate(params.whole, grads.whole, m.whole, v.whole, this.stepValues, this.options, 0); // every pair is slot 0's
      return;
    }
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      const { m, v } = this.state[i];
      adamUpdate(p, p.grad, m, v, this.stepValues, this.options, i);
    });
  }

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  dispose(): void {
    if (this.flat) {
      this.flat.m.dispose();
      this.flat.v.dispose();
    } else {
      for (const { m, v } of this.state) {
        m.dispose();
        v.dispose();
      }
    }
    this.stepValues.dispose();
  }
}

/**
 * The parameter and gradient arenas, when `params` are all the slots of one arena in order and their
 * gradient slots those of a twin (the same shapes, so the same offsets); else null.
 */
function arenasOf(params: Tensor[]): { params: TensorArena; grads: TensorArena } | null {
  const p = params[0] && TensorArena.slotOf(params[0])?.arena;
  const g = params[0]?.gradSlot && TensorArena.slotOf(params[0].gradSlot)?.arena;
  if (!p || !g || !p.holds(params) || !g.holds(params.map((q) => q.gradSlot!))) return null;
  return p.shapes === g.shapes ? { params: p, grads: g } : null;
}
