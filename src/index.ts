/// <reference types="@webgpu/types" />
/// <reference path="./gpu/wgsl-raw.d.ts" />
/// <reference path="./gpu/wgsl_reflect.d.ts" />
// The package's public entry (`import { ... } from 'webgpu-dcgan'`): the engine, the layers, Adam, the
// DCGAN and the pieces of its training that Node and the page share. It imports nothing of Node, so a
// bundled page can use all of it (Vite: the WGSL files are imported as `?raw` text, which Vite reads
// natively; Node needs `--import webgpu-dcgan/register`). A device comes from `browserDevice()` +
// `useDevice()` in a page, or from `nodeDevice()` of `webgpu-dcgan/node` (src/node/index.ts).
// Names are listed one by one, never `export *`: each is a choice to make public (test/exports.test.ts).
// Typed: the exports are this TypeScript source; the references above bring the WebGPU types and the
// declarations of the shader and wgsl_reflect imports along, for a project that type-checks it
// (moduleResolution "bundler" and allowImportingTsExtensions; test/package.test.ts runs such a check).
// A model of one's own on this engine, file by file: docs/own-model.md.

// ---- the device and tensors
export { browserDevice, describeAdapter, adapterLine, requestDeviceFrom, type AdapterDescription } from './gpu/device.ts';
export { useDevice, sync } from './gpu/context.ts';
export { Tensor, tidy, keep, sizeOf, shapeText, type Shape } from './gpu/tensor.ts';
export { useKernelSet, kernelSet, parseKernelSet, type KernelSet } from './kernels/kernel-set.ts';
export { randomNormal } from './kernels/random.ts';
export { fill } from './kernels/elementwise.ts';
export type { ConvOptions } from './kernels/conv-shapes.ts';
export { startTrace, stopTrace, formatTrace, traced, type TraceEntry } from './gpu/trace.ts';

// ---- differentiable ops and the tape
export { backward, noGrad, record } from './autograd/tape.ts';
export { add, relu, leakyRelu, tanh, sigmoid, upsample2x } from './autograd/ops.ts';
export { conv2d, convTranspose2d } from './autograd/conv.ts';
export { batchNorm2d } from './autograd/batchnorm.ts';
export { bceWithLogits, bce } from './autograd/loss.ts';
export { sum, mean } from './autograd/reduce.ts';

// ---- layers, the DCGAN, Adam
export {
  Conv2d, ConvTranspose2d, BatchNorm2d, ReLU, LeakyReLU, Tanh, Sigmoid, Upsample, Sequential, Stateless,
  type Layer, type InitSeed,
} from './model/layers.ts';
export { Generator, Discriminator, createDcgan, seedStream, DEFAULT_CONFIG, type DcganConfig, type GeneratorUpsample } from './model/dcgan.ts';
export { Adam, adamDefaults, type AdamOptions } from './optim/adam.ts';

// ---- training the DCGAN, checkpoints, pictures (platform-neutral: bytes and pixels, no files)
export { GanTraining, sampleImages, type TrainingConfig, type StepStats, type SamplingOptions, type SampleWeights, type BatchNormMode } from './train/gan.ts';
export { runTraining, type TrainingHost, type LoopOutcome, type IterationReport } from './train/loop.ts';
export { encodeCheckpoint, decodeCheckpoint, loadModel, restoreTraining, type Checkpoint, type TrainingPosition } from './train/checkpoint.ts';
export { encodeSafetensors, decodeSafetensors, type SafeTensor } from './train/safetensors.ts';
export { imageAt, imageGrid, type RgbaImage } from './train/images.ts';
