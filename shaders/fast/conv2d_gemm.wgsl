// Fast version of: shaders/conv2d.wgsl's conv2d_forward, conv2d_backward_input, conv2d_backward_weight.
// Idea: each pass as an implicit GEMM (im2col folded into the tile loads), 128x128 tiles in workgroup
// memory, an 8x8 register block per thread, split-K for long sums.
//
// Fast conv2d passes as implicit GEMMs: C[M, N] = Σ_k A[M, k] · B[k, N], where im2col is never built
// in memory: each tile load computes which x / dy / w element a (row, k) or (k, column) entry stands for.
// The geometry and buffers are every conv kernel's (shaders/shared/conv_geometry.wgsl): x [N, C, H, W],
// w [O, C, KH, KW], y [N, O, OH, OW], y = conv2d(x, w) with stride s, padding p. The simple versions of
// the same passes, one thread per output, are shaders/conv2d.wgsl.
//
//   pass                     M (rows)   N (columns)             K (summed)                 A            B
//   conv2d_gemm_forward      o          (n, oy, ox)             (c, i, j)                  w            x (im2col)
//   conv2d_gemm_backward_input, per output phase (ry, rx) = ((iy + p) mod s, (ix + p) mod s):
//                            c          (n, qy, qx)             (o, t, u): i = ry + s·t    w (strided)  dy (im2col)
//   conv2d_gemm_backward_weight
//                            o          (c, i, j)               (n, oy, ox)                dy           x (im2col)
//
// A TILE_M x TILE output tile per workgroup (pipeline overrides: 128 x 128, 64 x 64, 32 x 32, or for GEMMs
// with few rows 64 x 128 and 32 x 64; rows x columns), an 8x8 register block per thread (sixteen vec4
// accumulators), so (TILE_M / 8)·(TILE / 8) threads, and K in steps of TILE_K = 16. In a tile of half as
// many rows, only the threads whose A rows are in it load A (loads_a). Both tiles are stored k-major as
// vec4 in workgroup memory, so per k a thread does four vec4 loads and sixteen vec4 FMAs. Loading (TILE = 128): thread (kk = lid / 32, g = lid % 32)
// fetches A[4g..4g+3, k] and B[k, 4g..4g+3] for k = k0 + kk and k0 + 8 + kk (load_k): one k per load, so
// the division that splits k into its (c, i, j) happens once per load, and the four columns' (n, oy, ox)
// are split once per kernel. Why 8x8 blocks and 128 tiles: each value loaded into a 128 tile feeds 128
// multiply-adds (a 64 tile of 4x4 blocks: 64), and the loads (gathers through the im2col address math)
// are what bound the GEMM on a CPU adapter (measured: the History of bench/RESULTS.md).
//
// The tile machinery (tile sizes, workgroup tiles, the 8x8 accumulators, multiply_step, block_*) is
// shaders/shared/gemm_tiles.wgsl: bench/sgemm.wgsl runs the same multiply on a plain GEMM, as the
// benchmark's ceiling.
//
// Input gradient without the zero taps: with stride s, an x pixel iy is reached only by the kernel rows
// i ≡ (iy + p) mod s. Grouping the x pixels by that phase (ry, rx) gives s² dense convs, each with a
// ⌈KH/s⌉ x ⌈KW/s⌉ kernel w[:, :, ry + s·t, rx + s·u] (sub-pixel decomposition, shaders/shared/conv_phases.wgsl):
// for k4 s2 that is 4 taps per pixel instead of 16 of which 12 are zero. The phase is grid z.
//
// Split K: when M x N has too few tiles to fill the GPU (the weight gradient, DCGAN's small late layers),
// grid z also splits K into `splits` chunks; each writes a partial sum at out[split · count + index] and
// shaders/fast/split_k_reduce.wgsl adds them (and the bias: has_bias only counts when splits = 1). With
// splits = 1 the kernels write out directly.

// #include "shared/conv_geometry.wgsl"
// #include "shared/conv_phases.wgsl"
// #include "shared/gemm_tiles.wgsl"

// The conv's window as pipeline constants, where the other conv kernels read params' kernel_height,
// kernel_width, stride and padding (same values; src/kernels/conv-gemm.ts compiles one pipeline per window,
// and DCGAN has two: k4 s2 p1 and k4 s1 p0). Why: every tile load splits its k into (c, i, j), (o, t, u)
// or (n, oy, ox) by these sizes, and with constants the compiler turns those divisions into shifts and
// multiplies, and folds the phase geometry: 4–17% faster per pass on lavapipe (bench/RESULTS.md).
override KH: u32;
override KW: u32;
override STRIDE: u32;
override PADDING: u32;

// The k range [start, end) of split `split` of a K-long sum, in whole steps of TILE_K.
fn k_range(k_total: u32, split: u32) -> vec2<u32> {
  let chunk = ((k_total + params.splits - 1u) / params.splits + TILE_K - 1u) / TILE_K * TILE_K;
  let start = min(split * chunk, k_total);
  return vec2<u32>(start, min(start + chunk, k_total));
}

