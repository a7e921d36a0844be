// The compute ceiling for the benchmark: C = A · B, row-major, A [m, k], B [k, n], C [m, n], float32.
// The tiled multiply of the fast conv kernels (shaders/shared/gemm_tiles.wgsl, put in front of this file by
// bench/ceilings.ts, at TILE = 128) without the im2col indexing, so a conv pass's figure next to this one
// shows what its address math and shape cost:
//  - each workgroup of 256 threads owns a 128x128 tile of C and walks k in steps of 16;
//  - thread (kk = lid / 32, g = lid % 32) loads A[4g..4g+3, k] and B[k, 4g..4g+3] for k = k0 + kk, k0 + 8 + kk;
//  - each thread keeps an 8x8 block of C in registers: every value loaded into a tile feeds 128 multiply-adds.
// m and n must be multiples of 128 and k a multiple of 16 (the launcher checks): no bounds tests.
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

@compute @workgroup_size(THREADS)
fn sgemm(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) group: vec3u) {
  let row0 = group.y * TILE;
  let col0 = group.x * TILE;
  let r = row0 + 4u * (lid % GROUPS);    // the four rows of A this thread loads
  let col = col0 + 4u * (lid % GROUPS);  // the four columns of B

  for (var k0 = 0u; k0 < params.k; k0 += TILE_K) {
    for (var load = 0u; load < LOADS; load++) {
      let k = load_k(k0, load, lid);
      let a4 = vec4f(a[r * params.k + k], a[(r + 1u) * params.k + k], a[(r + 2u) * params.k + k], a[(r + 3u) * params.k + k]);
      let bi = k * params.n + col;
      put_tiles(load, lid, a4, vec4f(b[bi], b[bi + 1u], b[bi + 2u], b[bi + 3u]));
    }
    multiply_step(lid);
  }

  for (var e = 0u; e < 64u; e++) {
    c[block_row(lid, row0, e) * params.n + block_column(lid, col0, e)] = block_value(e);
  }
}
