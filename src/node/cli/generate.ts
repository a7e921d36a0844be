// npm run generate -- [--checkpoint FILE|RUN] [--n 64] [--seed 1] [--out DIR] [--interpolate] [--weights ema|plain] [--bn train|eval]
// Draws new dogs from a trained generator: N PNGs and a grid, or with --interpolate a latent walk
// between the noise of two seeds, as one strip. FILE is a checkpoint of this trainer (or its run folder)
// or G's weights alone, such as PyTorch's netG.state_dict() saved with safetensors (src/train/weights-file.ts).
// The weights are the moving average (emaG.) when the checkpoint has one, else G's own (netG.); --bn train
// normalizes by the statistics of the images drawn together (all N, or the walk's steps: one batch), eval
// by the running statistics. Without --checkpoint it draws from the generator that ships under models/
// (SHIPPED_GENERATOR), into ./generated.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { nodeDevice } from '../webgpu.ts';
import { writePng } from '../files.ts';
import { Tensor, keep } from '../../gpu/tensor.ts';
import { randomNormal } from '../../kernels/random.ts';
import { Generator, seedStream, type DcganConfig } from '../../model/dcgan.ts';
import { hasAverage, loadModel } from '../../train/checkpoint.ts';
import { loadModelState } from '../../train/state-dict.ts';
import { describeWeights, readWeightsFile } from '../../train/weights-file.ts';
import { BATCHNORM_MODES, DEFAULT_SAMPLING, SAMPLE_WEIGHTS, parseChoice, sampleImages } from '../../train/gan.ts';
import { imageAt, imageGrid } from '../../train/images.ts';
import { parseKernelSet, useKernelSet } from '../../kernels/kernel-set.ts';
import { commandLine, numberFlag, parseFlags } from './args.ts';
import { runMain } from './main.ts';
import { generatorFile } from './paths.ts';

const USAGE = `usage: ${commandLine('generate')} [--checkpoint FILE|RUN] [--n 64] [--seed 1] [--out DIR] [--interpolate] [--steps 10]\n       [--weights ema|plain] [--bn train|eval] [--kernel-set fast|simple]`;
const FLAGS = {
  checkpoint: { type: 'string' }, n: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' },
  interpolate: { type: 'boolean' }, steps: { type: 'string' }, 'kernel-set': { type: 'string' },
  weights: { type: 'string' }, bn: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

async function main(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, USAGE);
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const { file, shipped } = generatorFile(flags.checkpoint, USAGE);
  const count = numberFlag(flags, 'n', 64, { min: 1, max: 4096 });
  const seed = numberFlag(flags, 'seed', 1, { min: 0, max: 2 ** 32 - 2 });
  const steps = numberFlag(flags, 'steps', 10, { min: 2, max: 256 });
  // beside the checkpoint, or for the shipped generator in the current folder (never inside the package)
  const outDir = path.resolve(String(flags.out ?? (shipped ? 'generated' : path.join(path.dirname(file), 'generated'))));

  const kernels = parseKernelSet(flags['kernel-set'] ?? 'fast');
  const bn = parseChoice('bn', String(flags.bn ?? DEFAULT_SAMPLING.bn), BATCHNORM_MODES);

  const source = readWeightsFile(readFileSync(file), file);
  const state = source.models.G;
  if (!state) throw new Error(`${file} holds a Discriminator only: generate needs the Generator's weights (netG.state_dict())`);
  const checkpoint = source.checkpoint;
  const averaged = checkpoint !== null && hasAverage(checkpoint);
  const weights = parseChoice('weights', String(flags.weights ?? (averaged ? 'ema' : 'plain')), SAMPLE_WEIGHTS);
  if (weights === 'ema' && !averaged) throw new Error(`${file} has no moving average (it was trained without --ema): use --weights plain`);
  useKernelSet(kernels); // before any kernel runs
  await nodeDevice();
  const which = weights === 'ema' ? 'averaged (emaG.)' : "G's own";
  console.error(`generating with the ${kernels} kernels from ${describeWeights(source)}, ${which} weights, --bn ${bn}`);
  // G's sizes come from its own shapes (or the checkpoint's config); ndf is D's and plays no part here
  const { imageSize, nc, nz, ngf, gUpsample } = state.sizes;
  const model: DcganConfig = { imageSize, nc, nz: nz!, ngf: ngf!, ndf: ngf!, gUpsample };
  const generator = new Generator(model, seedStream(0));
  // the average's batchnorm statistics are G's, saved under emaG. too
  if (weights === 'ema') loadModel(checkpoint!, 'emaG', generator);
  else loadModelState(generator, state);

  if (flags.interpolate) {
    // z(t) = (1 − t) z_a + t z_b: a straight walk through the latent space between two seeds' noise,
    // drawn as one batch of `steps` (so --bn train normalizes the walk by its own statistics)
    const a = keep(randomNormal([1, model.nz], 0, 1, seed));
    const b = keep(randomNormal([1, model.nz], 0, 1, seed + 1));
    const [za, zb] = await Promise.all([a.read(), b.read()]);
    const walk = new Float32Array(steps * model.nz);
    for (let i = 0; i < steps; i++) {
      const t = i / (steps - 1);
      for (let k = 0; k < model.nz; k++) walk[i * model.nz + k] = Math.fround((1 - t) * za[k] + t * zb[k]);
    }
    const z = keep(Tensor.fromArray(walk, [steps, model.nz, 1, 1]));
    const strip = await sampleImages(generator, z, bn);
    for (const t of [a, b, z]) t.dispose();
    const target = path.join(outDir, `interpolate-${seed}-${seed + 1}.png`);
    writePng(target, imageGrid(strip, steps, model.nc, model.imageSize, steps));
    console.log(`wrote ${target} (${steps} steps from seed ${seed} to ${seed + 1})`);
    return 0;
  }

  const noise: Tensor = randomNormal([count, model.nz, 1, 1], 0, 1, seed);
  const pixels = await sampleImages(generator, noise, bn);
  noise.dispose();
  for (let i = 0; i < count; i++) writePng(path.join(outDir, `dog-${String(i).padStart(4, '0')}.png`), imageAt(pixels, i, model.nc, model.imageSize));
  writePng(path.join(outDir, 'grid.png'), imageGrid(pixels, count, model.nc, model.imageSize));
  console.log(`wrote ${count} images and grid.png to ${outDir}`);
  return 0;
}

runMain(() => main(process.argv.slice(2)));
