// BatchNorm2d over NCHW, the fast version (the simple one, one thread per channel and nothing fused, is
// shaders/batchnorm.wgsl). Per channel c, with m = N·H·W values per channel:
//   xhat = (x − mean_c) · invStd_c,   invStd_c = 1 / sqrt(var_c + eps),   y = gamma_c · xhat + beta_c
// Training uses the batch's mean and biased variance; evaluation uses the running statistics.
// A ReLU or LeakyReLU after the batchnorm (every batchnorm of the DCGAN has one) runs in the same passes:
//   out = act(y),  act(v) = v > 0 ? v : slope·v   (slope 1: no activation, 0: ReLU, 0.2: LeakyReLU)
// and the backward kernels take dL/dout and the forward's `activated` output, and use
//   dL/dy = dL/dout · act'(y) = dL/dout · (out > 0 ? 1 : slope)   (out > 0 ⇔ y > 0 for slope ≥ 0)
// where a separate activation would write dL/dy to memory and read it back (twice: both backward kernels).
// Per-channel reductions use the whole GPU in two stages: stage 1 has one workgroup per chunk of a
// channel's values (grid chunks x C, the launcher picks the chunks: a 64-channel layer at batch 128 and
// 32x32 gets 16 chunks per channel, 1024 workgroups, where one workgroup per channel would leave most of a
// large GPU idle); REDUCE = 64 threads each add a strided slice of the chunk, the partial sums are added up
// in workgroup memory, and each chunk writes its result to `partials`. Stage 2 merges the chunks: in
// training inside the elementwise pass that needs the result (each thread merges its channel's few
// partials), in eval's backward, whose input gradient needs no sums, as a dispatch of its own.
// A layer whose channels are one chunk each (most of DCGAN's at small batches) runs each pass as ONE
// dispatch instead: batchnorm_channel_forward and batchnorm_channel_backward give each channel a
// workgroup that reduces it (as stage 1 does) and then, the totals in workgroup memory, writes the
// channel's outputs (as batchnorm_normalize and batchnorm_backward_input do), so the per-channel results
// need no second dispatch to reach the elementwise pass.
// Why 64 threads and not WORKGROUP_SIZE: a CPU adapter runs a workgroup's invocations in turn, and
// with DCGAN's small late layers (4x4 maps: 128 values per channel at batch 8) most of 256 invocations
// would have one value or none to add; a GPU still gets chunks x C workgroups of them (measured: the
// History of bench/RESULTS.md).

