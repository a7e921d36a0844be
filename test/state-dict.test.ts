// Weights files without PyTorch (test/pytorch-interop.test.ts has it): safetensors dtypes and the errors
// of a damaged or foreign file, the DCGAN layout a state_dict is checked against (and that it is the
// built model's), sizes inferred from shapes, errors that name the key, and checkpoint metadata errors
// that name the field.
import { describe, expect, it } from 'vitest';
import { useGpu } from './support/node-device.ts';
import { decodeSafetensors, encodeSafetensors, float16ToFloat32, float32ToFloat16, type SafeTensor } from '../src/train/safetensors.ts';
import { createDcgan, discriminatorStateShapes, generatorStateShapes, type DcganConfig } from '../src/model/dcgan.ts';
import { BatchNorm2d, type Sequential } from '../src/model/layers.ts';
import { loadModelState, withFloatDtype } from '../src/train/state-dict.ts';
import { readWeightsFile } from '../src/train/weights-file.ts';
import { CHECKPOINT_FORMAT, decodeCheckpoint, resumeProblem } from '../src/train/checkpoint.ts';

useGpu();

const SIZES: DcganConfig = { imageSize: 32, nz: 16, ngf: 8, ndf: 4, nc: 3 };

/** A state_dict of the layout with made-up values (value i of tensor k: a small distinct number). */
function stateDict(shapes: Map<string, number[]>, prefix = ''): Map<string, SafeTensor> {
  let k = 0;
  return new Map([...shapes].map(([key, shape]): [string, SafeTensor] => {
    k++;
    if (key.endsWith('num_batches_tracked')) return [prefix + key, { dtype: 'I64', shape, data: BigInt64Array.of(BigInt(k)) }];
    const count = shape.reduce((a, b) => a * b, 1);
    return [prefix + key, { dtype: 'F32', shape, data: Float32Array.from({ length: count }, (_, i) => Math.sin(k * 7.1 + i) * 0.05) }];
  }));
}

