// A file of weights to draw with (generate), to start a run from (train --init-from) or to export: a
// checkpoint of this trainer (metadata format webgpu-dcgan/1: its config gives the sizes, netG./netD. the
// models) or weights alone, such as PyTorch's state_dict() saved with safetensors (the shapes give the
// sizes, src/train/state-dict.ts). Either way each model's tensors are checked against the DCGAN layout
// before any GPU work. Pure: Node and the page share it.
import { CHECKPOINT_FORMAT, checkpointOf, type Checkpoint } from './checkpoint.ts';
import { decodeSafetensors, type ConvertedDtype, type SafeTensor } from './safetensors.ts';
import { checkModelState, inferModelState, loadModelState, splitStateDicts, type ModelRole, type ModelState } from './state-dict.ts';
import type { GanTraining } from './gan.ts';

export interface WeightsFile {
  source: string;
  /** the whole checkpoint for a file of this trainer, null for weights alone */
  checkpoint: Checkpoint | null;
  /** G, D or both: whatever the file holds */
  models: Partial<Record<ModelRole, ModelState>>;
  /** float dtypes of the file converted to f32 on reading */
  converted: ConvertedDtype[];
}

/** The netG./netD. tensors of a checkpoint, checked against its config. */
function checkpointModels(checkpoint: Checkpoint): Partial<Record<ModelRole, ModelState>> {
  const models: Partial<Record<ModelRole, ModelState>> = {};
  for (const [role, prefix] of [['G', 'netG.'], ['D', 'netD.']] as const) {
    const tensors = new Map<string, SafeTensor>();
    for (const [key, t] of checkpoint.tensors) if (key.startsWith(prefix)) tensors.set(key.slice(prefix.length), t);
    if (tensors.size === 0) continue;
    const { model } = checkpoint.config;
    const sizes = role === 'G' ? { imageSize: model.imageSize, nz: model.nz, ngf: model.ngf, nc: model.nc, gUpsample: model.gUpsample ?? 'transposed' } : { imageSize: model.imageSize, ndf: model.ndf, nc: model.nc };
    models[role] = { role, sizes, tensors: checkModelState(role, sizes, tensors, checkpoint.source, prefix), prefix };
  }
  return models;
}

export function readWeightsFile(bytes: Uint8Array, source: string): WeightsFile {
  const file = decodeSafetensors(bytes, source);
  const format = file.metadata.format;
  // another tool's format tag ('pt', as Hugging Face writes) is weights alone; this trainer's is a checkpoint
  const checkpoint = format === CHECKPOINT_FORMAT || format?.startsWith('webgpu-dcgan') ? checkpointOf(file, source) : null;
  const models = checkpoint
    ? checkpointModels(checkpoint)
    : Object.fromEntries(Object.entries(splitStateDicts(file.tensors, source)).map(([role, group]) => [role, inferModelState(role as ModelRole, group, source)]));
  if (!models.G && !models.D) throw new Error(`${source} holds no tensor of a DCGAN Generator or Discriminator`);
  const { G, D } = models;
  if (G && D && (G.sizes.imageSize !== D.sizes.imageSize || G.sizes.nc !== D.sizes.nc)) {
    throw new Error(`${source}: its Generator draws ${G.sizes.imageSize}x${G.sizes.imageSize} with ${G.sizes.nc} channels but its Discriminator takes ${D.sizes.imageSize}x${D.sizes.imageSize} with ${D.sizes.nc}: not one DCGAN`);
  }
  const converted = [...new Set([...file.tensors.values()].flatMap((t) => (t.dtype === 'F32' && t.from ? [t.from] : [])))];
  return { source, checkpoint, models, converted };
}

/** What a weights file holds, for a start line: 'a state_dict with G nz 100, ngf 64 and D ndf 64, 64x64, 3 channels (F16 converted to f32)'. */
export function describeWeights(weights: WeightsFile): string {
  const { G, D } = weights.models;
  const { imageSize, nc } = (G ?? D)!.sizes;
  const models = [G && `G nz ${G.sizes.nz}, ngf ${G.sizes.ngf}`, D && `D ndf ${D.sizes.ndf}`].filter(Boolean).join(' and ');
  const kind = weights.checkpoint ? `a checkpoint of this trainer at iteration ${weights.checkpoint.iteration}` : 'a state_dict';
  const converted = weights.converted.length > 0 ? ` (${weights.converted.join(', ')} converted to f32)` : '';
  return `${kind} with ${models}, ${imageSize}x${imageSize}, ${nc} channel${nc === 1 ? '' : 's'}${converted}`;
}

/** A fresh training (iteration 0, new optimizers) given the file's weights: G, and D where the file has it. */
export function startFromWeights(training: GanTraining, weights: WeightsFile): void {
  if (!weights.models.G) throw new Error(`${weights.source} holds no Generator: a run needs at least G's weights`);
  loadModelState(training.generator, weights.models.G);
  if (weights.models.D) loadModelState(training.discriminator, weights.models.D);
}
