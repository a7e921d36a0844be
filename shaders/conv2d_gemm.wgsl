// Fast conv2d passes as implicit GEMMs: C[M, N] = Σ_k A[M, k] · B[k, N], where im2col is never built
// in memory: each tile load computes which x / dy / w element a (row, k) or (k, column) entry stands for.
// Same geometry and conventions as shaders/conv2d.wgsl (which keeps the simple one-thread-per-output
// versions): x [N, C, H, W], w [O, C, KH, KW], y [N, O, OH, OW], y = conv2d(x, w) with stride s, padding p.
//
//   pass                     M (rows)   N (columns)             K (summed)                 A            B
//   conv2d_gemm_forward      o          (n, oy, ox)             (c, i, j)                  w            x (im2col)
//   conv2d_gemm_backward_input, per output phase (ry, rx) = ((iy + p) mod s, (ix + p) mod s):
//                            c          (n, qy, qx)             (o, t, u): i = ry + s·t    w (strided)  dy (im2col)
//   conv2d_gemm_backward_weight
//                            o          (c, i, j)               (n, oy, ox)                dy           x (im2col)
//
// Version 2 (this file): a TILE x TILE output tile per workgroup (TILE = 128, or 64 for GEMMs with few
// rows: a pipeline override), an 8x8 register block per thread (sixteen vec4 accumulators), so (TILE / 8)²
// threads, and K in steps of 16. Both tiles are stored k-major as vec4 in workgroup memory, so
// per k a thread does four vec4 loads and sixteen vec4 FMAs. Loading (TILE = 128): thread (kk = lid / 32,
// g = lid % 32) fetches A[4g..4g+3, k] and B[k, 4g..4g+3] for k = k0 + kk and k0 + 8 + kk (load_k): one k
// per load, so the division that splits k into its (c, i, j) happens once per load, and the four columns'
// (n, oy, ox) are split once per kernel. Why 8x8 blocks and 128 tiles (version 1 was 64x64
// tiles of 4x4 blocks): each value loaded into a 128 tile feeds 128 multiply-adds instead of 64, and the
// loads (gathers through the im2col address math) are what bound the GEMM on a CPU adapter. On lavapipe a
// plain SGEMM of this shape ran 1.6x faster than version 1's, and a DCGAN iteration 1.25-1.55x faster
// (bench/RESULTS.md; bench/sgemm.wgsl is now this shape).
//
// The tile machinery (tile sizes, workgroup tiles, the 8x8 accumulators, multiply_step, block_*) is in
// shaders/gemm_tiles.wgsl, which src/kernels/conv-gemm.ts puts in front of this file: bench/sgemm.wgsl
// runs the same multiply on a plain GEMM, as the benchmark's ceiling.
//
// Input gradient without the zero taps: with stride s, an x pixel iy is reached only by the kernel rows
// i ≡ (iy + p) mod s. Grouping the x pixels by that phase (ry, rx) gives s² dense convs, each with a
// ⌈KH/s⌉ x ⌈KW/s⌉ kernel w[:, :, ry + s·t, rx + s·u] (sub-pixel decomposition): for k4 s2 that is 4 taps
// per pixel instead of 16 of which 12 are zero. The phase is grid z.
//
// Split K: when M x N has too few tiles to fill the GPU (the weight gradient, DCGAN's small late layers),
// grid z also splits K into `splits` chunks; each writes a partial sum at out[split · count + index] and
// shaders/split_k_reduce.wgsl adds them (and the bias). With splits = 1 the kernels write out directly.

