// A training checkpoint as one safetensors file. Model tensors keep the key names of PyTorch's DCGAN
// example under `netG.` / `netD.` (strip the prefix and load_state_dict takes them as they are):
//   netG.main.0.weight, netG.main.1.weight, netG.main.1.running_mean, netG.main.1.num_batches_tracked, ...
// Adam's moments use torch.optim's names: optG.main.0.weight.exp_avg / .exp_avg_sq. With --ema, the
// generator's moving average is a whole generator state_dict of its own under `emaG.` (its batchnorm
// statistics are G's, src/train/ema.ts). Counters and the config go in the metadata. Pure over bytes and GPU tensors: Node and the browser share it.
import type { Tensor } from '../gpu/tensor.ts';
import type { Sequential } from '../model/layers.ts';
import type { Adam } from '../optim/adam.ts';
import { savedState } from './state-dict.ts';
import { decodeSafetensors, encodeSafetensors, type SafeTensor, type SafeTensorsFile } from './safetensors.ts';
import type { GanTraining, TrainingConfig } from './gan.ts';

export const CHECKPOINT_FORMAT = 'webgpu-dcgan/1';

/** Where training stands: enough to continue exactly where it stopped. */
export interface TrainingPosition {
  epoch: number;
  /** batches of `epoch` already done */
  batchInEpoch: number;
}

export interface Checkpoint {
  /** the file it was read from, for messages */
  source: string;
  config: TrainingConfig;
  iteration: number;
  position: TrainingPosition;
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

async function f32(t: Tensor): Promise<SafeTensor> {
  return { dtype: 'F32', shape: [...t.shape], data: await t.read() };
}

async function addModel(out: Map<string, SafeTensor>, prefix: string, model: Sequential): Promise<void> {
  for (const [key, value] of model.stateDict()) {
    out.set(`${prefix}.${key}`, typeof value === 'number' ? { dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(value)) } : await f32(value));
  }
}

async function addOptimizer(out: Map<string, SafeTensor>, prefix: string, model: Sequential, optimizer: Adam): Promise<number[]> {
  const names = model.namedParameters().map(([k]) => k);
  for (const [i, { m, v }] of optimizer.state.entries()) {
    out.set(`${prefix}.${names[i]}.exp_avg`, await f32(m));
    out.set(`${prefix}.${names[i]}.exp_avg_sq`, await f32(v));
  }
  return optimizer.state.map((s) => s.step);
}

export async function encodeCheckpoint(training: GanTraining, position: TrainingPosition): Promise<Uint8Array> {
  const tensors = new Map<string, SafeTensor>();
  await addModel(tensors, 'netG', training.generator);
  await addModel(tensors, 'netD', training.discriminator);
  const stepsG = await addOptimizer(tensors, 'optG', training.generator, training.optimizerG);
  const stepsD = await addOptimizer(tensors, 'optD', training.discriminator, training.optimizerD);
  if (training.average) await addModel(tensors, 'emaG', training.average.averaged());
  return encodeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(training.config),
    iteration: String(training.iteration),
    epoch: String(position.epoch),
    batch_in_epoch: String(position.batchInEpoch),
    optG_steps: JSON.stringify(stepsG),
    optD_steps: JSON.stringify(stepsD),
  });
}

export function decodeCheckpoint(bytes: Uint8Array, source: string): Checkpoint {
  return checkpointOf(decodeSafetensors(bytes, source), source);
}

/** The checkpoint a decoded safetensors file holds, or an error naming what is missing from it. */
export function checkpointOf({ tensors, metadata }: SafeTensorsFile, source: string): Checkpoint {
  if (metadata.format !== CHECKPOINT_FORMAT) {
    const found = metadata.format === undefined ? "metadata field 'format' is missing" : `format '${metadata.format}'`;
    throw new Error(
      `${source} is not a checkpoint of this trainer (${found}, expected ${CHECKPOINT_FORMAT}): ` +
        'weights alone (a PyTorch state_dict) draw with generate --checkpoint and start a new run with train --init-from',
    );
  }
  const configText = metadataField(metadata, 'config', source);
  let config: TrainingConfig;
  try {
    config = JSON.parse(configText) as TrainingConfig;
  } catch (e) {
    throw new Error(`${source}: metadata field 'config' is not JSON (${(e as Error).message})`);
  }
  const sizes = config?.model ?? ({} as Partial<TrainingConfig['model']>);
  for (const key of ['imageSize', 'nz', 'ngf', 'ndf', 'nc'] as const) {
    if (!Number.isInteger(sizes[key])) throw new Error(`${source}: metadata field 'config' has no model.${key}`);
  }
  const count = (name: string) => {
    const text = metadataField(metadata, name, source);
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) throw new Error(`${source}: metadata field '${name}' is '${text}', not a count`);
    return value;
  };
  return {
    source,
    config,
    iteration: count('iteration'),
    position: { epoch: count('epoch'), batchInEpoch: count('batch_in_epoch') },
    tensors,
    metadata,
  };
}

