// The fused GPU Adam step vs the float64 reference over several steps with fresh random gradients each
// step (weight decay included), then the Adam class: in-place updates, skipped null grads, zeroGrad.
import { adamStepValues, adamUpdate } from '../../src/kernels/adam.ts';
import { adamStep } from '../../src/reference/adam.ts';
import { Adam, adamDefaults, type AdamOptions } from '../../src/optim/adam.ts';
import { Tensor, keep, tidy, type Shape } from '../../src/gpu/tensor.ts';
import { assertClose, download, maxElementwiseRelativeError, randomArray, rng, upload, type OpCase } from '../support/check.ts';

const STEPS = 5;
const f32 = (a: Float64Array): Float64Array => Float64Array.from(Float32Array.from(a));
const sizeOf = (shape: Shape) => shape.reduce((a, b) => a * b, 1);

/**
 * The parameter moves by about lr per step, far less than its own size, so we compare the total change
 * p_T − p_0 (relative to the change) rather than p_T itself, which would hide a wrong update.
 */
async function compareState(tag: string, param: Tensor, m: Tensor, v: Tensor, p0: Float64Array, ref: { p: Float64Array; m: Float64Array; v: Float64Array }) {
  const pGpu = await download(param);
  assertClose(`adam param change ${tag}`, pGpu.map((x, i) => x - p0[i]), ref.p.map((x, i) => x - p0[i]));
  assertClose(`adam m ${tag}`, await download(m), ref.m);
  assertClose(`adam v ${tag}`, await download(v), ref.v);
}

const configs: { shape: Shape; options: Partial<AdamOptions> }[] = [
  { shape: [1], options: {} },
  { shape: [7], options: { lr: 2e-4, beta1: 0.5 } }, // DCGAN's settings
  { shape: [3, 5], options: { weightDecay: 0.01 } },
  { shape: [2, 3, 3, 3], options: { lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-3, weightDecay: 0.1 } },
  { shape: [300], options: { lr: 5e-3, weightDecay: 1e-4 } },
  { shape: [70000], options: { beta1: 0.5 } },
];

const kernelCases: OpCase[] = configs.map(({ shape, options }, k) => {
  const seed = 300 + k;
  const opts: AdamOptions = { ...adamDefaults, ...options };
  const tag = `shape [${shape}] ${JSON.stringify(options)} seed ${seed}`;
  return {
    name: `adam kernel, ${STEPS} steps, ${tag}`,
    run: async () => {
      const r = rng(seed);
      const n = sizeOf(shape);
      const p0 = f32(randomArray(n, r, -0.1, 0.1));
      const ref = { p: p0.slice(), m: new Float64Array(n), v: new Float64Array(n) };
      const [param, m, v, stepValues] = tidy(() => [upload(p0, shape), upload(ref.m, shape), upload(ref.v, shape), upload(new Float64Array(2), [2])]);
      for (let t = 1; t <= STEPS; t++) {
        const grad = f32(randomArray(n, r, -1, 1));
        adamStep(ref.p, grad, ref.m, ref.v, opts, t);
        stepValues.write(adamStepValues(opts.lr, opts.beta1, opts.beta2, t));
        tidy(() => adamUpdate(param, upload(grad, shape), m, v, stepValues, opts));
      }
      await compareState(tag, param, m, v, p0, ref);
      for (const t of [param, m, v, stepValues]) t.dispose();
    },
  };
});

const classCase: OpCase = {
  name: 'Adam class: in-place steps match the reference, null grads are skipped, zeroGrad clears',
  run: async () => {
    const r = rng(320);
    const options: Partial<AdamOptions> = { lr: 2e-3, beta1: 0.5, weightDecay: 0.05 };
    const opts = { ...adamDefaults, ...options };
    const shapes: Shape[] = [[4, 3], [5], [2, 2, 3, 3]];
    const p0 = shapes.map((s) => f32(randomArray(sizeOf(s), r, -0.1, 0.1)));
    const params = shapes.map((s, i) => keep(upload(p0[i], s, true)));
    const buffers = params.map((p) => p.buffer);
    const refs = p0.map((p) => ({ p: p.slice(), m: new Float64Array(p.length), v: new Float64Array(p.length) }));
    const adam = new Adam(params, options);
    // parameter 1 gets a gradient only on even steps: on the others Adam must leave it (and its moments) alone
    const refSteps = [0, 0, 0];
    for (let t = 1; t <= STEPS; t++) {
      params.forEach((p, i) => {
        if (i === 1 && t % 2 === 1) return;
        const grad = f32(randomArray(p.size, r, -1, 1));
        p.grad = keep(upload(grad, p.shape));
        // as in PyTorch, the bias corrections count this parameter's own updates, not the optimizer's steps
        refSteps[i]++;
        adamStep(refs[i].p, grad, refs[i].m, refs[i].v, opts, refSteps[i]);
      });
      adam.step();
      adam.zeroGrad();
      if (params.some((p) => p.grad !== null)) throw new Error('Adam.zeroGrad left a gradient behind');
    }
    if (adam.stepCount !== STEPS) throw new Error(`Adam.stepCount is ${adam.stepCount}, expected ${STEPS}`);
    if (adam.state.some((s, i) => s.step !== refSteps[i])) throw new Error(`Adam per-parameter steps ${adam.state.map((s) => s.step)}, expected ${refSteps}`);
    if (params.some((p, i) => p.buffer !== buffers[i])) throw new Error('Adam replaced a parameter buffer instead of updating in place');
    for (let i = 0; i < params.length; i++) {
      await compareState(`class param ${i} (${refSteps[i]} updates)`, params[i], adam.state[i].m, adam.state[i].v, p0[i], refs[i]);
    }
    adam.dispose();
    for (const p of params) p.dispose();
  },
};

/**
 * The moments to float32 precision element by element: one step from zero moments gives m = (1 − β1) g and
 * v = (1 − β2) g². With 1 − β computed in float32 from a rounded β (1 − 0.999 → 0.00099998713), v was
 * 1.3e-5 low; with 1 − β from the host, the only errors are float32 roundings (≤ ~2e-7).
 */
const momentsCase: OpCase = {
  name: 'adam moments to float32 precision (1 − β1, 1 − β2 from the host), β1 0.99, β2 0.999',
  run: async () => {
    const r = rng(330);
    const n = 1000;
    const opts: AdamOptions = { ...adamDefaults, beta1: 0.99, beta2: 0.999 };
    const grad = f32(randomArray(n, r, -1, 1));
    const [param, m, v, stepValues] = tidy(() => [upload(new Float64Array(n), [n]), upload(new Float64Array(n), [n]), upload(new Float64Array(n), [n]), upload(new Float64Array(2), [2])]);
    stepValues.write(adamStepValues(opts.lr, opts.beta1, opts.beta2, 1));
    tidy(() => adamUpdate(param, upload(grad, [n]), m, v, stepValues, opts));
    const errM = maxElementwiseRelativeError(await download(m), grad.map((g) => (1 - opts.beta1) * g));
    const errV = maxElementwiseRelativeError(await download(v), grad.map((g) => (1 - opts.beta2) * g * g));
    for (const t of [param, m, v, stepValues]) t.dispose();
    if (!(errM < 3e-7 && errV < 3e-7)) throw new Error(`adam moments: largest relative error m ${errM.toExponential(2)}, v ${errV.toExponential(2)} (≥ 3e-7)`);
  },
};

export const adamCases: OpCase[] = [...kernelCases, momentsCase, classCase];