struct Params {
  batch: u32, in_channels: u32, in_height: u32, in_width: u32,
  out_channels: u32, out_height: u32, out_width: u32,
  kernel_height: u32, kernel_width: u32, stride: u32, padding: u32,
  has_bias: u32,  // 1: add bias[row] (only when splits = 1; else the reduction adds it)
  count: u32,     // elements of the full output: the stride between the partial sums of two splits
  splits: u32,    // how many chunks K is cut into
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // conv input [N, C, H, W]
@group(0) @binding(2) var<storage, read> weight: array<f32>;  // [O, C, KH, KW]
@group(0) @binding(3) var<storage, read> bias: array<f32>;    // read only when has_bias = 1
@group(0) @binding(4) var<storage, read> grad_y: array<f32>;  // dL/dy [N, O, OH, OW]
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

const OUTSIDE = -1073741824;  // a row/column coordinate that fails every bounds check (columns past N)

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

fn inside(v: i32, size: u32) -> bool { return v >= 0 && v < i32(size); }


// y[n,o,oy,ox] = Σ_{c,i,j} w[o,c,i,j] · x[n, c, oy·s − p + i, ox·s − p + j]:  M = O, N = batch·OH·OW, K = C·KH·KW.
@compute @workgroup_size(THREADS)
fn conv2d_gemm_forward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let rows = params.out_channels;
  let plane = params.out_height * params.out_width;
  let columns = params.batch * plane;
  let taps = params.kernel_height * params.kernel_width;
  let k_total = params.in_channels * taps;
  let in_plane = params.in_height * params.in_width;
  let m0 = wid.y * TILE;
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
    corner_y[q] = select(OUTSIDE, i32((pos / params.out_width) * params.stride) - i32(params.padding), col < columns);
    corner_x[q] = i32((pos % params.out_width) * params.stride) - i32(params.padding);
    image[q] = n * params.in_channels * in_plane;
  }

  acc = array<vec4<f32>, 16>();
  let range = k_range(k_total, wid.z);
  for (var k0 = range.x; k0 < range.y; k0 += TILE_K) {
    for (var load = 0u; load < LOADS; load++) {
      let k = load_k(k0, load, lid);
      let k_ok = k < range.y;
      let c = k / taps;
      let i = (k % taps) / params.kernel_width;
      let j = k % params.kernel_width;
      var a = vec4<f32>();
      var b = vec4<f32>();
      for (var q = 0u; q < 4u; q++) {
        let o = m0 + 4u * g + q;
        if (k_ok && o < rows) { a[q] = weight[o * k_total + k]; }
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

// dx[n,c,iy,ix] = Σ_{o,t,u} w[o, c, ry + s·t, rx + s·u] · dy[n, o, by + qy − t, bx + qx − u]  for the x pixels of
// phase (ry, rx): iy = iy0 + s·qy with (iy0 + p) mod s = ry, by = (iy0 + p − ry) / s (and the same along x).
// It is the gather form of "dx += w · dy over every tap" restricted to the taps that exist:
// oy·s − p + i = iy  ⇔  i ≡ (iy + p) mod s and oy = (iy + p − i) / s.   M = C, N = batch·Hq·Wq, K = O·Tt·Tu.
@compute @workgroup_size(THREADS)
fn conv2d_gemm_backward_input(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let s = params.stride;
  let phase = wid.z / params.splits;
  let split = wid.z % params.splits;
  let ry = phase / s;
  let rx = phase % s;
  let iy0 = (ry + s - params.padding % s) % s;  // first x row of this phase
  let ix0 = (rx + s - params.padding % s) % s;
  let phase_height = select(0u, (params.in_height - iy0 + s - 1u) / s, iy0 < params.in_height);
  let phase_width = select(0u, (params.in_width - ix0 + s - 1u) / s, ix0 < params.in_width);
  let taps_y = select(0u, (params.kernel_height - ry + s - 1u) / s, ry < params.kernel_height);  // Tt
  let taps_x = select(0u, (params.kernel_width - rx + s - 1u) / s, rx < params.kernel_width);    // Tu
  let base_y = (iy0 + params.padding - ry) / s;  // oy of tap t = 0 for qy = 0 (exact: iy0 + p ≡ ry)
  let base_x = (ix0 + params.padding - rx) / s;

  let rows = params.in_channels;
  let phase_plane = phase_height * phase_width;
  let columns = params.batch * phase_plane;
  let phase_taps = taps_y * taps_x;
  let k_total = params.out_channels * phase_taps;
  let out_plane = params.out_height * params.out_width;
  let m0 = wid.y * TILE;
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
    start_y[q] = select(OUTSIDE, i32(base_y + pos / phase_width), col < columns);
    start_x[q] = i32(base_x + pos % phase_width);
    image[q] = col / max(phase_plane, 1u) * params.out_channels * out_plane;
  }

  acc = array<vec4<f32>, 16>();
  let range = k_range(k_total, split);
  for (var k0 = range.x; k0 < range.y; k0 += TILE_K) {
    for (var load = 0u; load < LOADS; load++) {
      let k = load_k(k0, load, lid);
      let k_ok = k < range.y;
      let o = k / phase_taps;
      let t = (k % phase_taps) / taps_x;
      let u = k % taps_x;
      let tap = (ry + s * t) * params.kernel_width + rx + s * u;  // (i, j) within a kernel plane
      var a = vec4<f32>();
      var b = vec4<f32>();
      for (var q = 0u; q < 4u; q++) {
        let c = m0 + 4u * g + q;
        if (k_ok && c < rows) { a[q] = weight[(o * rows + c) * params.kernel_height * params.kernel_width + tap]; }
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
    let iy = iy0 + s * (pos / phase_width);
    let ix = ix0 + s * (pos % phase_width);
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
  let taps = params.kernel_height * params.kernel_width;
  let columns = params.in_channels * taps;
  let plane = params.out_height * params.out_width;
  let k_total = params.batch * plane;
  let in_plane = params.in_height * params.in_width;
  let m0 = wid.y * TILE;
  let n0 = wid.x * TILE;
  let g = lid % GROUPS;

  // The four weight columns (c, i, j) this thread loads: the channel's offset and the tap's shift −p + i, −p + j.
  var shift_y: array<i32, 4>;
  var shift_x: array<i32, 4>;
  var channel: array<u32, 4>;
  for (var q = 0u; q < 4u; q++) {
    let col = n0 + 4u * g + q;
    shift_y[q] = select(OUTSIDE, i32((col % taps) / params.kernel_width) - i32(params.padding), col < columns);
    shift_x[q] = i32(col % params.kernel_width) - i32(params.padding);
    channel[q] = col / taps * in_plane;
  }

  acc = array<vec4<f32>, 16>();
  let range = k_range(k_total, wid.z);
  for (var k0 = range.x; k0 < range.y; k0 += TILE_K) {
    for (var load = 0u; load < LOADS; load++) {
      let k = load_k(k0, load, lid);
      let k_ok = k < range.y;
      let n = k / plane;
      let pos = k % plane;
      let oy = i32((pos / params.out_width) * params.stride);
      let ox = i32((pos % params.out_width) * params.stride);
      let image = n * params.in_channels * in_plane;
      var a = vec4<f32>();
      var b = vec4<f32>();
      for (var q = 0u; q < 4u; q++) {
        let o = m0 + 4u * g + q;
        if (k_ok && o < rows) { a[q] = grad_y[(n * rows + o) * plane + pos]; }
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
