// What every conv kernel shares (shaders/conv2d.wgsl, conv2d_gemm.wgsl, conv2d_skinny.wgsl): the geometry
// of a conv y = conv2d(x, w), NCHW, stride s, padding p,
//   x [batch, in_channels, in_height, in_width], w [out_channels, in_channels, kernel_height, kernel_width],
//   y [batch, out_channels, out_height, out_width],
//   y[n,o,oy,ox] = b[o] + Σ_{c,i,j} w[o,c,i,j] · x[n, c, oy·s − p + i, ox·s − p + j]   (x is 0 outside the image)
// and its buffers. Transposed conv runs these same kernels (src/kernels/conv.ts), so sizes are always a conv's.
// Each entry point binds only the buffers it uses.

struct Params {
  batch: u32, in_channels: u32, in_height: u32, in_width: u32,
  out_channels: u32, out_height: u32, out_width: u32,
  kernel_height: u32, kernel_width: u32, stride: u32, padding: u32,
  has_bias: u32,  // 1: add bias (the forward: bias [out_channels]; the input gradient: bias [in_channels])
  count: u32,     // outputs of the pass (the GEMMs: also the stride between two splits' partial sums)
  splits: u32,    // the GEMMs: how many chunks K is cut into (1 elsewhere)
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // conv input [N, C, H, W]
@group(0) @binding(2) var<storage, read> weight: array<f32>;  // [O, C, KH, KW]
@group(0) @binding(3) var<storage, read> bias: array<f32>;    // read only when has_bias = 1 (else any buffer is bound)
@group(0) @binding(4) var<storage, read> grad_y: array<f32>;  // dL/dy [N, O, OH, OW]
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

const OUTSIDE = -1073741824;  // a row or column coordinate that fails every bounds check (columns past the end)
fn inside(v: i32, size: u32) -> bool { return v >= 0 && v < i32(size); }
