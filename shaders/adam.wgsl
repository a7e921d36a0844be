// One fused Adam step (torch.optim.Adam: no amsgrad, weight decay as L2 added to the gradient), updating
// the parameter and both moment estimates in place, one thread per element:
//   g  = grad + weight_decay · p
//   m  = β1 m + (1 − β1) g                 first moment
//   v  = β2 v + (1 − β2) g²                second moment
//   p -= lr · m̂ / (sqrt(v̂) + eps)   with m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t)
// written as PyTorch evaluates it:  p -= (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + eps).
// The values that change every step (lr, the bias corrections) come from the `step` storage buffer, never
// from params: uniform buffers are cached by content, so a per-step value there would make one per step.
// As in PyTorch, t is counted per parameter (a parameter skipped for lack of a gradient does not advance),
// so `step` holds one pair per parameter of the optimizer and `slot` says which pair is this one's. The
// kernel is elementwise, so one dispatch can also update a whole network whose parameters, gradients and
// moments each lie in one buffer at the same offsets (src/optim/adam.ts), when every t is the same: one
// pair then serves all, and the padding between parameters (all zeros: g = 0, so m, v, p stay 0) with them.

// 1 − β1 and 1 − β2 come computed on the host: in float32, 1 − 0.999 is 0.00099998713 (β2 itself rounds to
// 0.99900001), which would leave every v 1.3e-5 low and every update 6.4e-6 too large.
struct Params { n: u32, slot: u32, beta1: f32, beta2: f32, one_minus_beta1: f32, one_minus_beta2: f32, eps: f32, weight_decay: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read> step: array<f32>;          // pairs [lr / (1 − β1^t), sqrt(1 − β2^t)]
@group(0) @binding(3) var<storage, read_write> param: array<f32>;
@group(0) @binding(4) var<storage, read_write> m: array<f32>;
@group(0) @binding(5) var<storage, read_write> v: array<f32>;

// #include "shared/grid.wgsl"

@compute @workgroup_size(WORKGROUP_SIZE)
fn adam_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i >= params.n) { return; }
  let step_size = step[2u * params.slot];
  let bias_correction2_sqrt = step[2u * params.slot + 1u];
  let p = param[i];
  let g = grad[i] + params.weight_decay * p;
  let m_new = params.beta1 * m[i] + params.one_minus_beta1 * g;
  let v_new = params.beta2 * v[i] + params.one_minus_beta2 * g * g;
  m[i] = m_new;
  v[i] = v_new;
  param[i] = p - step_size * m_new / (sqrt(v_new) / bias_correction2_sqrt + params.eps);
}
