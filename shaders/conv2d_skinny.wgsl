// The conv input gradient when x has few channels (DCGAN: the RGB image, so G's last transposed conv and
// the gradient D passes back to the generated images). Same math and phase (sub-pixel) decomposition as
// conv2d_gemm_backward_input in shaders/conv2d_gemm.wgsl:
//   dx[n,c,iy,ix] = Σ_{o,t,u} w[o, c, ry + s·t, rx + s·u] · dy[n, o, by + qy − t, bx + qx − u]   (+ b[c])
// but as a GEMM with M = C ≤ 4 a 64-row tile would be 95% padding, and with so few rows there is no reuse
// of dy to stage in workgroup memory anyway: each dy element feeds only C outputs. So each thread holds
// PIXELS x pixels of one phase, 4 channels each (c0 .. c0 + 3, c0 = 4 · workgroup y) in vec4s; the phase
// (ry, rx) is grid z. Pixel j of thread lid is column (wid.x · PIXELS + j) · THREADS + lid, so neighbouring
// threads read neighbouring dy elements.
//
// Loop order, for speed on every adapter (3-4x faster than one pixel per thread with o outermost, on
// lavapipe at DCGAN's shapes; bench/RESULTS.md): taps (t, u) outside, o innermost. Whether a pixel's tap
// lands inside dy does not depend on o, so the bounds checks and address math happen once per tap, and the
// inner loop only steps each address by one dy plane. The 4 weights of (o, t, u) are the same for every
// thread of the workgroup and serve all its PIXELS pixels.

struct Params {
  batch: u32, in_channels: u32, in_height: u32, in_width: u32,
  out_channels: u32, out_height: u32, out_width: u32,
  kernel_height: u32, kernel_width: u32, stride: u32, padding: u32,
  has_bias: u32,  // 1: add bias[c]
  count: u32,     // unused (the GEMM kernels' split-K stride)
  splits: u32,    // unused
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> weight: array<f32>;  // [O, C, KH, KW]
@group(0) @binding(3) var<storage, read> bias: array<f32>;    // read only when has_bias = 1
@group(0) @binding(4) var<storage, read> grad_y: array<f32>;  // dL/dy [N, O, OH, OW]
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

const PIXELS = 8u;    // x pixels per thread (src/kernels/conv-gemm.ts sizes the grid by THREADS · PIXELS)
const THREADS = 64u;
const OUTSIDE = -1073741824;  // a dy row no tap reaches (columns past the end)
fn inside(v: i32, size: u32) -> bool { return v >= 0 && v < i32(size); }

@compute @workgroup_size(THREADS)
fn conv2d_skinny_backward_input(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let s = params.stride;
  let ry = wid.z / s;
  let rx = wid.z % s;
  let iy0 = (ry + s - params.padding % s) % s;  // first x row of this phase: (iy0 + p) mod s = ry
  let ix0 = (rx + s - params.padding % s) % s;
  let phase_height = select(0u, (params.in_height - iy0 + s - 1u) / s, iy0 < params.in_height);
  let phase_width = select(0u, (params.in_width - ix0 + s - 1u) / s, ix0 < params.in_width);
  let taps_y = select(0u, (params.kernel_height - ry + s - 1u) / s, ry < params.kernel_height);
  let taps_x = select(0u, (params.kernel_width - rx + s - 1u) / s, rx < params.kernel_width);
  let base_y = (iy0 + params.padding - ry) / s;  // dy row of tap t = 0 for qy = 0
  let base_x = (ix0 + params.padding - rx) / s;
  let phase_plane = max(phase_height * phase_width, 1u);
  let columns = params.batch * phase_height * phase_width;
  let out_plane = params.out_height * params.out_width;
  let channels = params.in_channels;
  let c0 = 4u * wid.y;
  let kernel_plane = params.kernel_height * params.kernel_width;

  // Per pixel: dy's (row, column) at tap (0, 0) and the offset of its image in dy.
  var start_y: array<i32, PIXELS>;
  var start_x: array<i32, PIXELS>;
  var image: array<u32, PIXELS>;
  for (var j = 0u; j < PIXELS; j++) {
    let col = (wid.x * PIXELS + j) * THREADS + lid;
    let pos = col % phase_plane;
    start_y[j] = select(OUTSIDE, i32(base_y + pos / max(phase_width, 1u)), col < columns);
    start_x[j] = i32(base_x + pos % max(phase_width, 1u));
    image[j] = col / phase_plane * params.out_channels * out_plane;
  }
  var sum: array<vec4<f32>, PIXELS>;
  let weight_step = channels * kernel_plane;  // from one o to the next
  for (var t = 0u; t < taps_y; t++) {
    for (var u = 0u; u < taps_x; u++) {
      // Which dy element each pixel takes at tap (t, u), for o = 0; whether it exists does not depend on o.
      var at: array<u32, PIXELS>;
      var valid: array<bool, PIXELS>;
      for (var j = 0u; j < PIXELS; j++) {
        let oy = start_y[j] - i32(t);
        let ox = start_x[j] - i32(u);
        valid[j] = inside(oy, params.out_height) && inside(ox, params.out_width);
        at[j] = select(0u, image[j] + u32(oy) * params.out_width + u32(ox), valid[j]);
      }
      var tap = c0 * kernel_plane + (ry + s * t) * params.kernel_width + rx + s * u;
      for (var o = 0u; o < params.out_channels; o++) {
        var w = vec4<f32>();
        for (var r = 0u; r < 4u; r++) {
          if (c0 + r < channels) { w[r] = weight[tap + r * kernel_plane]; }
        }
        for (var j = 0u; j < PIXELS; j++) {
          sum[j] += w * select(0.0, grad_y[at[j]], valid[j]);
          at[j] += out_plane;
        }
        tap += weight_step;
      }
    }
  }
  for (var j = 0u; j < PIXELS; j++) {
    let col = (wid.x * PIXELS + j) * THREADS + lid;
    if (col >= columns) { continue; }
    let n = col / phase_plane;
    let pos = col % phase_plane;
    let iy = iy0 + s * (pos / phase_width);
    let ix = ix0 + s * (pos % phase_width);
    for (var r = 0u; r < 4u; r++) {
      let c = c0 + r;
      if (c < channels) {
        var value = sum[j][r];
        if (params.has_bias == 1u) { value += bias[c]; }
        out[((n * channels + c) * params.in_height + iy) * params.in_width + ix] = value;
      }
    }
  }
}
