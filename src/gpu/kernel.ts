// A compute kernel = one WGSL entry point. Its bind-group layout and the byte layout of its `params`
// uniform are read from the WGSL itself with wgsl_reflect, so a launcher binds buffers by the names the
// shader gives them and no table of binding numbers can drift out of date. The shader's shared pieces
// (`// #include` lines, ./wgsl-include.ts) are put in first; its workgroup size and constants are read
// from it too, so a launcher sizes its grid by the numbers the WGSL declares, never by copies of them.
import { WgslReflect, ResourceType, type FunctionInfo, type TypeInfo } from 'wgsl_reflect/wgsl_reflect.module.js';
import { computePass, gpu, guarded } from './context.ts';
import { profiler } from './profiler.ts';
import { traceDispatch } from './trace.ts';
import { resolveIncludes } from './wgsl-include.ts';
import type { BufferRange } from './tensor.ts';

type Params = Record<string, number>;
/**
 * A storage binding: a GPU buffer (bound whole), or anything that owns one (a Tensor), bound whole or,
 * for an arena slot, as its `range` (offset and size).
 */
export type Binding = GPUBuffer | { buffer: GPUBuffer; range?: BufferRange | null };

interface UniformMember { name: string; type: string; offset: number }
interface Compiled {
  pipeline: GPUComputePipeline;
  storage: { name: string; binding: number }[];
  uniform: { binding: number; size: number; members: UniformMember[] } | null;
}

const reflected = new Map<string, { code: string; reflection: WgslReflect }>(); // by source text
const compiled = new WeakMap<GPUDevice, Map<string, Compiled>>();
const uniformBuffers = new WeakMap<GPUDevice, Map<string, GPUBuffer>>();
/**
 * Bind groups by what is bound, a trie of Maps with one level per binding: no key string to build. A
 * whole buffer is keyed by itself, an arena slot by its range object (one per slot: src/gpu/tensor.ts).
 */
type Bound = GPUBuffer | BufferRange;
interface BindGroupTrie { next: Map<Bound, BindGroupTrie>; group?: GPUBindGroup }
/** A kernel's uniform buffers by the values of its params, one level per member (-0 keyed apart from 0). */
interface UniformTrie { next: Map<number | '-0', UniformTrie>; buffer?: GPUBuffer }
/** A kernel's cached bind groups are dropped all at once past this many (a training run repeats a few). */
const MAX_BIND_GROUPS_PER_KERNEL = 2000;
/** The name of every kernel dispatched in this process, so a run can say which versions it used. */
const dispatched = new Set<string>();

/** The names (`file:entry`, as Kernel.name) of the kernels dispatched so far in this process, sorted. */
export function kernelsDispatched(): string[] {
  return [...dispatched].sort();
}

export class Kernel {
  /** `file:entry`, plus the override constants when set, e.g. `shaders/fast/conv2d_gemm.wgsl:conv2d_gemm_forward TILE=64`. */
  readonly name: string;
  /** The WGSL compiled: the shader's text with its `// #include` pieces put in. */
  readonly code: string;
  /** Threads per workgroup along x: the entry point's @workgroup_size (WORKGROUP_SIZE for 1-D kernels). */
  readonly workgroupSize: number;
  private readonly entry: FunctionInfo;
  private readonly reflection: WgslReflect;
  private bindGroups = new WeakMap<GPUDevice, { root: BindGroupTrie; count: number }>();
  private uniforms = new WeakMap<GPUDevice, UniformTrie>();

  /**
   * `file` is only for messages; `source` is the WGSL text; `entryPoint` one of its @compute functions;
   * `constants` sets the shader's `override` declarations for this pipeline (one Kernel per setting).
   */
  constructor(readonly file: string, source: string, readonly entryPoint: string,
    readonly constants: Record<string, number> = {}) {
    let known = reflected.get(source);
    if (!known) {
      const code = resolveIncludes(file, source);
      try {
        known = { code, reflection: new WgslReflect(code) };
      } catch (e) {
        throw new Error(`WGSL error in ${file}: ${(e as Error).message}`);
      }
      reflected.set(source, known);
    }
    this.code = known.code;
    this.reflection = known.reflection;
    const entry = this.reflection.entry.compute.find((f) => f.name === entryPoint);
    if (!entry) throw new Error(`WGSL error in ${file}: no @compute entry point named '${entryPoint}'`);
    this.entry = entry;
    // reflected with the overrides' defaults: a kernel whose size depends on `constants` sizes its own grid
    this.workgroupSize = Object.keys(constants).length ? NaN : (entry.workgroupSize?.[0] ?? NaN);
    this.name = `${file}:${entryPoint}${Object.entries(constants).map(([k, v]) => ` ${k}=${v}`).join('')}`;
  }