struct Params { batch: u32, channels: u32, spatial: u32, eps: f32, momentum: f32, chunks: u32, chunk_size: u32, slope: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;               // [N, C, H, W]
@group(0) @binding(2) var<storage, read> gamma: array<f32>;           // [C]
@group(0) @binding(3) var<storage, read> beta: array<f32>;            // [C]
@group(0) @binding(4) var<storage, read_write> mean: array<f32>;      // [C] batch mean (or running mean in eval)
@group(0) @binding(5) var<storage, read_write> inv_std: array<f32>;   // [C] 1/sqrt(var + eps)
@group(0) @binding(6) var<storage, read_write> running_mean: array<f32>; // [C], updated in place
@group(0) @binding(7) var<storage, read_write> running_var: array<f32>;  // [C], updated in place
@group(0) @binding(8) var<storage, read_write> y: array<f32>;         // [N, C, H, W] act(batchnorm(x))
@group(0) @binding(9) var<storage, read> grad_y: array<f32>;          // dL/d(output) [N, C, H, W]
@group(0) @binding(10) var<storage, read_write> grad_x: array<f32>;   // dL/dx [N, C, H, W]
@group(0) @binding(11) var<storage, read_write> grad_gamma: array<f32>; // dL/dgamma [C]
@group(0) @binding(12) var<storage, read_write> grad_beta: array<f32>;  // dL/dbeta [C]
@group(0) @binding(13) var<storage, read_write> partials: array<f32>;   // [C, chunks, 2] stage-1 results
@group(0) @binding(14) var<storage, read> activated: array<f32>;      // the forward's output (any buffer when slope = 1)

// dL/dy at element i: dL/d(output) through the fused activation (see the top).
fn grad_normalized(i: u32) -> f32 {
  let g = grad_y[i];
  return select(params.slope * g, g, activated[i] > 0.0);
}

// The j range [start, end) of chunk `chunk` of a channel's m values (chunk_size values each, the last fewer).
fn chunk_range(chunk: u32) -> vec2<u32> {
  let m = params.batch * params.spatial;
  return vec2<u32>(chunk * params.chunk_size, min(chunk * params.chunk_size + params.chunk_size, m));
}
fn partial_index(c: u32, chunk: u32) -> u32 { return (c * params.chunks + chunk) * 2u; }

// #include "shared/grid.wgsl"

/** The flat NCHW index of the j-th of channel c's m values (j runs over n, then h·w). */
fn channel_element(c: u32, j: u32) -> u32 {
  let n = j / params.spatial;
  let s = j - n * params.spatial;
  return (n * params.channels + c) * params.spatial + s;
}

/** The channel of flat NCHW index i. */
fn channel_of(i: u32) -> u32 { return (i / params.spatial) % params.channels; }

const REDUCE = 64u;  // threads of the stage-1 workgroups (see the top)
var<workgroup> partial_a: array<f32, REDUCE>;
var<workgroup> partial_b: array<f32, REDUCE>;

// Sum partial_a and partial_b over the workgroup in two levels of 8 (8 threads add 8 values each, then
// thread 0 adds those 8): three barriers where a halving tree takes seven. On a CPU adapter every barrier
// switches through all the workgroup's SIMD groups, and a stage-1 kernel ends in two of these sums.
// Afterwards [0] holds each total; callers must barrier again before overwriting the arrays.
fn reduce_partials(t: u32) {
  workgroupBarrier();
  if (t < 8u) {
    var a = 0.0;
    var b = 0.0;
    for (var i = 0u; i < 8u; i++) { a += partial_a[8u * t + i]; b += partial_b[8u * t + i]; }
    partial_a[8u * t] = a;
    partial_b[8u * t] = b;
  }
  workgroupBarrier();
  if (t == 0u) {
    for (var i = 1u; i < 8u; i++) { partial_a[0] += partial_a[8u * i]; partial_b[0] += partial_b[8u * i]; }
  }
  workgroupBarrier();
}

// A range of channel c's values, reduced by the REDUCE threads of a workgroup: (n_i, mean_i, M2_i) with
// M2_i = Σ (x − mean_i)², two passes over the range for accuracy (it is in cache for the second). Every
// thread gets the result. Called by every thread of the workgroup (it holds barriers).
fn range_statistics(c: u32, range: vec2<u32>, t: u32) -> vec2<f32> {
  var s = 0.0;
  for (var j = range.x + t; j < range.y; j += REDUCE) { s += x[channel_element(c, j)]; }
  partial_a[t] = s;
  partial_b[t] = 0.0;
  reduce_partials(t);
  let mu = partial_a[0] / f32(range.y - range.x);
  workgroupBarrier();

  var q = 0.0;
  for (var j = range.x + t; j < range.y; j += REDUCE) { let d = x[channel_element(c, j)] - mu; q += d * d; }
  partial_a[t] = q;
  reduce_partials(t);
  return vec2<f32>(mu, partial_a[0]);
}

// Training statistics, stage 1, chunk wid.x of channel c = wid.y: the chunk's mean_i and M2_i (a layer
// of one chunk per channel runs batchnorm_channel_forward instead).
@compute @workgroup_size(REDUCE)
fn batchnorm_chunk_statistics(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let c = wid.y;
  let statistics = range_statistics(c, chunk_range(wid.x), t);
  if (t == 0u) {
    partials[partial_index(c, wid.x)] = statistics.x;
    partials[partial_index(c, wid.x) + 1u] = statistics.y;
  }
}

// Training forward of a layer whose channels are one chunk each, channel c = wid.y in one workgroup:
// its statistics (as stage 1), then out = act(gamma_c (x − mean_c) inv_std_c + beta_c) over the channel.
@compute @workgroup_size(REDUCE)
fn batchnorm_channel_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let c = wid.y;
  let m = params.batch * params.spatial;
  let statistics = range_statistics(c, vec2<u32>(0u, m), t);
  let mu = statistics.x;
  let r = 1.0 / sqrt(statistics.y / f32(m) + params.eps);  // = write_statistics' inv_std_c
  if (t == 0u) { write_statistics(c, mu, statistics.y); }
  for (var j = t; j < m; j += REDUCE) {
    let i = channel_element(c, j);
    let v = gamma[c] * (x[i] - mu) * r + beta[c];
    y[i] = select(params.slope * v, v, v > 0.0);
  }
}

