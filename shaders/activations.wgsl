// Pointwise activations, forward and backward. One thread per element.
// Backward kernels take the forward's input x (or output y, where the derivative is cheaper from it)
// and dL/dy, and write dL/dx = dL/dy * f'(x).

struct Params { n: u32, slope: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // forward input (or output y, see each kernel)
@group(0) @binding(2) var<storage, read> grad_y: array<f32>;   // dL/dy
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// #include "shared/grid.wgsl"

// y = max(x, 0)
@compute @workgroup_size(WORKGROUP_SIZE)
fn relu_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.n) { out[i] = max(x[i], 0.0); }
}

// dx = dy * [x > 0]   (the subgradient at 0 is taken as 0, as PyTorch does)
@compute @workgroup_size(WORKGROUP_SIZE)
fn relu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.n) { out[i] = select(0.0, grad_y[i], x[i] > 0.0); }
}

// y = x for x > 0, slope * x otherwise
@compute @workgroup_size(WORKGROUP_SIZE)
fn leaky_relu_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.n) { let v = x[i]; out[i] = select(params.slope * v, v, v > 0.0); }
}

// dx = dy * (x > 0 ? 1 : slope)
@compute @workgroup_size(WORKGROUP_SIZE)
fn leaky_relu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.n) { out[i] = select(params.slope * grad_y[i], grad_y[i], x[i] > 0.0); }
}

// y = tanh(x), written as 1 - 2 / (exp(2x) + 1) with x clamped so exp cannot overflow (tanh(±10) = ±1 in f32)
@compute @workgroup_size(WORKGROUP_SIZE)
fn tanh_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.n) {
    let v = clamp(x[i], -10.0, 10.0);
    out[i] = 1.0 - 2.0 / (exp(2.0 * v) + 1.0);
  }
}

// dx = dy * (1 - y^2); here the binding `x` holds the forward OUTPUT y
@compute @workgroup_size(WORKGROUP_SIZE)
fn tanh_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.n) { let y = x[i]; out[i] = grad_y[i] * (1.0 - y * y); }
}

// y = 1 / (1 + exp(-x)), evaluated on the side where exp cannot overflow
@compute @workgroup_size(WORKGROUP_SIZE)
fn sigmoid_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.n) {
    let v = x[i];
    let e = exp(-abs(v));
    out[i] = select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
  }
}

// dx = dy * y * (1 - y); here the binding `x` holds the forward OUTPUT y
@compute @workgroup_size(WORKGROUP_SIZE)
fn sigmoid_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.n) { let y = x[i]; out[i] = grad_y[i] * y * (1.0 - y); }
}
