// 2-D convolution (cross-correlation, as PyTorch's conv2d), NCHW, and its gradients: the simple versions,
// one thread per output element (gather, no atomics), or one workgroup per reduced output. Transposed conv
// uses these same kernels: it is the adjoint of conv, so
//   convTranspose2d forward          = conv2d_backward_input  (weight [C_in, C_out, KH, KW] read as conv's [O, C, KH, KW])
//   convTranspose2d input gradient   = conv2d_forward          (no bias)
//   convTranspose2d weight gradient  = conv2d_backward_weight with the roles of x and dy swapped
// so every size below is the geometry of a conv y = conv2d(x, w), as shaders/shared/conv_geometry.wgsl
// declares it with the buffers. These are the reference versions (the whole of `--kernel-set simple`); the
// fast versions beside them: shaders/fast/conv2d_gemm.wgsl, conv2d_skinny.wgsl, conv2d_dense.wgsl.

// #include "shared/conv_geometry.wgsl"
// #include "shared/grid.wgsl"
// #include "shared/tree_sum.wgsl"

// Flat offsets into the three NCHW / OCHW arrays.
fn x_at(n: u32, c: u32, iy: u32, ix: u32) -> u32 {
  return ((n * params.in_channels + c) * params.in_height + iy) * params.in_width + ix;
}
fn y_at(n: u32, o: u32, oy: u32, ox: u32) -> u32 {
  return ((n * params.out_channels + o) * params.out_height + oy) * params.out_width + ox;
}
fn w_at(o: u32, c: u32, i: u32, j: u32) -> u32 {
  return ((o * params.in_channels + c) * params.kernel_height + i) * params.kernel_width + j;
}

// The input coordinate a tap reads: out·s − p + k, or -1 when it falls in the zero padding.
fn tap(out_pos: u32, k: u32, size: u32) -> i32 {
  let p = i32(out_pos * params.stride + k) - i32(params.padding);
  return select(-1, p, p >= 0 && p < i32(size));
}

// y[n,o,oy,ox] = b[o] + Σ_{c,i,j} w[o,c,i,j] · x[n, c, oy·s − p + i, ox·s − p + j]
@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = index(gid, groups);
  if (e >= params.count) { return; }
  let ox = e % params.out_width;
  let oy = (e / params.out_width) % params.out_height;
  let o = (e / (params.out_width * params.out_height)) % params.out_channels;
  let n = e / (params.out_width * params.out_height * params.out_channels);
  var sum = 0.0;
  if (params.has_bias == 1u) { sum = bias[o]; }
  for (var c = 0u; c < params.in_channels; c++) {
    for (var i = 0u; i < params.kernel_height; i++) {
      let iy = tap(oy, i, params.in_height);
      if (iy < 0) { continue; }
      for (var j = 0u; j < params.kernel_width; j++) {
        let ix = tap(ox, j, params.in_width);
        if (ix < 0) { continue; }
        sum += weight[w_at(o, c, i, j)] * x[x_at(n, c, u32(iy), u32(ix))];
      }
    }
  }
  out[e] = sum;
}

// dx[n,c,iy,ix] = Σ_{o,i,j : iy = oy·s − p + i, ix = ox·s − p + j} dy[n,o,oy,ox] · w[o,c,i,j]   (+ b[c] if has_bias)
// i.e. the transposed conv of dy with w, gathered: each x element finds the (oy, ox) whose taps land on it,
// oy = (iy + p − i) / s when that divides exactly and 0 ≤ oy < OH.
@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d_backward_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = index(gid, groups);
  if (e >= params.count) { return; }
  let ix = e % params.in_width;
  let iy = (e / params.in_width) % params.in_height;
  let c = (e / (params.in_width * params.in_height)) % params.in_channels;
  let n = e / (params.in_width * params.in_height * params.in_channels);
  let s = i32(params.stride);
  var sum = 0.0;
  if (params.has_bias == 1u) { sum = bias[c]; }
  for (var i = 0u; i < params.kernel_height; i++) {
    let ty = i32(iy + params.padding) - i32(i);  // = oy·s
    if (ty < 0 || ty % s != 0 || ty / s >= i32(params.out_height)) { continue; }
    let oy = u32(ty / s);
    for (var j = 0u; j < params.kernel_width; j++) {
      let tx = i32(ix + params.padding) - i32(j);  // = ox·s
      if (tx < 0 || tx % s != 0 || tx / s >= i32(params.out_width)) { continue; }
      let ox = u32(tx / s);
      for (var o = 0u; o < params.out_channels; o++) {
        sum += grad_y[y_at(n, o, oy, ox)] * weight[w_at(o, c, i, j)];
      }
    }
  }
  out[e] = sum;
}

// Reductions: one workgroup per output, WORKGROUP_SIZE threads stride over the summed terms, then a tree sum
// in workgroup memory (shaders/shared/tree_sum.wgsl).

// dw[o,c,i,j] = Σ_{n,oy,ox} dy[n,o,oy,ox] · x[n, c, oy·s − p + i, ox·s − p + j]   (one workgroup per weight)
@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d_backward_weight(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
                          @builtin(num_workgroups) groups: vec3<u32>) {
  let e = wid.x + wid.y * groups.x;  // which weight (uniform across the workgroup)
  let valid = e < params.count;
  let j = e % params.kernel_width;
  let i = (e / params.kernel_width) % params.kernel_height;
  let c = (e / (params.kernel_width * params.kernel_height)) % params.in_channels;
  let o = e / (params.kernel_width * params.kernel_height * params.in_channels);
  let plane = params.out_height * params.out_width;
  var sum = 0.0;
  if (valid) {
    for (var r = lid.x; r < params.batch * plane; r += WORKGROUP_SIZE) {
      let n = r / plane;
      let oy = (r % plane) / params.out_width;
      let ox = r % params.out_width;
      let iy = tap(oy, i, params.in_height);
      let ix = tap(ox, j, params.in_width);
      if (iy >= 0 && ix >= 0) { sum += grad_y[y_at(n, o, oy, ox)] * x[x_at(n, c, u32(iy), u32(ix))]; }
    }
  }
  let total = tree_sum(lid.x, sum);
  if (valid && lid.x == 0u) { out[e] = total; }
}

// db[o] = Σ_{n,oy,ox} dy[n,o,oy,ox]   (one workgroup per channel; sizes from out_channels, out_height, out_width)
@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d_backward_bias(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(num_workgroups) groups: vec3<u32>) {
  let o = wid.x + wid.y * groups.x;
  let valid = o < params.count;
  let plane = params.out_height * params.out_width;
  var sum = 0.0;
  if (valid) {
    for (var r = lid.x; r < params.batch * plane; r += WORKGROUP_SIZE) {
      sum += grad_y[y_at(r / plane, o, (r % plane) / params.out_width, r % params.out_width)];
    }
  }
  let total = tree_sum(lid.x, sum);
  if (valid && lid.x == 0u) { out[o] = total; }
}
