// The grid of every one-thread-per-element kernel: WORKGROUP_SIZE threads per workgroup, and its launcher
// dispatches ⌈n / WORKGROUP_SIZE⌉ workgroups with Kernel.dispatch1d (src/gpu/kernel.ts), which reads the
// size from the entry point's @workgroup_size and folds the grid into y past the 65535 workgroups one
// dimension may hold. Thread gid of that folded grid handles element index(gid, groups).
const WORKGROUP_SIZE = 256u;

fn index(gid: vec3<u32>, groups: vec3<u32>) -> u32 { return gid.x + gid.y * groups.x * WORKGROUP_SIZE; }
