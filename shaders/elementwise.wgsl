// Small elementwise kernels the engine itself needs: filling, copying, adding (also in place), scaling,
// and a moving average in place.
// One thread per element; the grid folds into y when n exceeds 65535 workgroups.

struct Params { n: u32, alpha: f32, value_bits: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// #include "shared/grid.wgsl"

// out = value, given as raw bits so NaN can be written (used to poison outputs in tests)
@compute @workgroup_size(WORKGROUP_SIZE)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.n) { out[i] = bitcast<f32>(params.value_bits); }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn copy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.n) { out[i] = a[i]; }
}

// out = a + alpha * b   (alpha = 1: the gradient accumulation of backward(); alpha = -1: subtraction)
@compute @workgroup_size(WORKGROUP_SIZE)
fn add_scaled(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.n) { out[i] = a[i] + params.alpha * b[i]; }
}

// out += b, in place: backward() adding the gradients a step staged for a network into its gradient arena
// (src/autograd/tape.ts). `out` alone is bound: reading it as `a` too would bind its buffer twice, once
// writable, which WebGPU forbids within a dispatch.
@compute @workgroup_size(WORKGROUP_SIZE)
fn accumulate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.n) { out[i] += b[i]; }
}

// out = alpha * a
@compute @workgroup_size(WORKGROUP_SIZE)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.n) { out[i] = params.alpha * a[i]; }
}

// out = alpha * out + value * b, in place, value = 1 − alpha given as raw bits (rounded once from float64
// on the CPU): the generator's exponential moving average, ema ← d·ema + (1 − d)·w with alpha = d, over
// its whole parameter arena in one dispatch (src/train/ema.ts). `out` alone is bound, as in accumulate.
@compute @workgroup_size(WORKGROUP_SIZE)
fn moving_average(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.n) { out[i] = params.alpha * out[i] + bitcast<f32>(params.value_bits) * b[i]; }
}
