// Getting a GPUDevice from any WebGPU implementation: navigator.gpu in a browser, Dawn's `gpu` object in Node.
// This file imports nothing from Node, so the engine runs unchanged in Chrome.

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  /** the vendor's device name or id (adapter.info.device), '' where the implementation gives none */
  device: string;
  description: string;
  /** true for CPU implementations (lavapipe, SwiftShader): correct, but slow */
  software: boolean;
}

export function describeAdapter(adapter: GPUAdapter): AdapterDescription {
  const info = adapter.info;
  const text = `${info.vendor} ${info.architecture} ${info.description}`.toLowerCase();
  const software =
    (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
    /llvmpipe|lavapipe|swiftshader|software/.test(text);
  return { vendor: info.vendor, architecture: info.architecture, device: info.device ?? '', description: info.description, software };
}

export function adapterLine(d: AdapterDescription): string {
  const name = [d.vendor, d.architecture, d.description].filter((s) => s).join(' / ') || 'unknown adapter';
  return `WebGPU adapter: ${name}${d.software ? ' (software: correct but slow)' : ''}`;
}

/** The limits a DCGAN needs; we ask for the adapter's best so 128x128 batches fit. */
const LIMITS_WANTED: (keyof GPUSupportedLimits)[] = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
];

const OPTIONAL_FEATURES: GPUFeatureName[] = ['timestamp-query'];

export async function requestDeviceFrom(adapter: GPUAdapter): Promise<GPUDevice> {
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMITS_WANTED) requiredLimits[name] = adapter.limits[name] as number;
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  return device;
}

/** Browser path: navigator.gpu. Throws a one-line error that says what to do when WebGPU is missing. */
export async function browserDevice(): Promise<{ device: GPUDevice; adapter: AdapterDescription }> {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) {
    throw new Error(
      'This browser has no WebGPU (navigator.gpu is missing): use Chrome 113+ over https or http://127.0.0.1, ' +
        'or start Chromium with --enable-unsafe-webgpu',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('WebGPU is present but no adapter was found: enable hardware acceleration or a software adapter');
  const description = describeAdapter(adapter);
  return { device: await requestDeviceFrom(adapter), adapter: description };
}
