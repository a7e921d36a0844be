// vitest setup for GPU tests in Node: open the device once per file, poison outputs, close it at the end.
import { afterAll, beforeAll } from 'vitest';
import { closeDevice, nodeDevice } from '../../src/node/webgpu.ts';
import { poisonOutputs } from './check.ts';

export function useGpu(): void {
  beforeAll(async () => {
    await nodeDevice({ quiet: true });
    poisonOutputs(true);
  });
  afterAll(closeDevice);
}
