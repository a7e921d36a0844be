// Adam with PyTorch's semantics (torch.optim.Adam, no amsgrad, weight decay as L2 added to the gradient).
// Each step writes the step-dependent values (lr and bias corrections) of every parameter into one small
// tensor, then runs one fused kernel per parameter that updates the parameter, m and v in place.
// As in PyTorch, the step count t of the bias corrections is kept per parameter: a parameter whose grad is
// null is skipped and its count does not advance.
import { Tensor, keep } from '../gpu/tensor.ts';
import { fill } from '../kernels/elementwise.ts';
import { adamStepValues, adamUpdate, type AdamConstants } from '../kernels/adam.ts';

/** The constants of the kernel (beta1, beta2, eps, weightDecay) and the learning rate. */
export interface AdamOptions extends AdamConstants {
  lr: number;
}

/** torch.optim.Adam's defaults */
export const adamDefaults: AdamOptions = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

export class Adam {
  readonly options: AdamOptions;
  /** step() calls so far (a checkpoint counter); the bias corrections use each parameter's own count, state[i].step */
  stepCount = 0;
  /** per parameter: first and second moment estimates (zero-initialised) and the updates it has had (t) */
  readonly state: { m: Tensor; v: Tensor; step: number }[];
  /** per parameter the pair [lr / (1 − β1^t), sqrt(1 − β2^t)], rewritten each step (never a uniform: those are cached forever) */
  private readonly stepValues: Tensor;

  constructor(
    readonly params: Tensor[],
    options: Partial<AdamOptions> = {},
  ) {
    this.options = { ...adamDefaults, ...options };
    const { lr, beta1, beta2, eps, weightDecay } = this.options;
    if (!(lr >= 0) || !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps >= 0) || !(weightDecay >= 0)) {
      throw new Error(`Adam: invalid options ${JSON.stringify(this.options)}: need lr, eps, weightDecay ≥ 0 and 0 ≤ beta < 1`);
    }
    this.state = params.map((p) => ({ m: keep(fill(p.shape, 0)), v: keep(fill(p.shape, 0)), step: 0 }));
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
    for (const { m, v } of this.state) {
      m.dispose();
      v.dispose();
    }
    this.stepValues.dispose();
  }
}
