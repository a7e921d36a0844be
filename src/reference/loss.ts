// CPU reference for shaders/loss.wgsl: binary cross-entropy with mean reduction, float64 loops.
// x: logits or probabilities p; y: targets of the same length; results are the mean loss or dL/dx.

type Vec = Float64Array;

function sameLength(op: string, a: Vec, b: Vec): number {
  if (a.length !== b.length) throw new Error(`${op}: ${a.length} inputs vs ${b.length} targets`);
  return a.length;
}

/** log(1 + exp(−|x|)) + max(x, 0) − y·x: −y log σ(x) − (1−y) log(1 − σ(x)) without overflow */
export function bceWithLogitsForward(x: Vec, y: Vec): number {
  const n = sameLength('bceWithLogits', x, y);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.max(x[i], 0) - y[i] * x[i] + Math.log1p(Math.exp(-Math.abs(x[i])));
  return sum / n;
}

/**
 * dL/dx_i = (σ(x_i) − y_i) / n · dL/dloss, with σ − y written without cancellation (e = exp(−|x|)):
 * (1 − y) − e/(1+e) for x ≥ 0, e/(1+e) − y for x < 0.
 */
export function bceWithLogitsBackward(x: Vec, y: Vec, gradLoss = 1): Vec {
  const n = sameLength('bceWithLogits backward', x, y);
  const dx = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const e = Math.exp(-Math.abs(x[i]));
    const small = e / (1 + e);
    const sigmoidMinusY = x[i] >= 0 ? 1 - y[i] - small : small - y[i];
    dx[i] = (sigmoidMinusY / n) * gradLoss;
  }
  return dx;
}

/** log clamped below at −100, as PyTorch's BCELoss (log 0 = −inf becomes −100) */
const clampedLog = (v: number): number => Math.max(Math.log(v), -100);

/** −(y·max(log p, −100) + (1−y)·max(log(1−p), −100)), averaged */
export function bceForward(p: Vec, y: Vec): number {
  const n = sameLength('bce', p, y);
  let sum = 0;
  for (let i = 0; i < n; i++) sum -= y[i] * clampedLog(p[i]) + (1 - y[i]) * clampedLog(1 - p[i]);
  return sum / n;
}

/**
 * dL/dp_i = (p_i − y_i) / max((1 − p_i)·p_i, 1e-12) / n · dL/dloss. The true derivative is (p − y)/(p(1 − p));
 * bounding the denominator by 1e-12 is PyTorch's choice (it does not differentiate the −100 clamp).
 */
export function bceBackward(p: Vec, y: Vec, gradLoss = 1): Vec {
  const n = sameLength('bce backward', p, y);
  const dp = new Float64Array(n);
  for (let i = 0; i < n; i++) dp[i] = ((p[i] - y[i]) / Math.max((1 - p[i]) * p[i], 1e-12) / n) * gradLoss;
  return dp;
}

/** (1/n) Σ σ(x_i): the mean probability of a batch of logits */
export function meanSigmoid(x: Vec): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += 1 / (1 + Math.exp(-x[i]));
  return sum / x.length;
}
