// The tiled-GEMM core shared by shaders/fast/conv2d_gemm.wgsl (implicit GEMMs of the conv passes, which
// #include this file) and bench/sgemm.wgsl (a plain GEMM, the benchmark's compute ceiling: bench/ceilings.ts
// puts this file in front of it). It owns the workgroup tiles and each thread's 8x8 block of C. Per step of
// TILE_K k, the including shader has every thread load LOADS vec4s of A and of B (load_k says which k,
// put_tiles stores them), calls multiply_step, and at the end stores the block through block_row /
// block_column / block_value. A TILE_M x TILE output tile per workgroup (rows x columns; square unless
// TILE_M is set to TILE / 2), (TILE_M / 8)·(TILE / 8) threads.
//
// Why 16 k per step whatever the tile: a step costs two workgroup barriers, and on a CPU adapter each is
// a switch through every SIMD group of the workgroup, so fewer, longer steps pay fewer switches (measured:
// the History of bench/RESULTS.md). 16 also fits WebGPU's guaranteed 16 KB of workgroup memory at TILE 128
// (2 tiles x 16 x 128 floats).

// The tile sizes are pipeline overrides (src/kernels/conv-gemm.ts): TILE = 128, 64 or 32 outputs along N,
// and as many along M, or with TILE_M = TILE / 2 half as many: a GEMM of 64 rows in a 64 x 128 tile has
// each loaded value feed 42.7 multiply-adds, against 32 in a 64 x 64 tile (and 64 in a 128 x 128 one).
override TILE: u32 = 128u;              // outputs per workgroup along N (columns)
override TILE_M: u32 = TILE;            // outputs per workgroup along M (rows): TILE or TILE / 2
override TILE_K: u32 = 16u;             // k per step
override GROUPS = TILE / 4u;            // vec4 groups per tile row of B
override GROUPS_M = TILE_M / 4u;        // vec4 groups per tile column of A
override BLOCKS = TILE / 8u;            // 8x8 register blocks along N
override BLOCKS_M = TILE_M / 8u;        // 8x8 register blocks along M
override THREADS = BLOCKS_M * BLOCKS;   // 256 (128 x 128), 128 (64 x 128), 64 (64 x 64), ...
override K_PER_LOAD = THREADS / GROUPS; // k covered when every thread loads one vec4 of B: 8 (or 4)
override LOADS = TILE_K / K_PER_LOAD;   // loads per thread and step: 2 (or 4)
override SLOTS = TILE_K * GROUPS;       // vec4s in the B tile
override SLOTS_M = TILE_K * GROUPS_M;   // vec4s in the A tile

var<workgroup> a_tile: array<vec4<f32>, SLOTS_M>;  // [kk][g] = A[m0 + 4g .. m0 + 4g + 3, k0 + kk]
var<workgroup> b_tile: array<vec4<f32>, SLOTS>;    // [kk][g] = B[k0 + kk, n0 + 4g .. n0 + 4g + 3]
// acc[2r + h][q] = C[m0 + 8·ty + r, n0 + 8·tx + 4h + q]: thread (tx, ty) = (lid % BLOCKS, lid / BLOCKS)
var<private> acc: array<vec4<f32>, 16>;

// acc += A_tile · B_tile for the TILE_K k of this step: each thread its 8x8 block.
fn multiply_tiles(tx: u32, ty: u32) {
  for (var kk = 0u; kk < TILE_K; kk++) {
    let a0 = a_tile[kk * GROUPS_M + 2u * ty];  // rows 8ty .. 8ty + 3
    let a1 = a_tile[kk * GROUPS_M + 2u * ty + 1u];  // rows 8ty + 4 .. 8ty + 7
    let b0 = b_tile[kk * GROUPS + 2u * tx];
    let b1 = b_tile[kk * GROUPS + 2u * tx + 1u];
    acc[0] += a0.x * b0;  acc[1] += a0.x * b1;
    acc[2] += a0.y * b0;  acc[3] += a0.y * b1;
    acc[4] += a0.z * b0;  acc[5] += a0.z * b1;
    acc[6] += a0.w * b0;  acc[7] += a0.w * b1;
    acc[8] += a1.x * b0;  acc[9] += a1.x * b1;
    acc[10] += a1.y * b0; acc[11] += a1.y * b1;
    acc[12] += a1.z * b0; acc[13] += a1.z * b1;
    acc[14] += a1.w * b0; acc[15] += a1.w * b1;
  }
}

// Load number `load` (0 ≤ load < LOADS) of thread lid is for k = load_k(k0, load, lid) and the vec4
// group g = lid % GROUPS: the including shader fetches B[k, 4g..4g+3] and, where loads_a(lid) (g < GROUPS_M:
// every thread of a square tile, half of them when TILE_M = TILE / 2), A[4g..4g+3, k], and puts them here.
fn load_k(k0: u32, load: u32, lid: u32) -> u32 { return k0 + load * K_PER_LOAD + lid / GROUPS; }
fn loads_a(lid: u32) -> bool { return lid % GROUPS < GROUPS_M; }
fn put_tiles(load: u32, lid: u32, a: vec4<f32>, b: vec4<f32>) {
  if (loads_a(lid)) { a_tile[(load * K_PER_LOAD + lid / GROUPS) * GROUPS_M + lid % GROUPS] = a; }
  b_tile[load * THREADS + lid] = b;
}

// One K step, after every thread's put_tiles: (the tiles complete) each thread multiplies its own 8x8
// block. The second barrier keeps the next step's loads from overwriting tiles still being read.
fn multiply_step(lid: u32) {
  workgroupBarrier();
  multiply_tiles(lid % BLOCKS, lid / BLOCKS);
  workgroupBarrier();
}

// The finished block of thread lid, element e of 64 (row r = e / 8, column c = e % 8): its row and column
// in C and its value. The entry points map (row, column) to their output layout.
fn block_row(lid: u32, m0: u32, e: u32) -> u32 { return m0 + 8u * (lid / BLOCKS) + e / 8u; }
fn block_column(lid: u32, n0: u32, e: u32) -> u32 { return n0 + 8u * (lid % BLOCKS) + e % 8u; }
fn block_value(e: u32) -> f32 { return acc[e / 4u][e % 4u]; }
