// Full reductions to a scalar and their backward (a broadcast).
// sum_all runs as ONE workgroup of WORKGROUP_SIZE threads: each thread adds a strided slice of x, then a
// shared-memory tree halves the partial sums down to one (shaders/shared/tree_sum.wgsl). Simple and exact
// enough for losses; a later fast variant can split the work over many workgroups.

struct Params { n: u32, scale: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // the tensor to reduce
@group(0) @binding(2) var<storage, read> grad_y: array<f32>;   // dL/dy, a single value
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// #include "shared/grid.wgsl"
// #include "shared/tree_sum.wgsl"

// out[0] = scale * Σ_i x[i]   (scale = 1: sum, scale = 1/n: mean). Dispatch exactly one workgroup.
@compute @workgroup_size(WORKGROUP_SIZE)
fn sum_all(@builtin(local_invocation_index) t: u32) {
  var s = 0.0;
  for (var i = t; i < params.n; i += WORKGROUP_SIZE) { s += x[i]; }
  let total = tree_sum(t, s);
  if (t == 0u) { out[0] = params.scale * total; }
}

// Backward of y = scale * Σ x:  dL/dx_i = scale * dL/dy for every i (the scalar gradient broadcast to x's shape)
@compute @workgroup_size(WORKGROUP_SIZE)
fn broadcast_scaled(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.n) { out[i] = params.scale * grad_y[0]; }
}
