// Shared by the Node (vitest) and browser (puppeteer) runs of the op tests: seeded random data,
// relative error, and uploading/downloading between float64 reference arrays and GPU tensors.
// Imports nothing from Node or vitest.
import { Tensor, debug, type Shape } from '../../src/gpu/tensor.ts';
import { fillInto } from '../../src/kernels/elementwise.ts';
import { mulberry32 } from '../../src/util/seeds.ts';

/** Seeded uniforms in [0, 1), so every failure can be replayed from the seed printed with it. */
export const rng = mulberry32;

/** Uniform values in [lo, hi), never exact zeros (a zero input hides bugs that multiply by it). */
export function randomArray(n: number, random: () => number, lo = -1, hi = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v = lo + (hi - lo) * random();
    if (v === 0) v = 1e-3;
    out[i] = v;
  }
  return out;
}

export const upload = (data: Float64Array, shape: Shape, requiresGrad = false): Tensor =>
  Tensor.fromArray(Float32Array.from(data), shape, requiresGrad);

export async function download(t: Tensor): Promise<Float64Array> {
  return Float64Array.from(await t.read());
}

/** ‖a − b‖ / ‖b‖ (NaN anywhere in a gives NaN, which fails every comparison). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30);
}

export const TOLERANCE = 1e-4;

/** Throws a message naming what differs, the case and its seed. */
export function assertClose(what: string, gpu: ArrayLike<number>, ref: ArrayLike<number>, tol = TOLERANCE): number {
  const err = relativeError(gpu, ref);
  if (!(err < tol)) {
    let firstBad = -1;
    for (let i = 0; i < gpu.length; i++) if (!(Math.abs(gpu[i] - ref[i]) <= tol * Math.max(1, Math.abs(ref[i])))) { firstBad = i; break; }
    throw new Error(`${what}: relative error ${err.toExponential(2)} ≥ ${tol}` +
      (firstBad >= 0 ? ` (first bad element ${firstBad}: gpu ${gpu[firstBad]} vs reference ${ref[firstBad]})` : ''));
  }
  return err;
}

/** The largest elementwise |gpu − ref| / |ref|: the norm-wise assertClose cannot see a small value that is wrong. */
export function maxElementwiseRelativeError(gpu: ArrayLike<number>, reference: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < gpu.length; i++) if (reference[i] !== 0) worst = Math.max(worst, Math.abs(gpu[i] - reference[i]) / Math.abs(reference[i]));
  return worst;
}

/** An op test: `run` throws on failure. The same list runs under vitest in Node and in headless Chromium. */
export interface OpCase {
  name: string;
  run: () => Promise<void>;
}

/** Poison every new output buffer with NaN so a kernel that skips an element fails its test. */
export function poisonOutputs(on: boolean): void {
  debug.poison = on ? (t) => fillInto(t, NaN) : null;
}