/** A metadata field of a checkpoint, or an error that names it. */
function metadataField(metadata: Record<string, string>, name: string, source: string): string {
  const value = metadata[name];
  if (typeof value !== 'string') throw new Error(`${source}: metadata field '${name}' is missing`);
  return value;
}

/** The values of a checkpoint's F32 tensor `key`, which must have `shape` (the model's or optimizer's tensor it goes into). */
function take(checkpoint: Checkpoint, key: string, shape: readonly number[]): Float32Array {
  const t = checkpoint.tensors.get(key);
  if (!t || t.dtype !== 'F32') throw new Error(`checkpoint has no tensor ${key}: it was made for another model configuration`);
  if (t.shape.join() !== shape.join()) {
    throw new Error(`checkpoint tensor ${key} is [${t.shape}] but the model expects [${shape}]: use the same --image-size/--ngf/--ndf`);
  }
  return t.data;
}

/** Whether the checkpoint holds the generator's moving average (emaG. keys). */
export const hasAverage = (checkpoint: Checkpoint): boolean => checkpoint.tensors.has('emaG.main.0.weight');

/** Copy netG./netD./emaG. weights, batchnorm statistics and counters into a model built with the checkpoint's config. */
export function loadModel(checkpoint: Checkpoint, prefix: 'netG' | 'netD' | 'emaG', model: Sequential): void {
  model.loadStateDict(savedState(model, checkpoint.tensors, `${prefix}.`, (key, shape) => take(checkpoint, key, shape)));
}

function loadOptimizer(checkpoint: Checkpoint, prefix: 'optG' | 'optD', model: Sequential, optimizer: Adam, steps: number[]): void {
  const names = model.namedParameters().map(([k]) => k);
  optimizer.state.forEach((s, i) => {
    s.m.write(take(checkpoint, `${prefix}.${names[i]}.exp_avg`, s.m.shape));
    s.v.write(take(checkpoint, `${prefix}.${names[i]}.exp_avg_sq`, s.v.shape));
    s.step = steps[i];
  });
  optimizer.stepCount = Math.max(0, ...steps);
}

/**
 * Why a checkpoint cannot continue its run, or null: a file of this trainer's format may hold G alone
 * (scripts/device/device.py generator) or lack the optimizer state. Checked before a resume starts.
 */
export function resumeProblem(checkpoint: Checkpoint): string | null {
  const missingField = (['optG_steps', 'optD_steps'] as const).find((name) => typeof checkpoint.metadata[name] !== 'string');
  const missingPrefix = ['netG.', 'netD.', 'optG.', 'optD.'].find((prefix) => ![...checkpoint.tensors.keys()].some((k) => k.startsWith(prefix)));
  if (!missingField && !missingPrefix) return null;
  const what = missingField ? `metadata field '${missingField}' is missing` : `it has no ${missingPrefix}* tensors`;
  return `${checkpoint.source} cannot resume a run: ${what} (weights only?); start a new run from its weights with --init-from ${checkpoint.source}`;
}

/** Put a whole training state (models, optimizers, counters) back as it was saved. */
export function restoreTraining(training: GanTraining, checkpoint: Checkpoint): void {
  const problem = resumeProblem(checkpoint);
  if (problem) throw new Error(problem);
  loadModel(checkpoint, 'netG', training.generator);
  loadModel(checkpoint, 'netD', training.discriminator);
  loadOptimizer(checkpoint, 'optG', training.generator, training.optimizerG, JSON.parse(checkpoint.metadata.optG_steps));
  loadOptimizer(checkpoint, 'optD', training.discriminator, training.optimizerD, JSON.parse(checkpoint.metadata.optD_steps));
  if (training.average) {
    if (!hasAverage(checkpoint)) throw new Error(`the checkpoint has no emaG. tensors: it was trained without --ema, which a resumed run cannot turn on`);
    loadModel(checkpoint, 'emaG', training.average.generator);
  }
  training.iteration = checkpoint.iteration;
}
