/// <reference types="@webgpu/types" />
// The package's Node entry (`import { nodeDevice } from 'webgpu-dcgan/node'`): a device from Dawn (npm
// `webgpu`) with the software fallback of ./webgpu.ts, and PNG files. Run with
// `node --import webgpu-dcgan/register app.ts` (TypeScript and WGSL hooks; scripts/register.mjs).
// The engine itself is the platform-neutral entry, src/index.ts.
export { nodeDevice, closeDevice } from './webgpu.ts';
export { writePng } from './files.ts';
