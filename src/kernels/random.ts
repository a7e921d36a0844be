// Launchers for shaders/random.wgsl: seeded normal random tensors (weight init, latent noise).
// Element i depends only on (seed, i), so results are reproducible and match src/reference/random.ts.
import code from '../../shaders/random.wgsl?raw';
import { Kernel } from '../gpu/kernel.ts';
import { Tensor, shapeText, type Shape } from '../gpu/tensor.ts';

const kernel = new Kernel('shaders/random.wgsl', code, 'random_normal');

/** Overwrite `t` with mean + std · N(0, 1) samples drawn from `seed` (an integer in [0, 2^32)). */
export function randomNormalInto(t: Tensor, mean: number, std: number, seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`randomNormal: seed must be an integer in [0, 2^32), got ${seed}`);
  // the seed is split into two 16-bit halves so that each is exact as a float32
  const settings = Tensor.empty([4], 'random settings');
  settings.write([seed & 0xffff, seed >>> 16, mean, std]);
  kernel.dispatch1d({ settings, out: t }, { n: t.size }, t.size, ` ${shapeText(t.shape)} seed ${seed}`);
  settings.dispose(); // back to the pool: work recorded later runs after this dispatch, so reuse is safe
}

export function randomNormal(shape: Shape, mean: number, std: number, seed: number): Tensor {
  const out = Tensor.empty(shape, 'randomNormal');
  randomNormalInto(out, mean, std, seed);
  return out;
}
