// BatchNorm2d over NCHW, the simple version: one thread per channel walks its m = N·H·W values in plain
// loops, forward in one kernel and backward in one kernel. Per channel c:
//   xhat = (x − mean_c) · invStd_c,   invStd_c = 1 / sqrt(var_c + eps),   y = gamma_c · xhat + beta_c
// Training uses the batch's mean and biased variance (and updates the running ones); evaluation uses the
// running statistics. This is the whole batchnorm of `--kernel-set simple`, and it fuses nothing: the
// ReLU or LeakyReLU after it runs as its own kernel (shaders/activations.wgsl). The fast version beside it,
// shaders/fast/batchnorm.wgsl, spreads each channel over many threads and fuses that activation in.
// Same math as src/reference/batchnorm.ts, line for line.

struct Params { batch: u32, channels: u32, spatial: u32, eps: f32, momentum: f32, training: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;                 // [N, C, H, W]
@group(0) @binding(2) var<storage, read> gamma: array<f32>;             // [C]
@group(0) @binding(3) var<storage, read> beta: array<f32>;              // [C]
@group(0) @binding(4) var<storage, read_write> mean: array<f32>;        // [C] the mean used (batch or running)
@group(0) @binding(5) var<storage, read_write> inv_std: array<f32>;     // [C] the 1/sqrt(var + eps) used
@group(0) @binding(6) var<storage, read_write> running_mean: array<f32>; // [C], updated in place in training
@group(0) @binding(7) var<storage, read_write> running_var: array<f32>;  // [C], updated in place in training
@group(0) @binding(8) var<storage, read_write> y: array<f32>;           // [N, C, H, W]
@group(0) @binding(9) var<storage, read> grad_y: array<f32>;            // dL/dy [N, C, H, W]
@group(0) @binding(10) var<storage, read_write> grad_x: array<f32>;     // dL/dx [N, C, H, W]
@group(0) @binding(11) var<storage, read_write> grad_gamma: array<f32>; // dL/dgamma [C]
@group(0) @binding(12) var<storage, read_write> grad_beta: array<f32>;  // dL/dbeta [C]

/** The flat NCHW index of the j-th of channel c's m values (j runs over n, then h·w). */
fn at(c: u32, j: u32) -> u32 {
  let n = j / params.spatial;
  return (n * params.channels + c) * params.spatial + (j - n * params.spatial);
}

// Training: mean_c = Σ x / m, var_c = Σ (x − mean_c)² / m (two passes: no cancellation), and PyTorch's
// running update with the UNBIASED variance var_c · m/(m−1):
//   running = (1 − momentum) · running + momentum · batch statistic
// Evaluation: mean_c and var_c are the running ones. Then y = gamma_c (x − mean_c) invStd_c + beta_c.
@compute @workgroup_size(64)
fn batchnorm_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= params.channels) { return; }
  let m = params.batch * params.spatial;
  var mu = running_mean[c];
  var variance = running_var[c];
  if (params.training == 1u) {
    var sum = 0.0;
    for (var j = 0u; j < m; j++) { sum += x[at(c, j)]; }
    mu = sum / f32(m);
    var squares = 0.0;
    for (var j = 0u; j < m; j++) { let d = x[at(c, j)] - mu; squares += d * d; }
    variance = squares / f32(m);
    let k = params.momentum;
    running_mean[c] = (1.0 - k) * running_mean[c] + k * mu;
    running_var[c] = (1.0 - k) * running_var[c] + k * variance * f32(m) / f32(m - 1u);
  }
  let r = 1.0 / sqrt(variance + params.eps);
  mean[c] = mu;
  inv_std[c] = r;
  for (var j = 0u; j < m; j++) {
    let i = at(c, j);
    y[i] = gamma[c] * (x[i] - mu) * r + beta[c];
  }
}

// With the forward's mean_c and invStd_c (r):  dbeta_c = Σ dy,  dgamma_c = Σ dy · xhat.
// Training: mean and var depend on every x of the channel (∂mean/∂x_i = 1/m, ∂var/∂x_i = 2(x_i − mean)/m,
// ∂r/∂var = −r³/2), which gives
//   dL/dx_i = gamma_c r / m · (m dy_i − dbeta_c − xhat_i dgamma_c)
// Evaluation: the running statistics are constants, y is affine in x:  dL/dx_i = gamma_c r dy_i.
@compute @workgroup_size(64)
fn batchnorm_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= params.channels) { return; }
  let m = params.batch * params.spatial;
  let mu = mean[c];
  let r = inv_std[c];
  var dbeta = 0.0;
  var dgamma = 0.0;
  for (var j = 0u; j < m; j++) {
    let i = at(c, j);
    dbeta += grad_y[i];
    dgamma += grad_y[i] * (x[i] - mu) * r;
  }
  grad_beta[c] = dbeta;
  grad_gamma[c] = dgamma;
  for (var j = 0u; j < m; j++) {
    let i = at(c, j);
    if (params.training == 1u) {
      let xhat = (x[i] - mu) * r;
      grad_x[i] = gamma[c] * r / f32(m) * (f32(m) * grad_y[i] - dbeta - xhat * dgamma);
    } else {
      grad_x[i] = gamma[c] * r * grad_y[i];
    }
  }
}
