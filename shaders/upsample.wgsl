// Nearest-neighbour upsampling by 2 (PyTorch's nn.Upsample(scale_factor=2, mode='nearest')), NCHW, forward
// and backward. Each input pixel becomes a 2x2 block of the output:
//   y[n,c,2i+a,2j+b] = x[n,c,i,j]   for a, b in {0, 1}
// so its gradient gathers that block back:
//   dx[n,c,i,j] = Σ_{a,b ∈ {0,1}} dy[n,c,2i+a,2j+b]
// One thread per element written (output pixel forward, input pixel backward): a gather, no atomics.

struct Params { n: u32, height: u32, width: u32 }   // n: elements written; height, width: of the INPUT x
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // forward input [N, C, H, W]
@group(0) @binding(2) var<storage, read> grad_y: array<f32>;   // dL/dy [N, C, 2H, 2W]
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// #include "shared/grid.wgsl"

// y[n,c,oy,ox] = x[n,c,oy/2,ox/2]
@compute @workgroup_size(WORKGROUP_SIZE)
fn upsample2x_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let o = index(gid, groups);
  if (o >= params.n) { return; }
  let w2 = 2u * params.width;
  let ox = o % w2;
  let oy = (o / w2) % (2u * params.height);
  let plane = o / (w2 * 2u * params.height); // n * C + c
  out[o] = x[(plane * params.height + oy / 2u) * params.width + ox / 2u];
}

// dx[n,c,i,j] = dy[n,c,2i,2j] + dy[n,c,2i,2j+1] + dy[n,c,2i+1,2j] + dy[n,c,2i+1,2j+1]
@compute @workgroup_size(WORKGROUP_SIZE)
fn upsample2x_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i >= params.n) { return; }
  let w2 = 2u * params.width;
  let col = i % params.width;
  let row = (i / params.width) % params.height;
  let plane = i / (params.width * params.height);
  let top = (plane * 2u * params.height + 2u * row) * w2 + 2u * col; // dy[n,c,2i,2j]
  out[i] = grad_y[top] + grad_y[top + 1u] + grad_y[top + w2] + grad_y[top + w2 + 1u];
}
