// Part of the fast versions (shaders/fast/conv2d_gemm.wgsl, conv2d_dense.wgsl) of shaders/conv2d.wgsl's
// passes; the simple kernels sum each output in one thread and need no such step.
//
// The second half of a split-K GEMM (shaders/fast/conv2d_gemm.wgsl): WGSL has no float atomics, so each K chunk
// wrote its own partial sums, and here
//   out[e] = Σ_{split < splits} partial[split · count + e]  (+ bias[(e / plane) % channels] for an NCHW output)
// One thread per output; the reads of one split are contiguous across threads.

struct Params {
  count: u32,     // outputs
  splits: u32,
  has_bias: u32,
  channels: u32,  // the output's channel count and plane size, to find each element's bias
  plane: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>;  // [splits, count]
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// #include "shared/grid.wgsl"

@compute @workgroup_size(WORKGROUP_SIZE)
fn split_k_reduce(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = index(gid, groups);
  if (e >= params.count) { return; }
  var sum = 0.0;
  if (params.has_bias == 1u) { sum = bias[(e / params.plane) % params.channels]; }
  for (var split = 0u; split < params.splits; split++) { sum += partial[split * params.count + e]; }
  out[e] = sum;
}