// Write one finished output: straight to out (+ bias[row]) or, split, to this split's partial sums.
fn store(index: u32, row: u32, split: u32, value: f32) {
  if (params.splits > 1u) {
    out[split * params.count + index] = value;
  } else if (params.has_bias == 1u) {
    out[index] = value + bias[row];
  } else {
    out[index] = value;
  }
}

// y[n,o,oy,ox] = Σ_{c,i,j} w[o,c,i,j] · x[n, c, oy·s − p + i, ox·s − p + j]:  M = O, N = batch·OH·OW, K = C·KH·KW.
@compute @workgroup_size(THREADS)
fn conv2d_gemm_forward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let rows = params.out_channels;
  let plane = params.out_height * params.out_width;
  let columns = params.batch * plane;
  let taps = KH * KW;
  let k_total = params.in_channels * taps;
  let in_plane = params.in_height * params.in_width;
  let m0 = wid.y * TILE_M;
  let n0 = wid.x * TILE;
  let g = lid % GROUPS;

  // The four columns this thread loads: the top-left input tap oy·s − p, ox·s − p and the image's offset.
  var corner_y: array<i32, 4>;
  var corner_x: array<i32, 4>;
  var image: array<u32, 4>;
  for (var q = 0u; q < 4u; q++) {
    let col = n0 + 4u * g + q;
    let n = col / plane;
    let pos = col % plane;
    corner_y[q] = select(OUTSIDE, i32((pos / params.out_width) * STRIDE) - i32(PADDING), col < columns);
    corner_x[q] = i32((pos % params.out_width) * STRIDE) - i32(PADDING);
    image[q] = n * params.in_channels * in_plane;
  }

  acc = array<vec4<f32>, 16>();
  let range = k_range(k_total, wid.z);
  for (var k0 = range.x; k0 < range.y; k0 += TILE_K) {
    for (var load = 0u; load < LOADS; load++) {
      let k = load_k(k0, load, lid);
      let k_ok = k < range.y;
      let a_ok = k_ok && loads_a(lid);  // this thread's A rows are in the tile
      let c = k / taps;
      let i = (k % taps) / KW;
      let j = k % KW;
      var a = vec4<f32>();
      var b = vec4<f32>();
      for (var q = 0u; q < 4u; q++) {
        let o = m0 + 4u * g + q;
        if (a_ok && o < rows) { a[q] = weight[o * k_total + k]; }
        let iy = corner_y[q] + i32(i);
        let ix = corner_x[q] + i32(j);
        if (k_ok && inside(iy, params.in_height) && inside(ix, params.in_width)) {
          b[q] = x[image[q] + c * in_plane + u32(iy) * params.in_width + u32(ix)];
        }
      }
      put_tiles(load, lid, a, b);
    }
    multiply_step(lid);
  }

  // Per column of the block, y[n, 0, oy, ox] found once (the divisions), then its 8 rows one plane apart.
  for (var j = 0u; j < 8u; j++) {
    let col = block_column(lid, n0, j);
    if (col >= columns) { continue; }
    let pixel = col / plane * rows * plane + col % plane;
    for (var i = 0u; i < 8u; i++) {
      let o = block_row(lid, m0, 8u * i);
      if (o < rows) { store(pixel + o * plane, o, wid.z, block_value(8u * i + j)); }
    }
  }
}

