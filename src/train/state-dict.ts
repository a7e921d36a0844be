// Weights alone, as PyTorch's `model.state_dict()` holds them: `main.0.weight`, `main.1.running_mean`,
// `main.1.num_batches_tracked`, ... (the layer indices of the DCGAN example's nn.Sequential), saved as
// safetensors with or without `netG.` / `netD.` in front (and DistributedDataParallel's `module.` or
// torch.compile's `_orig_mod.` after that). From the shapes alone this file tells G from D, finds nz, ngf,
// ndf, the image size and the channels, and checks every key against the layout those sizes give
// (src/model/dcgan.ts generatorStateShapes), naming the first key that does not fit. Pure: Node and the
// page share it.
import type { Shape } from '../gpu/tensor.ts';
import type { Sequential } from '../model/layers.ts';
import { isConv } from '../model/architecture.ts';
import { discriminatorSpec, discriminatorStateShapes, generatorSpec, generatorStateShapes, type DcganConfig, type GeneratorUpsample } from '../model/dcgan.ts';
import { float32ToFloat16, type SafeTensor } from './safetensors.ts';

export type ModelRole = 'G' | 'D';

export const ROLE_NAMES: Record<ModelRole, string> = { G: 'Generator', D: 'Discriminator' };

/** The sizes one model's shapes give: G knows nothing of ndf, D nothing of nz and ngf. */
type ModelSizes = Pick<DcganConfig, 'imageSize' | 'nc'> & Partial<Pick<DcganConfig, 'nz' | 'ngf' | 'ndf' | 'gUpsample'>>;

/** One model's tensors under the keys of its own state_dict(), in the layout's order, checked against it. */
export interface ModelState {
  role: ModelRole;
  sizes: ModelSizes;
  tensors: Map<string, SafeTensor>;
  /** what the keys had in front in the file: '', 'netG.', 'netG.module.' ... */
  prefix: string;
}

const KEY = /^(?:(netG|netD)\.)?((?:module\.|_orig_mod\.)*)(main\.\d+\.\w+)$/;

/** The keys of a file grouped by model: netG./netD. say which; unprefixed keys are one model, G or D by its layout. */
export function splitStateDicts(tensors: Map<string, SafeTensor>, source: string): Partial<Record<ModelRole, { prefix: string; tensors: Map<string, SafeTensor> }>> {
  const groups: Partial<Record<ModelRole | 'bare', { prefix: string; tensors: Map<string, SafeTensor> }>> = {};
  for (const [key, t] of tensors) {
    const m = KEY.exec(key);
    if (!m) {
      throw new Error(`${source}: '${key}' is not a key of PyTorch's DCGAN (main.N.weight, main.N.running_mean, ..., with or without netG./netD. in front)`);
    }
    const group = m[1] === 'netG' ? 'G' : m[1] === 'netD' ? 'D' : 'bare';
    const prefix = `${m[1] ? `${m[1]}.` : ''}${m[2]}`;
    const entry = (groups[group] ??= { prefix, tensors: new Map() });
    if (entry.prefix !== prefix) throw new Error(`${source}: '${key}' and '${entry.prefix}${[...entry.tensors.keys()][0]}' have different prefixes: save one model's keys one way`);
    entry.tensors.set(m[3], t);
  }
  const { bare, ...named } = groups;
  if (bare) {
    if (named.G || named.D) throw new Error(`${source} mixes keys without a prefix ('${[...bare.tensors.keys()][0]}') and with netG./netD.: put both models under their prefix`);
    // G has a batchnorm right after its first conv; D a LeakyReLU, which has no tensors
    return [...bare.tensors.keys()].some((k) => k.startsWith('main.1.')) ? { G: bare } : { D: bare };
  }
  return named;
}

const describeSizes = (role: ModelRole, s: ModelSizes) =>
  `a DCGAN ${ROLE_NAMES[role]} with ${role === 'G' ? `nz ${s.nz}, ngf ${s.ngf}` : `ndf ${s.ndf}`}, ${s.nc} channel${s.nc === 1 ? '' : 's'} at ${s.imageSize}x${s.imageSize}`;

const dims = (shape: number[]) => `[${shape.join(', ')}]`;

/** The image size (8 to 16384 px) at which the layer list of `role` has its last conv at main.<last>, or null. */
function imageSizeWithLastConv(role: ModelRole, last: number, gUpsample: GeneratorUpsample): number | null {
  for (let n = 1; n <= 12; n++) {
    const config = { imageSize: 4 * 2 ** n, nz: 1, ngf: 1, ndf: 1, nc: 1, gUpsample };
    const layers = role === 'G' ? generatorSpec(config) : discriminatorSpec(config);
    if (Math.max(...layers.flatMap((l, i) => (isConv(l) ? [i] : []))) === last) return config.imageSize;
  }
  return null;
}

