// A training checkpoint as one safetensors file. Model tensors keep the key names of PyTorch's DCGAN
// example under `netG.` / `netD.` (strip the prefix and load_state_dict takes them as they are):
//   netG.main.0.weight, netG.main.1.weight, netG.main.1.running_mean, netG.main.1.num_batches_tracked, ...
// Adam's moments use torch.optim's names: optG.main.0.weight.exp_avg / .exp_avg_sq. Counters and the
// config go in the metadata. Pure over bytes and GPU tensors: Node and the browser share it.
import type { Tensor } from '../gpu/tensor.ts';
import { BatchNorm2d, type Sequential } from '../model/layers.ts';
import type { Adam } from '../optim/adam.ts';
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from './safetensors.ts';
import type { GanTraining, TrainingConfig } from './gan.ts';

const CHECKPOINT_FORMAT = 'webgpu-dcgan/1';

/** Where training stands: enough to continue exactly where it stopped. */
export interface TrainingPosition {
  epoch: number;
  /** batches of `epoch` already done */
  batchInEpoch: number;
}

export interface Checkpoint {
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
  for (const [key, t] of [...model.namedParameters(), ...model.namedBuffers()]) out.set(`${prefix}.${key}`, await f32(t));
  model.layers.forEach((layer, i) => {
    if (layer instanceof BatchNorm2d) {
      out.set(`${prefix}.main.${i}.num_batches_tracked`, { dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(layer.numBatchesTracked)) });
    }
  });
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
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new Error(`${source} is not a checkpoint of this trainer (format '${metadata.format ?? 'missing'}', expected ${CHECKPOINT_FORMAT})`);
  }
  return {
    config: JSON.parse(metadata.config) as TrainingConfig,
    iteration: Number(metadata.iteration),
    position: { epoch: Number(metadata.epoch), batchInEpoch: Number(metadata.batch_in_epoch) },
    tensors,
    metadata,
  };
}

function take(checkpoint: Checkpoint, key: string, into: Tensor): void {
  const t = checkpoint.tensors.get(key);
  if (!t || t.dtype !== 'F32') throw new Error(`checkpoint has no tensor ${key}: it was made for another model configuration`);
  if (t.shape.join() !== into.shape.join()) {
    throw new Error(`checkpoint tensor ${key} is [${t.shape}] but the model expects [${into.shape}]: use the same --image-size/--ngf/--ndf`);
  }
  into.write(t.data);
}

/** Copy netG./netD. weights, batchnorm statistics and counters into a model built with the checkpoint's config. */
export function loadModel(checkpoint: Checkpoint, prefix: 'netG' | 'netD', model: Sequential): void {
  for (const [key, t] of [...model.namedParameters(), ...model.namedBuffers()]) take(checkpoint, `${prefix}.${key}`, t);
  model.layers.forEach((layer, i) => {
    const counter = checkpoint.tensors.get(`${prefix}.main.${i}.num_batches_tracked`);
    if (layer instanceof BatchNorm2d && counter?.dtype === 'I64') layer.numBatchesTracked = Number(counter.data[0]);
  });
}

function loadOptimizer(checkpoint: Checkpoint, prefix: 'optG' | 'optD', model: Sequential, optimizer: Adam, steps: number[]): void {
  const names = model.namedParameters().map(([k]) => k);
  optimizer.state.forEach((s, i) => {
    take(checkpoint, `${prefix}.${names[i]}.exp_avg`, s.m);
    take(checkpoint, `${prefix}.${names[i]}.exp_avg_sq`, s.v);
    s.step = steps[i];
  });
  optimizer.stepCount = Math.max(0, ...steps);
}

/** Put a whole training state (models, optimizers, counters) back as it was saved. */
export function restoreTraining(training: GanTraining, checkpoint: Checkpoint): void {
  loadModel(checkpoint, 'netG', training.generator);
  loadModel(checkpoint, 'netD', training.discriminator);
  loadOptimizer(checkpoint, 'optG', training.generator, training.optimizerG, JSON.parse(checkpoint.metadata.optG_steps));
  loadOptimizer(checkpoint, 'optD', training.discriminator, training.optimizerD, JSON.parse(checkpoint.metadata.optD_steps));
  training.iteration = checkpoint.iteration;
}