  private compile(): Compiled {
    const device = gpu().device;
    let cache = compiled.get(device);
    if (!cache) compiled.set(device, (cache = new Map()));
    const hit = cache.get(this.name);
    if (hit) return hit;

    const entries: GPUBindGroupLayoutEntry[] = [];
    const storage: Compiled['storage'] = [];
    let uniform: Compiled['uniform'] = null;
    for (const r of this.entry.resources) {
      if (r.group !== 0) throw new Error(`${this.name}: only @group(0) is supported, '${r.name}' is in group ${r.group}`);
      if (r.resourceType === ResourceType.Uniform) {
        uniform = { binding: r.binding, size: r.type.size, members: uniformMembers(r.type) };
        entries.push({ binding: r.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
      } else if (r.resourceType === ResourceType.Storage) {
        storage.push({ name: r.name, binding: r.binding });
        const type = r.access === 'read' ? 'read-only-storage' : 'storage';
        entries.push({ binding: r.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } });
      } else {
        throw new Error(`${this.name}: resource '${r.name}' is neither a uniform nor a storage buffer`);
      }
    }
    const result = guarded(`compiling ${this.name}`, () => {
      const module = device.createShaderModule({ code: this.code, label: this.file });
      const layout = device.createBindGroupLayout({ entries, label: this.name });
      const pipeline = device.createComputePipeline({
        layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: this.entryPoint, constants: this.constants },
        label: this.name,
      });
      return { pipeline, storage, uniform };
    });
    cache.set(this.name, result);
    return result;
  }

  /**
   * Record one dispatch. `buffers` binds storage variables by their WGSL names, `params` fills the
   * `var<uniform>` struct by member name, `workgroups` is the grid, `what` describes the call for errors.
   */
  dispatch(buffers: Record<string, Binding>, params: Params, workgroups: [number, number?, number?], what = ''): void {
    const { pipeline, storage, uniform } = this.compile();
    const device = gpu().device;
    const bound: Bound[] = storage.map(({ name }) => {
      const b = buffers[name];
      if (!b) throw new Error(`${this.name}: no buffer given for WGSL variable '${name}'`);
      return 'buffer' in b ? (b.range ?? b.buffer) : b;
    });
    if (uniform) bound.push(this.uniformBuffer(uniform, params));
    const limit = device.limits.maxComputeWorkgroupsPerDimension;
    const [x, y = 1, z = 1] = workgroups;
    if (x > limit || y > limit || z > limit) {
      throw new Error(`${this.name}${what}: grid ${x}x${y}x${z} exceeds ${limit} workgroups per dimension`);
    }
    const bindGroup = this.bindGroup(pipeline, storage, uniform, bound, what);
    const timestampWrites = profiler.passTimestamps(this.name, what);
    const pass = computePass(`${this.name}${what}`, timestampWrites);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    if (x > 0 && y > 0 && z > 0) pass.dispatchWorkgroups(x, y, z);
    if (timestampWrites) pass.end();
    dispatched.add(this.name);
    traceDispatch(this.name, [x, y, z]);
  }

  /**
   * Record a dispatch of one thread per element for `threads` elements: ⌈threads / workgroupSize⌉
   * workgroups, folded into y past the per-dimension limit (the shader's index(), shaders/shared/grid.wgsl).
   */
  dispatch1d(buffers: Record<string, Binding>, params: Params, threads: number, what = ''): void {
    if (!(this.workgroupSize > 0)) throw new Error(`${this.name}: dispatch1d needs a workgroup size fixed in the WGSL`);
    this.dispatch(buffers, params, foldGrid(Math.ceil(threads / this.workgroupSize)), what);
  }

  /** The value of a `const` the shader declares, e.g. the pixels per workgroup its launcher sizes the grid by. */
  constant(name: string): number {
    const value = this.reflection._constValues.get(name);
    if (value === undefined || this.reflection.overrides.some((o) => o.name === name)) {
      throw new Error(`${this.name}: the WGSL declares no const named ${name}`);
    }
    return value;
  }

