// Bad conv inputs fail at the launcher with one line naming the op and the shapes.
import { describe, expect, it } from 'vitest';
import { useGpu } from './support/node-device.ts';
import { Tensor, tidy } from '../src/gpu/tensor.ts';
import { conv2dBackwardInput, conv2dForward, convTranspose2dForward } from '../src/kernels/conv.ts';
import { conv2d } from '../src/autograd/conv.ts';

useGpu();

const zeros = (shape: number[]) => Tensor.fromArray(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
const s1p0 = { stride: 1, padding: 0 };

describe('conv shape errors', () => {
  it('channel mismatch', () => {
    tidy(() => {
      expect(() => conv2dForward(zeros([2, 3, 5, 5]), zeros([8, 4, 3, 3]), null, { stride: 1, padding: 1 }))
        .toThrow('conv2d: input has 3 channels but weight expects 4 ([2,3,5,5] vs [8,4,3,3])');
      expect(() => conv2d(zeros([2, 3, 5, 5]), zeros([8, 4, 3, 3]), null, s1p0)).toThrow(/^conv2d: input has 3 channels/);
      expect(() => convTranspose2dForward(zeros([1, 2, 4, 4]), zeros([3, 5, 4, 4]), null, s1p0))
        .toThrow('convTranspose2d: input has 2 channels but weight expects 3 ([1,2,4,4] vs [3,5,4,4])');
    });
  });

  it('impossible output size', () => {
    tidy(() => {
      expect(() => conv2dForward(zeros([1, 1, 2, 3]), zeros([1, 1, 4, 4]), null, s1p0))
        .toThrow('conv2d: a 4x4 kernel does not fit a 2x3 input padded by 0 ([1,1,2,3] vs [1,1,4,4])');
      expect(() => convTranspose2dForward(zeros([1, 1, 1, 1]), zeros([1, 1, 1, 1]), null, { stride: 1, padding: 1 }))
        .toThrow('convTranspose2d: output would be -1x-1 ([1,1,1,1] vs [1,1,1,1], stride 1, padding 1)');
    });
  });

  it('wrong rank, bias and gradient shapes, bad options', () => {
    tidy(() => {
      expect(() => conv2dForward(zeros([3, 5, 5]), zeros([1, 3, 3, 3]), null, s1p0)).toThrow('conv2d: input must be [N,C,H,W], got [3,5,5]');
      expect(() => conv2dForward(zeros([1, 3, 5, 5]), zeros([2, 3, 3, 3]), zeros([3]), s1p0)).toThrow('conv2d: bias is [3] but should be [2]');
      expect(() => conv2dBackwardInput(zeros([1, 2, 4, 4]), zeros([2, 3, 3, 3]), [1, 3, 5, 5], s1p0))
        .toThrow('conv2dBackwardInput: dy is [1,2,4,4] but should be [1,2,3,3]');
      expect(() => conv2dForward(zeros([1, 3, 5, 5]), zeros([2, 3, 3, 3]), null, { stride: 0, padding: 0 }))
        .toThrow('conv2d: stride must be a positive integer, got 0');
    });
  });
});
