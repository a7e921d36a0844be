// GPU binary cross-entropy (from logits and from probabilities) vs the float64 reference, forward and
// backward, on odd sizes, several seeds, extreme logits (±50) and probabilities at and near 0 and 1.
import * as gpu from '../../src/kernels/loss.ts';
import * as ref from '../../src/reference/loss.ts';
import { bce, bceWithLogits } from '../../src/autograd/loss.ts';
import { sizeOf, tidy, type Shape } from '../../src/gpu/tensor.ts';
import { backward } from '../../src/autograd/tape.ts';
import { assertClose, download, randomArray, rng, upload, type OpCase } from '../support/check.ts';

/** float32-rounded copies, so the reference sees exactly the values the GPU gets (it matters near the clamps) */
const f32 = (a: Float64Array): Float64Array => Float64Array.from(Float32Array.from(a));

interface LossData { x: Float64Array; p: Float64Array; y: Float64Array; gradLoss: number }

function randomData(n: number, seed: number, hardTargets: boolean): LossData {
  const r = rng(seed);
  const x = f32(randomArray(n, r, -4, 4));
  const p = f32(randomArray(n, r, 0.01, 0.99));
  const y = hardTargets ? Float64Array.from({ length: n }, () => (r() < 0.5 ? 0 : 1)) : f32(randomArray(n, r, 0, 1));
  return { x, p, y, gradLoss: Math.fround(0.5 + r()) };
}

/**
 * Logits of ±50 and ±20 mixed with ordinary ones. Probabilities exactly 0 and 1 (log 0 clamps at −100 and
 * p(1 − p) at 1e-12) and near them (1e-7, 1 − 2^-24), against both targets.
 */
function extremeData(seed: number): LossData {
  const r = rng(seed);
  const x = f32(Float64Array.from([50, -50, 50, -50, 20, -20, 0.3, -1.7, 3.1]));
  const p = f32(Float64Array.from([0, 1, 0, 1, 1e-7, 1 - 2 ** -24, 1e-7, 0.4, 0.93]));
  const y = Float64Array.from([1, 0, 0, 1, 1, 0, 0, 0, 1]);
  return { x, p, y, gradLoss: Math.fround(0.5 + r()) };
}

/** `elementwise`: also compare dL/dp element by element (gradients from 1e-2 to 1e12 share one norm otherwise) */
function lossCase(name: string, shape: Shape, make: () => LossData, elementwise = false): OpCase {
  const tag = `${name} shape [${shape}]`;
  return {
    name: tag,
    run: async () => {
      const { x, p, y, gradLoss } = make();
      const [lossLogits, dLogits, lossP, dP, meanProbability] = tidy(() => {
        const tx = upload(x, shape);
        const tp = upload(p, shape);
        const ty = upload(y, shape);
        const g = upload(Float64Array.of(gradLoss), [1]);
        return [gpu.bceWithLogitsForward(tx, ty), gpu.bceWithLogitsBackward(tx, ty, g), gpu.bceForward(tp, ty), gpu.bceBackward(tp, ty, g), gpu.meanSigmoid(tx)];
      });
      assertClose(`meanSigmoid ${tag}`, await download(meanProbability), [ref.meanSigmoid(x)]);
      assertClose(`bceWithLogits forward ${tag}`, await download(lossLogits), [ref.bceWithLogitsForward(x, y)]);
      assertClose(`bceWithLogits backward ${tag}`, await download(dLogits), ref.bceWithLogitsBackward(x, y, gradLoss));
      assertClose(`bce forward ${tag}`, await download(lossP), [ref.bceForward(p, y)]);
      const dPGpu = await download(dP);
      const dPRef = ref.bceBackward(p, y, gradLoss);
      assertClose(`bce backward ${tag}`, dPGpu, dPRef);
      if (elementwise) dPRef.forEach((v, i) => assertClose(`bce backward ${tag} element ${i} (p ${p[i]}, y ${y[i]})`, [dPGpu[i]], [v]));
      for (const t of [lossLogits, dLogits, lossP, dP, meanProbability]) t.dispose();
    },
  };
}

const shapes: Shape[] = [[1], [7], [2, 3, 5], [64, 1, 1, 1], [300], [1000, 1, 1, 1]];

export const lossCases: OpCase[] = [
  ...shapes.map((shape, k) => lossCase(`bce seed ${200 + k} hard targets`, shape, () => randomData(sizeOf(shape), 200 + k, true))),
  ...shapes.slice(0, 4).map((shape, k) => lossCase(`bce seed ${210 + k} soft targets`, shape, () => randomData(sizeOf(shape), 210 + k, false))),
  lossCase('bce extreme logits and probabilities', [9], () => extremeData(220), true),
  lossCase('bce extreme, correctly classified only', [4], () => ({
    // every logit term is tiny here: log(1 + e^-50) ≈ 2e-22 must not round to 0; the probability loss is exactly 0
    x: f32(Float64Array.from([50, -50, 30, -30])),
    p: f32(Float64Array.from([1, 0, 1, 0])),
    y: Float64Array.from([1, 0, 1, 0]),
    gradLoss: 1,
  })),
  {
    name: 'bce autograd: loss.backward() gives the reference gradient to the first input only',
    run: async () => {
      const shape = [5, 1, 1, 1];
      const { x, p, y } = randomData(5, 230, true);
      const tx = upload(x, shape, true);
      const tp = upload(p, shape, true);
      const ty = upload(y, shape, true);
      const [a, b] = tidy(() => [bceWithLogits(tx, ty), bce(tp, ty)]);
      backward(a);
      backward(b);
      assertClose('bceWithLogits autograd loss', await download(a), [ref.bceWithLogitsForward(x, y)]);
      assertClose('bceWithLogits autograd grad', await download(tx.grad!), ref.bceWithLogitsBackward(x, y));
      assertClose('bce autograd grad', await download(tp.grad!), ref.bceBackward(p, y));
      if (ty.grad) throw new Error('bce autograd: the target received a gradient');
      for (const t of [a, b, tx, tp, ty]) { t.zeroGrad(); t.dispose(); }
    },
  },
  {
    name: 'bce launchers reject mismatched shapes',
    run: async () => {
      tidy(() => {
        let message = '';
        try {
          gpu.bceWithLogitsForward(upload(new Float64Array(6).fill(0.5), [2, 3]), upload(new Float64Array(6).fill(1), [3, 2]));
        } catch (e) {
          message = (e as Error).message;
        }
        if (!message.includes('[2,3]') || !message.includes('[3,2]')) throw new Error(`expected a shape error, got '${message}'`);
      });
    },
  },
];