// Stage 2: channel c's chunks merged (Chan et al.'s pairwise rule, exact in exact arithmetic and free of
// the cancellation of Σx² − m·mean²) into (mean_c, M2):
//   mean_c = Σ n_i mean_i / m,   M2 = Σ M2_i + n_i (mean_i − mean_c)²
fn merged_statistics(c: u32) -> vec2<f32> {
  let m = params.batch * params.spatial;
  var total = 0.0;
  for (var i = 0u; i < params.chunks; i++) {
    let range = chunk_range(i);
    total += f32(range.y - range.x) * partials[partial_index(c, i)];
  }
  let mu = total / f32(m);
  var m2 = 0.0;
  for (var i = 0u; i < params.chunks; i++) {
    let range = chunk_range(i);
    let d = partials[partial_index(c, i)] - mu;
    m2 += partials[partial_index(c, i) + 1u] + f32(range.y - range.x) * d * d;
  }
  return vec2<f32>(mu, m2);
}

// Channel c's statistics from its mean and M2 = Σ (x − mean)²:
//   var_c = M2 / m (biased),   inv_std_c = 1/sqrt(var_c + eps)
// and PyTorch's running update, with the UNBIASED variance var_c · m/(m−1):
//   running_mean = (1 − momentum) running_mean + momentum mean_c
//   running_var  = (1 − momentum) running_var  + momentum var_c m/(m−1)
fn write_statistics(c: u32, mu: f32, m2: f32) {
  let m = params.batch * params.spatial;
  let variance = m2 / f32(m);
  mean[c] = mu;
  inv_std[c] = 1.0 / sqrt(variance + params.eps);
  let k = params.momentum;
  running_mean[c] = (1.0 - k) * running_mean[c] + k * mu;
  running_var[c] = (1.0 - k) * running_var[c] + k * variance * f32(m) / f32(m - 1u);
}

// Evaluation statistics, one thread per channel: mean_c = running_mean_c, inv_std_c = 1/sqrt(running_var_c + eps)
// (the backward kernels read them as they read training's)
@compute @workgroup_size(WORKGROUP_SIZE)
fn batchnorm_running_statistics(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c < params.channels) {
    mean[c] = running_mean[c];
    inv_std[c] = 1.0 / sqrt(running_var[c] + params.eps);
  }
}

// out = act(gamma_c (x − mean_c) inv_std_c + beta_c), one thread per element, with the running statistics
// (eval)
@compute @workgroup_size(WORKGROUP_SIZE)
fn batchnorm_normalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.batch * params.channels * params.spatial) {
    let c = channel_of(i);
    let v = gamma[c] * (x[i] - mean[c]) * inv_std[c] + beta[c];
    y[i] = select(params.slope * v, v, v > 0.0);
  }
}

// Training forward after stage 1 of a layer of several chunks per channel: stage 2 and the normalization
// in one pass, one thread per element. Each thread merges its channel's chunks itself (a few values, the
// same for the whole channel, so from cache) rather than waiting for a dispatch that stores them, and
// the thread of the channel's first element writes the statistics.
@compute @workgroup_size(WORKGROUP_SIZE)
fn batchnorm_merge_normalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.batch * params.channels * params.spatial) {
    let c = channel_of(i);
    let statistics = merged_statistics(c);
    let mu = statistics.x;
    let r = 1.0 / sqrt(statistics.y / f32(params.batch * params.spatial) + params.eps);  // = write_statistics' inv_std_c
    if (i == channel_element(c, 0u)) { write_statistics(c, mu, statistics.y); }
    let v = gamma[c] * (x[i] - mu) * r + beta[c];
    y[i] = select(params.slope * v, v, v > 0.0);
  }
}

// Σ dy and Σ dy · xhat over a range of channel c's values (xhat from the given mean and inv_std), reduced
// by the REDUCE threads of a workgroup; every thread gets the result. Called by every thread (barriers).
fn range_parameter_gradients(c: u32, range: vec2<u32>, t: u32) -> vec2<f32> {
  let mu = mean[c];
  let r = inv_std[c];
  var db = 0.0;
  var dg = 0.0;
  for (var j = range.x + t; j < range.y; j += REDUCE) {
    let i = channel_element(c, j);
    let dy = grad_normalized(i);
    db += dy;
    dg += dy * (x[i] - mu) * r;
  }
  partial_a[t] = db;
  partial_b[t] = dg;
  reduce_partials(t);
  return vec2<f32>(partial_a[0], partial_b[0]);
}

