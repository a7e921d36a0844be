// A sum over the threads of one workgroup of WORKGROUP_SIZE (a power of two): each thread puts its value
// in workgroup memory, then a tree halves the partial sums log2(WORKGROUP_SIZE) times, a barrier per level.
// #include "shared/grid.wgsl"

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

// Σ over the workgroup of `value`, returned to every thread; `t` is the thread's local index. Every thread
// of the workgroup must call it (it holds barriers).
fn tree_sum(t: u32, value: f32) -> f32 {
  partial[t] = value;
  workgroupBarrier();
  for (var half = WORKGROUP_SIZE / 2u; half > 0u; half /= 2u) {
    if (t < half) { partial[t] += partial[t + half]; }
    workgroupBarrier();
  }
  return partial[0];
}
