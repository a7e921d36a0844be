// Central finite differences in float64: the check that each reference backward is the true derivative.
// For an op y = f(x) and a random upstream gradient g we take the scalar L(x) = Σ g·f(x); then
// dL/dx_i ≈ (L(x + h e_i) − L(x − h e_i)) / 2h must equal the reference backward's dx_i.

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Numerical dL/dx for a scalar function L of x (x is perturbed in place and restored). */
export function numericalGradient(loss: (x: Float64Array) => number, x: Float64Array, h = 1e-6): Float64Array {
  const grad = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const saved = x[i];
    x[i] = saved + h;
    const plus = loss(x);
    x[i] = saved - h;
    const minus = loss(x);
    x[i] = saved;
    grad[i] = (plus - minus) / (2 * h);
  }
  return grad;
}

/** max |a − b| / max(1, |b|): float64 differences should agree to ~1e-6. */
export function maxRelativeDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return worst;
}