// Parameter gradients (the same in training and eval, given mean and inv_std), stage 1: chunk wid.x of
// channel c = wid.y adds its share of (all of it, and writes the result, with one chunk)
//   dL/dbeta_c = Σ dy,   dL/dgamma_c = Σ dy · xhat   (y = gamma xhat + beta)
@compute @workgroup_size(REDUCE)
fn batchnorm_chunk_parameter_gradients(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let c = wid.y;
  let sums = range_parameter_gradients(c, chunk_range(wid.x), t);
  if (t == 0u) {
    if (params.chunks == 1u) {
      grad_beta[c] = sums.x;
      grad_gamma[c] = sums.y;
    } else {
      partials[partial_index(c, wid.x)] = sums.x;
      partials[partial_index(c, wid.x) + 1u] = sums.y;
    }
  }
}

// Stage 2: channel c's chunks' shares added, (dbeta_c, dgamma_c).
fn merged_parameter_gradients(c: u32) -> vec2<f32> {
  var sums = vec2<f32>(0.0, 0.0);
  for (var i = 0u; i < params.chunks; i++) {
    sums += vec2<f32>(partials[partial_index(c, i)], partials[partial_index(c, i) + 1u]);
  }
  return sums;
}

// Stage 2 on its own, one thread per channel (eval backward, whose input gradient needs no sums).
@compute @workgroup_size(WORKGROUP_SIZE)
fn batchnorm_merge_parameter_gradients(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= params.channels) { return; }
  let sums = merged_parameter_gradients(c);
  grad_beta[c] = sums.x;
  grad_gamma[c] = sums.y;
}

// Training-mode input gradient, where mean and var depend on every x of the channel. With r = inv_std,
// ∂mean/∂x_i = 1/m, ∂var/∂x_i = 2(x_i − mean)/m, ∂r/∂var = −r^3/2, so
//   ∂xhat_j/∂x_i = r (δ_ij − 1/m) − r xhat_j xhat_i / m
// and with dxhat_j = gamma dy_j:
//   dL/dx_i = Σ_j dxhat_j ∂xhat_j/∂x_i = gamma r / m · (m dy_i − Σ dy − xhat_i Σ dy·xhat)
//           = gamma r / m · (m dy_i − dbeta − xhat_i dgamma)
fn input_gradient(i: u32, c: u32, dbeta: f32, dgamma: f32) -> f32 {
  let m = f32(params.batch * params.spatial);
  let r = inv_std[c];
  let xhat = (x[i] - mean[c]) * r;
  return gamma[c] * r / m * (m * grad_normalized(i) - dbeta - xhat * dgamma);
}

// Training backward after stage 1 of a layer of several chunks per channel: stage 2 and the input
// gradient in one pass, one thread per element, each merging its channel's chunk sums itself (as
// batchnorm_merge_normalize does); the thread of the channel's first element writes dgamma_c and dbeta_c.
@compute @workgroup_size(WORKGROUP_SIZE)
fn batchnorm_backward_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.batch * params.channels * params.spatial) {
    let c = channel_of(i);
    let sums = merged_parameter_gradients(c);
    if (i == channel_element(c, 0u)) {
      grad_beta[c] = sums.x;
      grad_gamma[c] = sums.y;
    }
    grad_x[i] = input_gradient(i, c, sums.x, sums.y);
  }
}

// Training backward of a layer whose channels are one chunk each, channel c = wid.y in one workgroup:
// dbeta_c and dgamma_c (as stage 1), then dL/dx over the channel from them.
@compute @workgroup_size(REDUCE)
fn batchnorm_channel_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let c = wid.y;
  let m = params.batch * params.spatial;
  let sums = range_parameter_gradients(c, vec2<u32>(0u, m), t);
  if (t == 0u) {
    grad_beta[c] = sums.x;
    grad_gamma[c] = sums.y;
  }
  for (var j = t; j < m; j += REDUCE) {
    let i = channel_element(c, j);
    grad_x[i] = input_gradient(i, c, sums.x, sums.y);
  }
}

// Eval-mode input gradient: the running statistics are constants, so y is affine in x and
//   dL/dx_i = gamma_c inv_std_c dy_i
@compute @workgroup_size(WORKGROUP_SIZE)
fn batchnorm_eval_backward_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.batch * params.channels * params.spatial) {
    let c = channel_of(i);
    grad_x[i] = gamma[c] * inv_std[c] * grad_normalized(i);
  }
}
