// The conv input gradient when x has few channels (DCGAN: the RGB image, so G's last transposed conv and
// the gradient D passes back to the generated images). Same math and phase (sub-pixel) decomposition as
// conv2d_gemm_backward_input in shaders/conv2d_gemm.wgsl:
//   dx[n,c,iy,ix] = Σ_{o,t,u} w[o, c, ry + s·t, rx + s·u] · dy[n, o, by + qy − t, bx + qx − u]   (+ b[c])
// but as a GEMM with M = C ≤ 4 a 64-row tile would be 95% padding, and with so few rows there is no reuse
// of dy to stage in workgroup memory anyway: each dy element feeds only C outputs. So one thread per x
// pixel of a phase, holding 4 channels (c0 .. c0 + 3, c0 = 4 · workgroup y) in a vec4; it reads each dy
// element it needs once and does 4 multiply-adds with it. Three nested loops over (o, t, u): no division
// in the inner loop. The phase (ry, rx) is grid z.

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

@compute @workgroup_size(256)
fn conv2d_skinny_backward_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let s = params.stride;
  let ry = wid.z / s;
  let rx = wid.z % s;
  let iy0 = (ry + s - params.padding % s) % s;  // first x row of this phase: (iy0 + p) mod s = ry
  let ix0 = (rx + s - params.padding % s) % s;
  let phase_height = select(0u, (params.in_height - iy0 + s - 1u) / s, iy0 < params.in_height);
  let phase_width = select(0u, (params.in_width - ix0 + s - 1u) / s, ix0 < params.in_width);
  let taps_y = select(0u, (params.kernel_height - ry + s - 1u) / s, ry < params.kernel_height);
  let taps_x = select(0u, (params.kernel_width - rx + s - 1u) / s, rx < params.kernel_width);
  let col = gid.x;
  if (col >= params.batch * phase_height * phase_width) { return; }
  let n = col / (phase_height * phase_width);
  let qy = (col / phase_width) % phase_height;
  let qx = col % phase_width;
  let start_y = i32((iy0 + params.padding - ry) / s + qy);  // dy row of tap t = 0
  let start_x = i32((ix0 + params.padding - rx) / s + qx);
  let channels = params.in_channels;
  let c0 = 4u * wid.y;
  let kernel_plane = params.kernel_height * params.kernel_width;
  let out_plane = params.out_height * params.out_width;

  var sum = vec4<f32>();
  for (var o = 0u; o < params.out_channels; o++) {
    let dy_plane = (n * params.out_channels + o) * out_plane;
    for (var t = 0u; t < taps_y; t++) {
      let oy = start_y - i32(t);
      if (oy < 0 || oy >= i32(params.out_height)) { continue; }
      for (var u = 0u; u < taps_x; u++) {
        let ox = start_x - i32(u);
        if (ox < 0 || ox >= i32(params.out_width)) { continue; }
        let d = grad_y[dy_plane + u32(oy) * params.out_width + u32(ox)];
        let tap = (o * channels + c0) * kernel_plane + (ry + s * t) * params.kernel_width + rx + s * u;
        var w = vec4<f32>();
        for (var r = 0u; r < 4u; r++) {
          if (c0 + r < channels) { w[r] = weight[tap + r * kernel_plane]; }
        }
        sum += d * w;
      }
    }
  }
  let iy = iy0 + s * qy;
  let ix = ix0 + s * qx;
  for (var r = 0u; r < 4u; r++) {
    let c = c0 + r;
    if (c < channels) {
      var value = sum[r];
      if (params.has_bias == 1u) { value += bias[c]; }
      out[((n * channels + c) * params.in_height + iy) * params.in_width + ix] = value;
    }
  }
}
