// Binary cross-entropy with mean reduction, from logits (the stable form) and from probabilities (as
// PyTorch's BCELoss). The target y has the shape of the input; DCGAN fills it with 1 (real) or 0 (fake).
// Forward kernels run ONE workgroup: each thread sums a strided slice of the n elements, then a tree
// reduction in workgroup memory adds the WORKGROUP_SIZE partial sums (shaders/shared/tree_sum.wgsl). The
// batch is small, so one workgroup is enough.
// Backward kernels are one thread per element and read dL/dloss from grad_loss[0].
// mean_sigmoid is the statistic a GAN logs beside its loss, D's mean probability (1/n) Σ σ(x_i) for a batch
// of logits (D(x), D(G(z))): one dispatch where a sigmoid and a mean would take two. No gradient.

struct Params { n: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // logits, or probabilities p
@group(0) @binding(2) var<storage, read> targets: array<f32>;    // y, same shape as x
@group(0) @binding(3) var<storage, read> grad_loss: array<f32>;  // dL/dloss, one value
@group(0) @binding(4) var<storage, read_write> out: array<f32>;  // the loss (one value) or dL/dx

// #include "shared/grid.wgsl"
// #include "shared/tree_sum.wgsl"

// log(1 + e) accurate for tiny e (1 + e rounds to 1 when e < 2^-24, yet log(1 + e) ≈ e is what we want):
// with u = 1 + e rounded, log(u) * e / (u - 1) cancels the rounding of u (Goldberg's trick).
fn log1p(e: f32) -> f32 {
  let u = 1.0 + e;
  if (u == 1.0) { return e; }
  return log(u) * e / (u - 1.0);
}

// ℓ(x, y) = max(x, 0) − y·x + log(1 + exp(−|x|)), which is −y·log σ(x) − (1−y)·log(1 − σ(x)) rewritten
// so that exp never overflows and no log of 0 is taken, whatever the logit.
fn bce_with_logits_element(v: f32, y: f32) -> f32 {
  return max(v, 0.0) - y * v + log1p(exp(-abs(v)));
}

// log(v) clamped below at −100, as PyTorch's BCELoss does (log 0 = −inf becomes −100)
fn clamped_log(v: f32) -> f32 {
  return select(-100.0, max(log(v), -100.0), v > 0.0);
}

// ℓ(p, y) = −(y·max(log p, −100) + (1−y)·max(log(1−p), −100))
fn bce_element(p: f32, y: f32) -> f32 {
  return -(y * clamped_log(p) + (1.0 - y) * clamped_log(1.0 - p));
}

// out[0] = (Σ over the workgroup of each thread's `sum`) / n; `lid` is the thread's index
fn write_mean(lid: u32, sum: f32) {
  let total = tree_sum(lid, sum);
  if (lid == 0u) { out[0] = total / f32(params.n); }
}

// loss = (1/n) Σ ℓ(x_i, y_i), the stable form above
@compute @workgroup_size(WORKGROUP_SIZE)
fn bce_with_logits_forward(@builtin(local_invocation_index) lid: u32) {
  var sum = 0.0;
  for (var i = lid; i < params.n; i = i + WORKGROUP_SIZE) { sum = sum + bce_with_logits_element(x[i], targets[i]); }
  write_mean(lid, sum);
}

// dL/dx_i = (σ(x_i) − y_i) / n · dL/dloss. With e = exp(−|x|), σ(x) − y is written without cancellation:
// for x ≥ 0, σ = 1 − e/(1+e), so σ − y = (1 − y) − e/(1+e); for x < 0, σ = e/(1+e), so σ − y = e/(1+e) − y.
// (For y = 1 and x = 50 the gradient is −2e-22, not the 0 that 1/(1+e) − 1 rounds to.)
@compute @workgroup_size(WORKGROUP_SIZE)
fn bce_with_logits_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.n) {
    let v = x[i];
    let y = targets[i];
    let e = exp(-abs(v));
    let small = e / (1.0 + e);
    let sigmoid_minus_y = select(small - y, (1.0 - y) - small, v >= 0.0);
    out[i] = sigmoid_minus_y / f32(params.n) * grad_loss[0];
  }
}

// loss = (1/n) Σ ℓ(p_i, y_i), the clamped form above
@compute @workgroup_size(WORKGROUP_SIZE)
fn bce_forward(@builtin(local_invocation_index) lid: u32) {
  var sum = 0.0;
  for (var i = lid; i < params.n; i = i + WORKGROUP_SIZE) { sum = sum + bce_element(x[i], targets[i]); }
  write_mean(lid, sum);
}

// dL/dp_i = (p_i − y_i) / max((1 − p_i)·p_i, 1e-12) / n · dL/dloss
// The exact derivative of ℓ is −y/p + (1−y)/(1−p) = (p − y) / (p (1 − p)); bounding the denominator by
// 1e-12 (rather than differentiating the −100 clamp, which would give 0) is PyTorch's choice, copied here.
@compute @workgroup_size(WORKGROUP_SIZE)
fn bce_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.n) {
    let p = x[i];
    out[i] = (p - targets[i]) / max((1.0 - p) * p, 1e-12) / f32(params.n) * grad_loss[0];
  }
}

// out[0] = (1/n) Σ σ(x_i), with σ(v) = 1/(1+e) for v ≥ 0 and e/(1+e) for v < 0, e = exp(−|v|) (never overflows)
@compute @workgroup_size(WORKGROUP_SIZE)
fn mean_sigmoid(@builtin(local_invocation_index) lid: u32) {
  var sum = 0.0;
  for (var i = lid; i < params.n; i = i + WORKGROUP_SIZE) {
    let e = exp(-abs(x[i]));
    sum = sum + select(e, 1.0, x[i] >= 0.0) / (1.0 + e);
  }
  write_mean(lid, sum);
}
