// CPU reference for shaders/reduce.wgsl: float64 loops.

type Vec = Float64Array;

/** y = Σ_i x_i, returned as a length-1 array like the GPU's [1] tensor */
export function sum(x: Vec): Vec {
  let s = 0;
  for (const v of x) s += v;
  return Float64Array.of(s);
}

/** y = (1/n) Σ_i x_i */
export const mean = (x: Vec): Vec => Float64Array.of(sum(x)[0] / x.length);

/** dL/dx_i = dL/dy for y = Σ x */
export const sumBackward = (n: number, dy: number): Vec => new Float64Array(n).fill(dy);

/** dL/dx_i = dL/dy / n for y = mean(x) */
export const meanBackward = (n: number, dy: number): Vec => new Float64Array(n).fill(dy / n);
