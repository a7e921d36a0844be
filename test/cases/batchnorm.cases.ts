// GPU BatchNorm2d (train + eval, forward + backward, each kernel version, and the autograd op) vs the float64
// reference.
import * as gpu from '../../src/kernels/batchnorm.ts';
import * as ref from '../../src/reference/batchnorm.ts';
import { leakyReluBackward, leakyReluForward } from '../../src/reference/activations.ts';
import { batchNorm2d } from '../../src/autograd/batchnorm.ts';
import { tidy } from '../../src/gpu/tensor.ts';
import { kernelSet, useKernelSet } from '../../src/kernels/kernel-set.ts';
import { backward } from '../../src/autograd/tape.ts';
import { assertClose, download, randomArray, rng, upload, type OpCase } from '../support/check.ts';

// batch 1 with H·W > 1, odd channel counts, non-square, m = N·H·W > 256 (multi-step strided loops), large m,
// and H·W = 1 (m = batch = 3: with m = 2, xhat = ±1 and the exact dx is ~0, all rounding); m = 5043 is
// two chunks of the fast version's two-stage reductions (2522 values and 2521: src/kernels/batchnorm-fast.ts
// batchnormChunks)
const shapes = [[1, 3, 2, 5], [2, 5, 3, 4], [3, 1, 7, 13], [4, 3, 20, 17], [3, 7, 1, 1], [5, 2, 9, 6], [3, 2, 41, 41]];
const options = { eps: 1e-5, momentum: 0.1 };

function data(shape: number[], seed: number) {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const c = shape[1];
  return {
    x: randomArray(n, r, -2, 3), // a non-zero mean, so the variance is not just Σx²
    dy: randomArray(n, r),
    gamma: randomArray(c, r, 0.5, 1.5),
    beta: randomArray(c, r),
    runningMean: randomArray(c, r),
    runningVar: randomArray(c, r, 0.5, 2),
  };
}

const variants: gpu.BatchNormVariant[] = ['simple', 'fast'];

/** The launchers of one kernel version against the reference: train and eval, forward and backward. */
function launcherCases(shape: number[], seed: number, variant: gpu.BatchNormVariant): OpCase[] {
  const tag = `shape [${shape}] seed ${seed} ${variant}`;
  const c = [shape[1]];
  return [
    {
      name: `batchnorm train forward + backward ${tag}`,
      run: async () => {
        const d = data(shape, seed);
        const out = tidy(() => {
          const x = upload(d.x, shape);
          const gamma = upload(d.gamma, c);
          const runningMean = upload(d.runningMean, c);
          const runningVar = upload(d.runningVar, c);
          const f = gpu.batchNormTrainForward(x, gamma, upload(d.beta, c), runningMean, runningVar, options, 1, variant);
          const b = gpu.batchNormBackward(x, upload(d.dy, shape), gamma, f.mean, f.invStd, undefined, variant);
          return { ...f, ...b, runningMean, runningVar };
        });
        const rm = d.runningMean.slice();
        const rv = d.runningVar.slice();
        const f = ref.batchNormTrainForward(d.x, shape, d.gamma, d.beta, rm, rv, options);
        const b = ref.batchNormBackward(d.x, shape, d.dy, d.gamma, f.mean, f.invStd);
        assertClose(`batchnorm train y ${tag}`, await download(out.y), f.y);
        assertClose(`batchnorm train mean ${tag}`, await download(out.mean), f.mean);
        assertClose(`batchnorm train invStd ${tag}`, await download(out.invStd), f.invStd);
        assertClose(`batchnorm running mean ${tag}`, await download(out.runningMean), rm);
        assertClose(`batchnorm running var ${tag}`, await download(out.runningVar), rv);
        assertClose(`batchnorm dx ${tag}`, await download(out.dx), b.dx);
        assertClose(`batchnorm dgamma ${tag}`, await download(out.dgamma), b.dgamma);
        assertClose(`batchnorm dbeta ${tag}`, await download(out.dbeta), b.dbeta);
        for (const t of Object.values(out)) t.dispose();
      },
    },
    {
      name: `batchnorm eval forward + backward ${tag}`,
      run: async () => {
        const d = data(shape, seed);
        const out = tidy(() => {
          const x = upload(d.x, shape);
          const gamma = upload(d.gamma, c);
          const runningMean = upload(d.runningMean, c);
          const runningVar = upload(d.runningVar, c);
          const f = gpu.batchNormEvalForward(x, gamma, upload(d.beta, c), runningMean, runningVar, options.eps, 1, variant);
          const b = gpu.batchNormEvalBackward(x, upload(d.dy, shape), gamma, f.mean, f.invStd, undefined, variant);
          return { ...f, ...b, runningMean, runningVar };
        });
        const y = ref.batchNormEvalForward(d.x, shape, d.gamma, d.beta, d.runningMean, d.runningVar, options.eps);
        const b = ref.batchNormEvalBackward(d.x, shape, d.dy, d.gamma, d.runningMean, d.runningVar, options.eps);
        assertClose(`batchnorm eval y ${tag}`, await download(out.y), y);
        assertClose(`batchnorm eval dx ${tag}`, await download(out.dx), b.dx);
        assertClose(`batchnorm eval dgamma ${tag}`, await download(out.dgamma), b.dgamma);
        assertClose(`batchnorm eval dbeta ${tag}`, await download(out.dbeta), b.dbeta);
        // eval leaves the running statistics as they were
        assertClose(`batchnorm eval running mean ${tag}`, await download(out.runningMean), d.runningMean);
        assertClose(`batchnorm eval running var ${tag}`, await download(out.runningVar), d.runningVar);
        for (const t of Object.values(out)) t.dispose();
      },
    },
  ];
}

