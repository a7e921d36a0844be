// The safetensors format (what PyTorch, Hugging Face and others read): an 8-byte little-endian header
// length, a JSON header naming each tensor's dtype, shape and byte range, then the raw little-endian
// bytes. Pure TypeScript over bytes, so Node and the browser share it.
//
// Reading converts every float dtype PyTorch saves (F16, BF16, F64) to F32, the one float type of the
// engine, and says which it converted (`from`); writing takes F32, F16 (for smaller exports) and I64.

export type SafeTensor =
  | { dtype: 'F32'; shape: number[]; data: Float32Array; /** the dtype in the file, when it was converted on reading */ from?: ConvertedDtype }
  | { dtype: 'F16'; shape: number[]; /** IEEE half-precision bit patterns */ data: Uint16Array }
  | { dtype: 'I64'; shape: number[]; data: BigInt64Array };

/** Float dtypes read as F32. */
export type ConvertedDtype = 'F16' | 'BF16' | 'F64';

const BYTES_PER_VALUE: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8 };

/** The format's own cap (safetensors refuses larger headers): a larger length means this is no safetensors file. */
const MAX_HEADER_BYTES = 100_000_000;

export interface SafeTensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

export function encodeSafetensors(tensors: Map<string, SafeTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const expected = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== expected) throw new Error(`safetensors: ${name} has ${t.data.length} values for shape [${t.shape}]`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8); // keep the data 8-byte aligned, as the format recommends
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/** What a file that is not safetensors at all starts with, for a message that says what it is. */
function knownOtherFormat(bytes: Uint8Array): string | null {
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) return 'a zip archive: PyTorch\'s torch.save format (.pt/.pth)';
  if (bytes[0] === 0x80 && bytes[1] >= 2 && bytes[1] <= 5) return 'a Python pickle: PyTorch\'s legacy torch.save format';
  return null;
}

export function decodeSafetensors(bytes: Uint8Array, source = 'checkpoint'): SafeTensorsFile {
  const invalid = (why: string): never => {
    throw new Error(`${source} is not a valid safetensors file (${why})`);
  };
  // only a file cut short: an interrupted copy or write
  const truncated = (why: string): never => {
    throw new Error(`${source} is not a valid safetensors file (${why}): was it written completely? Use an earlier checkpoint, or copy it again`);
  };
  const other = knownOtherFormat(bytes);
  if (other) {
    throw new Error(`${source} is ${other}, not safetensors: save the state_dict with safetensors.torch.save_file(model.state_dict(), 'FILE.safetensors')`);
  }
  if (bytes.length < 8) truncated(`${bytes.length} bytes, shorter than its 8-byte header length`);
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES) invalid(`its first 8 bytes give a header of ${headerLength} bytes, more than the format allows`);
  if (8 + headerLength > bytes.length) truncated(`header of ${headerLength} bytes runs past the end of the ${bytes.length}-byte file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    return invalid('header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return invalid('header is not a JSON object');
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, SafeTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0) ||
        !Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0) || offsets[1] < offsets[0]) {
      return invalid(`tensor ${name} has no valid dtype, shape and data_offsets`);
    }
    const [begin, end] = offsets as [number, number];
    const width = BYTES_PER_VALUE[dtype];
    if (width === undefined) invalid(`tensor ${name} has dtype ${dtype}: only float tensors (F32, F16, BF16, F64) and I64 counters can be read`);
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * width) invalid(`tensor ${name} spans ${end - begin} bytes, but ${dtype} of shape [${shape}] needs ${count * width}`);
    if (dataStart + end > bytes.length) truncated(`tensor ${name} runs past the end of the ${bytes.length}-byte file`);
    // a copy (aligned, independent of `bytes`); not bytes.slice(), which in Node's Buffer is a view
    const raw = new Uint8Array(bytes.subarray(dataStart + begin, dataStart + end)).buffer;
    tensors.set(name, decodeTensor(dtype, shape as number[], raw));
  }
  return { tensors, metadata };
}

function decodeTensor(dtype: string, shape: number[], raw: ArrayBuffer): SafeTensor {
  switch (dtype) {
    case 'I64':
      return { dtype, shape, data: new BigInt64Array(raw) };
    case 'F32':
      return { dtype, shape, data: new Float32Array(raw) };
    case 'F64':
      return { dtype: 'F32', shape, data: Float32Array.from(new Float64Array(raw)), from: dtype }; // rounds to nearest, as torch's .float()
    case 'F16':
      return { dtype: 'F32', shape, data: Float32Array.from(new Uint16Array(raw), float16ToFloat32), from: dtype };
    default: {
      // BF16 is the upper half of an F32's bits: exact
      const bits = new Uint16Array(raw);
      const wide = new Uint32Array(bits.length);
      for (let i = 0; i < bits.length; i++) wide[i] = bits[i] << 16;
      return { dtype: 'F32', shape, data: new Float32Array(wide.buffer), from: 'BF16' };
    }
  }
}

/** An IEEE half (1 sign, 5 exponent, 10 mantissa bits) as a number: exact. */
export function float16ToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);

/** The nearest IEEE half to a float32, ties to even (as torch's .half()); beyond 65504 it is ±Infinity. */
export function float32ToFloat16(value: number): number {
  f32[0] = value;
  const x = f32Bits[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // Infinity, NaN
  const e = exponent - 127 + 15; // the half's biased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  // a normal half keeps the top 10 of the 23 mantissa bits (shift 13); a subnormal one (e ≤ 0) counts in
  // units of 2^−24, so its mantissa is (2^23 + m) · 2^(e−15−23) / 2^−24 = (2^23 + m) / 2^(14−e): shift 14 − e
  const shift = e > 0 ? 13 : 14 - e;
  if (shift > 24) return sign; // under half the smallest subnormal: ±0
  const significand = e > 0 ? mantissa : mantissa | 0x800000;
  let half = (e > 0 ? e << 10 : 0) | (significand >>> shift);
  const rest = significand & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++; // a carry into the exponent is right, up to Infinity
  return sign | half;
}