/** The sizes a model's shapes give (the first conv's weight, the last's, and where the last one is). */
function inferSizes(role: ModelRole, tensors: Map<string, SafeTensor>, where: (key: string) => string): ModelSizes {
  const first = tensors.get('main.0.weight');
  if (!first) throw new Error(`${where('main.0.weight')} is missing: every DCGAN ${ROLE_NAMES[role]} starts with a conv there`);
  const convs = [...tensors].filter(([k, t]) => /^main\.\d+\.weight$/.test(k) && t.shape.length === 4).map(([k]) => Number(k.split('.')[1]));
  const last = Math.max(...convs);
  const lastKey = `main.${last}.weight`;
  // a 3x3 last conv is --g-upsample nearest's (after an Upsample); the example's G and D end in a 4x4 one
  const nearest = role === 'G' && tensors.get(lastKey)!.shape[2] === 3;
  if (first.shape.length !== 4 || first.shape[2] !== 4 || first.shape[3] !== 4) {
    throw new Error(`${where('main.0.weight')} is ${dims(first.shape)}: a DCGAN ${ROLE_NAMES[role]}'s first conv has a 4x4 kernel ([${role === 'G' ? 'nz, channels' : 'ndf, nc'}, 4, 4])`);
  }
  const imageSize = imageSizeWithLastConv(role, last, nearest ? 'nearest' : 'transposed');
  if (imageSize === null) {
    const places = role === 'G' ? 'main.0, main.3, main.6, ...' : 'main.0, main.2, main.5, ...';
    throw new Error(`${where(lastKey)} is the last conv weight, but a DCGAN ${ROLE_NAMES[role]} has its convs at ${places} (at least two): not this layout`);
  }
  const lastShape = tensors.get(lastKey)!.shape;
  if (role === 'D') return { imageSize, ndf: first.shape[0], nc: first.shape[1] };
  // a transposed conv's weight is [in, out, k, k], a conv's [out, in, k, k]
  const [ngf, nc] = nearest ? [lastShape[1], lastShape[0]] : [lastShape[0], lastShape[1]];
  return { imageSize, nz: first.shape[0], ngf, nc, ...(nearest ? { gUpsample: 'nearest' as const } : {}) };
}

/**
 * The tensors of one model checked against the layout of `sizes`: every key there with its shape, floats
 * as floats and the batchnorm counters as I64 (a missing counter, as in files of PyTorch before 0.4.1,
 * is 0), nothing else. Returns them in the layout's order.
 */
export function checkModelState(role: ModelRole, sizes: ModelSizes, tensors: Map<string, SafeTensor>, source: string, prefix: string): Map<string, SafeTensor> {
  const where = (key: string) => `${source}: ${prefix}${key}`;
  const what = describeSizes(role, sizes);
  const expected = role === 'G'
    ? generatorStateShapes({ ndf: 1, ...sizes, nz: sizes.nz!, ngf: sizes.ngf! })
    : discriminatorStateShapes({ nz: 1, ngf: 1, ...sizes, ndf: sizes.ndf! });
  for (const key of tensors.keys()) {
    if (!expected.has(key)) {
      const why = key.endsWith('.bias') && expected.has(key.replace(/bias$/, 'weight')) ? ' (its convs have no bias)' : '';
      throw new Error(`${where(key)} is not a tensor of ${what}${why}`);
    }
  }
  const ordered = new Map<string, SafeTensor>();
  for (const [key, shape] of expected) {
    const t = tensors.get(key);
    const counter = key.endsWith('.num_batches_tracked');
    if (!t) {
      if (counter) {
        ordered.set(key, { dtype: 'I64', shape: [], data: BigInt64Array.of(0n) });
        continue;
      }
      throw new Error(`${where(key)} is missing: ${what} has it, ${dims(shape)}`);
    }
    if (t.shape.join() !== shape.join()) throw new Error(`${where(key)} is ${dims(t.shape)}, where ${what} has ${dims(shape)}`);
    if (counter ? t.dtype !== 'I64' : t.dtype === 'I64') throw new Error(`${where(key)} is ${t.dtype}: expected ${counter ? 'I64, a counter' : 'a float tensor'}`);
    ordered.set(key, t);
  }
  return ordered;
}

/** One model's state_dict from the shapes alone: its sizes inferred, every key checked. */
export function inferModelState(role: ModelRole, group: { prefix: string; tensors: Map<string, SafeTensor> }, source: string): ModelState {
  const sizes = inferSizes(role, group.tensors, (key) => `${source}: ${group.prefix}${key}`);
  return { role, sizes, tensors: checkModelState(role, sizes, group.tensors, source, group.prefix), prefix: group.prefix };
}

/**
 * What a model's loadStateDict takes, from saved tensors (`prefix` in front of its keys): a parameter's or
 * buffer's values as `floats` gives them (it checks they fit, in its caller's words), an I64 counter as
 * its number.
 */
export function savedState(
  model: Sequential, saved: ReadonlyMap<string, SafeTensor>, prefix: string, floats: (savedKey: string, shape: Shape) => Float32Array,
): Map<string, Float32Array | number> {
  const state = new Map<string, Float32Array | number>();
  for (const [key, own] of model.stateDict()) {
    if (typeof own !== 'number') {
      state.set(key, floats(prefix + key, own.shape));
      continue;
    }
    const counter = saved.get(prefix + key);
    if (counter?.dtype === 'I64') state.set(key, Number(counter.data[0]));
  }
  return state;
}

/** Write a checked state into a model built with its sizes (weights, batchnorm statistics and counters). */
export function loadModelState(model: Sequential, state: ModelState): void {
  model.loadStateDict(savedState(model, state.tensors, '', (key, shape) => {
    const saved = state.tensors.get(key);
    if (saved?.dtype !== 'F32' || saved.shape.join() !== shape.join()) {
      throw new Error(`${state.prefix}${key} does not fit this ${ROLE_NAMES[state.role]} ([${saved?.shape}] for [${shape}])`);
    }
    return saved.data;
  }));
}

/** The same tensors with every float one in `dtype` (F16 rounds to nearest, ties to even, as torch's .half()). */
export function withFloatDtype(tensors: Map<string, SafeTensor>, dtype: 'F32' | 'F16'): Map<string, SafeTensor> {
  return new Map([...tensors].map(([key, t]): [string, SafeTensor] => {
    if (t.dtype !== 'F32' || dtype === 'F32') return [key, t];
    return [key, { dtype: 'F16', shape: t.shape, data: Uint16Array.from(t.data, float32ToFloat16) }];
  }));
}
