// The compute ceiling for the benchmark: C = A · B, row-major, A [m, k], B [k, n], C [m, n], float32.
// A classic tiled SGEMM, the shape of the fast conv kernels (shaders/conv2d_gemm.wgsl at TILE = 128)
// without the im2col indexing:
//  - each workgroup of 256 threads owns a 128x128 tile of C and walks k in steps of 8;
//  - a 128x8 slab of A and an 8x128 slab of B go to workgroup memory, k-major, as vec4 along m and n:
//    thread (kk = lid / 32, g = lid % 32) loads A[4g..4g+3, k0 + kk] and B[k0 + kk, 4g..4g+3];
//  - each thread keeps an 8x8 block of C in registers (sixteen vec4): per k it reads two vec4 of A and
//    two of B from workgroup memory and does 64 multiply-adds, so every value loaded into a tile feeds
//    128 multiply-adds.
// m and n must be multiples of 128 and k a multiple of 8 (the launcher checks): no bounds tests.
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

const TILE = 128u;
const TILE_K = 8u;
const GROUPS = 32u;  // vec4 groups per tile row

var<workgroup> tile_a: array<vec4f, 256>;  // [kk][g] = A[row0 + 4g .. + 3, k0 + kk]
var<workgroup> tile_b: array<vec4f, 256>;  // [kk][g] = B[k0 + kk, col0 + 4g .. + 3]

@compute @workgroup_size(256)
fn sgemm(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) group: vec3u) {
  let row0 = group.y * TILE;
  let col0 = group.x * TILE;
  let kk_load = lid / GROUPS;
  let g = lid % GROUPS;
  let tx = lid % 16u;  // this thread's block: rows row0 + 8·ty .., columns col0 + 8·tx ..
  let ty = lid / 16u;
  var acc: array<vec4f, 16>;  // acc[2r + h] = C[row0 + 8ty + r, col0 + 8tx + 4h .. + 3]

  for (var k0 = 0u; k0 < params.k; k0 += TILE_K) {
    let k = k0 + kk_load;
    let r = row0 + 4u * g;
    tile_a[lid] = vec4f(a[r * params.k + k], a[(r + 1u) * params.k + k], a[(r + 2u) * params.k + k], a[(r + 3u) * params.k + k]);
    let bi = k * params.n + col0 + 4u * g;
    tile_b[lid] = vec4f(b[bi], b[bi + 1u], b[bi + 2u], b[bi + 3u]);
    workgroupBarrier();
    for (var kk = 0u; kk < TILE_K; kk++) {
      let a0 = tile_a[kk * GROUPS + 2u * ty];
      let a1 = tile_a[kk * GROUPS + 2u * ty + 1u];
      let b0 = tile_b[kk * GROUPS + 2u * tx];
      let b1 = tile_b[kk * GROUPS + 2u * tx + 1u];
      acc[0] += a0.x * b0;  acc[1] += a0.x * b1;
      acc[2] += a0.y * b0;  acc[3] += a0.y * b1;
      acc[4] += a0.z * b0;  acc[5] += a0.z * b1;
      acc[6] += a0.w * b0;  acc[7] += a0.w * b1;
      acc[8] += a1.x * b0;  acc[9] += a1.x * b1;
      acc[10] += a1.y * b0; acc[11] += a1.y * b1;
      acc[12] += a1.z * b0; acc[13] += a1.z * b1;
      acc[14] += a1.w * b0; acc[15] += a1.w * b1;
    }
    workgroupBarrier();
  }

  for (var r = 0u; r < 8u; r++) {
    let row = row0 + 8u * ty + r;
    for (var h = 0u; h < 2u; h++) {
      let v = acc[2u * r + h];
      let i = row * params.n + col0 + 8u * tx + 4u * h;
      c[i] = v.x;
      c[i + 1u] = v.y;
      c[i + 2u] = v.z;
      c[i + 3u] = v.w;
    }
  }
}
