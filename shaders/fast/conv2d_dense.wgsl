// Fast version of: shaders/conv2d.wgsl's three passes, for a conv with a 1x1 output (a dense layer).
// Idea: one small strided GEMM serves all three passes, rows broadcast across a workgroup, split-K.
//
// A conv whose kernel covers its whole unpadded input has a 1x1 output: it is a dense (fully connected)
// layer. DCGAN has two: D's last layer (4x4x512 → 1 logit) and, in conv geometry, G's first (the noise
// 1x1x100 → 4x4x512 transposed conv is the input gradient of a 4x4 → 1x1 conv). With k = (c, i, j)
// flattened, x is [N, K], w is [O, K], y is [N, O], and the three conv passes are plain products:
//   forward          y[n, o]  = Σ_k x[n, k]  · w[o, k]
//   input gradient   dx[n, k] = Σ_o dy[n, o] · w[o, k]
//   weight gradient  dw[o, k] = Σ_n dy[n, o] · x[n, k]
// One side is the batch or a single logit, so the tiled GEMM (64 rows at least) would mostly pad; and the
// implicit-GEMM input gradient would also loop over every tap of which one is real per pixel.
//
// So one small GEMM, C[M, N] = Σ_k A[m, k] · B[k, n], with A, B and C through strides (every pass above is
// one without copying: src/kernels/conv-dense.ts sets them). Each thread owns ROWS rows x 4 columns of C;
// the rows are workgroup y, so every thread of a workgroup reads the same A values (a broadcast load) and
// its own 4 columns of B. With a long K (the forward: K = C·KH·KW), grid z splits K into chunks that write
// partial sums, added up by shaders/fast/split_k_reduce.wgsl, as in shaders/fast/conv2d_gemm.wgsl.

struct Params {
  m: u32, n: u32, k: u32,
  a_row: u32, a_col: u32,  // A[m, k] = a[m · a_row + k · a_col]
  b_row: u32, b_col: u32,  // B[k, n] = b[k · b_row + n · b_col]
  out_row: u32, out_col: u32,  // C[m, n] = out[m · out_row + n · out_col] (a launcher computing Cᵀ swaps them)
  splits: u32,             // K chunks (grid z); > 1: partial sums at out[split · m · n + index]
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // C, or split: [splits] of C

const ROWS = 8u;      // rows of C per thread = per workgroup (src/kernels/conv-dense.ts sizes grid y by it)
const THREADS = 64u;  // threads per workgroup, 4 columns each
const COLUMNS = 4u * THREADS;  // columns of C per workgroup (src/kernels/conv-dense.ts sizes grid x by it)

@compute @workgroup_size(THREADS)
fn conv2d_dense(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let n0 = 4u * gid.x;
  if (n0 >= params.n) { return; }  // no barriers here: idle threads just leave (a CPU adapter would run their loop)
  let m0 = ROWS * wid.y;
  let chunk = (params.k + params.splits - 1u) / params.splits;
  let k_start = min(wid.z * chunk, params.k);
  let k_end = min(k_start + chunk, params.k);
  let rows = min(ROWS, params.m - m0);  // fewer in the last row block

  var acc: array<vec4<f32>, ROWS>;
  for (var k = k_start; k < k_end; k++) {
    var column = vec4<f32>();
    for (var q = 0u; q < 4u; q++) {
      if (n0 + q < params.n) { column[q] = b[k * params.b_row + (n0 + q) * params.b_col]; }
    }
    for (var r = 0u; r < ROWS; r++) {
      if (r < rows) { acc[r] += a[(m0 + r) * params.a_row + k * params.a_col] * column; }
    }
  }

  let base = wid.z * params.m * params.n;  // 0 unless split
  for (var r = 0u; r < rows; r++) {
    for (var q = 0u; q < 4u; q++) {
      if (n0 + q < params.n) { out[base + (m0 + r) * params.out_row + (n0 + q) * params.out_col] = acc[r][q]; }
    }
  }
}
