// Seeded normal random init: the GPU matches the CPU reference element by element (same hash, bit for bit),
// the same seed repeats, different seeds differ, and 100k samples have mean ≈ 0 and std ≈ 1.
import { randomNormal, randomNormalInto } from '../../src/kernels/random.ts';
import * as ref from '../../src/reference/random.ts';
import { Tensor, tidy, type Shape } from '../../src/gpu/tensor.ts';
import { assertClose, download, type OpCase } from '../support/check.ts';

const configs: { shape: Shape; mean: number; std: number; seed: number }[] = [
  { shape: [1], mean: 0, std: 1, seed: 0 },
  { shape: [7], mean: 0, std: 0.02, seed: 1 }, // DCGAN's conv init N(0, 0.02)
  { shape: [3, 5, 4, 4], mean: 1, std: 0.02, seed: 42 }, // DCGAN's batchnorm weight init N(1, 0.02)
  { shape: [2, 100, 1, 1], mean: 0, std: 1, seed: 0xffffffff },
  { shape: [1001], mean: -3, std: 2.5, seed: 123456789 },
  { shape: [70000], mean: 0, std: 1, seed: 7 },
];

function moments(a: ArrayLike<number>): { mean: number; std: number } {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i];
  const mean = sum / a.length;
  let squares = 0;
  for (let i = 0; i < a.length; i++) squares += (a[i] - mean) ** 2;
  return { mean, std: Math.sqrt(squares / a.length) };
}

export const randomCases: OpCase[] = [
  ...configs.map(({ shape, mean, std, seed }): OpCase => ({
    name: `randomNormal shape [${shape}] mean ${mean} std ${std} seed ${seed}`,
    run: async () => {
      const t = randomNormal(shape, mean, std, seed);
      const size = shape.reduce((a, b) => a * b, 1);
      assertClose(`randomNormal shape [${shape}] seed ${seed}`, await download(t), ref.randomNormal(size, mean, std, seed));
      t.dispose();
    },
  })),
  {
    name: 'randomNormal: same seed repeats, different seeds differ, randomNormalInto overwrites in place',
    run: async () => {
      const shape = [4, 33];
      const [a, b, c] = tidy(() => [randomNormal(shape, 0, 1, 5), randomNormal(shape, 0, 1, 5), randomNormal(shape, 0, 1, 6)]);
      const [va, vb, vc] = [await a.read(), await b.read(), await c.read()];
      if (va.some((x, i) => x !== vb[i])) throw new Error('randomNormal: the same seed gave different values');
      const same = va.filter((x, i) => x === vc[i]).length;
      if (same > 0) throw new Error(`randomNormal: seeds 5 and 6 agree on ${same} of ${va.length} elements`);
      randomNormalInto(a, 0, 1, 6);
      const again = await a.read();
      if (again.some((x, i) => x !== vc[i])) throw new Error('randomNormalInto: seed 6 in place differs from a fresh seed 6');
      for (const t of [a, b, c]) t.dispose();
    },
  },
  {
    name: 'randomNormal: 100k samples have mean ≈ 0, std ≈ 1, and normal tails',
    run: async () => {
      const n = 100_000;
      const t: Tensor = randomNormal([n], 0, 1, 2024);
      const values = await download(t);
      t.dispose();
      const { mean, std } = moments(values);
      // standard errors: 1/sqrt(n) = 0.0032 for the mean, 1/sqrt(2n) = 0.0022 for the std; allow 5 of them
      if (Math.abs(mean) > 0.016) throw new Error(`randomNormal: mean ${mean} of ${n} samples, expected ≈ 0`);
      if (Math.abs(std - 1) > 0.011) throw new Error(`randomNormal: std ${std} of ${n} samples, expected ≈ 1`);
      // P(|z| > 2) = 0.0455 for a normal, and a uniform or a bad Box–Muller would miss it; allow ±15%
      const tail = values.filter((x) => Math.abs(x) > 2).length / n;
      if (Math.abs(tail - 0.0455) > 0.007) throw new Error(`randomNormal: fraction beyond ±2 std is ${tail}, expected ≈ 0.0455`);
      // neighbouring elements must not be correlated (the counter-based hash has no stream to share)
      let lagged = 0;
      for (let i = 1; i < n; i++) lagged += values[i] * values[i - 1];
      if (Math.abs(lagged / n) > 0.016) throw new Error(`randomNormal: lag-1 correlation ${lagged / n}, expected ≈ 0`);
    },
  },
  {
    name: 'randomNormal rejects a seed that is not a 32-bit unsigned integer',
    run: async () => {
      for (const seed of [-1, 1.5, 2 ** 32]) {
        let threw = false;
        try {
          randomNormal([3], 0, 1, seed);
        } catch {
          threw = true;
        }
        if (!threw) throw new Error(`randomNormal accepted seed ${seed}`);
      }
    },
  },
];