  /**
   * The uniform buffer of these params, found by walking their values (no byte layout or key string to
   * build per dispatch, which cost more CPU time than the walk); a miss makes or finds it by content.
   */
  private uniformBuffer(layout: NonNullable<Compiled['uniform']>, params: Params): GPUBuffer {
    const device = gpu().device;
    let root = this.uniforms.get(device);
    if (!root) this.uniforms.set(device, (root = { next: new Map() }));
    let node: UniformTrie = root;
    for (const m of layout.members) {
      const v = params[m.name];
      if (v === undefined) throw new Error(`${this.name}: no value for params.${m.name}`);
      const key = v === 0 && 1 / v < 0 ? '-0' : v;
      let child: UniformTrie | undefined = node.next.get(key);
      if (!child) node.next.set(key, (child = { next: new Map() }));
      node = child;
    }
    return (node.buffer ??= uniformBuffer(this.name, layout, params));
  }

  /**
   * The bind group of these buffers, made once and reused: creating one costs more CPU time than the
   * rest of a dispatch, and training binds the same pooled buffers to the same kernels every step.
   */
  private bindGroup(pipeline: GPUComputePipeline, storage: Compiled['storage'], uniform: Compiled['uniform'],
    bound: Bound[], what: string): GPUBindGroup {
    const device = gpu().device;
    let cache = this.bindGroups.get(device);
    if (!cache || cache.count >= MAX_BIND_GROUPS_PER_KERNEL) this.bindGroups.set(device, (cache = { root: { next: new Map() }, count: 0 }));
    let node = cache.root;
    for (const key of bound) {
      let child = node.next.get(key);
      if (!child) node.next.set(key, (child = { next: new Map() }));
      node = child;
    }
    if (!node.group) {
      const bindings = [...storage.map((s) => s.binding), ...(uniform ? [uniform.binding] : [])];
      const entries = bound.map((b, i) => ({ binding: bindings[i], resource: 'offset' in b ? { ...b } : { buffer: b } }));
      node.group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label: `${this.name}${what}` });
      cache.count++;
      gpu().counters.bindGroupsCreated++;
    }
    return node.group;
  }
}

function uniformMembers(type: TypeInfo): UniformMember[] {
  const members = (type as { members?: { name: string; type: TypeInfo; offset: number }[] }).members ?? [];
  return members.map((m) => ({ name: m.name, type: m.type.name, offset: m.offset }));
}

/**
 * Uniform buffers are immutable and cached by content: a training run repeats a small set of shapes,
 * so after the first iteration no uniform is written again, and any number of dispatches can share one
 * command encoder without one overwriting another's parameters.
 */
function uniformBuffer(kernel: string, layout: NonNullable<Compiled['uniform']>, params: Params): GPUBuffer {
  const device = gpu().device;
  const data = new DataView(new ArrayBuffer(Math.max(16, Math.ceil(layout.size / 16) * 16)));
  for (const m of layout.members) {
    const v = params[m.name];
    if (v === undefined) throw new Error(`${kernel}: no value for params.${m.name}`);
    if (m.type === 'u32') data.setUint32(m.offset, v, true);
    else if (m.type === 'i32') data.setInt32(m.offset, v, true);
    else if (m.type === 'f32') data.setFloat32(m.offset, v, true);
    else throw new Error(`${kernel}: params.${m.name} has type ${m.type}; use u32, i32 or f32 members`);
  }
  const bytes = new Uint8Array(data.buffer);
  const key = `${kernel}|${Array.from(new Uint32Array(data.buffer)).join(',')}`;
  let cache = uniformBuffers.get(device);
  if (!cache) uniformBuffers.set(device, (cache = new Map()));
  let buffer = cache.get(key);
  if (!buffer) {
    buffer = device.createBuffer({ size: bytes.byteLength, usage: GPUBufferUsage.UNIFORM, mappedAtCreation: true });
    new Uint8Array(buffer.getMappedRange()).set(bytes);
    buffer.unmap();
    cache.set(key, buffer);
  }
  return buffer;
}

/** A 1-D grid of `groups` workgroups, folded into y past the per-dimension limit (x · y ≥ groups). */
export function foldGrid(groups: number): [number, number] {
  const limit = gpu().device.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= limit) return [groups, 1];
  const x = Math.min(groups, limit);
  return [x, Math.ceil(groups / x)];
}
