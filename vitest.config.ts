import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/kernel-set.ts'], // KERNEL_SET=simple|fast
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // GPU work on a software adapter uses every core: one test file at a time
    fileParallelism: false,
  },
});
