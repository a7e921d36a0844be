// npm run eval -- --checkpoint FILE|RUN [--data DIR|--data-cache FILE] [--holdout N] [--weights ema|plain] [--bn train|eval] [--kernel-set fast|simple]
// The sample quality of a checkpoint: SWD x 1e3 (src/metrics/swd.ts) of images its generator draws against the
// photos its run held out of training, the number the trainer logs at each epoch's end. The photos, the filter
// and the held-out count come from RUN/run.json; --data / --data-cache point at them where they moved. The images
// are drawn as the trainer draws them: by the moving average when the checkpoint keeps one, and run.json's --bn.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { nodeDevice } from '../webgpu.ts';
import { openPrebuiltCache, prepareDataset } from '../data/index.ts';
import { Generator, seedStream } from '../../model/dcgan.ts';
import { decodeCheckpoint, hasAverage, loadModel } from '../../train/checkpoint.ts';
import { BATCHNORM_MODES, DEFAULT_SAMPLING, SAMPLE_WEIGHTS, parseChoice, sampleImages } from '../../train/gan.ts';
import { heldOutSplit } from '../../train/data/loader.ts';
import { SwdEvaluator } from '../../metrics/swd.ts';
import { parseKernelSet, useKernelSet } from '../../kernels/kernel-set.ts';
import { commandLine, numberFlag, parseFlags } from './args.ts';
import { runMain } from './main.ts';
import { checkpointFile } from './paths.ts';
import { formatEvaluation } from './run-files.ts';

const USAGE = `usage: ${commandLine('eval')} --checkpoint FILE|RUN [--data DIR|--data-cache FILE] [--match GLOB] [--holdout N] [--cache-dir DIR]
       [--weights ema|plain] [--bn train|eval] [--kernel-set fast|simple]`;
const FLAGS = {
  checkpoint: { type: 'string' }, data: { type: 'string' }, 'data-cache': { type: 'string' }, match: { type: 'string' },
  holdout: { type: 'string' }, 'cache-dir': { type: 'string' }, 'kernel-set': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  weights: { type: 'string' }, bn: { type: 'string' },
} as const;

interface SavedRun {
  dataDir?: string;
  dataCache?: string;
  match?: string;
  cacheDir?: string;
  holdout?: number;
}

async function main(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, USAGE);
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const file = checkpointFile(flags.checkpoint, USAGE);
  const runJson = path.join(path.dirname(file), 'run.json');
  let saved: SavedRun = {};
  if (existsSync(runJson)) {
    try {
      saved = JSON.parse(readFileSync(runJson, 'utf8')) as SavedRun;
    } catch (e) {
      throw new Error(`${runJson} is not valid JSON (${(e as Error).message}): fix it, or give --data DIR and --holdout N`);
    }
  }
  if (flags.data && flags['data-cache']) throw new Error('give --data DIR or --data-cache FILE, not both');
  const dataDir = flags.data ? String(flags.data) : flags['data-cache'] ? undefined : saved.dataDir;
  const dataCache = flags['data-cache'] ? path.resolve(String(flags['data-cache'])) : flags.data ? undefined : saved.dataCache;
  if (!dataDir && !dataCache) throw new Error(`no run.json beside ${file} says where the photos are: give --data DIR`);
  const holdout = numberFlag(flags, 'holdout', saved.holdout ?? 0, { min: 0 });
  if (holdout === 0) {
    throw new Error(`${file}'s run held out no photos (it started before --holdout, or with --holdout 0): give --holdout N to compare with N of its photos (trained on: the SWD flatters it)`);
  }
  const kernels = parseKernelSet(flags['kernel-set'] ?? 'fast');
  const checkpoint = decodeCheckpoint(readFileSync(file), file);
  const model = checkpoint.config.model;
  const bn = parseChoice('bn', String(flags.bn ?? (saved as { bn?: string }).bn ?? DEFAULT_SAMPLING.bn), BATCHNORM_MODES);
  const weights = parseChoice('weights', String(flags.weights ?? (hasAverage(checkpoint) ? 'ema' : 'plain')), SAMPLE_WEIGHTS);
  if (weights === 'ema' && !hasAverage(checkpoint)) throw new Error(`${file} has no moving average (it was trained without --ema): use --weights plain`);
  const match = (flags.match as string | undefined) ?? saved.match;

  const { cache } = dataCache
    ? await openPrebuiltCache(dataCache, model.imageSize)
    : await prepareDataset({ dataDir: dataDir!, match, imageSize: model.imageSize, cacheDir: (flags['cache-dir'] as string | undefined) ?? saved.cacheDir });
  const { heldOut } = heldOutSplit(cache.count, holdout);
  const evaluator = new SwdEvaluator(await cache.readImages(heldOut), heldOut.length, model.imageSize);
  await cache.close();

  useKernelSet(kernels); // before any kernel runs
  await nodeDevice();
  const generator = new Generator(model, seedStream(0));
  loadModel(checkpoint, weights === 'ema' ? 'emaG' : 'netG', generator);
  const evaluation = await evaluator.evaluate((noise) => sampleImages(generator, noise, bn), model.nz);
  const where = `epoch ${checkpoint.position.epoch + (checkpoint.position.batchInEpoch > 0 ? 1 : 0)}, iteration ${checkpoint.iteration}`;
  const shown = path.relative(process.cwd(), file);
  console.log(`${shown.startsWith('..') ? file : shown} (${where}): ${formatEvaluation(evaluation)}`);
  return 0;
}

runMain(() => main(process.argv.slice(2)));
