// Which versions of the kernels a whole run uses: one engine-level setting, set once before any kernel runs
// (`--kernel-set` of train, train:chrome, generate and bench; KERNEL_SET for the tests), read by the
// launchers that have two versions (conv: ./conv.ts, batchnorm: ./batchnorm.ts) and by Sequential, which
// fuses a batchnorm with the activation after it only under 'fast'. 'fast' (the default): each conv pass
// gets the faster version for its shape (the tiled implicit GEMMs, skinny and dense kernels of
// shaders/fast/), batchnorm the many-threads-per-channel kernels with the activation fused in. 'simple':
// every pass runs a readable kernel outside shaders/fast/ (shaders/conv2d.wgsl, shaders/batchnorm.wgsl,
// each a few lines of plain loops, and each layer's own activation kernel), slower. Both compute the same
// values up to float rounding, so a run may switch between them on --resume.

export const KERNEL_SETS = ['simple', 'fast'] as const;
export type KernelSet = (typeof KERNEL_SETS)[number];

let current: KernelSet = 'fast';

/** A kernel set by name (a flag's or an environment variable's value); throws naming `what` for any other. */
export function parseKernelSet(value: unknown, what = '--kernel-set'): KernelSet {
  if (KERNEL_SETS.includes(value as KernelSet)) return value as KernelSet;
  throw new Error(`${what} must be one of ${KERNEL_SETS.join(', ')}, not '${String(value)}'`);
}

/** Use `set` for every launch from now on. */
export function useKernelSet(set: KernelSet): void {
  current = parseKernelSet(set);
}

export function kernelSet(): KernelSet {
  return current;
}