// The autograd op runs whichever version the run's kernel set gives (KERNEL_SET, test/support/kernel-set.ts).
export const batchnormCases: OpCase[] = shapes.flatMap((shape, k) => {
  const seed = 300 + k;
  const tag = `shape [${shape}] seed ${seed}`;
  const c = [shape[1]];
  return [
    ...variants.flatMap((variant) => launcherCases(shape, seed, variant)),
    {
      name: `batchnorm autograd (train then eval) ${tag}`,
      run: async () => {
        const d = data(shape, seed);
        const x = upload(d.x, shape, true);
        const gamma = upload(d.gamma, c, true);
        const beta = upload(d.beta, c, true);
        const runningMean = upload(d.runningMean, c);
        const runningVar = upload(d.runningVar, c);
        const yEval = tidy(() => {
          const dy = upload(d.dy, shape);
          backward(batchNorm2d(x, gamma, beta, runningMean, runningVar, { training: true }), dy);
          return batchNorm2d(x, gamma, beta, runningMean, runningVar, { training: false });
        });
        const rm = d.runningMean.slice();
        const rv = d.runningVar.slice();
        const f = ref.batchNormTrainForward(d.x, shape, d.gamma, d.beta, rm, rv, options);
        const b = ref.batchNormBackward(d.x, shape, d.dy, d.gamma, f.mean, f.invStd);
        assertClose(`batchNorm2d x.grad ${tag}`, await download(x.grad!), b.dx);
        assertClose(`batchNorm2d gamma.grad ${tag}`, await download(gamma.grad!), b.dgamma);
        assertClose(`batchNorm2d beta.grad ${tag}`, await download(beta.grad!), b.dbeta);
        const y = ref.batchNormEvalForward(d.x, shape, d.gamma, d.beta, rm, rv, options.eps);
        assertClose(`batchNorm2d eval y after one training step ${tag}`, await download(yEval), y);
        for (const t of [x, gamma, beta]) t.zeroGrad();
        for (const t of [x, gamma, beta, runningMean, runningVar, yEval]) t.dispose();
      },
    },
  ];
});

// BatchNorm2d with the ReLU (slope 0) or LeakyReLU (0.2) that follows it fused into its kernels, against
// the reference batchnorm then the reference activation (forward), and the activation's backward then the
// batchnorm's (backward). Train and eval; one shape with two reduction chunks. Fusion is the fast kernels'
// alone (the simple one refuses a slope), so these name the fast version, and the autograd case runs under
// the fast kernel set.
const fusedShapes = [[2, 5, 3, 4], [3, 2, 41, 41]];
export const batchnormFusedCases: OpCase[] = fusedShapes.flatMap((shape, k) => [0, 0.2].flatMap((slope) => {
  const seed = 320 + k;
  const tag = `shape [${shape}] slope ${slope} seed ${seed}`;
  const c = [shape[1]];
  return [
    {
      name: `batchnorm + relu fused, train forward + backward ${tag}`,
      run: async () => {
        const d = data(shape, seed);
        const out = tidy(() => {
          const x = upload(d.x, shape);
          const gamma = upload(d.gamma, c);
          const f = gpu.batchNormTrainForward(x, gamma, upload(d.beta, c), upload(d.runningMean, c), upload(d.runningVar, c), options, slope, 'fast');
          const b = gpu.batchNormBackward(x, upload(d.dy, shape), gamma, f.mean, f.invStd, { output: f.y, slope }, 'fast');
          return { y: f.y, ...b };
        });
        const f = ref.batchNormTrainForward(d.x, shape, d.gamma, d.beta, d.runningMean.slice(), d.runningVar.slice(), options);
        const b = ref.batchNormBackward(d.x, shape, leakyReluBackward(f.y, d.dy, slope), d.gamma, f.mean, f.invStd);
        assertClose(`fused train y ${tag}`, await download(out.y), leakyReluForward(f.y, slope));
        assertClose(`fused dx ${tag}`, await download(out.dx), b.dx);
        assertClose(`fused dgamma ${tag}`, await download(out.dgamma), b.dgamma);
        assertClose(`fused dbeta ${tag}`, await download(out.dbeta), b.dbeta);
        for (const t of Object.values(out)) t.dispose();
      },
    },
    {
      name: `batchnorm + relu fused, autograd in eval mode ${tag}`,
      run: async () => {
        const d = data(shape, seed);
        const x = upload(d.x, shape, true);
        const gamma = upload(d.gamma, c, true);
        const beta = upload(d.beta, c, true);
        const set = kernelSet();
        useKernelSet('fast');
        const y = tidy(() => {
          const out = batchNorm2d(x, gamma, beta, upload(d.runningMean, c), upload(d.runningVar, c), { training: false, reluSlope: slope });
          backward(out, upload(d.dy, shape));
          return out;
        });
        useKernelSet(set);
        const z = ref.batchNormEvalForward(d.x, shape, d.gamma, d.beta, d.runningMean, d.runningVar, options.eps);
        const b = ref.batchNormEvalBackward(d.x, shape, leakyReluBackward(z, d.dy, slope), d.gamma, d.runningMean, d.runningVar, options.eps);
        assertClose(`fused eval y ${tag}`, await download(y), leakyReluForward(z, slope));
        assertClose(`fused eval x.grad ${tag}`, await download(x.grad!), b.dx);
        assertClose(`fused eval gamma.grad ${tag}`, await download(gamma.grad!), b.dgamma);
        assertClose(`fused eval beta.grad ${tag}`, await download(beta.grad!), b.dbeta);
        for (const t of [x, gamma, beta]) t.zeroGrad();
        for (const t of [x, gamma, beta, y]) t.dispose();
      },
    },
  ];
}));
