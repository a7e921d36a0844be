// node .device/check-adapter.mjs [--allow-software]      (bundled by scripts/device/pack.sh)
// The first step of scripts/device/measure-and-train.sh: open the WebGPU adapter the bench and the trainer
// will get (src/node/webgpu.ts picks the same one in every process), print it and its buffer limits, and
// refuse anything but an NVIDIA GPU, so that a machine whose NVIDIA Vulkan driver was not found fails in
// seconds with one line, instead of timing lavapipe or SwiftShader for ten minutes as if it were the GPU.
// --allow-software (or DCGAN_ALLOW_SOFTWARE=1) accepts any adapter: the dry run on a machine without a GPU.
import { closeDevice, nodeDevice } from '../../src/node/webgpu.ts';

const allowSoftware = process.argv.includes('--allow-software') || process.env.DCGAN_ALLOW_SOFTWARE === '1';

async function main(): Promise<number> {
  const { device, adapter } = await nodeDevice(); // prints "WebGPU adapter: ..."
  const mib = (bytes: number) => `${Math.floor(bytes / 2 ** 20)} MiB`;
  console.log(`limits: maxBufferSize ${mib(device.limits.maxBufferSize)}, maxStorageBufferBindingSize ${mib(device.limits.maxStorageBufferBindingSize)}`);
  const name = [adapter.vendor, adapter.architecture, adapter.description].filter((s) => s).join(' / ') || 'unknown adapter';
  const nvidia = /nvidia/i.test(name);
  if (adapter.software || !nvidia) {
    const what = adapter.software ? 'a software driver' : 'not an NVIDIA GPU';
    if (!allowSoftware) {
      console.error(`FAILED: the WebGPU adapter is ${name}, ${what}: the NVIDIA Vulkan driver was not found (set VK_DRIVER_FILES to its nvidia_icd.json), nothing measured`);
      return 3;
    }
    console.log(`note: adapter ${name} is ${what}; accepted because of --allow-software (a dry run, not a measurement)`);
  }
  return 0;
}

main().then(
  async (code) => {
    await closeDevice();
    process.exit(code);
  },
  async (e: unknown) => {
    console.error(`FAILED: no WebGPU adapter (${e instanceof Error ? e.message : String(e)})`);
    await closeDevice().catch(() => {});
    process.exit(3);
  },
);
