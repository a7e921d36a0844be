// Fast version of: shaders/conv2d.wgsl's conv2d_backward_input, for an x of at most 4 channels.
// Idea: per output phase, each thread holds several pixels x 4 channels in vec4s; taps outside, o innermost.
//
// The conv input gradient when x has few channels (DCGAN: the RGB image, so G's last transposed conv and
// the gradient D passes back to the generated images). Same math and phase (sub-pixel) decomposition as
// conv2d_gemm_backward_input in shaders/fast/conv2d_gemm.wgsl (shaders/shared/conv_phases.wgsl):
//   dx[n,c,iy,ix] = Σ_{o,t,u} w[o, c, ry + s·t, rx + s·u] · dy[n, o, base_y + qy − t, base_x + qx − u]   (+ b[c])
// but as a GEMM with M = C ≤ 4 a 64-row tile would be 95% padding, and with so few rows there is no reuse
// of dy to stage in workgroup memory anyway: each dy element feeds only C outputs. So each thread holds
// PIXELS x pixels of one phase, CHANNELS = 4 channels each (c0 .. c0 + 3, c0 = 4 · workgroup y) in vec4s;
// the phase (ry, rx) is grid z. Pixel j of thread lid is column (wid.x · PIXELS + j) · THREADS + lid, so
// neighbouring threads read neighbouring dy elements.
//
// Loop order, for speed on every adapter: taps (t, u) outside, o innermost (rather than one pixel per
// thread with o outermost; measured: the History of bench/RESULTS.md). Whether a pixel's tap lands inside
// dy does not depend on o, so the bounds checks and address math happen once per tap, and the inner loop
// only steps each address by one dy plane. The 4 weights of (o, t, u) are the same for every thread of
// the workgroup and serve all its PIXELS pixels.

// #include "shared/conv_geometry.wgsl"
// #include "shared/conv_phases.wgsl"

const PIXELS = 8u;    // x pixels per thread
const THREADS = 64u;
const CHANNELS = 4u;  // x channels per workgroup row: one vec4 per pixel (grid y = ⌈C / CHANNELS⌉)
const PIXELS_PER_WORKGROUP = PIXELS * THREADS;  // src/kernels/conv-gemm.ts sizes grid x by it

@compute @workgroup_size(THREADS)
fn conv2d_skinny_backward_input(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let s = params.stride;
  let phase = input_phase(wid.z, params.kernel_height, params.kernel_width, params.stride, params.padding);
  let phase_plane = max(phase.height * phase.width, 1u);
  let columns = params.batch * phase.height * phase.width;
  let out_plane = params.out_height * params.out_width;
  let channels = params.in_channels;
  let c0 = CHANNELS * wid.y;
  let kernel_plane = params.kernel_height * params.kernel_width;

  // Per pixel: dy's (row, column) at tap (0, 0) and the offset of its image in dy.
  var start_y: array<i32, PIXELS>;
  var start_x: array<i32, PIXELS>;
  var image: array<u32, PIXELS>;
  for (var j = 0u; j < PIXELS; j++) {
    let col = (wid.x * PIXELS + j) * THREADS + lid;
    let pos = col % phase_plane;
    start_y[j] = select(OUTSIDE, i32(phase.base_y + pos / max(phase.width, 1u)), col < columns);
    start_x[j] = i32(phase.base_x + pos % max(phase.width, 1u));
    image[j] = col / phase_plane * params.out_channels * out_plane;
  }
  var sum: array<vec4<f32>, PIXELS>;
  let weight_step = channels * kernel_plane;  // from one o to the next
  for (var t = 0u; t < phase.taps_y; t++) {
    for (var u = 0u; u < phase.taps_x; u++) {
      // Which dy element each pixel takes at tap (t, u), for o = 0; whether it exists does not depend on o.
      var at: array<u32, PIXELS>;
      var valid: array<bool, PIXELS>;
      for (var j = 0u; j < PIXELS; j++) {
        let oy = start_y[j] - i32(t);
        let ox = start_x[j] - i32(u);
        valid[j] = inside(oy, params.out_height) && inside(ox, params.out_width);
        at[j] = select(0u, image[j] + u32(oy) * params.out_width + u32(ox), valid[j]);
      }
      var tap = c0 * kernel_plane + (phase.ry + s * t) * params.kernel_width + phase.rx + s * u;
      for (var o = 0u; o < params.out_channels; o++) {
        var w = vec4<f32>();
        for (var r = 0u; r < CHANNELS; r++) {
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
    let iy = phase.iy0 + s * (pos / phase.width);
    let ix = phase.ix0 + s * (pos % phase.width);
    for (var r = 0u; r < CHANNELS; r++) {
      let c = c0 + r;
      if (c < channels) {
        var value = sum[j][r];
        if (params.has_bias == 1u) { value += bias[c]; }
        out[((n * channels + c) * params.in_height + iy) * params.in_width + ix] = value;
      }
    }
  }
}