// dx[n,c,iy,ix] = Σ_{o,t,u} w[o, c, ry + s·t, rx + s·u] · dy[n, o, base_y + qy − t, base_x + qx − u]  for the
// x pixels iy = iy0 + s·qy, ix = ix0 + s·qx of phase (ry, rx) (shaders/shared/conv_phases.wgsl): the gather
// form of "dx += w · dy over every tap" restricted to the taps that exist.   M = C, N = batch·Hq·Wq, K = O·Tt·Tu.
@compute @workgroup_size(THREADS)
fn conv2d_gemm_backward_input(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let s = STRIDE;
  let phase = input_phase(wid.z / params.splits, KH, KW, STRIDE, PADDING);
  let split = wid.z % params.splits;

  let rows = params.in_channels;
  let phase_plane = phase.height * phase.width;
  let columns = params.batch * phase_plane;
  let phase_taps = phase.taps_y * phase.taps_x;
  let k_total = params.out_channels * phase_taps;
  let out_plane = params.out_height * params.out_width;
  let m0 = wid.y * TILE_M;
  let n0 = wid.x * TILE;
  if (n0 >= columns) { return; }  // the grid covers the largest phase; uniform across the workgroup
  let g = lid % GROUPS;

  // The four columns this thread loads: dy's (oy, ox) for tap (0, 0), and the image's offset in dy.
  var start_y: array<i32, 4>;
  var start_x: array<i32, 4>;
  var image: array<u32, 4>;
  for (var q = 0u; q < 4u; q++) {
    let col = n0 + 4u * g + q;
    let pos = col % max(phase_plane, 1u);
    start_y[q] = select(OUTSIDE, i32(phase.base_y + pos / phase.width), col < columns);
    start_x[q] = i32(phase.base_x + pos % phase.width);
    image[q] = col / max(phase_plane, 1u) * params.out_channels * out_plane;
  }

  acc = array<vec4<f32>, 16>();
  let range = k_range(k_total, split);
  for (var k0 = range.x; k0 < range.y; k0 += TILE_K) {
    for (var load = 0u; load < LOADS; load++) {
      let k = load_k(k0, load, lid);
      let k_ok = k < range.y;
      let a_ok = k_ok && loads_a(lid);  // this thread's A rows are in the tile
      let o = k / phase_taps;
      let t = (k % phase_taps) / phase.taps_x;
      let u = k % phase.taps_x;
      let tap = (phase.ry + s * t) * KW + phase.rx + s * u;  // (i, j) within a kernel plane
      var a = vec4<f32>();
      var b = vec4<f32>();
      for (var q = 0u; q < 4u; q++) {
        let c = m0 + 4u * g + q;
        if (a_ok && c < rows) { a[q] = weight[(o * rows + c) * KH * KW + tap]; }
        let oy = start_y[q] - i32(t);
        let ox = start_x[q] - i32(u);
        if (k_ok && inside(oy, params.out_height) && inside(ox, params.out_width)) {
          b[q] = grad_y[image[q] + o * out_plane + u32(oy) * params.out_width + u32(ox)];
        }
      }
      put_tiles(load, lid, a, b);
    }
    multiply_step(lid);
  }

  // Per column of the block, dx[n, 0, iy, ix] found once (the divisions), then its 8 rows one plane apart.
  let in_plane = params.in_height * params.in_width;
  for (var j = 0u; j < 8u; j++) {
    let col = block_column(lid, n0, j);
    if (col >= columns) { continue; }
    let pos = col % phase_plane;
    let iy = phase.iy0 + s * (pos / phase.width);
    let ix = phase.ix0 + s * (pos % phase.width);
    let pixel = (col / phase_plane * rows * params.in_height + iy) * params.in_width + ix;
    for (var i = 0u; i < 8u; i++) {
      let c = block_row(lid, m0, 8u * i);
      if (c < rows) { store(pixel + c * in_plane, c, split, block_value(8u * i + j)); }
    }
  }
}

// dw[o,c,i,j] = Σ_{n,oy,ox} dy[n,o,oy,ox] · x[n, c, oy·s − p + i, ox·s − p + j]:  M = O, N = C·KH·KW, K = batch·OH·OW.
// K is the long side (a whole batch of output pixels), so this is the pass that split K is for.
@compute @workgroup_size(THREADS)
fn conv2d_gemm_backward_weight(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let rows = params.out_channels;
  let taps = KH * KW;
  let columns = params.in_channels * taps;
  let plane = params.out_height * params.out_width;
  let k_total = params.batch * plane;
  let in_plane = params.in_height * params.in_width;
  let m0 = wid.y * TILE_M;
  let n0 = wid.x * TILE;
  let g = lid % GROUPS;

  // The four weight columns (c, i, j) this thread loads: the channel's offset and the tap's shift −p + i, −p + j.
  var shift_y: array<i32, 4>;
  var shift_x: array<i32, 4>;
  var channel: array<u32, 4>;
  for (var q = 0u; q < 4u; q++) {
    let col = n0 + 4u * g + q;
    shift_y[q] = select(OUTSIDE, i32((col % taps) / KW) - i32(PADDING), col < columns);
    shift_x[q] = i32(col % KW) - i32(PADDING);
    channel[q] = col / taps * in_plane;
  }

  acc = array<vec4<f32>, 16>();
  let range = k_range(k_total, wid.z);
  for (var k0 = range.x; k0 < range.y; k0 += TILE_K) {
    for (var load = 0u; load < LOADS; load++) {
      let k = load_k(k0, load, lid);
      let k_ok = k < range.y;
      let a_ok = k_ok && loads_a(lid);  // this thread's A rows are in the tile
      let n = k / plane;
      let pos = k % plane;
      let oy = i32((pos / params.out_width) * STRIDE);
      let ox = i32((pos % params.out_width) * STRIDE);
      let image = n * params.in_channels * in_plane;
      var a = vec4<f32>();
      var b = vec4<f32>();
      for (var q = 0u; q < 4u; q++) {
        let o = m0 + 4u * g + q;
        if (a_ok && o < rows) { a[q] = grad_y[(n * rows + o) * plane + pos]; }
        let iy = oy + shift_y[q];
        let ix = ox + shift_x[q];
        if (k_ok && inside(iy, params.in_height) && inside(ix, params.in_width)) {
          b[q] = x[image + channel[q] + u32(iy) * params.in_width + u32(ix)];
        }
      }
      put_tiles(load, lid, a, b);
    }
    multiply_step(lid);
  }

  for (var e = 0u; e < 64u; e++) {
    let o = block_row(lid, m0, e);
    let col = block_column(lid, n0, e);
    if (o < rows && col < columns) { store(o * columns + col, o, wid.z, block_value(e)); }
  }
}
