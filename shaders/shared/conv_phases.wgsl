// The phases of a conv input gradient without its zero taps (sub-pixel decomposition), shared by
// conv2d_gemm_backward_input (shaders/fast/conv2d_gemm.wgsl) and shaders/fast/conv2d_skinny.wgsl. With stride s,
// oy·s − p + i = iy  ⇔  i ≡ (iy + p) mod s and oy = (iy + p − i) / s, so x row iy is reached only by the
// kernel rows i ≡ (iy + p) mod s. Phase (ry, rx) holds the x pixels iy = iy0 + s·qy, ix = ix0 + s·qx with
// (iy0 + p) mod s = ry, (ix0 + p) mod s = rx; their taps are i = ry + s·t, j = rx + s·u, and tap (t, u) of
// pixel (qy, qx) reads dy[base_y + qy − t, base_x + qx − u]: a dense conv with a ⌈KH/s⌉ x ⌈KW/s⌉ kernel.
// #include "shared/conv_geometry.wgsl"

struct Phase {
  ry: u32, rx: u32,
  iy0: u32, ix0: u32,        // the phase's first x row and column
  height: u32, width: u32,   // its x rows and columns, ⌈(H − iy0) / s⌉ x ⌈(W − ix0) / s⌉ (0 past the image)
  taps_y: u32, taps_x: u32,  // its kernel rows and columns, ⌈(KH − ry) / s⌉ x ⌈(KW − rx) / s⌉ (0 past the kernel)
  base_y: u32, base_x: u32,  // the dy row and column of tap 0 for qy = qx = 0
}

// Phase number `phase` (0 ≤ phase < s²) is (ry, rx) = (phase / s, phase mod s), for a kh x kw kernel with
// stride s and padding p: params' values, or the same as pipeline constants (conv2d_gemm.wgsl).
fn input_phase(phase: u32, kh: u32, kw: u32, s: u32, p: u32) -> Phase {
  var f: Phase;
  f.ry = phase / s;
  f.rx = phase % s;
  f.iy0 = (f.ry + s - p % s) % s;
  f.ix0 = (f.rx + s - p % s) % s;
  f.height = select(0u, (params.in_height - f.iy0 + s - 1u) / s, f.iy0 < params.in_height);
  f.width = select(0u, (params.in_width - f.ix0 + s - 1u) / s, f.ix0 < params.in_width);
  f.taps_y = select(0u, (kh - f.ry + s - 1u) / s, f.ry < kh);
  f.taps_x = select(0u, (kw - f.rx + s - 1u) / s, f.rx < kw);
  f.base_y = (f.iy0 + p - f.ry) / s;  // exact: iy0 + p ≡ ry (mod s)
  f.base_x = (f.ix0 + p - f.rx) / s;
  return f;
}
