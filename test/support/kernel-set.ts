// Vitest setup (vitest.config.ts's setupFiles): KERNEL_SET=simple|fast runs every test file's kernels with that
// kernel set (src/kernels/kernel-set.ts), e.g. `KERNEL_SET=simple npx vitest run test/dcgan.test.ts`. Cases that
// force a conv variant still run that variant; the CLI tests' child processes take --kernel-set instead.
import { parseKernelSet, useKernelSet } from '../../src/kernels/kernel-set.ts';

if (process.env.KERNEL_SET) useKernelSet(parseKernelSet(process.env.KERNEL_SET, 'KERNEL_SET'));
