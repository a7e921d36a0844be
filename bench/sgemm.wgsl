// The compute ceiling for the benchmark: C = A · B, row-major, A [m, k], B [k, n], C [m, n], float32.
// A classic tiled SGEMM, the shape of the fast conv kernels without the im2col indexing:
//  - each workgroup of 16x16 threads owns a 64x64 tile of C and walks k in steps of 16;
//  - a 64x16 slab of A (stored transposed, [k][m]) and a 16x64 slab of B go to workgroup memory,
//    loaded by all 256 threads (4 elements each, consecutive threads on consecutive addresses);
//  - each thread keeps a 4x4 block of C in registers: per k it reads 4 values of A and 4 of B from
//    workgroup memory and does 16 multiply-adds, so arithmetic per shared load is 2 FMA per float.
// A thread's rows and columns are strided by 16 (row = ty + 16·i), so a warp reads consecutive
// workgroup-memory words and writes consecutive words of C.
// m and n must be multiples of 64 and k a multiple of 16 (the launcher checks): no bounds tests.
struct Params {
  m: u32,
  n: u32,
  k: u32,
  unused: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

const TILE: u32 = 64u;
const TILE_K: u32 = 16u;

var<workgroup> tile_a: array<array<f32, 64>, 16>; // [k][m]
var<workgroup> tile_b: array<array<f32, 64>, 16>; // [k][n]

@compute @workgroup_size(16, 16)
fn sgemm(@builtin(local_invocation_id) local: vec3u, @builtin(workgroup_id) group: vec3u) {
  let row0 = group.y * TILE;
  let col0 = group.x * TILE;
  let thread = local.y * 16u + local.x;
  var acc: array<vec4f, 4>; // acc[i][j] = C[row0 + ty + 16i, col0 + tx + 16j]

  for (var k0 = 0u; k0 < params.k; k0 += TILE_K) {
    for (var e = 0u; e < 4u; e++) {
      let index = thread + e * 256u;
      // A: 64 rows x 16 k, consecutive threads along k (one row of A is contiguous in k)
      let ar = index / TILE_K;
      let ak = index % TILE_K;
      tile_a[ak][ar] = a[(row0 + ar) * params.k + k0 + ak];
      // B: 16 k x 64 columns, consecutive threads along n
      let bk = index / TILE;
      let bc = index % TILE;
      tile_b[bk][bc] = b[(k0 + bk) * params.n + col0 + bc];
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TILE_K; kk++) {
      let bv = vec4f(tile_b[kk][local.x], tile_b[kk][local.x + 16u], tile_b[kk][local.x + 32u], tile_b[kk][local.x + 48u]);
      for (var i = 0u; i < 4u; i++) {
        acc[i] = fma(vec4f(tile_a[kk][local.y + 16u * i]), bv, acc[i]);
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    let row = row0 + local.y + 16u * i;
    for (var j = 0u; j < 4u; j++) {
      c[row * params.n + col0 + local.x + 16u * j] = acc[i][j];
    }
  }
}
