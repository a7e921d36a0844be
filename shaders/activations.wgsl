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

// y = tanh(x). Near 0, 1 − 2/(exp(2x) + 1) subtracts two numbers close to 1 and keeps few of the result's
// bits (relative error 7e-4 at |x| = 1e-4, 7e-2 at 1e-6), so for |x| < 0.625 we sum tanh's Taylor series
//   tanh x = x − x³/3 + 2x⁵/15 − 17x⁷/315 + 62x⁹/2835 − ...   (ten terms: each is ≤ 0.16 of the one before
// at |x| = 0.625, so the rest is below float32's precision), and above it the exp form, whose terms no
// longer cancel (x clamped so exp cannot overflow: tanh(±10) = ±1 in f32).
fn tanh_series(v: f32) -> f32 {
  let z = v * v;
  var p = -443861162.0 / 1856156927625.0;
  p = p * z + 6404582.0 / 10854718875.0;
  p = p * z - 929569.0 / 638512875.0;
  p = p * z + 21844.0 / 6081075.0;
  p = p * z - 1382.0 / 155925.0;
  p = p * z + 62.0 / 2835.0;
  p = p * z - 17.0 / 315.0;
  p = p * z + 2.0 / 15.0;
  p = p * z - 1.0 / 3.0;
  return v + v * z * p;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn tanh_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i < params.n) {
    let v = clamp(x[i], -10.0, 10.0);
    out[i] = select(1.0 - 2.0 / (exp(2.0 * v) + 1.0), tanh_series(v), abs(v) < 0.625);
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
