// npm run generate -- --checkpoint FILE [--n 64] [--seed 1] [--out DIR] [--interpolate]
// Draws new dogs from a trained generator: N PNGs and a grid, or with --interpolate a latent walk
// between the noise of two seeds, as one strip. FILE is a checkpoint of this trainer (or its run folder)
// or G's weights alone, such as PyTorch's netG.state_dict() saved with safetensors (src/train/weights-file.ts).
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { nodeDevice } from '../webgpu.ts';
import { writePng } from '../files.ts';
import { Tensor, keep } from '../../gpu/tensor.ts';
import { randomNormal } from '../../kernels/random.ts';
import { addScaled, scale } from '../../kernels/elementwise.ts';
import { Generator, seedStream, type DcganConfig } from '../../model/dcgan.ts';
import { loadModelState } from '../../train/state-dict.ts';
import { describeWeights, readWeightsFile } from '../../train/weights-file.ts';
import { sampleImages } from '../../train/gan.ts';
import { imageAt, imageGrid } from '../../train/images.ts';
import { parseKernelSet, useKernelSet } from '../../kernels/kernel-set.ts';
import { commandLine, numberFlag, parseFlags } from './args.ts';
import { runMain } from './main.ts';
import { CHECKPOINT_FILE } from './paths.ts';

const USAGE = `usage: ${commandLine('generate')} --checkpoint FILE|RUN [--n 64] [--seed 1] [--out DIR] [--interpolate] [--steps 10]\n       [--kernel-set fast|simple]`;
const FLAGS = {
  checkpoint: { type: 'string' }, n: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' },
  interpolate: { type: 'boolean' }, steps: { type: 'string' }, 'kernel-set': { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

async function main(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, USAGE);
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  if (!flags.checkpoint) throw new Error(`--checkpoint is required\n${USAGE}`);
  let file = path.resolve(String(flags.checkpoint));
  if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, CHECKPOINT_FILE);
  if (!existsSync(file)) throw new Error(`checkpoint not found: ${file}`);
  const count = numberFlag(flags, 'n', 64, { min: 1, max: 4096 });
  const seed = numberFlag(flags, 'seed', 1, { min: 0, max: 2 ** 32 - 2 });
  const steps = numberFlag(flags, 'steps', 10, { min: 2, max: 256 });
  const outDir = path.resolve(String(flags.out ?? path.join(path.dirname(file), 'generated')));

  const kernels = parseKernelSet(flags['kernel-set'] ?? 'fast');

  const weights = readWeightsFile(readFileSync(file), file);
  const state = weights.models.G;
  if (!state) throw new Error(`${file} holds a Discriminator only: generate needs the Generator's weights (netG.state_dict())`);
  useKernelSet(kernels); // before any kernel runs
  await nodeDevice();
  console.error(`generating with the ${kernels} kernels from ${describeWeights(weights)}`);
  // G's sizes come from its own shapes (or the checkpoint's config); ndf is D's and plays no part here
  const { imageSize, nc, nz, ngf } = state.sizes;
  const model: DcganConfig = { imageSize, nc, nz: nz!, ngf: ngf!, ndf: ngf! };
  const generator = new Generator(model, seedStream(0));
  loadModelState(generator, state);

  if (flags.interpolate) {
    // z(t) = (1 − t) z_a + t z_b: a straight walk through the latent space between two seeds' noise
    const a = keep(randomNormal([1, model.nz, 1, 1], 0, 1, seed));
    const b = keep(randomNormal([1, model.nz, 1, 1], 0, 1, seed + 1));
    const frames: Float32Array[] = [];
    for (let i = 0; i < steps; i++) {
      const t = i / (steps - 1);
      const scaledA = scale(a, 1 - t);
      const z = addScaled(scaledA, b, t);
      frames.push(await sampleImages(generator, z));
      scaledA.dispose();
      z.dispose();
    }
    const strip = new Float32Array(frames.reduce((sum, f) => sum + f.length, 0));
    frames.forEach((f, i) => strip.set(f, i * f.length));
    const target = path.join(outDir, `interpolate-${seed}-${seed + 1}.png`);
    writePng(target, imageGrid(strip, steps, model.nc, model.imageSize, steps));
    console.log(`wrote ${target} (${steps} steps from seed ${seed} to ${seed + 1})`);
    return 0;
  }

  const noise: Tensor = randomNormal([count, model.nz, 1, 1], 0, 1, seed);
  const pixels = await sampleImages(generator, noise);
  noise.dispose();
  for (let i = 0; i < count; i++) writePng(path.join(outDir, `dog-${String(i).padStart(4, '0')}.png`), imageAt(pixels, i, model.nc, model.imageSize));
  writePng(path.join(outDir, 'grid.png'), imageGrid(pixels, count, model.nc, model.imageSize));
  console.log(`wrote ${count} images and grid.png to ${outDir}`);
  return 0;
}

runMain(() => main(process.argv.slice(2)));
