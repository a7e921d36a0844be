// `node --import webgpu-dcgan/register app.ts` (or, here, `--import ./scripts/register.mjs`): what a program
// built on this package needs before it imports it: the package ships TypeScript source with WGSL imported
// as `?raw` text, so Node needs tsx's TypeScript hooks and then the WGSL hook (scripts/wgsl-hooks.mjs).
// The `webgpu-dcgan` command (bin/webgpu-dcgan.mjs) imports this file first too.
await import('tsx'); // the same as `node --import tsx`: registers tsx's hooks for later imports
await import('./register-wgsl.mjs');
