// Bad input gets a clear one-line error that names the kernel or op and the shapes.
import { describe, expect, it } from 'vitest';
import { useGpu } from './support/node-device.ts';
import { Tensor } from '../src/gpu/tensor.ts';
import { Kernel } from '../src/gpu/kernel.ts';
import { gpu, sync } from '../src/gpu/context.ts';
import { add } from '../src/autograd/ops.ts';
import { fill } from '../src/kernels/elementwise.ts';
import { nodeDevice } from '../src/node/webgpu.ts';

useGpu();

describe('clear errors', () => {
  it('shape mismatch names the op and both shapes', () => {
    expect(() => add(fill([2, 3], 1), fill([3, 2], 1))).toThrow('add: shapes [2,3] and [3,2] differ');
  });

  it('impossible shapes are refused', () => {
    expect(() => Tensor.empty([2, 0, 3])).toThrow(/impossible shape \[2,0,3\]/);
    expect(() => Tensor.fromArray([1, 2, 3], [2, 2])).toThrow('3 values cannot fill a tensor of shape [2,2]');
  });

  it('a tensor larger than the device allows says which limit and what to do', () => {
    const limit = Math.min(gpu().device.limits.maxStorageBufferBindingSize, gpu().device.limits.maxBufferSize);
    expect(() => Tensor.empty([Math.ceil(limit / 4) + 1024], 'activations')).toThrow(/more than this device's limit .* use a smaller batch size/);
  });

  it('WGSL that does not parse names the file', () => {
    expect(() => new Kernel('shaders/broken.wgsl', 'fn broken( {', 'main')).toThrow(/^WGSL error in shaders\/broken.wgsl/);
    expect(() => new Kernel('shaders/elementwise.wgsl', '@compute @workgroup_size(1) fn main() {}', 'missing')).toThrow(
      "no @compute entry point named 'missing'",
    );
  });

  it('WGSL that parses but does not type-check fails at the next sync, naming the kernel', async () => {
    const code = `
      @group(0) @binding(0) var<storage, read_write> out: array<f32>;
      @compute @workgroup_size(1) fn main() { let wrong: f32 = 1u; out[0] = wrong; }`;
    const kernel = new Kernel('shaders/typo.wgsl', code, 'main');
    kernel.dispatch({ out: fill([1], 0) }, {}, [1], ' out [1]');
    await expect(sync()).rejects.toThrow(/GPU validation error in compiling shaders\/typo.wgsl:main/);
  });

  it('a lost device is reported, not silently ignored', async () => {
    const { device } = await nodeDevice();
    device.destroy();
    await device.lost;
    expect(() => fill([1], 0)).toThrow(/GPU device lost.*resume from the last checkpoint/);
  });
});
