// vitest setup for GPU tests in Node: open the device once per file (printing the adapter), poison outputs,
// close it at the end.
import { afterAll, beforeAll } from 'vitest';
import { closeDevice, nodeDevice } from '../../src/node/webgpu.ts';
import { poisonOutputs } from './check.ts';

export function useGpu(): void {
  beforeAll(async () => {
    await nodeDevice(); // prints the adapter line: every run says what it ran on
    poisonOutputs(true);
  });
  afterAll(closeDevice);
}
