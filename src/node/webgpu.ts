// Node path to a GPUDevice: Dawn from the npm `webgpu` package over Vulkan.
// A real GPU always wins; only when Vulkan finds no adapter do we point the Vulkan loader at a CPU driver:
// Mesa's lavapipe first (about 5x faster here), then the SwiftShader that Debian's chromium ships.
import { existsSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { adapterLine, describeAdapter, requestDeviceFrom, type AdapterDescription } from '../gpu/device.ts';
import { useDevice } from '../gpu/context.ts';

const SOFTWARE_DRIVERS = [
  '/usr/share/vulkan/icd.d/lvp_icd.json',
  '/usr/lib/chromium/vk_swiftshader_icd.json',
];

Object.assign(globalThis, globals); // GPUBufferUsage, GPUMapMode, ... as in a browser

// Dawn's instance must outlive every device made from it: if the GPU object is garbage-collected the
// process crashes or hangs at random later, so we hold on to it here.
let instance: GPU | null = null;

async function firstAdapter(): Promise<GPUAdapter | null> {
  instance = create([]);
  return instance.requestAdapter({ powerPreference: 'high-performance' });
}

/** The first adapter Vulkan offers, else one on a software driver (`fallback`: its ICD file). */
async function findAdapter(): Promise<{ adapter: GPUAdapter; fallback: string | null } | null> {
  const adapter = await firstAdapter();
  if (adapter) return { adapter, fallback: null };
  for (const icd of SOFTWARE_DRIVERS.filter((p) => existsSync(p))) {
    process.env.VK_ICD_FILENAMES = icd;
    const software = await firstAdapter();
    if (software) return { adapter: software, fallback: icd };
  }
  return null;
}

const NO_ADAPTER =
  'No WebGPU adapter: install a GPU driver with Vulkan, or a software one ' +
  '(Debian: apt-get install libvulkan1 and mesa-vulkan-drivers from bookworm-backports, or chromium for SwiftShader)';

/** The limits of the adapter this machine would train on, without opening a device (train:chrome checks shapes with it). */
export async function adapterLimits(): Promise<GPUSupportedLimits> {
  const before = process.env.VK_ICD_FILENAMES;
  try {
    const found = await findAdapter();
    if (!found) throw new Error(NO_ADAPTER);
    return found.adapter.limits;
  } finally {
    // the driver choice was for this probe: Chromium, started later with our environment, makes its own
    if (before === undefined) delete process.env.VK_ICD_FILENAMES;
    else process.env.VK_ICD_FILENAMES = before;
  }
}

let opened: Promise<{ device: GPUDevice; adapter: AdapterDescription }> | null = null;

/**
 * Open the device once per process, make it the engine's device and print the adapter.
 * `quiet` suppresses the adapter line (tests print it once themselves).
 */
export function nodeDevice(options: { quiet?: boolean } = {}): Promise<{ device: GPUDevice; adapter: AdapterDescription }> {
  opened ??= (async () => {
    const found = await findAdapter();
    if (!found) throw new Error(NO_ADAPTER);
    if (found.fallback) console.warn(`No GPU adapter found; falling back to the software Vulkan driver ${found.fallback}`);
    const description = describeAdapter(found.adapter);
    if (!options.quiet) console.log(adapterLine(description));
    const device = await requestDeviceFrom(found.adapter);
    useDevice(device);
    return { device, adapter: description };
  })();
  return opened;
}

/**
 * Destroy the device before the process exits: Dawn's Vulkan threads crash (abort or segfault)
 * when process.exit() tears the process down under a live device.
 */
export async function closeDevice(): Promise<void> {
  if (!opened) return;
  const { device } = await opened;
  opened = null;
  device.destroy();
  await new Promise((resolve) => setTimeout(resolve, 50));
  instance = null;
}