/** A safetensors file of these tensors, written by hand in one dtype (F64, BF16, F16 or F32) as PyTorch would. */
function fileInDtype(tensors: Map<string, SafeTensor>, dtype: 'F32' | 'F64' | 'BF16' | 'F16', metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [key, t] of tensors) {
    let bytes: Uint8Array;
    let type: string = t.dtype;
    if (t.dtype === 'F32') {
      type = dtype;
      const values = [...t.data];
      bytes = dtype === 'F64' ? new Uint8Array(Float64Array.from(values).buffer)
        : dtype === 'F16' ? new Uint8Array(Uint16Array.from(values, float32ToFloat16).buffer)
        : dtype === 'BF16' ? new Uint8Array(Uint16Array.from(new Uint32Array(Float32Array.from(values).buffer), (b) => b >>> 16).buffer)
        : new Uint8Array(t.data.buffer.slice(0));
    } else bytes = new Uint8Array(t.data.buffer.slice(0));
    header[key] = { dtype: type, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

const encode = (tensors: Map<string, SafeTensor>, metadata?: Record<string, string>) => encodeSafetensors(tensors, metadata);

describe('safetensors dtypes', () => {
  it('F16 ↔ F32: every half survives the round trip, and rounding is to nearest, ties to even', () => {
    let bad = 0;
    for (let h = 0; h < 0x10000; h++) {
      const exponent = (h >> 10) & 0x1f;
      if (exponent === 0x1f && (h & 0x3ff) !== 0) continue; // NaN payloads
      if (float32ToFloat16(float16ToFloat32(h)) !== h) bad++;
    }
    expect(bad).toBe(0);
    expect(float32ToFloat16(1 + 2 ** -11)).toBe(0x3c00); // halfway between 1 and the next half: to the even one, 1
    expect(float32ToFloat16(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway, odd below: up
    expect(float32ToFloat16(65520)).toBe(0x7c00); // past the largest half: Infinity
    expect(float32ToFloat16(2 ** -25)).toBe(0); // half the smallest subnormal: ties to even, 0
    expect(float32ToFloat16(1.5 * 2 ** -25)).toBe(1); // above it: the smallest subnormal
  });

  it('reads F64, BF16 and F16 as F32, saying which it converted; refuses other dtypes naming them, not as truncation', () => {
    const tensors = stateDict(generatorStateShapes(SIZES));
    for (const dtype of ['F64', 'BF16', 'F16'] as const) {
      const { tensors: read } = decodeSafetensors(fileInDtype(tensors, dtype), dtype);
      const w = read.get('main.0.weight')!;
      expect([w.dtype, w.dtype === 'F32' && w.from]).toEqual(['F32', dtype]);
      const original = (tensors.get('main.0.weight') as { data: Float32Array }).data;
      const tolerance = { F64: 0, BF16: 2 ** -7, F16: 2 ** -11 }[dtype]; // BF16 here is truncated, F16 rounded
      const worst = Math.max(...[...original].map((v, i) => Math.abs((w.data as Float32Array)[i] - v) / Math.abs(v)));
      expect(worst).toBeLessThanOrEqual(tolerance);
      expect(read.get('main.1.num_batches_tracked')!.dtype).toBe('I64');
    }
    const u8 = fileInDtype(new Map([['x', { dtype: 'I64', shape: [1], data: BigInt64Array.of(1n) }]]), 'F32');
    const header = new TextDecoder().decode(u8.subarray(8, 8 + Number(new DataView(u8.buffer).getBigUint64(0, true)))).replace('"I64","shape":[1]', '"U8","shape":[8]');
    const relabelled = new Uint8Array([...new Uint8Array(new BigUint64Array([BigInt(header.length)]).buffer), ...new TextEncoder().encode(header), ...u8.subarray(u8.length - 8)]);
    expect(() => decodeSafetensors(relabelled, 'u8.safetensors')).toThrow(/^u8.safetensors is not a valid safetensors file \(tensor x has dtype U8: only float tensors \(F32, F16, BF16, F64\) and I64 counters can be read\)$/);
  });

  it('says "written completely?" for a file cut short, and only then; names a PyTorch pickle as such', () => {
    const whole = encode(stateDict(generatorStateShapes(SIZES)));
    expect(() => decodeSafetensors(whole.subarray(0, whole.length - 100), 'cut')).toThrow(/^cut is not a valid safetensors file \(tensor main\.\d+\.weight runs past the end of the \d+-byte file\): was it written completely\?/);
    expect(() => decodeSafetensors(whole.subarray(0, 5), 'tiny')).toThrow(/written completely/);
    const notJson = new Uint8Array([4, 0, 0, 0, 0, 0, 0, 0, 120, 121, 122, 123]);
    expect(() => decodeSafetensors(notJson, 'text')).toThrow(/^text is not a valid safetensors file \(header is not JSON\)$/);
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70, 0, 1]);
    expect(() => decodeSafetensors(jpeg, 'photo')).toThrow(/^photo is not a valid safetensors file \(its first 8 bytes give a header of \d+ bytes, more than the format allows\)$/);
    const zip = new Uint8Array([0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0, 0]);
    expect(() => decodeSafetensors(zip, 'netG.pth')).toThrow(/^netG.pth is a zip archive: PyTorch's torch.save format .*safetensors.torch.save_file/);
  });
});

describe('state_dict layout', () => {
  const namedShapes = (model: Sequential) => {
    const shapes = new Map([...model.namedParameters(), ...model.namedBuffers()].map(([k, t]) => [k, [...t.shape]]));
    model.layers.forEach((l, i) => { if (l instanceof BatchNorm2d) shapes.set(`main.${i}.num_batches_tracked`, []); });
    return shapes;
  };
  const sorted = (m: Map<string, number[]>) => [...m].sort(([a], [b]) => a.localeCompare(b));

  it("generatorStateShapes / discriminatorStateShapes are the built models' tensors, at 8, 32 and 64 px", () => {
    for (const imageSize of [8, 32, 64]) {
      const config = { ...SIZES, imageSize };
      const { generator, discriminator } = createDcgan(config, 1);
      expect(sorted(generatorStateShapes(config))).toEqual(sorted(namedShapes(generator)));
      expect(sorted(discriminatorStateShapes(config))).toEqual(sorted(namedShapes(discriminator)));
      generator.dispose();
      discriminator.dispose();
    }
  });

  it('infers G and D with their sizes from the shapes, with or without netG./netD. or module., in each dtype', () => {
    const G = stateDict(generatorStateShapes(SIZES));
    const D = stateDict(discriminatorStateShapes(SIZES));
    const gSizes = { imageSize: 32, nz: 16, ngf: 8, nc: 3 };
    const dSizes = { imageSize: 32, ndf: 4, nc: 3 };
    const cases: [string, Uint8Array, { G?: object; D?: object }, string][] = [
      ['G bare', encode(G), { G: gSizes }, ''],
      ['D bare', encode(D), { D: dSizes }, ''],
      ['G and D prefixed', encode(new Map([...stateDict(generatorStateShapes(SIZES), 'netG.'), ...stateDict(discriminatorStateShapes(SIZES), 'netD.')])), { G: gSizes, D: dSizes }, 'netG.'],
      ['DDP module.', encode(stateDict(generatorStateShapes(SIZES), 'netG.module.')), { G: gSizes }, 'netG.module.'],
      ['F64', fileInDtype(G, 'F64'), { G: gSizes }, ''],
      ['Hugging Face format tag', encode(G, { format: 'pt' }), { G: gSizes }, ''],
    ];
    for (const [name, bytes, sizes, prefixOfG] of cases) {
      const w = readWeightsFile(bytes, name);
      expect(w.checkpoint, name).toBeNull();
      expect({ G: w.models.G?.sizes, D: w.models.D?.sizes }, name).toEqual({ G: undefined, D: undefined, ...sizes });
      if (w.models.G) expect(w.models.G.prefix, name).toBe(prefixOfG);
    }
    expect(readWeightsFile(fileInDtype(G, 'F64'), 'f64').converted).toEqual(['F64']);
    const at128 = readWeightsFile(encode(stateDict(generatorStateShapes({ ...SIZES, imageSize: 128, ngf: 2 }))), '128');
    expect(at128.models.G!.sizes).toEqual({ imageSize: 128, nz: 16, ngf: 2, nc: 3 });
  });

  it('names the key that cannot belong to a DCGAN', () => {
    const G = () => stateDict(generatorStateShapes(SIZES));
    const changed = (edit: (m: Map<string, SafeTensor>) => void, start = G()) => { edit(start); return encode(start); };
    const cases: [Uint8Array, RegExp][] = [
      [changed((m) => m.set('main.3.weight', { dtype: 'F32', shape: [32, 20, 4, 4], data: new Float32Array(32 * 20 * 16) })),
        /^bad: main\.3\.weight is \[32, 20, 4, 4\], where a DCGAN Generator with nz 16, ngf 8, 3 channels at 32x32 has \[32, 16, 4, 4\]$/],
      [changed((m) => m.set('main.0.bias', { dtype: 'F32', shape: [32], data: new Float32Array(32) })), /^bad: main\.0\.bias is not a tensor of a DCGAN Generator .* \(its convs have no bias\)$/],
      [changed((m) => m.delete('main.4.running_var')), /^bad: main\.4\.running_var is missing: a DCGAN Generator with .* has it, \[16\]$/],
      [changed((m) => m.set('main.10.weight', { dtype: 'F32', shape: [3, 3, 4, 4], data: new Float32Array(144) })), /^bad: main\.10\.weight is the last conv weight, but a DCGAN Generator has its convs at main\.0, main\.3, main\.6/],
      [changed((m) => m.set('netG.main.0.weight', m.get('main.0.weight')!)), /^bad mixes keys without a prefix/],
      [changed((m) => m.set('fc.weight', m.get('main.0.weight')!)), /^bad: 'fc\.weight' is not a key of PyTorch's DCGAN/],
      [changed((m) => m.set('main.1.num_batches_tracked', { dtype: 'F32', shape: [], data: new Float32Array(1) })), /^bad: main\.1\.num_batches_tracked is F32: expected I64, a counter$/],
      [changed((m) => m.set('main.0.weight', { dtype: 'F32', shape: [16, 32, 3, 3], data: new Float32Array(16 * 32 * 9) })), /^bad: main\.0\.weight is \[16, 32, 3, 3\]: a DCGAN Generator's first conv has a 4x4 kernel/],
      [encode(new Map([...stateDict(generatorStateShapes(SIZES), 'netG.'), ...stateDict(discriminatorStateShapes({ ...SIZES, imageSize: 64 }), 'netD.')])), /^bad: its Generator draws 32x32 with 3 channels but its Discriminator takes 64x64 with 3: not one DCGAN$/],
    ];
    for (const [bytes, message] of cases) expect(() => readWeightsFile(bytes, 'bad')).toThrow(message);
    // a missing counter (files of PyTorch before 0.4.1) is 0
    const old = readWeightsFile(changed((m) => m.delete('main.1.num_batches_tracked')), 'old');
    expect(old.models.G!.tensors.get('main.1.num_batches_tracked')!.data).toEqual(BigInt64Array.of(0n));
  });

  it('loads a state into a model (weights, running statistics, counters), and F16 export rounds as written', async () => {
    const G = stateDict(generatorStateShapes(SIZES));
    const state = readWeightsFile(encode(G), 'g').models.G!;
    const { generator } = createDcgan(SIZES, 5);
    loadModelState(generator, state);
    for (const [key, t] of [...generator.namedParameters(), ...generator.namedBuffers()]) {
      expect(await t.read(), key).toEqual((G.get(key) as { data: Float32Array }).data);
    }
    expect((generator.layers[4] as BatchNorm2d).numBatchesTracked).toBe(Number(G.get('main.4.num_batches_tracked')!.data[0]));
    generator.dispose();
    const half = withFloatDtype(state.tensors, 'F16').get('main.0.weight')!;
    expect(half.dtype).toBe('F16');
    expect([...(half.data as Uint16Array)].map(float16ToFloat32)).toEqual([...(G.get('main.0.weight')!.data as Float32Array)].map((v) => float16ToFloat32(float32ToFloat16(v))));
  });
});

describe('checkpoint metadata', () => {
  const G = stateDict(generatorStateShapes(SIZES), 'netG.');
  const config = JSON.stringify({ model: SIZES, batchSize: 4, lr: 2e-4, beta1: 0.5, seed: 1 });
  const full = { format: CHECKPOINT_FORMAT, config, iteration: '3', epoch: '0', batch_in_epoch: '3' };

  it('names the missing or malformed field', () => {
    const without = (field: string) => Object.fromEntries(Object.entries(full).filter(([k]) => k !== field));
    expect(() => readWeightsFile(encode(G, without('config')), 'f')).toThrow(/^f: metadata field 'config' is missing$/);
    expect(() => readWeightsFile(encode(G, without('batch_in_epoch')), 'f')).toThrow(/^f: metadata field 'batch_in_epoch' is missing$/);
    expect(() => readWeightsFile(encode(G, { ...full, iteration: 'x' }), 'f')).toThrow(/^f: metadata field 'iteration' is 'x', not a count$/);
    expect(() => readWeightsFile(encode(G, { ...full, config: '{' }), 'f')).toThrow(/^f: metadata field 'config' is not JSON/);
    expect(() => decodeCheckpoint(encode(G), 'f')).toThrow(/^f is not a checkpoint of this trainer \(metadata field 'format' is missing, expected webgpu-dcgan\/1\): weights alone .* train --init-from$/);
  });

  it("reads a checkpoint's G against its config, and a checkpoint of another version by its format", () => {
    const w = readWeightsFile(encode(G, full), 'ckpt');
    expect([w.checkpoint?.iteration, w.models.G?.sizes.ngf, w.models.D]).toEqual([3, 8, undefined]);
    const wrongConfig = JSON.stringify({ model: { ...SIZES, ngf: 16 }, batchSize: 4, lr: 2e-4, beta1: 0.5, seed: 1 });
    expect(() => readWeightsFile(encode(G, { ...full, config: wrongConfig }), 'ckpt')).toThrow(/^ckpt: netG\.main\.0\.weight is \[16, 32, 4, 4\], where a DCGAN Generator with nz 16, ngf 16/);
    // G alone with the whole metadata (scripts/device/device.py generator) draws, but cannot resume
    expect(resumeProblem(decodeCheckpoint(encode(G, { ...full, optG_steps: '[]', optD_steps: '[]' }), 'g-only'))).toBe(
      'g-only cannot resume a run: it has no netD.* tensors (weights only?); start a new run from its weights with --init-from g-only');
    expect(resumeProblem(decodeCheckpoint(encode(G, full), 'f'))).toMatch(/^f cannot resume a run: metadata field 'optG_steps' is missing/);
    expect(() => readWeightsFile(encode(G, { ...full, format: 'webgpu-dcgan/2' }), 'new')).toThrow(/^new is not a checkpoint of this trainer \(format 'webgpu-dcgan\/2', expected webgpu-dcgan\/1\)/);
  });
});
